// Package startup turns a window that cannot open into a message a user can
// read: on stderr, and as a desktop notification where notify-send exists
// (a program started from a menu has no terminal to show stderr).
//
// The window can fail in three ways before anything is drawn, and none of
// them says so in words by itself:
//   - DISPLAY is not set: GLFW cannot initialise and Fyne panics with
//     "NotInitialized: The GLFW library is not initialized".
//   - DISPLAY names a display that cannot be opened: the same panic.
//   - The display has no OpenGL (no GLX, or too old a GL): Fyne logs
//     "window creation error" through the standard log package (which the app
//     shows only with -v) and goes on running with no window.
//
// CheckDisplay catches the first before the window is created, Watch the
// others from what GLFW and Fyne log, and Explain turns a recovered GLFW panic
// into the same words. Report says it.
package startup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Headless is the advice for a machine with no usable display.
const Headless = "use `kvsviewer call --demo` for a headless call"

// WindowError says why the window cannot open. Its Error is the sentence
// Report prints after "kvsviewer: ".
type WindowError struct {
	// Reason is what is missing, e.g. "no display (DISPLAY is not set)".
	Reason string
	// Advice is what to do, e.g. "Run it from a desktop session, or use ...".
	Advice string
	// Cause is GLFW's own words, when they came from GLFW.
	Cause string
}

func (e *WindowError) Error() string {
	return "cannot open a window: " + e.Reason + ". " + e.Advice + "."
}

// Errors for the ways the window fails; each Reason names the display.
func errNoDisplay() *WindowError {
	return &WindowError{
		Reason: "no display (DISPLAY is not set)",
		Advice: "Run it from a desktop session, or " + Headless,
	}
}

func errWaylandOnly() *WindowError {
	return &WindowError{
		Reason: "no X display (DISPLAY is not set; this build draws through X11 and WAYLAND_DISPLAY alone is not enough)",
		Advice: "Enable Xwayland in your desktop session, or " + Headless,
	}
}

func errCannotOpen(display, cause string) *WindowError {
	return &WindowError{
		Reason: fmt.Sprintf("the display %s cannot be opened (is the X server running, and may this user connect to it?)", display),
		Advice: "Run it from a desktop session, or " + Headless,
		Cause:  cause,
	}
}

func errNoOpenGL(display, cause string) *WindowError {
	detail := cause
	if _, after, ok := strings.Cut(cause, ": "); ok && strings.Contains(cause, "Unavailable") {
		detail = after // "APIUnavailable: GLX: GLX extension not found" -> "GLX: GLX extension not found"
	}
	return &WindowError{
		Reason: fmt.Sprintf("no OpenGL on the display %s (%s)", display, detail),
		Advice: "Install an OpenGL driver (on Debian: libgl1-mesa-dri), or " + Headless,
		Cause:  cause,
	}
}

// CheckDisplay returns a *WindowError when there is no X display to open the
// window on (DISPLAY unset or empty), else nil. getenv is os.Getenv outside
// tests. It cannot tell whether the display works: Watch and Explain do.
func CheckDisplay(getenv func(string) string) error {
	if getenv("DISPLAY") != "" {
		return nil
	}
	if getenv("WAYLAND_DISPLAY") != "" {
		return errWaylandOnly()
	}
	return errNoDisplay()
}

// Explain turns what went wrong while the window was being created (an error,
// or a value recovered from a panic in Fyne or GLFW) into a *WindowError, or
// returns nil when v does not look like a display or OpenGL failure.
func Explain(v any, getenv func(string) string) error {
	if v == nil {
		return nil
	}
	var we *WindowError
	if err, ok := v.(error); ok && errors.As(err, &we) {
		return we
	}
	text := fmt.Sprint(v)
	display := getenv("DISPLAY")
	switch {
	case strings.Contains(text, "DISPLAY environment variable is missing"):
		return CheckDisplay(getenv)
	case strings.Contains(text, "Failed to open display"):
		return errCannotOpen(display, text)
	case strings.Contains(text, "GLX") || strings.Contains(text, "OpenGL") ||
		strings.Contains(text, "APIUnavailable") || strings.Contains(text, "VersionUnavailable"):
		return errNoOpenGL(display, text)
	case strings.Contains(text, "GLFW library is not initialized"):
		// GLFW could not start and said why earlier (Watch reads that); with
		// nothing better, the display is the usual reason.
		if err := CheckDisplay(getenv); err != nil {
			return err
		}
		return errCannotOpen(display, text)
	}
	return nil
}

// Reporter says a start-up failure: on Stderr, and through Notify.
type Reporter struct {
	// Stderr gets "kvsviewer: <the error>" and a newline.
	Stderr io.Writer
	// Notify shows a desktop notification; nil for none. NotifySend is the
	// usual one.
	Notify func(title, body string) error
}

// DefaultReporter writes to os.Stderr and notifies with notify-send.
var DefaultReporter = Reporter{Stderr: os.Stderr, Notify: NotifySend}

// Report says err with DefaultReporter.
func Report(err error) { DefaultReporter.Report(err) }

// Report writes err on r.Stderr and shows it as a notification. A failing
// notification is ignored: the message is on stderr anyway.
func (r Reporter) Report(err error) {
	if err == nil {
		return
	}
	if r.Stderr != nil {
		_, _ = fmt.Fprintf(r.Stderr, "kvsviewer: %s\n", err)
	}
	if r.Notify != nil {
		_ = r.Notify("KVS Viewer cannot start", err.Error())
	}
}

// NotifySend shows a desktop notification with notify-send (package
// libnotify-bin), when it is installed; it gives up after 3 seconds (no
// notification server answering).
func NotifySend(title, body string) error {
	path, err := exec.LookPath("notify-send")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, path, "--app-name=KVS Viewer", "--icon=io.github.kvsviewer",
		"--urgency=critical", title, body).Run()
}

// Watch returns a writer for the standard log package's output (where Fyne
// and GLFW log) that passes everything on to next and calls fail, once, when
// what is logged says the window cannot open:
//   - GLFW's "X11: The DISPLAY environment variable is missing" and
//     "X11: Failed to open display ...", logged just before Fyne panics;
//   - Fyne's "window creation error" or "failed to initialise GLFW" with the
//     "Cause:" line after it (no GLX, or too old an OpenGL).
//
// fail runs in the goroutine that logged, which is Fyne's main thread: it
// should report and end the process (Report, then os.Exit(1)), because Fyne
// either panics right after or goes on with no window.
func Watch(next io.Writer, getenv func(string) string, fail func(error)) io.Writer {
	return &watcher{next: next, getenv: getenv, fail: fail}
}

type watcher struct {
	next   io.Writer
	getenv func(string) string
	fail   func(error)
	// fyneFailed is set after Fyne's "window creation error" line, whose cause
	// comes in the next write.
	fyneFailed bool
	done       bool
}

// Write is called by the log package with one whole message at a time and
// under the log package's lock, so the watcher needs no lock of its own.
func (w *watcher) Write(p []byte) (int, error) {
	n, err := w.next.Write(p)
	if !w.done {
		if failure := w.scan(string(p)); failure != nil {
			w.done = true
			w.fail(failure)
		}
	}
	return n, err
}

// scan returns the failure a log message reveals, if any.
func (w *watcher) scan(msg string) error {
	switch {
	case strings.Contains(msg, "DISPLAY environment variable is missing"),
		strings.Contains(msg, "Failed to open display"):
		return Explain(msg, w.getenv)
	case strings.Contains(msg, "Fyne error:") &&
		(strings.Contains(msg, "window creation error") || strings.Contains(msg, "failed to initialise GLFW")):
		w.fyneFailed = true
	case w.fyneFailed && strings.Contains(msg, "Cause:"):
		_, cause, _ := strings.Cut(msg, "Cause:")
		cause = strings.TrimSpace(cause)
		if err := Explain(cause, w.getenv); err != nil {
			return err
		}
		return &WindowError{Reason: cause, Advice: "Run it from a desktop session, or " + Headless, Cause: cause}
	}
	return nil
}
