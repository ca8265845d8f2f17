package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestFaults builds the binary once and runs each fault as a subtest, one
// after the other: each starts database servers and nodes of its own, and
// run together they would only slow each other down on a small machine.
func TestFaults(t *testing.T) {
	bin := testcaddy.BuildCaddy(t)
	t.Run("failover", func(t *testing.T) { testFailover(t, bin) })
	t.Run("killed node", func(t *testing.T) { testKilledNode(t, bin) })
	t.Run("reloads under load", func(t *testing.T) { testReloads(t, bin) })
	t.Run("sqlite killed while writing", func(t *testing.T) { testSQLiteKilled(t, bin) })
	t.Run("sqlite with the CLI writing", func(t *testing.T) { testSQLiteCLI(t, bin) })
}

// API paths, as the seed documents them.
const (
	pathCreate = "/organization/api/v1/alias/create"
	pathUpdate = "/organization/api/v1/alias/update/"
)

// newUpstream is the media backend: it answers 200 to everything.
func newUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "segment\n")
	}))
	t.Cleanup(up.Close)
	return up
}

// node is a "caddy run" process of the built binary, which the test may
// kill and start again on the same config.
type node struct {
	name string
	base string
	cmd  *exec.Cmd // the current process
	args []string
	env  []string
	dir  string
	log  testcaddy.Buffer

	exited chan struct{} // closed when the current process has exited
}

// startNode writes s as the Caddyfile of a node and runs it, with env
// added to the environment. Cleanup stops it.
func startNode(t *testing.T, bin, name string, s testcaddy.Site, env ...string) *node {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(s.Caddyfile(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &node{
		name: name,
		base: s.Base(),
		args: []string{bin, "run", "--config", config},
		// HOME and XDG dirs of its own, so that the node writes nothing of
		// the developer's.
		env: append(append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
			"XDG_DATA_HOME="+filepath.Join(dir, "data")), env...),
		dir: dir,
	}
	n.start(t)
	t.Cleanup(func() {
		n.stop(t)
		if t.Failed() {
			lines := strings.SplitAfter(n.log.String(), "\n")
			t.Logf("the last %d lines of node %s's log:\n%s", min(len(lines), 40), name, strings.Join(lines[max(len(lines)-40, 0):], ""))
		}
	})
	return n
}

// start runs the node's process; the node must not be running.
func (n *node) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(n.args[0], n.args[1:]...)
	cmd.Dir, cmd.Env = n.dir, n.env
	cmd.Stdout, cmd.Stderr = &n.log, &n.log
	testcaddy.DieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	n.cmd, n.exited = cmd, exited
}

// waitReady waits until the node answers.
func (n *node) waitReady(t *testing.T) {
	t.Helper()
	testcaddy.PollUntil(t, 30*time.Second, "node "+n.name+" answers", func() bool {
		select {
		case <-n.exited:
			t.Fatalf("node %s exited: %v\n%s", n.name, n.cmd.ProcessState, n.log.String())
		default:
		}
		r, err := send(plain, http.MethodGet, n.base+"/", nil, "")
		return err == nil && r.status == testcaddy.FallthroughStatus
	})
}

// kill ends the node with SIGKILL, as the kernel's OOM killer or a pulled
// plug would: no shutdown, connections cut mid-request.
func (n *node) kill(t *testing.T) {
	t.Helper()
	n.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("node %s (pid %d) still running 10s after SIGKILL", n.name, n.cmd.Process.Pid)
	}
}

// stop asks the node to shut down, kills it if it does not within 10 s,
// and waits until it is gone.
func (n *node) stop(t *testing.T) {
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.exited:
		return
	case <-time.After(10 * time.Second):
	}
	n.cmd.Process.Kill()
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("node %s (pid %d) still running 10s after SIGKILL", n.name, n.cmd.Process.Pid)
	}
}

// plain is the test's own client for checks: every request bounded at 5 s,
// so a node that hangs fails the test instead of stalling it; no redirects
// followed, no cookies kept, no connection kept for later.
var plain = &http.Client{
	Timeout:       5 * time.Second,
	Transport:     &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// loadClient is a client of the load: like plain, but it keeps connections
// alive, as players and organizers' tools do, so that a load of a few
// hundred requests a second does not spend the machine on handshakes.
func loadClient() *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// reply is a node's answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// code is the code of the reply's JSON error body, "" if it has none.
func (r reply) code() string {
	var body struct {
		Errors struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || json.Unmarshal(r.body, &body) != nil {
		return ""
	}
	return body.Errors.Code
}

// send makes one request with the given headers; a body is sent as JSON
// unless header says otherwise. An error means no answer came.
func send(c *http.Client, method, url string, header http.Header, body string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// Go sends the request's Host field, not a Host header.
	if host := header.Get("Host"); host != "" {
		req.Host = host
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
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

// bearer is the header of an organization token.
func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// get is a GET of the test's own that must be answered.
func get(t *testing.T, url string) reply {
	t.Helper()
	r, err := send(plain, http.MethodGet, url, nil, "")
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return r
}

// livePath is the gateway path of alias id opened with passcode.
func livePath(id, passcode string) string {
	return "/live/" + id + "/index.m3u8?passcode=" + url.QueryEscape(passcode)
}

// createBody is the body of a create of a live alias with the given JSON
// members.
func createBody(members string) string {
	return fmt.Sprintf(`{"type":"live","expired_at":%d,%s}`, time.Now().Add(time.Hour).Unix(), members)
}

// createdID reads the ID out of the answer to a create.
func createdID(r reply) (string, error) {
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || created.Data.ID == "" {
		return "", fmt.Errorf("no alias ID in %s: %v", r.body, err)
	}
	return created.Data.ID, nil
}

// createAlias creates a live alias with passcode through the API at base
// and returns its ID.
func createAlias(t *testing.T, base, token, passcode string) string {
	t.Helper()
	r, err := send(plain, http.MethodPost, base+pathCreate, bearer(token), createBody(fmt.Sprintf(`"passcode":%q`, passcode)))
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("creating an alias: %d %s, %v", r.status, r.body, err)
	}
	id, err := createdID(r)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newID is a fresh alias ID of the API's form: 12 characters of [a-z0-9].
func newID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [12]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// newOrg creates an organization and its token with the built binary's
// "caddy linkgate org create", as an operator does.
func newOrg(t *testing.T, bin, database string) (orgID, token string) {
	t.Helper()
	out, err := linkgateCLI(bin, database, "org", "create", "faults", "--json")
	if err != nil {
		t.Fatalf("caddy linkgate org create: %v\n%s", err, out)
	}
	var org struct {
		OrgID string `json:"org_id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &org); err != nil || org.Token == "" {
		t.Fatalf("caddy linkgate org create printed %s: %v", out, err)
	}
	return org.OrgID, org.Token
}

// linkgateCLI runs "caddy linkgate args... --database database" and returns
// its standard output, or its error with everything it wrote.
func linkgateCLI(bin, database string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, append(append([]string{"linkgate"}, args...), "--database", database)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	testcaddy.DieWithTest(cmd)
	if err := cmd.Run(); err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// metrics scrapes base/metrics into its series, keyed by name and labels
// as the text format prints them.
func metrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	r := get(t, base+"/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", r.status, r.body)
	}
	series := map[string]float64{}
	for line := range strings.Lines(string(r.body)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// The value comes last; label values may hold spaces.
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("GET /metrics: cannot read the line %q", line)
		}
		series[line[:i]] = v
	}
	return series
}

// metric is one series of base/metrics; it must be there.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	v, ok := metrics(t, base)[series]
	if !ok {
		t.Fatalf("GET %s/metrics has no %s", base, series)
	}
	return v
}

// Series of linkgate's metrics the tests read.
const (
	aliasHits    = `linkgate_cache_hits_total{cache="alias"}`
	aliasLoads   = `linkgate_cache_loads_total{cache="alias"}`
	aliasFlushes = `linkgate_cache_flushes_total{cache="alias"}`
)

// warm requests path on the node at base until the node answers it from
// its cache, which the alias cache's hit counter shows: the first request
// loads the alias, and ristretto may take a moment to keep it, or drop it.
func warm(t *testing.T, base, path string) {
	t.Helper()
	testcaddy.PollUntil(t, 5*time.Second, "the node at "+base+" answers "+path+" from its cache", func() bool {
		before := metric(t, base, aliasHits)
		if r := get(t, base+path); r.status != http.StatusOK {
			t.Fatalf("warming %s: status %d; body: %s", path, r.status, r.body)
		}
		return metric(t, base, aliasHits) > before
	})
}

// failures keeps the first few failures of a load for the test's message,
// and counts them all.
type failures struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (f *failures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.first) < 5 {
		f.first = append(f.first, fmt.Sprintf(format, args...))
	}
}

func (f *failures) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *failures) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("%d, the first: %q", f.n, f.first)
}

// workers runs fn in n goroutines until stop is called, pausing pace
// between calls so that the load is steady rather than all the machine
// can give. stop waits for the calls under way.
func workers(n int, pace time.Duration, fn func(worker int)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for {
				fn(w)
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}
