package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// aliasByID is how pg_stat_statements shows the store's one query of an
// alias by its ID (with its revocations), the query a cache miss costs.
const aliasByID = "%FROM aliases LEFT JOIN LATERAL %WHERE aliases.id = $1"

// testKilledNode runs two nodes on one database behind a front door that,
// like a load balancer, replays a request on the other node when a node
// gives no answer. Viewers are admitted by passcode once and go on with the
// session cookie they got; organizers create aliases. Node A is killed with
// SIGKILL under that load. No viewer may be turned away (the cookie A
// issued opens B), no create may fail or, answered 201, be missing, and A,
// started again, warms its cache without a storm of queries: one per alias
// it is asked for, as pg_stat_statements counts the queries of A's own
// database role.
func testKilledNode(t *testing.T, bin string) {
	srv := pgtest.NewCluster(t, "shared_preload_libraries=pg_stat_statements")
	srv.Exec(t, "postgres", "CREATE DATABASE linkgate")
	srv.Exec(t, "linkgate", "CREATE EXTENSION pg_stat_statements")
	// A role per node, so that pg_stat_statements tells their queries
	// apart; superusers, since whichever starts first creates the schema.
	for _, role := range []string{"node_a", "node_b"} {
		srv.Exec(t, "postgres", "CREATE ROLE "+role+" LOGIN SUPERUSER")
	}
	dsn := func(role string) string {
		return strings.Replace(srv.URL("linkgate"), "postgres@", role+"@", 1)
	}
	// Segments take a while to send, so that the kill finds some under way.
	up := newSlowUpstream(t, 20*time.Millisecond)
	a := startNode(t, bin, "A", testcaddy.NewSite(t, "{env.LINKGATE_DATABASE}", up), "LINKGATE_DATABASE="+dsn("node_a"))
	b := startNode(t, bin, "B", testcaddy.NewSite(t, "{env.LINKGATE_DATABASE}", up), "LINKGATE_DATABASE="+dsn("node_b"))
	nodes := []*node{a, b}
	for _, n := range nodes {
		n.waitReady(t)
	}
	_, token := newOrg(t, bin, srv.URL("linkgate"))
	// A connection per request, so that a request the kill cuts off shows
	// as such: Go's client would silently retry a GET on a new connection
	// if it had reused one.
	door := &frontDoor{nodes: nodes, c: plain}

	// Each viewer is admitted by the node it first reaches, its home, and
	// keeps that node's cookie.
	viewers := make([]*viewer, 20)
	for i := range viewers {
		id := createAlias(t, nodes[i%2].base, token, "viewer-passcode")
		viewers[i] = &viewer{id: id, home: i % 2}
		viewers[i].admit(t, door)
	}

	var viewerFailures failures
	var segments atomic.Int64
	var next atomic.Int64
	stopViewers := workers(4, 5*time.Millisecond, func(int) {
		v := viewers[int(next.Add(1))%len(viewers)]
		if err := v.segment(door); err != nil {
			viewerFailures.add("%v", err)
			return
		}
		segments.Add(1)
	})
	defer stopViewers()

	var writes events
	var writeNo atomic.Int64
	stopWrites := workers(2, 20*time.Millisecond, func(w int) {
		k := int(writeNo.Add(1))
		e := event{what: "create", start: time.Now()}
		r, err := door.send(k%2, http.MethodPost, pathCreate, bearer(token), createBody(fmt.Sprintf(`"name":"w%d-%d"`, w, k)))
		e.done(r, err)
		if e.status == http.StatusCreated {
			e.id, e.err = createdID(r)
		}
		writes.add(e)
	})
	defer stopWrites()

	testcaddy.PollUntil(t, 20*time.Second, "the load runs", func() bool {
		return segments.Load() >= 200 && writes.ok(time.Time{}) >= 20
	})
	a.kill(t)
	killed := segments.Load()
	testcaddy.PollUntil(t, 20*time.Second, "the load runs on B alone", func() bool {
		return segments.Load() >= killed+200 && door.replays.Load() > 0
	})
	t.Logf("A killed: %d requests replayed on B so far, %d of them cut off mid-request", door.replays.Load(), door.cut.Load())
	if door.cut.Load() == 0 {
		t.Error("the kill cut no request off: the test did not test what it is for")
	}

	// A comes back with an empty cache: what it reads from the database
	// from now on is its warm-up.
	srv.Exec(t, "linkgate", "SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = 'node_a'), 0, 0)")
	a.start(t)
	a.waitReady(t)
	testcaddy.PollUntil(t, 20*time.Second, "A serves its viewers from its cache again", func() bool {
		return metric(t, a.base, aliasHits) >= 300
	})
	stopViewers()
	stopWrites()

	if n := viewerFailures.count(); n > 0 {
		t.Errorf("viewers were turned away: %s", &viewerFailures)
	}
	t.Logf("%d segment requests, %d of them (and of the creates) replayed on the other node", segments.Load(), door.replays.Load())
	var failed []string
	for _, e := range writes.snapshot() {
		if !e.ok() {
			failed = append(failed, e.String())
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d creates failed, though the front door replays them: %q", len(failed), failed[:min(len(failed), 5)])
	}
	checkAcknowledged(t, &writes, aliasNames(t, srv.URL("linkgate")))

	loads := metric(t, a.base, aliasLoads)
	var queries int64
	conn, err := pgx.Connect(t.Context(), srv.URL("linkgate"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(t.Context(), `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
		WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = 'node_a') AND query LIKE $1`, aliasByID).Scan(&queries)
	if err != nil {
		t.Fatal(err)
	}
	// The aliases A was asked for: those of the viewers whose home it is.
	asked := int64(len(viewers) / 2)
	t.Logf("A's warm-up: %d queries of an alias by ID for the %d aliases it was asked for (its alias cache counted %v loads)", queries, asked, loads)
	// One query per alias: Caddy starts its apps in no fixed order, and a
	// request served before the change feed's first connect would be read
	// again after the flush that connect makes, but the node holds its
	// loads until the feed is up.
	if queries == 0 || queries > asked {
		t.Errorf("A read aliases %d times from the database while warming up for %d aliases, want at most one query each", queries, asked)
	}
}

// newSlowUpstream is a media backend that takes delay to answer.
func newSlowUpstream(t *testing.T, delay time.Duration) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "video/mp2t")
		w.Write([]byte("segment\n"))
	}))
	t.Cleanup(up.Close)
	return up
}

// frontDoor is the load balancer the test plays: it sends a request to a
// node and, when no answer comes (refused, reset, cut off), replays it on
// the other node, as a load balancer with retries does. Answers, even
// errors, are never replayed.
type frontDoor struct {
	nodes   []*node
	c       *http.Client
	replays atomic.Int64
	// cut counts the replays of requests that a node had accepted and
	// then dropped without an answer, rather than refused.
	cut atomic.Int64
}

func (f *frontDoor) send(first int, method, path string, header http.Header, body string) (reply, error) {
	r, err := send(f.c, method, f.nodes[first].base+path, header, body)
	if err == nil {
		return r, nil
	}
	f.replays.Add(1)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		f.cut.Add(1)
	}
	other := f.nodes[(first+1)%len(f.nodes)]
	r, err2 := send(f.c, method, other.base+path, header, body)
	if err2 != nil {
		return r, errors.Join(err, err2)
	}
	return r, nil
}

// viewer is a player: admitted once with the passcode, then fetching
// segments with the session cookie alone.
type viewer struct {
	id   string
	home int // the node it goes to first

	mu     sync.Mutex
	cookie string // name=value
}

// admit opens the stream with the passcode and keeps the session cookie.
func (v *viewer) admit(t *testing.T, door *frontDoor) {
	t.Helper()
	r, err := door.send(v.home, http.MethodGet, livePath(v.id, "viewer-passcode"), nil, "")
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("admitting a viewer of %s: %d %s, %v", v.id, r.status, r.body, err)
	}
	name := "lgs_" + v.id
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			v.cookie = c.Name + "=" + c.Value
		}
	}
	if v.cookie == "" {
		t.Fatalf("admitting a viewer of %s: no %s cookie in %v", v.id, name, r.header)
	}
}

// segment fetches a segment with the cookie alone.
func (v *viewer) segment(door *frontDoor) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, err := door.send(v.home, http.MethodGet, "/live/"+v.id+"/segment.ts", http.Header{"Cookie": {v.cookie}}, "")
	if err != nil || r.status != http.StatusOK {
		return fmt.Errorf("a segment of %s: %d %s, %v", v.id, r.status, r.body, err)
	}
	return nil
}
