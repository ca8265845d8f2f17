package faults

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// Bounds the README promises.
const (
	// writesBack is how soon after a standby's promotion writes succeed.
	writesBack = 5 * time.Second
	// propagation is how soon a change reaches every node's cache.
	propagation = time.Second
)

// outage is how long the primary is down before the standby is promoted.
const outage = 3 * time.Second

// listenerApplication is the application_name of a node's change-feed
// connection, by which operators find it in pg_stat_activity.
const listenerApplication = "linkgate-listener"

// testFailover runs two nodes on a primary and its synchronous standby,
// through one DSN naming both (target_session_attrs=read-write), under
// steady load: viewers of cached aliases, requests for aliases no node has
// cached, organizers creating and updating aliases. The primary crashes and
// the standby is promoted. Viewers of cached aliases must not notice;
// uncached aliases and writes may fail, only with 503 and only between the
// crash and writesBack after the promotion; the change feed of both nodes
// comes back on the new primary and carries changes again; and every write
// answered 2xx before, during or after the failover is in the database.
func testFailover(t *testing.T, bin string) {
	pair := pgtest.NewPair(t)
	pair.Primary.Exec(t, "postgres", "CREATE DATABASE linkgate")
	dsn := pair.DSN("linkgate")
	up := newUpstream(t)
	a := startNode(t, bin, "A", testcaddy.NewSite(t, "{env.LINKGATE_DATABASE}", up), "LINKGATE_DATABASE="+dsn)
	b := startNode(t, bin, "B", testcaddy.NewSite(t, "{env.LINKGATE_DATABASE}", up), "LINKGATE_DATABASE="+dsn)
	nodes := []*node{a, b}
	for _, n := range nodes {
		n.waitReady(t)
	}
	waitListeners(t, pair.Primary, 2)
	for _, n := range nodes {
		testcaddy.PollUntil(t, 10*time.Second, "node "+n.name+"'s listener flushed its cache once", func() bool {
			return metric(t, n.base, aliasFlushes) >= 1
		})
	}
	orgID, token := newOrg(t, bin, dsn)

	hot := make([]string, 4)
	for i := range hot {
		hot[i] = createAlias(t, a.base, token, "hot-passcode")
	}
	marker := createAlias(t, a.base, token, "before")
	for _, n := range nodes {
		for _, id := range hot {
			warm(t, n.base, livePath(id, "hot-passcode"))
		}
		warm(t, n.base, livePath(marker, "before"))
	}
	// Aliases no node has seen: each is requested once, so each request
	// needs the database.
	cold := make([]string, 600)
	for i := range cold {
		cold[i] = newID()
	}
	pair.Primary.Exec(t, "linkgate", `INSERT INTO aliases (id, org_id, type, passcode, expired_at)
		SELECT unnest($1::text[]), $2, 'live', 'cold-passcode', now() + interval '1 hour'`, cold, orgID)

	var viewersOK atomic.Int64
	var viewerFailures failures
	stopViewers := workers(4, 5*time.Millisecond, func(w int) {
		n, id := nodes[w%2], hot[w%len(hot)]
		r, err := send(viewerClient, http.MethodGet, n.base+livePath(id, "hot-passcode"), nil, "")
		if err != nil || r.status != http.StatusOK {
			viewerFailures.add("%s on %s: %d %s %v", id, n.name, r.status, r.body, err)
			return
		}
		viewersOK.Add(1)
	})
	defer stopViewers()

	var probes, writes events
	var next atomic.Int64
	stopProbes := workers(1, 40*time.Millisecond, func(int) {
		i := int(next.Add(1)) - 1
		if i >= len(cold) {
			return
		}
		n := nodes[i%2]
		e := event{node: n.name, what: "GET of an uncached alias", start: time.Now()}
		r, err := send(probeClient, http.MethodGet, n.base+livePath(cold[i], "cold-passcode"), nil, "")
		e.done(r, err)
		probes.add(e)
	})
	defer stopProbes()

	stopWrites := workers(2, 20*time.Millisecond, writer(nodes, token, &writes))
	defer stopWrites()

	testcaddy.PollUntil(t, 20*time.Second, "the load runs", func() bool {
		return viewersOK.Load() >= 100 && probes.ok(time.Time{}) >= 10 && writes.ok(time.Time{}) >= 10
	})

	crashed := time.Now()
	pair.Primary.Crash(t)
	testcaddy.PollUntil(t, 10*time.Second, "the nodes notice the crash", func() bool {
		return probes.failedSince(crashed) > 0 && writes.failedSince(crashed) > 0
	})
	// The fault's duration, not a wait for anything: a failover manager
	// takes seconds to decide, long enough for a change feed that backs
	// off exponentially to be waiting more than a second between attempts.
	<-time.After(time.Until(crashed.Add(outage)))

	pair.Standby.Promote(t)
	promoted := time.Now()
	t.Logf("promoted the standby %v after the crash", promoted.Sub(crashed).Round(time.Millisecond))

	// A change made through A as soon as it can write: B hears of it on
	// its change feed, which must be back on the promoted standby by then
	// or soon after, flushing B's cache as it comes back. The margin: the
	// feed retries every 250 to 500 ms while it finds a standby, and the
	// change is made after the promotion.
	testcaddy.PollUntil(t, 2*writesBack, "a change through A after the promotion", func() bool {
		r, err := send(plain, http.MethodPost, a.base+pathUpdate+marker, bearer(token), `{"passcode":"during"}`)
		return err == nil && r.status == http.StatusOK
	})
	allWithin(t, nodes, "serve the change made through A right after the promotion", func(n *node) bool {
		return get(t, n.base+livePath(marker, "before")).status == http.StatusUnauthorized &&
			get(t, n.base+livePath(marker, "during")).status == http.StatusOK
	})
	testcaddy.PollUntil(t, 10*time.Second, "both change feeds on the promoted standby", func() bool {
		return len(listeners(t, pair.Standby)) == 2
	})
	pair.Standby.Exec(t, "linkgate", "UPDATE aliases SET passcode = 'after' WHERE id = $1", marker)
	allWithin(t, nodes, "serve a change made in SQL on the promoted standby", func(n *node) bool {
		return get(t, n.base+livePath(marker, "during")).status == http.StatusUnauthorized
	})

	settled := promoted.Add(writesBack)
	testcaddy.PollUntil(t, 30*time.Second, "the load runs on the promoted standby", func() bool {
		return probes.ok(settled) >= 10 && writes.ok(settled) >= 10
	})
	stopViewers()
	stopProbes()
	stopWrites()

	if n := viewerFailures.count(); n > 0 {
		t.Errorf("viewers of cached aliases failed during the failover: %s", &viewerFailures)
	}
	t.Logf("%d viewer requests, all admitted", viewersOK.Load())
	probes.check(t, "uncached aliases", crashed, promoted)
	writes.check(t, "writes", crashed, promoted)
	checkAcknowledged(t, &writes, aliasNames(t, pair.Standby.URL("linkgate")))
}

// viewerClient is the viewers' client, probeClient the one for uncached
// aliases: each keeps its connections alive, as players do.
var viewerClient, probeClient = loadClient(), loadClient()

// event is one request of the load and its answer.
type event struct {
	node       string
	what       string
	start, end time.Time
	status     int // 0 when no answer came
	code       string
	err        error
	// For writes: the alias created or updated, and the sequence number
	// its name got.
	id  string
	seq int
}

func (e *event) done(r reply, err error) {
	e.end, e.status, e.code, e.err = time.Now(), r.status, r.code(), err
}

func (e event) ok() bool { return e.err == nil && e.status >= 200 && e.status < 300 }

func (e event) String() string {
	return fmt.Sprintf("%s on %s at %s: status %d %s, error %v", e.what, e.node, e.start.Format("15:04:05.000"), e.status, e.code, e.err)
}

// events are the requests of one kind, in the order they ended.
type events struct {
	mu  sync.Mutex
	all []event
}

func (ev *events) add(e event) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.all = append(ev.all, e)
}

func (ev *events) snapshot() []event {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return slices.Clone(ev.all)
}

// ok counts the successes among the requests begun at or after since.
func (ev *events) ok(since time.Time) int {
	n := 0
	for _, e := range ev.snapshot() {
		if e.ok() && !e.start.Before(since) {
			n++
		}
	}
	return n
}

// failedSince counts the failures that ended at or after since.
func (ev *events) failedSince(since time.Time) int {
	n := 0
	for _, e := range ev.snapshot() {
		if !e.ok() && !e.end.Before(since) {
			n++
		}
	}
	return n
}

// check fails the test for any request that failed otherwise than with
// 503, or outside the switch: after the crash, and before writesBack past
// the promotion. It also wants a success within writesBack of the
// promotion.
func (ev *events) check(t *testing.T, what string, crashed, promoted time.Time) {
	t.Helper()
	all := ev.snapshot()
	var failed, bad []string
	firstOK := time.Duration(-1)
	for _, e := range all {
		if e.ok() {
			if since := e.end.Sub(promoted); !e.start.Before(promoted) && (firstOK < 0 || since < firstOK) {
				firstOK = since
			}
			continue
		}
		failed = append(failed, e.String())
		if e.status != http.StatusServiceUnavailable || e.end.Before(crashed) || !e.start.Before(promoted.Add(writesBack)) {
			bad = append(bad, e.String())
		}
	}
	t.Logf("%s: %d requests, %d failed during the switch; the first success begun after the promotion ended %v after it",
		what, len(all), len(failed), firstOK.Round(time.Millisecond))
	if len(failed) > 0 {
		t.Logf("%s: the first failures:\n%s", what, strings.Join(failed[:min(len(failed), 5)], "\n"))
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d failed otherwise than with 503 during the switch:\n%s", what, len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	if firstOK < 0 || firstOK > writesBack {
		t.Errorf("%s: the first success after the promotion came %v after it, want within %v", what, firstOK, writesBack)
	}
}

// writer is the organizers' load: worker w creates an alias, then updates
// it, then creates the next, and so on, each pair through the next node. Every
// update names the alias "w<worker>-<sequence>", so that the database
// shows whether the last acknowledged update was kept.
func writer(nodes []*node, token string, ev *events) func(w int) {
	c := loadClient()
	var mu sync.Mutex
	last := map[int]string{} // worker: the alias it created last
	seq := map[int]int{}
	step := map[int]int{}
	return func(w int) {
		mu.Lock()
		id, k := last[w], step[w]
		step[w]++
		mu.Unlock()
		n := nodes[(k/2)%len(nodes)]
		e := event{node: n.name, start: time.Now()}
		var r reply
		var err error
		if id == "" || k%2 == 0 {
			e.what = "create"
			r, err = send(c, http.MethodPost, n.base+pathCreate, bearer(token), createBody(fmt.Sprintf(`"name":"w%d-0"`, w)))
			e.done(r, err)
			if e.status == http.StatusCreated {
				if e.id, err = createdID(r); err != nil {
					e.err = err
				}
				mu.Lock()
				last[w], seq[w] = e.id, 0
				mu.Unlock()
			}
		} else {
			mu.Lock()
			seq[w]++
			e.seq = seq[w]
			mu.Unlock()
			e.what, e.id = "update", id
			r, err = send(c, http.MethodPost, n.base+pathUpdate+id, bearer(token), fmt.Sprintf(`{"name":"w%d-%d"}`, w, e.seq))
			e.done(r, err)
		}
		ev.add(e)
	}
}

// aliasNames maps the ID of every alias in the database at dsn to its name.
func aliasNames(t *testing.T, dsn string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	names := map[string]string{}
	var id, name string
	rows, _ := conn.Query(ctx, "SELECT id, coalesce(name, '') FROM aliases")
	if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error { names[id] = name; return nil }); err != nil {
		t.Fatal(err)
	}
	return names
}

// listeners are the PIDs of the change-feed connections on server.
func listeners(t *testing.T, server *pgtest.Cluster) []int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", listenerApplication)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// waitListeners waits until exactly n change-feed connections are on server.
func waitListeners(t *testing.T, server *pgtest.Cluster, n int) {
	t.Helper()
	testcaddy.PollUntil(t, 30*time.Second, fmt.Sprintf("exactly %d change-feed connection(s)", n), func() bool {
		return len(listeners(t, server)) == n
	})
}

// allWithin polls every node until cond holds on it, and fails the test
// unless it did on each in a check begun within propagation.
func allWithin(t *testing.T, nodes []*node, what string, cond func(*node) bool) {
	t.Helper()
	start := time.Now()
	took := map[string]time.Duration{}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for len(took) < len(nodes) {
		for _, n := range nodes {
			at := time.Since(start)
			if _, done := took[n.name]; !done && cond(n) {
				took[n.name] = at
			}
		}
		if len(took) < len(nodes) && time.Since(start) > propagation {
			t.Fatalf("nodes %s: only %v did within %v", what, took, propagation)
		}
		<-tick.C
	}
	for name, at := range took {
		if at > propagation {
			t.Errorf("node %s did %s in a check begun %v after, want within %v", name, what, at, propagation)
		}
	}
	t.Logf("nodes %s in checks begun %v after", what, took)
}
