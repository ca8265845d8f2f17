package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runWS opens n WebSocket connections through a gateway, spread over the
// given URLs, and holds them. It reports how fast they were admitted and,
// given the gateway's admin address and process ID, the gateway's memory
// per held connection (Go heap and stacks after a forced collection, and
// resident memory). Given -delete, it then deletes the alias of the first
// URL through the API and reports how long the gateway took to close that
// alias's connections, and how many of the others stayed open.
func runWS(args []string) error {
	fs := flag.NewFlagSet("ws", flag.ExitOnError)
	n := fs.Int("n", 1000, "connections to hold")
	dialers := fs.Int("c", 64, "connections opened at once")
	sources := fs.Int("sources", 1, "source addresses 127.0.0.1 to 127.0.0.N")
	admin := fs.String("admin", "", "the gateway's admin address (http://host:port) to read its memory from")
	pid := fs.Int("pid", 0, "the gateway's process ID, for its resident memory")
	deleteURL := fs.String("delete", "", "API URL that deletes the first URL's alias, called once all are held")
	token := fs.String("token", "", "organization token for -delete")
	heapProfile := fs.String("heap-profile", "", "save the gateway's heap profile, taken while the connections are held, to this file")
	wait := fs.Duration("close-timeout", 10*time.Second, "how long to wait for the deleted alias's connections to close")
	fs.Parse(args)
	urls := fs.Args()
	if len(urls) == 0 {
		return fmt.Errorf("at least one ws:// URL")
	}
	before, err := memory(*admin, *pid)
	if err != nil {
		return err
	}

	conns := make([]net.Conn, *n)
	closedAt := make([]atomic.Int64, *n)
	var next, failures atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for d := 0; d < *dialers; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%*sources))}
				c, err := dialWS(urls[i%len(urls)], src)
				if err != nil {
					if failures.Add(1) <= 3 {
						fmt.Fprintln(os.Stderr, "ws:", err)
					}
					continue
				}
				conns[i] = c
				go func() {
					// The upstream sends nothing: the first byte is the
					// gateway's close frame (or the end of the
					// connection). The client then hangs up, as a
					// browser answering the close frame does, rather than
					// leaving the gateway to wait for an answer.
					var first [1]byte
					c.Read(first[:])
					closedAt[i].Store(time.Now().UnixNano())
					c.Close()
				}()
			}
		}()
	}
	wg.Wait()
	admitTime := time.Since(start)
	held := int64(*n) - failures.Load()
	fmt.Fprintf(os.Stderr, "ws: %d held, %d failed, in %v (%.0f/s)\n", held, failures.Load(), admitTime.Round(time.Millisecond), float64(held)/admitTime.Seconds())

	// Let the gateway's handshake garbage go before measuring what stays.
	time.Sleep(time.Second)
	after, err := memory(*admin, *pid)
	if err != nil {
		return err
	}
	if *heapProfile != "" {
		if err := saveURL(*admin+"/debug/pprof/heap", *heapProfile); err != nil {
			return err
		}
	}
	perConn := func(a, b int64) float64 { return float64(a-b) / float64(max(held, 1)) }
	result := fmt.Sprintf("held=%d failed=%d admit_seconds=%.3f admit_rate=%.0f heap_per_conn=%.0f stack_per_conn=%.0f rss_per_conn=%.0f",
		held, failures.Load(), admitTime.Seconds(), float64(held)/admitTime.Seconds(),
		perConn(after.heap, before.heap), perConn(after.stack, before.stack), perConn(after.rss, before.rss))

	if *deleteURL != "" {
		var mine, others int
		for i := range conns {
			if conns[i] != nil && closedAt[i].Load() == 0 {
				if i%len(urls) == 0 {
					mine++
				} else {
					others++
				}
			}
		}
		req, _ := http.NewRequest(http.MethodDelete, *deleteURL, nil)
		req.Header.Set("Authorization", *token)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("delete: status %d", resp.StatusCode)
		}
		var closed int
		var last int64
		for deadline := time.Now().Add(*wait); ; {
			closed, last = 0, 0
			for i := range conns {
				if conns[i] != nil && i%len(urls) == 0 {
					if at := closedAt[i].Load(); at != 0 {
						closed++
						last = max(last, at)
					}
				}
			}
			if closed >= mine || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		stillOthers := 0
		for i := range conns {
			if conns[i] != nil && i%len(urls) != 0 && closedAt[i].Load() == 0 {
				stillOthers++
			}
		}
		closeTime := "none"
		if closed >= mine && mine > 0 {
			closeTime = fmt.Sprintf("%.3f", time.Duration(last-t0.UnixNano()).Seconds())
		}
		fmt.Fprintf(os.Stderr, "ws: deleted alias: %d of its %d connections closed (all within %s s); %d of %d others open\n",
			closed, mine, closeTime, stillOthers, others)
		result += fmt.Sprintf(" deleted_conns=%d deleted_closed=%d close_seconds=%s others=%d others_open=%d",
			mine, closed, closeTime, others, stillOthers)
	}
	fmt.Println(result)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	return nil
}

// dialWS opens a WebSocket connection with the handshake of RFC 6455 and
// returns it once the server has switched protocols.
func dialWS(raw string, src *net.TCPAddr) (net.Conn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	c, err := (&net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}).Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	var key [16]byte
	rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, k)
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(k) {
		c.Close()
		return nil, fmt.Errorf("%s: status %d", u.Path, resp.StatusCode)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

type mem struct{ heap, stack, rss int64 }

// memory reads a Go process's live heap and stacks, after a collection
// the heap profile endpoint forces, from its admin API, and its resident
// memory from /proc.
func memory(admin string, pid int) (mem, error) {
	var m mem
	if admin != "" {
		resp, err := http.Get(admin + "/debug/pprof/heap?gc=1")
		if err != nil {
			return m, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resp, err = http.Get(admin + "/debug/vars")
		if err != nil {
			return m, err
		}
		defer resp.Body.Close()
		var vars struct {
			Memstats struct{ HeapAlloc, StackInuse int64 } `json:"memstats"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
			return m, fmt.Errorf("%s/debug/vars: %w", admin, err)
		}
		m.heap, m.stack = vars.Memstats.HeapAlloc, vars.Memstats.StackInuse
	}
	if pid != 0 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return m, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.rss = kb << 10
			}
		}
	}
	return m, nil
}

func saveURL(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
