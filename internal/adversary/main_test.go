package adversary

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestAdversary runs every attack against one linkgate process: one build
// of the binary, one server, each attack on aliases of its own.
func TestAdversary(t *testing.T) {
	s := newServer(t)
	for _, attack := range attacks {
		t.Run(attack.name, func(t *testing.T) { attack.run(t, s) })
	}
}

// attacks are the attacks TestAdversary runs; each file adds its own.
var attacks []struct {
	name string
	run  func(t *testing.T, s *server)
}

func attack(name string, run func(t *testing.T, s *server)) bool {
	attacks = append(attacks, struct {
		name string
		run  func(t *testing.T, s *server)
	}{name, run})
	return true
}

// fallthroughStatus answers what no route of the site handled.
const fallthroughStatus = 299

// server is the built binary serving the API, a live and a conference
// route in front of a recording upstream, on the embedded store.
type server struct {
	bin   string
	db    string // the database option
	base  string // http://127.0.0.1:port
	proc  *testcaddy.Process
	up    *upstream
	token string // an organization's token
	// otherToken belongs to another organization.
	otherToken string
}

// siteRoutes are the routes of the test site, after the API; %[1]s is the
// upstream.
const siteRoutes = `
	handle /live/* {
		alias_auth live
		reverse_proxy %[1]s
	}
	handle /forward/* {
		alias_auth live {
			forward_credentials
		}
		reverse_proxy %[1]s
	}
	handle /conference/* {
		alias_auth conference
		reverse_proxy %[1]s
	}
	handle /publish/* {
		alias_auth live {
			require publish
		}
		reverse_proxy %[1]s
	}
	handle /host/* {
		alias_auth live {
			require host
		}
		reverse_proxy %[1]s
	}
	handle /always/* {
		alias_auth live {
			secure_cookies always
		}
		reverse_proxy %[1]s
	}
	handle /hooks/mediamtx {
		alias_hooks mediamtx
	}
	handle /hooks/mediamtx-live {
		alias_hooks mediamtx {
			path_prefix live
		}
	}
`

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{bin: testcaddy.BuildCaddy(t), up: newUpstream(t)}
	dir := t.TempDir()
	s.db = "sqlite:" + filepath.Join(dir, "linkgate.db")
	port := testcaddy.FreePort(t)
	s.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	text := fmt.Sprintf(`{
	%s
	linkgate {
		database %s
	}
	# A load balancer in front terminates TLS and says so.
	servers {
		trusted_proxies static 127.0.0.1/32
		%s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	%s
	respond "fallthrough" %d
}
`, testcaddy.GlobalOptions(filepath.Join(dir, "storage")), s.db, exampleTimeouts(t), port, fmt.Sprintf(siteRoutes, s.up.host), fallthroughStatus)
	s.proc = testcaddy.Run(t, s.bin, "linkgate", string(caddyfile.Format([]byte(text))))
	s.proc.WaitReady(t, func() bool {
		r, err := http.Get(s.base + "/")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == fallthroughStatus
	})
	s.token = s.newOrg(t, "acme")
	s.otherToken = s.newOrg(t, "rival")
	return s
}

// exampleTimeouts is the timeouts block of the root Caddyfile's servers
// option, which the README tells operators to keep: the server here runs
// with exactly those timeouts.
func exampleTimeouts(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "timeouts {")
	if start < 0 {
		t.Fatal("the root Caddyfile sets no server timeouts")
	}
	end := strings.Index(text[start:], "}")
	return text[start : start+end+1]
}

// newOrg creates an organization with the binary's CLI and returns its
// token.
func (s *server) newOrg(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command(s.bin, "linkgate", "org", "create", name, "--json", "--database", s.db).Output()
	if err != nil {
		t.Fatalf("caddy linkgate org create: %v", err)
	}
	var org struct{ Token string }
	if err := json.Unmarshal(out, &org); err != nil || org.Token == "" {
		t.Fatalf("caddy linkgate org create printed %q", out)
	}
	return org.Token
}

// reply is what a client got.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) code() string {
	var v struct{ Errors struct{ Code string } }
	json.Unmarshal([]byte(r.body), &v)
	return v.Errors.Code
}

// client follows no redirects and keeps no cookies, so tests see exactly
// what the server answered.
var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send makes a request of method to the server's path; header holds
// name, value pairs.
func (s *server) send(t *testing.T, method, path, body string, header ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return do(t, req)
}

// get sends a GET of path; header holds name, value pairs.
func (s *server) get(t *testing.T, path string, header ...string) reply {
	t.Helper()
	return s.send(t, http.MethodGet, path, "", header...)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: string(b)}
}

// createAlias creates an alias of the first organization from JSON
// members and returns its ID; the expiry is a day away unless given.
func (s *server) createAlias(t *testing.T, members string) string {
	t.Helper()
	return s.createAliasOf(t, s.token, members)
}

// createAliasOf is createAlias for the organization of token.
func (s *server) createAliasOf(t *testing.T, token, members string) string {
	t.Helper()
	if !strings.Contains(members, `"expired_at"`) {
		members += fmt.Sprintf(`,"expired_at":%d`, time.Now().Add(24*time.Hour).Unix())
	}
	r := s.send(t, http.MethodPost, "/organization/api/v1/alias/create", "{"+members+"}", "Authorization", token)
	var v struct{ Data struct{ ID string } }
	if r.status != http.StatusCreated || json.Unmarshal([]byte(r.body), &v) != nil {
		t.Fatalf("creating an alias {%s}: %d %s", members, r.status, r.body)
	}
	return v.Data.ID
}

// upstream is the media backend: it records what reached it.
type upstream struct {
	host string
	mu   sync.Mutex
	seen []seen
}

// seen is a request as the upstream got it, its body read to the end.
type seen struct {
	method, uri string
	header      http.Header
	trailer     http.Header
	body        []byte
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		io.Copy(&body, r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, seen{r.Method, r.RequestURI, r.Header.Clone(), r.Trailer.Clone(), body.Bytes()})
		u.mu.Unlock()
		io.WriteString(w, "upstream ok\n")
	}))
	t.Cleanup(srv.Close)
	u.host = srv.Listener.Addr().String()
	return u
}

// last is the last request the upstream got whose URI contains part.
func (u *upstream) last(t *testing.T, part string) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := len(u.seen) - 1; i >= 0; i-- {
		if strings.Contains(u.seen[i].uri, part) {
			return u.seen[i]
		}
	}
	t.Fatalf("no request for %q reached the upstream", part)
	return seen{}
}

// count is how many requests whose URI contains part reached it.
func (u *upstream) count(part string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, s := range u.seen {
		if strings.Contains(s.uri, part) {
			n++
		}
	}
	return n
}

// testPoll polls cond for up to 10 s.
func testPoll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testcaddy.PollUntil(t, 10*time.Second, what, cond)
}
