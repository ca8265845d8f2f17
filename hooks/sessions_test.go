package hooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/internal/mediaapi"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/node"
)

// sessionsFixture is an alias_hooks mediamtx with an API, over a real node
// on the embedded store, in front of a MediaMTX.
type sessionsFixture struct {
	node     *node.Node
	orgID    string
	alias    *alias.Alias
	sessions *Sessions
	handler  *Handler
	hook     string
	mtx      *mediaapi.MediaMTX
}

const sessionsPasscode = "open-sesame"

func newSessionsFixture(t *testing.T) *sessionsFixture {
	t.Helper()
	n, err := node.New(node.Config{Database: node.Database{DSN: filepath.Join(t.TempDir(), "linkgate.db")}}, node.Events{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	store, err := n.Backend()
	if err != nil {
		t.Fatal(err)
	}
	org, err := store.CreateOrg(t.Context(), "kicks")
	if err != nil {
		t.Fatal(err)
	}
	a, err := store.CreateAlias(t.Context(), alias.Alias{
		ID: "kickalias001", OrgID: org.ID, Type: alias.TypeLive,
		Passcode: sessionsPasscode, ExpiredAt: time.Now().Add(time.Hour).Truncate(time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &sessionsFixture{node: n, orgID: org.ID, alias: &a}
	f.handler = &Handler{
		Gate: &gate.Gate{
			Source:  n,
			JWT:     gate.NewJWTVerifier(gate.DefaultJWTLeeway, gate.DefaultMaxTokenLifetime, nil),
			Limiter: gate.NewLimiter(3, time.Minute, 1000),
		},
		Flavour: FlavourMediaMTX,
	}
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	f.hook = srv.URL
	f.mtx = mediaapi.NewMediaMTX(t, f.hook)
	api, err := NewAPI(strings.Replace(f.mtx.URL, "http://", "http://linkgate:api-password@", 1), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// A sweep interval no test waits for: tests sweep by hand.
	f.sessions = NewSessions(FlavourMediaMTX, api, n, nil, nil)
	f.sessions.SetSweepInterval(time.Hour)
	t.Cleanup(f.sessions.Close)
	f.handler.Sessions = f.sessions
	return f
}

// read connects a reader with the passcode.
func (f *sessionsFixture) read(t *testing.T, protocol string) string {
	t.Helper()
	id, status := f.mtx.Connect(t, mediaapi.Client{Protocol: protocol, Action: "read", Path: f.alias.ID, Password: sessionsPasscode})
	if status != http.StatusNoContent {
		t.Fatalf("reading over %s: %d", protocol, status)
	}
	return id
}

// deleteAlias deletes the alias through the node, as the API does.
func (f *sessionsFixture) deleteAlias(t *testing.T) {
	t.Helper()
	if err := f.node.Catalog().DeleteAlias(t.Context(), f.orgID, f.alias.ID); err != nil {
		t.Fatal(err)
	}
}

// kickCalls counts the calls to the API that kick, or look up for a kick,
// the connection or session id.
func (f *sessionsFixture) kickCalls(id string) int {
	n := 0
	for _, c := range f.mtx.Calls() {
		if !strings.Contains(c.Path, "/list") && strings.HasSuffix(c.Path, "/"+id) {
			n++
		}
	}
	return n
}

// TestSessionsSweep: a session MediaMTX no longer lists is forgotten after
// two sweeps in a row miss it, and never kicked.
func TestSessionsSweep(t *testing.T) {
	f := newSessionsFixture(t)
	left := f.read(t, "rtmp")
	stays := f.read(t, "srt")
	f.mtx.Disconnect(left)

	f.sessions.sweep(t.Context())
	if n := f.sessions.Len(); n != 2 {
		t.Fatalf("after one sweep that missed a session, %d sessions tracked, want 2", n)
	}
	f.sessions.sweep(t.Context())
	if n := f.sessions.Len(); n != 1 {
		t.Fatalf("after two sweeps that missed a session, %d sessions tracked, want 1", n)
	}
	if n := f.node.Tracked(); n != 1 {
		t.Errorf("the node holds %d admissions, want 1", n)
	}

	f.deleteAlias(t)
	testcaddy.PollUntil(t, 10*time.Second, "the remaining session is kicked", func() bool { return f.mtx.Kicked(stays) })
	if n := f.kickCalls(left); n != 0 {
		t.Errorf("the session that left was kicked (%d calls)", n)
	}
}

// TestSessionsSweepLeavesUnknownProtocols: a sweep that cannot list a
// protocol forgets none of its sessions.
func TestSessionsSweepLeavesUnknownProtocols(t *testing.T) {
	f := newSessionsFixture(t)
	f.read(t, "webrtc")
	f.mtx.Serve("rtmpconns")
	f.sessions.sweep(t.Context())
	f.sessions.sweep(t.Context())
	if n := f.sessions.Len(); n != 1 {
		t.Errorf("%d sessions tracked after sweeps of a MediaMTX that lists no WebRTC, want 1", n)
	}
}

// TestSessionsReadmission: MediaMTX asks about an RTSP reader at DESCRIBE
// and again at SETUP, with the same connection ID; the session is held
// once, and kicked once.
func TestSessionsReadmission(t *testing.T) {
	f := newSessionsFixture(t)
	id := f.read(t, "rtsp")
	body := `{"ip":"127.0.0.1","user":"","password":"` + sessionsPasscode + `","token":"","action":"read","path":"` + f.alias.ID + `","protocol":"rtsp","id":"` + id + `","query":""}`
	res, err := http.Post(f.hook, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("asking again: %d", res.StatusCode)
	}
	if n := f.sessions.Len(); n != 1 {
		t.Fatalf("%d sessions tracked, want 1", n)
	}
	if n := f.node.Tracked(); n != 1 {
		t.Fatalf("the node holds %d admissions, want 1", n)
	}
	session := f.mtx.Session(id)
	f.deleteAlias(t)
	testcaddy.PollUntil(t, 10*time.Second, "the RTSP session is kicked", func() bool { return f.mtx.Kicked(session) })
	if n := f.kickCalls(session); n != 1 {
		t.Errorf("the session was kicked %d times, want once", n)
	}
}

// TestSessionsClose: sessions that close give back every admission they
// held.
func TestSessionsClose(t *testing.T) {
	f := newSessionsFixture(t)
	f.read(t, "rtmp")
	f.read(t, "webrtc")
	if n := f.node.Tracked(); n != 2 {
		t.Fatalf("the node holds %d admissions, want 2", n)
	}
	f.sessions.Close()
	if n := f.node.Tracked(); n != 0 {
		t.Errorf("after Close, the node holds %d admissions, want 0", n)
	}
}

// TestSessionsOwnAPICalls: MediaMTX asks the hook about calls to its own
// API; linkgate's, with the API URL's credentials, are let through, and
// no one else's. Wrong credentials count as guesses of the caller's.
func TestSessionsOwnAPICalls(t *testing.T) {
	f := newSessionsFixture(t)
	ask := func(h http.Handler, ip, user, password string) int {
		body := `{"ip":"` + ip + `","user":"` + user + `","password":"` + password + `","token":"","action":"api","path":"","protocol":"","id":null,"query":""}`
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/", strings.NewReader(body)))
		return w.Code
	}
	if code := ask(f.handler, "192.0.2.1", "linkgate", "api-password"); code != http.StatusNoContent {
		t.Errorf("linkgate's own call: %d, want 204", code)
	}
	for _, c := range [][2]string{{"", ""}, {"linkgate", "wrong"}, {"admin", "api-password"}, {"linkgate", "api-passwor"}} {
		if code := ask(f.handler, "192.0.2.66", c[0], c[1]); code != http.StatusForbidden {
			t.Errorf("a call as %q:%q: %d, want 403", c[0], c[1], code)
		}
	}
	// Three wrong guesses: the guesser is refused even the right password.
	if code := ask(f.handler, "192.0.2.66", "linkgate", "api-password"); code != http.StatusForbidden {
		t.Errorf("the right password from a throttled guesser: %d, want 403", code)
	}
	if code := ask(f.handler, "192.0.2.1", "linkgate", "api-password"); code != http.StatusNoContent {
		t.Errorf("linkgate's own call after another's guesses: %d, want 204", code)
	}
	without := &Handler{Gate: f.handler.Gate, Flavour: FlavourMediaMTX}
	if code := ask(without, "192.0.2.1", "linkgate", "api-password"); code != http.StatusForbidden {
		t.Errorf("a hook without api: %d, want 403", code)
	}
}
