package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runRate sends requests at a constant rate, whatever the answers' speed
// (an open loop), and reports latency percentiles. Each request's latency
// counts from the moment it was due, not from when it was sent, so a
// stalled server shows in the tail instead of slowing the generator down
// (coordinated omission).
//
// The generator shares a core with the upstream, so it must cost far less
// per request than the gateway it measures: it speaks HTTP/1.1 itself over
// kept-alive connections, with the request written once, instead of
// net/http's client, whose cost per request at half of the gateway's
// maximum rate would saturate that core and measure the generator.
func runRate(args []string) error {
	fs := flag.NewFlagSet("rate", flag.ExitOnError)
	rate := fs.Int("rate", 1000, "requests per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to measure")
	warmup := fs.Duration("warmup", time.Second, "how long to send at the rate before measuring")
	conns := fs.Int("conns", 256, "kept-alive connections: requests due while all are busy wait, and their wait counts")
	var hdr headers
	fs.Var(&hdr, "header", "request header Name: value (repeatable)")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("one URL, please")
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("an http:// URL, please: %v", err)
	}
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	for _, h := range hdr {
		name, value, _ := strings.Cut(h, ":")
		fmt.Fprintf(&req, "%s: %s\r\n", strings.TrimSpace(name), strings.TrimSpace(value))
	}
	req.WriteString("\r\n")
	request := []byte(req.String())

	interval := time.Second / time.Duration(*rate)
	total := int((*warmup + *duration) / interval)
	skip := int(*warmup / interval)
	lat := make([]time.Duration, total)
	failed := make([]bool, total)
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, total)
	var wg sync.WaitGroup
	for range *conns {
		wg.Go(func() {
			var c net.Conn
			var br *bufio.Reader
			for j := range jobs {
				err := error(nil)
				if c == nil {
					if c, err = net.DialTimeout("tcp", u.Host, 10*time.Second); err == nil {
						br = bufio.NewReaderSize(c, 64<<10)
					}
				}
				if err == nil {
					c.SetDeadline(time.Now().Add(10 * time.Second))
					if _, err = c.Write(request); err == nil {
						err = readResponse(br)
					}
				}
				if err != nil && c != nil {
					c.Close()
					c = nil
				}
				lat[j.i] = time.Since(j.due)
				failed[j.i] = err != nil
			}
			if c != nil {
				c.Close()
			}
		})
	}
	start := time.Now()
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		jobs <- job{i, due}
	}
	sent := time.Since(start)
	close(jobs)
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

// readResponse reads one HTTP/1.1 response and discards its body: an
// error unless its status is 200 and the connection stays usable.
func readResponse(br *bufio.Reader) error {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return err
	}
	if len(line) < 12 || !strings.HasPrefix(line, "HTTP/1.") {
		return fmt.Errorf("not an HTTP response: %q", line)
	}
	status := line[9:12]
	length, chunked, closing := int64(-1), false, false
	for {
		h, err := tp.ReadLine()
		if err != nil {
			return err
		}
		if h == "" {
			break
		}
		name, value, _ := strings.Cut(h, ":")
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Content-Length"):
			if length, err = strconv.ParseInt(value, 10, 64); err != nil {
				return err
			}
		case strings.EqualFold(name, "Transfer-Encoding"):
			chunked = strings.EqualFold(value, "chunked")
		case strings.EqualFold(name, "Connection"):
			closing = strings.EqualFold(value, "close")
		}
	}
	switch {
	case chunked:
		for {
			line, err := tp.ReadLine()
			if err != nil {
				return err
			}
			size, _, _ := strings.Cut(line, ";")
			n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
			if err != nil {
				return err
			}
			if _, err := br.Discard(int(n) + 2); err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := br.Discard(int(length)); err != nil {
			return err
		}
	default:
		return errors.New("a response without a length")
	}
	if status != "200" {
		return fmt.Errorf("status %s", status)
	}
	if closing {
		return errors.New("the server closed the connection")
	}
	return nil
}
