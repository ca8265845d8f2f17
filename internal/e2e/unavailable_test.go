package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestStoreUnavailable stops PostgreSQL under a running gateway: an alias
// the gateway has never seen fails closed with a prompt 503 and its JSON
// error (the client's 10s timeout bounds "prompt"), one it has served
// keeps being served from the cache, and once the database is back the
// gateway serves again without a restart. It stops the package's server,
// so it runs last and never in parallel.
func TestStoreUnavailable(t *testing.T) {
	g := newGateway(t, "")
	before := g.metric(t, invalidations)
	warm := g.createAlias(t, specPasscode)
	cold := g.createAlias(t, specPasscode)
	// Each create drops its ID from the cache twice: at once on this node,
	// and when the change notice comes back. Warming before the notice
	// would have it drop the warm alias too.
	testcaddy.PollUntil(t, 10*time.Second, "the change notices of the creates", func() bool {
		return g.metric(t, invalidations) >= before+4
	})
	warmReq := get("/live/" + warm.ID + "/index.m3u8?passcode=" + q(warm.Passcode))
	coldReq := get("/live/" + cold.ID + "/index.m3u8?passcode=" + q(cold.Passcode))
	wantPassed(t, g.do(t, warmReq), warm, "viewer", "")

	pgtest.StopServer(t)
	t.Run("alias never requested", func(t *testing.T) {
		start := time.Now()
		r := g.do(t, coldReq)
		t.Logf("answered %d in %v", r.status, time.Since(start).Round(time.Millisecond))
		wantDenied(t, r, http.StatusServiceUnavailable, codeUnavailable, "")
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	})
	t.Run("cached alias", func(t *testing.T) {
		wantPassed(t, g.do(t, warmReq), warm, "viewer", "")
	})

	pgtest.StartServer(t)
	// The pool may hold connections the shutdown killed; how many requests
	// it takes to notice is the pool's business, but it must recover.
	testcaddy.PollUntil(t, 20*time.Second, "the gateway serves the alias after the database came back", func() bool {
		return g.do(t, coldReq).status == http.StatusOK
	})
	wantPassed(t, g.do(t, coldReq), cold, "viewer", "")
	wantPassed(t, g.do(t, warmReq), warm, "viewer", "")
}
