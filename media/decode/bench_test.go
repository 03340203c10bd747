package decode_test

import (
	"fmt"
	"image"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/decode/decodetest"
)

var (
	clipMu    sync.Mutex
	clipCache = map[string][][]byte{}
)

// benchClip encodes (once per process) 90 frames of the moving pattern with a
// keyframe every 90 frames: one GOP the benchmark loops over.
func benchClip(b *testing.B, c decode.Codec, w, h, bitrate int) [][]byte {
	clipMu.Lock()
	defer clipMu.Unlock()
	key := fmt.Sprint(c, w, h, bitrate)
	if clip, ok := clipCache[key]; ok {
		return clip
	}
	clip, err := decodetest.Clip(c, w, h, 90, bitrate, 90)
	if err != nil {
		b.Fatal(err)
	}
	clipCache[key] = clip
	return clip
}

func benchDecode(b *testing.B, c decode.Codec, w, h, bitrate int) {
	clip := benchClip(b, c, w, h, bitrate)
	d, err := decode.NewVideoDecoder(c)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	bytes := 0
	for _, f := range clip {
		bytes += len(f)
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img, err := d.Decode(clip[i%len(clip)]) // the clip is one GOP: it loops from its keyframe
		if err != nil || img == nil {
			b.Fatalf("frame %d: %v (picture %v)", i%len(clip), err, img != nil)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	// The machine is shared: CPU time of this process says what one core does.
	b.ReportMetric(float64(b.N)/(cpuTime(b)-cpu0).Seconds(), "cpu-frames/s")
	b.ReportMetric(float64(bytes*8)/float64(len(clip))*30/1e6, "Mbit/s@30fps")
}

// cpuTime is the CPU time (user+system) used by the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkDecodeH264_1080p(b *testing.B) { benchDecode(b, decode.H264, 1920, 1080, 4_000_000) }
func BenchmarkDecodeH264_720p(b *testing.B)  { benchDecode(b, decode.H264, 1280, 720, 2_500_000) }
func BenchmarkDecodeVP8_1080p(b *testing.B)  { benchDecode(b, decode.VP8, 1920, 1080, 4_000_000) }
func BenchmarkDecodeVP8_720p(b *testing.B)   { benchDecode(b, decode.VP8, 1280, 720, 2_500_000) }

// BenchmarkScale720pToWindow converts and scales a decoded 1280x720 picture
// to BGRX at the size the window shows it (the display path), and compares
// with the same from the RGBA picture.
func BenchmarkScale720pToWindow(b *testing.B) {
	clip := benchClip(b, decode.H264, 1280, 720, 2_500_000)
	d, err := decode.NewVideoDecoder(decode.H264)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	pic, err := d.DecodePicture(clip[0])
	if err != nil || pic == nil {
		b.Fatalf("decode: %v", err)
	}
	s := decode.NewScaler()
	defer s.Close()
	rgba, err := s.ToRGBA(nil, pic)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		w, h int
		src  image.Image
	}{
		{"picture/1184x666", 1184, 666, pic},
		{"picture/1280x720", 1280, 720, pic},
		{"picture/1187x668", 1187, 668, pic},
		{"rgba/1184x666", 1184, 666, rgba},
	} {
		b.Run(tc.name, func(b *testing.B) {
			buf := make([]byte, tc.w*4*tc.h)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.ToBGRX(buf, tc.w*4, tc.w, tc.h, tc.src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
