package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/cache"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/pgstore"
)

// aliasStore is a migrated database as linkgate's store, with an alias
// whose passcode is "old-passcode".
func aliasStore(t *testing.T) (s *pgstore.Store, id string) {
	t.Helper()
	d := newDatabase(t)
	s = d.store(t)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	org, err := s.CreateOrg(t.Context(), "org "+t.Name())
	if err != nil {
		t.Fatalf("creating an organization: %v", err)
	}
	a, err := s.CreateAlias(t.Context(), alias.Alias{
		ID: alias.NewID(), OrgID: org.ID, Type: alias.TypeLive,
		Passcode: "old-passcode", ExpiredAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("creating an alias: %v", err)
	}
	return s, a.ID
}

// newAliasCache is a cache of aliases over load, configured as the linkgate
// app configures its own, with loads allowed to take long (the tests hold
// them on purpose).
func newAliasCache(t *testing.T, load cache.Loader[*alias.Alias]) *cache.Cache[*alias.Alias] {
	t.Helper()
	c, err := cache.New(cache.Config{LoadTimeout: time.Minute}, load, cache.Options[*alias.Alias]{
		NotFound: alias.ErrNotFound,
		Expiry:   func(a *alias.Alias) time.Time { return a.ExpiredAt },
		ValidKey: alias.ValidID,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestLoadRacingUpdate holds a load open after it has read an alias from
// PostgreSQL, commits an update of the alias meanwhile and invalidates it,
// as the node that made it or the listener would, and only then lets the
// load finish. What that load read is outdated: it must not be kept, and
// the next Get must read the new passcode.
func TestLoadRacingUpdate(t *testing.T) {
	for _, invalidation := range []string{"by a direct call", "by the listener"} {
		t.Run(invalidation, func(t *testing.T) {
			s, id := aliasStore(t)
			read := make(chan struct{})
			release := make(chan struct{})
			var loads atomic.Int64
			c := newAliasCache(t, func(ctx context.Context, key string) (*alias.Alias, error) {
				a, err := s.Alias(ctx, key)
				if loads.Add(1) == 1 {
					close(read)
					select {
					case <-release:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				if err != nil {
					return nil, err
				}
				return &a, nil
			})
			invalidated := make(chan struct{}, 1)
			if invalidation == "by the listener" {
				connected := make(chan struct{})
				var once sync.Once
				stop := pgstore.StartListener(pgstore.ListenerConfig{
					DSN: s.Pool().Config().ConnString(),
					OnNotify: func(payload string) {
						if kind, key, ok := pgstore.ParseNotification(payload); ok && kind == pgstore.KindAlias {
							c.Invalidate(key)
							if key == id {
								select {
								case invalidated <- struct{}{}:
								default:
								}
							}
						}
					},
					OnConnect: func() { once.Do(func() { close(connected) }) },
				})
				t.Cleanup(stop)
				waitFor(t, connected, "the listener connects")
			}

			type result struct {
				a   *alias.Alias
				err error
			}
			first := make(chan result, 1)
			go func() {
				a, err := c.Get(context.Background(), id)
				first <- result{a, err}
			}()
			waitFor(t, read, "the load reads the alias")

			if _, err := s.Pool().Exec(t.Context(), "UPDATE aliases SET passcode = 'new-passcode' WHERE id = $1", id); err != nil {
				t.Fatalf("updating the alias: %v", err)
			}
			if invalidation == "by a direct call" {
				c.Invalidate(id)
			} else {
				waitFor(t, invalidated, "the change notice")
			}
			close(release)
			r := <-first
			// The Get that started the load gets what the load read: it
			// asked before the update was committed.
			if r.err != nil || r.a.Passcode != "old-passcode" {
				t.Fatalf("the held Get: %+v, %v; want the alias as read, with old-passcode", r.a, r.err)
			}
			c.Wait()

			a, err := c.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if a.Passcode != "new-passcode" {
				t.Fatalf("after the raced load, Get returned passcode %q, want new-passcode: the outdated load was kept", a.Passcode)
			}
			if n := loads.Load(); n != 2 {
				t.Errorf("%d loads, want 2: the raced one, and one for the Get after it", n)
			}
			// What an unraced load reads is kept: the next Get is a hit.
			c.Wait()
			hits := c.Stats().Hits
			if a, err := c.Get(t.Context(), id); err != nil || a.Passcode != "new-passcode" {
				t.Fatalf("Get after the reload: %+v, %v", a, err)
			}
			if c.Stats().Hits != hits+1 || loads.Load() != 2 {
				t.Errorf("the Get after an unraced load was not a hit (hits %d -> %d, loads %d)", hits, c.Stats().Hits, loads.Load())
			}
		})
	}
}

// TestMissStorm sends 1000 concurrent Gets of one alias that is not cached
// to a cache over PostgreSQL slowed down by 50 ms: they must make exactly
// one store query, and all get the alias.
func TestMissStorm(t *testing.T) {
	const storm = 1000
	s, id := aliasStore(t)
	var queries atomic.Int64
	var c *cache.Cache[*alias.Alias]
	c = newAliasCache(t, func(ctx context.Context, key string) (*alias.Alias, error) {
		queries.Add(1)
		a, err := s.Alias(ctx, key)
		if err != nil {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
		// On a slow machine 1000 goroutines may take longer than 50 ms to
		// start: the query's answer is held until every Get waits for it,
		// so that what is counted is singleflight, not the scheduler.
		deadline := time.Now().Add(30 * time.Second)
		for c.Stats().Misses < storm && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return &a, nil
	})

	start := make(chan struct{})
	var ready, done sync.WaitGroup
	errs := make(chan error, storm)
	for range storm {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			a, err := c.Get(context.Background(), id)
			switch {
			case err != nil:
				errs <- err
			case a.ID != id || a.Passcode != "old-passcode":
				errs <- fmt.Errorf("got alias %s with passcode %q", a.ID, a.Passcode)
			}
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a Get of the storm: %v", err)
	}
	if n := queries.Load(); n != 1 {
		t.Errorf("%d concurrent Gets made %d store queries, want 1", storm, n)
	}
	if st := c.Stats(); st.Misses != storm || st.Loads != 1 {
		t.Errorf("stats %+v: want %d misses and 1 load", st, storm)
	}
}

// TestMissStormGateway sends 1000 concurrent requests for one alias that
// no node has seen to a Caddy in this process, while an exclusive lock on
// the aliases table holds the store's answer until every request is in:
// linkgate_cache_loads_total must grow by exactly one, PostgreSQL must see
// exactly one query waiting, and every viewer must get through.
func TestMissStormGateway(t *testing.T) {
	const storm = 1000
	d := newDatabase(t)
	up := newUpstream(t)
	s := newSite(t, d.dsn, up)
	// The held query must not time out while the requests come in.
	s.options = "query_timeout 1m"
	testcaddy.Load(t, s.caddyfile())
	base := s.base()
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

// waitFor waits until ch is ready, for at most 30 s.
func waitFor[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: did not happen within 30s", what)
	}
}
