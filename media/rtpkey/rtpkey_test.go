package rtpkey

import (
	"testing"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/decode/decodetest"
)

// TestStartsOnEncodedVideo packetizes real x264 and libvpx output as the
// send path does and checks every packet: only the first packet of each
// keyframe starts one.
func TestStartsOnEncodedVideo(t *testing.T) {
	for _, tc := range []struct {
		codec decode.Codec
		mime  string
		pay   interface{ Payload(uint16, []byte) [][]byte }
	}{
		{decode.H264, webrtc.MimeTypeH264, &codecs.H264Payloader{}},
		{decode.VP8, webrtc.MimeTypeVP8, &codecs.VP8Payloader{EnablePictureID: true}},
	} {
		clip, err := decodetest.Clip(tc.codec, 320, 240, 12, 500_000, 5)
		if err != nil {
			t.Fatal(err)
		}
		keys := 0
		for i, f := range clip {
			key := decode.IsKeyframe(tc.codec, f)
			for j, p := range tc.pay.Payload(1200, f) {
				want := key && j == 0
				if got := Starts(tc.mime, p); got != want {
					t.Errorf("%s frame %d (keyframe %v) packet %d: Starts = %v, want %v", tc.mime, i, key, j, got, want)
				}
			}
			if key {
				keys++
			}
		}
		if keys < 2 {
			t.Errorf("%s: %d keyframes in the clip, want at least 2 (keyint 5)", tc.mime, keys)
		}
	}
}

func TestStartsRejects(t *testing.T) {
	for _, tc := range []struct {
		mime    string
		payload []byte
	}{
		{webrtc.MimeTypeH264, nil},
		{webrtc.MimeTypeH264, []byte{0x7c}},             // FU-A without its header
		{webrtc.MimeTypeH264, []byte{0x7c, 0x05}},       // FU-A middle fragment of an IDR
		{webrtc.MimeTypeH264, []byte{0x78, 0x00, 0x09}}, // STAP-A whose size runs past the end
		{webrtc.MimeTypeH264, []byte{0x41, 0x9a}},       // a P slice
		{webrtc.MimeTypeH264, []byte{0x65, 0x88}},       // an IDR slice without the SPS before it
		{webrtc.MimeTypeVP8, []byte{0x10, 0x01}},        // start of an inter frame
		{webrtc.MimeTypeVP8, []byte{0x00, 0x00}},        // not a partition start
		{webrtc.MimeTypeOpus, []byte{0x78, 0x00}},
	} {
		if Starts(tc.mime, tc.payload) {
			t.Errorf("Starts(%s, % x) = true", tc.mime, tc.payload)
		}
	}
	if !Starts("video/h264", []byte{0x67, 0x42}) || !Starts(webrtc.MimeTypeVP8, []byte{0x10, 0x00}) {
		t.Error("a single SPS NAL unit or a VP8 key frame start is not recognised")
	}
}

func FuzzStarts(f *testing.F) {
	f.Add([]byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce})
	f.Add([]byte{0x7c, 0x85, 0x88})
	f.Add([]byte{0x90, 0x80, 0x01, 0x00})
	f.Fuzz(func(_ *testing.T, p []byte) {
		Starts(webrtc.MimeTypeH264, p)
		Starts(webrtc.MimeTypeVP8, p)
	})
}
