package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// client bounds every request, follows no redirects, and keeps no cookies
// and no idle connections, so each answer is the server's own.
var client = &http.Client{
	Timeout:       5 * time.Second,
	Transport:     &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// reply is what a server answered.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes a request; header holds name, value pairs.
func send(t *testing.T, method, url, body string, header ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}
}

func get(t *testing.T, url string, header ...string) reply {
	t.Helper()
	return send(t, http.MethodGet, url, "", header...)
}

// wantKeys fails the test unless the JSON object raw has exactly keys:
// the README documents every field, and nothing else may appear.
func wantKeys(t *testing.T, what string, raw json.RawMessage, keys ...string) {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("%s: not a JSON object: %v: %s", what, err, raw)
	}
	var got []string
	for k := range obj {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s has the keys %q, want %q", what, got, keys)
	}
}

// decode unmarshals a reply's JSON body into v.
func decode(t *testing.T, what string, r reply, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q, want application/json; body %s", what, ct, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, r.body)
	}
}

// health is the health check's body, as the README documents it.
type health struct {
	Status string  `json:"status"`
	Reason *string `json:"reason"`
	Store  struct {
		Reachable   bool   `json:"reachable"`
		LastContact *int64 `json:"last_contact"`
	} `json:"store"`
	Feed  feed `json:"feed"`
	Cache struct {
		Aliases int64 `json:"aliases"`
		Tokens  int64 `json:"tokens"`
	} `json:"cache"`
}

type feed struct {
	Kind      string `json:"kind"`
	Connected bool   `json:"connected"`
	Since     *int64 `json:"since"`
}

func (h health) reason() string {
	if h.Reason == nil {
		return ""
	}
	return *h.Reason
}

// checkHealth asks base/healthz with GET, then with HEAD, which must answer
// the same status and headers without a body; it returns the GET's.
func checkHealth(t *testing.T, base string) (int, health, reply) {
	t.Helper()
	r := get(t, base+"/healthz")
	var h health
	decode(t, "GET /healthz", r, &h)
	wantKeys(t, "the health body", r.body, "status", "reason", "store", "feed", "cache")
	head := send(t, http.MethodHead, base+"/healthz", "")
	// The HEAD may see the next check, a second later; the status names
	// what it saw, and a change between the two is checked again.
	if head.status != r.status {
		again := get(t, base+"/healthz")
		if again.status != head.status {
			t.Errorf("HEAD /healthz: status %d, GET before %d and after %d", head.status, r.status, again.status)
		}
	}
	if len(head.body) != 0 {
		t.Errorf("HEAD /healthz has a body: %q", head.body)
	}
	if head.status == http.StatusServiceUnavailable && head.header.Get("Retry-After") == "" {
		t.Error("HEAD /healthz: 503 without Retry-After")
	}
	return r.status, h, r
}

// gateway is a built binary serving linkgate on a database of its own
// choosing, with the health check, the API, a /live/* and a /whip/* route
// whose answer names who was let in, and an access log in a file.
type gateway struct {
	proc    *testcaddy.Process
	base    string // http://127.0.0.1:port
	admin   string // its admin API's base URL; "" when it has none
	logPath string // its access log
}

// gatewayCaddyfile: %[1]s is the admin option, %[2]s Caddy's storage,
// %[3]s more options of the linkgate block, %[4]d the port, %[5]s the
// access log file. The database comes from the environment, as the
// README's systemd unit gives it.
const gatewayCaddyfile = `{
	%[1]s
	persist_config off
	auto_https off
	storage file_system %[2]q
	storage_clean_interval off
	linkgate {
		database {env.LINKGATE_DATABASE}
		%[3]s
	}
}

http://127.0.0.1:%[4]d {
	bind 127.0.0.1
	linkgate_health /healthz
	alias_api
	handle /live/* {
		alias_auth live
		respond "user={http.auth.user.id} alias={http.auth.user.alias} role={http.auth.user.role} linkgate={http.linkgate.alias}/{http.linkgate.role}/{http.linkgate.user}" 200
	}
	handle /whip/* {
		alias_auth live {
			require publish
		}
		respond "user={http.auth.user.id} alias={http.auth.user.alias} role={http.auth.user.role} linkgate={http.linkgate.alias}/{http.linkgate.role}/{http.linkgate.user}" 200
	}
	respond "fallthrough" 299

	# The root Caddyfile's filter: credentials in query strings and the
	# passcode header stay out of the access log.
	log {
		output file %[5]q
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
}
`

// startGateway runs bin on the database dsn; options go into the
// linkgate block; withAdmin opens the admin API on a free port.
func startGateway(t *testing.T, bin, name, dsn, options string, withAdmin bool) *gateway {
	t.Helper()
	port := testcaddy.FreePort(t)
	g := &gateway{base: fmt.Sprintf("http://127.0.0.1:%d", port), logPath: filepath.Join(t.TempDir(), "access.log")}
	admin := "admin off"
	if withAdmin {
		adminPort := testcaddy.FreePort(t)
		admin = fmt.Sprintf("admin 127.0.0.1:%d", adminPort)
		g.admin = fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	}
	text := fmt.Sprintf(gatewayCaddyfile, admin, t.TempDir(), options, port, g.logPath)
	g.proc = testcaddy.Run(t, bin, name, string(caddyfile.Format([]byte(text))), "LINKGATE_DATABASE="+dsn)
	g.proc.WaitReady(t, func() bool {
		r, err := client.Get(g.base + "/")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 299
	})
	return g
}

// withPassword returns dsn with a password in it, when the server lets
// the user in all the same (pgtest's own cluster trusts local
// connections), so that tests can look for it where it must not be. It
// returns dsn and "" when the server would refuse it.
func withPassword(t *testing.T, dsn string) (string, string) {
	t.Helper()
	const password = "never-show-this-dsn-password"
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := u.User.Password(); ok {
		return dsn, p
	}
	u.User = url.UserPassword(u.User.Username(), password)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return dsn, ""
	}
	conn.Close(context.Background())
	return u.String(), password
}

// newOrg creates an organization with the binary's CLI, as an operator
// would, and returns its token.
func newOrg(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"linkgate", "org", "create", "ops", "--json"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("caddy linkgate org create: %v\n%s", err, stderr.Bytes())
	}
	var org struct{ Token string }
	if err := json.Unmarshal(out, &org); err != nil || org.Token == "" {
		t.Fatalf("caddy linkgate org create printed %q", out)
	}
	return org.Token
}

// testAlias is an alias the tests made, with its secrets.
type testAlias struct {
	ID, Passcode, JWTSecret, StreamKey string
}

// createAlias creates a live alias with a passcode, a JWT secret and a
// stream key through the API at base.
func createAlias(t *testing.T, base, token string) testAlias {
	t.Helper()
	n := time.Now().UnixNano()
	a := testAlias{
		Passcode:  fmt.Sprintf("passcode-%d", n),
		JWTSecret: fmt.Sprintf("jwt-secret-of-at-least-32-bytes-%d", n),
		StreamKey: fmt.Sprintf("stream-key-%d", n),
	}
	body := fmt.Sprintf(`{"type":"live","passcode":%q,"jwt_secret":%q,"stream_key":%q,"expired_at":%d}`,
		a.Passcode, a.JWTSecret, a.StreamKey, time.Now().Add(time.Hour).Unix())
	r := send(t, http.MethodPost, base+"/organization/api/v1/alias/create", body, "Authorization", "Bearer "+token)
	if r.status != http.StatusCreated {
		t.Fatalf("creating an alias: status %d: %s", r.status, r.body)
	}
	var created struct{ Data struct{ ID string } }
	if err := json.Unmarshal(r.body, &created); err != nil || created.Data.ID == "" {
		t.Fatalf("creating an alias: %s", r.body)
	}
	a.ID = created.Data.ID
	return a
}

// jwtFor signs a JWT for the alias; user may be empty.
func (a testAlias) jwtFor(t *testing.T, user string, host bool) string {
	t.Helper()
	claims := jwt.MapClaims{"alias": a.ID, "host": host, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	if user != "" {
		claims["user_id"] = user
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(a.JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
