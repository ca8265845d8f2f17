package kick

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/internal/mediaapi"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestKicks runs every test against one linkgate process: one build of
// the binary, for a MediaMTX and an SRS, each test on aliases of its own.
func TestKicks(t *testing.T) {
	s := newServer(t)
	t.Run("MediaMTX", func(t *testing.T) { testMediaMTX(t, s) })
	t.Run("SRS", func(t *testing.T) { testSRS(t, s) })
	t.Run("the README's media server routes are valid", func(t *testing.T) { testReadme(t, s) })
}

// testReadme validates the Caddyfile of the README's *Media servers*, with
// the binary, as an operator who copied it would.
func testReadme(t *testing.T, s *server) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Media servers\n")
	if !ok {
		t.Fatal("README.md has no Media servers section")
	}
	_, block, ok := strings.Cut(section, "```caddyfile\n")
	if !ok {
		t.Fatal("the Media servers section has no Caddyfile")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok || !strings.Contains(block, "api http://") {
		t.Fatalf("the Media servers Caddyfile does not end, or sets no api:\n%s", block)
	}
	dir := t.TempDir()
	text := fmt.Sprintf("{\n%s\nlinkgate {\ndatabase sqlite:%s\n}\n}\n%s", testcaddy.GlobalOptions(filepath.Join(dir, "storage")), filepath.Join(dir, "linkgate.db"), block)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, caddyfile.Format([]byte(text)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "validate", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir,
		"MTX_API_PASSWORD="+mtxPassword, "SRS_API_PASSWORD="+srsPassword, "OME_HOOK_SECRET=ome-secret")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("caddy validate: %v\n%s", err, out)
	}
}

// The APIs' passwords reach the binary as an operator's would: through
// {env.*} placeholders.
const (
	mtxPasswordEnv = "LINKGATE_TEST_MTX_API_PASSWORD"
	mtxPassword    = "mtx-api-password-for-kicks"
	srsPasswordEnv = "LINKGATE_TEST_SRS_API_PASSWORD"
	srsPassword    = "srs-api-password-for-kicks"
)

// sweepInterval is short, so that a test sees sweeps happen.
const sweepInterval = 200 * time.Millisecond

// kickTimeout is the SRS API's timeout, short for the test of a server
// that does not answer.
const kickTimeout = 500 * time.Millisecond

// server is the built binary with alias_hooks for a MediaMTX and an SRS,
// each with its API, on the embedded store.
type server struct {
	bin   string
	db    string
	base  string
	proc  *testcaddy.Process
	token string
	mtx   *mediaapi.MediaMTX
	srs   *mediaapi.SRS
	// secrets are every secret the test made or gave the binary: none may
	// be in its log.
	secrets []string
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{bin: testcaddy.BuildCaddy(t)}
	dir := t.TempDir()
	s.db = "sqlite:" + filepath.Join(dir, "linkgate.db")
	port := testcaddy.FreePort(t)
	s.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.mtx = mediaapi.NewMediaMTX(t, s.base+"/hooks/mediamtx")
	// MediaMTX asks the hook about calls to its API too (authMethod http,
	// with api not in authHTTPExclude): linkgate's kicks must pass.
	s.mtx.Protect("linkgate", mtxPassword, true)
	s.srs = mediaapi.NewSRS(t, s.base+"/hooks/srs")
	s.srs.Protect("admin", srsPassword)
	mtxAPI := strings.Replace(s.mtx.URL, "http://", "http://linkgate:{env."+mtxPasswordEnv+"}@", 1)
	srsAPI := strings.Replace(s.srs.URL, "http://", "http://admin:{env."+srsPasswordEnv+"}@", 1)
	text := fmt.Sprintf(`{
	%s
	log {
		output stderr
		format json
	}
	linkgate {
		database %s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	handle /hooks/mediamtx {
		alias_hooks mediamtx {
			api %s
			sweep_interval %s
		}
	}
	handle /hooks/srs {
		alias_hooks srs {
			api %s
			api_timeout %s
		}
	}
	handle /metrics {
		metrics
	}
	respond 404
}
`, testcaddy.GlobalOptions(filepath.Join(dir, "storage")), s.db, port, mtxAPI, sweepInterval, srsAPI, kickTimeout)
	s.proc = testcaddy.Run(t, s.bin, "linkgate", string(caddyfile.Format([]byte(text))),
		mtxPasswordEnv+"="+mtxPassword, srsPasswordEnv+"="+srsPassword)
	s.proc.WaitReady(t, func() bool {
		r, err := http.Get(s.base + "/")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusNotFound
	})
	s.token = s.newOrg(t)
	s.secrets = append(s.secrets, mtxPassword, srsPassword, s.token)
	t.Cleanup(func() { s.checkLog(t) })
	return s
}

// newOrg creates an organization with the binary's CLI and returns its
// token.
func (s *server) newOrg(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(s.bin, "linkgate", "org", "create", "kicks", "--json", "--database", s.db).Output()
	if err != nil {
		t.Fatalf("caddy linkgate org create: %v", err)
	}
	var org struct{ Token string }
	if err := json.Unmarshal(out, &org); err != nil || org.Token == "" {
		t.Fatalf("caddy linkgate org create printed %q", out)
	}
	return org.Token
}

// checkLog fails the test if the binary logged a secret.
func (s *server) checkLog(t *testing.T) {
	log := s.proc.Log.String()
	for _, secret := range s.secrets {
		if secret != "" && strings.Contains(log, secret) {
			t.Errorf("the log holds a secret (%d bytes long)", len(secret))
		}
	}
}

// api calls the alias API with the organization's token.
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
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %v", method, path, res.StatusCode, err)
	}
	return res.StatusCode, out
}

// liveAlias is a live alias made through the API, with its secrets.
type liveAlias struct {
	ID, Passcode, JWTSecret, StreamKey string
}

// createAlias makes a live alias with a passcode, a JWT secret and a
// stream key, expiring in an hour.
func (s *server) createAlias(t *testing.T) *liveAlias {
	t.Helper()
	a := &liveAlias{Passcode: "pc-" + random(6), JWTSecret: random(24), StreamKey: "sk-" + random(12)}
	status, body := s.api(t, http.MethodPost, "/organization/api/v1/alias/create", map[string]any{
		"type": "live", "expired_at": time.Now().Add(time.Hour).Unix(),
		"passcode": a.Passcode, "jwt_secret": a.JWTSecret, "stream_key": a.StreamKey,
	})
	if status != http.StatusCreated {
		t.Fatalf("creating an alias: %d %v", status, body)
	}
	a.ID, _ = body["data"].(map[string]any)["id"].(string)
	s.secrets = append(s.secrets, a.Passcode, a.JWTSecret, a.StreamKey)
	return a
}

// deleteAlias deletes a through the API and returns when it did.
func (s *server) deleteAlias(t *testing.T, a *liveAlias) time.Time {
	t.Helper()
	at := time.Now()
	if status, body := s.api(t, http.MethodDelete, "/organization/api/v1/alias/delete/"+a.ID, nil); status != http.StatusOK {
		t.Fatalf("deleting alias %s: %d %v", a.ID, status, body)
	}
	return at
}

// rekey gives a a new stream key through the API.
func (s *server) rekey(t *testing.T, a *liveAlias) {
	t.Helper()
	a.StreamKey = "sk-" + random(12)
	s.secrets = append(s.secrets, a.StreamKey)
	if status, body := s.api(t, http.MethodPost, "/organization/api/v1/alias/update/"+a.ID, map[string]any{"stream_key": a.StreamKey}); status != http.StatusOK {
		t.Fatalf("re-keying alias %s: %d %v", a.ID, status, body)
	}
}

// revokeUser revokes a user's credentials on a through the API.
func (s *server) revokeUser(t *testing.T, a *liveAlias, user string) {
	t.Helper()
	if status, body := s.api(t, http.MethodPost, "/organization/api/v1/alias/revoke/"+a.ID, map[string]any{"user_id": user}); status != http.StatusOK {
		t.Fatalf("revoking user %s on alias %s: %d %v", user, a.ID, status, body)
	}
}

// jwtFor signs a viewer's JWT for a, for user, valid for an hour.
func (s *server) jwtFor(t *testing.T, a *liveAlias, user string) string {
	t.Helper()
	now := time.Now()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"alias": a.ID, "user_id": user, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(a.JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	s.secrets = append(s.secrets, token)
	return token
}

// logLines are the binary's log lines with message msg.
func (s *server) logLines(msg string) []map[string]any {
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.proc.Log.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
			lines = append(lines, line)
		}
	}
	return lines
}

// endedLines are the log lines of the sessions linkgate ended, for
// session id.
func (s *server) endedLines(id string) []map[string]any {
	var lines []map[string]any
	for _, l := range append(s.logLines("media session ended"), s.logLines("media session kick failed")...) {
		if l["session"] == id {
			lines = append(lines, l)
		}
	}
	return lines
}

// waitEnded waits until linkgate logged the end of session id, and
// returns the line.
func (s *server) waitEnded(t *testing.T, id string) map[string]any {
	t.Helper()
	var line map[string]any
	testcaddy.PollUntil(t, 10*time.Second, "linkgate logs the end of session "+id, func() bool {
		lines := s.endedLines(id)
		if len(lines) > 0 {
			line = lines[0]
		}
		return line != nil
	})
	return line
}

// metric returns the value of a series of GET /metrics, 0 when absent.
func (s *server) metric(t *testing.T, series string) float64 {
	t.Helper()
	res, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	text, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(text), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// answered are the calls answered with 200.
func answered(calls []mediaapi.Call) []mediaapi.Call {
	var out []mediaapi.Call
	for _, c := range calls {
		if c.Status == http.StatusOK {
			out = append(out, c)
		}
	}
	return out
}

// kickCalls are the API calls that kick id, whatever the answer: MediaMTX
// is asked to kick an RTMPS connection out of the RTMP connections first.
func kickCalls(calls []mediaapi.Call, id string) []mediaapi.Call {
	var out []mediaapi.Call
	for _, c := range calls {
		if (c.Method == http.MethodPost || c.Method == http.MethodDelete) && strings.HasSuffix(c.Path, "/"+id) {
			out = append(out, c)
		}
	}
	return out
}

// wantReason checks the reason a log line gives for ending a session.
func wantReason(t *testing.T, line map[string]any, reason string) {
	t.Helper()
	if line["reason"] != reason || line["outcome"] != "kicked" {
		t.Errorf("session %v ended for %v (%v), want %s (kicked)", line["session"], line["reason"], line["outcome"], reason)
	}
}

// random is n random bytes in hex.
func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// postJSON posts v as JSON to url and returns the status and body.
func postJSON(t *testing.T, url string, v any) (int, string) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(answer)
}
