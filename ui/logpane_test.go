package ui

import (
	"log/slog"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/internal/redact"
)

func TestLogPaneFiltersCopiesAndRedacts(t *testing.T) {
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	buf := NewLogBuffer(100, nil)
	p := NewLogPane(buf, w)
	w.SetContent(p)
	log := slog.New(buf)
	log.Debug("ice candidate", "type", "host")
	log.Info("signaling open", "url", "wss://h/?X-Amz-Signature="+testSignature+"&X-Amz-ClientId=v1")
	log.Warn("no answer yet")
	log.Error("attempt failed", "class", "no_answer")
	if got := p.Lines(); len(got) != 3 || !strings.Contains(got[0], "signaling open") {
		t.Fatalf("info lines %q", got)
	}
	if strings.Contains(p.Text(), testSignature) || !strings.Contains(p.Text(), "X-Amz-Signature="+redact.Marker) {
		t.Errorf("pane text not redacted: %s", p.Text())
	}
	p.Level.SetSelected("Warn")
	if got := p.Lines(); len(got) != 2 || !strings.Contains(got[1], "attempt failed") {
		t.Errorf("warn lines %q", got)
	}
	test.Tap(p.Copy)
	if got := a.Clipboard().Content(); got != p.Text() || !strings.HasSuffix(got, "class=no_answer\n") {
		t.Errorf("clipboard %q", got)
	}
	p.Level.SetSelected("Debug")
	if got := p.Lines(); len(got) != 4 || !strings.Contains(got[0], "ice candidate") {
		t.Errorf("debug lines %q", got)
	}
	log.Info("later")
	if got := p.Lines(); len(got) != 5 {
		t.Errorf("a new record did not reach the pane: %q", got)
	}
}
