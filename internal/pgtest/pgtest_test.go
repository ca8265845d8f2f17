package pgtest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkgate/linkgate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func count(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestDBGivesDistinctEmptyDatabases(t *testing.T) {
	a, b := pgtest.DB(t), pgtest.DB(t)
	if a == b {
		t.Fatalf("DB returned the same DSN twice: %s", a)
	}
	names := map[string]bool{}
	for _, dsn := range []string{a, b} {
		conn := connect(t, dsn)
		// Also proves isolation: b must not see the table created in a.
		if n := count(t, conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); n != 0 {
			t.Errorf("%s: new database has %d tables, want 0", dsn, n)
		}
		if _, err := conn.Exec(t.Context(), "CREATE TABLE links (id bigint PRIMARY KEY, url text NOT NULL)"); err != nil {
			t.Fatalf("%s: create table: %v", dsn, err)
		}
		var name string
		if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		names[name] = true
	}
	if len(names) != 2 {
		t.Errorf("DSNs %s and %s reach the same database", a, b)
	}
}

func TestDBIsDroppedAfterCleanup(t *testing.T) {
	server := connect(t, pgtest.Server(t))
	var name string
	var forgotten *pgx.Conn
	t.Run("user", func(t *testing.T) {
		var err error
		// Deliberately left open: the drop has to cope with tests that
		// forget to close their connections.
		forgotten, err = pgx.Connect(t.Context(), pgtest.DB(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := forgotten.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	if forgotten != nil {
		defer forgotten.Close(context.Background())
	}
	if name == "" {
		t.Fatal("subtest did not get a database")
	}
	if n := count(t, server, "SELECT count(*) FROM pg_database WHERE datname = $1", name); n != 0 {
		t.Errorf("database %s still exists after its test's cleanup", name)
	}
}

func TestServerSeesOtherSessions(t *testing.T) {
	server := connect(t, pgtest.Server(t))
	conn := connect(t, pgtest.DB(t))
	var pid int
	var name string
	if err := conn.QueryRow(t.Context(), "SELECT pg_backend_pid(), current_database()").Scan(&pid, &name); err != nil {
		t.Fatal(err)
	}
	if n := count(t, server, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND datname = $2", pid, name); n != 1 {
		t.Fatalf("pg_stat_activity shows %d sessions with pid %d in %s, want 1", n, pid, name)
	}
	if _, err := server.Exec(t.Context(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "SELECT 1"); err == nil {
		t.Error("query on a terminated session succeeded")
	}
}

func TestStopAndStartServer(t *testing.T) {
	dsn := pgtest.DB(t)
	before := connect(t, dsn)
	if _, err := before.Exec(t.Context(), "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	pgtest.StopServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(context.Background())
		t.Fatal("connected while the server is stopped")
	}
	if _, err := before.Exec(t.Context(), "SELECT 1"); err == nil {
		t.Error("a connection opened before StopServer still works")
	}

	pgtest.StartServer(t)
	after := connect(t, dsn)
	if n := count(t, after, "SELECT count(*) FROM kept"); n != 1 {
		t.Errorf("after restart kept has %d rows, want 1", n)
	}
}

// TestPairFailover crashes the primary of a pair and promotes the standby:
// everything committed before the crash is on the promoted standby, and the
// pair's DSN, which before the promotion finds no server accepting writes,
// reaches it once promoted.
func TestPairFailover(t *testing.T) {
	p := pgtest.NewPair(t)
	p.Primary.Exec(t, "postgres", "CREATE DATABASE app")
	dsn := p.DSN("app")
	before := connect(t, dsn)
	if _, err := before.Exec(t.Context(), "CREATE TABLE kept (id int); INSERT INTO kept SELECT generate_series(1, 100)"); err != nil {
		t.Fatal(err)
	}
	var port int
	if err := before.QueryRow(t.Context(), "SELECT inet_server_port()").Scan(&port); err != nil {
		t.Fatal(err)
	}
	if want := p.Primary.Addr(); !strings.HasSuffix(want, fmt.Sprintf(":%d", port)) {
		t.Fatalf("the pair's DSN reached port %d, want the primary (%s)", port, want)
	}
	// synchronous_commit on waits until the standby has the commit on
	// disk, not until it is visible there.
	replayed := func() bool {
		conn, err := pgx.Connect(t.Context(), p.Standby.URL("app"))
		if err != nil {
			return false
		}
		defer conn.Close(context.Background())
		return count(t, conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'kept'") == 1
	}
	for deadline := time.Now().Add(10 * time.Second); !replayed(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the standby has not replayed the table after 10s")
		}
	}
	readOnly := connect(t, p.Standby.URL("app"))
	if _, err := readOnly.Exec(t.Context(), "INSERT INTO kept VALUES (0)"); err == nil {
		t.Fatal("the standby accepted a write")
	}

	p.Primary.Crash(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(context.Background())
		t.Fatal("the pair's DSN connected while no server accepts writes")
	}

	p.Standby.Promote(t)
	after := connect(t, dsn)
	if n := count(t, after, "SELECT count(*) FROM kept"); n != 100 {
		t.Errorf("after the failover kept has %d rows, want the 100 committed before the crash", n)
	}
	if _, err := after.Exec(t.Context(), "INSERT INTO kept VALUES (101)"); err != nil {
		t.Errorf("writing to the promoted standby: %v", err)
	}
}
