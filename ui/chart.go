package ui

import (
	"image"
	"image/color"
	"image/draw"
	"time"
)

// ChartPoint is one cycle in the TTFF chart.
type ChartPoint struct {
	TTFF   time.Duration // time to first frame; 0 when the cycle failed
	IDWait time.Duration // time waited for a ClientId before it (not part of TTFF)
	OK     bool
}

var (
	chartBG     = color.RGBA{R: 0x20, G: 0x22, B: 0x26, A: 0xff}
	chartGrid   = color.RGBA{R: 0x44, G: 0x47, B: 0x4d, A: 0xff}
	chartOK     = color.RGBA{R: 0x3d, G: 0xa8, B: 0x5c, A: 0xff}
	chartFail   = color.RGBA{R: 0xe0, G: 0x40, B: 0x40, A: 0xff}
	chartRetry  = color.RGBA{R: 0xe0, G: 0x9a, B: 0x20, A: 0xff}
	chartBucket = color.RGBA{R: 0x4a, G: 0x8c, B: 0xe8, A: 0xff}
	chartWait   = color.RGBA{R: 0x90, G: 0x93, B: 0x99, A: 0xff}
)

// chartScale returns the top of the value axis: the largest value rounded
// up to a whole 100 ms (at least 100 ms).
func chartScale(values []time.Duration) time.Duration {
	var top time.Duration
	for _, v := range values {
		top = max(top, v)
	}
	step := 100 * time.Millisecond
	return max(step, (top+step-1)/step*step)
}

// DrawTTFFChart draws one bar per cycle, its height the cycle's time to
// first frame on a scale from 0 to top, into a w x h image. Failed cycles
// are full-height red bars; recovered ones (needing a retry) are amber. A
// wait for a ClientId is a grey part stacked on top (it is not part of
// the time to first frame).
func DrawTTFFChart(points []ChartPoint, recovered []bool, top time.Duration, w, h int) *image.RGBA {
	w, h = max(w, 1), max(h, 1)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{chartBG}, image.Point{}, draw.Src)
	for i := 1; i < 4; i++ { // grid at quarters
		y := h - h*i/4
		draw.Draw(img, image.Rect(0, y, w, y+1), &image.Uniform{chartGrid}, image.Point{}, draw.Src)
	}
	if len(points) == 0 || top <= 0 {
		return img
	}
	n := len(points)
	for i, p := range points {
		x0, x1 := i*w/n, (i+1)*w/n
		if x1-x0 > 2 {
			x1-- // a gap between wide bars
		}
		x1 = max(x1, x0+1)
		c := chartOK
		height := int(float64(h) * float64(p.TTFF) / float64(top))
		switch {
		case !p.OK:
			c, height = chartFail, h
		case i < len(recovered) && recovered[i]:
			c = chartRetry
		}
		height = min(max(height, 1), h)
		draw.Draw(img, image.Rect(x0, h-height, x1, h), &image.Uniform{c}, image.Point{}, draw.Src)
		if wait := int(float64(h) * float64(p.IDWait) / float64(top)); p.OK && wait > 0 {
			draw.Draw(img, image.Rect(x0, max(h-height-wait, 0), x1, h-height), &image.Uniform{chartWait}, image.Point{}, draw.Src)
		}
	}
	return img
}

// Histogram counts values into bins equal buckets from lo to hi; values
// outside go into the first or last bucket.
func Histogram(values []time.Duration, lo, hi time.Duration, bins int) []int {
	if bins < 1 {
		bins = 1
	}
	counts := make([]int, bins)
	if hi <= lo {
		return counts
	}
	for _, v := range values {
		b := int(int64(v-lo) * int64(bins) / int64(hi-lo))
		counts[min(max(b, 0), bins-1)]++
	}
	return counts
}

// DrawHistogram draws the bucket counts as bars into a w x h image.
func DrawHistogram(counts []int, w, h int) *image.RGBA {
	w, h = max(w, 1), max(h, 1)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{chartBG}, image.Point{}, draw.Src)
	peak := 0
	for _, c := range counts {
		peak = max(peak, c)
	}
	if peak == 0 {
		return img
	}
	n := len(counts)
	for i, c := range counts {
		if c == 0 {
			continue
		}
		x0, x1 := i*w/n, (i+1)*w/n
		if x1-x0 > 2 {
			x1--
		}
		x1 = max(x1, x0+1)
		height := min(max(h*c/peak, 1), h)
		draw.Draw(img, image.Rect(x0, h-height, x1, h), &image.Uniform{chartBucket}, image.Point{}, draw.Src)
	}
	return img
}
