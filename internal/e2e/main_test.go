package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/golang-jwt/jwt/v5"

	_ "github.com/linkgate/linkgate/caddymodule"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clientTimeout bounds every request: a gateway that hangs (on a database
// that is down, say) fails the test instead of stalling it.
const clientTimeout = 10 * time.Second

// client follows no redirects and keeps no cookies, so tests see exactly
// what the gateway answered and send exactly the cookies they mean to.
// Without keep-alives no idle connection outlives a config.
var client = &http.Client{
	Timeout:       clientTimeout,
	Transport:     &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// markHeader tags each request a test sends with a unique value, so the
// test can tell which requests reached the upstream because of it.
const markHeader = "X-E2e-Request"

// Error codes of the gateway's JSON error bodies.
const (
	codeNotFound     = "alias_not_found"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeThrottled    = "too_many_failures"
	codeUnavailable  = "store_unavailable"
)

// Challenges of a 401.
const (
	challengeNone    = `Bearer realm="linkgate"`
	challengeInvalid = `Bearer realm="linkgate", error="invalid_token"`
)

// gateway is a real Caddy in this process, running the linkgate app on a
// fresh database in front of a recording upstream, with an organization
// that owns the aliases tests create and a second, foreign one.
type gateway struct {
	base  string // http://127.0.0.1:port
	host  string // 127.0.0.1:port
	dsn   string
	store *pgstore.Store
	up    *upstream
	// logPath is Caddy's log file.
	logPath string

	orgID      string
	token      string // the owning organization's token
	otherToken string // another organization's token
}

// gatewayRoutes are the routes of the test site; %[1]s is the upstream,
// %[2]s an address where nothing listens (a media server that is down).
// They cover every alias_auth subdirective the tests exercise.
const gatewayRoutes = `
	handle /live/* {
		alias_auth live
		reverse_proxy %[1]s
	}
	handle /whip/* {
		alias_auth live {
			require publish
		}
		reverse_proxy %[1]s
	}
	handle /host/* {
		alias_auth conference {
			require host
		}
		reverse_proxy %[1]s
	}
	handle /conference/* {
		alias_auth conference
		reverse_proxy %[1]s
	}
	handle /fwd/* {
		alias_auth live {
			forward_credentials
		}
		reverse_proxy %[1]s
	}
	handle /byquery/* {
		alias_auth live {
			id {http.request.uri.query.room}
		}
		reverse_proxy %[1]s
	}
	handle /tight/* {
		alias_auth live {
			throttle 3 1m
		}
		reverse_proxy %[1]s
	}
	handle /nocookie/* {
		alias_auth live {
			session_lifetime off
		}
		reverse_proxy %[1]s
	}
	handle /nopage/* {
		alias_auth live {
			passcode_page off
		}
		reverse_proxy %[1]s
	}
	handle /short/* {
		alias_auth live {
			session_lifetime 90s
		}
		reverse_proxy %[1]s
	}
	handle /fewer/* {
		alias_auth live {
			identity_headers role user
		}
		reverse_proxy %[1]s
	}
	handle /quiet/* {
		alias_auth live {
			identity_headers none
		}
		reverse_proxy %[1]s
	}
	handle /dead/* {
		alias_auth live
		reverse_proxy %[2]s
	}
	handle /metrics {
		metrics
	}
`

// newGateway starts Caddy with the test site. global is added to the
// global options block verbatim (such as a servers block).
func newGateway(t *testing.T, global string) *gateway {
	t.Helper()
	dsn := pgtest.DB(t)
	up := newUpstream(t)
	port := testcaddy.FreePort(t)
	// Caddy logs at DEBUG to a file: shown when the test fails, searched
	// for secrets by TestNoSecretsInLogs.
	logPath := filepath.Join(t.TempDir(), "caddy.log")
	text := fmt.Sprintf(`{
	%s
	log {
		output file %q
		level DEBUG
		# As the README asks: Caddy logs the request as the client sent it
		# when an upstream fails, before any handler could strip it.
		format filter {
			request>uri query {
				delete passcode
				delete token
				delete jwt
				delete access_token
			}
			request>headers>X-Alias-Passcode delete
		}
	}
	%s
	linkgate {
		database %s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	%s
}
`, testcaddy.GlobalOptions(t.TempDir()), logPath, global, dsn, port, fmt.Sprintf(gatewayRoutes, up.addr(), fmt.Sprintf("127.0.0.1:%d", testcaddy.FreePort(t))))
	testcaddy.Load(t, text)
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			lines := strings.SplitAfter(string(log), "\n")
			t.Logf("the last %d lines of Caddy's log:\n%s", min(len(lines), 50), strings.Join(lines[max(len(lines)-50, 0):], ""))
		}
	})

	g := &gateway{
		base:    fmt.Sprintf("http://127.0.0.1:%d", port),
		host:    fmt.Sprintf("127.0.0.1:%d", port),
		dsn:     dsn,
		up:      up,
		logPath: logPath,
	}
	s, err := pgstore.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// Caddy's start has applied the migrations; running them again is a
	// no-op that keeps the schema from depending on Caddy's start alone.
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	g.store = s
	g.orgID, g.token = testcaddy.NewOrg(t, s)
	_, g.otherToken = testcaddy.NewOrg(t, s)
	return g
}

// upstream is the media backend: it records every request it gets and
// answers 200, except on the paths of the WebSocket and streaming tests.
type upstream struct {
	srv *httptest.Server

	mu   sync.Mutex
	got  []seen
	conn []net.Conn // hijacked connections, closed at the end
	// stream is what the next request for a .../stream path plays.
	stream *streamScript
}

// seen is one request as the upstream received it.
type seen struct {
	Method string
	URI    string // the request target, path and query as sent
	Query  string // the raw query
	Header http.Header
	Body   string
}

func newUpstream(t *testing.T) *upstream {
	u := new(upstream)
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(func() {
		u.mu.Lock()
		for _, c := range u.conn {
			c.Close()
		}
		u.mu.Unlock()
		u.srv.Close()
	})
	return u
}

func (u *upstream) addr() string { return u.srv.Listener.Addr().String() }

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.got = append(u.got, seen{Method: r.Method, URI: r.RequestURI, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	u.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/ws"):
		u.websocket(w, r)
	case strings.HasSuffix(r.URL.Path, "/stream"):
		u.playStream(w, r)
	default:
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "upstream ok\n")
	}
}

// requests returns what the upstream got with the mark.
func (u *upstream) requests(mark string) []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []seen
	for _, s := range u.got {
		if s.Header.Get(markHeader) == mark {
			out = append(out, s)
		}
	}
	return out
}

// request is what a test sends to the gateway.
type request struct {
	method string // GET unless set
	path   string // path and query
	header []string
	body   string
}

// get is a GET of path with header as name/value pairs.
func get(path string, header ...string) request {
	return request{path: path, header: header}
}

// result is the gateway's answer, and what the upstream got for it.
type result struct {
	status   int
	header   http.Header
	body     []byte
	upstream []seen
}

// do sends rq to the gateway.
func (g *gateway) do(t *testing.T, rq request) result {
	t.Helper()
	method := rq.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, g.base+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(rq.header)%2 != 0 {
		t.Fatalf("odd header list %q", rq.header)
	}
	for i := 0; i < len(rq.header); i += 2 {
		req.Header.Add(rq.header[i], rq.header[i+1])
	}
	mark := randomHex(8)
	req.Header.Set(markHeader, mark)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rq.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, rq.path, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: raw, upstream: g.up.requests(mark)}
}

// wantPassed fails the test unless r is the upstream's 200 and the upstream
// got the request once, told that role and user opened alias a. It returns
// what the upstream got.
func wantPassed(t *testing.T, r result, a *madeAlias, role, user string) seen {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200 from the upstream; body: %s", r.status, r.body)
	}
	if len(r.upstream) != 1 {
		t.Fatalf("the upstream got the request %d times, want once", len(r.upstream))
	}
	s := r.upstream[0]
	want := map[string]string{
		"X-Linkgate-Alias": a.ID,
		"X-Linkgate-Type":  a.Type,
		"X-Linkgate-Role":  role,
		"X-Linkgate-User":  user,
	}
	for name, v := range want {
		if got := s.Header.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("upstream got %s %q, want exactly %q", name, got, v)
		}
	}
	return s
}

// wantDenied fails the test unless r is the gateway's JSON error with status
// and code, the upstream got nothing, and a 401 carries challenge (other
// statuses carry no challenge).
func wantDenied(t *testing.T, r result, status int, code, challenge string) {
	t.Helper()
	if len(r.upstream) != 0 {
		t.Errorf("the upstream got %d requests, want none: %+v", len(r.upstream), r.upstream[0])
	}
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
	wantErrorBody(t, r, code)
	got := r.header.Values("WWW-Authenticate")
	switch {
	case status == http.StatusUnauthorized && (len(got) != 1 || got[0] != challenge):
		t.Errorf("WWW-Authenticate %q, want exactly %q", got, challenge)
	case status != http.StatusUnauthorized && len(got) != 0:
		t.Errorf("WWW-Authenticate %q on a %d, want none", got, status)
	}
}

// wantErrorBody fails the test unless r's body is exactly
// {"errors":{"detail":"...","code":code}} as JSON.
func wantErrorBody(t *testing.T, r result, code string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body map[string]map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body) != 1 || body["errors"] == nil {
		t.Fatalf(`body %s, want {"errors":{"detail":...,"code":...}} (%v)`, r.body, err)
	}
	e := body["errors"]
	if d, _ := e["detail"].(string); len(e) != 2 || d == "" || e["code"] != code {
		t.Errorf(`body %s, want {"errors":{"detail":<sentence>,"code":%q}}`, r.body, code)
	}
}

// alias is an alias created through the API, with its secrets.
type madeAlias struct {
	ID, Type                       string
	Passcode, JWTSecret, StreamKey string
	ExpiredAt                      time.Time
}

// spec says which secrets a new alias gets.
type spec struct {
	conference                     bool
	passcode, jwtSecret, streamKey bool
	ttl                            time.Duration // 1h unless set
}

// Shorthands for the aliases most tests use.
var (
	specFull       = spec{passcode: true, jwtSecret: true, streamKey: true}
	specPublic     = spec{}
	specPasscode   = spec{passcode: true}
	specConference = spec{conference: true, passcode: true, jwtSecret: true}
)

// createAlias creates an alias of the owning organization through the API.
func (g *gateway) createAlias(t *testing.T, s spec) *madeAlias {
	t.Helper()
	a := &madeAlias{Type: "live"}
	if s.conference {
		a.Type = "conference"
	}
	if s.ttl == 0 {
		s.ttl = time.Hour
	}
	a.ExpiredAt = time.Now().Add(s.ttl).Truncate(time.Second)
	body := map[string]any{"type": a.Type, "expired_at": a.ExpiredAt.Unix()}
	if s.passcode {
		a.Passcode = "pc-" + randomHex(6)
		body["passcode"] = a.Passcode
	}
	if s.jwtSecret {
		a.JWTSecret = randomHex(24)
		body["jwt_secret"] = a.JWTSecret
	}
	if s.streamKey {
		a.StreamKey = "sk-" + randomHex(12)
		body["stream_key"] = a.StreamKey
	}
	status, data := g.api(t, http.MethodPost, "/organization/api/v1/alias/create", body)
	if status != http.StatusCreated {
		t.Fatalf("creating an alias: status %d: %v", status, data)
	}
	a.ID, _ = data["data"].(map[string]any)["id"].(string)
	if a.ID == "" {
		t.Fatalf("creating an alias: no ID in %v", data)
	}
	return a
}

// api calls the alias API with the owning organization's token.
func (g *gateway) api(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, g.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: status %d, body not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// updateAlias changes fields of a through the API.
func (g *gateway) updateAlias(t *testing.T, a *madeAlias, fields map[string]any) {
	t.Helper()
	if status, body := g.api(t, http.MethodPost, "/organization/api/v1/alias/update/"+a.ID, fields); status != http.StatusOK {
		t.Fatalf("updating alias %s: status %d: %v", a.ID, status, body)
	}
}

// deleteAlias deletes a through the API.
func (g *gateway) deleteAlias(t *testing.T, a *madeAlias) {
	t.Helper()
	if status, body := g.api(t, http.MethodDelete, "/organization/api/v1/alias/delete/"+a.ID, nil); status != http.StatusOK {
		t.Fatalf("deleting alias %s: status %d: %v", a.ID, status, body)
	}
}

// expire sets the alias's expiry in the past, by hand in SQL: the API
// accepts only future expiries.
func (g *gateway) expire(t *testing.T, a *madeAlias) {
	t.Helper()
	tag, err := g.store.Pool().Exec(t.Context(), "UPDATE aliases SET expired_at = now() - interval '1 hour' WHERE id = $1", a.ID)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("expiring alias %s: %v (%d rows)", a.ID, err, tag.RowsAffected())
	}
}

// claims returns the claims of a token for a that expires in an hour;
// extra are added or, with a nil value, removed.
func (a *madeAlias) claims(extra jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"alias": a.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign signs claims with HS256 and secret.
func sign(t *testing.T, secret string, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// viewerJWT is a viewer token for a and user.
func (a *madeAlias) viewerJWT(t *testing.T, user string) string {
	return sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"user_id": user}))
}

// hostJWT is a host token for a and user.
func (a *madeAlias) hostJWT(t *testing.T, user string) string {
	return sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"user_id": user, "host": true}))
}

// sessionCookie returns the alias's session cookie that r set, failing the
// test if there is none.
func sessionCookie(t *testing.T, r result, a *madeAlias) *http.Cookie {
	t.Helper()
	var found []*http.Cookie
	for _, line := range r.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == gate.SessionCookiePrefix+a.ID {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d session cookies for %s in Set-Cookie %q, want 1", len(found), a.ID, r.header.Values("Set-Cookie"))
	}
	return found[0]
}

// cookieHeader is the Cookie request header that sends c.
func cookieHeader(c *http.Cookie) string { return c.Name + "=" + c.Value }

// q escapes a query value.
func q(v string) string { return url.QueryEscape(v) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// headerNames lists the names of h that start with prefix, sorted.
func headerNames(h http.Header, prefix string) []string {
	var names []string
	for name := range h {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// invalidations counts the entries the alias cache dropped.
const invalidations = `linkgate_cache_invalidations_total{cache="alias"}`

// metric reads one series of the gateway's metrics; 0 when it is absent.
func (g *gateway) metric(t *testing.T, series string) float64 {
	t.Helper()
	r := g.do(t, get("/metrics"))
	for line := range strings.Lines(string(r.body)) {
		if name, value, ok := strings.Cut(strings.TrimSpace(line), " "); ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, value)
			}
			return v
		}
	}
	return 0
}
