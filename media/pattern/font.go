package pattern

// glyphW and glyphH are the size of one character of the built-in bitmap font, in font pixels.
// Every character is drawn in a cell one font pixel wider, so characters never touch.
const (
	glyphW = 5
	glyphH = 7
)

// font is a tiny 5x7 bitmap font with the characters the pattern needs: digits, ':', '.', '#',
// space and the letters of "MASTER" and "VIEWER". Each row keeps its 5 pixels in the low bits,
// the leftmost pixel in bit 4. Characters not in the table draw as blanks.
var font = buildFont()

func buildFont() [128][glyphH]uint8 {
	var f [128][glyphH]uint8
	set := func(c byte, rows ...uint8) { copy(f[c][:], rows) }
	set('0', 0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110)
	set('1', 0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110)
	set('2', 0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111)
	set('3', 0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110)
	set('4', 0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010)
	set('5', 0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110)
	set('6', 0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110)
	set('7', 0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000)
	set('8', 0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110)
	set('9', 0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100)
	set(':', 0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000)
	set('.', 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100)
	set('#', 0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010)
	set('A', 0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001)
	set('E', 0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111)
	set('I', 0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110)
	set('M', 0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001)
	set('R', 0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001)
	set('S', 0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110)
	set('T', 0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100)
	set('V', 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100)
	set('W', 0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010)
	return f
}

// drawText draws s into the luma plane y (stride stride) with its top-left corner at (x0, y0),
// each font pixel as a scale x scale square of value ink. Pixels outside clip are not drawn.
func drawText(y []byte, stride int, clipW, clipH, x0, y0, scale int, s []byte, ink byte) {
	for i, c := range s {
		if c >= 128 {
			continue
		}
		g := &font[c]
		cx := x0 + i*(glyphW+1)*scale
		for row := 0; row < glyphH; row++ {
			bits := g[row]
			if bits == 0 {
				continue
			}
			for col := 0; col < glyphW; col++ {
				if bits&(1<<(glyphW-1-col)) == 0 {
					continue
				}
				fillLuma(y, stride, clipW, clipH, cx+col*scale, y0+row*scale, scale, scale, ink)
			}
		}
	}
}

// fillLuma sets a w x h rectangle at (x0, y0) of the luma plane to v, clipped to clipW x clipH.
func fillLuma(y []byte, stride, clipW, clipH, x0, y0, w, h int, v byte) {
	x1, y1 := min(x0+w, clipW), min(y0+h, clipH)
	x0, y0 = max(x0, 0), max(y0, 0)
	if x0 >= x1 {
		return
	}
	for r := y0; r < y1; r++ {
		row := y[r*stride+x0 : r*stride+x1]
		// Doubling copies run as memmove: several times faster than a byte loop.
		row[0] = v
		for n := 1; n < len(row); n *= 2 {
			copy(row[n:], row[:n])
		}
	}
}
