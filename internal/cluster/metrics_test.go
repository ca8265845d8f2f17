package cluster

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestMetricsOnCaddy reads linkgate's metrics where operators scrape them:
// Caddy's own metrics handler, from the config's registry. Gateway
// decisions, cache and store counters and listener reconnects are there,
// no alias ID or secret is, and a config reload does not reset them.
func TestMetricsOnCaddy(t *testing.T) {
	d := newDatabase(t)
	up := newUpstream(t)
	s := testcaddy.NewSite(t, d.dsn, up)
	testcaddy.Load(t, s.Caddyfile(t))
	base := s.Base()
	_, token := d.newOrg(t)
	d.waitListeners(t, 1)
	pollUntil(t, 10*time.Second, "the listener's first flush", func() bool {
		return metric(t, base, aliasFlushes) >= 1
	})
	id := createAlias(t, base, token, "passcode")
	other := createAlias(t, base, token, "other-passcode")

	const (
		allowed    = `linkgate_auth_decisions_total{handler="alias_auth",outcome="allowed",reason="credential"}`
		badCred    = `linkgate_auth_decisions_total{handler="alias_auth",outcome="denied",reason="wrong_passcode"}`
		notFound   = `linkgate_auth_decisions_total{handler="alias_auth",outcome="denied",reason="alias_not_found"}`
		storeErrs  = `linkgate_store_errors_total`
		cacheLoads = aliasLoads
	)
	before, _ := metrics(t, base)
	for range 2 {
		want(t, get(t, base+livePath(id, "passcode")), http.StatusOK, "", "the right passcode")
	}
	want(t, get(t, base+livePath(other, "not-the-passcode")), http.StatusUnauthorized, "unauthorized", "a wrong passcode")
	want(t, get(t, base+livePath("nosuchalias0", "passcode")), http.StatusNotFound, "alias_not_found", "an unknown alias")
	warm(t, base, livePath(id, "passcode"), "", aliasHits)

	after, text := metrics(t, base)
	for _, series := range []string{allowed, badCred, notFound, aliasHits, cacheLoads, tokenHits, storeErrs, listenerReconnects,
		`linkgate_cache_invalidations_total{cache="alias"}`, aliasFlushes} {
		if _, ok := after[series]; !ok {
			t.Errorf("GET /metrics has no %s", series)
		}
	}
	for series, grew := range map[string]float64{allowed: 3, badCred: 1, notFound: 1, aliasHits: 1, cacheLoads: 2} {
		if got := after[series] - before[series]; got < grew {
			t.Errorf("%s grew by %v, want at least %v", series, got, grew)
		}
	}
	for _, name := range []string{"linkgate_auth_decisions_total", "linkgate_cache_hits_total", "linkgate_store_errors_total", "linkgate_listener_reconnects_total"} {
		if !strings.Contains(text, "# TYPE "+name+" counter") {
			t.Errorf("GET /metrics does not declare %s a counter", name)
		}
	}
	for what, secret := range map[string]string{"an alias ID": id, "another alias ID": other, "the unknown alias ID": "nosuchalias0",
		"a passcode": "other-passcode", "a wrong passcode": "not-the-passcode", "the organization token": token} {
		if strings.Contains(text, secret) {
			t.Errorf("GET /metrics contains %s", what)
		}
	}

	// A reload with the same database: a new registry, the same counters,
	// even though a changed cache option replaces the node's caches.
	// On a new port: a connection that the stopping server of the old
	// config accepted on a shared port can be reset (Caddy's, with or
	// without linkgate).
	s.Routes = `respond /config "reloaded" 200`
	s.Options = "cache_ttl 30s"
	s.Port = testcaddy.FreePort(t)
	base = s.Base()
	testcaddy.Load(t, s.Caddyfile(t))
	want(t, get(t, base+"/config"), http.StatusOK, "", "the reloaded config")
	reloaded, _ := metrics(t, base)
	for _, series := range []string{allowed, badCred, notFound, aliasHits, cacheLoads, tokenHits} {
		if reloaded[series] < after[series] {
			t.Errorf("%s was %v before the reload, %v after: reset", series, after[series], reloaded[series])
		}
	}
	want(t, get(t, base+livePath(id, "passcode")), http.StatusOK, "", "the right passcode after the reload")
	if got, _ := metrics(t, base); got[allowed] != reloaded[allowed]+1 {
		t.Errorf("%s went from %v to %v for one request after the reload, want +1", allowed, reloaded[allowed], got[allowed])
	}
}
