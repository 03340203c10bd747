package capture

import (
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/driver"
	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// micsAtStart is how many microphones were registered when the tests began.
var micsAtStart = len(driver.GetManager().Query(driver.FilterDeviceType(driver.Microphone)))

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A microphone that vanished (TestPulseMicrophoneLost) is abandoned, not closed
		// (micGuard): its driver's read never returns.
		goleak.IgnoreTopFunction("github.com/kvsviewer/kvsviewer/media/capture/internal/micdriver.(*microphone).AudioRecord.func3"))
}

func hasDevices(kind string) bool { return len(devicesOf(kind)) > 0 }

// meanColour returns the mean colour of a rectangle of an RGBA image.
func meanColour(img *image.RGBA, r image.Rectangle) color.RGBA {
	var sr, sg, sb, n int
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := img.Pix[img.PixOffset(x, y):]
			sr, sg, sb, n = sr+int(p[0]), sg+int(p[1]), sb+int(p[2]), n+1
		}
	}
	return color.RGBA{uint8(sr / n), uint8(sg / n), uint8(sb / n), 255}
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) int { return max(int(x)-int(y), int(y)-int(x)) }
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol
}

// checkBars checks the bar colours of a decoded frame of the given style.
func checkBars(t *testing.T, img *image.RGBA, style pattern.Style) {
	t.Helper()
	w, h := img.Rect.Dx(), img.Rect.Dy()
	r := pattern.BarRegion(w, h)
	for bar := range 8 {
		x := (2*bar + 1) * w / 16
		area := image.Rect(x-w/64, r.Min.Y+r.Dy()/4, x+w/64, r.Max.Y-r.Dy()/4)
		got, want := meanColour(img, area), pattern.BarColor(style, x, w)
		if !near(got, want, 16) {
			t.Errorf("bar %d: decoded %v, want %v", bar, got, want)
		}
	}
}

// TestVideoRoundTrip encodes the test pattern with the real encoders, decodes it with FFmpeg
// (media/decode) and reads the frame counter and bar colours back; it also turns the video off
// and on again.
func TestVideoRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		codec, mime string
		dec         decode.Codec
	}{
		{CodecH264, "H264", decode.H264},
		{CodecVP8, "VP8", decode.VP8},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			const w, h = 640, 360
			l, err := Open(Options{Video: SourceTest, Audio: SourceNone, Width: w, Height: h, FPS: 30,
				Codec: tc.codec, PatternStyle: pattern.StyleViewer})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer func() { _ = l.Close() }()
			if l.VideoSource != SourceTest || l.AudioSource != SourceNone || l.Audio != nil || len(l.Notes) != 0 {
				t.Fatalf("sources %q %q, notes %q", l.VideoSource, l.AudioSource, l.Notes)
			}
			rd, err := l.Video.NewEncodedReader(tc.mime)
			if err != nil {
				t.Fatalf("NewEncodedReader: %v", err)
			}
			defer func() { _ = rd.Close() }()
			dec, err := decode.NewVideoDecoder(tc.dec)
			if err != nil {
				t.Fatalf("decoder: %v", err)
			}
			defer dec.Close()

			var last uint32
			for i := range 24 {
				switch i {
				case 10:
					l.SetVideoEnabled(false)
				case 16:
					l.SetVideoEnabled(true)
				}
				buf, release, err := rd.Read()
				if err != nil {
					t.Fatalf("frame %d: Read: %v", i, err)
				}
				data := append([]byte(nil), buf.Data...)
				release()
				if i == 0 {
					checkKeyFrame(t, tc.codec, data, w, h)
				}
				img, err := dec.Decode(data)
				if err != nil || img == nil {
					t.Fatalf("frame %d: decode: %v", i, err)
				}
				if img.Rect.Dx() != w || img.Rect.Dy() != h {
					t.Fatalf("frame %d: decoded %v, want %dx%d", i, img.Rect, w, h)
				}
				counter, ok := pattern.ReadCounter(img)
				switch {
				case i < 10:
					if !ok || (i > 0 && counter != last+1) {
						t.Errorf("frame %d: counter %d, %v after %d", i, counter, ok, last)
					}
					last = counter
					if i == 9 {
						checkBars(t, img, pattern.StyleViewer)
					}
				case i >= 12 && i < 16: // off (one frame of slack for the switch)
					if ok {
						t.Errorf("frame %d with video off: counter %d readable", i, counter)
					}
					if c := meanColour(img, img.Rect); !near(c, color.RGBA{0, 0, 0, 255}, 6) {
						t.Errorf("frame %d with video off: mean colour %v, want black", i, c)
					}
				case i >= 18: // on again: the counter kept running underneath
					if !ok || counter <= last {
						t.Errorf("frame %d after video on: counter %d, %v (last before off %d)", i, counter, ok, last)
					}
				}
			}
		})
	}
}

func checkKeyFrame(t *testing.T, codec string, data []byte, w, h int) {
	t.Helper()
	switch codec {
	case CodecH264:
		types := map[byte]bool{}
		var sps spsInfo
		for _, nal := range nalUnits(data) {
			types[nal[0]&0x1f] = true
			if nal[0]&0x1f == 7 {
				var err error
				if sps, err = parseSPS(nal); err != nil {
					t.Fatalf("SPS: %v", err)
				}
			}
		}
		if !types[7] || !types[8] || !types[5] {
			t.Fatalf("first access unit has NAL types %v, want SPS (7), PPS (8) and IDR (5)", types)
		}
		// Constrained Baseline, as the offered profile-level-id 42e01f says.
		if sps.width != w || sps.height != h || sps.profile != 66 {
			t.Errorf("SPS: profile %d, %dx%d; want 66, %dx%d", sps.profile, sps.width, sps.height, w, h)
		}
	case CodecVP8:
		kw, kh, key := vp8KeyFrame(data)
		if !key || kw != w || kh != h {
			t.Errorf("first VP8 frame: key %v, %dx%d; want a %dx%d keyframe", key, kw, kh, w, h)
		}
	}
}

// TestToneOpus encodes the tone with the real Opus encoder, decodes it with libopus and checks
// its level, then mutes and unmutes.
func TestToneOpus(t *testing.T) {
	l, err := Open(Options{Video: SourceNone, Audio: SourceTone})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() { _ = l.Close() }()
	if l.Video != nil || l.AudioSource != SourceTone {
		t.Fatalf("video %v, audio source %q", l.Video, l.AudioSource)
	}
	rd, err := l.Audio.NewEncodedReader("opus")
	if err != nil {
		t.Fatalf("NewEncodedReader: %v", err)
	}
	defer func() { _ = rd.Close() }()
	dec, err := decode.NewOpusDecoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	pcm := make([]int16, 5760)
	level := func(from, to int, ph string) float64 {
		var sum float64
		var n int
		for i := from; i < to; i++ {
			buf, release, err := rd.Read()
			if err != nil {
				t.Fatalf("%s packet %d: %v", ph, i, err)
			}
			if d := opusFrameDuration10(buf.Data[0]); d != 200 || buf.Data[0]&0x3 != 0 {
				t.Errorf("%s packet %d: TOC %#x: %d/10 ms frames, code %d; want one 20 ms frame", ph, i, buf.Data[0], d, buf.Data[0]&3)
			}
			got, err := dec.Decode(buf.Data, pcm)
			release()
			if err != nil || got != 960 {
				t.Fatalf("%s packet %d: decoded %d samples: %v", ph, i, got, err)
			}
			if i >= from+5 { // let the codec settle after a change
				for _, s := range pcm[:got] {
					sum += float64(s) * float64(s)
				}
				n += got
			}
		}
		return 20 * math.Log10(math.Sqrt(sum/float64(n))/32768+1e-12)
	}
	want := 20 * math.Log10(pattern.ToneAmplitude/math.Sqrt2)
	if got := level(0, 20, "on"); math.Abs(got-want) > 2 {
		t.Errorf("tone level %.1f dBFS, want %.1f", got, want)
	}
	l.SetAudioEnabled(false)
	if l.AudioEnabled() {
		t.Error("AudioEnabled after mute")
	}
	if got := level(20, 35, "muted"); got > -60 {
		t.Errorf("muted level %.1f dBFS, want silence", got)
	}
	l.SetAudioEnabled(true)
	if got := level(35, 50, "unmuted"); math.Abs(got-want) > 2 {
		t.Errorf("unmuted level %.1f dBFS, want %.1f", got, want)
	}
}

func TestAutoFallsBack(t *testing.T) {
	if hasDevices(KindVideo) || hasDevices(KindAudio) {
		t.Skip("this machine has a camera or microphone")
	}
	l, err := Open(Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() { _ = l.Close() }()
	if l.VideoSource != SourceTest || l.AudioSource != SourceTone || l.Video == nil || l.Audio == nil {
		t.Errorf("sources %q %q, want test and tone", l.VideoSource, l.AudioSource)
	}
	notes := strings.Join(l.Notes, "\n")
	if !strings.Contains(notes, "no camera found: sending the test pattern") ||
		!strings.Contains(notes, "no microphone found: sending a tone") {
		t.Errorf("notes %q", l.Notes)
	}
	// The fallback pattern has the default size.
	rd, _, err := l.Video.(*mediadevices.VideoTrack).NewReader(false).Read()
	if err != nil || rd.Bounds() != image.Rect(0, 0, DefaultWidth, DefaultHeight) {
		t.Errorf("first frame %v, %v; want %dx%d", rd.Bounds(), err, DefaultWidth, DefaultHeight)
	}
}

func TestExplicitDeviceMissing(t *testing.T) {
	if !hasDevices(KindVideo) {
		if _, err := Open(Options{Video: SourceCamera, Audio: SourceNone}); !errors.Is(err, ErrNoCamera) {
			t.Errorf("Open camera: %v, want ErrNoCamera", err)
		}
	}
	if !hasDevices(KindAudio) {
		if _, err := Open(Options{Video: SourceNone, Audio: SourceMic}); !errors.Is(err, ErrNoMicrophone) {
			t.Errorf("Open mic: %v, want ErrNoMicrophone", err)
		}
	}
	// A failure after the video opened closes the video again (goleak and the pattern's ticker).
	if !hasDevices(KindAudio) {
		if _, err := Open(Options{Video: SourceTest, Audio: SourceMic}); !errors.Is(err, ErrNoMicrophone) {
			t.Errorf("Open test+mic: %v, want ErrNoMicrophone", err)
		}
	}
	if _, err := Open(Options{Video: SourceTest, VideoDevice: "no-such-camera", Audio: SourceNone}); err != nil {
		t.Errorf("device choice must not matter for the test pattern: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Video: "webcam", Audio: SourceNone},
		{Video: SourceNone, Audio: "speaker"},
		{Video: SourceTest, Audio: SourceNone, Codec: "av1"},
	} {
		if l, err := Open(o); err == nil {
			_ = l.Close()
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

// TestMicrophonesListedWhenNeeded checks that no microphone is listed when the package loads
// (micsAtStart, taken before any test ran): the process of a call with the test tone never asks
// the sound systems. Listing the devices lists them, and never miniaudio's null backend, whose
// silent "capture device" (the hex of "null") is no microphone.
func TestMicrophonesListedWhenNeeded(t *testing.T) {
	if micsAtStart != 0 {
		t.Errorf("%d microphones registered before anything asked for them", micsAtStart)
	}
	for _, d := range ListDevices() {
		if d.Kind == KindAudio && (strings.Contains(strings.ToLower(d.Label), "null") || d.ID == "null") {
			t.Errorf("null device listed: %+v", d)
		}
	}
	for _, d := range driver.GetManager().Query(driver.FilterAudioRecorder()) {
		if d.Info().Label == hex.EncodeToString([]byte("null")) {
			t.Errorf("the null backend's device is registered: %+v", d.Info())
		}
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	l, err := Open(Options{Video: SourceTest, Audio: SourceTone, Width: 320, Height: 240})
	if err != nil {
		t.Fatal(err)
	}
	vr := l.Video.(*mediadevices.VideoTrack).NewReader(false)
	if _, _, err := vr.Read(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The generator is stopped: a new reader gets the end of the stream.
	if _, _, err := l.Video.(*mediadevices.VideoTrack).NewReader(false).Read(); err == nil {
		t.Error("video still produces frames after Close")
	}
	if _, _, err := l.Audio.(*mediadevices.AudioTrack).NewReader(false).Read(); err == nil {
		t.Error("audio still produces chunks after Close")
	}
}

func TestDefaultVideoBitrate(t *testing.T) {
	for _, tc := range []struct{ w, h, fps, want int }{
		{1280, 720, 30, 2_000_000},
		{640, 360, 30, 500_000},
		{160, 120, 15, minVideoBitrate},
		{3840, 2160, 60, maxDefaultVideoBitrate},
		{0, 0, 0, 2_000_000},
	} {
		if got := DefaultVideoBitrate(tc.w, tc.h, tc.fps); got != tc.want {
			t.Errorf("DefaultVideoBitrate(%d, %d, %d) = %d, want %d", tc.w, tc.h, tc.fps, got, tc.want)
		}
	}
}
