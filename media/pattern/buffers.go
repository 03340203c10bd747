package pattern

import (
	"image"
	"sync"
)

// The pixel buffers generators share. Every call of a QA run and every
// viewer of a master makes a generator of the same size and style: its static
// drawing is drawn once per size and style, and the frame buffers of a closed
// generator serve the next one. A 720p buffer is 1.4 MB; making it anew costs
// an allocation, its zeroing and the page faults of 350 fresh pages, a few ms
// each time on the busy set-up path of a call. A frame buffer holds the static
// drawing with the dynamic parts of some frame drawn over it, which Read draws
// afresh on every frame, as it does when it cycles through its own buffers.

// maxKeys bounds the sizes and styles kept (a viewer and a master in demo mode
// make two); beyond it, everything kept is dropped and kept afresh.
const maxKeys = 4

// staticKey identifies a static drawing: it depends on the size and style only.
type staticKey struct {
	w, h  int
	style Style
}

// key returns the key of g's size and style.
func (g *Generator) key() staticKey { return staticKey{g.lay.w, g.lay.h, g.style} }

// shared holds the static drawings (never written once stored) and, per key,
// at most one generator's worth of free frame buffers.
var shared struct {
	mu      sync.Mutex
	statics map[staticKey]*image.YCbCr
	free    map[staticKey][]*image.YCbCr
}

// staticFrame returns g's static drawing, drawn once per size and style.
func staticFrame(g *Generator) *image.YCbCr {
	key := g.key()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if img := shared.statics[key]; img != nil {
		return img
	}
	if shared.statics == nil || len(shared.statics) >= maxKeys {
		shared.statics = map[staticKey]*image.YCbCr{}
		shared.free = map[staticKey][]*image.YCbCr{}
	}
	img := image.NewYCbCr(image.Rect(0, 0, key.w, key.h), image.YCbCrSubsampleRatio420)
	g.drawStatic(img)
	shared.statics[key] = img
	return img
}

// takeFrame returns a free frame buffer of key, or a new copy of static.
func takeFrame(key staticKey, static *image.YCbCr) *image.YCbCr {
	shared.mu.Lock()
	free := shared.free[key]
	if n := len(free); n > 0 {
		img := free[n-1]
		shared.free[key] = free[:n-1]
		shared.mu.Unlock()
		return img
	}
	shared.mu.Unlock()
	img := image.NewYCbCr(static.Rect, image.YCbCrSubsampleRatio420)
	copy(img.Y, static.Y)
	copy(img.Cb, static.Cb)
	copy(img.Cr, static.Cr)
	return img
}

// giveFrames keeps the buffers of a closed generator of key for the next one.
func giveFrames(key staticKey, frames []*image.YCbCr) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if _, known := shared.statics[key]; !known {
		return // dropped meanwhile, with its static drawing
	}
	for _, img := range frames {
		if img != nil && len(shared.free[key]) < numBuffers {
			shared.free[key] = append(shared.free[key], img)
		}
	}
}
