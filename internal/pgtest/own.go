package pgtest

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a throw-away PostgreSQL server of one test's own, for tests that
// need settings the package's server lacks (a preloaded extension,
// replication) or that do to a server what other tests must not see (crash
// it, fail over). It shuts down and its files are removed when the test
// ends, and it dies with the test binary. LINKGATE_TEST_DATABASE does not
// apply: a server of one's own needs the local binaries.
type Cluster struct {
	c *cluster
}

// NewCluster starts a server with settings ("name=value", as postgres -c
// takes them) over pgtest's own, and returns once it accepts connections.
// pgtest's own trade durability for speed (fsync, synchronous_commit and
// full_page_writes off); a crash of the server process alone loses nothing
// committed all the same, since the operating system keeps what was written.
//
// Without PostgreSQL's binaries it skips the test, or fails it when the CI
// environment variable is set.
func NewCluster(t testing.TB, settings ...string) *Cluster {
	t.Helper()
	c, err := startCluster(settings...)
	need(t, err)
	t.Cleanup(func() {
		if err := c.destroy(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return &Cluster{c: c}
}

// need stops the test unless err is nil: a skip for a machine without
// PostgreSQL (a failure under CI), a failure for anything else.
func need(t testing.TB, err error) {
	t.Helper()
	var ue unavailableError
	switch {
	case err == nil:
	case errors.As(err, &ue) && os.Getenv("CI") == "":
		t.Skipf("pgtest: skipping: %s", ue)
	case errors.As(err, &ue):
		t.Fatalf("pgtest: PostgreSQL is required when CI is set: %s", ue)
	default:
		t.Fatalf("pgtest: %v", err)
	}
}

// Addr is the server's host:port.
func (s *Cluster) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.c.port))
}

// URL returns the postgres:// URL of database db on the server, as the
// superuser postgres.
func (s *Cluster) URL(db string) string { return s.c.url(db).String() }

// Exec runs one statement on database db of the server, on a connection of
// its own that it closes, and fails the test if the statement fails.
func (s *Cluster) Exec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	if err := execOn(s.URL(db), sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

func execOn(dsn, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// Crash stops the server the way a power cut stops a machine: an immediate
// shutdown, without a checkpoint, every client cut off in the middle of what
// it was doing. It stays down for the rest of the test.
func (s *Cluster) Crash(t testing.TB) {
	t.Helper()
	s.c.crash()
}

// Promote turns a standby into a primary, as a failover does, and returns
// once it accepts writes.
func (s *Cluster) Promote(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: promote: %v", err)
	}
	defer conn.Close(context.Background())
	var done bool
	// pg_promote waits (up to the given seconds) until recovery has ended.
	if err := conn.QueryRow(ctx, "SELECT pg_promote(true, $1)", int(adminTimeout/time.Second)).Scan(&done); err != nil || !done {
		t.Fatalf("pgtest: promote: done %v, %v\nserver log:\n%s", done, err, tail(s.c.logSince(0)))
	}
}

// standbySlot is the replication slot a standby streams from, so that the
// primary keeps the WAL the standby has yet to receive.
const standbySlot = "pgtest_standby"

// Pair is a primary and a streaming standby of it, replicating
// synchronously: the primary acknowledges a commit only once the standby
// has it, so that a failover loses no commit a client was told of.
type Pair struct {
	Primary, Standby *Cluster
}

// NewPair starts a primary with settings over pgtest's own, with
// synchronous_commit on and synchronous_standby_names '*', then a standby
// copied from it with pg_basebackup -R (a replication slot, the WAL streamed
// during the copy), with the same settings but no standby of its own to
// wait for, so that it commits alone once promoted. It returns once the
// standby streams as the primary's synchronous standby. It skips or fails
// like NewCluster.
func NewPair(t testing.TB, settings ...string) *Pair {
	t.Helper()
	// Durability off (pgtest's) still holds across a crash of the primary's
	// process: what matters for a failover is what reached the standby.
	settings = append(append([]string{}, settings...), "synchronous_commit=on")
	primary := NewCluster(t, append(settings, "synchronous_standby_names=*")...)

	c, err := newCluster(settings)
	need(t, err)
	t.Cleanup(func() {
		if err := c.destroy(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	err = c.run("pg_basebackup", "-D", c.dataDir, "-h", "127.0.0.1", "-p", strconv.Itoa(primary.c.port), "-U", "postgres",
		"--wal-method=stream", "--write-recovery-conf", "--create-slot", "--slot="+standbySlot,
		"--checkpoint=fast", "--no-sync")
	if err != nil {
		t.Fatalf("pgtest: copying the primary: %v", err)
	}
	if err := c.startOnFreePort(); err != nil {
		t.Fatalf("pgtest: starting the standby: %v", err)
	}
	p := &Pair{Primary: primary, Standby: &Cluster{c: c}}

	deadline := time.Now().Add(readyTimeout)
	for {
		state, err := p.syncState()
		if err == nil && state == "sync" {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: the standby is not the primary's synchronous standby after %v: state %q, %v\nstandby log:\n%s",
				readyTimeout, state, err, tail(c.logSince(0)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncState is how the primary sees its standby: "sync" once it waits for it.
func (p *Pair) syncState() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.Primary.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var state string
	err = conn.QueryRow(ctx, "SELECT coalesce(max(sync_state), '') FROM pg_stat_replication").Scan(&state)
	return state, err
}

// DSN returns the URL of database db on both servers, the primary first,
// with target_session_attrs=read-write: a client tries them in order and
// keeps the first that accepts writes, so after a failover it finds the
// promoted standby by itself.
func (p *Pair) DSN(db string) string {
	u := p.Primary.c.url(db)
	u.Host = strings.Join([]string{p.Primary.Addr(), p.Standby.Addr()}, ",")
	u.RawQuery += "&target_session_attrs=read-write"
	return u.String()
}
