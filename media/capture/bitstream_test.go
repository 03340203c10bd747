package capture

import (
	"errors"
	"fmt"
)

// nalUnits splits an H.264 Annex-B byte stream into NAL units (without start codes).
func nalUnits(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 {
					end--
				}
				out = append(out, b[start:end])
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// bitReader reads an H.264 RBSP (emulation prevention bytes already removed).
type bitReader struct {
	b   []byte
	pos int
}

var errShort = errors.New("short bitstream")

func (r *bitReader) bit() (uint, error) {
	if r.pos >= 8*len(r.b) {
		return 0, errShort
	}
	v := (r.b[r.pos/8] >> (7 - r.pos%8)) & 1
	r.pos++
	return uint(v), nil
}

func (r *bitReader) bits(n int) (uint, error) {
	var v uint
	for range n {
		b, err := r.bit()
		if err != nil {
			return 0, err
		}
		v = v<<1 | b
	}
	return v, nil
}

func (r *bitReader) ue() (uint, error) {
	zeros := 0
	for {
		b, err := r.bit()
		if err != nil {
			return 0, err
		}
		if b == 1 {
			break
		}
		zeros++
		if zeros > 31 {
			return 0, errors.New("bad exp-golomb code")
		}
	}
	rest, err := r.bits(zeros)
	return 1<<zeros - 1 + rest, err
}

func unescapeRBSP(nal []byte) []byte {
	out := make([]byte, 0, len(nal))
	zeros := 0
	for _, c := range nal {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

// spsInfo is what the tests check of an H.264 sequence parameter set.
type spsInfo struct {
	profile       uint
	width, height int
}

// parseSPS parses the picture size out of an SPS NAL unit (with its header byte). It handles
// the profiles x264 produces without scaling matrices.
func parseSPS(nal []byte) (spsInfo, error) {
	if len(nal) < 4 || nal[0]&0x1f != 7 {
		return spsInfo{}, errors.New("not an SPS")
	}
	rbsp := unescapeRBSP(nal[1:])
	r := &bitReader{b: rbsp}
	var s spsInfo
	var err error
	next := func(n int) uint {
		if err != nil {
			return 0
		}
		var v uint
		v, err = r.bits(n)
		return v
	}
	ue := func() uint {
		if err != nil {
			return 0
		}
		var v uint
		v, err = r.ue()
		return v
	}
	s.profile = next(8)
	next(16) // constraint flags, level
	ue()     // sps id
	chroma := uint(1)
	switch s.profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = ue()
		if chroma == 3 {
			next(1)
		}
		ue() // bit depth luma
		ue() // bit depth chroma
		next(1)
		if next(1) == 1 {
			return s, errors.New("scaling matrices not supported")
		}
	}
	ue() // log2 max frame num
	switch ue() {
	case 0:
		ue()
	case 1:
		next(1)
		ue()
		ue()
		n := ue()
		for range n {
			ue()
		}
	}
	ue()    // max num ref frames
	next(1) // gaps
	wMbs := ue() + 1
	hMaps := ue() + 1
	frameMbsOnly := next(1)
	if frameMbsOnly == 0 {
		next(1)
	}
	next(1) // direct 8x8
	var cl, cr, ct, cb uint
	if next(1) == 1 {
		cl, cr, ct, cb = ue(), ue(), ue(), ue()
	}
	if err != nil {
		return s, fmt.Errorf("parse SPS: %w", err)
	}
	cropX, cropY := uint(1), 2-frameMbsOnly
	if chroma == 1 {
		cropX, cropY = 2, 2*(2-frameMbsOnly)
	}
	s.width = int(wMbs*16 - cropX*(cl+cr))
	s.height = int((2-frameMbsOnly)*hMaps*16 - cropY*(ct+cb))
	return s, nil
}

// vp8KeyFrame returns the size in a VP8 keyframe header, and false for an inter frame.
func vp8KeyFrame(f []byte) (w, h int, key bool) {
	if len(f) < 10 || f[0]&1 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	return int(f[6]) | int(f[7]&0x3f)<<8, int(f[8]) | int(f[9]&0x3f)<<8, true
}

// opusFrameDuration returns the duration in ms of one frame of an Opus packet's TOC byte
// (RFC 6716, section 3.1), times 10 to keep 2.5 ms exact.
func opusFrameDuration10(toc byte) int {
	config := int(toc >> 3)
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		return []int{100, 200, 400, 600}[config%4]
	case config < 16: // Hybrid: 10, 20 ms
		return []int{100, 200}[config%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		return []int{25, 50, 100, 200}[config%4]
	}
}
