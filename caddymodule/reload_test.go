package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestReloadsShareOnePool reloads between two configs on the same database
// ten times. The API must answer on each new config with the data of the
// old one, the reloads must reuse one connection pool instead of piling up
// connections, and once Caddy stops nothing may be left: no connection, no
// goroutine.
func TestReloadsShareOnePool(t *testing.T) {
	dsn := pgtest.DB(t)
	poolCfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dbName := poolCfg.ConnConfig.Database
	leftovers := goleak.IgnoreCurrent()

	const reloads = 10
	var id, token string
	var backendsAfter2 []int
	for i := 1; i <= reloads; i++ {
		// B differs from A by port and by a route, so every load is a real
		// reload: Caddy skips a config equal to the running one.
		s := site{database: dsn}
		if i%2 == 0 {
			s.routes = `respond /config "B" 200`
		}
		text, base := s.caddyfile(t)
		testcaddy.Load(t, text)

		if id == "" {
			_, token = newOrg(t, dsn)
			r := do(t, http.MethodPost, base+pathCreate, token, fmt.Sprintf(`{"type":"live","expired_at":%d}`, inAnHour()))
			id = wantAlias(t, r, http.StatusCreated)["id"].(string)
		}
		if a := wantAlias(t, do(t, http.MethodGet, base+pathRetrieve+id, token, ""), http.StatusOK); a["id"] != id {
			t.Fatalf("reload %d: retrieved %v, want %s", i, a["id"], id)
		}
		if ids, _ := listPage(t, base, token, ""); !slices.Equal(ids, []string{id}) {
			t.Fatalf("reload %d: list %v, want [%s]", i, ids, id)
		}

		backends := databaseBackends(t, dbName)
		if len(backends) == 0 || len(backends) > int(poolCfg.MaxConns) {
			t.Fatalf("reload %d: %d connections to the database, want 1 to the pool's max of %d", i, len(backends), poolCfg.MaxConns)
		}
		switch i {
		case 2:
			backendsAfter2 = backends
		case reloads:
			// The same backends, not merely as many: the reloads kept the
			// pool's connections instead of reconnecting.
			if !slices.Equal(backends, backendsAfter2) {
				t.Errorf("connections (backend PIDs) after %d reloads %v, after 2 %v: the pool is not reused across reloads", reloads, backends, backendsAfter2)
			}
		}
	}

	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	testcaddy.PollUntil(t, 10*time.Second, "no connection to the database left after caddy.Stop", func() bool {
		return len(databaseBackends(t, dbName)) == 0
	})
	// VerifyNone retries for a while itself: goroutines wind down
	// asynchronously after Stop.
	goleak.VerifyNone(t, leftovers)
}

// databaseBackends returns the PIDs of the server processes connected to
// the database, sorted.
func databaseBackends(t *testing.T, dbName string) []int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pgtest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, _ := conn.Query(t.Context(), "SELECT pid FROM pg_stat_activity WHERE datname = $1 ORDER BY pid", dbName)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// TestValidateTouchesNoDatabase checks what "caddy validate" and every
// reload rely on: provisioning the linkgate app opens no connection, so a
// config naming an unreachable database still validates.
func TestValidateTouchesNoDatabase(t *testing.T) {
	// A listener that nobody accepts on still completes TCP handshakes, so
	// a connection attempt shows up in its queue.
	spy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()

	for _, tc := range []struct {
		name string
		port int
	}{
		{"closed port", testcaddy.FreePort(t)},
		{"listening port", spy.Addr().(*net.TCPAddr).Port},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := (&url.URL{
				Scheme:   "postgres",
				User:     url.User("linkgate"),
				Host:     fmt.Sprintf("127.0.0.1:%d", tc.port),
				Path:     "/linkgate",
				RawQuery: "sslmode=disable&connect_timeout=2",
			}).String()
			text, _ := site{database: dsn}.caddyfile(t)
			var cfg caddy.Config
			if err := json.Unmarshal(testcaddy.Adapt(t, text), &cfg); err != nil {
				t.Fatal(err)
			}
			if err := caddy.Validate(&cfg); err != nil {
				t.Fatalf("validating a config whose database is unreachable: %v", err)
			}
		})
	}

	// Validate has returned, so a connection it made is queued by now; the
	// deadline only bounds the wait when there is none.
	spy.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond))
	if conn, err := spy.Accept(); err == nil {
		conn.Close()
		t.Error("validating the config connected to its database")
	} else if !strings.Contains(err.Error(), "timeout") {
		t.Fatal(err)
	}
}
