package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/goleak"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// unavailableBound is how soon an uncached alias must fail while the
// database is down: the "default at most 2 s", plus a margin for
// the request itself on a loaded test machine.
const unavailableBound = 2*time.Second + time.Second

// TestOutageUnderLoad stops PostgreSQL under a node serving a steady load
// of viewers of one alias. The viewers must keep passing, from the cache
// (and past cache_ttl, within max_stale); an alias never requested before
// fails closed with a prompt 503; API writes answer 503. Once PostgreSQL is
// back the node recovers by itself: the other alias opens, the listener is
// back (exactly one), and a change made in SQL reaches the cache again.
// When Caddy stops, no goroutine and no connection is left. It stops the
// package's server, so it must not run in parallel with other tests.
func TestOutageUnderLoad(t *testing.T) {
	d := newDatabase(t)
	up := newUpstream(t)
	leftovers := goleak.IgnoreCurrent()
	s := testcaddy.NewSite(t, d.dsn, up)
	// A short TTL, so that the outage outlasts it: the cached alias is then
	// served stale, as in a real outage.
	s.Options = "cache_ttl 1s"
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

	viewers := startLoad(t, base+pathA, 8)
	pollUntil(t, 10*time.Second, "the load on the cached alias runs", func() bool { return viewers.ok.Load() >= 50 })
	flushes := metric(t, base, aliasFlushes)
	stale := metric(t, base, `linkgate_cache_stale_served_total{cache="alias"}`)

	pgtest.StopServer(t)
	servedBefore := viewers.ok.Load()

	start := time.Now()
	r := get(t, base+pathB)
	took := time.Since(start)
	want(t, r, http.StatusServiceUnavailable, "store_unavailable", "an alias never requested, while the database is down")
	if r.header.Get("Retry-After") == "" {
		t.Error("the gateway's 503 has no Retry-After")
	}
	t.Logf("the uncached alias got its 503 after %v", took)
	if took >= unavailableBound {
		t.Errorf("the uncached alias got its 503 after %v, want less than %v", took, unavailableBound)
	}

	write := do(t, http.MethodPost, base+pathUpdate+idA, owner, `{"name":"during the outage"}`)
	want(t, write, http.StatusServiceUnavailable, "store_unavailable", "an update through the API while the database is down")
	body := fmt.Sprintf(`{"type":"live","expired_at":%d}`, time.Now().Add(time.Hour).Unix())
	write = do(t, http.MethodPost, base+pathCreate, owner, body)
	want(t, write, http.StatusServiceUnavailable, "store_unavailable", "a create through the API while the database is down")

	pollUntil(t, 10*time.Second, "the cached alias is served stale, past cache_ttl", func() bool {
		return metric(t, base, `linkgate_cache_stale_served_total{cache="alias"}`) > stale
	})
	pollUntil(t, 10*time.Second, "the load on the cached alias passes during the outage", func() bool {
		return viewers.ok.Load()-servedBefore >= 200
	})
	viewers.check(t)

	pgtest.StartServer(t)
	pollUntil(t, 30*time.Second, "the alias never requested opens once the database is back", func() bool {
		r := get(t, base+pathB)
		if r.status != http.StatusOK && r.status != http.StatusServiceUnavailable {
			t.Fatalf("the alias never requested, while the database comes back: status %d: %s", r.status, r.body)
		}
		return r.status == http.StatusOK
	})
	viewers.halt()
	viewers.check(t)
	t.Logf("%d requests for the cached alias, all passed, %d of them during the outage", viewers.ok.Load(), viewers.ok.Load()-servedBefore)

	// Invalidation works again: the listener is back, has flushed, and a
	// change made in SQL (which only a notice tells the node about) is
	// dropped from the cache.
	pollUntil(t, 30*time.Second, "the listener flushes the cache after reconnecting", func() bool {
		return metric(t, base, aliasFlushes) > flushes
	})
	listener := d.waitListeners(t, 1)
	invalidations := metric(t, base, `linkgate_cache_invalidations_total{cache="alias"}`)
	d.exec(t, "UPDATE aliases SET passcode = 'passcode-a2' WHERE id = $1", idA)
	pollUntil(t, 5*time.Second, "the change notice reaches the cache after the outage", func() bool {
		return metric(t, base, `linkgate_cache_invalidations_total{cache="alias"}`) > invalidations
	})
	want(t, get(t, base+pathA), http.StatusUnauthorized, "unauthorized", "the old passcode after a change in SQL")
	want(t, get(t, base+livePath(idA, "passcode-a2")), http.StatusOK, "", "the new passcode after a change in SQL")
	if pids := d.listeners(t); len(pids) != 1 || pids[0] != listener[0] {
		t.Errorf("listener connections %v, then %v: want exactly one, the same", listener, pids)
	}

	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, 10*time.Second, "no connection of the node left after caddy.Stop", func() bool {
		return len(d.nodeBackends(t)) == 0
	})
	// The upstream's connections are the test's, not the node's.
	up.Close()
	// StartServer left a goroutine waiting for the new postgres process.
	goleak.VerifyNone(t, leftovers, goleak.IgnoreAnyFunction("github.com/linkgate/linkgate/internal/pgtest.startTied.func1"))
}

// load is a steady stream of GETs of one URL from several goroutines, all
// of which must get 200.
type load struct {
	ok       atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	failures []string // the first few

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func startLoad(t *testing.T, url string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				r, err := send(context.Background(), http.MethodGet, url, "", "")
				if err == nil && r.status == http.StatusOK {
					l.ok.Add(1)
					continue
				}
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.failures) < 5 {
					l.failures = append(l.failures, fmt.Sprintf("after %v: status %d, error %v, body %s", time.Since(start), r.status, err, r.body))
				}
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.halt)
	return l
}

// halt stops the load and waits for its requests to end.
func (l *load) halt() {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
	})
}

// check fails the test if any request did not get 200.
func (l *load) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d requests of the load did not get 200 (%d did); the first: %q", n, l.ok.Load(), l.failures)
	}
}
