package cluster

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/goleak"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestFiftyReloads alternates two configs on one database fifty times, as
// an operator's deploys would. Every config must serve, and the node must
// come out as it went in: the same goroutine count, the same connections
// (the pool and the listener are reused, not reopened), exactly one
// listener all along; and nothing at all once Caddy stops.
func TestFiftyReloads(t *testing.T) {
	const reloads = 50
	d := newDatabase(t)
	up := newUpstream(t)
	leftovers := goleak.IgnoreCurrent()

	// The configs differ by port and by a route, so that every load is a
	// real reload: Caddy skips a config equal to the running one.
	configs := [2]testcaddy.Site{testcaddy.NewSite(t, d.dsn, up), testcaddy.NewSite(t, d.dsn, up)}
	configs[1].Routes = `respond /config "B" 200`

	var (
		token, id  string
		listener   []int
		backends   []int
		goroutines int
	)
	for i := 1; i <= reloads; i++ {
		s := configs[i%2]
		testcaddy.Load(t, s.Caddyfile(t))
		base := s.Base()
		if i == 1 {
			_, token = d.newOrg(t)
			id = createAlias(t, base, token, "passcode")
			listener = d.waitListeners(t, 1)
		}
		want(t, get(t, base+livePath(id, "passcode")), http.StatusOK, "", fmt.Sprintf("the gateway after reload %d", i))
		want(t, do(t, http.MethodGet, base+pathRetrieve+id, "Bearer "+token, ""), http.StatusOK, "", fmt.Sprintf("the API after reload %d", i))

		if pids := d.listeners(t); !slices.Equal(pids, listener) {
			t.Fatalf("reload %d: listener connections %v, want exactly one, the first (%v)", i, pids, listener)
		}
		switch i {
		case 2:
			// The baseline: both configs have run once.
			backends = d.nodeBackends(t)
			goroutines = settledGoroutines(t)
			t.Logf("after reload 2: %d goroutines, connections %v", goroutines, backends)
		case 10, 25, reloads:
			// The same backends, not merely as many: the reloads kept the
			// pool's connections instead of reconnecting.
			if pids := d.nodeBackends(t); !slices.Equal(pids, backends) {
				t.Errorf("reload %d: connections (backend PIDs) %v, after reload 2 %v", i, pids, backends)
			}
		}
	}
	// Config B runs again, as after reload 2: anything a reload left
	// behind shows as more goroutines.
	now := waitGoroutines(t, goroutines, 10*time.Second)
	t.Logf("after reload %d: %d goroutines", reloads, now)

	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, 10*time.Second, "no connection of the node left after caddy.Stop", func() bool {
		return len(d.nodeBackends(t)) == 0
	})
	up.Close()
	goleak.VerifyNone(t, leftovers)
}

// waitGoroutines waits until at most n goroutines run and returns how
// many do; if they do not come down to n in time, it fails the test with
// their stacks.
func waitGoroutines(t *testing.T, n int, timeout time.Duration) int {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		now := runtime.NumGoroutine()
		if now <= n {
			return now
		}
		select {
		case <-deadline.C:
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines %v later, want at most %d:\n%s", now, timeout, n, b.String())
		case <-tick.C:
		}
	}
}

// settledGoroutines is the goroutine count once the goroutines of the
// previous config have ended: the lowest of a few samples in a row.
func settledGoroutines(t *testing.T) int {
	t.Helper()
	n := runtime.NumGoroutine()
	for range 10 {
		time.Sleep(20 * time.Millisecond)
		n = min(n, runtime.NumGoroutine())
	}
	return n
}
