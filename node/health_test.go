package node_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/node"
	"github.com/linkgate/linkgate/store/pgstore"
)

// TestReadiness is the readiness rule as the README states it, case by
// case.
func TestReadiness(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	up := node.Feed{Kind: node.FeedListen, Connected: true}
	down := node.Feed{Kind: node.FeedListen}
	for _, tc := range []struct {
		name           string
		health         node.Health
		pending        int
		maxStale       time.Duration
		status, reason string
	}{
		{"all well", node.Health{StoreReachable: true, Feed: up, Aliases: 3}, 0, 5 * time.Minute, "ok", ""},
		{"all well, cache cold", node.Health{StoreReachable: true, Feed: up}, 0, 5 * time.Minute, "ok", ""},
		{"migrations missing", node.Health{StoreReachable: true, Feed: up, Aliases: 5}, 1, 5 * time.Minute, "unavailable", "migrations_pending"},
		{"feed down", node.Health{StoreReachable: true, Feed: down}, 0, 5 * time.Minute, "degraded", "feed_disconnected"},
		{"store down, cache warm, within max_stale",
			node.Health{Feed: down, Aliases: 1, LastContact: now.Add(-5 * time.Minute)}, 0, 5 * time.Minute, "degraded", "store_unreachable"},
		{"store down, cache warm, past max_stale",
			node.Health{Feed: down, Aliases: 1, LastContact: now.Add(-5*time.Minute - time.Second)}, 0, 5 * time.Minute, "unavailable", "store_unreachable"},
		{"store down, cache cold",
			node.Health{Feed: up, LastContact: now.Add(-time.Second)}, 0, 5 * time.Minute, "unavailable", "store_unreachable"},
		{"store down, cache warm, max_stale off",
			node.Health{Feed: up, Aliases: 1, LastContact: now.Add(-time.Second)}, 0, 0, "unavailable", "store_unreachable"},
		{"store never reached", node.Health{Aliases: 1}, 0, 5 * time.Minute, "unavailable", "store_unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, reason := node.Readiness(tc.health, tc.pending, tc.maxStale, now)
			if status != tc.status || reason != tc.reason {
				t.Errorf("Readiness = %s, %q; want %s, %q", status, reason, tc.status, tc.reason)
			}
		})
	}
}

// TestHealthOfAStartedNode: a started node on either database is ok, its
// feed connected, every migration applied, and its caches count what it
// read.
func TestHealthOfAStartedNode(t *testing.T) {
	for name, db := range databases {
		t.Run(name, func(t *testing.T) {
			n, a := started(t, db(t))
			testcaddy.PollUntil(t, 5*time.Second, "the change feed connects", func() bool { return n.Feed().Connected })
			// The change notice of the alias's creation may come after a
			// first read and drop it.
			testcaddy.PollUntil(t, 5*time.Second, "the alias is cached", func() bool {
				cachedPasscode(t, n, a.ID)
				aliases, _ := n.CacheSizes()
				return aliases.Entries == 1
			})
			s := n.Status()
			if s.Status != node.HealthOK || s.Reason != "" || !s.StoreReachable || s.StoreError != "" {
				t.Errorf("status %s %q, store reachable %v (%q); want ok", s.Status, s.Reason, s.StoreReachable, s.StoreError)
			}
			if want := map[string]string{"postgres": node.FeedListen, "sqlite": node.FeedPoll}[name]; s.Feed.Kind != want {
				t.Errorf("feed kind %q, want %q", s.Feed.Kind, want)
			}
			if s.Feed.Since.IsZero() || s.LastContact.IsZero() || time.Since(s.LastContact) > time.Minute {
				t.Errorf("feed connected since %v, last contact %v: want both set, the contact recent", s.Feed.Since, s.LastContact)
			}
			if len(s.Applied) == 0 || len(s.Pending) != 0 {
				t.Errorf("migrations applied %v, pending %v; want some and none", s.Applied, s.Pending)
			}
			if s.AliasCache.Entries != 1 || s.Aliases != 1 || s.AliasCache.Loads == 0 {
				t.Errorf("alias cache of %d entries (health says %d) after %d loads; want the one alias read", s.AliasCache.Entries, s.Aliases, s.AliasCache.Loads)
			}
			n.Flush()
			if aliases, tokens := n.CacheSizes(); aliases.Entries != 0 || tokens.Entries != 0 {
				t.Errorf("after a flush: %d aliases, %d tokens cached; want none", aliases.Entries, tokens.Entries)
			}
		})
	}
}

// TestHealthOfAnUnreachableStore: a node whose database refuses
// connections is unavailable, and checks the store once per second
// however often it is asked.
func TestHealthOfAnUnreachableStore(t *testing.T) {
	var errs atomic.Int64
	dsn := fmt.Sprintf("postgres://linkgate:hunter2-password@127.0.0.1:%d/linkgate", testcaddy.FreePort(t))
	n, err := node.New(node.Config{Database: node.Database{Postgres: true, DSN: dsn}}, node.Events{StoreError: func() { errs.Add(1) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	start := time.Now()
	for range 50 {
		h := n.Health()
		if h.Status != node.HealthUnavailable || h.Reason != node.ReasonStoreUnreachable || h.StoreReachable || !h.LastContact.IsZero() {
			t.Fatalf("health %+v; want unavailable, store_unreachable, never reached", h)
		}
	}
	// One check per started second, and one more for a second begun
	// during the loop.
	if checks, most := errs.Load(), int64(time.Since(start)/time.Second)+2; checks < 1 || checks > most {
		t.Errorf("50 health calls checked the store %d times; want 1 to %d", checks, most)
	}
	s := n.Status()
	if s.StoreError == "" || strings.Contains(s.StoreError, "hunter2") || strings.Contains(s.Database, "hunter2") {
		t.Errorf("store error %q, database %q: want the error, and no password in either", s.StoreError, s.Database)
	}
	if s.Applied != nil || s.Pending != nil {
		t.Errorf("migrations %v, %v of a store that did not answer; want unknown (nil)", s.Applied, s.Pending)
	}
}

// TestFeedDisconnect: the node knows when its listener lost the
// connection, and when it has it back.
func TestFeedDisconnect(t *testing.T) {
	dsn := pgtest.DB(t)
	n, _ := started(t, node.Database{Postgres: true, DSN: dsn})
	testcaddy.PollUntil(t, 5*time.Second, "the change feed connects", func() bool { return n.Feed().Connected })
	first := n.Feed().Since

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var terminated int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = $2`, pgstore.ListenerApplicationName, cfg.Database).Scan(&terminated); err != nil || terminated != 1 {
		t.Fatalf("terminated %d listeners (%v); want 1", terminated, err)
	}
	// The listener reconnects within its backoff (100 ms at first), so
	// the disconnected state may be short; what must show is that it was
	// seen and ended.
	testcaddy.PollUntil(t, 10*time.Second, "the feed is connected again, since a later time", func() bool {
		f := n.Feed()
		return f.Connected && f.Since.After(first)
	})
}

// TestRedacted: no password of a PostgreSQL URL shows, wherever it is.
func TestRedacted(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://linkgate:s3cret@db.internal:5432/linkgate?sslmode=require", "postgres://linkgate:xxxxx@db.internal:5432/linkgate?sslmode=require"},
		{"postgresql://linkgate@db/linkgate?password=s3cret&sslmode=disable", "postgresql://linkgate@db/linkgate?password=xxxxx&sslmode=disable"},
		{"postgres://db/linkgate?sslpassword=s3cret", "postgres://db/linkgate?sslpassword=xxxxx"},
		{"postgres://linkgate@db/linkgate", "postgres://linkgate@db/linkgate"},
		{"postgres://u:s3cret@h1:5432,h2:bad%zz/db", "postgres://(unreadable URL)"},
	} {
		got := node.Database{Postgres: true, DSN: tc.dsn}.Redacted()
		if got != tc.want || strings.Contains(got, "s3cret") {
			t.Errorf("Redacted(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
	if got := (node.Database{DSN: "/var/lib/linkgate/linkgate.db"}).Redacted(); got != "sqlite:/var/lib/linkgate/linkgate.db" {
		t.Errorf("a SQLite file: %q", got)
	}
}

// TestHealthOfAFrozenStore: a database that accepts connections and then
// says nothing makes the node unavailable after the 1 s check timeout,
// not after the 5 s a connection attempt may take.
func TestHealthOfAFrozenStore(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	n, err := node.New(node.Config{Database: node.Database{Postgres: true, DSN: "postgres://linkgate@" + l.Addr().String() + "/linkgate"}}, node.Events{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	start := time.Now()
	h := n.Health()
	took := time.Since(start)
	if h.Status != node.HealthUnavailable || h.Reason != node.ReasonStoreUnreachable {
		t.Errorf("health %+v of a frozen store; want unavailable, store_unreachable", h)
	}
	t.Logf("the frozen store's check took %v", took)
	// 3 s: the 1 s timeout plus a margin for a loaded machine, short of
	// the 5 s connect timeout the check must not wait for.
	if took >= 3*time.Second {
		t.Errorf("the check of a frozen store took %v; want it cut at 1 s", took)
	}
}
