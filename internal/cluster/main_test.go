package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/jackc/pgx/v5"

	_ "github.com/linkgate/linkgate/caddymodule"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// API paths, as the seed documents them.
const (
	pathRetrieve = "/api/v1/alias/"
	pathCreate   = "/organization/api/v1/alias/create"
	pathUpdate   = "/organization/api/v1/alias/update/"
	pathDelete   = "/organization/api/v1/alias/delete/"
)

// client bounds every request at 5 s, so a node that hangs on a database
// that is down fails the test instead of stalling it. It follows no
// redirects, keeps no cookies (a session cookie would hide a changed
// passcode), and keeps no idle connection that could outlive a config or
// count as a leaked goroutine.
var client = &http.Client{
	Timeout:       5 * time.Second,
	Transport:     &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// newUpstream is the media backend: it answers 200 to everything. It
// keeps no connection alive, so that the goroutines of reverse_proxy's
// idle connections (which Caddy keeps across reloads) do not hide
// linkgate's in goroutine counts.
func newUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "upstream ok\n")
	}))
	up.Config.SetKeepAlivesEnabled(false)
	up.Start()
	t.Cleanup(up.Close)
	return up
}

// reply is a node's answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request; auth goes in the Authorization header unless
// empty, body is sent as JSON unless empty.
func send(ctx context.Context, method, url, auth, body string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: reading the body: %w", method, url, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// do is send for the test's goroutine: a request that gets no answer
// fails the test.
func do(t *testing.T, method, url, auth, body string) reply {
	t.Helper()
	r, err := send(t.Context(), method, url, auth, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// get is a GET without credentials other than those in the URL.
func get(t *testing.T, url string) reply {
	t.Helper()
	return do(t, http.MethodGet, url, "", "")
}

// errorCode returns the code of r's JSON error body, or "" if r has none.
func errorCode(r reply) string {
	var body gate.ErrorBody
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || json.Unmarshal(r.body, &body) != nil {
		return ""
	}
	return body.Errors.Code
}

// want fails the test unless r has status and, for an error status, the
// JSON error with code.
func want(t *testing.T, r reply, status int, code, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, r.status, status, r.body)
	}
	if status >= 400 {
		if got := errorCode(r); got != code {
			t.Fatalf("%s: %d with error code %q, want %q; body: %s", what, r.status, got, code, r.body)
		}
	}
}

// livePath is the gateway path of alias id opened with passcode.
func livePath(id, passcode string) string {
	return "/live/" + id + "/index.m3u8?passcode=" + url.QueryEscape(passcode)
}

// createAlias creates a live alias with passcode through the API at base
// and returns its ID.
func createAlias(t *testing.T, base, token, passcode string) string {
	t.Helper()
	return createAliasWith(t, base, token, fmt.Sprintf(`"passcode":%q`, passcode))
}

// createAliasWith creates a live alias with the given JSON members through
// the API at base and returns its ID.
func createAliasWith(t *testing.T, base, token, members string) string {
	t.Helper()
	body := fmt.Sprintf(`{"type":"live","expired_at":%d,%s}`, time.Now().Add(time.Hour).Unix(), members)
	r := do(t, http.MethodPost, base+pathCreate, "Bearer "+token, body)
	want(t, r, http.StatusCreated, "", "creating an alias")
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || created.Data.ID == "" {
		t.Fatalf("creating an alias: body %s: %v", r.body, err)
	}
	return created.Data.ID
}

// pollUntil calls cond until it reports true or timeout passes.
func pollUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	within(t, timeout, what, cond)
}

// within calls cond until it reports true, and fails the test unless a
// call that began at most limit after within was called reported it. It
// returns when that call began.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		at := time.Since(start)
		ok := cond()
		switch {
		case ok && at <= limit:
			return at
		case at > limit:
			t.Fatalf("%s: not the case in any check begun within %v", what, limit)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-tick.C:
		}
	}
}

// metrics scrapes base/metrics into its series, keyed by name and labels
// as the text format prints them.
func metrics(t *testing.T, base string) (series map[string]float64, text string) {
	t.Helper()
	r := get(t, base+"/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", r.status, r.body)
	}
	series = map[string]float64{}
	for line := range strings.Lines(string(r.body)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// The value comes last; label values may hold spaces.
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("GET /metrics: cannot read the line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("GET /metrics: cannot read the line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series, string(r.body)
}

// metric is one series of base/metrics; it must be there.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	m, _ := metrics(t, base)
	v, ok := m[series]
	if !ok {
		t.Fatalf("GET /metrics has no %s", series)
	}
	return v
}

// Series of linkgate's metrics the tests read.
const (
	aliasHits          = `linkgate_cache_hits_total{cache="alias"}`
	aliasMisses        = `linkgate_cache_misses_total{cache="alias"}`
	aliasLoads         = `linkgate_cache_loads_total{cache="alias"}`
	aliasFlushes       = `linkgate_cache_flushes_total{cache="alias"}`
	aliasNegativeHits  = `linkgate_cache_negative_hits_total{cache="alias"}`
	tokenHits          = `linkgate_cache_hits_total{cache="token"}`
	listenerReconnects = `linkgate_listener_reconnects_total`
)

// warm requests path on the node at base until the node answers it from
// its cache, which the alias (or token) cache's hit counter shows: the
// first request loads the entry, and ristretto may take a moment to keep
// it, or drop it.
func warm(t *testing.T, base, path, auth, hits string) {
	t.Helper()
	remember(t, base, path, auth, hits, http.StatusOK)
}

// remember requests path on the node at base, which must answer status,
// until counter (a hit counter) shows that an answer came from memory.
func remember(t *testing.T, base, path, auth, counter string, status int) {
	t.Helper()
	pollUntil(t, 5*time.Second, "the node answers "+path+" from its cache", func() bool {
		before := metric(t, base, counter)
		r := do(t, http.MethodGet, base+path, auth, "")
		if r.status != status {
			t.Fatalf("warming %s: status %d, want %d; body: %s", path, r.status, status, r.body)
		}
		return metric(t, base, counter) > before
	})
}

// testApplication names the test's own connections, which connection
// counts leave out.
const testApplication = "linkgate-cluster-test"

// database is a test's own database.
type database struct {
	dsn     string // for the nodes
	testDSN string // for the test's own connections, which counts leave out
	name    string
}

func newDatabase(t *testing.T) database {
	t.Helper()
	dsn := pgtest.DB(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn) // pgtest.DB returns a URL
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", testApplication)
	u.RawQuery = q.Encode()
	return database{dsn: dsn, testDSN: u.String(), name: cfg.Database}
}

// connect opens a connection of the test's own; it closes when the test
// ends, if the test has not closed it.
func (d database) connect(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.testDSN)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// exec runs one statement on a connection of its own, so that no pool of
// the test outlives it (goroutines, connection counts), and wants it to
// change exactly one row.
func (d database) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	conn := d.connect(t)
	defer conn.Close(context.Background())
	tag, err := conn.Exec(t.Context(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("%s: changed %d rows, want 1", sql, tag.RowsAffected())
	}
}

// store opens the database as linkgate's store; the test's end closes it.
func (d database) store(t *testing.T) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(d.testDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// newOrg creates an organization and a token of it. The schema must be
// there: a node's start applies it.
func (d database) newOrg(t *testing.T) (orgID, token string) {
	t.Helper()
	s, err := pgstore.Open(d.testDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return testcaddy.NewOrg(t, s)
}

// pids returns, sorted, the server processes connected to the database
// with the application name where, a SQL condition on application_name.
func (d database) pids(t *testing.T, where string) []int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND "+where+" ORDER BY pid", d.name)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// nodeBackends are the connections of the nodes (pools and listeners) to
// the database: all but the test's own.
func (d database) nodeBackends(t *testing.T) []int {
	t.Helper()
	return d.pids(t, "application_name <> '"+testApplication+"'")
}

// listeners are the invalidation listeners' connections to the database.
func (d database) listeners(t *testing.T) []int {
	t.Helper()
	return d.pids(t, "application_name = '"+pgstore.ListenerApplicationName+"'")
}

// waitListeners waits until exactly n listeners are connected and returns
// their PIDs.
func (d database) waitListeners(t *testing.T, n int) []int {
	t.Helper()
	var pids []int
	pollUntil(t, 30*time.Second, fmt.Sprintf("exactly %d listener connection(s)", n), func() bool {
		pids = d.listeners(t)
		return len(pids) == n
	})
	return pids
}
