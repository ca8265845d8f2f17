package node_test

import (
	"context"
	"encoding/hex"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/node"
	"github.com/linkgate/linkgate/store/pgstore"
	"github.com/linkgate/linkgate/store/sqlitestore"
)

// ending is an admission that notes how it was ended.
type ending struct {
	mu      sync.Mutex
	reasons []string
	ended   chan struct{}
}

func newEnding() *ending { return &ending{ended: make(chan struct{}, 1)} }

func (e *ending) end(reason string) {
	e.mu.Lock()
	e.reasons = append(e.reasons, reason)
	e.mu.Unlock()
	e.ended <- struct{}{}
}

// wait returns the reason it was ended for, failing the test unless it
// was, exactly once, within limit.
func (e *ending) wait(t *testing.T, limit time.Duration) string {
	t.Helper()
	select {
	case <-e.ended:
	case <-time.After(limit):
		t.Fatalf("not ended within %v", limit)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.reasons) != 1 {
		t.Fatalf("ended %d times: %v", len(e.reasons), e.reasons)
	}
	return e.reasons[0]
}

// notEnded fails the test if the admission was ended.
func (e *ending) notEnded(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.reasons) > 0 {
		t.Fatalf("ended: %v", e.reasons)
	}
}

// goneOrRenamed ends an admission when its alias is gone or no longer
// has the passcode it was admitted with; until is when it must end.
func goneOrRenamed(passcode string, until time.Time) func(a *alias.Alias, now time.Time) (string, time.Time) {
	return func(a *alias.Alias, now time.Time) (string, time.Time) {
		switch {
		case a == nil:
			return "gone", time.Time{}
		case a.Passcode != passcode:
			return "changed", time.Time{}
		}
		return "", until
	}
}

func TestTrack(t *testing.T) {
	for name, db := range databases {
		t.Run(name, func(t *testing.T) {
			n, a := started(t, db(t))
			store, err := n.Backend()
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()

			// Until ends it when it comes.
			soon := newEnding()
			at := time.Now().Add(100 * time.Millisecond)
			n.Track(&node.Admission{AliasID: a.ID, Kind: "test", Until: at, Check: goneOrRenamed("old-passcode", at), End: soon.end})
			if got := soon.wait(t, 5*time.Second); got != node.ReasonExpired {
				t.Errorf("at its Until: ended for %q, want %q", got, node.ReasonExpired)
			}

			// A change the check refuses ends it; one it allows does not,
			// and may move its end.
			changed, stays, untracked := newEnding(), newEnding(), newEnding()
			n.Track(&node.Admission{AliasID: a.ID, Kind: "test", Check: goneOrRenamed("old-passcode", time.Time{}), End: changed.end})
			later := time.Now().Add(300 * time.Millisecond)
			n.Track(&node.Admission{AliasID: a.ID, Kind: "test", Check: goneOrRenamed("new-passcode", later), End: stays.end})
			untrack := n.Track(&node.Admission{AliasID: a.ID, Kind: "test", Check: goneOrRenamed("old-passcode", time.Time{}), End: untracked.end})
			untrack()
			if got := n.Tracked(); got != 2 {
				t.Errorf("Tracked() = %d, want 2", got)
			}
			if _, err := n.Catalog().UpdateAlias(ctx, a.OrgID, a.ID, alias.Patch{Passcode: alias.Field{Set: true, Value: "new-passcode"}}); err != nil {
				t.Fatal(err)
			}
			if got := changed.wait(t, 5*time.Second); got != "changed" {
				t.Errorf("after the change: ended for %q, want changed", got)
			}
			untracked.notEnded(t)
			if got := stays.wait(t, 5*time.Second); got != node.ReasonExpired {
				t.Errorf("the admission the change allowed until later: ended for %q, want %q at that time", got, node.ReasonExpired)
			}

			// A deletion behind the node's back, once the node hears of it.
			gone := newEnding()
			n.Track(&node.Admission{AliasID: a.ID, Kind: "test", Check: goneOrRenamed("new-passcode", time.Time{}), End: gone.end})
			if err := store.DeleteAlias(ctx, a.OrgID, a.ID); err != nil {
				t.Fatal(err)
			}
			n.InvalidateAlias(a.ID)
			if got := gone.wait(t, 5*time.Second); got != "gone" {
				t.Errorf("after the deletion: ended for %q, want gone", got)
			}
			if got := n.Tracked(); got != 0 {
				t.Errorf("Tracked() = %d after every admission ended", got)
			}
		})
	}
}

// TestTrackedTokenRevoked: what an organization token admitted ends when
// the token is revoked, and only that: on PostgreSQL from the token's
// change notice, on SQLite from the flush its change poll makes.
func TestTrackedTokenRevoked(t *testing.T) {
	for name, db := range databases {
		t.Run(name, func(t *testing.T) { testTrackedTokenRevoked(t, db(t)) })
	}
}

func testTrackedTokenRevoked(t *testing.T, db node.Database) {
	n, a := started(t, db)
	// Tokens are revoked by the command line, another process: a store
	// of the test's own, as its would be.
	var store alias.Store
	if db.Postgres {
		s, err := pgstore.Open(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		store = s
	} else {
		s, err := sqlitestore.Open(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		store = s
	}
	ctx := t.Context()
	_, hash := alias.NewOrgToken()
	info, err := store.CreateToken(ctx, a.OrgID, "ops", hash)
	if err != nil {
		t.Fatal(err)
	}
	_, other := alias.NewOrgToken()
	if _, err := store.CreateToken(ctx, a.OrgID, "other", other); err != nil {
		t.Fatal(err)
	}
	byToken, byOther := newEnding(), newEnding()
	n.Track(&node.Admission{AliasID: a.ID, Kind: "test", TokenHash: hexOf(hash), Check: goneOrRenamed("old-passcode", time.Time{}), End: byToken.end})
	n.Track(&node.Admission{AliasID: a.ID, Kind: "test", TokenHash: hexOf(other), Check: goneOrRenamed("old-passcode", time.Time{}), End: byOther.end})
	if _, err := store.RevokeToken(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if got := byToken.wait(t, 5*time.Second); got != node.ReasonTokenRevoked {
		t.Errorf("ended for %q, want %q", got, node.ReasonTokenRevoked)
	}
	byOther.notEnded(t)
}

func hexOf(h alias.TokenHash) string { return hex.EncodeToString(h[:]) }

// BenchmarkTrack is holding one admission and letting it go, as every
// WebSocket does; B/held is the memory each held admission takes while it
// is held, with a timer for its end.
func BenchmarkTrack(b *testing.B) {
	n, err := node.New(node.Config{Database: node.Database{DSN: b.TempDir() + "/linkgate.db"}}, node.Events{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(context.Background(), true); err != nil {
		b.Fatal(err)
	}
	check := func(*alias.Alias, time.Time) (string, time.Time) { return "", time.Time{} }
	end := func(string) {}
	until := time.Now().Add(time.Hour)
	const held = 10_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	untracks := make([]func(), held)
	for i := range untracks {
		untracks[i] = n.Track(&node.Admission{AliasID: "alias-" + string(rune('a'+i%26)), Kind: "websocket", Until: until, Check: check, End: end})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perHeld := float64(after.HeapAlloc-before.HeapAlloc) / held
	for _, untrack := range untracks {
		untrack()
	}
	b.ReportAllocs()
	for b.Loop() {
		n.Track(&node.Admission{AliasID: "alias", Kind: "websocket", Until: until, Check: check, End: end})()
	}
	b.ReportMetric(perHeld, "B/held")
}
