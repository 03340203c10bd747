// Package xwin shows 32-bit BGRX video frames in a child X11 window of an
// existing X11 window (for example a Fyne/GLFW window), using MIT-SHM when
// the X server offers it and plain XPutImage otherwise. This bypasses the
// OpenGL renderer, which is costly when it is Mesa's software rasteriser.
//
// The package only works on Linux with cgo; elsewhere Open returns
// ErrUnsupported.
//
// X errors: every Surface has its own Display connection, and its errors
// are caught on that connection alone: a wire-to-error hook (Xlib's
// XESetWireToError, set for every error code on the Surface's Display)
// records them for the call that caused them, which reports them as a Go
// error after an XSync, and keeps them from the process-wide handler. The
// package never calls XSetErrorHandler: the process-wide handler stays
// whatever GLFW or the application installs, errors of all other
// connections (GLFW's) reach it exactly as before, and when GLFW swaps it
// (around its own requests, on the main thread) or anyone installs Xlib's
// default one (which exits on any error), the surfaces are not affected:
// their errors never get there. Swapping the handler around each batch of
// requests, as this package once did, raced with GLFW's swaps and could
// leave a handler installed that exits the process or calls itself.
//
// Xlib's fatal IO error handler (connection to the X server lost) is left
// alone: by default it prints a message and exits the process, which would
// happen to GLFW's own connection at the same moment anyway.
package xwin

import "errors"

// ErrUnsupported reports that the surface cannot work here: no X11 display,
// no cgo/Linux, or a parent window whose visual is not 24/32-bit TrueColor
// with BGRX byte order.
var ErrUnsupported = errors.New("xwin: X11 video surface not supported")

// ErrClosed is returned by the methods of a Surface after Close.
var ErrClosed = errors.New("xwin: surface closed")
