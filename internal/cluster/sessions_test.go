package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// Close codes a WebSocket ended by linkgate is told, by reason.
const (
	closeCredentialExpired = 4401
	closeRevoked           = 4403
	closeAliasGone         = 4404
	closeCredentialChanged = 4409
)

// pathRevoke is where an organizer revokes users, tokens and moments.
const pathRevoke = "/organization/api/v1/alias/revoke/"

// TestSessionsEnd: what linkgate admitted and holds open (WebSockets, a
// blocked LL-HLS playlist reload, an event stream) ends when its right to
// exist ends, on whichever node holds it, wherever the change was made,
// while everything else stays open.
func TestSessionsEnd(t *testing.T) {
	d := newDatabase(t)
	up := newMediaUpstream(t)
	bin := testcaddy.BuildCaddy(t)
	sites := map[string]testcaddy.Site{}
	newNode := func(name string) *node {
		s, ok := sites[name]
		if !ok {
			s = testcaddy.NewSite(t, "{env.LINKGATE_DATABASE}", up.Server)
			s.Options = "jwt_leeway 1s"
			s.Routes = fmt.Sprintf("handle /conf/* {\n\talias_auth conference\n\treverse_proxy %s\n}", s.Upstream)
			sites[name] = s
		}
		return startNode(t, bin, name, s, d.dsn)
	}
	a, b := newNode("A"), newNode("B")
	a.waitReady(t)
	b.waitReady(t)
	d.waitListeners(t, 2)
	_, token := d.newOrg(t)
	owner := "Bearer " + token
	const secret = "0123456789abcdef0123456789abcdef"
	conference := func(members string) string {
		t.Helper()
		body := fmt.Sprintf(`{"type":"conference","expired_at":%d,%s}`, time.Now().Add(time.Hour).Unix(), members)
		r := do(t, http.MethodPost, a.base+pathCreate, owner, body)
		want(t, r, http.StatusCreated, "", "creating a conference")
		return dataID(t, r)
	}
	revoke := func(id, body string) {
		t.Helper()
		want(t, do(t, http.MethodPost, a.base+pathRevoke+id, owner, body), http.StatusOK, "", "revoking "+body)
	}

	t.Run("a JWT's expiry closes its WebSocket", func(t *testing.T) {
		id := conference(fmt.Sprintf(`"jwt_secret":%q`, secret))
		now := time.Now()
		exp := now.Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
		short := dialWS(t, b.base, id, "token="+userJWT(t, id, secret, "short", "", now, exp))
		long := dialWS(t, b.base, id, "token="+userJWT(t, id, secret, "long", "", now, now.Add(time.Hour)))
		code, reason, at := short.waitClosed(t, 10*time.Second)
		if code != closeCredentialExpired || reason != "credential expired" {
			t.Errorf("closed with %d %q, want %d \"credential expired\"", code, reason, closeCredentialExpired)
		}
		if at.Before(exp) {
			t.Errorf("closed at %v, before the token's expiry %v", at.Format(time.StampMilli), exp.Format(time.StampMilli))
		}
		t.Logf("closed %v after the token's expiry", at.Sub(exp))
		long.mustBeOpen(t)
	})

	t.Run("deleting on A closes the WebSockets B holds", func(t *testing.T) {
		id := conference(`"passcode":"door"`)
		other := conference(`"passcode":"door"`)
		gone := dialWS(t, b.base, id, "passcode=door")
		stays := dialWS(t, b.base, other, "passcode=door")
		want(t, do(t, http.MethodDelete, a.base+pathDelete+id, owner, ""), http.StatusOK, "", "deleting through A")
		deleted := time.Now()
		code, reason, at := gone.waitClosed(t, 5*time.Second)
		if code != closeAliasGone || reason != "alias deleted" {
			t.Errorf("closed with %d %q, want %d \"alias deleted\"", code, reason, closeAliasGone)
		}
		if took := at.Sub(deleted); took > propagation {
			t.Errorf("B closed the WebSocket %v after the delete, more than %v", took, propagation)
		} else {
			t.Logf("B closed the WebSocket %v after the delete", took)
		}
		stays.mustBeOpen(t)
	})

	t.Run("revoking a user closes theirs and refuses their cookies and tokens", func(t *testing.T) {
		id := conference(fmt.Sprintf(`"jwt_secret":%q`, secret))
		now := time.Now()
		aliceJWT := userJWT(t, id, secret, "alice", "", now, now.Add(time.Hour))
		alice := dialWS(t, b.base, id, "token="+aliceJWT)
		aliceOnA := dialWS(t, a.base, id, "token="+aliceJWT)
		bob := dialWS(t, b.base, id, "token="+userJWT(t, id, secret, "bob", "", now, now.Add(time.Hour)))
		cookie := sessionCookie(t, a.base+"/conf/"+id+"/lobby?token="+aliceJWT)

		revoke(id, `{"user_id":"alice"}`)
		revoked := time.Now()
		for name, c := range map[string]*wsClient{"on B": alice, "on A": aliceOnA} {
			code, reason, at := c.waitClosed(t, 5*time.Second)
			if code != closeRevoked || reason != "revoked" {
				t.Errorf("alice's WebSocket %s closed with %d %q, want %d \"revoked\"", name, code, reason, closeRevoked)
			}
			if took := at.Sub(revoked); took > propagation {
				t.Errorf("alice's WebSocket %s closed %v after the revocation, more than %v", name, took, propagation)
			}
		}
		bob.mustBeOpen(t)
		fresh := userJWT(t, id, secret, "alice", "", time.Now(), time.Now().Add(time.Hour))
		for _, n := range []*node{a, b} {
			for what, r := range map[string]reply{
				"her token":     do(t, http.MethodGet, n.base+"/conf/"+id+"/lobby?token="+aliceJWT, "", ""),
				"a new token":   do(t, http.MethodGet, n.base+"/conf/"+id+"/lobby?token="+fresh, "", ""),
				"her cookie":    withCookie(t, n.base+"/conf/"+id+"/lobby", cookie),
				"her WebSocket": wsRefusal(t, n.base, id, "token="+fresh),
			} {
				if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "revoked") {
					t.Errorf("alice's %s on %s: %d %s, want 401 revoked", what, n.name, r.status, r.body)
				}
			}
		}
	})

	t.Run("revocations survive a restart", func(t *testing.T) {
		id := conference(fmt.Sprintf(`"jwt_secret":%q`, secret))
		now := time.Now()
		revoke(id, `{"user_id":"gina"}`)
		b.Stop(t)
		restarted := newNode("B")
		restarted.waitReady(t)
		for user, status := range map[string]int{"gina": http.StatusUnauthorized, "hal": http.StatusOK} {
			r := do(t, http.MethodGet, restarted.base+"/conf/"+id+"/lobby?token="+userJWT(t, id, secret, user, "", now, now.Add(time.Hour)), "", "")
			if r.status != status {
				t.Errorf("%s on the restarted node: %d %s, want %d", user, r.status, r.body, status)
			}
		}
		b = restarted
		d.waitListeners(t, 2)
	})

	t.Run("before re-keys everyone, a jti refuses one token", func(t *testing.T) {
		id := conference(fmt.Sprintf(`"jwt_secret":%q`, secret))
		now := time.Now()
		early := now.Add(-time.Minute)
		carol := dialWS(t, b.base, id, "token="+userJWT(t, id, secret, "carol", "", early, now.Add(time.Hour)))
		dave := dialWS(t, a.base, id, "token="+userJWT(t, id, secret, "dave", "", early, now.Add(time.Hour)))
		revoke(id, fmt.Sprintf(`{"before":%d}`, now.Add(-time.Second).Unix()))
		for name, c := range map[string]*wsClient{"carol's": carol, "dave's": dave} {
			if code, _, _ := c.waitClosed(t, 5*time.Second); code != closeRevoked {
				t.Errorf("%s WebSocket closed with %d, want %d", name, code, closeRevoked)
			}
		}
		reissued := userJWT(t, id, secret, "carol", "t-1", now, now.Add(time.Hour))
		again := dialWS(t, b.base, id, "token="+reissued)
		other := dialWS(t, b.base, id, "token="+userJWT(t, id, secret, "carol", "t-2", now, now.Add(time.Hour)))
		revoke(id, `{"jti":"t-1"}`)
		if code, _, _ := again.waitClosed(t, 5*time.Second); code != closeRevoked {
			t.Errorf("the WebSocket of a revoked jti closed with %d, want %d", code, closeRevoked)
		}
		other.mustBeOpen(t)
		if r := wsRefusal(t, a.base, id, "token="+reissued); r.status != http.StatusUnauthorized {
			t.Errorf("a revoked jti on A: %d %s", r.status, r.body)
		}
	})

	t.Run("a rotated secret's grace keeps viewers, then ends", func(t *testing.T) {
		const next = "fedcba9876543210fedcba9876543210"
		id := conference(fmt.Sprintf(`"jwt_secret":%q`, secret))
		now := time.Now()
		oldJWT := userJWT(t, id, secret, "erin", "", now, now.Add(time.Hour))
		viewer := dialWS(t, b.base, id, "token="+oldJWT)
		cookie := sessionCookie(t, b.base+"/conf/"+id+"/lobby?token="+oldJWT)
		want(t, do(t, http.MethodPost, a.base+pathUpdate+id, owner, fmt.Sprintf(`{"jwt_secret":%q,"jwt_secret_grace":4}`, next)),
			http.StatusOK, "", "rotating the secret with a grace")
		graceEnds := time.Now().Add(4 * time.Second)
		newJWT := userJWT(t, id, next, "frank", "", now, now.Add(time.Hour))
		bothWithin(t, a, b, "accept the new secret", func(n *node) bool {
			return do(t, http.MethodGet, n.base+"/conf/"+id+"/lobby?token="+newJWT, "", "").status == http.StatusOK
		})
		viewer.mustBeOpen(t)
		for what, r := range map[string]reply{
			"old token": do(t, http.MethodGet, a.base+"/conf/"+id+"/lobby?token="+oldJWT, "", ""),
			"cookie":    withCookie(t, a.base+"/conf/"+id+"/lobby", cookie),
		} {
			if time.Now().Before(graceEnds.Add(-time.Second)) && r.status != http.StatusOK {
				t.Errorf("the %s under the old secret in its grace: %d %s", what, r.status, r.body)
			}
		}
		code, reason, at := viewer.waitClosed(t, 10*time.Second)
		if code != closeCredentialChanged || reason != "credential changed" {
			t.Errorf("at the grace's end, closed with %d %q, want %d \"credential changed\"", code, reason, closeCredentialChanged)
		}
		if at.Before(graceEnds.Add(-time.Second)) {
			t.Errorf("closed %v before the grace ended", graceEnds.Sub(at))
		}
		for what, r := range map[string]reply{
			"old token": do(t, http.MethodGet, a.base+"/conf/"+id+"/lobby?token="+oldJWT, "", ""),
			"cookie":    withCookie(t, a.base+"/conf/"+id+"/lobby", cookie),
		} {
			if r.status != http.StatusUnauthorized {
				t.Errorf("the %s under the old secret after its grace: %d %s", what, r.status, r.body)
			}
		}
		// Without a grace, the old secret stops at once.
		third := strings.Repeat("3", 32)
		held := dialWS(t, b.base, id, "token="+newJWT)
		want(t, do(t, http.MethodPost, a.base+pathUpdate+id, owner, fmt.Sprintf(`{"jwt_secret":%q}`, third)), http.StatusOK, "", "rotating without a grace")
		if code, _, _ := held.waitClosed(t, 5*time.Second); code != closeCredentialChanged {
			t.Errorf("a rotation without grace closed with %d, want %d", code, closeCredentialChanged)
		}
	})

	t.Run("a new stream key ends the publisher's, a new passcode the viewer's", func(t *testing.T) {
		const key = "sk-conference-0123456789"
		id := conference(fmt.Sprintf(`"passcode":"door","stream_key":%q`, key))
		viewer := dialWS(t, b.base, id, "passcode=door")
		publisher := dialWS(t, b.base, id, "token="+key)
		want(t, do(t, http.MethodPost, a.base+pathUpdate+id, owner, `{"stream_key":"sk-conference-rotated-0123"}`), http.StatusOK, "", "a new stream key")
		if code, reason, _ := publisher.waitClosed(t, 5*time.Second); code != closeCredentialChanged || reason != "credential changed" {
			t.Errorf("the publisher after a new stream key: closed with %d %q, want %d", code, reason, closeCredentialChanged)
		}
		viewer.mustBeOpen(t)
		want(t, do(t, http.MethodPost, a.base+pathUpdate+id, owner, `{"passcode":"new-door"}`), http.StatusOK, "", "a new passcode")
		if code, _, _ := viewer.waitClosed(t, 5*time.Second); code != closeCredentialChanged {
			t.Errorf("the viewer after a new passcode: closed with %d, want %d", code, closeCredentialChanged)
		}
	})

	t.Run("kid selects the secret", func(t *testing.T) {
		const next = "fedcba9876543210fedcba9876543210"
		id := conference(fmt.Sprintf(`"jwt_secret":%q`, secret))
		want(t, do(t, http.MethodPost, a.base+pathUpdate+id, owner, fmt.Sprintf(`{"jwt_secret":%q,"jwt_secret_grace":600}`, next)),
			http.StatusOK, "", "rotating the secret with a grace")
		r := do(t, http.MethodGet, a.base+"/organization/api/v1/alias/revocations/"+id, owner, "")
		want(t, r, http.StatusOK, "", "listing what is in force")
		kids := jsonStrings(t, r.body, "kid")
		if len(kids) != 2 {
			t.Fatalf("kids of the live secrets: %v in %s", kids, r.body)
		}
		now := time.Now()
		for _, tt := range []struct {
			name, secret, kid string
			status            int
		}{
			{"the new secret by its kid", next, kids[0], http.StatusOK},
			{"the old secret by its kid", secret, kids[1], http.StatusOK},
			{"the old secret under the new one's kid", secret, kids[0], http.StatusUnauthorized},
			{"an unknown kid", next, "AAAAAAAAAAAA", http.StatusUnauthorized},
		} {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"alias": id, "user_id": "kid", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
			tok.Header["kid"] = tt.kid
			signed, err := tok.SignedString([]byte(tt.secret))
			if err != nil {
				t.Fatal(err)
			}
			if r := do(t, http.MethodGet, b.base+"/conf/"+id+"/lobby?token="+signed, "", ""); r.status != tt.status {
				t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.body, tt.status)
			}
		}
	})

	t.Run("a blocked playlist reload and an event stream end", func(t *testing.T) {
		id := conference(`"passcode":"door"`)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		type result struct {
			status int
			body   string
			err    error
		}
		poll, events := make(chan result, 1), make(chan result, 1)
		get := func(out chan<- result, path, accept string) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
			req.Header.Set("Accept", accept)
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				out <- result{err: err}
				return
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			out <- result{res.StatusCode, string(body), err}
		}
		go get(poll, "/conf/"+id+"/index.m3u8?passcode=door&_HLS_msn=9&_HLS_part=0", "*/*")
		go get(events, "/conf/"+id+"/events?passcode=door", "text/event-stream")
		pollUntil(t, 5*time.Second, "the upstream holds both requests", func() bool { return up.waiting.Load() == 2 })
		want(t, do(t, http.MethodDelete, a.base+pathDelete+id, owner, ""), http.StatusOK, "", "deleting through A")
		p := <-poll
		if p.err != nil || p.status != http.StatusNotFound || !strings.Contains(p.body, "alias_not_found") {
			t.Errorf("the blocked reload of a deleted alias: %d %q %v, want its 404", p.status, p.body, p.err)
		}
		e := <-events
		if e.err != nil || e.status != http.StatusOK || !strings.HasPrefix(e.body, "data: 0\n\n") {
			t.Errorf("the event stream of a deleted alias: %d %q %v, want a stream that ended cleanly", e.status, e.body, e.err)
		}
	})
}

// mediaUpstream is a media backend: WebSockets that echo and send a
// message every few milliseconds (so that linkgate's close frame has
// frames in flight to fit between), LL-HLS reloads blocked until the
// client goes, event streams, and 200 for everything else.
type mediaUpstream struct {
	*httptest.Server
	waiting atomic.Int32
}

func newMediaUpstream(t *testing.T) *mediaUpstream {
	up := &mediaUpstream{}
	up.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
			up.webSocket(w, r)
		case r.URL.Query().Has("_HLS_msn"):
			up.waiting.Add(1)
			defer up.waiting.Add(-1)
			<-r.Context().Done()
		case r.Header.Get("Accept") == "text/event-stream":
			up.waiting.Add(1)
			defer up.waiting.Add(-1)
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
					return
				}
				http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		default:
			io.WriteString(w, "upstream ok\n")
		}
	}))
	t.Cleanup(up.Close)
	return up
}

func (up *mediaUpstream) webSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	tick := make([]byte, 3000)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
			if c.Write(ctx, websocket.MessageBinary, tick) != nil {
				return
			}
		}
	}()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if c.Write(ctx, typ, msg) != nil {
			return
		}
	}
}

// wsClient is a WebSocket client that reads all the while, as browsers
// do, and notes how its connection ended.
type wsClient struct {
	conn   *websocket.Conn
	echoes chan string
	done   chan struct{}
	err    error
	at     time.Time
	sent   int
}

// dialWS opens a WebSocket to alias id of the conference route at base.
func dialWS(t *testing.T, base, id, query string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/conf/"+id+"/socket?"+query, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("opening a WebSocket to %s: %d %v", id, status, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{conn: conn, echoes: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			typ, msg, err := conn.Read(context.Background())
			if err != nil {
				c.err, c.at = err, time.Now()
				return
			}
			if typ == websocket.MessageText {
				c.echoes <- string(msg)
			}
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

// waitClosed waits for the connection to end and returns the close code
// and reason the client was told, and when.
func (c *wsClient) waitClosed(t *testing.T, limit time.Duration) (int, string, time.Time) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(limit):
		t.Fatalf("the WebSocket is still open after %v", limit)
	}
	var ce websocket.CloseError
	if !errors.As(c.err, &ce) {
		t.Errorf("the WebSocket ended without a close frame: %v", c.err)
		return 0, "", c.at
	}
	return int(ce.Code), ce.Reason, c.at
}

// mustBeOpen fails the test unless a message sent now is echoed.
func (c *wsClient) mustBeOpen(t *testing.T) {
	t.Helper()
	c.sent++
	msg := "ping " + strconv.Itoa(c.sent)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("the WebSocket that should stay open: %v", err)
	}
	select {
	case got := <-c.echoes:
		if got != msg {
			t.Fatalf("echo %q, want %q", got, msg)
		}
	case <-c.done:
		t.Fatalf("the WebSocket that should stay open closed: %v", c.err)
	case <-ctx.Done():
		t.Fatal("no echo from the WebSocket that should stay open")
	}
}

// wsRefusal is the answer to a WebSocket handshake that must be refused.
func wsRefusal(t *testing.T, base, id, query string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/conf/"+id+"/socket?"+query, nil)
	if err == nil {
		conn.CloseNow()
		t.Fatalf("a WebSocket to %s opened", id)
	}
	if res == nil {
		t.Fatalf("a WebSocket to %s: %v", id, err)
	}
	body, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: body}
}

// userJWT is a token of user for alias id, signed with secret.
func userJWT(t *testing.T, id, secret, user, jti string, issued, exp time.Time) string {
	t.Helper()
	claims := jwt.MapClaims{"alias": id, "user_id": user, "iat": issued.Unix(), "exp": exp.Unix()}
	if jti != "" {
		claims["jti"] = jti
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// sessionCookie is the session cookie a request to url is given.
func sessionCookie(t *testing.T, url string) *http.Cookie {
	t.Helper()
	r := do(t, http.MethodGet, url, "", "")
	want(t, r, http.StatusOK, "", "getting a session cookie")
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if strings.HasPrefix(c.Name, "lgs_") {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", r.header)
	return nil
}

// withCookie is a GET of url with only cookie as credential.
func withCookie(t *testing.T, url string, cookie *http.Cookie) reply {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.AddCookie(cookie)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: body}
}

// dataID is the id of the alias a create answered with.
func dataID(t *testing.T, r reply) string {
	t.Helper()
	ids := jsonStrings(t, r.body, "id")
	if len(ids) == 0 {
		t.Fatalf("no id in %s", r.body)
	}
	return ids[0]
}

// jsonStrings are the string values of key anywhere in the JSON body,
// arrays in order.
func jsonStrings(t *testing.T, body []byte, key string) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v[key].(string); ok {
				out = append(out, s)
			}
			for k, child := range v {
				if k != key {
					walk(child)
				}
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
	return out
}

// TestRevocationsExpire: a revocation is forgotten once no credential it
// could match can still be valid (max_token_lifetime and the leeway after
// it was made), and the count in force says so.
func TestRevocationsExpire(t *testing.T) {
	d := newDatabase(t)
	up := newUpstream(t)
	s := testcaddy.NewSite(t, d.dsn, up)
	s.Options = "max_token_lifetime 2s\njwt_leeway 1s"
	testcaddy.Load(t, s.Caddyfile(t))
	base := s.Base()
	_, token := d.newOrg(t)
	const secret = "0123456789abcdef0123456789abcdef"
	id := createAliasWith(t, base, token, fmt.Sprintf(`"jwt_secret":%q`, secret))
	fresh := func() string {
		now := time.Now()
		return userJWT(t, id, secret, "ivy", "", now, now.Add(2*time.Second))
	}
	want(t, do(t, http.MethodPost, base+pathRevoke+id, "Bearer "+token, `{"user_id":"ivy"}`), http.StatusOK, "", "revoking ivy")
	made := time.Now()
	want(t, do(t, http.MethodGet, base+"/live/"+id+"/x?token="+fresh(), "", ""), http.StatusUnauthorized, "unauthorized", "ivy right after her revocation")
	if n := metric(t, base, "linkgate_revocations_in_force"); n != 1 {
		t.Errorf("linkgate_revocations_in_force = %v, want 1", n)
	}
	pollUntil(t, 15*time.Second, "ivy's revocation expires", func() bool {
		return do(t, http.MethodGet, base+"/live/"+id+"/x?token="+fresh(), "", "").status == http.StatusOK
	})
	if kept := time.Since(made); kept < 2*time.Second {
		t.Errorf("the revocation lasted %v, less than max_token_lifetime", kept)
	}
	r := do(t, http.MethodGet, base+"/organization/api/v1/alias/revocations/"+id, "Bearer "+token, "")
	if ids := jsonStrings(t, r.body, "user_id"); len(ids) != 0 {
		t.Errorf("an expired revocation is listed: %s", r.body)
	}
	if n := metric(t, base, "linkgate_revocations_in_force"); n != 0 {
		t.Errorf("linkgate_revocations_in_force = %v after it expired, want 0", n)
	}
}
