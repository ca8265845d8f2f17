package node_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/node"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// databases are the two stores a node runs on, each a fresh database.
var databases = map[string]func(t *testing.T) node.Database{
	"postgres": func(t *testing.T) node.Database { return node.Database{Postgres: true, DSN: pgtest.DB(t)} },
	"sqlite": func(t *testing.T) node.Database {
		return node.Database{DSN: filepath.Join(t.TempDir(), "linkgate.db")}
	},
}

// started is a started node on db with an alias whose passcode is
// "old-passcode".
func started(t *testing.T, db node.Database) (*node.Node, alias.Alias) {
	t.Helper()
	n, err := node.New(node.Config{Database: db}, node.Events{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	store, err := n.Backend()
	if err != nil {
		t.Fatal(err)
	}
	org, err := store.CreateOrg(t.Context(), "org")
	if err != nil {
		t.Fatal(err)
	}
	a, err := store.CreateAlias(t.Context(), alias.Alias{
		ID: alias.NewID(), OrgID: org.ID, Type: alias.TypeLive, Passcode: "old-passcode", ExpiredAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, a
}

// cachedPasscode reads the alias through the node and waits until the
// read is cached.
func cachedPasscode(t *testing.T, n *node.Node, id string) string {
	t.Helper()
	a, err := n.Alias(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	n.Wait()
	return a.Passcode
}

// TestChangesBehindTheNodesBack: a change made by another process (here
// straight through the store, as another node or an operator's SQL would)
// reaches the node's cache through its change feed: PostgreSQL's notices
// within 1 s; SQLite's data_version poll, once a second, within 5 (the
// poll's own second, and room for a loaded machine to schedule it).
func TestChangesBehindTheNodesBack(t *testing.T) {
	for name, db := range databases {
		t.Run(name, func(t *testing.T) {
			n, a := started(t, db(t))
			if got := cachedPasscode(t, n, a.ID); got != "old-passcode" {
				t.Fatalf("passcode %q", got)
			}
			aliases, _ := n.Stats()
			// Another handle on the same database: the node hears of its
			// write only through the feed.
			other, err := n.Backend()
			if err != nil {
				t.Fatal(err)
			}
			bound := map[string]time.Duration{"postgres": time.Second, "sqlite": 5 * time.Second}[name]
			if _, err := other.UpdateAlias(context.Background(), a.OrgID, a.ID, alias.Patch{Passcode: alias.Field{Set: true, Value: "new-passcode"}}); err != nil {
				t.Fatal(err)
			}
			testcaddy.PollUntil(t, bound, "the node serves the new passcode", func() bool {
				return cachedPasscode(t, n, a.ID) == "new-passcode"
			})
			if after, _ := n.Stats(); after.Loads == aliases.Loads {
				t.Errorf("the new passcode came without a reload (%d loads)", after.Loads)
			}
		})
	}
}

// TestCatalogWritesAreSeenAtOnce: a write through the node's own catalog
// drops the cached entry before the write returns.
func TestCatalogWritesAreSeenAtOnce(t *testing.T) {
	for name, db := range databases {
		t.Run(name, func(t *testing.T) {
			n, a := started(t, db(t))
			cachedPasscode(t, n, a.ID)
			if _, err := n.Catalog().UpdateAlias(t.Context(), a.OrgID, a.ID, alias.Patch{Passcode: alias.Field{Set: true, Value: "new-passcode"}}); err != nil {
				t.Fatal(err)
			}
			if got := cachedPasscode(t, n, a.ID); got != "new-passcode" {
				t.Errorf("right after the update: passcode %q, want new-passcode", got)
			}
			if err := n.Catalog().DeleteAlias(t.Context(), a.OrgID, a.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := n.Alias(t.Context(), a.ID); err != alias.ErrNotFound {
				t.Errorf("right after the delete: %v, want not found", err)
			}
		})
	}
}

// TestSessionKeyIsShared: every node of a database signs cookies with the
// same key, and a node gets it even when Start could not.
func TestSessionKeyIsShared(t *testing.T) {
	for name, db := range databases {
		t.Run(name, func(t *testing.T) {
			d := db(t)
			n, _ := started(t, d)
			other, err := node.New(node.Config{Database: d}, node.Events{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			// Not started: the key is loaded on first use all the same.
			a, b := n.SessionKey(), other.SessionKey()
			if len(a) < 32 || string(a) != string(b) {
				t.Errorf("session keys of %d and %d bytes, want one key of at least 32", len(a), len(b))
			}
		})
	}
}

// TestStoreErrorsAreCounted: a database that does not answer is told to
// the node's events, and is what a lookup fails with.
func TestStoreErrorsAreCounted(t *testing.T) {
	var errs atomic.Int64
	n, err := node.New(node.Config{
		Database:     node.Database{Postgres: true, DSN: "postgres://linkgate@127.0.0.1:1/linkgate?connect_timeout=1"},
		QueryTimeout: time.Second,
	}, node.Events{StoreError: func() { errs.Add(1) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Alias(t.Context(), "abcdefghijkl"); err == nil || err == alias.ErrNotFound {
		t.Fatalf("lookup with the database down: %v, want an error", err)
	}
	if errs.Load() == 0 {
		t.Error("no store error was counted")
	}
	if _, err := n.Alias(t.Context(), "no such id!"); err != alias.ErrNotFound {
		t.Errorf("an ID that cannot exist: %v, want not found without a lookup", err)
	}
}
