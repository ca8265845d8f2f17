package caddymodule

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// frameStream builds WebSocket frames from seed, the way a server could
// send them: each frame's payload length and masking come from the seed,
// its header written out by hand with the shortest or a longer length
// encoding. It returns the stream and the offsets where frames end.
func frameStream(seed []byte) (stream []byte, ends []int) {
	for i := 0; i+1 < len(seed) && len(ends) < 64; i += 2 {
		size, form := int(seed[i])*7, seed[i+1]
		if form&1 != 0 {
			size *= 300
		}
		stream = append(stream, 0x82)
		mask := byte(0)
		if form&2 != 0 {
			mask = 0x80
		}
		switch {
		case size < 126 && form&4 == 0:
			stream = append(stream, mask|byte(size))
		case size < 1<<16 && form&8 == 0:
			stream = append(stream, mask|126, byte(size>>8), byte(size))
		default:
			stream = append(stream, mask|127, 0, 0, 0, 0, byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
		}
		if mask != 0 {
			stream = append(stream, 1, 2, 3, 4)
		}
		stream = append(stream, bytes.Repeat([]byte{form}, size)...)
		ends = append(ends, len(stream))
	}
	return stream, ends
}

// FuzzFrameBoundaries: fed a stream of frames in chunks cut anywhere, the
// follower knows it is between frames exactly at the ends the stream was
// built with, and advancing to a boundary stops exactly at the next one.
func FuzzFrameBoundaries(f *testing.F) {
	f.Add([]byte{3, 0, 0, 1, 20, 2, 0, 4, 200, 9}, []byte{1, 2, 3})
	f.Add([]byte{0, 0, 0, 0}, []byte{0})
	f.Add([]byte{255, 1, 18, 8}, []byte{200, 255})
	f.Fuzz(func(t *testing.T, seed, cuts []byte) {
		stream, ends := frameStream(seed)
		isEnd := map[int]bool{0: true}
		for _, e := range ends {
			isEnd[e] = true
		}
		var fr wsFrames
		at := 0
		for i := 0; at < len(stream); i++ {
			step := 1
			if len(cuts) > 0 {
				step = 1 + int(cuts[i%len(cuts)])*int(cuts[i%len(cuts)])
			}
			chunk := stream[at:min(at+step, len(stream))]
			if i%2 == 0 {
				n := fr.advance(chunk, true)
				next := at + n
				if n < len(chunk) && !isEnd[next] {
					t.Fatalf("advancing to a boundary from %d stopped at %d, which is inside a frame", at, next)
				}
				for p := at + 1; p < next; p++ {
					if isEnd[p] {
						t.Fatalf("advancing to a boundary from %d passed the boundary at %d", at, p)
					}
				}
				if isEnd[at] && n != 0 {
					t.Fatalf("at the boundary %d, advancing to a boundary read %d bytes", at, n)
				}
				if isEnd[at] {
					// At a boundary: read past it, as a write does.
					n = fr.advance(chunk, false)
				}
				at += n
			} else {
				at += fr.advance(chunk, false)
			}
			if fr.atBoundary() != isEnd[at] {
				t.Fatalf("after %d bytes: at a boundary %v, want %v (frames end at %v)", at, fr.atBoundary(), isEnd[at], ends)
			}
		}
	})
}

// TestCloseFrame: the close frame is one a WebSocket implementation of
// its own reads as the code and reason given, the reason cut to what a
// control frame holds.
func TestCloseFrame(t *testing.T) {
	for _, tt := range []struct {
		code   uint16
		reason string
	}{
		{closeRevoked, "revoked"},
		{closeAliasGone, ""},
		{closeCredentialExpired, string(bytes.Repeat([]byte("x"), 200))},
	} {
		err := readAfterHandshake(t, closeFrame(tt.code, tt.reason))
		want := tt.reason[:min(len(tt.reason), 123)]
		var ce websocket.CloseError
		if !errors.As(err, &ce) || uint16(ce.Code) != tt.code || ce.Reason != want {
			t.Errorf("close frame for %d %q: the client read %v", tt.code, tt.reason, err)
		}
	}
}

// readAfterHandshake is what a WebSocket client reads from a server that
// answers its handshake and then sends sent.
func readAfterHandshake(t *testing.T, sent []byte) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(sum[:]))
		brw.Write(sent)
		brw.Flush()
		// Held until the client has read it.
		io.Copy(io.Discard, conn)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	_, _, err = client.Read(ctx)
	return err
}
