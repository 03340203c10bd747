package capture

import (
	"image"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// benchmarkEncode720p encodes 720p pattern frames (pre-rendered, so only the encoder is
// measured) with the real-time settings of NewCodecSelector.
func benchmarkEncode720p(b *testing.B, codecName string) {
	const w, h = 1280, 720
	g := pattern.New(w, h, 30, pattern.StyleMaster)
	defer g.Close()
	start := time.Now()
	var frames [30]*image.YCbCr
	for i := range frames {
		frames[i] = g.Frame(uint32(i), start.Add(time.Duration(i)*time.Second/30))
	}
	i := 0
	src := video.ReaderFunc(func() (image.Image, func(), error) {
		f := frames[i%len(frames)]
		i++
		return f, func() {}, nil
	})
	o := Options{Width: w, Height: h, FPS: 30}.withDefaults()
	builders, err := videoEncoders([]string{codecName}, o)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := builders[0].BuildVideoEncoder(src, prop.Media{Video: prop.Video{Width: w, Height: h, FrameRate: 30}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = enc.Close() }()
	var bytes int
	for b.Loop() {
		data, release, err := enc.Read()
		if err != nil {
			b.Fatal(err)
		}
		bytes += len(data)
		release()
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/frame")
}

func BenchmarkEncodeH264720p(b *testing.B) { benchmarkEncode720p(b, CodecH264) }

func BenchmarkEncodeVP8720p(b *testing.B) { benchmarkEncode720p(b, CodecVP8) }
