package mediaapi

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// SRS is an SRS 5 or 6: its HTTP API's clients endpoint, and the
// http_hooks it posts.
type SRS struct {
	// URL is the HTTP API's base URL, http://127.0.0.1:port.
	URL string
	calls
	hook string
	// release ends the kicks held by Hang when the test ends.
	release chan struct{}

	mu sync.Mutex
	// user and password protect the API when user is set (http_api
	// auth).
	user, password string
	hang           bool
	clients        map[string]*srsClient
	kicked         map[string]bool
}

type srsClient struct {
	id, stream, param string
	publish           bool
}

// srsServerID and srsServiceID are the IDs SRS 5 and later put in every
// hook and API answer.
const (
	srsServerID  = "vid-0xk989d"
	srsServiceID = "4k2mh1r0"
)

// NewSRS starts an SRS whose http_hooks go to hook, linkgate's alias_hooks
// srs URL. It stops when the test ends.
func NewSRS(t testing.TB, hook string) *SRS {
	s := &SRS{hook: hook, release: make(chan struct{}), clients: map[string]*srsClient{}, kicked: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(s.release) })
	s.URL = srv.URL
	return s
}

// Protect requires user and password of every API call, as http_api's
// auth does.
func (s *SRS) Protect(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.password = user, password
}

// Hang makes the API hold kicks unanswered until the caller gives up.
func (s *SRS) Hang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = on
}

// newClientID returns an ID as SRS 5 and later make them: 8 characters of
// [a-z0-9].
func newClientID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// srsHook is the body of an SRS 5 http_hooks call, in SRS's order.
type srsHook struct {
	ServerID  string `json:"server_id"`
	ServiceID string `json:"service_id"`
	Action    string `json:"action"`
	ClientID  string `json:"client_id"`
	IP        string `json:"ip"`
	Vhost     string `json:"vhost"`
	App       string `json:"app"`
	TcURL     string `json:"tcUrl,omitempty"`
	Stream    string `json:"stream,omitempty"`
	Param     string `json:"param,omitempty"`
	StreamURL string `json:"stream_url,omitempty"`
	StreamID  string `json:"stream_id,omitempty"`
	PageURL   string `json:"pageUrl,omitempty"`
	SendBytes *int   `json:"send_bytes,omitempty"`
	RecvBytes *int   `json:"recv_bytes,omitempty"`
}

func (c *srsClient) hook(action string) srsHook {
	h := srsHook{ServerID: srsServerID, ServiceID: srsServiceID, Action: action, ClientID: c.id,
		IP: "127.0.0.1", Vhost: "__defaultVhost__", App: "live"}
	if action == "on_close" {
		zero := 0
		h.SendBytes, h.RecvBytes = &zero, &zero
		return h
	}
	h.TcURL = "rtmp://127.0.0.1:1935/live"
	h.Stream, h.Param = c.stream, c.param
	h.StreamURL, h.StreamID = "/live/"+c.stream, "vid-124q9y3"
	return h
}

// Publish connects a client that publishes stream with param, the query
// of its URL with the leading "?", and asks the hook with on_publish. The
// client stays if the hook answers code 0. It returns the client's ID and
// the hook's code.
func (s *SRS) Publish(t testing.TB, stream, param string) (id string, code int) {
	t.Helper()
	return s.connect(t, &srsClient{id: newClientID(), stream: stream, param: param, publish: true})
}

// Play is Publish for a client that plays, asking with on_play.
func (s *SRS) Play(t testing.TB, stream, param string) (id string, code int) {
	t.Helper()
	return s.connect(t, &srsClient{id: newClientID(), stream: stream, param: param})
}

func (s *SRS) connect(t testing.TB, c *srsClient) (string, int) {
	t.Helper()
	action := "on_play"
	if c.publish {
		action = "on_publish"
	}
	status, body := postHook(t, s.hook, c.hook(action))
	var answer struct {
		Code *int `json:"code"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &answer) != nil || answer.Code == nil {
		t.Fatalf("%s: the hook answered %d %q; SRS takes only 200 with a JSON code", action, status, body)
	}
	if *answer.Code == 0 {
		s.mu.Lock()
		s.clients[c.id] = c
		s.mu.Unlock()
	}
	return c.id, *answer.Code
}

// Close ends client id as SRS reports a client that leaves: on_unpublish
// or on_stop, then on_close.
func (s *SRS) Close(t testing.TB, id string) {
	t.Helper()
	s.mu.Lock()
	c := s.clients[id]
	delete(s.clients, id)
	s.mu.Unlock()
	if c == nil {
		t.Fatalf("SRS has no client %s", id)
	}
	for _, body := range c.closing() {
		if status, answer := postHook(t, s.hook, body); status != http.StatusOK {
			t.Fatalf("%s: the hook answered %d %q", body.Action, status, answer)
		}
	}
}

// closing are the hooks SRS posts when client c goes.
func (c *srsClient) closing() []srsHook {
	stop := "on_stop"
	if c.publish {
		stop = "on_unpublish"
	}
	return []srsHook{c.hook(stop), c.hook("on_close")}
}

// Kicked reports whether the API kicked client id.
func (s *SRS) Kicked(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kicked[id]
}

// serve answers the HTTP API's clients endpoint.
func (s *SRS) serve(w http.ResponseWriter, r *http.Request) {
	w, done := s.record(w, r)
	defer done()
	s.mu.Lock()
	user, password, hang := s.user, s.password, s.hang
	s.mu.Unlock()
	if user != "" {
		if u, p, _ := r.BasicAuth(); u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="SRS"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/api/v1/clients/")
	if !ok || id == "" || r.Method != http.MethodDelete {
		http.NotFound(w, r)
		return
	}
	if hang {
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
		return
	}
	s.mu.Lock()
	c := s.clients[id]
	delete(s.clients, id)
	if c != nil {
		s.kicked[id] = true
	}
	s.mu.Unlock()
	if c == nil {
		writeJSON(w, http.StatusOK, map[string]int{"code": 2049})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 0, "server": srsServerID, "service": srsServiceID, "pid": "1"})
	// The kicked client's connection ends, and SRS reports it.
	go func() {
		for _, body := range c.closing() {
			postHookNoTest(s.hook, body)
		}
	}()
}
