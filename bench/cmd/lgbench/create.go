package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// runCreate has c organizers, each with its own organization's token,
// create aliases through the API as fast as they are answered, and
// reports the creates per second.
func runCreate(args []string) error {
	fs := flag.NewFlagSet("create", flag.ExitOnError)
	clients := fs.Int("c", 16, "concurrent organizers")
	duration := fs.Duration("duration", 10*time.Second, "how long")
	tokensFile := fs.String("tokens", "", "file of organization tokens, one a line; organizer i uses line i modulo their number")
	fs.Parse(args)
	if fs.NArg() != 1 || *tokensFile == "" {
		return fmt.Errorf("usage: create -tokens FILE API-BASE-URL")
	}
	tokens, err := readLines(*tokensFile)
	if err != nil || len(tokens) == 0 {
		return fmt.Errorf("tokens: %v", err)
	}
	url := fs.Arg(0) + "/organization/api/v1/alias/create"
	body := []byte(fmt.Sprintf(`{"type":"live","name":"bench","passcode":"bench-pass","expired_at":%d}`, time.Now().Add(24*time.Hour).Unix()))
	var created, errs atomic.Int64
	lats := make([][]time.Duration, *clients)
	var wg sync.WaitGroup
	deadline := time.Now().Add(*duration)
	start := time.Now()
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Authorization", tokens[c%len(tokens)])
				req.Header.Set("Content-Type", "application/json")
				t := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lats[c] = append(lats[c], time.Since(t))
				if err != nil {
					if errs.Add(1) <= 3 {
						fmt.Fprintln(os.Stderr, "create:", err)
					}
					continue
				}
				created.Add(1)
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	p := percentiles(all, 0.5, 0.99)
	fmt.Fprintf(os.Stderr, "create: %d in %v (%.0f/s), %d errors, p50 %.0fµs p99 %.0fµs\n",
		created.Load(), elapsed.Round(time.Millisecond), float64(created.Load())/elapsed.Seconds(), errs.Load(), p[0], p[1])
	fmt.Printf("created=%d errors=%d rps=%.0f p50_us=%.0f p99_us=%.0f\n",
		created.Load(), errs.Load(), float64(created.Load())/elapsed.Seconds(), p[0], p[1])
	return nil
}
