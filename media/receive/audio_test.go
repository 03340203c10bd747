package receive_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/codec/opus"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/media/receive"
)

// TestAudioSine sends a 440 Hz Opus sine between two peers and checks the
// received PCM's level and frequency.
func TestAudioSine(t *testing.T) {
	defer goleak.VerifyNone(t)
	tx, rx := newPeer(t), newPeer(t)
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "tone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	p, err := opus.NewParams()
	if err != nil {
		t.Fatal(err)
	}
	p.BitRate = 64000
	n := 0
	src := audio.ReaderFunc(func() (wave.Audio, func(), error) {
		a := wave.NewInt16Interleaved(wave.ChunkInfo{Len: 960, Channels: 1, SamplingRate: 48000})
		for i := range 960 {
			a.Data[i] = int16(10000 * math.Sin(2*math.Pi*440*float64(n)/48000))
			n++
		}
		return a, func() {}, nil
	})
	enc, err := p.BuildAudioEncoder(src, prop.Media{Audio: prop.Audio{SampleRate: 48000, ChannelCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = enc.Close() }()

	var (
		mu       sync.Mutex
		mono     []float64
		rate, ch int
	)
	stats := &receive.Stats{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	rx.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			done <- receive.Audio(ctx, tr, receive.AudioOptions{Stats: stats, Out: func(pcm []int16, r, c int) {
				mu.Lock()
				defer mu.Unlock()
				rate, ch = r, c
				for i := 0; i < len(pcm); i += c {
					mono = append(mono, float64(pcm[i]))
				}
			}})
		}()
	})
	connect(t, tx, rx)
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for {
			select {
			case <-stop:
				return
			default:
			}
			pkt, release, err := enc.Read()
			if err != nil {
				t.Error(err)
				return
			}
			err = track.WriteSample(media.Sample{Data: pkt, Duration: 20 * time.Millisecond})
			release()
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	waitFor(t, "100 audio packets", func() bool { return stats.Frames.Load() >= 100 })
	close(stop)
	<-fed
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("receive.Audio: %v", err)
	}
	if err := tx.Close(); err != nil {
		t.Error(err)
	}
	if err := rx.Close(); err != nil {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if rate != 48000 || ch != 2 {
		t.Fatalf("PCM at %d Hz x %d channels, want 48000 x 2", rate, ch)
	}
	tail := mono[len(mono)/2:]
	crossings := 0
	for i := 1; i < len(tail); i++ {
		if (tail[i-1] < 0) != (tail[i] < 0) {
			crossings++
		}
	}
	freq := float64(crossings) / 2 / (float64(len(tail)) / 48000)
	level := stats.LevelDBFS()
	t.Logf("packets %d, decoded %d, lost %d, level %.1f dBFS, %.1f Hz", stats.Packets.Load(), stats.Frames.Load(), stats.Lost.Load(), level, freq)
	if math.Abs(freq-440) > 20 {
		t.Errorf("frequency %.1f Hz, want 440", freq)
	}
	if want := 20 * math.Log10(7071.0/32768); math.Abs(level-want) > 4 { // -13.3 dBFS
		t.Errorf("level %.1f dBFS, want %.1f", level, want)
	}
	if stats.DecodeErrors.Load() != 0 {
		t.Errorf("%d decode errors", stats.DecodeErrors.Load())
	}
}
