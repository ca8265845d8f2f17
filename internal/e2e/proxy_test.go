package e2e

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// websocketGUID is the constant of RFC 6455 §1.3.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func websocketAccept(key string) string {
	sum := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// websocket answers an upgrade as a WebSocket server would, then speaks
// lines: it greets, echoes one line, and waits for the client to hang up.
func (u *upstream) websocket(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "not an upgrade", http.StatusBadRequest)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	u.mu.Lock()
	u.conn = append(u.conn, conn)
	u.mu.Unlock()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(clientTimeout))
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", websocketAccept(r.Header.Get("Sec-WebSocket-Key")))
	io.WriteString(rw, "hello from upstream\n")
	if rw.Flush() != nil {
		return
	}
	line, err := rw.ReadString('\n')
	if err != nil {
		return
	}
	io.WriteString(rw, "echo: "+line)
	rw.Flush()
	io.Copy(io.Discard, rw)
}

// TestWebSocket: a WebSocket handshake with the JWT in ?token= (browsers
// cannot set headers on WebSockets) is authorized, reaches the upstream
// without the token, and the connection carries bytes both ways; without a
// credential the upstream never sees the handshake.
func TestWebSocket(t *testing.T) {
	g := newGateway(t, "")
	a := g.createAlias(t, specConference)

	t.Run("authorized", func(t *testing.T) {
		mark := randomHex(8)
		conn, br, resp := g.upgrade(t, "/conference/"+a.ID+"/ws?room=1&token="+a.hostJWT(t, "carol"), mark)
		if resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d, want 101; body: %s", resp.StatusCode, body)
		}
		key := "dGhlIHNhbXBsZSBub25jZQ=="
		if got := resp.Header.Get("Sec-WebSocket-Accept"); got != websocketAccept(key) {
			t.Errorf("Sec-WebSocket-Accept %q, want %q", got, websocketAccept(key))
		}
		if line, err := br.ReadString('\n'); err != nil || line != "hello from upstream\n" {
			t.Fatalf("first message from the upstream: %q, %v", line, err)
		}
		if _, err := io.WriteString(conn, "ping\n"); err != nil {
			t.Fatal(err)
		}
		if line, err := br.ReadString('\n'); err != nil || line != "echo: ping\n" {
			t.Fatalf("echo from the upstream: %q, %v", line, err)
		}

		got := g.up.requests(mark)
		if len(got) != 1 {
			t.Fatalf("the upstream got %d handshakes, want 1", len(got))
		}
		s := got[0]
		if s.URI != "/conference/"+a.ID+"/ws?room=1" {
			t.Errorf("upstream got %q, want the URI without the token", s.URI)
		}
		for name, want := range map[string]string{
			"Upgrade": "websocket", "X-Linkgate-Role": "host", "X-Linkgate-User": "carol", "X-Linkgate-Alias": a.ID,
		} {
			if v := s.Header.Get(name); v != want {
				t.Errorf("upstream got %s %q, want %q", name, v, want)
			}
		}
	})

	for _, tc := range []struct {
		name, query, challenge string
	}{
		{"no credential", "", challengeNone},
		{"bad token", "?token=" + sign(t, a.JWTSecret+"x", a.claims(nil)), challengeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := randomHex(8)
			_, _, resp := g.upgrade(t, "/conference/"+a.ID+"/ws"+tc.query, mark)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			wantDenied(t, result{status: resp.StatusCode, header: resp.Header, body: body, upstream: g.up.requests(mark)},
				http.StatusUnauthorized, codeUnauthorized, tc.challenge)
		})
	}
}

// upgrade sends a WebSocket handshake for path over a raw connection and
// returns the connection, its reader and the response.
func (g *gateway) upgrade(t *testing.T, path, mark string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", g.host, clientTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(clientTimeout))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s: %s\r\n\r\n",
		path, g.host, markHeader, mark)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	return conn, br, resp
}

// streamScript plays a response in two chunks: the second is written only
// once release is closed.
type streamScript struct {
	release       chan struct{}
	secondWritten atomic.Bool
}

func (u *upstream) playStream(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	s := u.stream
	u.mu.Unlock()
	if s == nil {
		http.Error(w, "no stream script", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "video/mp2t")
	io.WriteString(w, "chunk-1\n")
	if err := http.NewResponseController(w).Flush(); err != nil {
		return
	}
	select {
	case <-s.release:
	case <-r.Context().Done():
		return
	case <-time.After(clientTimeout / 2):
		// The test never released: the gateway held the first chunk back.
	}
	s.secondWritten.Store(true)
	io.WriteString(w, "chunk-2\n")
}

// TestStreaming: the gateway hands on each chunk of a response as the
// upstream flushes it (live media is an endless response), and does not
// buffer it until the upstream is done.
func TestStreaming(t *testing.T) {
	g := newGateway(t, "")
	a := g.createAlias(t, specPasscode)
	s := &streamScript{release: make(chan struct{})}
	g.up.mu.Lock()
	g.up.stream = s
	g.up.mu.Unlock()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, g.base+"/live/"+a.ID+"/stream?passcode="+q(a.Passcode), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "chunk-1\n" {
		t.Fatalf("first chunk %q, %v", line, err)
	}
	if s.secondWritten.Load() {
		t.Fatal("the first chunk arrived only after the upstream wrote the second: the gateway buffers responses")
	}
	close(s.release)
	if line, err = br.ReadString('\n'); err != nil || line != "chunk-2\n" {
		t.Fatalf("second chunk %q, %v", line, err)
	}
}
