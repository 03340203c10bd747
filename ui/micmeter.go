package ui

import (
	"fmt"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/media/capture"
)

// micFloor is the level a MicMeter shows as empty, in dBFS: quieter than a room's noise
// through a laptop microphone, so speech and a tone both move the bar.
const micFloor = -60.0

// MicMeter shows the level of what the microphone captures (muted or not), so users see it is
// alive before they talk: a bar from micFloor to 0 dBFS and the level in words. Call its
// methods on the Fyne goroutine.
type MicMeter struct {
	widget.ProgressBar
	level float64
}

// NewMicMeter returns an empty meter (no call).
func NewMicMeter() *MicMeter {
	m := &MicMeter{level: micFloor - 1}
	m.ExtendBaseWidget(m)
	m.TextFormatter = m.text
	return m
}

// SetLevel shows level (dBFS; at or below -100 for silence or no call).
func (m *MicMeter) SetLevel(level float64) {
	if level == m.level {
		return
	}
	m.level = level
	m.SetValue(min(max((level-micFloor)/-micFloor, 0), 1))
}

// Level is the level shown, in dBFS.
func (m *MicMeter) Level() float64 { return m.level }

// text is the bar's caption.
func (m *MicMeter) text() string {
	if m.level < micFloor {
		return "mic: silent"
	}
	return fmt.Sprintf("mic %.0f dB", m.level)
}

// micMeterPace is how often the window reads the microphone's level: a meter that moves with
// speech without costing a repaint per audio packet.
const micMeterPace = 150 * time.Millisecond

// micMeter feeds the toolbar's microphone meter from the current call until the window closes.
func (w *Window) micMeter() {
	defer w.wg.Done()
	t := time.NewTicker(micMeterPace)
	defer t.Stop()
	last := math.NaN()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		level := capture.MinLevel
		if c := w.calls.current(); c != nil {
			level = c.InputLevel()
		}
		if math.Abs(level-last) < 0.5 {
			continue // nothing a person would see
		}
		last = level
		fyne.Do(func() { w.View.SetMicLevel(level) })
	}
}
