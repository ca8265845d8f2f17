package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	caddyfilefmt "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

const (
	// testTimeout bounds the browser's whole life; stepTimeout each
	// action, so a hang names the step it happened in.
	testTimeout = 4 * time.Minute
	stepTimeout = 30 * time.Second
)

// require returns the path of a program the test needs. Without it the
// test skips, unless CI is set: there a missing program must not pass as
// a skipped test.
func require(t *testing.T, what, env string, candidates ...string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if executable(p) {
			return p
		}
		t.Fatalf("%s=%s is not an executable file", env, p)
	}
	for _, c := range candidates {
		if strings.HasPrefix(c, "/") {
			if executable(c) {
				return c
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no %s found (tried %s; set %s to one)", what, strings.Join(candidates, ", "), env)
	if os.Getenv("CI") != "" {
		t.Fatalf("console: %s is required when CI is set: %s", what, msg)
	}
	t.Skipf("console: skipping: %s", msg)
	return ""
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// demoBackend is the root Caddyfile's demo backend: it answers with what
// linkgate forwarded.
const demoBackend = `respond <<TEXT
		demo backend: linkgate let this request through
		alias:         {http.request.header.X-Linkgate-Alias}
		type:          {http.request.header.X-Linkgate-Type}
		role:          {http.request.header.X-Linkgate-Role}
		user:          {http.request.header.X-Linkgate-User}
		path:          {http.request.uri}

		TEXT 200`

// gateway is a "caddy run" of the built binary: the alias API, the
// console, live and conference routes to the demo backend, and an HLS
// directory behind alias_auth for the preview.
type gateway struct {
	base    string
	hlsRoot string // files under /hls/<id>/ are served from hlsRoot/hls/<id>/
	token   string
	orgID   string
	bin     string
	db      string
	env     []string
	log     testcaddy.Buffer
}

// startGateway builds the binary, creates an organization with its CLI and
// runs it. The console keeps its defaults but for the preview (the HLS
// directory), the RTMP and SRT servers and a page of two aliases.
func startGateway(t *testing.T) *gateway {
	t.Helper()
	dir := t.TempDir()
	g := &gateway{bin: testcaddy.BuildCaddy(t), db: "sqlite:" + filepath.Join(dir, "db"), hlsRoot: filepath.Join(dir, "media")}
	port, demo := testcaddy.FreePort(t), testcaddy.FreePort(t)
	g.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	env := append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))

	g.env = env
	var org struct {
		OrgID string `json:"org_id"`
		Token string `json:"token"`
	}
	out := g.cli(t, "org", "create", "console-test", "--json")
	if err := json.Unmarshal(out, &org); err != nil || !strings.HasPrefix(org.Token, "lgo_") {
		t.Fatalf("caddy linkgate org create printed %q: %v", out, err)
	}
	g.token, g.orgID = org.Token, org.OrgID

	caddyfile := fmt.Sprintf(`{
	%s
	linkgate {
		database %s
	}
}

%s {
	bind 127.0.0.1
	alias_api
	handle /console/* {
		alias_console {
			preview_url /hls/{id}/index.m3u8
			rtmp_url    rtmp://media.example.com/ingest/{key}
			srt_url     srt://media.example.com:8890?streamid=publish:live/{id}:x:{key}
			page_size   2
		}
	}
	handle /hls/* {
		alias_auth live
		root * %q
		file_server
	}
	@whip path /live/*/whip /live/*/whip/*
	handle @whip {
		alias_auth live {
			require publish
		}
		reverse_proxy 127.0.0.1:%d
	}
	handle /live/* {
		alias_auth live
		reverse_proxy 127.0.0.1:%d
	}
	handle /conference/* {
		alias_auth conference
		reverse_proxy 127.0.0.1:%d
	}
	handle {
		respond "no such route" 404
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	%s
}
`, testcaddy.GlobalOptions(filepath.Join(dir, "storage")), g.db, g.base, g.hlsRoot, demo, demo, demo, demo, demoBackend)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, caddyfilefmt.Format([]byte(caddyfile)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(g.bin, "run", "--config", path)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = &g.log, &g.log
	testcaddy.DieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("caddy's output:\n%s", g.log.String())
		}
	})
	testcaddy.PollUntil(t, time.Minute, "the gateway serves the console", func() bool {
		select {
		case <-exited:
			t.Fatalf("caddy run exited:\n%s", g.log.String())
		default:
		}
		resp, err := http.Get(g.base + "/console/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return g
}

// cli runs a "caddy linkgate" command on the gateway's database and
// returns what it printed.
func (g *gateway) cli(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(g.bin, append(append([]string{"linkgate"}, args...), "--database", g.db)...)
	cmd.Env = g.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("caddy linkgate %s: %v\n%s", strings.Join(args, " "), err, &stderr)
	}
	return out
}

// revokeTokens revokes every token of the organization.
func (g *gateway) revokeTokens(t *testing.T) {
	t.Helper()
	var tokens []struct {
		ID string `json:"token_id"`
	}
	if err := json.Unmarshal(g.cli(t, "token", "list", g.orgID, "--json"), &tokens); err != nil || len(tokens) == 0 {
		t.Fatalf("caddy linkgate token list: %v tokens, %v", len(tokens), err)
	}
	for _, tok := range tokens {
		g.cli(t, "token", "revoke", tok.ID)
	}
}

// api calls the alias API with the organization's token, as the oracle
// the console's results are checked against.
func (g *gateway) api(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, g.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", g.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// apiAlias is the alias as the API shows its owner.
type apiAlias struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	Name      *string `json:"name"`
	Passcode  *string `json:"passcode"`
	JWTSecret *string `json:"jwt_secret"`
	StreamKey *string `json:"stream_key"`
	ExpiredAt int64   `json:"expired_at"`
}

// aliases lists every alias of the organization through the API.
func (g *gateway) aliases(t *testing.T) []apiAlias {
	t.Helper()
	status, b := g.api(t, http.MethodGet, "/organization/api/v1/aliases?limit=500", "")
	if status != http.StatusOK {
		t.Fatalf("listing the aliases: %d %s", status, b)
	}
	var page struct{ Entries []struct{ Data apiAlias } }
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	var out []apiAlias
	for _, e := range page.Entries {
		out = append(out, e.Data)
	}
	return out
}

func (g *gateway) create(t *testing.T, body string) apiAlias {
	t.Helper()
	status, b := g.api(t, http.MethodPost, "/organization/api/v1/alias/create", body)
	if status != http.StatusCreated {
		t.Fatalf("creating %s: %d %s", body, status, b)
	}
	var r struct{ Data apiAlias }
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Data
}

// apiError is the error the API gives for a request, for comparing with
// what the console shows.
func (g *gateway) apiError(t *testing.T, method, path, auth, body string) (detail, field string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, g.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Errors struct{ Detail, Field string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Errors.Detail == "" {
		t.Fatalf("%s %s: %d without the JSON error body (%v)", method, path, resp.StatusCode, err)
	}
	return e.Errors.Detail, e.Errors.Field
}

// get fetches url with no credential but those in it, as a fresh client.
func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// newBrowser starts a headless Chromium with a fresh profile, bounded by
// testTimeout, and records what its first tab reports. Clipboard access is
// granted to origin, as a person grants it by using the page.
func newBrowser(t *testing.T, chromium, origin string) (context.Context, *pageEvents) {
	t.Helper()
	var output testcaddy.Buffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // root in containers; the pages are our own
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(&output),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), testTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		if t.Failed() && output.Len() > 0 {
			t.Logf("Chromium's output:\n%s", output.String())
		}
	})
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	events := new(pageEvents)
	if err := chromedp.Listen(browserCtx, events.record); err != nil {
		t.Fatalf("listening to the tab: %v", err)
	}
	stepCtx, cancel := context.WithTimeout(browserCtx, stepTimeout)
	defer cancel()
	// Issues are how Chromium reports CSP violations, among others.
	if _, err := chromedp.Call(stepCtx, audits.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enabling audits: %v", err)
	}
	setClipboardPermission(t, browserCtx, origin, browser.PermissionSettingGranted)
	return browserCtx, events
}

// setClipboardPermission grants or denies origin the clipboard, as a
// person would in the browser's prompt.
func setClipboardPermission(t *testing.T, ctx context.Context, origin string, setting browser.PermissionSetting) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name},
			Setting:    setting,
			Origin:     origin,
		})
		if err != nil {
			t.Fatalf("setting %s to %s: %v", name, setting, err)
		}
	}
}

// pageEvents is what the tab reported: console errors and warnings,
// uncaught exceptions, browser log errors and DevTools issues (a CSP
// violation is one), and every request it sent.
type pageEvents struct {
	mu       sync.Mutex
	problems []string
	requests []*network.EventRequestWillBeSent
}

// record runs in the tab's event loop (chromedp.Listen): it must be quick
// and send no command.
func (e *pageEvents) record(ev any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		switch ev.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeWarning, runtime.ConsoleAPICalledTypeAssert:
			var args []string
			for _, a := range ev.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			e.problems = append(e.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		e.problems = append(e.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			e.problems = append(e.problems, fmt.Sprintf("log %s (%s) %s: %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.URL, ev.Entry.Text))
		}
	case *audits.EventIssueAdded:
		details, _ := json.Marshal(ev.Issue.Details)
		e.problems = append(e.problems, fmt.Sprintf("issue %s: %s", ev.Issue.Code, details))
	case *network.EventRequestWillBeSent:
		e.requests = append(e.requests, ev)
	}
}

// wantNoProblems fails the test for every problem reported so far but
// those containing one of expected (a refusal the test asked for, which
// the browser logs as a failed load), and forgets them.
func (e *pageEvents) wantNoProblems(t *testing.T, stage string, expected ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
problems:
	for _, p := range e.problems {
		for _, x := range expected {
			if strings.Contains(p, x) {
				continue problems
			}
		}
		t.Errorf("%s: the browser reported %s", stage, p)
	}
	e.problems = nil
}

// urls returns the method and URL of every request the tab sent so far.
func (e *pageEvents) urls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.requests {
		out = append(out, r.Request.Method+" "+r.Request.URL)
	}
	return out
}

// run runs one action on the tab within stepTimeout, failing the test with
// what was being done when it fails.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, ctx, what, chromedp.Steps(steps...))
}

// eval evaluates a JavaScript expression in the page, awaiting a promise.
func eval[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	return run(t, ctx, what, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// waitFor polls a JavaScript condition in the page.
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	pollCtx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(pollCtx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		// What the page shows says more than the timeout.
		shownCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		shown, _ := chromedp.Run(shownCtx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("%s: %v; the page shows:\n%s", what, err, shown)
	}
}

var axeSource = sync.OnceValues(func() ([]byte, error) { return os.ReadFile(filepath.Join("testdata", "axe.min.js")) })

// axeViolation is what axe-core reports of a rule a page breaks.
type axeViolation struct {
	ID    string `json:"id"`
	Help  string `json:"help"`
	Nodes []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// wantAccessible runs axe-core on the page as it is and fails the test for
// every violation, of WCAG 2.x A and AA and of axe's best practices.
func wantAccessible(t *testing.T, ctx context.Context, screen string) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		t.Fatalf("reading axe-core: %v", err)
	}
	// DevTools evaluation is not bound by the page's CSP, so axe runs
	// without loosening it.
	if !eval[bool](t, ctx, "load axe-core", string(src)+"\n;typeof axe === 'object'") {
		t.Fatal("axe-core did not load")
	}
	raw := eval[string](t, ctx, "run axe-core on "+screen,
		`axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))`)
	var violations []axeViolation
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		t.Fatalf("axe-core's result: %v", err)
	}
	for _, v := range violations {
		for _, n := range v.Nodes {
			t.Errorf("%s: axe-core: %s (%s) at %v: %s", screen, v.ID, v.Help, n.Target, n.Summary)
		}
	}
}

// screenshot saves the top of the page, at the viewport's size, to docs/
// when LINKGATE_SCREENSHOTS=1 (so that normal runs leave the tracked
// pictures alone), else to the test's temp dir.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	do(t, ctx, "scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	png := run(t, ctx, "take a screenshot", chromedp.CaptureScreenshot())
	dir := t.TempDir()
	if os.Getenv("LINKGATE_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "..", "docs")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}
