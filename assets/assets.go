// Package assets holds the resources embedded in the app: its icon.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

//go:generate go run ./genicon -o icon.png

//go:embed icon.png
var iconPNG []byte

// Icon is the app icon (512x512 PNG); FyneApp.toml points the packager at
// the same file.
var Icon fyne.Resource = fyne.NewStaticResource("icon.png", iconPNG)
