package master

import (
	"context"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/media/capture"
)

// spareMedia returns the master's spare media (nil while none is ready).
func (m *Master) spareMedia() *capture.Local {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.spare
}

// TestEachViewerGetsMediaOfItsOwn: the master opens the next viewer's media
// before the offer arrives and the offer takes it; a new spare is opened for
// the next offer, so two viewers never share media; Close leaves no media
// open.
func TestEachViewerGetsMediaOfItsOwn(t *testing.T) {
	before := capture.BackgroundCount()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := startEnv(t, ctx, Options{Width: testW, Height: testH, FPS: testFPS, Codec: CodecVP8})
	if err := waitFor(ctx, func() bool { return env.m.spareMedia() != nil }); err != nil {
		t.Fatalf("no media was opened ahead of the first offer: %v", err)
	}
	spare := env.m.spareMedia()

	var locals []*capture.Local
	for _, id := range []string{"viewer-a", "viewer-b"} {
		v := newTestViewer(t, ctx, env.e, id, []string{"VP8"})
		defer v.close()
		if err := env.m.WaitViewerFrames(ctx, id, 10); err != nil {
			t.Fatal(err)
		}
		locals = append(locals, env.m.liveViewer(id).local)
		if err := waitFor(ctx, func() bool {
			s := env.m.spareMedia()
			return s != nil && s != locals[len(locals)-1]
		}); err != nil {
			t.Fatalf("no new spare after %s's offer: %v", id, err)
		}
	}
	if locals[0] != spare {
		t.Error("the first offer opened media of its own instead of taking the spare")
	}
	if locals[0] == locals[1] {
		t.Fatal("two viewers share one capture.Local")
	}
	// Two viewers' media and the next spare.
	if got := capture.BackgroundCount(); got != before+3 {
		t.Errorf("the master holds %d media with two viewers, want 3", got-before)
	}
	if err := env.m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := capture.BackgroundCount(); got != before {
		t.Errorf("the master left %d media open after Close", got-before)
	}
}
