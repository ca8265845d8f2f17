package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	_ "github.com/linkgate/linkgate/caddymodule"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	passcode      = "open-sesame-4711"
	wrongPasscode = "let-me-in-please"

	// segmentBody is what the upstream answers for a segment, so the
	// player page shows it once its fetch got through the gateway.
	segmentBody = "SEGMENT-OK"

	// testTimeout bounds the browser's whole life; stepTimeout each
	// action, so a hang names the step it happened in.
	testTimeout = 60 * time.Second
	stepTimeout = 20 * time.Second
)

// TestPasscodePageInBrowser is a viewer's first visit to a passcode-protected
// stream in a real Chromium: the gateway's passcode page, a wrong passcode,
// the right one, and then the player whose segment requests get through on
// the session cookie alone (design, gateway decisions 6 and 7).
func TestPasscodePageInBrowser(t *testing.T) {
	chromium := findChromium(t)
	dsn := pgtest.DB(t)
	token := newOrgToken(t, dsn)
	up := newUpstream(t)
	base := startGateway(t, dsn, up.server.Listener.Addr().String())
	id := createAlias(t, base, token)
	pageURL := base + "/live/" + id + "/index.html"

	ctx, events := newBrowser(t, chromium)
	events.gated = pageURL

	t.Log("the passcode page")
	resp := run(t, ctx, "open the stream", chromedp.NavigateResponse(pageURL))
	if resp.Status != http.StatusUnauthorized {
		t.Errorf("first visit: status %d, want %d", resp.Status, http.StatusUnauthorized)
	}
	if csp := header(resp.Headers, "Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("passcode page Content-Security-Policy %q, want one with default-src 'none'", csp)
	}
	if got := run(t, ctx, "read the title", chromedp.Title()); got != "Passcode required" {
		t.Errorf("title %q, want %q", got, "Passcode required")
	}
	if got := run(t, ctx, "read the label", chromedp.Text(chromedp.CSS(`label[for="passcode"]`))); got != "Passcode" {
		t.Errorf("label %q, want %q", got, "Passcode")
	}
	input := run(t, ctx, "read the field's accessibility", axNode(chromedp.ID("passcode")))
	if role, name := axString(t, input.Role), axString(t, input.Name); role != "textbox" || name != "Passcode" {
		t.Errorf("passcode field is a %q named %q to assistive technology, want a textbox named %q", role, name, "Passcode")
	}
	if got := run(t, ctx, "read the field's type", chromedp.AttributeValue(chromedp.ID("passcode"), "type")); got.Value != "password" {
		t.Errorf("passcode field type %q, want password", got.Value)
	}
	// The style sheet is allowed by its hash in the CSP: if the hash were
	// wrong the page would show unstyled, which no error would tell.
	if got := run(t, ctx, "read the page's style", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); got != "rgb(17, 17, 17)" {
		t.Errorf("body background %q, want rgb(17, 17, 17): the page's style sheet did not apply", got)
	}
	saveScreenshot(t, run(t, ctx, "take a screenshot", chromedp.FullScreenshot(100)))
	events.wantNoProblems(t, "passcode page")

	t.Log("a wrong passcode")
	do(t, ctx, "type the wrong passcode", chromedp.SendKeys(chromedp.ID("passcode"), wrongPasscode))
	resp = runResponse(t, ctx, "submit the wrong passcode", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	if resp.Status != http.StatusUnauthorized {
		t.Errorf("wrong passcode: status %d, want %d", resp.Status, http.StatusUnauthorized)
	}
	if got := run(t, ctx, "read the location", chromedp.Location()); got != pageURL {
		t.Errorf("after a wrong passcode the browser is at %s, want %s", got, pageURL)
	}
	const notice = "That passcode is not right. Try again."
	if got := run(t, ctx, "read the alert", chromedp.Text(chromedp.CSS(`[role="alert"]`))); got != notice {
		t.Errorf("alert %q, want %q", got, notice)
	}
	input = run(t, ctx, "read the field's accessibility", axNode(chromedp.ID("passcode")))
	if name, desc := axString(t, input.Name), axString(t, input.Description); name != "Passcode" || desc != notice {
		t.Errorf("after a wrong passcode the field is named %q, described %q; want %q, %q", name, desc, "Passcode", notice)
	}
	if !axInvalid(t, input) {
		t.Error("after a wrong passcode the field is not marked invalid for assistive technology")
	}
	if c := sessionCookie(t, ctx, pageURL, id); c != nil {
		t.Errorf("a wrong passcode set the session cookie %s", c.Name)
	}
	events.wantNoProblems(t, "passcode page after a wrong passcode")

	t.Log("the right passcode")
	do(t, ctx, "type the passcode", chromedp.SendKeys(chromedp.ID("passcode"), passcode))
	resp = runResponse(t, ctx, "submit the passcode", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	if resp.Status != http.StatusOK || resp.URL != pageURL {
		t.Errorf("after the passcode: %d %s, want %d %s", resp.Status, resp.URL, http.StatusOK, pageURL)
	}
	if got := run(t, ctx, "read the location", chromedp.Location()); got != pageURL {
		t.Errorf("after the passcode the browser is at %s, want the clean URL %s", got, pageURL)
	}
	if got := run(t, ctx, "read the title", chromedp.Title()); got != "Player" {
		t.Errorf("title %q, want the player's %q", got, "Player")
	}
	do(t, ctx, "wait for the player's segment fetch", chromedp.Poll[chromedp.Void](`document.body.dataset.done === "yes"`, chromedp.WithPollingTimeout(stepTimeout)))
	status := run(t, ctx, "read the segment status", chromedp.Text(chromedp.ID("status")))
	segment := run(t, ctx, "read the segment", chromedp.Text(chromedp.ID("segment")))
	if status != "200" || segment != segmentBody {
		t.Errorf("the player's fetch of segment1.ts got %s %q, want 200 %q", status, segment, segmentBody)
	}
	events.wantNoProblems(t, "player page")

	t.Log("the session cookie")
	c := sessionCookie(t, ctx, pageURL, id)
	switch {
	case c == nil:
		t.Errorf("no %s%s cookie after the passcode", gate.SessionCookiePrefix, id)
	default:
		if !c.HTTPOnly {
			t.Errorf("cookie %s is not HttpOnly", c.Name)
		}
		if want := "/live/" + id; c.Path != want {
			t.Errorf("cookie %s has path %q, want %q", c.Name, c.Path, want)
		}
		if c.SameSite != network.CookieSameSiteLax {
			t.Errorf("cookie %s has SameSite %q, want Lax", c.Name, c.SameSite)
		}
		if c.Session || c.Expires <= float64(time.Now().Unix()) {
			t.Errorf("cookie %s has no expiry in the future (session %v, expires %v)", c.Name, c.Session, c.Expires)
		}
		if strings.Contains(c.Value, passcode) {
			t.Errorf("cookie %s holds the passcode", c.Name)
		}
	}
	// Reading document.cookie makes Chromium report a performance issue, so
	// this comes after the last check for problems.
	if js := run(t, ctx, "read document.cookie", chromedp.Evaluate[string](`document.cookie`)); strings.Contains(js, gate.SessionCookiePrefix) {
		t.Errorf("page scripts can read the session cookie: document.cookie = %q", js)
	}
	other := base + "/live/" + strings.Repeat("z", len(id)) + "/index.html"
	if c := sessionCookie(t, ctx, other, id); c != nil {
		t.Errorf("cookie %s would also be sent to %s", c.Name, other)
	}

	events.wantRedirect(t, pageURL)
	events.wantNoPasscodeInURLs(t)
	up.wantViewerRequests(t, id)
}

// findChromium returns the browser to test with. LINKGATE_CHROMIUM names
// the one binary to use; otherwise Debian's /usr/bin/chromium or the first
// of the usual names on PATH. Without one the test skips, unless CI is set:
// there a missing browser must not pass as a skipped test.
func findChromium(t *testing.T) string {
	t.Helper()
	path, missing := locateChromium()
	if path != "" {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("browser: Chromium is required when CI is set: %s", missing)
	}
	t.Skipf("browser: skipping: %s", missing)
	return ""
}

const envChromium = "LINKGATE_CHROMIUM"

func locateChromium() (path, missing string) {
	if p := os.Getenv(envChromium); p != "" {
		if executable(p) {
			return p, ""
		}
		return "", fmt.Sprintf("%s=%s is not an executable file", envChromium, p)
	}
	const debian = "/usr/bin/chromium"
	if executable(debian) {
		return debian, ""
	}
	names := []string{"chromium", "chromium-browser", "google-chrome"}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", fmt.Sprintf("no Chromium at %s nor any of %s on PATH (install Debian's chromium, or set %s to a Chromium binary)",
		debian, strings.Join(names, ", "), envChromium)
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// newOrgToken creates the schema, an organization and a token of it.
func newOrgToken(t *testing.T, dsn string) string {
	t.Helper()
	s, err := pgstore.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	_, token := testcaddy.NewOrg(t, s)
	return token
}

// startGateway runs Caddy in this process with the alias API and a live
// route to upstream, and returns its base URL.
func startGateway(t *testing.T, dsn, upstream string) string {
	t.Helper()
	s := testcaddy.Site{Database: dsn, Upstream: upstream, Port: testcaddy.FreePort(t), Storage: t.TempDir()}
	testcaddy.Load(t, s.Caddyfile(t))
	return s.Base()
}

// createAlias creates a live alias with the passcode through the API, as an
// organizer would, and returns its ID.
func createAlias(t *testing.T, base, token string) string {
	t.Helper()
	body := fmt.Sprintf(`{"type":"live","name":"Browser test","passcode":%q,"expired_at":%d}`,
		passcode, time.Now().Add(time.Hour).Unix())
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/organization/api/v1/alias/create", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("creating the alias: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var created struct {
		Data struct {
			ID       string `json:"id"`
			Passcode string `json:"passcode"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &created) != nil || created.Data.ID == "" {
		t.Fatalf("creating the alias: %d %s", resp.StatusCode, raw)
	}
	if created.Data.Passcode != passcode {
		t.Fatalf("created alias has passcode %q, want %q", created.Data.Passcode, passcode)
	}
	return created.Data.ID
}

// upstream is the media backend behind the gateway: a player page whose
// script fetches a segment, and the segment. It records every request it
// gets, so the test can see what the gateway let through.
type upstream struct {
	server *httptest.Server

	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	method, path, rawQuery string
	header                 http.Header
	body                   string
}

const playerPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Player</title>
</head>
<body>
<h1>Player</h1>
<pre id="status"></pre>
<pre id="segment"></pre>
<script src="player.js"></script>
</body>
</html>
`

// playerScript fetches a segment by a relative URL, as an HLS player does,
// so the request carries nothing but what the browser adds by itself.
const playerScript = `fetch("segment1.ts")
	.then(async (r) => {
		document.getElementById("status").textContent = String(r.status);
		document.getElementById("segment").textContent = await r.text();
	})
	.catch((e) => {
		document.getElementById("segment").textContent = "fetch failed: " + e;
	})
	.finally(() => {
		document.body.dataset.done = "yes";
	});
`

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := new(upstream)
	mux := http.NewServeMux()
	serve := func(contentType, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, body)
		}
	}
	mux.Handle("GET /live/{id}/index.html", serve("text/html; charset=utf-8", playerPage))
	mux.Handle("GET /live/{id}/player.js", serve("text/javascript; charset=utf-8", playerScript))
	mux.Handle("GET /live/{id}/segment1.ts", serve("video/mp2t", segmentBody))
	u.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		u.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(u.server.Close)
	return u
}

// wantViewerRequests checks that exactly the player's three requests got
// through, each as the alias's viewer, and none with a credential: no
// session cookie (the gateway strips it) and no passcode anywhere.
func (u *upstream) wantViewerRequests(t *testing.T, id string) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	want := []string{
		"GET /live/" + id + "/index.html",
		"GET /live/" + id + "/player.js",
		"GET /live/" + id + "/segment1.ts",
	}
	var got []string
	for _, r := range u.seen {
		got = append(got, r.method+" "+r.path)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the upstream got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	for _, r := range u.seen {
		what := r.method + " " + r.path
		if role := r.header.Get("X-Linkgate-Role"); role != "viewer" {
			t.Errorf("%s reached the upstream with X-Linkgate-Role %q, want viewer", what, role)
		}
		if alias := r.header.Get("X-Linkgate-Alias"); alias != id {
			t.Errorf("%s reached the upstream with X-Linkgate-Alias %q, want %s", what, alias, id)
		}
		if cookie := r.header.Get("Cookie"); strings.Contains(cookie, gate.SessionCookiePrefix) {
			t.Errorf("%s reached the upstream with the session cookie: Cookie: %s", what, cookie)
		}
		if r.header.Get("Authorization") != "" || r.header.Get(gate.HeaderPasscode) != "" {
			t.Errorf("%s reached the upstream with a credential header", what)
		}
		if leaked(r, passcode) || leaked(r, wrongPasscode) {
			t.Errorf("%s reached the upstream with a passcode in it", what)
		}
	}
}

func leaked(r seenRequest, secret string) bool {
	if strings.Contains(r.path, secret) || strings.Contains(r.rawQuery, secret) || strings.Contains(r.body, secret) {
		return true
	}
	for _, values := range r.header {
		for _, v := range values {
			if strings.Contains(v, secret) {
				return true
			}
		}
	}
	return false
}

// newBrowser starts a headless Chromium with a fresh profile, bounded by
// testTimeout, and records what its tab reports. The browser is gone when
// the test function returns, before the cleanups drop the database.
func newBrowser(t *testing.T, chromium string) (context.Context, *pageEvents) {
	t.Helper()
	var output testcaddy.Buffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // root in containers; the page is our own
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(800, 600),
		chromedp.CombinedOutput(&output),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), testTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	// Cleanups run in reverse: the tab, the browser process (waited
	// for, so its profile directory can go), then the timeout; all before
	// the earlier cleanups that stop Caddy and drop the database.
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		if t.Failed() && output.Len() > 0 {
			t.Logf("Chromium's output:\n%s", output.String())
		}
	})

	// The first action starts the browser and binds it to browserCtx, so
	// it gets no step timeout of its own.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	events := new(pageEvents)
	if err := chromedp.Listen(browserCtx, events.record); err != nil {
		t.Fatalf("listening to the tab: %v", err)
	}
	// Issues are how Chromium reports CSP violations, among others.
	stepCtx, cancel := context.WithTimeout(browserCtx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(stepCtx, audits.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enabling audits: %v", err)
	}
	return browserCtx, events
}

// pageEvents is what the tab reported: console errors and warnings,
// uncaught exceptions, browser log errors and DevTools issues (a CSP
// violation is one), and every request it sent.
type pageEvents struct {
	// gated is the URL answered with the passcode page, whose 401 the
	// browser logs as a failed load: that one is expected.
	gated string

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
		gated := ev.Entry.Source == log.EntrySourceNetwork && ev.Entry.URL == e.gated &&
			ev.Entry.Text == "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
		if !gated && (ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning) {
			e.problems = append(e.problems, fmt.Sprintf("log %s (%s) %s: %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.URL, ev.Entry.Text))
		}
	case *audits.EventIssueAdded:
		details, _ := json.Marshal(ev.Issue.Details)
		e.problems = append(e.problems, fmt.Sprintf("issue %s: %s", ev.Issue.Code, details))
	case *network.EventRequestWillBeSent:
		e.requests = append(e.requests, ev)
	}
}

// wantNoProblems fails the test for every problem reported so far, and
// forgets them, so each check names the stage they came from.
func (e *pageEvents) wantNoProblems(t *testing.T, stage string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.problems {
		t.Errorf("%s: the browser reported %s", stage, p)
	}
	e.problems = nil
}

// wantRedirect checks that the passcode form's post was answered with a
// redirect (303, so the reload does not post again) to the clean URL.
func (e *pageEvents) wantRedirect(t *testing.T, pageURL string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	posts := 0
	for _, r := range e.requests {
		if r.Request.Method == http.MethodPost && r.Request.URL == pageURL {
			posts++
		}
		if r.RedirectResponse == nil {
			continue
		}
		if r.RedirectResponse.Status != http.StatusSeeOther || r.Request.Method != http.MethodGet || r.Request.URL != pageURL {
			t.Errorf("redirect %d to %s %s, want %d to GET %s", r.RedirectResponse.Status, r.Request.Method, r.Request.URL, http.StatusSeeOther, pageURL)
		}
		return
	}
	t.Errorf("no redirect after the passcode form's post (%d posts to %s)", posts, pageURL)
}

// wantNoPasscodeInURLs checks that no request the browser sent carried a
// passcode in its URL, where it would land in history and logs.
func (e *pageEvents) wantNoPasscodeInURLs(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.requests {
		u := r.Request.URL
		if strings.Contains(u, passcode) || strings.Contains(u, wrongPasscode) ||
			strings.Contains(u, url.QueryEscape(passcode)) || strings.Contains(u, "passcode=") {
			t.Errorf("the browser sent a passcode in a URL: %s %s", r.Request.Method, u)
		}
	}
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

// runResponse runs steps that navigate, such as a click on a submit button,
// and returns the response of the page they lead to.
func runResponse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return resp
}

// axNode returns what assistive technology is told about the first element
// sel matches: its computed role, name, description and states.
func axNode[S chromedp.Selectable](sel S) chromedp.Action[*accessibility.Node] {
	return chromedp.QueryAfter(sel, func(ctx context.Context, tgt *chromedp.Target, nodes []*chromedp.Node) (*accessibility.Node, error) {
		nodes[0].RLock()
		backendID := nodes[0].BackendNodeID
		nodes[0].RUnlock()
		res, err := cdp.Call(ctx, tgt, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{
			BackendNodeID:  backendID,
			FetchRelatives: new(false),
		})
		if err != nil {
			return nil, err
		}
		for _, n := range res.Nodes {
			if n.BackendDOMNodeID == backendID {
				return n, nil
			}
		}
		return nil, errors.New("the element has no accessibility node")
	})
}

func axString(t *testing.T, v *accessibility.Value) string {
	t.Helper()
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(v.Value, &s); err != nil {
		t.Errorf("accessibility value %s is not a string: %v", v.Value, err)
	}
	return s
}

func axInvalid(t *testing.T, n *accessibility.Node) bool {
	t.Helper()
	for _, p := range n.Properties {
		if p.Name == accessibility.PropertyNameInvalid {
			return axString(t, p.Value) == "true"
		}
	}
	return false
}

// sessionCookie returns the alias's session cookie as the browser would send
// it to pageURL, or nil.
func sessionCookie(t *testing.T, ctx context.Context, pageURL, id string) *network.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{pageURL}})
	if err != nil {
		t.Fatalf("reading the cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == gate.SessionCookiePrefix+id {
			return c
		}
	}
	return nil
}

func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// saveScreenshot keeps the passcode page's picture in the test's temp dir,
// and in LINKGATE_SCREENSHOT_DIR when set, for a developer to look at.
func saveScreenshot(t *testing.T, png []byte) {
	t.Helper()
	const name = "passcode-page.png"
	dirs := []string{t.TempDir()}
	if dir := os.Getenv("LINKGATE_SCREENSHOT_DIR"); dir != "" {
		dirs = append(dirs, dir)
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("screenshot directory: %v", err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatalf("writing the screenshot: %v", err)
		}
		t.Logf("screenshot of the passcode page: %s", path)
	}
}
