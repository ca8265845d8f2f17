package faults

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// testReloads reloads a node's config fifty times through Caddy's admin
// API while viewers load it steadily. The config has two sites in front of
// the same upstream: linkgate's, with alias_auth, and a control with plain
// reverse_proxy, under the same load. Caddy's own listener handoff may
// reset a new connection here and there during a reload, with or without
// linkgate; linkgate must add nothing to that: no answer from it other
// than 200, and no more connection failures than the control had. The node
// must come out as it went in (goroutines, file descriptors, database
// connections), and keep its caches, since the cache settings do not
// change: hits keep growing and the hot aliases are never loaded again.
func testReloads(t *testing.T, bin string) {
	const reloads = 50
	srv := pgtest.NewCluster(t)
	srv.Exec(t, "postgres", "CREATE DATABASE linkgate")
	up := newQuietUpstream(t)
	s := testcaddy.NewSite(t, "{env.LINKGATE_DATABASE}", up)
	s.Admin = testcaddy.FreePort(t)
	admin := fmt.Sprintf("http://127.0.0.1:%d", s.Admin)
	// The control is a site of its own on linkgate's port, told apart by
	// the Host header: one listener, so that a reload resets connections
	// of either alike, whatever order Caddy stops its servers in.
	control := http.Header{"Host": {fmt.Sprintf("%s:%d", controlHost, s.Port)}}
	configure := func(i int) {
		s.Routes = fmt.Sprintf(`respond /config "%d" 200`, i)
		s.Extra = fmt.Sprintf(`http://%s:%d {
	bind 127.0.0.1
	respond /config "%d" 200
	reverse_proxy %s
}`, controlHost, s.Port, i, s.Upstream)
	}
	configure(0)
	n := startNode(t, bin, "A", s, "LINKGATE_DATABASE="+srv.URL("linkgate"))
	n.waitReady(t)
	_, token := newOrg(t, bin, srv.URL("linkgate"))
	hot := []string{createAlias(t, n.base, token, "hot-passcode"), createAlias(t, n.base, token, "hot-passcode")}
	for _, id := range hot {
		warm(t, n.base, livePath(id, "hot-passcode"))
	}

	pid := n.cmd.Process.Pid
	before := footprint{
		goroutines: goroutines(t, admin),
		fds:        openFiles(t, pid),
		conns:      len(nodeConnections(t, srv)),
	}
	loads := metric(t, n.base, aliasLoads)
	t.Logf("before: %+v, %v alias loads", before, loads)

	// Each worker asks both sites at once, so that both see the same load
	// at the same moments, reloads included.
	var sites [2]siteLoad
	paths := [2]string{"/live/%s/segment.ts?passcode=hot-passcode", "/live/%s/segment.ts"}
	headers := [2]http.Header{nil, control}
	var next atomic.Int64
	stop := workers(4, 5*time.Millisecond, func(int) {
		id := hot[int(next.Add(1))%len(hot)]
		var wg sync.WaitGroup
		for i := range sites {
			wg.Go(func() { sites[i].request(n.base+fmt.Sprintf(paths[i], id), headers[i]) })
		}
		wg.Wait()
	})
	defer stop()
	testcaddy.PollUntil(t, 10*time.Second, "the load runs", func() bool { return sites[0].ok.Load() >= 100 })

	hits := metric(t, n.base, aliasHits)
	for i := 1; i <= reloads; i++ {
		configure(i)
		// Loading the same config again changes nothing, so a load whose
		// answer was lost may be sent again.
		r := persist(t, http.MethodPost, admin+"/load", http.Header{"Content-Type": {"text/caddyfile"}}, s.Caddyfile(t))
		if r.status != http.StatusOK {
			t.Fatalf("reload %d: %d %s", i, r.status, r.body)
		}
		for _, h := range []http.Header{nil, control} {
			if r := persist(t, http.MethodGet, n.base+"/config", h, ""); string(r.body) != strconv.Itoa(i) {
				t.Fatalf("reload %d: /config (Host %q) answers %d %q", i, h.Get("Host"), r.status, r.body)
			}
		}
		if i%10 == 0 {
			if now := metric(t, n.base, aliasHits); now <= hits {
				t.Errorf("after reload %d the alias cache's hits stayed at %v: the cache was replaced", i, now)
			}
			hits = metric(t, n.base, aliasHits)
		}
	}
	testcaddy.PollUntil(t, 10*time.Second, "the load runs after the reloads", func() bool { return sites[0].ok.Load() >= 2*100 })
	stop()

	lg, ctl := &sites[0], &sites[1]
	t.Logf("linkgate: %d answered 200, %d failed at the connection, %d answered otherwise; control: %d, %d, %d",
		lg.ok.Load(), lg.reset.count(), lg.answered.count(), ctl.ok.Load(), ctl.reset.count(), ctl.answered.count())
	if lg.answered.count() > 0 {
		t.Errorf("linkgate answered otherwise than 200 during the reloads: %s", &lg.answered)
	}
	if ctl.answered.count() > 0 {
		t.Errorf("the control answered otherwise than 200 during the reloads: %s", &ctl.answered)
	}
	// The connection failures are Caddy's, and fall at random (a new
	// connection the kernel queued on the listener a reload closes is
	// reset): comparing two such counts strictly would be a coin toss. If
	// linkgate adds nothing, each failure is as likely to hit either site,
	// since both are asked at the same moments on the same listener; the
	// test fails when linkgate's share is more than chance would give once
	// in a thousand runs.
	l, c := lg.reset.count(), ctl.reset.count()
	if p := binomialTail(l+c, l); p < 0.001 {
		t.Errorf("linkgate's site lost %d connections during the reloads, the control %d: chance gives that split with probability %.2g: %s", l, c, p, &lg.reset)
	}
	if strings.Contains(n.log.String(), "panic") {
		t.Error("the node's log mentions a panic")
	}
	if now := metric(t, n.base, aliasLoads); now != loads {
		t.Errorf("the alias cache loaded %v times during the reloads, want none: its hot aliases were cached before", now-loads)
	}

	// What the reloads left behind shows once the load is over and the
	// last config's predecessors are gone.
	var after footprint
	testcaddy.PollUntil(t, 20*time.Second, "the node back to its footprint before the reloads", func() bool {
		after = footprint{goroutines: goroutines(t, admin), fds: openFiles(t, pid), conns: len(nodeConnections(t, srv))}
		return after.goroutines <= before.goroutines && after.fds <= before.fds && after.conns <= before.conns
	})
	t.Logf("after %d reloads: %+v", reloads, after)
}

// persist makes a request of the test's own, sending it again when it got
// no answer: a reload may reset a connection (Caddy's admin API's too),
// and what the load counts, the test's own checks must not trip on.
func persist(t *testing.T, method, url string, header http.Header, body string) reply {
	t.Helper()
	var errs []error
	for range 5 {
		r, err := send(plain, method, url, header, body)
		if err == nil {
			return r
		}
		errs = append(errs, err)
	}
	t.Fatalf("%s %s: no answer in 5 tries: %v", method, url, errs)
	return reply{}
}

// controlHost names the control site of the reload test.
const controlHost = "control.test"

// footprint is what a node holds that a leak would grow.
type footprint struct {
	goroutines int
	fds        int // open file descriptors
	conns      int // connections to the database
}

// siteLoad is what one site answered the load.
type siteLoad struct {
	ok       atomic.Int64
	reset    failures // no answer: refused, reset, cut off
	answered failures // an answer other than 200
}

func (l *siteLoad) request(url string, header http.Header) {
	r, err := send(plain, http.MethodGet, url, header, "")
	switch {
	case err != nil:
		l.reset.add("%v", err)
	case r.status != http.StatusOK:
		l.answered.add("%d %s", r.status, r.body)
	default:
		l.ok.Add(1)
	}
}

// newQuietUpstream is a media backend that keeps no connection alive, so
// that reverse_proxy's idle connections to it, which outlive a config, do
// not count in the node's footprint.
func newQuietUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		w.Write([]byte("segment\n"))
	}))
	up.Config.SetKeepAlivesEnabled(false)
	up.Start()
	t.Cleanup(up.Close)
	return up
}

// goroutines is the node's goroutine count, from the admin API's profile.
func goroutines(t *testing.T, admin string) int {
	t.Helper()
	r := get(t, admin+"/debug/pprof/goroutine?debug=1")
	line, _, _ := strings.Cut(string(r.body), "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(line, "goroutine profile: total "))
	if r.status != http.StatusOK || err != nil {
		t.Fatalf("goroutine profile: %d %q", r.status, line)
	}
	return n
}

// openFiles counts the file descriptors process pid holds.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("counting file descriptors: %v", err)
	}
	return len(entries)
}

// nodeConnections are the PIDs of server's backends serving linkgate's
// database to anyone but this check.
func nodeConnections(t *testing.T, server *pgtest.Cluster) []int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = 'linkgate' AND pid <> pg_backend_pid()")
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// binomialTail is the probability that at least k of n fair coin tosses
// come up heads.
func binomialTail(n, k int) float64 {
	p := 0.0
	for i := k; i <= n; i++ {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(i + 1))
		c, _ := math.Lgamma(float64(n - i + 1))
		p += math.Exp(a - b - c - float64(n)*math.Ln2)
	}
	return p
}
