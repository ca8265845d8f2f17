package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"time"
)

// panel is one series of the plot.
type panel struct {
	title string
	value func(row) float64
}

var panels = []panel{
	{"resident memory (MiB)", func(r row) float64 { return float64(r.rssKiB) / 1024 }},
	{"goroutines", func(r row) float64 { return float64(r.goroutines) }},
	{"open file descriptors", func(r row) float64 { return float64(r.fds) }},
	{"PostgreSQL connections", func(r row) float64 { return float64(r.pgConns) }},
}

const (
	plotWidth   = 1200
	panelHeight = 200
	marginLeft  = 110
	marginRight = 30
	marginTop   = 40 // above each panel's box: its title
	marginBelow = 50 // below the last panel: the time axis
)

var (
	ink    = color.RGBA{0x20, 0x20, 0x20, 0xff}
	frame  = color.RGBA{0xa0, 0xa0, 0xa0, 0xff}
	series = color.RGBA{0x1f, 0x5f, 0xbf, 0xff}
	reload = color.RGBA{0xf0, 0xc0, 0xc0, 0xff}
)

// plot draws each panel's series against the time since the start, with
// a light red line at every config reload, to a PNG file at path.
func plot(rows []row, path string) error {
	if len(rows) < 2 {
		return fmt.Errorf("plot: %d samples, need two", len(rows))
	}
	height := len(panels)*(panelHeight+marginTop) + marginBelow
	img := image.NewRGBA(image.Rect(0, 0, plotWidth, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	end := rows[len(rows)-1].elapsed
	x := func(d time.Duration) int {
		return marginLeft + int(float64(plotWidth-marginLeft-marginRight)*d.Seconds()/end.Seconds())
	}
	for i, p := range panels {
		top := i*(panelHeight+marginTop) + marginTop
		bottom := top + panelHeight
		lo, hi := p.value(rows[0]), p.value(rows[0])
		for _, r := range rows {
			lo, hi = min(lo, p.value(r)), max(hi, p.value(r))
		}
		// Room above and below, and never a zero range.
		pad := max((hi-lo)*0.1, 1)
		lo, hi = max(lo-pad, 0), hi+pad
		y := func(v float64) int { return bottom - int(float64(panelHeight)*(v-lo)/(hi-lo)) }

		for j := 1; j < len(rows); j++ {
			if rows[j].reloads != rows[j-1].reloads {
				vline(img, x(rows[j].elapsed), top, bottom, reload)
			}
		}
		rect(img, marginLeft, top, plotWidth-marginRight, bottom, frame)
		for j := 1; j < len(rows); j++ {
			line(img, x(rows[j-1].elapsed), y(p.value(rows[j-1])), x(rows[j].elapsed), y(p.value(rows[j])), series)
		}
		drawText(img, marginLeft, top-24, p.title, ink)
		for _, v := range []float64{lo, (lo + hi) / 2, hi} {
			label := fmt.Sprintf("%.0f", v)
			drawText(img, marginLeft-10-textWidth(label), y(v)-7, label, ink)
		}
	}
	axis := len(panels)*(panelHeight+marginTop) + 10
	for k := range 5 {
		d := end * time.Duration(k) / 4
		label := fmt.Sprintf("%g", math.Round(d.Minutes()*100)/100)
		drawText(img, x(d)-textWidth(label)/2, axis, label, ink)
	}
	drawText(img, plotWidth/2-textWidth("minutes")/2, axis+22, "minutes", ink)

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

func rect(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y0, c)
		img.Set(x, y1, c)
	}
	vline(img, x0, y0, y1, c)
	vline(img, x1, y0, y1, c)
}

// line draws a two-pixel-wide line from (x0, y0) to (x1, y1) (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// summarize prints each series' first value, its value a minute in (once
// the load has warmed the node up), its lowest, highest and last, and what
// the load did.
func summarize(w io.Writer, rows []row, l *load) {
	last := rows[len(rows)-1]
	warm := last
	for _, r := range rows {
		if r.elapsed >= time.Minute {
			warm = r
			break
		}
	}
	fmt.Fprintf(w, "soak: %v, %d samples, %d reloads\n", last.elapsed.Round(time.Second), len(rows), last.reloads)
	fmt.Fprintf(w, "%-24s %10s %10s %10s %10s %10s\n", "", "first", "at 1 min", "min", "max", "last")
	for _, p := range panels {
		lo, hi := p.value(rows[0]), p.value(rows[0])
		for _, r := range rows {
			lo, hi = min(lo, p.value(r)), max(hi, p.value(r))
		}
		fmt.Fprintf(w, "%-24s %10.1f %10.1f %10.1f %10.1f %10.1f\n", p.title, p.value(rows[0]), p.value(warm), lo, hi, p.value(last))
	}
	fmt.Fprintf(w, "requests %d (%.0f/s): %d without an answer, %d with a wrong one; aliases created %d, updated %d, deleted %d; users revoked %d\n",
		last.requests, float64(last.requests)/last.elapsed.Seconds(), last.resets, last.errors,
		l.creates.Load(), l.updates.Load(), l.deletes.Load(), l.revocations.Load())
}
