// Package ui is the desktop window (Fyne): the call view with its badge,
// stats and video, the settings form, the timeline, the log and QA tabs. It
// talks to call/ only through the controller's API and events.
//
// window.go composes the window from three hosts, each in a file of its own:
// the interactive call (callhost.go), the demo (demohost.go) and a QA run
// (qarun.go). On X11 the video is drawn into child windows (native.go,
// ui/xwin) instead of through Fyne's OpenGL canvas.
package ui
