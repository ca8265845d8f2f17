package cluster

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestFrozenDatabase puts a node behind a network path to PostgreSQL that
// stops carrying bytes without closing anything, as a dead NAT entry or a
// frozen server does: unlike a stopped server, which refuses connections
// at once, this is where the bound on an uncached alias's 503 matters. The
// cached alias keeps passing, an uncached one and an API write fail with
// 503 within the bound, and the node recovers once bytes flow again.
func TestFrozenDatabase(t *testing.T) {
	d := newDatabase(t)
	up := newUpstream(t)
	proxy := newFreezer(t, d.dsn)
	s := testcaddy.NewSite(t, proxy.dsn, up)
	testcaddy.Load(t, s.Caddyfile(t))
	base := s.Base()
	_, token := d.newOrg(t)
	owner := "Bearer " + token
	idA := createAlias(t, base, token, "passcode-a")
	idB := createAlias(t, base, token, "passcode-b")
	pathA, pathB := livePath(idA, "passcode-a"), livePath(idB, "passcode-b")
	d.waitListeners(t, 1)
	pollUntil(t, 10*time.Second, "the listener's first flush", func() bool {
		return metric(t, base, aliasFlushes) >= 1
	})
	warm(t, base, pathA, "", aliasHits)

	proxy.freeze()
	for _, rq := range []struct {
		what, method, path, auth, body string
		status                         int
		code                           string
	}{
		{"an alias never requested", http.MethodGet, pathB, "", "", http.StatusServiceUnavailable, "store_unavailable"},
		{"the cached alias", http.MethodGet, pathA, "", "", http.StatusOK, ""},
		{"an update through the API", http.MethodPost, pathUpdate + idA, owner, `{"name":"frozen"}`, http.StatusServiceUnavailable, "store_unavailable"},
		{"a create through the API", http.MethodPost, pathCreate, owner, fmt.Sprintf(`{"type":"live","expired_at":%d}`, time.Now().Add(time.Hour).Unix()), http.StatusServiceUnavailable, "store_unavailable"},
	} {
		start := time.Now()
		r, err := send(t.Context(), rq.method, base+rq.path, rq.auth, rq.body)
		took := time.Since(start)
		if err != nil {
			t.Errorf("%s while the database is frozen: no answer after %v: %v", rq.what, took, err)
			continue
		}
		t.Logf("%s while the database is frozen: %d after %v", rq.what, r.status, took)
		if r.status != rq.status || (rq.code != "" && errorCode(r) != rq.code) {
			t.Errorf("%s while the database is frozen: status %d (%s), want %d %s; body: %s", rq.what, r.status, errorCode(r), rq.status, rq.code, r.body)
		}
		if took >= unavailableBound {
			t.Errorf("%s while the database is frozen: answered after %v, want less than %v", rq.what, took, unavailableBound)
		}
	}

	proxy.thaw()
	pollUntil(t, 30*time.Second, "the alias never requested opens once the database answers again", func() bool {
		return get(t, base+pathB).status == http.StatusOK
	})
	want(t, get(t, base+pathA), http.StatusOK, "", "the cached alias after the freeze")
}

// freezer is a TCP proxy in front of PostgreSQL that can stop carrying
// bytes, in both directions and for new connections, without closing any.
type freezer struct {
	dsn    string // the database's DSN through the proxy
	ln     net.Listener
	target string

	mu     sync.Mutex
	thawed chan struct{} // closed while bytes flow
	conns  []net.Conn
	closed bool
}

func newFreezer(t *testing.T, dsn string) *freezer {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: u.Host, thawed: make(chan struct{})}
	close(f.thawed)
	u.Host = ln.Addr().String()
	f.dsn = u.String()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		f.closed = true
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.thaw()
		wg.Wait()
	})
	return f
}

// track keeps c to be closed at the end; false if the proxy is closed.
func (f *freezer) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		c.Close()
		return false
	}
	f.conns = append(f.conns, c)
	return true
}

func (f *freezer) serve(client net.Conn) {
	if !f.track(client) {
		return
	}
	f.wait()
	server, err := net.Dial("tcp", f.target)
	if err != nil {
		client.Close()
		return
	}
	if !f.track(server) {
		client.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { f.pipe(server, client); done <- struct{}{} }()
	go func() { f.pipe(client, server); done <- struct{}{} }()
	<-done
	client.Close()
	server.Close()
	<-done
}

// pipe copies from src to dst, holding every chunk while frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.wait()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) wait() {
	f.mu.Lock()
	ch := f.thawed
	f.mu.Unlock()
	<-ch
}

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.thawed:
		f.thawed = make(chan struct{})
	default:
	}
}

func (f *freezer) thaw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.thawed:
	default:
		close(f.thawed)
	}
}
