// Package xwin shows 32-bit BGRX video frames in a child X11 window of an
// existing X11 window (for example a Fyne/GLFW window), using MIT-SHM when
// the X server offers it and plain XPutImage otherwise. This bypasses the
// OpenGL renderer, which is costly when it is Mesa's software rasteriser.
//
// The package only works on Linux with cgo; elsewhere Open returns
// ErrUnsupported.
//
// Xlib's error handler is process-global. The package installs its own
// handler only for the duration of each batch of requests (followed by
// XSync) and restores the previous one afterwards; errors of other
// connections (GLFW's) arriving meanwhile are passed on to that previous
// handler. Xlib's fatal IO error handler (connection to the X server lost) is
// left alone: by default it prints a message and exits the process, which
// would happen to GLFW's own connection at the same moment anyway.
package xwin

import "errors"

// ErrUnsupported reports that the surface cannot work here: no X11 display,
// no cgo/Linux, or a parent window whose visual is not 24/32-bit TrueColor
// with BGRX byte order.
var ErrUnsupported = errors.New("xwin: X11 video surface not supported")

// ErrClosed is returned by the methods of a Surface after Close.
var ErrClosed = errors.New("xwin: surface closed")
