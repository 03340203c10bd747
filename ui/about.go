package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/internal/version"
)

// AboutText is what the About dialog says: the version, commit, build date,
// Go version and the versions of the main libraries, as `kvsviewer
// --version` prints them (a bug report can quote either).
func AboutText() string { return version.String() }

// ShowAbout opens the About dialog.
func (m *MainView) ShowAbout() {
	text := widget.NewLabel(AboutText())
	text.TextStyle = fyne.TextStyle{Monospace: true}
	d := dialog.NewCustom("About KVS Viewer", "Close", text, m.win)
	d.Show()
}
