package cluster

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/pgstore"
)

// TestListenerKilled cuts a node's invalidation listener with
// pg_terminate_backend while an alias changed without a change notice the
// node could have heard. The listener must come back by itself, exactly
// once, and flush the cache when it does: the node then serves the new
// passcode, although no notice about it ever reached the node.
func TestListenerKilled(t *testing.T) {
	d := newDatabase(t)
	up := newUpstream(t)
	s := testcaddy.NewSite(t, d.dsn, up)
	testcaddy.Load(t, s.Caddyfile(t))
	base := s.Base()
	_, token := d.newOrg(t)
	id := createAlias(t, base, token, "old-passcode")
	old, next := livePath(id, "old-passcode"), livePath(id, "new-passcode")

	// The listener flushes the cache when it first connects; an entry
	// warmed before that would be gone before the test begins.
	before := d.waitListeners(t, 1)
	pollUntil(t, 10*time.Second, "the listener's first flush", func() bool {
		return metric(t, base, aliasFlushes) >= 1
	})
	warm(t, base, old, "", aliasHits)

	// With session_replication_role = replica no trigger fires: the alias
	// changes and no notice is sent, as if it had been sent while the
	// listener was away. Only the flush after a reconnect can tell the node.
	conn := d.connect(t)
	if _, err := conn.Exec(t.Context(), "SET session_replication_role = replica"); err != nil {
		t.Fatalf("turning triggers off: %v", err)
	}
	tag, err := conn.Exec(t.Context(), "UPDATE aliases SET passcode = 'new-passcode' WHERE id = $1", id)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("changing the passcode: %v (%d rows)", err, tag.RowsAffected())
	}
	conn.Close(context.Background())
	// The premise: the node still has the old passcode and heard nothing.
	want(t, get(t, base+old), http.StatusOK, "", "old passcode after a change without notice (the node's cache must still hold it)")

	reconnects := metric(t, base, listenerReconnects)
	killListener(t, d)
	took := within(t, 10*time.Second, "the node refuses the old passcode after the listener reconnected", func() bool {
		return get(t, base+old).status == http.StatusUnauthorized
	})
	t.Logf("old passcode refused in a check begun %v after the listener was killed", took)
	want(t, get(t, base+next), http.StatusOK, "", "new passcode after the listener reconnected")

	after := d.waitListeners(t, 1)
	if slices.Equal(after, before) {
		t.Errorf("listener PID %v both before and after pg_terminate_backend: the kill did not happen", after)
	}
	if got := metric(t, base, listenerReconnects); got != reconnects+1 {
		t.Errorf("%s went from %v to %v, want one reconnect", listenerReconnects, reconnects, got)
	}
	// A second look: no stray listener appeared meanwhile.
	if pids := d.listeners(t); !slices.Equal(pids, after) {
		t.Errorf("listener connections %v, then %v: want exactly one, the same", after, pids)
	}
}

// killListener terminates the invalidation listener's connection to the
// database, which must be exactly one, and waits until its server process
// is gone.
func killListener(t *testing.T, d database) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = $2`, pgstore.ListenerApplicationName, d.name)
	killed, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		t.Fatalf("pg_terminate_backend: %v", err)
	}
	if !slices.Equal(killed, []bool{true}) {
		t.Fatalf("pg_terminate_backend of the listener: %v, want exactly one connection terminated", killed)
	}
}
