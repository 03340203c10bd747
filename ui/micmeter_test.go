package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestMicMeter: the bar spans -60..0 dBFS and says the level in words, or that the
// microphone is silent (no call, or nothing captured).
func TestMicMeter(t *testing.T) {
	test.NewTempApp(t)
	m := NewMicMeter()
	for _, tc := range []struct {
		level float64
		value float64
		text  string
	}{
		{-100, 0, "mic: silent"},
		{-30, 0.5, "mic -30 dB"},
		{-9.2, 1 - 9.2/60, "mic -9 dB"},
		{3, 1, "mic 3 dB"},
		{-61, 0, "mic: silent"},
	} {
		m.SetLevel(tc.level)
		if d := m.Value - tc.value; d > 1e-9 || d < -1e-9 || m.TextFormatter() != tc.text || m.Level() != tc.level {
			t.Errorf("SetLevel(%.1f): value %.3f, text %q; want %.3f, %q", tc.level, m.Value, m.TextFormatter(), tc.value, tc.text)
		}
	}
}
