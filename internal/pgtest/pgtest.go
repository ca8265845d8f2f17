// Package pgtest gives tests a real PostgreSQL database instead of mocks.
//
// A test package opts in from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and each test that needs storage calls DB(t) for a brand-new empty database.
//
// With LINKGATE_TEST_DATABASE set to a postgres:// URL, the databases are
// created on that server. Otherwise Main starts a private throw-away cluster
// from the local PostgreSQL binaries, one per test binary, because
// "go test ./..." runs packages in parallel processes that must not share
// ports, files or data.
//
// A test that needs a server of its own, with other settings or to crash
// it, calls NewCluster; NewPair gives it a primary and a synchronous
// standby to fail over to.
//
// Without PostgreSQL, tests that need it are skipped so that a plain
// "go test ./..." works on any machine; when the CI environment variable is set
// they fail instead, so that CI cannot pass without having run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// envDatabase names the variable pointing pgtest at an existing server, for
// machines where tests cannot start their own (no binaries, sandboxing) or
// where developers want to inspect test databases with their usual tools.
const envDatabase = "LINKGATE_TEST_DATABASE"

// adminTimeout bounds every administrative statement so that a wedged server
// fails the test with a message instead of hanging until go test's timeout.
const adminTimeout = 30 * time.Second

// Package state, written once by Main before m.Run and only read by tests
// afterwards, so it needs no locking.
var (
	mainCalled bool
	// unavailable says why there is no PostgreSQL at all; tests skip on it
	// (or fail under CI).
	unavailable string
	// setupErr means PostgreSQL exists but could not be used. That is a
	// broken environment, not a missing one, so tests fail instead of skipping.
	setupErr error
	// adminURL is the maintenance database used for CREATE/DROP DATABASE.
	adminURL *url.URL
	// local is pgtest's own cluster; nil with LINKGATE_TEST_DATABASE.
	local *cluster
)

// Main runs the package's tests against a PostgreSQL server and exits with
// their status. Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// A missing PostgreSQL does not make Main fail, because packages whose tests
// never call DB must still pass; DB and Server report it instead.
func Main(m *testing.M) {
	os.Exit(run(m))
}

// run exists so that the deferred teardown happens before os.Exit, which
// would otherwise skip it.
func run(m *testing.M) int {
	mainCalled = true
	setup()
	defer teardown()
	return m.Run()
}

func setup() {
	if raw := os.Getenv(envDatabase); raw != "" {
		u, err := externalURL(raw)
		if err == nil {
			err = ping(u.String())
		}
		if err != nil {
			setupErr = fmt.Errorf("%s: %w", envDatabase, err)
			return
		}
		adminURL = u
		return
	}
	c, err := startCluster()
	var ue unavailableError
	switch {
	case errors.As(err, &ue):
		unavailable = string(ue)
	case err != nil:
		setupErr = err
	default:
		local = c
		adminURL = c.url("postgres")
	}
}

func teardown() {
	if local == nil {
		return
	}
	// Stdout/stderr is all we have here: the tests are over and there is no
	// t to report to, and the exit status belongs to the tests.
	if err := local.destroy(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
	}
}

// externalURL normalises LINKGATE_TEST_DATABASE. Only the URL form is
// accepted because DB has to swap the database name, which is unambiguous
// only in a URL.
func externalURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's error would echo the value, which may hold a password.
		return nil, errors.New("not a valid postgres:// URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, errors.New("must be a postgres:// URL")
	}
	u.Scheme = "postgres"
	q := u.Query()
	if q.Get("sslmode") == "" {
		// An explicit sslmode wins; otherwise skip TLS like the local
		// cluster does, since test servers rarely have certificates.
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	return u, nil
}

func ping(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// DB returns the DSN (a postgres:// URL, with sslmode=disable unless
// LINKGATE_TEST_DATABASE sets another) of a brand-new empty database on the
// package's server, created for this test and dropped WITH (FORCE) in
// t.Cleanup, so that tests never see each other's rows and need not close
// every connection they open.
//
// When no PostgreSQL is available it calls t.Skip with the reason, unless the
// CI environment variable is set, in which case it calls t.Fatal.
func DB(t testing.TB) string {
	t.Helper()
	ready(t)
	var b [8]byte
	rand.Read(b[:])
	name := "lgt_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{name}.Sanitize()
	// template0 rather than template1: it is guaranteed pristine, and copying
	// it never waits for sessions that happen to be connected to template1.
	if err := adminExec("CREATE DATABASE " + ident + " TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := adminExec("DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u := *adminURL
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// Server returns the DSN of the package server's maintenance database
// ("postgres", or the database named in LINKGATE_TEST_DATABASE), for tests
// that act on the server rather than on their own database, such as running
// pg_terminate_backend or reading pg_stat_activity. It skips or fails like DB.
func Server(t testing.TB) string {
	t.Helper()
	ready(t)
	return adminURL.String()
}

// StopServer shuts down the package's throw-away server, keeping its data
// directory and port so that StartServer brings back the same DSNs with the
// same data; together they let a test simulate a database outage and the
// recovery from it. If the test ends with the server still stopped, a cleanup
// restarts it so that later tests are not affected.
//
// StopServer calls t.Skip when LINKGATE_TEST_DATABASE is set, since pgtest
// must not shut down a server it does not own, and otherwise skips or fails
// like DB.
func StopServer(t testing.TB) {
	t.Helper()
	c := ownCluster(t)
	if err := c.stop(); err != nil {
		t.Fatalf("pgtest: stop server: %v", err)
	}
	t.Cleanup(func() {
		if err := c.start(); err != nil {
			t.Errorf("pgtest: restart server after test: %v", err)
		}
	})
}

// StartServer restarts the server stopped by StopServer on the same port and
// data directory, and returns once it accepts connections. It does nothing if
// the server is running, and skips or fails like StopServer.
func StartServer(t testing.TB) {
	t.Helper()
	c := ownCluster(t)
	if err := c.start(); err != nil {
		t.Fatalf("pgtest: start server: %v", err)
	}
}

func ownCluster(t testing.TB) *cluster {
	t.Helper()
	ready(t)
	if local == nil {
		t.Skipf("pgtest: needs pgtest's own PostgreSQL server, but %s is set", envDatabase)
	}
	return local
}

// ready stops the test unless a server is usable.
func ready(t testing.TB) {
	t.Helper()
	switch {
	case !mainCalled:
		t.Fatal("pgtest: TestMain must call pgtest.Main(m)")
	case setupErr != nil:
		t.Fatalf("pgtest: %v", setupErr)
	case unavailable != "" && os.Getenv("CI") != "":
		t.Fatalf("pgtest: PostgreSQL is required when CI is set: %s", unavailable)
	case unavailable != "":
		t.Skipf("pgtest: skipping: %s", unavailable)
	}
}

// adminExec uses a fresh connection per statement because tests may call DB
// in parallel, a pgx.Conn is not safe for concurrent use, and a long-lived
// connection would not survive StopServer.
func adminExec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL.String())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
