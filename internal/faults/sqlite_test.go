package faults

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// testSQLiteKilled kills a node on the embedded store with SIGKILL while
// organizers create and update aliases through it. The file must open
// cleanly afterwards (PRAGMA integrity_check), hold every create answered
// 201 and every update answered 200, and serve again when the node is
// started on it once more.
func testSQLiteKilled(t *testing.T, bin string) {
	database := "sqlite:" + filepath.Join(t.TempDir(), "linkgate.db")
	_, token := newOrg(t, bin, database)
	n := startNode(t, bin, "A", testcaddy.NewSite(t, database, newUpstream(t)))
	n.waitReady(t)

	var writes events
	stop := workers(4, 5*time.Millisecond, writer([]*node{n}, token, &writes))
	defer stop()
	testcaddy.PollUntil(t, 20*time.Second, "the writes run", func() bool { return writes.ok(time.Time{}) >= 100 })
	n.kill(t)
	stop()

	db := openSQLite(t, database)
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("PRAGMA integrity_check after the kill: %q, %v", check, err)
	}
	names := map[string]string{}
	rows, err := db.Query("SELECT id, coalesce(name, '') FROM aliases")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		names[id] = name
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	checkAcknowledged(t, &writes, names)

	n.start(t)
	n.waitReady(t)
	var last string
	for _, e := range writes.snapshot() {
		if e.what == "create" && e.ok() {
			last = e.id
		}
	}
	r, err := send(plain, http.MethodGet, n.base+"/api/v1/alias/"+last, bearer(token), "")
	if err != nil || r.status != http.StatusOK {
		t.Errorf("the last alias created before the kill, through the restarted node: %d %s, %v", r.status, r.body, err)
	}
}

// testSQLiteCLI runs the "caddy linkgate" commands on a node's SQLite file
// while organizers write through the node's API. Both write to the one
// file at once; neither may see "database is locked" or any other
// failure, and what the commands made works on the node at once.
func testSQLiteCLI(t *testing.T, bin string) {
	database := "sqlite:" + filepath.Join(t.TempDir(), "linkgate.db")
	orgID, token := newOrg(t, bin, database)
	n := startNode(t, bin, "A", testcaddy.NewSite(t, database, newUpstream(t)))
	n.waitReady(t)

	var writes events
	stop := workers(4, 5*time.Millisecond, writer([]*node{n}, token, &writes))
	defer stop()
	testcaddy.PollUntil(t, 20*time.Second, "the writes run", func() bool { return writes.ok(time.Time{}) >= 20 })

	var mu sync.Mutex
	var cliFailures []string
	var tokens []string
	var wg sync.WaitGroup
	for c := range 2 {
		wg.Go(func() {
			for i := range 5 {
				out, err := linkgateCLI(bin, database, "org", "create", fmt.Sprintf("cli-%d-%d", c, i), "--json")
				var org struct {
					Token string `json:"token"`
				}
				if err == nil {
					err = json.Unmarshal(out, &org)
				}
				out2, err2 := linkgateCLI(bin, database, "token", "create", orgID, "--name", "cli", "--json")
				var tok struct {
					Token string `json:"token"`
				}
				if err2 == nil {
					err2 = json.Unmarshal(out2, &tok)
				}
				mu.Lock()
				if err != nil {
					cliFailures = append(cliFailures, fmt.Sprintf("org create: %v: %s", err, out))
				}
				if err2 != nil {
					cliFailures = append(cliFailures, fmt.Sprintf("token create: %v: %s", err2, out2))
				}
				if err == nil && err2 == nil {
					tokens = append(tokens, org.Token, tok.Token)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stop()

	if len(cliFailures) > 0 {
		t.Errorf("%d commands failed while the node wrote to the same file: %q", len(cliFailures), cliFailures)
	}
	var failed []string
	for _, e := range writes.snapshot() {
		if !e.ok() {
			failed = append(failed, e.String())
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d API writes failed while the commands wrote to the same file: %q", len(failed), failed[:min(len(failed), 5)])
	}
	if strings.Contains(n.log.String(), "database is locked") {
		t.Error(`the node's log shows "database is locked"`)
	}
	t.Logf("%d API writes and %d commands on the one file at once", len(writes.snapshot()), 2*2*5)
	for _, tok := range tokens {
		r, err := send(plain, http.MethodPost, n.base+pathCreate, bearer(tok), createBody(`"name":"made with a token of the CLI"`))
		if err != nil || r.status != http.StatusCreated {
			t.Fatalf("a create with a token the CLI made: %d %s, %v", r.status, r.body, err)
		}
	}
}

// openSQLite opens the file of the database option database with SQLite
// itself, as an operator's sqlite3 shell would; the test's end closes it.
func openSQLite(t *testing.T, database string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", strings.TrimPrefix(database, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkAcknowledged fails the test unless names (the aliases in the
// database: ID to name) hold every create answered 201 and, for each
// alias, its last update answered 200 or a later one.
func checkAcknowledged(t *testing.T, writes *events, names map[string]string) {
	t.Helper()
	created := 0
	acked := map[string]int{}
	for _, e := range writes.snapshot() {
		switch {
		case e.what == "create" && e.status == http.StatusCreated:
			created++
			if _, ok := names[e.id]; !ok {
				t.Errorf("alias %s, whose create was answered 201, is not in the database", e.id)
			}
		case e.what == "update" && e.status == http.StatusOK:
			acked[e.id] = max(acked[e.id], e.seq)
		}
	}
	for id, seq := range acked {
		_, got, _ := strings.Cut(names[id], "-")
		if n, err := strconv.Atoi(got); err != nil || n < seq {
			t.Errorf("alias %s is named %q, but the update to sequence %d was answered 200", id, names[id], seq)
		}
	}
	t.Logf("%d creates answered 201 and %d updated aliases: all in the database", created, len(acked))
}
