package ui

import (
	"errors"
	"io"

	"fyne.io/fyne/v2"

	"github.com/kvsviewer/kvsviewer/internal/reportfile"
)

// saveTo writes a file the user chose in a save dialog. A local file is
// written atomically (a temporary file, synced, renamed over it), so a
// failed write (a full disk) never leaves half a report behind. (Fyne's
// dialog has already created, or emptied, the file by then.)
func saveTo(w fyne.URIWriteCloser, write func(io.Writer) error) error {
	if uri := w.URI(); uri != nil && uri.Scheme() == "file" {
		if err := w.Close(); err != nil {
			return err
		}
		return reportfile.Write(uri.Path(), write)
	}
	return errors.Join(write(w), w.Close())
}
