package hooks

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/golang-jwt/jwt/v5"

	_ "github.com/linkgate/linkgate/caddymodule"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// omeSecretEnv holds the OvenMediaEngine secret, read by the Caddyfile's
// {env.*} placeholder as an operator's would be.
const (
	omeSecretEnv = "LINKGATE_TEST_OME_SECRET"
	omeSecret    = "ome-admission-secret-for-tests"
)

// client follows no redirects: nginx-rtmp's 302 is an answer to check.
var client = &http.Client{
	Timeout:       10 * time.Second,
	Transport:     &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// siteRoutes mount one hook per media server, as the README tells
// operators to; /hooks/bare uses a path matcher instead of handle, which
// works because alias_hooks is an ordered directive.
const siteRoutes = `
	handle /hooks/mediamtx {
		alias_hooks mediamtx
	}
	handle /hooks/mediamtx-live {
		alias_hooks mediamtx {
			path_prefix live
			allow_actions api metrics
		}
	}
	handle /hooks/srs {
		alias_hooks srs
	}
	handle /hooks/nginx {
		alias_hooks nginx_rtmp
	}
	handle /hooks/ome {
		alias_hooks ome {
			secret {env.` + omeSecretEnv + `}
		}
	}
	handle /hooks/tight {
		alias_hooks srs {
			throttle 2 1m
		}
	}
	alias_hooks /hooks/bare srs
	respond 404
`

// server is a real Caddy in this process with the hooks mounted, on a
// fresh database, and an organization that owns the aliases tests make.
type server struct {
	base    string
	dsn     string
	store   *pgstore.Store
	token   string
	logPath string
	// secrets are every passcode, key and token the test made, so that
	// the log can be searched for them when the test ends.
	secrets []string
}

func newServer(t *testing.T) *server {
	t.Helper()
	dsn := pgtest.DB(t)
	t.Setenv(omeSecretEnv, omeSecret)
	port := testcaddy.FreePort(t)
	logPath := filepath.Join(t.TempDir(), "caddy.log")
	text := fmt.Sprintf(`{
	%s
	log {
		output file %q
		level DEBUG
	}
	linkgate {
		database %s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	%s
}
`, testcaddy.GlobalOptions(t.TempDir()), logPath, dsn, port, siteRoutes)
	testcaddy.Load(t, text)
	s := &server{base: fmt.Sprintf("http://127.0.0.1:%d", port), dsn: dsn, logPath: logPath}
	st, err := pgstore.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	s.store = st
	_, s.token = testcaddy.NewOrg(t, st)
	s.secrets = append(s.secrets, s.token, dsn, omeSecret)
	t.Cleanup(func() { s.checkLog(t) })
	return s
}

// checkLog fails the test if Caddy logged any secret, and shows the end
// of the log when the test failed.
func (s *server) checkLog(t *testing.T) {
	log, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Errorf("reading Caddy's log: %v", err)
		return
	}
	for _, secret := range s.secrets {
		if secret != "" && bytes.Contains(log, []byte(secret)) {
			t.Errorf("Caddy's log holds a secret (%d bytes long)", len(secret))
		}
	}
	if t.Failed() {
		lines := strings.SplitAfter(string(log), "\n")
		t.Logf("the last %d lines of Caddy's log:\n%s", min(len(lines), 40), strings.Join(lines[max(len(lines)-40, 0):], ""))
	}
}

// alias is an alias made through the API, with its secrets.
type madeAlias struct {
	ID, Type                       string
	Passcode, JWTSecret, StreamKey string
	ExpiredAt                      time.Time
}

// spec says what a new alias gets.
type spec struct {
	conference                     bool
	passcode, jwtSecret, streamKey bool
}

var (
	specFull       = spec{passcode: true, jwtSecret: true, streamKey: true}
	specPublic     = spec{streamKey: true}
	specConference = spec{conference: true, passcode: true, jwtSecret: true, streamKey: true}
)

// createAlias makes an alias expiring in an hour through the API.
func (s *server) createAlias(t *testing.T, sp spec) *madeAlias {
	t.Helper()
	a := &madeAlias{Type: "live", ExpiredAt: time.Now().Add(time.Hour).Truncate(time.Second)}
	if sp.conference {
		a.Type = "conference"
	}
	fields := map[string]any{"type": a.Type, "expired_at": a.ExpiredAt.Unix()}
	if sp.passcode {
		a.Passcode = "pc-" + randomHex(6)
		fields["passcode"] = a.Passcode
	}
	if sp.jwtSecret {
		a.JWTSecret = randomHex(24)
		fields["jwt_secret"] = a.JWTSecret
	}
	if sp.streamKey {
		a.StreamKey = "sk-" + randomHex(12)
		fields["stream_key"] = a.StreamKey
	}
	s.secrets = append(s.secrets, a.Passcode, a.JWTSecret, a.StreamKey)
	status, body := s.api(t, http.MethodPost, "/organization/api/v1/alias/create", fields)
	if status != http.StatusCreated {
		t.Fatalf("creating an alias: %d %v", status, body)
	}
	a.ID, _ = body["data"].(map[string]any)["id"].(string)
	return a
}

// rekey gives a a new stream key through the API.
func (s *server) rekey(t *testing.T, a *madeAlias) {
	t.Helper()
	a.StreamKey = "sk-" + randomHex(12)
	s.secrets = append(s.secrets, a.StreamKey)
	if status, body := s.api(t, http.MethodPost, "/organization/api/v1/alias/update/"+a.ID, map[string]any{"stream_key": a.StreamKey}); status != http.StatusOK {
		t.Fatalf("re-keying alias %s: %d %v", a.ID, status, body)
	}
}

// deleteAlias deletes a through the API.
func (s *server) deleteAlias(t *testing.T, a *madeAlias) {
	t.Helper()
	if status, body := s.api(t, http.MethodDelete, "/organization/api/v1/alias/delete/"+a.ID, nil); status != http.StatusOK {
		t.Fatalf("deleting alias %s: %d %v", a.ID, status, body)
	}
}

// expire sets the alias's expiry in the past by hand in SQL: the API
// accepts only future expiries.
func (s *server) expire(t *testing.T, a *madeAlias) {
	t.Helper()
	tag, err := s.store.Pool().Exec(t.Context(), "UPDATE aliases SET expired_at = now() - interval '1 hour' WHERE id = $1", a.ID)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("expiring alias %s: %v", a.ID, err)
	}
}

func (s *server) api(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
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

// reply is a hook's answer as the media server gets it.
type reply struct {
	status int
	header http.Header
	body   string
}

// post sends a media server's request to a hook; header holds name/value
// pairs.
func (s *server) post(t *testing.T, path, contentType, body string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// sign signs a token for a that expires in ttl, with extra claims.
func (s *server) sign(t *testing.T, a *madeAlias, ttl time.Duration, extra jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"alias": a.ID, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(a.JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	s.secrets = append(s.secrets, token)
	return token
}

// omeSignature is X-OME-Signature as OvenMediaEngine computes it.
func omeSignature(secret, body string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// fill writes values into a body template's %[1]s, %[2]s, ... as given:
// the template decides how the server escapes them.
func fill(template string, values ...string) string {
	var pairs []string
	for i, v := range values {
		pairs = append(pairs, fmt.Sprintf("%%[%d]s", i+1), v)
	}
	return strings.NewReplacer(pairs...).Replace(template)
}

// hookCase is one request to a fresh alias, so that no case's failures
// count towards another's throttling.
type hookCase struct {
	name string
	spec spec
	// prepare changes the alias once the body is made (expire, delete).
	prepare func(t *testing.T, s *server, a *madeAlias)
	body    func(t *testing.T, s *server, a *madeAlias) string
}

// Preparations of a hookCase.
var (
	expired = func(t *testing.T, s *server, a *madeAlias) { s.expire(t, a) }
	deleted = func(t *testing.T, s *server, a *madeAlias) { s.deleteAlias(t, a) }
)

// run makes the case's alias and body and posts it to path.
func (tc *hookCase) run(t *testing.T, s *server, path, contentType string, header ...string) (*madeAlias, string, reply) {
	t.Helper()
	a := s.createAlias(t, tc.spec)
	b := tc.body(t, s, a)
	if tc.prepare != nil {
		tc.prepare(t, s, a)
	}
	return a, b, s.post(t, path, contentType, b, header...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
