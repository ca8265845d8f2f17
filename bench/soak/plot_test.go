package main

import (
	"image"
	"image/color"
	"testing"
)

// TestLine draws lines in every direction: each must end, and ink both of
// its ends.
func TestLine(t *testing.T) {
	for _, to := range []image.Point{{90, 10}, {10, 90}, {-90, 10}, {-10, 90}, {90, -10}, {10, -90}, {-90, -10}, {-10, -90}, {0, 50}, {50, 0}, {0, 0}, {37, 23}} {
		img := image.NewRGBA(image.Rect(-100, -100, 101, 101))
		line(img, 0, 0, to.X, to.Y, series)
		for _, p := range []image.Point{{0, 0}, to} {
			if img.At(p.X, p.Y) != color.Color(series) {
				t.Errorf("line to %v: (%d, %d) not inked", to, p.X, p.Y)
			}
		}
	}
}
