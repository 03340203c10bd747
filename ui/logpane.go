package ui

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

var levelChoices = []struct {
	label string
	level slog.Level
}{{"Debug", slog.LevelDebug}, {"Info", slog.LevelInfo}, {"Warn", slog.LevelWarn}, {"Error", slog.LevelError}}

// LogPane shows a LogBuffer with a level filter, Copy and Save. The text is
// already redacted by the buffer. Call its methods on the Fyne goroutine;
// new records are picked up through the buffer's OnChange, coalesced into
// at most one pending refresh.
type LogPane struct {
	widget.BaseWidget
	buf     *LogBuffer
	win     fyne.Window
	Level   *widget.Select
	Copy    *widget.Button
	Save    *widget.Button
	list    *widget.List
	lines   []LogRecord
	min     slog.Level
	pending atomic.Bool
	// refresh orders the refreshes: the window runs them all on its one
	// goroutine, but Fyne's test driver runs fyne.Do on the caller's, which
	// may be any goroutine that logs.
	refresh  sync.Mutex
	detached bool // under refresh: the window closed, the pane follows the buffer no more
	content  fyne.CanvasObject
}

// NewLogPane returns a pane showing buf; win is the parent of the save dialog.
func NewLogPane(buf *LogBuffer, win fyne.Window) *LogPane {
	p := &LogPane{buf: buf, win: win, min: slog.LevelInfo}
	names := make([]string, len(levelChoices))
	for i, c := range levelChoices {
		names[i] = c.label
	}
	p.Level = widget.NewSelect(names, func(s string) {
		for _, c := range levelChoices {
			if c.label == s {
				p.min = c.level
			}
		}
		p.Reload()
	})
	p.list = widget.NewList(
		func() int { return len(p.lines) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.TextStyle = fyne.TextStyle{Monospace: true}
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			l := o.(*widget.Label)
			if id < 0 || id >= len(p.lines) {
				return
			}
			r := p.lines[id]
			l.Importance = widget.MediumImportance
			switch {
			case r.Level >= slog.LevelError:
				l.Importance = widget.DangerImportance
			case r.Level >= slog.LevelWarn:
				l.Importance = widget.WarningImportance
			}
			l.SetText(r.Line)
		},
	)
	p.Copy = widget.NewButton("Copy", func() {
		fyne.CurrentApp().Clipboard().SetContent(p.Text())
	})
	p.Save = widget.NewButton("Save…", p.saveDialog)
	p.Level.SetSelected("Info")
	p.content = container.NewBorder(
		container.NewHBox(widget.NewLabel("Level"), p.Level, p.Copy, p.Save),
		nil, nil, nil, p.list)
	buf.OnChange(p.changed)
	p.ExtendBaseWidget(p)
	return p
}

// CreateRenderer implements fyne.Widget.
func (p *LogPane) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(p.content)
}

func (p *LogPane) changed() {
	if !p.pending.CompareAndSwap(false, true) {
		return
	}
	fyne.Do(func() {
		p.refresh.Lock()
		defer p.refresh.Unlock()
		p.pending.Store(false)
		if !p.detached {
			p.Reload()
		}
	})
}

// Detach stops following the buffer: once it returns no refresh runs, so
// goroutines that still log after the window closed (pion's finish a
// little after a peer connection's Close) touch no widget.
func (p *LogPane) Detach() {
	p.buf.OnChange(nil)
	p.refresh.Lock()
	p.detached = true
	p.refresh.Unlock()
}

// Reload re-reads the buffer with the current level filter and scrolls to the end.
func (p *LogPane) Reload() {
	p.lines = p.buf.Records(p.min)
	if p.list == nil {
		return
	}
	p.list.Refresh()
	if n := len(p.lines); n > 0 {
		p.list.ScrollToBottom()
	}
}

// Lines returns the lines shown.
func (p *LogPane) Lines() []string {
	out := make([]string, len(p.lines))
	for i, r := range p.lines {
		out[i] = r.Line
	}
	return out
}

// Text returns the lines shown as text, for Copy and Save.
func (p *LogPane) Text() string {
	if len(p.lines) == 0 {
		return ""
	}
	return strings.Join(p.Lines(), "\n") + "\n"
}

func (p *LogPane) saveDialog() {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, p.win)
			return
		}
		if w == nil {
			return
		}
		text := p.Text()
		werr := saveTo(w, func(out io.Writer) error {
			_, err := io.WriteString(out, text)
			return err
		})
		if werr != nil {
			dialog.ShowError(fmt.Errorf("save log: %w", werr), p.win)
		}
	}, p.win)
	d.SetFileName("kvsviewer.log")
	d.Show()
}
