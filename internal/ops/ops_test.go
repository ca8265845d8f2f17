package ops

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/pgstore"
)

// TestOps builds the binary once and runs what an operator sees of it.
// Readiness comes last: it stops the package's PostgreSQL.
func TestOps(t *testing.T) {
	bin := testcaddy.BuildCaddy(t)
	t.Run("root Caddyfile", func(t *testing.T) { testRootCaddyfile(t, bin) })
	t.Run("admin API", func(t *testing.T) { testAdminAPI(t, bin) })
	t.Run("access log", func(t *testing.T) { testAccessLog(t, bin) })
	t.Run("readiness", func(t *testing.T) { testReadiness(t, bin) })
}

// testRootCaddyfile runs the root Caddyfile with every port from the
// environment: it must open those ports and no other, answer its health
// check, its admin API and, through the gateway, its demo backend.
func testRootCaddyfile(t *testing.T, bin string) {
	text, err := os.ReadFile(filepath.Join("..", "..", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	httpPort, demoPort, adminPort := testcaddy.FreePort(t), testcaddy.FreePort(t), testcaddy.FreePort(t)
	p := testcaddy.Run(t, bin, "root Caddyfile", string(text),
		fmt.Sprintf("LINKGATE_HTTP_PORT=%d", httpPort),
		fmt.Sprintf("LINKGATE_DEMO_PORT=%d", demoPort),
		fmt.Sprintf("LINKGATE_ADMIN_PORT=%d", adminPort))
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	p.WaitReady(t, func() bool {
		r, err := client.Get(base + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	})

	if runtime.GOOS == "linux" {
		want := []int{httpPort, demoPort, adminPort}
		slices.Sort(want)
		if got := listeningPorts(t, p.Pid()); !slices.Equal(got, want) {
			t.Errorf("the root Caddyfile listens on %v, want exactly the ports from the environment %v", got, want)
		}
	}

	status, h, _ := checkHealth(t, base)
	if status != http.StatusOK || h.Status != "ok" || h.Feed.Kind != "poll" || !h.Feed.Connected || !h.Store.Reachable {
		t.Errorf("health of the embedded store: %d %+v; want 200, ok, the poll feed connected", status, h)
	}
	if r := send(t, http.MethodPost, base+"/healthz", ""); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /healthz: status %d, Allow %q; want 405, GET, HEAD", r.status, r.header.Get("Allow"))
	}

	r := get(t, fmt.Sprintf("http://localhost:%d/linkgate/status", adminPort))
	var st statusBody
	decode(t, "GET /linkgate/status", r, &st)
	wantDB := "sqlite:" + filepath.Join(p.Dir, "data", "caddy", "linkgate", "linkgate.db")
	if len(st.Nodes) != 1 || st.Nodes[0].Store.Kind != "sqlite" || st.Nodes[0].Store.Database != wantDB {
		t.Errorf("the admin API's status: %s; want one sqlite node on %s", r.body, wantDB)
	}

	// The CLI finds the same database through the same Caddyfile and
	// environment.
	token := newOrg(t, bin, []string{"HOME=" + p.Dir,
		"XDG_CONFIG_HOME=" + filepath.Join(p.Dir, "config"), "XDG_DATA_HOME=" + filepath.Join(p.Dir, "data")},
		"--config", filepath.Join(p.Dir, "Caddyfile"))
	a := createAlias(t, base, token)
	r = get(t, base+"/live/"+a.ID+"/index.m3u8?passcode="+url.QueryEscape(a.Passcode))
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte("demo backend")) || !bytes.Contains(r.body, []byte("alias:         "+a.ID)) {
		t.Errorf("a viewer through the gateway: status %d: %s; want the demo backend naming the alias", r.status, r.body)
	}
}

// listeningPorts returns, sorted, the TCP ports process pid listens on
// and the UDP ports it has bound, from /proc.
func listeningPorts(t *testing.T, pid int) []int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	sockets := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			sockets[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var ports []int
	// 0A is TCP's LISTEN, 07 an unconnected UDP socket.
	for file, state := range map[string]string{"tcp": "0A", "tcp6": "0A", "udp": "07", "udp6": "07"} {
		table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			continue // no IPv6 here
		}
		sc := bufio.NewScanner(bytes.NewReader(table))
		sc.Scan() // the header
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 10 || f[3] != state || !sockets[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			port, err := strconv.ParseUint(hexPort, 16, 16)
			if err != nil {
				t.Fatalf("/proc/%d/net/%s: %q", pid, file, sc.Text())
			}
			ports = append(ports, int(port))
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// statusBody is the body of GET /linkgate/status, as the README documents
// it.
type statusBody struct {
	Nodes []nodeStatus `json:"nodes"`
}

type nodeStatus struct {
	Status string  `json:"status"`
	Reason *string `json:"reason"`
	Store  struct {
		Kind        string  `json:"kind"`
		Database    string  `json:"database"`
		Reachable   bool    `json:"reachable"`
		Error       *string `json:"error"`
		LastContact *int64  `json:"last_contact"`
		MaxStale    int64   `json:"max_stale"`
		Migrations  *struct {
			Applied []int64 `json:"applied"`
			Pending []int64 `json:"pending"`
		} `json:"migrations"`
	} `json:"store"`
	Feed   feed                 `json:"feed"`
	Caches map[string]cacheStat `json:"caches"`
}

type cacheStat struct {
	Entries       int64    `json:"entries"`
	NotFound      int64    `json:"not_found_entries"`
	Lookups       uint64   `json:"lookups"`
	Hits          uint64   `json:"hits"`
	NegativeHits  uint64   `json:"negative_hits"`
	Misses        uint64   `json:"misses"`
	HitRatio      *float64 `json:"hit_ratio"`
	Loads         uint64   `json:"loads"`
	LoadErrors    uint64   `json:"load_errors"`
	StaleServed   uint64   `json:"stale_served"`
	Invalidations uint64   `json:"invalidations"`
	Flushes       uint64   `json:"flushes"`
}

// cacheKeys are the fields of a cache in the status, as documented.
var cacheKeys = []string{"entries", "not_found_entries", "lookups", "hits", "negative_hits", "misses", "hit_ratio",
	"loads", "load_errors", "stale_served", "invalidations", "flushes"}

// adminStatus asks the admin API for the status of the gateway's one
// node, checking that every documented field, and only those, is there.
func adminStatus(t *testing.T, g *gateway) nodeStatus {
	t.Helper()
	r := get(t, g.admin+"/linkgate/status")
	if r.status != http.StatusOK {
		t.Fatalf("GET /linkgate/status: status %d: %s", r.status, r.body)
	}
	var raw struct{ Nodes []json.RawMessage }
	decode(t, "GET /linkgate/status", r, &raw)
	wantKeys(t, "the status", r.body, "nodes")
	if len(raw.Nodes) != 1 {
		t.Fatalf("GET /linkgate/status lists %d nodes, want 1: %s", len(raw.Nodes), r.body)
	}
	var fields struct {
		Store, Feed json.RawMessage
		Caches      map[string]json.RawMessage
	}
	json.Unmarshal(raw.Nodes[0], &fields)
	wantKeys(t, "a node", raw.Nodes[0], "status", "reason", "store", "feed", "caches")
	wantKeys(t, "a node's store", fields.Store, "kind", "database", "reachable", "error", "last_contact", "max_stale", "migrations")
	wantKeys(t, "a node's feed", fields.Feed, "kind", "connected", "since")
	for _, name := range []string{"alias", "token"} {
		wantKeys(t, "the "+name+" cache", fields.Caches[name], cacheKeys...)
	}
	var s nodeStatus
	if err := json.Unmarshal(raw.Nodes[0], &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// migrationVersions reads the versions of PostgreSQL's migrations off the
// names of their files.
func migrationVersions(t *testing.T) []int64 {
	t.Helper()
	files, err := os.ReadDir(filepath.Join("..", "..", "store", "pgstore", "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, f := range files {
		digits, _, _ := strings.Cut(f.Name(), "_")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			t.Fatalf("migration %s has no version", f.Name())
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	return versions
}

// testAdminAPI: the status shows the store, the feed, the migrations and
// the caches as documented, without the database password; a flush
// empties the caches, and the next request loads its alias again.
func testAdminAPI(t *testing.T, bin string) {
	dsn, password := withPassword(t, pgtest.DB(t))
	g := startGateway(t, bin, "admin", dsn, "", true)

	var s nodeStatus
	testcaddy.PollUntil(t, 10*time.Second, "the status shows the change feed connected", func() bool {
		s = adminStatus(t, g)
		return s.Feed.Connected
	})
	if s.Status != "ok" || s.Reason != nil {
		t.Errorf("status %q, reason %v; want ok, null", s.Status, s.Reason)
	}
	st := s.Store
	if st.Kind != "postgres" || !st.Reachable || st.Error != nil || st.LastContact == nil || time.Since(time.Unix(*st.LastContact, 0)) > time.Minute {
		t.Errorf("store %+v; want postgres, reachable, no error, a recent last contact", st)
	}
	if st.MaxStale != int64(5*time.Minute) {
		t.Errorf("max_stale %d, want the default 5m in nanoseconds", st.MaxStale)
	}
	if password != "" && (strings.Contains(st.Database, password) || !strings.Contains(st.Database, ":xxxxx@")) {
		t.Errorf("database %q: want the password replaced by xxxxx", st.Database)
	}
	if st.Migrations == nil || !slices.Equal(st.Migrations.Applied, migrationVersions(t)) || st.Migrations.Pending == nil || len(st.Migrations.Pending) != 0 {
		t.Errorf("migrations %+v; want applied %v, pending []", st.Migrations, migrationVersions(t))
	}
	if s.Feed.Kind != "listen" || s.Feed.Since == nil {
		t.Errorf("feed %+v; want listen, connected since a time", s.Feed)
	}

	// The change notices of the new token and the new alias must have
	// come before the caches are counted: a late one would empty them.
	token := newOrg(t, bin, nil, "--database", dsn)
	testcaddy.PollUntil(t, 5*time.Second, "the node hears of the new token", func() bool {
		return adminStatus(t, g).Caches["token"].Invalidations >= 1
	})
	a := createAlias(t, g.base, token)
	testcaddy.PollUntil(t, 5*time.Second, "the node hears of the new alias", func() bool {
		// Once as the API wrote it, once as the notice came.
		return adminStatus(t, g).Caches["alias"].Invalidations >= 2
	})
	viewer := g.base + "/live/" + a.ID + "/index.m3u8?passcode=" + url.QueryEscape(a.Passcode)
	wantAdmitted := func() {
		t.Helper()
		if r := get(t, viewer); r.status != http.StatusOK {
			t.Fatalf("the viewer: status %d: %s", r.status, r.body)
		}
	}
	wantAdmitted()
	testcaddy.PollUntil(t, 5*time.Second, "the alias is cached and a request hits it", func() bool {
		wantAdmitted()
		c := adminStatus(t, g).Caches["alias"]
		return c.Entries == 1 && c.Hits > 0
	})
	s = adminStatus(t, g)
	alias := s.Caches["alias"]
	if alias.Lookups != alias.Hits+alias.NegativeHits+alias.Misses || alias.HitRatio == nil ||
		*alias.HitRatio != float64(alias.Hits+alias.NegativeHits)/float64(alias.Lookups) {
		t.Errorf("alias cache %+v: lookups must be hits + negative hits + misses, hit_ratio (hits + negative hits) / lookups", alias)
	}
	if tokens := s.Caches["token"]; tokens.Entries != 1 {
		t.Errorf("token cache of %d entries after one organization's create; want 1", tokens.Entries)
	}

	r := send(t, http.MethodPost, g.admin+"/linkgate/cache/flush", "")
	if r.status != http.StatusOK {
		t.Fatalf("POST /linkgate/cache/flush: status %d: %s", r.status, r.body)
	}
	var flushed struct {
		Flushed []struct {
			Database string
			Caches   map[string]struct {
				Entries  int64 `json:"entries"`
				NotFound int64 `json:"not_found_entries"`
			}
		}
	}
	decode(t, "the flush", r, &flushed)
	if len(flushed.Flushed) != 1 || flushed.Flushed[0].Database != st.Database ||
		flushed.Flushed[0].Caches["alias"].Entries != 1 || flushed.Flushed[0].Caches["token"].Entries != 1 {
		t.Errorf("the flush answered %s; want the node's database, 1 alias and 1 token flushed", r.body)
	}
	if password != "" && bytes.Contains(r.body, []byte(password)) {
		t.Errorf("the flush's answer holds the database password: %s", r.body)
	}
	after := adminStatus(t, g)
	if a, tk := after.Caches["alias"], after.Caches["token"]; a.Entries != 0 || tk.Entries != 0 || a.Flushes != alias.Flushes+1 {
		t.Errorf("after the flush: %d aliases, %d tokens cached, %d flushes (was %d); want none, none, one more", a.Entries, tk.Entries, a.Flushes, alias.Flushes)
	}
	wantAdmitted()
	testcaddy.PollUntil(t, 5*time.Second, "the alias is cached again", func() bool {
		return adminStatus(t, g).Caches["alias"].Entries == 1
	})
	if loads := adminStatus(t, g).Caches["alias"].Loads; loads != alias.Loads+1 {
		t.Errorf("alias loads %d after the flush and one request, %d before; want one more", loads, alias.Loads)
	}

	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/linkgate/cache/flush", "POST"},
		{http.MethodPost, "/linkgate/status", "GET"},
	} {
		r := send(t, tc.method, g.admin+tc.path, "")
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: status %d, Allow %q; want 405, %s", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.allow)
		}
	}
	if password != "" && strings.Contains(g.proc.Log.String(), password) {
		t.Error("Caddy's log holds the database password")
	}
}

// testAccessLog: each admitted request's access log line carries who was
// let in as user_id, and no credential shows anywhere in the access log
// or in Caddy's own log.
func testAccessLog(t *testing.T, bin string) {
	dsn, password := withPassword(t, pgtest.DB(t))
	g := startGateway(t, bin, "access log", dsn, "", false)
	token := newOrg(t, bin, nil, "--database", dsn)
	a := createAlias(t, g.base, token)
	viewerJWT, hostJWT, anonymousJWT := a.jwtFor(t, "ursula", false), a.jwtFor(t, "henry", true), a.jwtFor(t, "", false)
	secrets := map[string]string{
		"passcode": a.Passcode, "JWT secret": a.JWTSecret, "stream key": a.StreamKey, "organization token": token,
		"viewer JWT": viewerJWT, "host JWT": hostJWT, "JWT without user": anonymousJWT,
	}
	if password != "" {
		secrets["DSN password"] = password
	}

	type admission struct {
		name, path string
		header     []string
		user, role string
	}
	live, whip := "/live/"+a.ID+"/", "/whip/"+a.ID+"/"
	admissions := []admission{
		{"passcode in the query", live + "query.m3u8?passcode=" + url.QueryEscape(a.Passcode) + "&v=1", nil, "viewer:" + a.ID, "viewer"},
		{"passcode in the header", live + "header.m3u8", []string{"X-Alias-Passcode", a.Passcode}, "viewer:" + a.ID, "viewer"},
		{"viewer JWT in ?token=", live + "token.m3u8?token=" + viewerJWT, nil, "ursula", "viewer"},
		{"host JWT in Authorization", live + "bearer.m3u8", []string{"Authorization", "Bearer " + hostJWT}, "henry", "host"},
		{"JWT without user_id", live + "anonymous.m3u8?jwt=" + anonymousJWT, nil, "viewer:" + a.ID, "viewer"},
		{"stream key", whip + "key", []string{"Authorization", "Bearer " + a.StreamKey}, "publisher:" + a.ID, "publisher"},
		{"organization token", whip + "owner", []string{"Authorization", "Bearer " + token}, "owner:" + a.ID, "owner"},
	}
	cookies := map[string]string{}
	for _, ad := range admissions {
		r := get(t, g.base+ad.path, ad.header...)
		want := admittedAs(ad.user, a.ID, ad.role)
		if r.status != http.StatusOK || string(r.body) != want {
			t.Fatalf("%s: status %d, %q; want 200, %q", ad.name, r.status, r.body, want)
		}
		for _, c := range (&http.Response{Header: r.header}).Cookies() {
			cookies[ad.user] = c.Name + "=" + c.Value
			secrets["session cookie of "+ad.user] = c.Value
		}
	}
	// The session cookies that the passcode and the host's JWT set open
	// the alias alone, and name the same people.
	for _, user := range []string{"viewer:" + a.ID, "henry"} {
		if cookies[user] == "" {
			t.Fatalf("no session cookie was set for %s", user)
		}
		role := map[bool]string{true: "host", false: "viewer"}[user == "henry"]
		admissions = append(admissions, admission{"session cookie of " + user, live + "cookie-" + role + ".ts", []string{"Cookie", cookies[user]}, user, role})
		ad := admissions[len(admissions)-1]
		if r := get(t, g.base+ad.path, ad.header...); r.status != http.StatusOK || string(r.body) != admittedAs(user, a.ID, role) {
			t.Fatalf("%s: status %d, %q", ad.name, r.status, r.body)
		}
	}

	// The access log is written once the response is, so it may trail the
	// client by a moment.
	var entries map[string]string // path -> user_id
	testcaddy.PollUntil(t, 5*time.Second, "the access log has a line for every admitted request", func() bool {
		entries = accessLog(t, g.logPath)
		for _, ad := range admissions {
			path, _, _ := strings.Cut(ad.path, "?")
			if _, ok := entries[path]; !ok {
				return false
			}
		}
		return true
	})
	for _, ad := range admissions {
		path, _, _ := strings.Cut(ad.path, "?")
		if got := entries[path]; got != ad.user {
			t.Errorf("%s: the access log's user_id is %q, want %q", ad.name, got, ad.user)
		}
	}
	log, err := os.ReadFile(g.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for what, secret := range secrets {
		if bytes.Contains(log, []byte(secret)) {
			t.Errorf("the access log holds the %s", what)
		}
		if strings.Contains(g.proc.Log.String(), secret) {
			t.Errorf("Caddy's own log holds the %s", what)
		}
	}
}

// admittedAs is what the test sites answer for an admission: the
// placeholders {http.auth.user.*}, then {http.linkgate.*}, whose user is
// empty when the credential named none (user is then role:alias).
func admittedAs(user, aliasID, role string) string {
	named := user
	if strings.HasSuffix(user, ":"+aliasID) {
		named = ""
	}
	return fmt.Sprintf("user=%s alias=%s role=%s linkgate=%s/%s/%s", user, aliasID, role, aliasID, role, named)
}

// accessLog reads the access log at path: the user_id of each request,
// keyed by its path.
func accessLog(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	users := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var entry struct {
			Logger  string
			Request struct{ URI string }
			UserID  string `json:"user_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Fatalf("the access log has a line that is not JSON: %q", sc.Text())
		}
		if strings.HasPrefix(entry.Logger, "http.log.access") {
			p, _, _ := strings.Cut(entry.Request.URI, "?")
			users[p] = entry.UserID
		}
	}
	return users
}

// testReadiness stops PostgreSQL under three nodes: one that never served
// an alias (cold), one that did (warm), and a warm one whose max_stale is
// 1s. The cold node says 503 store_unreachable within 2 s; the warm one
// stays 200 and says the store is unreachable, and keeps serving its
// alias; the one with the short max_stale turns 503 once it has passed.
// All three are 200 and ok again once PostgreSQL is back.
func testReadiness(t *testing.T, bin string) {
	dsn := pgtest.DB(t)
	// The alias is made before the nodes start, so that no change notice
	// of it can empty a cache once it is warm.
	a := aliasInStore(t, dsn)
	warm := startGateway(t, bin, "warm", dsn, "", false)
	cold := startGateway(t, bin, "cold", dsn, "", false)
	brief := startGateway(t, bin, "brief", dsn, "max_stale 1s", false)
	nodes := map[string]*gateway{"warm": warm, "cold": cold, "brief": brief}
	for name, g := range nodes {
		testcaddy.PollUntil(t, 10*time.Second, name+" is ok", func() bool {
			status, h, _ := checkHealth(t, g.base)
			return status == http.StatusOK && h.Status == "ok"
		})
	}

	viewer := "/live/" + a.ID + "/index.m3u8?passcode=" + url.QueryEscape(a.Passcode)
	for _, g := range []*gateway{warm, brief} {
		testcaddy.PollUntil(t, 5*time.Second, "the node's cache holds the alias", func() bool {
			if r := get(t, g.base+viewer); r.status != http.StatusOK {
				t.Fatalf("the viewer: status %d: %s", r.status, r.body)
			}
			_, h, _ := checkHealth(t, g.base)
			return h.Cache.Aliases > 0
		})
	}
	if _, h, _ := checkHealth(t, cold.base); h.Cache.Aliases != 0 {
		t.Fatalf("the cold node holds %d aliases; want none", h.Cache.Aliases)
	}

	pgtest.StopServer(t)
	stopped := time.Now()

	// The rule is 2 s (1 s of a remembered check, 1 s for a check that
	// hangs); the poll allows 1 s more for a loaded test machine.
	var h health
	var r reply
	testcaddy.PollUntil(t, 3*time.Second, "the cold node answers 503", func() bool {
		var status int
		status, h, r = checkHealth(t, cold.base)
		return status == http.StatusServiceUnavailable
	})
	t.Logf("the cold node said 503 %v after the database stopped", time.Since(stopped).Round(time.Millisecond))
	if h.Status != "unavailable" || h.reason() != "store_unreachable" || h.Store.Reachable || r.header.Get("Retry-After") == "" {
		t.Errorf("the cold node's 503: %s, Retry-After %q; want unavailable, store_unreachable, a Retry-After", r.body, r.header.Get("Retry-After"))
	}

	testcaddy.PollUntil(t, 5*time.Second, "the warm node says the store is unreachable", func() bool {
		status, h, r := checkHealth(t, warm.base)
		if status != http.StatusOK {
			t.Fatalf("the warm node, within max_stale: status %d: %s", status, r.body)
		}
		return !h.Store.Reachable
	})
	if _, h, r := checkHealth(t, warm.base); h.Status != "degraded" || h.reason() != "store_unreachable" || h.Store.LastContact == nil {
		t.Errorf("the warm node: %s; want degraded, store_unreachable, the last contact's time", r.body)
	}
	if r := get(t, warm.base+viewer); r.status != http.StatusOK {
		t.Errorf("the warm node's cached alias during the outage: status %d: %s", r.status, r.body)
	}
	testcaddy.PollUntil(t, 10*time.Second, "the node with max_stale 1s answers 503", func() bool {
		status, _, _ := checkHealth(t, brief.base)
		return status == http.StatusServiceUnavailable
	})

	pgtest.StartServer(t)
	for name, g := range nodes {
		testcaddy.PollUntil(t, 30*time.Second, name+" is ok again", func() bool {
			status, h, _ := checkHealth(t, g.base)
			return status == http.StatusOK && h.Status == "ok" && h.Store.Reachable
		})
	}
}

// aliasInStore migrates the database at dsn and creates a live alias with
// a passcode in it, straight through the store.
func aliasInStore(t *testing.T, dsn string) testAlias {
	t.Helper()
	s, err := pgstore.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	orgID, _ := testcaddy.NewOrg(t, s)
	a, err := s.CreateAlias(t.Context(), alias.Alias{
		ID: alias.NewID(), OrgID: orgID, Type: alias.TypeLive, Passcode: "readiness-passcode", ExpiredAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return testAlias{ID: a.ID, Passcode: a.Passcode}
}
