package e2e

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
)

// TestHoldDemoCall keeps a demo call live for E2E_HOLD_SECONDS (skipped
// when unset) and logs how rendering kept up; run it with -cpuprofile to
// see where the window's time goes.
func TestHoldDemoCall(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("E2E_HOLD_SECONDS"))
	if theApp == nil || secs <= 0 {
		t.Skip("set E2E_HOLD_SECONDS and run under xvfb-run")
	}
	w := openDemoWindow(t, os.Getenv("E2E_GL_VIDEO") != "")
	defer func() {
		fyne.DoAndWait(w.Window.Hide)
		_ = w.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.AwaitState(ctx, call.StateLive, func() { fyne.DoAndWait(func() { test.Tap(w.View.Connect) }) }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(secs) * time.Second)
	r, _ := w.RenderStats()
	shown, coalesced := w.View.Remote.Counts()
	t.Logf("decoded %d, late %d (%.2f%%), shown %d, coalesced %d", r.Decoded, r.Late, r.DropPercent(), shown, coalesced)
}
