package browser

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// conferencePage is the page a conference client loads through linkgate:
// it opens a WebSocket to its room on the session cookie the page's own
// request got, and keeps what the browser tells of its close.
const conferencePage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Room</title></head>
<body><p id="state">connecting</p>
<script>
const ws = new WebSocket(location.href.replace(/^http/, "ws").replace(/\/room\.html.*$/, "/socket"));
ws.onopen = () => { document.getElementById("state").textContent = "open"; };
ws.onclose = (e) => {
	window.wsClosed = {code: e.code, reason: e.reason, clean: e.wasClean};
	document.getElementById("state").textContent = "closed";
};
</script></body></html>`

// TestWebSocketCloseInBrowser: a participant's page in a real Chromium
// opens a WebSocket through linkgate; when the organizer revokes the
// participant, the page's close event carries linkgate's code and reason.
func TestWebSocketCloseInBrowser(t *testing.T) {
	chromium := findChromium(t)
	dsn := pgtest.DB(t)
	token := newOrgToken(t, dsn)
	up := newRoomUpstream(t)
	port := testcaddy.FreePort(t)
	testcaddy.Load(t, fmt.Sprintf(`{
	%s
	linkgate {
		database %s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	handle /conference/* {
		alias_auth conference
		reverse_proxy %s
	}
}
`, testcaddy.GlobalOptions(t.TempDir()), dsn, port, up.Listener.Addr()))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	const secret = "0123456789abcdef0123456789abcdef"
	id := apiCall(t, http.MethodPost, base+"/organization/api/v1/alias/create", token,
		fmt.Sprintf(`{"type":"conference","jwt_secret":%q,"expired_at":%d}`, secret, time.Now().Add(time.Hour).Unix()))
	now := time.Now()
	participant, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"alias": id, "user_id": "mallory", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}

	ctx, events := newBrowser(t, chromium)
	do(t, ctx, "open the room", chromedp.Navigate(base+"/conference/"+id+"/room.html?token="+participant))
	do(t, ctx, "wait for the WebSocket", chromedp.Poll[chromedp.Void](`document.getElementById("state").textContent === "open"`, chromedp.WithPollingTimeout(stepTimeout)))
	events.wantNoProblems(t, "the room")

	apiCall(t, http.MethodPost, base+"/organization/api/v1/alias/revoke/"+id, token, `{"user_id":"mallory"}`)
	do(t, ctx, "wait for the close event", chromedp.Poll[chromedp.Void](`window.wsClosed !== undefined`, chromedp.WithPollingTimeout(stepTimeout)))
	code := run(t, ctx, "read the close code", chromedp.Evaluate[int](`window.wsClosed.code`))
	reason := run(t, ctx, "read the close reason", chromedp.Evaluate[string](`window.wsClosed.reason`))
	if code != 4403 || reason != "revoked" {
		t.Errorf("the page saw the WebSocket close with %d %q, want 4403 \"revoked\"", code, reason)
	}
	// The room reconnecting on its cookie is refused.
	do(t, ctx, "reconnect", chromedp.Evaluate[chromedp.Void](`window.wsClosed = undefined; window.retry = new WebSocket(location.href.replace(/^http/, "ws").replace(/\/room\.html.*$/, "/socket")); window.retry.onclose = (e) => { window.wsClosed = {code: e.code}; };`))
	do(t, ctx, "wait for the refusal", chromedp.Poll[chromedp.Void](`window.wsClosed !== undefined`, chromedp.WithPollingTimeout(stepTimeout)))
	if code := run(t, ctx, "read the refusal", chromedp.Evaluate[int](`window.wsClosed.code`)); code != 1006 {
		t.Errorf("reconnecting after the revocation: close code %d, want 1006 (the handshake refused)", code)
	}
}

// newRoomUpstream serves the conference page and a WebSocket that sends a
// message every few milliseconds, so linkgate's close frame has frames in
// flight to fit between.
func newRoomUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, conferencePage)
			return
		}
		// The page's origin is linkgate's, which the upstream does not know
		// as its own host.
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"127.0.0.1:*"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := c.CloseRead(r.Context())
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
			if c.Write(ctx, websocket.MessageText, []byte(strings.Repeat("m", 2000))) != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	return up
}

// apiCall calls the alias API with the organization's token and returns
// the id in its answer, failing the test on any status but 200 or 201.
func apiCall(t *testing.T, method, url, token, body string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s: %d %s", method, url, res.StatusCode, raw)
	}
	_, rest, _ := strings.Cut(string(raw), `"id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}
