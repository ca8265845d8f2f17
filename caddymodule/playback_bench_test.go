package caddymodule

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// benchPlaylist is a 10-segment live media playlist as a packager writes
// one every segment.
var benchPlaylist = func() []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:41230\n#EXT-X-MAP:URI=\"init.mp4\"\n")
	for i := range 10 {
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:%02d.000Z\n#EXTINF:2.00000,\nseg%d.m4s\n", 2*i, 41230+i)
	}
	return []byte(b.String())
}()

// upstreamOf answers as reverse_proxy does: headers, status, then the body
// in 32 KiB writes.
func upstreamOf(contentType string, body []byte) caddyhttp.Handler {
	length := []string{strconv.Itoa(len(body))}
	ct := []string{contentType}
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		w.Header()["Content-Type"] = ct
		w.Header()["Content-Length"] = length
		w.WriteHeader(http.StatusOK)
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 32<<10)
			if _, err := w.Write(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
}

// serveLoop runs the handler on r until the benchmark ends; each round
// starts from the request as it was.
func (g *benchGateway) serveLoop(b *testing.B, r *http.Request, next caddyhttp.Handler) {
	b.Helper()
	w := &discard{h: http.Header{}}
	raw, header := r.URL.RawQuery, r.Header.Clone()
	b.ReportAllocs()
	for b.Loop() {
		r.URL.RawQuery = raw
		clear(r.Header)
		for k, v := range header {
			r.Header[k] = v
		}
		clear(w.h)
		if err := g.h.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
	}
}

func (g *benchGateway) playbackToken(b *testing.B) string {
	b.Helper()
	signer := gate.NewSessionSigner(g.node.SessionKey())
	token, ok := signer.IssuePlayback(g.alias, alias.Grant{Role: alias.RoleViewer}, "/live/abcdefghijkl", time.Now(), time.Now().Add(time.Hour))
	if !ok {
		b.Fatal("no playback token")
	}
	return token
}

// BenchmarkAliasAuthPlaylist is a variant playlist reload of a player that
// keeps no cookies: the token checked, a token issued, the playlist
// rewritten and its headers set.
func BenchmarkAliasAuthPlaylist(b *testing.B) {
	g := newBenchGateway(b)
	g.h.route.PlaybackTokens = true
	r := g.request(b, "/live/abcdefghijkl/720p/index.m3u8?lgt="+g.playbackToken(b))
	g.serveLoop(b, r, upstreamOf("application/vnd.apple.mpegurl", benchPlaylist))
}

// BenchmarkAliasAuthSegment is a 1 MiB segment admitted by a session
// cookie, on a route with playback tokens and on one without, and admitted
// by a playback token: the writer that waits for the status must cost a
// segment nothing it would notice.
func BenchmarkAliasAuthSegment(b *testing.B) {
	g := newBenchGateway(b)
	segment := make([]byte, 1<<20)
	next := upstreamOf("video/mp4", segment)
	cookie, _ := gate.NewSessionSigner(g.node.SessionKey()).Issue(g.alias, alias.Grant{Role: alias.RoleViewer}, time.Now(), time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name   string
		tokens bool
		query  string
		cookie bool
	}{
		{"cookie/playback_tokens_off", false, "", true},
		{"cookie/playback_tokens_on", true, "", true},
		{"playback_token", true, "lgt=" + g.playbackToken(b), false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			g.h.route.PlaybackTokens = tc.tokens
			r := g.request(b, "/live/abcdefghijkl/720p/seg41230.m4s?"+tc.query)
			if tc.cookie {
				r.Header["Cookie"] = []string{"lgs_abcdefghijkl=" + cookie}
			}
			b.SetBytes(int64(len(segment)))
			g.serveLoop(b, r, next)
		})
	}
}
