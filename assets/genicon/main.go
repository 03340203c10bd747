// Command genicon draws the app icon, assets/icon.png: a video camera on a
// blue rounded square with a green "live" dot. Run it with `go generate ./assets`.
package main

import (
	"flag"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const size = 512

func main() {
	out := flag.String("o", "icon.png", "output file")
	flag.Parse()
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	top := color.NRGBA{R: 0x2b, G: 0x7c, B: 0xf0, A: 0xff}
	bottom := color.NRGBA{R: 0x12, G: 0x3f, B: 0x9c, A: 0xff}
	white := color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	green := color.NRGBA{R: 0x34, G: 0xd0, B: 0x6a, A: 0xff}
	for y := range size {
		for x := range size {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			// Background: rounded square with a vertical gradient.
			a := coverage(roundRect(fx, fy, 16, 16, 496, 496, 96))
			if a == 0 {
				continue
			}
			c := mix(top, bottom, fy/size)
			// Camera body and lens hood.
			c = over(c, white, coverage(roundRect(fx, fy, 96, 168, 336, 344, 36)))
			c = over(c, white, coverage(triangle(fx, fy)))
			// Lens: a blue ring inside the body.
			lens := math.Hypot(fx-216, fy-256)
			c = over(c, mix(top, bottom, 0.5), coverage(lens-52))
			c = over(c, white, coverage(lens-30))
			// Live dot.
			c = over(c, green, coverage(math.Hypot(fx-392, fy-132)-34))
			c.A = uint8(float64(c.A) * a)
			img.SetNRGBA(x, y, c)
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// roundRect is the signed distance from (x, y) to a rounded rectangle.
func roundRect(x, y, x0, y0, x1, y1, r float64) float64 {
	cx, cy := (x0+x1)/2, (y0+y1)/2
	hx, hy := (x1-x0)/2-r, (y1-y0)/2-r
	dx, dy := math.Abs(x-cx)-hx, math.Abs(y-cy)-hy
	return math.Hypot(math.Max(dx, 0), math.Max(dy, 0)) + math.Min(math.Max(dx, dy), 0) - r
}

// triangle is the signed distance (approximately) to the lens hood, a
// triangle pointing left with its tip at (330, 256).
func triangle(x, y float64) float64 {
	// Inside when x in [330, 424] and |y-256| <= (x-330)*0.9.
	d1 := 330 - x
	d2 := x - 424
	d3 := (math.Abs(y-256) - (x-330)*0.9) / math.Hypot(1, 0.9)
	return math.Max(math.Max(d1, d2), d3)
}

// coverage turns a signed distance into an anti-aliased alpha.
func coverage(d float64) float64 { return math.Min(math.Max(0.5-d, 0), 1) }

func mix(a, b color.NRGBA, t float64) color.NRGBA {
	l := func(p, q uint8) uint8 { return uint8(float64(p)*(1-t) + float64(q)*t) }
	return color.NRGBA{R: l(a.R, b.R), G: l(a.G, b.G), B: l(a.B, b.B), A: 0xff}
}

func over(dst, src color.NRGBA, a float64) color.NRGBA {
	if a <= 0 {
		return dst
	}
	c := mix(dst, src, a)
	c.A = dst.A
	return c
}
