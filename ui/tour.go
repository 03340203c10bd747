package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"fyne.io/fyne/v2"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/qa"
	"github.com/kvsviewer/kvsviewer/internal/reportfile"
)

// TourShots are the screenshots of the tour, in order (scripts/screenshots.sh saves each
// as docs/NAME.png).
var TourShots = []string{"main-live", "settings", "settings-call", "timeline", "messages", "qa", "qa-viewers"}

// tour walks the window through the states the README shows, waiting at
// each for the screenshot script, then quits the app.
func (w *Window) tour() {
	defer w.wg.Done()
	if err := w.runTour(); err != nil {
		w.log.Error("screenshot tour failed", "err", err)
		_ = os.WriteFile(filepath.Join(w.o.Tour, "failed"), []byte(err.Error()+"\n"), 0o644)
	}
	fyne.Do(w.app.Quit)
}

func (w *Window) runTour() error {
	ctx := w.ctx
	live := func(click func()) error {
		c, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		if err := w.AwaitState(c, call.StateLive, click); err != nil {
			return err
		}
		return sleepCtx(ctx, 3*time.Second) // a steady picture and a stats line
	}
	if err := live(w.Connect); err != nil {
		return fmt.Errorf("first call: %w", err)
	}
	// A Reconnect, so that the timeline shows two sessions.
	if err := live(w.Reconnect); err != nil {
		return fmt.Errorf("after Reconnect: %w", err)
	}
	if err := w.tabShots(); err != nil {
		return err
	}
	if err := w.messagesShot(); err != nil {
		return err
	}
	if err := w.qaShot(cycles(w.o.TourQACycles, 50), 1, "qa"); err != nil {
		return err
	}
	// Five viewers at once against the demo master.
	return w.qaShot(cycles(w.o.TourQACycles/10, 4), 5, "qa-viewers")
}

// cycles is n, or def when n is not positive.
func cycles(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// tabShots shows the call, the settings (top, then the call options) and the
// timeline, one screenshot each.
func (w *Window) tabShots() error {
	steps := []struct {
		tab, shot string
		then      func()
	}{
		{TabCall, "main-live", nil},
		{TabSettings, "settings", nil},
		{TabSettings, "settings-call", w.Settings.ShowCallOptions},
		{TabTimeline, "timeline", nil},
	}
	for _, step := range steps {
		if err := w.doWait(func() {
			w.View.SelectTab(step.tab)
			if step.then != nil {
				step.then()
			}
		}); err != nil {
			return err
		}
		if err := w.shot(step.shot); err != nil {
			return err
		}
	}
	return nil
}

// qaShot runs a QA batch of viewers at once, n cycles each, in the window
// and shows its report in screenshot shot.
func (w *Window) qaShot(n, viewers int, shot string) error {
	ctx := w.ctx
	err := w.doWait(func() {
		w.View.SelectTab(TabQA)
		w.QA.Cycles.SetText(strconv.Itoa(n))
		w.QA.Viewers.SetText(strconv.Itoa(viewers))
		w.QA.Hold.SetText("1s")
		w.QA.Gap.SetText("200ms")
		w.QA.start()
	})
	if err != nil {
		return err
	}
	for w.qaRun.running() {
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	var rep *qa.Report
	if err := w.doWait(func() { rep = w.QA.Report() }); err != nil { // and let the QA view show it
		return err
	}
	if err := saveReport(filepath.Join(w.o.Tour, shot+".csv"), rep); err != nil {
		return err
	}
	return w.shot(shot)
}

// saveReport writes the cycles of a QA report as the QA tab's Export CSV does, next to the
// tour's screenshots: the figures behind the picture (RSS and phases of every cycle).
func saveReport(path string, rep *qa.Report) error {
	if rep == nil {
		return errors.New("tour: the QA run left no report")
	}
	if err := reportfile.Write(path, rep.WriteCSV); err != nil {
		return fmt.Errorf("tour: %w", err)
	}
	return nil
}

// messagesShot shows the message panel during the call, after a message
// each way on the data channel.
func (w *Window) messagesShot() error {
	if err := w.doWait(func() {
		w.View.SelectTab(TabCall)
		w.View.ToggleMessages()
	}); err != nil {
		return err
	}
	if err := w.SendMessage("Hello from the viewer"); err != nil {
		w.log.Warn("tour: message not sent", "err", err)
	}
	if err := sleepCtx(w.ctx, 2500*time.Millisecond); err != nil { // the demo master speaks every 2 s
		return err
	}
	if err := w.shot("messages"); err != nil {
		return err
	}
	return w.doWait(w.View.ToggleMessages)
}

// doWait runs fn on the Fyne goroutine and waits for it, or for the window
// to close (when the app's loop may no longer run it).
func (w *Window) doWait(fn func()) error {
	done := make(chan struct{})
	fyne.Do(func() {
		fn()
		close(done)
	})
	select {
	case <-done:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// shot announces that the window shows NAME and waits for the screenshot.
func (w *Window) shot(name string) error {
	dir := w.o.Tour
	if err := sleepCtx(w.ctx, 700*time.Millisecond); err != nil { // let the frame settle
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".ready"), nil, 0o644); err != nil {
		return fmt.Errorf("tour: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, name+".done")); err == nil {
			return nil
		}
		if err := sleepCtx(w.ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return errors.New("tour: no screenshot taken of " + name)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
