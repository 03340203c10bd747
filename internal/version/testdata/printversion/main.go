// Command printversion prints version.String(). The version tests build it:
// a test binary's build information lists no modules, a built program's does,
// and this one links the modules the version reports (as kvsviewer does).
package main

import (
	"fmt"

	_ "fyne.io/fyne/v2"
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/pion/mediadevices"
	_ "github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/internal/version"
)

func main() {
	fmt.Print(version.String())
}
