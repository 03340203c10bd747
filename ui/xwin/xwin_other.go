//go:build !linux || !cgo

package xwin

// Surface is a child window of an X11 window that shows BGRX pictures. On
// this platform it cannot be created: Open always returns ErrUnsupported.
type Surface struct{}

// Open always returns ErrUnsupported on this platform.
func Open(parent uintptr) (*Surface, error) { return nil, ErrUnsupported }

// SetGeometry returns ErrUnsupported on this platform.
func (s *Surface) SetGeometry(x, y, w, h int, visible bool) error { return ErrUnsupported }

// Draw returns ErrUnsupported on this platform.
func (s *Surface) Draw(fill func(pix []byte, stride, w, h int) bool) error { return ErrUnsupported }

// Redraw returns ErrUnsupported on this platform.
func (s *Surface) Redraw() error { return ErrUnsupported }

// UsesShm reports false on this platform.
func (s *Surface) UsesShm() bool { return false }

// Close does nothing on this platform.
func (s *Surface) Close() error { return nil }
