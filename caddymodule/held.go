package caddymodule

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/node"
)

// Which admitted requests alias_auth holds, so that they end when their
// right to exist ends.
const (
	// TrackLong holds what outlives its request: WebSocket upgrades,
	// LL-HLS blocking playlist reloads and event streams.
	TrackLong = "long"
	// TrackAll holds every admitted request, for routes whose responses
	// last as long as the broadcast (HTTP-FLV, MPEG-TS over HTTP).
	TrackAll = "all"
	// TrackOff holds nothing: a request is checked once, when it comes.
	TrackOff = "off"
)

// closeGrace is how long a client told to close is given to answer
// before its connection is closed under it.
const closeGrace = 2 * time.Second

// Kinds of held requests, as metrics name them.
const (
	kindWebSocket = "websocket"
	kindStream    = "stream"
)

// heldKind is the kind of request r is if the route's tracking holds it,
// or "".
func heldKind(r *http.Request, track string) string {
	switch {
	case track == TrackOff:
		return ""
	case isWebSocket(r):
		return kindWebSocket
	case track == TrackAll || blockingReload(r.URL.RawQuery) ||
		strings.Contains(r.Header.Get("Accept"), "text/event-stream"):
		return kindStream
	}
	return ""
}

// blockingReload tells an LL-HLS playlist request the server holds until
// the segment it names is ready, by its _HLS_msn directive; read without
// parsing the query, which every request would pay for.
func blockingReload(query string) bool {
	for query != "" {
		var param string
		param, query, _ = strings.Cut(query, "&")
		if strings.HasPrefix(param, "_HLS_msn=") {
			return true
		}
	}
	return false
}

// isWebSocket tells a WebSocket opening: an HTTP/1.1 upgrade, or an
// HTTP/2 or HTTP/3 extended CONNECT.
func isWebSocket(r *http.Request) bool {
	if r.Method == http.MethodConnect {
		return r.ProtoMajor == 2 && r.Header.Get(":protocol") == "websocket" || r.ProtoMajor == 3 && r.Proto == "websocket"
	}
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// A WebSocket's close codes, in the range RFC 6455 leaves to applications,
// chosen to echo the HTTP statuses of the same refusals.
const (
	closeCredentialExpired = 4401
	closeRevoked           = 4403
	closeAliasGone         = 4404
	closeCredentialChanged = 4409
)

// closeFor is the close code and reason a WebSocket ended for r is told.
func closeFor(r gate.Reason) (uint16, string) {
	switch r {
	case gate.ReasonTokenExpired:
		return closeCredentialExpired, "credential expired"
	case gate.ReasonRevoked, gate.ReasonBadOrgToken:
		return closeRevoked, "revoked"
	case gate.ReasonCredentialChanged:
		return closeCredentialChanged, "credential changed"
	case gate.ReasonExpired:
		return closeAliasGone, "alias expired"
	default:
		return closeAliasGone, "alias deleted"
	}
}

// held is an admitted request that outlives its request: the response
// writer it is answered through, which can end it.
type held struct {
	w      http.ResponseWriter
	cancel context.CancelFunc
	ws     bool

	// why is the gate's reason for ending it, once ended.
	why atomic.Int32
	// upgraded: a WebSocket's handshake was answered, what follows is
	// frames.
	upgraded atomic.Bool

	mu          sync.Mutex
	wroteHeader bool
	// muted: the request was ended before its answer began; what the
	// handlers below write is dropped, the refusal is answered instead.
	muted  bool
	frames wsFrames
	conn   net.Conn
	// closing is the close frame to send at the next frame boundary;
	// closed, that it was sent and later frames are dropped.
	closing []byte
	closed  bool
}

// hold tracks r, admitted by d, on the node; it returns the writer and
// request to hand on, and the function to call when the request is done.
func (h *AliasAuth) hold(w http.ResponseWriter, r *http.Request, d *gate.Decision, kind string) (*held, *http.Request, func()) {
	ctx, cancel := context.WithCancel(r.Context())
	hw := &held{w: w, cancel: cancel, ws: kind == kindWebSocket}
	route := h.route.Type
	decision := *d
	standing := h.gate.Recheck(&decision, route, d.Alias, time.Now())
	// then is the reason it ends for when its Until comes.
	var then atomic.Int32
	then.Store(int32(standing.Then))
	ad := &node.Admission{
		AliasID: d.Alias.ID,
		Kind:    kind,
		Until:   standing.Until,
		Check: func(a *alias.Alias, now time.Time) (string, time.Time) {
			s := h.gate.Recheck(&decision, route, a, now)
			if s.End != 0 {
				hw.why.Store(int32(s.End))
				return s.End.String(), time.Time{}
			}
			then.Store(int32(s.Then))
			return "", s.Until
		},
		End: func(reason string) {
			switch reason {
			case node.ReasonTokenRevoked:
				hw.why.Store(int32(gate.ReasonBadOrgToken))
			case node.ReasonExpired:
				hw.why.Store(then.Load())
			}
			hw.end()
		},
	}
	if d.OrgToken != (alias.TokenHash{}) {
		ad.TokenHash = hex.EncodeToString(d.OrgToken[:])
	}
	untrack := h.node.Track(ad)
	return hw, r.WithContext(ctx), func() {
		untrack()
		cancel()
	}
}

// isMuted reports whether the request was ended before its answer began.
func (hw *held) isMuted() bool {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	return hw.muted
}

// ended is the reason the request was ended for, or 0.
func (hw *held) ended() gate.Reason { return gate.Reason(hw.why.Load()) }

// end ends the request: a WebSocket is sent a close frame between two
// frames and closed if its client does not close it first; any other
// request is cancelled, which ends a response that streams and turns one
// that has not begun into the refusal. It never blocks.
func (hw *held) end() {
	if !hw.ws || !hw.upgraded.Load() {
		hw.mu.Lock()
		hw.muted = !hw.wroteHeader
		hw.mu.Unlock()
		hw.cancel()
		return
	}
	// A client that reads nothing holds the lock through a blocked write;
	// closing the connection under it is what unblocks it.
	time.AfterFunc(closeGrace, hw.hangUp)
	go func() {
		hw.mu.Lock()
		defer hw.mu.Unlock()
		hw.closing = closeFrame(closeFor(hw.ended()))
		if hw.frames.atBoundary() {
			hw.sendClose()
		}
	}()
}

// hangUp closes what is left of an ended WebSocket.
func (hw *held) hangUp() {
	hw.cancel()
	hw.mu.Lock()
	conn := hw.conn
	hw.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// sendClose sends the close frame; the lock is held.
func (hw *held) sendClose() {
	hw.closed = true
	if hw.conn != nil {
		hw.conn.SetWriteDeadline(time.Now().Add(closeGrace))
		hw.conn.Write(hw.closing)
		return
	}
	hw.w.Write(hw.closing)
	http.NewResponseController(hw.w).Flush()
}

// writeFrames writes what the server sends a WebSocket client through out,
// ending with the close frame at the first boundary once the request is
// ended; what the server sends after it is dropped.
func (hw *held) writeFrames(p []byte, out func([]byte) (int, error)) (int, error) {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	switch {
	case hw.closed:
		return len(p), nil
	case hw.closing == nil:
		hw.frames.advance(p, false)
		return out(p)
	}
	n := hw.frames.advance(p, true)
	if n > 0 {
		if _, err := out(p[:n]); err != nil {
			return 0, err
		}
	}
	if hw.frames.atBoundary() {
		hw.sendClose()
	}
	return len(p), nil
}

// Header, Write, WriteHeader and Unwrap make held a ResponseWriter that
// http.NewResponseController sees through.
func (hw *held) Header() http.Header { return hw.w.Header() }

func (hw *held) Unwrap() http.ResponseWriter { return hw.w }

func (hw *held) WriteHeader(status int) {
	hw.mu.Lock()
	if hw.muted {
		hw.mu.Unlock()
		return
	}
	if status >= 200 || status == http.StatusSwitchingProtocols {
		hw.wroteHeader = true
	}
	hw.mu.Unlock()
	// An extended CONNECT is answered 200, an upgrade 101: frames follow.
	if hw.ws && (status == http.StatusSwitchingProtocols || status == http.StatusOK) {
		hw.upgraded.Store(true)
	}
	hw.w.WriteHeader(status)
}

func (hw *held) Write(p []byte) (int, error) {
	if hw.ws && hw.upgraded.Load() {
		return hw.writeFrames(p, hw.w.Write)
	}
	hw.mu.Lock()
	muted := hw.muted
	hw.wroteHeader = true
	hw.mu.Unlock()
	if muted {
		return len(p), nil
	}
	return hw.w.Write(p)
}

// FlushError flushes under the lock, so that a close frame is never
// written while the writer below is flushing.
func (hw *held) FlushError() error {
	if !hw.ws {
		return http.NewResponseController(hw.w).Flush()
	}
	hw.mu.Lock()
	defer hw.mu.Unlock()
	return http.NewResponseController(hw.w).Flush()
}

// Hijack hands over the connection of an HTTP/1.1 upgrade, wrapped so
// that what is written to it is followed frame by frame.
func (hw *held) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(hw.w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	hw.mu.Lock()
	hw.conn = conn
	hw.mu.Unlock()
	hc := &heldConn{Conn: conn, hw: hw}
	return hc, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(hc)), nil
}

// heldConn is a hijacked WebSocket connection whose writes go through its
// held request.
type heldConn struct {
	net.Conn
	hw *held
}

func (c *heldConn) Write(p []byte) (int, error) {
	if !c.hw.ws {
		return c.Conn.Write(p)
	}
	return c.hw.writeFrames(p, c.Conn.Write)
}

// errNoCloseWrite is reported by CloseWrite on a connection without a
// write half of its own to close: the tunnel then ends as a whole.
var errNoCloseWrite = errors.New("connection cannot close its write half")

// CloseWrite passes on an end of the server's side, as the tunnel asks.
func (c *heldConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoCloseWrite
}
