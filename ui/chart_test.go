package ui

import (
	"slices"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	h := Histogram([]time.Duration{300 * time.Millisecond, 900 * time.Millisecond}, 0, 900*time.Millisecond, 3)
	if !slices.Equal(h, []int{0, 1, 1}) {
		t.Errorf("histogram %v", h)
	}
	h = Histogram([]time.Duration{250, 260, 299, 300, 100, 1000}, 250, 300, 5)
	if !slices.Equal(h, []int{2, 1, 0, 0, 3}) { // 100 clamps into the first bin, 300 and 1000 into the last
		t.Errorf("histogram with an offset %v", h)
	}
	himg := DrawHistogram([]int{0, 2, 1}, 30, 10)
	if himg.RGBAAt(5, 9) != chartBG || himg.RGBAAt(15, 0) != chartBucket || himg.RGBAAt(25, 4) != chartBG || himg.RGBAAt(25, 6) != chartBucket {
		t.Error("histogram bars")
	}
}
