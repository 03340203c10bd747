package ui

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/master"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/capture/capturetest"
)

// serialApp is Fyne's test app with one change: fyne.Do runs its functions
// one at a time, in order, on a goroutine of its own, as the real driver runs
// them on its main loop. The test driver runs them at once on the caller's
// goroutine, which makes concurrent window updates (events, ticks, frames)
// data races that the real app does not have.
type serialApp struct {
	fyne.App
	drv *serialDriver
}

func (a *serialApp) Driver() fyne.Driver { return a.drv }

type serialDriver struct {
	fyne.Driver
	wake chan struct{}
	done chan struct{} // closed when run has returned

	mu      sync.Mutex
	queue   []func()
	stopped bool
}

// newSerialApp makes a serialApp the current app until the test ends.
func newSerialApp(t *testing.T) fyne.App {
	base := test.NewTempApp(t)
	d := &serialDriver{Driver: base.Driver(), wake: make(chan struct{}, 1), done: make(chan struct{})}
	a := &serialApp{App: base, drv: d}
	fyne.SetCurrentApp(a)
	go d.run()
	t.Cleanup(func() {
		d.mu.Lock()
		d.stopped = true
		d.mu.Unlock()
		d.signal()
		<-d.done
	})
	return a
}

func (d *serialDriver) DoFromGoroutine(fn func(), wait bool) {
	if !wait {
		d.push(fn)
		return
	}
	ran := make(chan struct{})
	if d.push(func() { fn(); close(ran) }) {
		<-ran
	}
}

// push queues fn for run; false once the app is stopped (fn is dropped).
func (d *serialDriver) push(fn func()) bool {
	d.mu.Lock()
	ok := !d.stopped
	if ok {
		d.queue = append(d.queue, fn)
	}
	d.mu.Unlock()
	d.signal()
	return ok
}

func (d *serialDriver) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run runs the queued functions in order until the app is stopped.
func (d *serialDriver) run() {
	defer close(d.done)
	for range d.wake {
		for {
			d.mu.Lock()
			if d.stopped || len(d.queue) == 0 {
				stopped := d.stopped
				d.mu.Unlock()
				if stopped {
					return
				}
				break
			}
			fn := d.queue[0]
			d.queue = d.queue[1:]
			d.mu.Unlock()
			fn()
		}
	}
}

// demoMaster waits for the window's demo and returns its master.
func demoMaster(t *testing.T, w *Window) *master.Master {
	t.Helper()
	d, err := w.waitDemo()
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	return d.Master
}

func connectedViewers(m *master.Master) (n int) {
	for _, v := range m.Viewers() {
		if v.Connected {
			n++
		}
	}
	return n
}

// settledViewers waits up to timeout for the master to have one connected
// viewer for hold (it sees a peer connection close a moment after the viewer
// closed it) and returns the number it last saw.
func settledViewers(m *master.Master, hold, timeout time.Duration) int {
	var since time.Time
	n := -1
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		n = connectedViewers(m)
		switch {
		case n != 1:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= hold:
			return n
		}
	}
	return n
}

// clickStorm makes n Connect, Reconnect and Disconnect clicks from five
// goroutines and, meanwhile, applies settings s (the next click must
// replace the controller); it returns when all is done.
func clickStorm(w *Window, n int, s *call.Settings) {
	var clicks sync.WaitGroup
	for g := range 5 {
		clicks.Go(func() {
			for i := range n / 5 {
				switch (g + i) % 3 {
				case 0:
					w.Connect()
				case 1:
					w.Reconnect()
				case 2:
					w.Disconnect()
				}
				time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
			}
		})
	}
	if s != nil {
		clicks.Go(func() {
			time.Sleep(20 * time.Millisecond)
			fyne.DoAndWait(func() { w.applySettings(*s) })
		})
	}
	clicks.Wait()
}

// closeWithin closes w and fails the test when that takes longer than d.
func closeWithin(t *testing.T, w *Window, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("Window.Close did not return within %s: a controller was left running", d)
	}
}

// TestClicksLeaveOneController clicks 50 times from several goroutines while
// the demo is still starting (each click's controller build waits for it),
// with a settings change among the clicks, and 50 times more while a camera
// that closes slowly is being released: in the end one call is live (the
// demo master sees one viewer) and Close returns within 2 s, so no replaced
// controller was left running.
func TestClicksLeaveOneController(t *testing.T) {
	cam := &capturetest.SlowCamera{CloseDelay: 600 * time.Millisecond}
	unregister, err := cam.Register("slow-camera-ui")
	if err != nil {
		t.Fatal(err)
	}
	defer unregister()
	a := newSerialApp(t)
	o := Options{Overrides: func(s *call.Settings) {
		s.Mode, s.Video, s.VideoDevice, s.Audio = call.ModeDemo, capture.SourceCamera, "slow-camera-ui", capture.SourceNone
	}}
	w, err := NewWindow(a, o)
	if err != nil {
		t.Fatal(err)
	}
	var closing sync.Once
	closeWindow := func() { closing.Do(func() { closeWithin(t, w, 2*time.Second) }) }
	defer closeWindow()
	select {
	case <-w.demo.done:
		t.Log("the demo was up before the first click: the clicks do not race its start")
	default:
	}

	s := o.startSettings(call.DefaultSettings())
	s.AnswerTimeout = 6 * time.Second
	clickStorm(w, 50, &s)

	m := demoMaster(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := w.AwaitState(ctx, call.StateLive, w.Reconnect); err != nil {
		t.Fatalf("no live call after the clicks during start-up: %v", err)
	}
	// Now during slow teardowns: each call's camera takes 600 ms to close.
	clickStorm(w, 50, nil)
	if err := w.AwaitState(ctx, call.StateLive, w.Reconnect); err != nil {
		t.Fatalf("no live call after the clicks during teardowns: %v", err)
	}
	if n := settledViewers(m, 2*time.Second, 30*time.Second); n != 1 {
		t.Errorf("the demo master has %d connected viewers, want 1: %+v", n, m.Viewers())
	}
	if opens, maxOpen := cam.Stats(); opens == 0 || maxOpen > 1 {
		t.Errorf("camera opened %d times, %d at once at most", opens, maxOpen)
	}
	closeWindow()
	if cam.IsOpen() {
		t.Error("the camera is still open after the window closed")
	}
}
