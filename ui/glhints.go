package ui

import "github.com/go-gl/glfw/v3.3/glfw"

// skipDepthBuffer asks for window framebuffers without depth and stencil
// buffers, which Fyne's painter never tests against but clears on every
// repaint: with a software renderer (Mesa llvmpipe, no GPU) that masked
// clear of the whole window is a few percent of a core at 30 fps. Call it on
// the main goroutine after the app's first window was built (GLFW is
// initialised then) and before it is shown.
func skipDepthBuffer() {
	glfw.WindowHint(glfw.DepthBits, 0)
	glfw.WindowHint(glfw.StencilBits, 0)
}
