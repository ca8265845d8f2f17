package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runHit drives a gateway with c clients, each with its own connection,
// each sending its next request as soon as the last one is answered (a
// closed loop), over the aliases listed in a file: each alias once, in
// order, with -n; or chosen at random for -duration. The URL template has
// %s where the alias ID goes.
func runHit(args []string) error {
	fs := flag.NewFlagSet("hit", flag.ExitOnError)
	clients := fs.Int("c", 32, "concurrent clients")
	n := fs.Int("n", 0, "requests in all: the first n aliases of the file, each once")
	duration := fs.Duration("duration", 0, "run this long, each request for a random alias of the file")
	idsFile := fs.String("ids", "", "file of alias IDs, one a line")
	first := fs.Int("first", 0, "use only the first this many IDs of the file (0: all)")
	sources := fs.Int("sources", 1, "source addresses 127.0.0.1 to 127.0.0.N, spread over the clients")
	expect := fs.Int("expect", http.StatusOK, "the status every answer must have")
	var hdr headers
	fs.Var(&hdr, "header", "request header Name: value (repeatable)")
	fs.Parse(args)
	if fs.NArg() != 1 || !strings.Contains(fs.Arg(0), "%s") || *idsFile == "" || (*n == 0) == (*duration == 0) {
		return fmt.Errorf("usage: hit -ids FILE (-n N | -duration D) URL-TEMPLATE-with-%%s")
	}
	ids, err := readLines(*idsFile)
	if err != nil {
		return err
	}
	if *first > 0 && *first < len(ids) {
		ids = ids[:*first]
	}
	if *n > len(ids) {
		return fmt.Errorf("-n %d but only %d IDs", *n, len(ids))
	}
	tmpl := fs.Arg(0)

	var next, errs atomic.Int64
	lats := make([][]time.Duration, *clients)
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+c%*sources))}
			client := &http.Client{Transport: &http.Transport{
				DialContext:         (&net.Dialer{LocalAddr: src}).DialContext,
				MaxIdleConnsPerHost: 1,
				DisableCompression:  true,
			}, Timeout: 30 * time.Second}
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for {
				var id string
				if *n > 0 {
					i := next.Add(1) - 1
					if i >= int64(*n) {
						return
					}
					id = ids[i]
				} else {
					if time.Now().After(deadline) {
						return
					}
					id = ids[rng.IntN(len(ids))]
				}
				req, _ := http.NewRequest(http.MethodGet, strings.Replace(tmpl, "%s", id, 1), nil)
				hdr.apply(req.Header)
				t := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != *expect {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lats[c] = append(lats[c], time.Since(t))
				if err != nil && errs.Add(1) <= 3 {
					fmt.Fprintf(os.Stderr, "hit %s: %v\n", id, err)
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	p := percentiles(all, 0.5, 0.99, 0.999)
	fmt.Fprintf(os.Stderr, "hit: %d requests in %v (%.0f/s), %d errors, p50 %.0fµs p99 %.0fµs\n",
		len(all), elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds(), errs.Load(), p[0], p[1])
	fmt.Printf("requests=%d errors=%d seconds=%.3f rps=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f\n",
		len(all), errs.Load(), elapsed.Seconds(), float64(len(all))/elapsed.Seconds(), p[0], p[1], p[2])
	return nil
}
