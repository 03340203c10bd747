package ui

import (
	"fmt"
	"image"
	"io"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/qa"
)

// FaultPresets are the fault profiles offered in the QA tab (any emulator
// fault spec may be typed instead).
var FaultPresets = []string{"", "drop-offers=1", "drop-offer-every=3", "delay-answer=2s", "go-away-after=3s", "drop-socket-after=2s", "malformed-every=2"}

const histogramBins = 20

// QAView is the QA tab: cycles, hold, gap and fault profile; Start/Stop; a
// progress bar; a live results table; a chart of TTFF per cycle and a
// histogram; JSON/CSV export and the resource deltas of the report. Feed it
// with Begin, AddCycle and Finish; call its methods on the Fyne goroutine.
type QAView struct {
	widget.BaseWidget

	// OnStart is called with a valid request when the user presses Start.
	OnStart func(QARequest)
	// OnStop is called when the user presses Stop.
	OnStop func()
	// CheckFaults, when set, validates the fault spec.
	CheckFaults func(string) error

	Cycles     *widget.Entry
	Viewers    *widget.Entry // viewers at once, each making Cycles cycles
	Hold       *widget.Entry
	Gap        *widget.Entry
	Faults     *widget.SelectEntry
	Reconnect  *widget.Check
	Start      *widget.Button
	Stop       *widget.Button
	ExportJSON *widget.Button
	ExportCSV  *widget.Button
	Progress   *widget.ProgressBar
	Summary    *widget.Label
	Resources  *widget.Label
	FormError  *widget.Label

	win      fyne.Window
	table    *widget.Table
	chart    *canvas.Raster
	hist     *canvas.Raster
	axis     *widget.Label
	histAxis *widget.Label
	lat      *canvas.Raster // latency per cycle
	latAxis  *widget.Label
	total    int
	results  []qa.Cycle
	report   *qa.Report
	running  bool
	content  fyne.CanvasObject
	started  time.Time
}

var qaColumns = []string{"#", "Result", "Attempts", "TTFF", "ID wait", "Teardown", "Failures", "Goroutines", "FDs", "RSS MB", "Error"}
var qaColumnWidths = []float32{80, 96, 96, 84, 84, 100, 200, 110, 60, 84, 300}

// NewQAView returns the QA tab; win is the parent of its dialogs.
func NewQAView(win fyne.Window) *QAView {
	v := &QAView{
		win:       win,
		Cycles:    widget.NewEntry(),
		Viewers:   widget.NewEntry(),
		Hold:      widget.NewEntry(),
		Gap:       widget.NewEntry(),
		Faults:    widget.NewSelectEntry(FaultPresets),
		Reconnect: widget.NewCheck("Reconnect from live (instead of Disconnect + Connect)", nil),
		Progress:  widget.NewProgressBar(),
		Summary:   widget.NewLabel("Not run yet."),
		Resources: widget.NewLabel(""),
		FormError: widget.NewLabel(""),
		axis:      widget.NewLabel(""),
		histAxis:  widget.NewLabel(""),
		latAxis:   widget.NewLabel(""),
	}
	v.Cycles.SetText("50")
	v.Viewers.SetText("1")
	v.Hold.SetText("2s")
	v.Gap.SetText("500ms")
	v.Faults.SetPlaceHolder("no faults (Demo mode: e.g. drop-offers=1)")
	v.FormError.Importance = widget.DangerImportance
	v.FormError.Wrapping = fyne.TextWrapWord
	v.Summary.Wrapping = fyne.TextWrapWord
	v.Resources.Wrapping = fyne.TextWrapWord
	v.Start = widget.NewButton("Start", v.start)
	v.Start.Importance = widget.HighImportance
	v.Stop = widget.NewButton("Stop", func() {
		if v.OnStop != nil {
			v.OnStop()
		}
	})
	v.Stop.Disable()
	v.ExportJSON = widget.NewButton("Export JSON…", func() { v.export("qa-report.json", qa.Report.WriteJSON) })
	v.ExportCSV = widget.NewButton("Export CSV…", func() { v.export("qa-report.csv", qa.Report.WriteCSV) })
	v.ExportJSON.Disable()
	v.ExportCSV.Disable()

	v.table = v.newTable()
	v.chart = canvas.NewRaster(v.drawChart)
	v.hist = canvas.NewRaster(v.drawHist)
	v.lat = canvas.NewRaster(v.drawLatency)
	v.chart.SetMinSize(fyne.NewSize(200, 140))
	v.hist.SetMinSize(fyne.NewSize(200, 140))
	v.lat.SetMinSize(fyne.NewSize(200, 140))

	v.content = v.layout()
	v.ExtendBaseWidget(v)
	return v
}

// newTable returns the results table: a header row, then one row per
// cycle, newest first, coloured by outcome.
func (v *QAView) newTable() *widget.Table {
	t := widget.NewTable(
		func() (int, int) { return len(v.results) + 1, len(qaColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			l := o.(*widget.Label)
			l.TextStyle = fyne.TextStyle{Bold: id.Row == 0}
			l.Importance = widget.MediumImportance
			if id.Row == 0 {
				l.SetText(qaColumns[id.Col])
				return
			}
			i := len(v.results) - id.Row // newest first
			if i < 0 || i >= len(v.results) {
				l.SetText("")
				return
			}
			c := v.results[i]
			if !c.OK {
				l.Importance = widget.DangerImportance
			} else if c.Recovered {
				l.Importance = widget.WarningImportance
			}
			l.SetText(QACell(c, id.Col))
		},
	)
	for i, w := range qaColumnWidths {
		t.SetColumnWidth(i, w)
	}
	return t
}

// layout arranges the form and buttons beside the charts, the summary
// below them and the results table at the bottom.
func (v *QAView) layout() fyne.CanvasObject {
	form := widget.NewForm(
		widget.NewFormItem("Cycles", v.Cycles),
		widget.NewFormItem("Viewers", v.Viewers),
		widget.NewFormItem("Hold", v.Hold),
		widget.NewFormItem("Gap", v.Gap),
		widget.NewFormItem("Fault profile", v.Faults),
		widget.NewFormItem("", v.Reconnect),
	)
	v.axis.Truncation = fyne.TextTruncateEllipsis
	v.histAxis.Truncation = fyne.TextTruncateEllipsis
	v.latAxis.Truncation = fyne.TextTruncateEllipsis
	// The buttons first: the form may scroll, Start and Stop must not.
	controls := container.NewVBox(container.NewHBox(v.Start, v.Stop, v.ExportJSON, v.ExportCSV), v.Progress,
		form, v.FormError)
	title := func(s string) fyne.CanvasObject {
		l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}
	charts := container.NewGridWithColumns(3,
		container.NewBorder(title("Time to first frame per cycle"), v.axis, nil, nil, v.chart),
		container.NewBorder(title("TTFF histogram"), v.histAxis, nil, nil, v.hist),
		container.NewBorder(title("Latency per cycle"), v.latAxis, nil, nil, v.lat),
	)
	top := container.NewHSplit(container.NewVScroll(controls), charts)
	top.Offset = 0.4
	upper := container.NewBorder(nil, container.NewVBox(v.Summary, v.Resources), nil, nil, top)
	split := container.NewVSplit(upper, v.table)
	split.Offset = 0.6
	return split
}

// CreateRenderer implements fyne.Widget.
func (v *QAView) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(v.content)
}

// Begin clears the results for a run of total cycles and shows it running.
func (v *QAView) Begin(total int) {
	v.total = total
	v.results = nil
	v.report = nil
	v.running = true
	v.started = time.Now()
	v.Progress.Max = float64(max(total, 1))
	v.Progress.SetValue(0)
	v.Start.Disable()
	v.Stop.Enable()
	v.ExportJSON.Disable()
	v.ExportCSV.Disable()
	v.Summary.SetText(fmt.Sprintf("Running %d cycles…", total))
	v.Resources.SetText("")
	v.refreshData()
}

// AddCycle adds one finished cycle to the table, the charts and the progress.
func (v *QAView) AddCycle(c qa.Cycle) {
	v.results = append(v.results, c)
	v.Progress.SetValue(float64(len(v.results)))
	v.Summary.SetText(v.liveSummary())
	v.Resources.SetText(liveResources(v.results))
	v.refreshData()
}

// Finish shows the final report (err, when set, says why the run stopped).
func (v *QAView) Finish(rep qa.Report, err error) {
	v.running = false
	v.report = &rep
	v.results = rep.Results
	v.Start.Enable()
	v.Stop.Disable()
	v.ExportJSON.Enable()
	v.ExportCSV.Enable()
	v.Progress.SetValue(float64(len(rep.Results)))
	s := ReportSummary(rep)
	if err != nil {
		s = "Stopped: " + err.Error() + "\n" + s
	}
	v.Summary.SetText(s)
	v.Resources.SetText(ReportResources(rep))
	v.refreshData()
}

// Results returns the cycles shown.
func (v *QAView) Results() []qa.Cycle { return v.results }

// Report returns the last finished report, or nil.
func (v *QAView) Report() *qa.Report { return v.report }

// Running reports whether a run is in progress.
func (v *QAView) Running() bool { return v.running }

func (v *QAView) refreshData() {
	v.table.Refresh()
	pts, _, top := v.chartData()
	v.axis.SetText(fmt.Sprintf("0 – %s · %d cycles · green ok, amber retried, red failed, grey waited for a ClientId (not in TTFF)", ms(top), len(pts)))
	lo, hi, counts := v.histData()
	peak := 0
	for _, c := range counts {
		peak = max(peak, c)
	}
	v.histAxis.SetText(fmt.Sprintf("%s – %s in %d bins · tallest %d", ms(lo), ms(hi), len(counts), peak))
	v.latAxis.SetText(v.latencyAxis())
	v.chart.Refresh()
	v.hist.Refresh()
	v.lat.Refresh()
}

func (v *QAView) chartData() (pts []ChartPoint, recovered []bool, top time.Duration) {
	var ttffs []time.Duration
	for _, c := range v.results {
		t, _ := c.Phases.Get(call.PhaseFirstFrame)
		wait, _ := c.Phases.Get(call.PhaseClientIDWait)
		pts = append(pts, ChartPoint{TTFF: t, IDWait: wait, OK: c.OK})
		recovered = append(recovered, c.Recovered)
		if c.OK {
			ttffs = append(ttffs, t+wait)
		}
	}
	return pts, recovered, chartScale(ttffs)
}

func (v *QAView) drawChart(w, h int) image.Image {
	pts, rec, top := v.chartData()
	return DrawTTFFChart(pts, rec, top, w, h)
}

func (v *QAView) drawHist(w, h int) image.Image {
	_, _, counts := v.histData()
	return DrawHistogram(counts, w, h)
}

// histData buckets the TTFF of the good cycles between lo (the fastest,
// rounded down to 100 ms) and hi (the slowest, rounded up).
func (v *QAView) histData() (lo, hi time.Duration, counts []int) {
	var ttffs []time.Duration
	for _, c := range v.results {
		if t, ok := c.Phases.Get(call.PhaseFirstFrame); ok && c.OK {
			ttffs = append(ttffs, t)
		}
	}
	hi = chartScale(ttffs)
	if len(ttffs) > 0 {
		lo = slices.Min(ttffs) / (100 * time.Millisecond) * (100 * time.Millisecond)
	}
	return lo, hi, Histogram(ttffs, lo, hi, histogramBins)
}

func (v *QAView) liveSummary() string {
	ok, recovered := 0, 0
	for _, c := range v.results {
		if c.OK {
			ok++
			if c.Recovered {
				recovered++
			}
		}
	}
	return fmt.Sprintf("%d/%d cycles · %d ok (%d after a retry) · %d failed · %s elapsed",
		len(v.results), v.total, ok, recovered, len(v.results)-ok, time.Since(v.started).Round(time.Second))
}

func (v *QAView) export(name string, write func(qa.Report, io.Writer) error) {
	if v.report == nil {
		return
	}
	rep := *v.report
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, v.win)
			return
		}
		if w == nil {
			return
		}
		werr := saveTo(w, func(out io.Writer) error { return write(rep, out) })
		if werr != nil {
			dialog.ShowError(fmt.Errorf("export %s: %w", name, werr), v.win)
		}
	}, v.win)
	d.SetFileName(name)
	d.Show()
}
