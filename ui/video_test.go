package ui

import (
	"image"
	"image/color"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
)

func TestVideoViewCoalescesFrames(t *testing.T) {
	test.NewTempApp(t)
	v := NewVideoView("waiting")
	test.NewTempWindow(t, v)
	src := image.NewRGBA(image.Rect(0, 0, 64, 36))
	frames := 0
	var bufs []*image.RGBA
	v.SetSource(snapSource(func(dst *image.RGBA) (*image.RGBA, bool) {
		if frames == 0 {
			return nil, false
		}
		if dst == nil || dst.Bounds() != src.Bounds() {
			dst = image.NewRGBA(src.Bounds())
		}
		copy(dst.Pix, src.Pix)
		bufs = append(bufs, dst)
		return dst, true
	}))
	v.FrameReady() // no frame yet: the placeholder stays
	if v.Image() != nil || !v.placeholder.Visible() {
		t.Fatal("showed a picture without a frame")
	}
	frames = 1
	src.SetRGBA(1, 1, color.RGBA{R: 255, A: 255})
	v.FrameReady()
	src.SetRGBA(1, 1, color.RGBA{G: 255, A: 255})
	v.FrameReady()
	if shown, _ := v.Counts(); shown != 2 {
		t.Fatalf("shown %d", shown)
	}
	if len(bufs) != 2 || bufs[0] != bufs[1] {
		t.Error("the frame buffer was not reused")
	}
	if got := v.Image().(*image.RGBA).RGBAAt(1, 1); got.G != 255 || v.placeholder.Visible() {
		t.Errorf("pixel %v, placeholder %v", got, v.placeholder.Visible())
	}
	// While a refresh is pending, more frames fold into it.
	v.pending.Store(true)
	v.FrameReady()
	v.FrameReady()
	if shown, coalesced := v.Counts(); shown != 2 || coalesced != 2 {
		t.Errorf("shown %d coalesced %d", shown, coalesced)
	}
	v.ShowLatest()
	if shown, _ := v.Counts(); shown != 3 || v.pending.Load() {
		t.Errorf("pending refresh not run: shown %d", shown)
	}
	v.SetSource(nil)
	if v.Image() != nil || !v.placeholder.Visible() {
		t.Error("detaching did not clear the picture")
	}
}

func TestVideoViewPacesPreview(t *testing.T) {
	test.NewTempApp(t)
	remote, local := NewVideoView(""), NewVideoView("")
	test.NewTempWindow(t, container.NewStack(remote, local))
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	local.now = func() time.Time { return now }
	local.SetPace(time.Hour)
	remote.OnShown(local.ShowIfDue)
	frame := image.NewRGBA(image.Rect(0, 0, 8, 8))
	src := snapSource(func(*image.RGBA) (*image.RGBA, bool) { return frame, true })
	remote.SetSource(src)
	local.SetSource(src)

	local.FrameReady() // nothing shown yet: due at once
	if shown, _ := local.Counts(); shown != 1 {
		t.Fatalf("first preview frame: shown %d", shown)
	}
	local.FrameReady() // within the pace: waits
	remote.FrameReady()
	if shown, _ := local.Counts(); shown != 1 || !local.pending.Load() {
		t.Fatalf("preview ran ahead of its pace: shown %d", shown)
	}
	now = now.Add(50 * time.Minute) // 4/5 of the pace: rides along with the remote picture
	remote.FrameReady()
	if shown, _ := local.Counts(); shown != 2 || local.pending.Load() {
		t.Fatalf("due preview frame not shown with the remote one: shown %d", shown)
	}
	if rs, _ := remote.Counts(); rs != 2 {
		t.Errorf("remote shown %d", rs)
	}

	// Without a remote picture to ride along, the frame comes on its own.
	alone := NewVideoView("")
	test.NewTempWindow(t, alone)
	alone.SetPace(time.Millisecond)
	alone.SetSource(src)
	alone.FrameReady()
	alone.FrameReady()
	deadline := time.Now().Add(10 * time.Second)
	for shown, _ := alone.Counts(); shown < 2; shown, _ = alone.Counts() {
		if time.Now().After(deadline) {
			t.Fatal("paced frame never shown on its own")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFormatStats: the stats line under the video says what was negotiated
// and measured, the data channel's round trip, the latency read from a
// stamped pattern and the A/V offset read from its flashes and beeps when
// there are some.
func TestFormatStats(t *testing.T) {
	s := &call.Stats{Width: 1280, Height: 720, Codec: "H264", FPS: 29.96, InboundKbps: 850, OutboundKbps: 820,
		RTT: 12 * time.Millisecond, LossPercent: 0.5, CandidateType: "relay"}
	want := "1280x720 H264 · 30.0 fps · in 850 / out 820 kbps · RTT 12 ms · loss 0.5% · relay"
	if got := FormatStats(s); got != want {
		t.Errorf("stats line %q, want %q", got, want)
	}
	s.DataRTT, s.Latency, s.LatencyP95, s.LatencySamples = 1300*time.Microsecond, 48*time.Millisecond, 61*time.Millisecond, 50
	if got := FormatStats(s); !strings.HasSuffix(got, " · relay · data RTT 1.3 ms · latency 48 ms (p95 61)") {
		t.Errorf("stats line %q", got)
	}
	// The RTCP estimate stands in for the stamp's latency only when there is none (a camera).
	s.SenderReportDelay = 2 * time.Millisecond
	if got := FormatStats(s); !strings.HasSuffix(got, " · latency 48 ms (p95 61)") {
		t.Errorf("stats line %q", got)
	}
	s.AVSync, s.AVSyncSamples = 24400*time.Microsecond, 10
	if got := FormatStats(s); !strings.HasSuffix(got, " · latency 48 ms (p95 61) · A/V +24 ms (audio late)") {
		t.Errorf("stats line %q", got)
	}
	s.LatencySamples, s.AVSyncSamples = 0, 0
	if got := FormatStats(s); !strings.HasSuffix(got, " · data RTT 1.3 ms · RTCP one-way 2 ms") {
		t.Errorf("stats line %q", got)
	}
	for d, want := range map[time.Duration]string{-96 * time.Millisecond: "-96 ms (audio early)", 200 * time.Microsecond: "0 ms (in sync)"} {
		if got := AVSyncWords(d); got != want {
			t.Errorf("A/V offset %s in words: %q, want %q", d, got, want)
		}
	}
	s.InboundKbps = 1500 // units differ: each says its own
	if got := FormatStats(s); !strings.Contains(got, " · in 1.5 Mbps / out 820 kbps · ") {
		t.Errorf("stats line %q", got)
	}
	if got := FormatStats(nil); got != "no statistics yet" {
		t.Errorf("no stats: %q", got)
	}
}
