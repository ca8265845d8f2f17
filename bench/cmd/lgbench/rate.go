package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// runRate sends requests at a constant rate, whatever the answers' speed
// (an open loop), and reports latency percentiles. Each request's latency
// counts from the moment it was due, not from when it was sent, so a
// stalled server shows in the tail instead of slowing the generator down
// (coordinated omission).
func runRate(args []string) error {
	fs := flag.NewFlagSet("rate", flag.ExitOnError)
	rate := fs.Int("rate", 1000, "requests per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to measure")
	warmup := fs.Duration("warmup", time.Second, "how long to send at the rate before measuring")
	maxConns := fs.Int("max-conns", 512, "connections at most")
	var hdr headers
	fs.Var(&hdr, "header", "request header Name: value (repeatable)")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("one URL, please")
	}
	url := fs.Arg(0)
	client := &http.Client{Transport: &http.Transport{
		MaxConnsPerHost:     *maxConns,
		MaxIdleConnsPerHost: *maxConns,
		DisableCompression:  true,
	}, Timeout: 10 * time.Second}

	interval := time.Second / time.Duration(*rate)
	total := int((*warmup + *duration) / interval)
	skip := int(*warmup / interval)
	lat := make([]time.Duration, total)
	failed := make([]bool, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			hdr.apply(req.Header)
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			lat[i] = time.Since(due)
			failed[i] = err != nil
		}(i, due)
	}
	sent := time.Since(start)
	wg.Wait()
	var errs int
	measured := lat[skip:]
	for _, f := range failed[skip:] {
		if f {
			errs++
		}
	}
	p := percentiles(measured, 0.5, 0.99, 0.999, 1)
	fmt.Fprintf(os.Stderr, "rate %d/s for %v (sent in %v): p50 %.0fµs p99 %.0fµs p99.9 %.0fµs max %.0fµs, %d errors\n",
		*rate, *duration, sent.Round(time.Millisecond), p[0], p[1], p[2], p[3], errs)
	fmt.Printf("requests=%d errors=%d p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f\n",
		len(measured), errs, p[0], p[1], p[2], p[3])
	return nil
}
