package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestMissStormGateway sends 1000 concurrent requests for one alias that
// no node has seen to a Caddy in this process, while an exclusive lock on
// the aliases table holds the store's answer until every request is in:
// linkgate_cache_loads_total must grow by exactly one, PostgreSQL must see
// exactly one query waiting, and every viewer must get through.
func TestMissStormGateway(t *testing.T) {
	const storm = 1000
	d := newDatabase(t)
	up := newUpstream(t)
	s := testcaddy.NewSite(t, d.dsn, up)
	// The held query must not time out while the requests come in.
	s.Options = "query_timeout 1m"
	testcaddy.Load(t, s.Caddyfile(t))
	base := s.Base()
	_, token := d.newOrg(t)
	d.waitListeners(t, 1)
	pollUntil(t, 10*time.Second, "the listener's first flush", func() bool {
		return metric(t, base, aliasFlushes) >= 1
	})
	id := createAlias(t, base, token, "passcode")
	path := base + livePath(id, "passcode")

	lock := d.connect(t)
	tx, err := lock.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), "LOCK TABLE aliases IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatalf("locking the aliases: %v", err)
	}
	m, _ := metrics(t, base)
	misses, loads := m[aliasMisses], m[aliasLoads]

	statuses := make(chan string, storm)
	var done sync.WaitGroup
	for range storm {
		done.Add(1)
		go func() {
			defer done.Done()
			r, err := send(context.Background(), http.MethodGet, path, "", "")
			switch {
			case err != nil:
				statuses <- err.Error()
			case r.status != http.StatusOK:
				statuses <- fmt.Sprintf("status %d: %s", r.status, r.body)
			}
		}()
	}
	pollUntil(t, 30*time.Second, "every request waits for the alias", func() bool {
		return metric(t, base, aliasMisses)-misses >= storm
	})
	waiting := d.pids(t, "application_name <> '"+testApplication+"' AND wait_event_type = 'Lock' AND query LIKE '%FROM aliases%'")
	if len(waiting) != 1 {
		t.Errorf("%d store queries wait for the alias, want 1 (backends %v)", len(waiting), waiting)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	done.Wait()
	close(statuses)
	failed := 0
	for s := range statuses {
		if failed++; failed <= 5 {
			t.Errorf("a request of the storm: %s", s)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, storm)
	}
	m, _ = metrics(t, base)
	if got := m[aliasLoads] - loads; got != 1 {
		t.Errorf("%s grew by %v for %d concurrent requests, want 1", aliasLoads, got, storm)
	}
	if got := m[aliasMisses] - misses; got != storm {
		t.Errorf("%s grew by %v, want %d", aliasMisses, got, storm)
	}
}
