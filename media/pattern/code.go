package pattern

import (
	"image"
	"time"
)

// The frame counter is also drawn as a machine-readable code: a strip along the top edge of the
// frame, codeStripNum/codeStripDen of its height, split into codeCells equal cells, each all
// black or all white:
//
//	cell 0, 1            guard: white, black
//	cells 2..25          the counter's low 24 bits, most significant first, white = 1
//	cells 26..29         CRC-4 (x^4+x+1) of those 24 bits, most significant first
//	cell 30, 31          guard: black, white
//
// The cells are large (1/32 of the width by 1/12 of the height), so the code survives scaling
// and lossy coding; the guards give the black and white levels and reject frames that do not
// carry the code, and the CRC rejects garbled reads.
const (
	codeStripNum = 1
	codeStripDen = 12
	codeCells    = 32
	codeBits     = 24
	crcBits      = 4
	firstBitCell = 2

	// CounterBits is how many low bits of the frame counter the block code carries;
	// ReadCounter's result wraps at 1<<CounterBits.
	CounterBits = codeBits

	lumaBlack = 16
	lumaWhite = 235
)

// crc4 returns the CRC-4/ITU (polynomial x^4+x+1, initial value 0) of the low 24 bits of v,
// fed most significant bit first.
func crc4(v uint32) uint32 {
	var crc uint32
	for i := codeBits - 1; i >= 0; i-- {
		bit := (v >> uint(i)) & 1
		top := (crc >> 3) & 1
		crc = (crc << 1) & 0xF
		if top^bit != 0 {
			crc ^= 0x3
		}
	}
	return crc
}

// codeWord returns the 32 cell values (bit 31 = cell 0), 1 = white.
func codeWord(counter uint32) uint32 {
	v := counter & (1<<codeBits - 1)
	return 0b10<<30 | v<<6 | crc4(v)<<2 | 0b01
}

// drawCode draws the code strip for value into rows [top, top+stripH) of the luma plane
// (h rows in all).
func drawCode(y []byte, stride, w, h, top, stripH int, value uint32) {
	word := codeWord(value)
	for i := range codeCells {
		v := byte(lumaBlack)
		if word&(1<<(codeCells-1-i)) != 0 {
			v = lumaWhite
		}
		x0, x1 := i*w/codeCells, (i+1)*w/codeCells
		fillLuma(y, stride, w, h, x0, top, x1-x0, stripH, v)
	}
}

// ReadCounter decodes the block code of a pattern frame: the original *image.YCbCr, or a
// decoded copy (RGBA or YCbCr, any size, scaled proportionally, after lossy coding). It returns
// the counter's low CounterBits bits, and false if the image has no readable code: guards
// missing, too little contrast, a cell neither clearly black nor white, or a CRC mismatch.
func ReadCounter(img image.Image) (uint32, bool) { return readCode(img, false) }

// ReadStamp decodes the strip along the bottom edge, coded like the counter's: the frame's
// capture time (see Stamp), or false when there is none.
func ReadStamp(img image.Image) (uint32, bool) { return readCode(img, true) }

// Stamp is what a frame captured at t carries in its bottom strip: the low CounterBits bits
// of its Unix time in milliseconds (it wraps every 4.6 hours).
func Stamp(t time.Time) uint32 { return uint32(t.UnixMilli()) & (1<<CounterBits - 1) }

// StampAge is how long before now a frame stamped stamp was captured (0 when the stamp is
// ahead of now, as when the two clocks differ): for ages under 4.6 hours.
func StampAge(stamp uint32, now time.Time) time.Duration {
	age := (Stamp(now) - stamp) & (1<<CounterBits - 1)
	if age >= 1<<(CounterBits-1) {
		return 0 // in the future: clocks apart
	}
	return time.Duration(age) * time.Millisecond
}

// readCode decodes the top strip, or the bottom one.
func readCode(img image.Image, bottom bool) (uint32, bool) {
	if p, ok := img.(interface{ YCbCrImage() *image.YCbCr }); ok {
		img = p.YCbCrImage()
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < codeCells || h < 2*codeStripDen {
		return 0, false
	}
	stripH := h * codeStripNum / codeStripDen
	top := b.Min.Y
	if bottom {
		top = b.Max.Y - stripH
	}
	// Sample the middle half of each cell, away from edges blurred by scaling and coding.
	y0, y1 := top+stripH/4, top+stripH*3/4
	var levels [codeCells]int
	for i := range codeCells {
		cx0, cx1 := i*w/codeCells, (i+1)*w/codeCells
		q := (cx1 - cx0) / 4
		levels[i] = meanLuma(img, b.Min.X+cx0+q, y0, b.Min.X+cx1-q, y1)
	}
	return decodeLevels(&levels)
}

// decodeLevels turns the cells' mean lumas into the code's value: the guards
// give white and black, every bit cell must be clearly one of them, and the
// CRC must match.
func decodeLevels(levels *[codeCells]int) (uint32, bool) {
	white := (levels[0] + levels[codeCells-1]) / 2
	black := (levels[1] + levels[codeCells-2]) / 2
	contrast := white - black
	if contrast < 60 {
		return 0, false
	}
	mid := (white + black) / 2
	margin := contrast / 4
	if levels[0] < mid+margin || levels[codeCells-1] < mid+margin || levels[1] > mid-margin || levels[codeCells-2] > mid-margin {
		return 0, false
	}
	var bits uint32
	for i := firstBitCell; i < firstBitCell+codeBits+crcBits; i++ {
		v := levels[i]
		switch {
		case v >= mid+margin:
			bits = bits<<1 | 1
		case v <= mid-margin:
			bits <<= 1
		default:
			return 0, false
		}
	}
	counter, crc := bits>>crcBits, bits&(1<<crcBits-1)
	if crc4(counter) != crc {
		return 0, false
	}
	return counter, true
}

// meanLuma returns the mean limited range luma (16 black .. 235 white) of the rectangle
// [x0,x1) x [y0,y1), which must be non-empty and inside the image.
func meanLuma(img image.Image, x0, y0, x1, y1 int) int {
	if x1 <= x0 {
		x1 = x0 + 1
	}
	if y1 <= y0 {
		y1 = y0 + 1
	}
	sum, n := 0, 0
	switch m := img.(type) {
	case *image.YCbCr:
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				sum += int(m.Y[m.YOffset(x, y)])
			}
		}
		n = (x1 - x0) * (y1 - y0)
	case *image.RGBA:
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				p := m.Pix[m.PixOffset(x, y):]
				sum += lumaOf(p[0], p[1], p[2])
			}
		}
		n = (x1 - x0) * (y1 - y0)
	default:
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				sum += lumaOf(uint8(r>>8), uint8(g>>8), uint8(b>>8))
			}
		}
		n = (x1 - x0) * (y1 - y0)
	}
	return sum / n
}
