package capture

import (
	"image"
	"strings"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/kvsviewer/kvsviewer/internal/stderrtest"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// TestEncodersQuiet: the video encoders of the calls write nothing to the
// process's stderr while they open, encode and close. (mediadevices' x264
// encoder left libx264's log at level info: "x264 [info]: using cpu
// capabilities", the profile and a page of statistics reached the terminal.)
func TestEncodersQuiet(t *testing.T) {
	const w, h = 320, 240
	g := pattern.New(w, h, 30, pattern.StyleMaster)
	defer g.Close()
	start := time.Now()
	n := 0
	src := video.ReaderFunc(func() (image.Image, func(), error) {
		f := g.Frame(uint32(n), start.Add(time.Duration(n)*time.Second/30))
		n++
		return f, func() {}, nil
	})
	o := Options{Width: w, Height: h, FPS: 30}.withDefaults()
	for _, name := range []string{CodecH264, CodecVP8} {
		stderr := stderrtest.Capture(t, func() {
			builders, err := videoEncoders([]string{name}, o)
			if err != nil {
				t.Error(err)
				return
			}
			enc, err := builders[0].BuildVideoEncoder(src, prop.Media{Video: prop.Video{Width: w, Height: h, FrameRate: 30}})
			if err != nil {
				t.Error(err)
				return
			}
			for range 10 {
				if _, release, err := enc.Read(); err != nil {
					t.Error(err)
				} else {
					release()
				}
			}
			if err := enc.Close(); err != nil {
				t.Error(err)
			}
		})
		if strings.TrimSpace(stderr) != "" {
			t.Errorf("%s encoder wrote to stderr:\n%s", name, stderr)
		}
	}
}
