package mediaapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MediaMTXCollections are the collections of MediaMTX's Control API that
// hold connections and sessions, all served unless Serve says otherwise.
var MediaMTXCollections = []string{
	"rtspconns", "rtspsessions", "rtspsconns", "rtspssessions",
	"rtmpconns", "rtmpsconns", "srtconns", "webrtcsessions",
}

// MediaMTX is a MediaMTX: its Control API, and the auth requests it posts
// with authMethod http.
type MediaMTX struct {
	// URL is the Control API's base URL, http://127.0.0.1:port.
	URL string
	calls
	hook string

	mu sync.Mutex
	// user and password protect the API when user is set.
	user, password string
	// authHTTP has the API's calls authenticated by the hook, as
	// authMethod http does for action api unless authHTTPExclude lists it.
	authHTTP bool
	served   map[string]bool
	items    map[string]map[string]*mtxItem
	kicked   map[string]bool
}

// mtxItem is a connection or session, as the API lists it.
type mtxItem struct {
	id, created, remoteAddr string
	state, path, query      string
	// session is an RTSP connection's session.
	session string
}

// NewMediaMTX starts a MediaMTX whose auth requests go to hook, linkgate's
// alias_hooks mediamtx URL. It stops when the test ends.
func NewMediaMTX(t testing.TB, hook string) *MediaMTX {
	m := &MediaMTX{hook: hook, served: map[string]bool{}, items: map[string]map[string]*mtxItem{}, kicked: map[string]bool{}}
	for _, c := range MediaMTXCollections {
		m.served[c] = true
		m.items[c] = map[string]*mtxItem{}
	}
	srv := httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(srv.Close)
	m.URL = srv.URL
	return m
}

// Protect requires user and password of every API call, checked by
// MediaMTX itself or, with authHTTP, by the hook (authMethod http with
// action api not in authHTTPExclude).
func (m *MediaMTX) Protect(user, password string, authHTTP bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.user, m.password, m.authHTTP = user, password, authHTTP
}

// Serve serves only the collections named, as a MediaMTX with the other
// servers disabled registers no route for them.
func (m *MediaMTX) Serve(collections ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.served {
		m.served[c] = slices.Contains(collections, c)
	}
}

// Client is what a media client asks MediaMTX for.
type Client struct {
	// Protocol is rtsp, rtmp, srt or webrtc; TLS makes it RTSPS or RTMPS,
	// which MediaMTX's auth request names as rtsp and rtmp.
	Protocol string
	TLS      bool
	// Action is publish or read.
	Action                string
	Path                  string
	User, Password, Query string
	// Token is the bearer token of a WebRTC or HLS request.
	Token string
}

// mtxAuth is the body MediaMTX posts to authHTTPAddress, in its order.
type mtxAuth struct {
	IP       string  `json:"ip"`
	User     string  `json:"user"`
	Password string  `json:"password"`
	Token    string  `json:"token"`
	Action   string  `json:"action"`
	Path     string  `json:"path"`
	Protocol string  `json:"protocol"`
	ID       *string `json:"id"`
	Query    string  `json:"query"`
}

// connCollection is where a client's connection, whose ID the auth request
// carries, is listed.
func (c *Client) connCollection() string {
	coll := map[string]string{"rtsp": "rtspconns", "rtmp": "rtmpconns", "srt": "srtconns", "webrtc": "webrtcsessions"}[c.Protocol]
	if c.TLS && (c.Protocol == "rtsp" || c.Protocol == "rtmp") {
		coll = strings.Replace(coll, "conns", "sconns", 1)
	}
	return coll
}

// Connect opens a client's connection, asks the hook, as MediaMTX does
// before a client may publish or read, and keeps the session if the hook
// admits it. It returns the ID the auth request carried (the connection's;
// for WebRTC, the session's) and the hook's status.
func (m *MediaMTX) Connect(t testing.TB, c Client) (id string, status int) {
	t.Helper()
	coll := c.connCollection()
	if coll == "" {
		t.Fatalf("no MediaMTX protocol %q", c.Protocol)
	}
	id = newUUID()
	conn := &mtxItem{id: id, created: time.Now().UTC().Format(time.RFC3339Nano), remoteAddr: remoteAddr(), state: "idle"}
	m.mu.Lock()
	m.items[coll][id] = conn
	m.mu.Unlock()
	status, _ = postHook(t, m.hook, mtxAuth{
		IP: "127.0.0.1", User: c.User, Password: c.Password, Token: c.Token,
		Action: c.Action, Path: c.Path, Protocol: c.Protocol, ID: &id, Query: c.Query,
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	if status < 200 || status > 299 {
		delete(m.items[coll], id)
		return id, status
	}
	state := map[string]string{"publish": "publish", "read": "read"}[c.Action]
	if sessions := rtspSessions(coll); sessions != "" {
		// An RTSP client's session is set up on its connection.
		s := &mtxItem{id: newUUID(), created: conn.created, remoteAddr: conn.remoteAddr, state: state, path: c.Path, query: c.Query}
		m.items[sessions][s.id] = s
		conn.session = s.id
		return id, status
	}
	conn.state, conn.path, conn.query = state, c.Path, c.Query
	return id, status
}

// rtspSessions is the session collection of an RTSP connection collection.
func rtspSessions(conns string) string {
	return map[string]string{"rtspconns": "rtspsessions", "rtspsconns": "rtspssessions"}[conns]
}

// Disconnect closes a connection by the ID its auth request carried, as a
// client that leaves: MediaMTX tells no one.
func (m *MediaMTX) Disconnect(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(id)
}

// remove drops what id names, with an RTSP connection's session, or a
// session's connections.
func (m *MediaMTX) remove(id string) {
	for coll, items := range m.items {
		it := items[id]
		if it == nil {
			continue
		}
		delete(items, id)
		if sessions := rtspSessions(coll); sessions != "" && it.session != "" {
			delete(m.items[sessions], it.session)
		}
		for _, conns := range []string{"rtspconns", "rtspsconns"} {
			for cid, conn := range m.items[conns] {
				if conn.session == id {
					delete(m.items[conns], cid)
				}
			}
		}
	}
}

// Session is the RTSP session of a connection, "" when it has none.
func (m *MediaMTX) Session(connID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, conns := range []string{"rtspconns", "rtspsconns"} {
		if c := m.items[conns][connID]; c != nil {
			return c.session
		}
	}
	return ""
}

// Kicked reports whether the API kicked the connection or session id.
func (m *MediaMTX) Kicked(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kicked[id]
}

// serve answers the Control API.
func (m *MediaMTX) serve(w http.ResponseWriter, r *http.Request) {
	w, done := m.record(w, r)
	defer done()
	if !m.authenticate(w, r) {
		return
	}
	// /v3/<collection>/<list|get|kick>[/<id>]
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v3/"), "/")
	m.mu.Lock()
	defer m.mu.Unlock()
	if !strings.HasPrefix(r.URL.Path, "/v3/") || len(parts) < 2 || !m.served[parts[0]] {
		notFound(w)
		return
	}
	coll, op := parts[0], parts[1]
	kickable := !strings.HasSuffix(coll, "conns") || strings.HasPrefix(coll, "rtmp") || coll == "srtconns"
	switch {
	case op == "list" && len(parts) == 2 && r.Method == http.MethodGet:
		m.list(w, r, coll)
	case op == "get" && len(parts) == 3 && r.Method == http.MethodGet:
		if it := m.find(w, coll, parts[2]); it != nil {
			writeJSON(w, http.StatusOK, it.json(coll))
		}
	case op == "kick" && len(parts) == 3 && r.Method == http.MethodPost && kickable:
		if it := m.find(w, coll, parts[2]); it != nil {
			m.remove(it.id)
			m.kicked[it.id] = true
			w.WriteHeader(http.StatusOK)
		}
	default:
		notFound(w)
	}
}

// authenticate checks an API call's credentials as MediaMTX does, asking
// the hook with authHTTP; it answers 401 itself when they are refused.
func (m *MediaMTX) authenticate(w http.ResponseWriter, r *http.Request) bool {
	m.mu.Lock()
	want, wantPassword, authHTTP := m.user, m.password, m.authHTTP
	m.mu.Unlock()
	if want == "" {
		return true
	}
	user, password, _ := r.BasicAuth()
	ok := user == want && password == wantPassword
	if authHTTP {
		status, _ := postHookNoTest(m.hook, mtxAuth{IP: "127.0.0.1", User: user, Password: password, Action: "api"})
		ok = status >= 200 && status <= 299
	}
	if !ok {
		if user == "" && password == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="mediamtx"`)
		}
		w.WriteHeader(http.StatusUnauthorized)
	}
	return ok
}

// find returns the item id of coll, or answers as MediaMTX does when it
// is not a UUID (400) or unknown (404).
func (m *MediaMTX) find(w http.ResponseWriter, coll, id string) *mtxItem {
	if len(id) != 36 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid UUID length: " + strconv.Itoa(len(id))})
		return nil
	}
	it := m.items[coll][id]
	if it == nil {
		what := "connection"
		if strings.HasSuffix(coll, "sessions") {
			what = "session"
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": what + " not found"})
	}
	return it
}

// list answers a page of a collection, paginated as MediaMTX's paginate
// does: itemsPerPage (default 100) and page (from 0).
func (m *MediaMTX) list(w http.ResponseWriter, r *http.Request, coll string) {
	perPage, page := 100, 0
	if v := r.URL.Query().Get("itemsPerPage"); v != "" {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil || n == 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid items per page"})
			return
		}
		perPage = int(n)
	}
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		page = int(n)
	}
	all := make([]*mtxItem, 0, len(m.items[coll]))
	for _, it := range m.items[coll] {
		all = append(all, it)
	}
	sort.Slice(all, func(i, j int) bool {
		return all[i].created < all[j].created || all[i].created == all[j].created && all[i].id < all[j].id
	})
	pageCount := (len(all) + perPage - 1) / perPage
	lo, hi := min(page*perPage, len(all)), min((page+1)*perPage, len(all))
	items := make([]map[string]any, 0, hi-lo)
	for _, it := range all[lo:hi] {
		items = append(items, it.json(coll))
	}
	writeJSON(w, http.StatusOK, map[string]any{"itemCount": len(all), "pageCount": pageCount, "items": items})
}

// json is the item as the API renders an item of coll.
func (it *mtxItem) json(coll string) map[string]any {
	v := map[string]any{"id": it.id, "created": it.created, "remoteAddr": it.remoteAddr, "bytesReceived": 0, "bytesSent": 0}
	switch coll {
	case "rtspconns", "rtspsconns":
		v["session"] = nil
		if it.session != "" {
			v["session"] = it.session
		}
		v["tunnel"] = "none"
		return v
	case "webrtcsessions":
		v["peerConnectionEstablished"] = true
		v["localCandidate"], v["remoteCandidate"] = "", ""
	case "rtspsessions", "rtspssessions":
		v["transport"] = "TCP"
	}
	v["state"], v["path"], v["query"] = it.state, it.path, it.query
	return v
}

// notFound is gin's answer to a route MediaMTX did not register.
func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte("404 page not found"))
}
