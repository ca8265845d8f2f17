// Package mediaapi serves, for tests, the HTTP APIs through which linkgate
// ends media sessions, with the request and response shapes of the
// published servers: MediaMTX's Control API v3 (MediaMTX v1.x:
// internal/api/api.go, internal/defs/api_*.go, apidocs/openapi.yaml) and
// SRS's HTTP API (SRS 4, 5 and 6: SrsGoApiClients in
// trunk/src/app/srs_app_http_api.cpp). It also posts the admission hooks
// those servers post (MediaMTX's authHTTPAddress request, SRS's
// http_hooks), so that a test admits and ends sessions as the servers
// would. Neither server is packaged in Debian: these are recorded shapes,
// not the servers.
package mediaapi

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Call is a request an API received.
type Call struct {
	Method string
	Path   string
	// RawQuery is the request's query.
	RawQuery string
	// User and Password are the basic authentication it carried.
	User, Password string
	// At is when it arrived.
	At time.Time
	// Status is the status it was answered with; 0 for a request the
	// caller gave up on first.
	Status int
}

// calls records the requests of an API.
type calls struct {
	mu   sync.Mutex
	list []Call
}

// record records r, as it arrives; done, deferred, records the status it
// was answered with.
func (c *calls) record(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, func()) {
	user, password, _ := r.BasicAuth()
	c.mu.Lock()
	c.list = append(c.list, Call{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, User: user, Password: password, At: time.Now()})
	i := len(c.list) - 1
	c.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w}
	return sw, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.list[i].Status = sw.status
	}
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Calls returns the requests the API received so far, in order.
func (c *calls) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.list...)
}

// hookClient posts hooks; a hook that hangs fails the test rather than
// hanging it.
var hookClient = &http.Client{Timeout: 10 * time.Second}

// postHook posts body to a hook and returns the status and body of the
// answer.
func postHook(t testing.TB, url string, body any) (int, []byte) {
	t.Helper()
	status, answer, err := post(url, body)
	if err != nil {
		t.Fatalf("posting a hook: %v", err)
	}
	return status, answer
}

// postHookNoTest is postHook for a server's own goroutines: a hook that
// cannot be asked answers 0.
func postHookNoTest(url string, body any) (int, []byte) {
	status, answer, _ := post(url, body)
	return status, answer
}

func post(url string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	res, err := hookClient.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	return res.StatusCode, answer, err
}

// ports numbers the clients' remote addresses.
var ports atomic.Int32

// remoteAddr is a new client's address.
func remoteAddr() string {
	return "127.0.0.1:" + strconv.Itoa(40000+int(ports.Add(1))%20000)
}

// newUUID returns a random UUID, version 4, as MediaMTX writes its IDs.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
