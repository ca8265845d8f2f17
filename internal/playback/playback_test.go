package playback

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestPlayback runs every case against one linkgate process: one build of
// the binary, one server, each case on aliases of its own.
func TestPlayback(t *testing.T) {
	s := newServer(t)
	// Every token a playlist carried, to look for in the logs at the end.
	var seenTokens []string
	collect := func(doc string) { seenTokens = append(seenTokens, tokensIn(doc)...) }

	t.Run("ffmpeg without cookies plays protected HLS with the passcode on the first URL only", func(t *testing.T) {
		id := s.createAlias(t, `"passcode":"`+passcode+`"`)
		for _, stream := range []string{"hls/master.m3u8", "enc/index.m3u8", "ll/ll.m3u8"} {
			t.Run(stream, func(t *testing.T) {
				p := s.play(t, s.cookieless.url+"/live/"+id+"/"+stream+"?passcode="+passcode)
				if p.err != nil || p.errors != "" || p.played < 2500*time.Millisecond {
					t.Fatalf("ffmpeg played %v of 3s: %v\n%s", p.played, p.err, p.errors)
				}
				dir := "/live/" + id + "/" + filepath.Dir(stream) + "/"
				media := 0
				for _, e := range s.cookieless.exchanges(dir) {
					if e.status >= 400 {
						t.Errorf("%s: %d", e.uri, e.status)
					}
					if e.hadCookie {
						t.Errorf("%s came with a cookie through the stripping proxy", e.uri)
					}
					if strings.Contains(e.uri, "passcode=") && !strings.HasSuffix(strings.Split(e.uri, "?")[0], stream) {
						t.Errorf("%s: the passcode went beyond the first URL", e.uri)
					}
					if strings.Contains(e.uri, ".ts?") || strings.Contains(e.uri, ".m4s?") || strings.Contains(e.uri, ".key?") {
						media++
					}
				}
				if media < 3 {
					t.Errorf("ffmpeg fetched %d segments and keys under %s, want every segment of a stream", media, dir)
				}
			})
		}
	})

	t.Run("ffmpeg without cookies plays protected DASH with the passcode on the first URL only", func(t *testing.T) {
		id := s.createAlias(t, `"passcode":"`+passcode+`"`)
		p := s.play(t, s.cookieless.url+"/live/"+id+"/dash/manifest.mpd?passcode="+passcode)
		if p.err != nil || p.errors != "" || p.played < 2500*time.Millisecond {
			t.Fatalf("ffmpeg played %v of 3s: %v\n%s", p.played, p.err, p.errors)
		}
		media := 0
		for _, e := range s.cookieless.exchanges("/live/" + id + "/dash/") {
			if e.status >= 400 {
				t.Errorf("%s: %d", e.uri, e.status)
			}
			if strings.Contains(e.uri, ".m4s?") {
				media++
			}
		}
		if media < 4 {
			t.Errorf("ffmpeg fetched %d DASH segments, want every one of two representations", media)
		}
		r := get(t, s.base+"/live/"+id+"/dash/manifest.mpd?passcode="+passcode)
		collect(r.body)
		if err := xml.Unmarshal([]byte(r.body), new(struct{})); err != nil {
			t.Errorf("the rewritten manifest is not well-formed XML: %v\n%s", err, r.body)
		}
		for _, attr := range []string{"media", "initialization"} {
			if !regexp.MustCompile(attr + `="[^"]*\$[^"]*\?lgt=[A-Za-z0-9_-]+"`).MatchString(r.body) {
				t.Errorf("the segment template's %s carries no token:\n%s", attr, r.body)
			}
		}
	})

	t.Run("hls.js in Chromium, on another site's page, plays with the passcode on the first URL only", func(t *testing.T) {
		id := s.createAlias(t, `"passcode":"`+passcode+`"`)
		buffered, errors := playInChromium(t, s.keeping.url+"/cors/"+id+"/hls/master.m3u8?passcode="+passcode)
		if errors != "" || buffered < 2.5 {
			t.Fatalf("hls.js buffered %.1fs of 3s, errors: %s", buffered, errors)
		}
		segments := 0
		for _, e := range s.keeping.exchanges("/cors/" + id + "/") {
			if e.status >= 400 || e.hadCookie {
				t.Errorf("%s: %d, with a cookie: %v", e.uri, e.status, e.hadCookie)
			}
			if strings.Contains(e.uri, ".ts?lgt=") {
				segments++
			}
		}
		if segments < 3 {
			t.Errorf("hls.js fetched %d segments with a playback token", segments)
		}
	})

	t.Run("without playback tokens the same cookieless player is refused, and one that keeps cookies plays", func(t *testing.T) {
		id := s.createAlias(t, `"passcode":"`+passcode+`"`)
		s.play(t, s.cookieless.url+"/plain/"+id+"/hls/master.m3u8?passcode="+passcode)
		refused := 0
		for _, e := range s.cookieless.exchanges("/plain/" + id + "/") {
			if e.status == http.StatusUnauthorized {
				refused++
			}
		}
		if refused == 0 {
			t.Error("a player that keeps no cookies played a stream without playback tokens: the proxy does not strip cookies")
		}
		for _, route := range []string{"plain", "live"} {
			p := s.play(t, s.keeping.url+"/"+route+"/"+id+"/hls/master.m3u8?passcode="+passcode)
			if p.err != nil || p.errors != "" || p.played < 2500*time.Millisecond {
				t.Fatalf("%s: ffmpeg with cookies played %v of 3s: %v\n%s", route, p.played, p.err, p.errors)
			}
			cookies := 0
			for _, e := range s.keeping.exchanges("/" + route + "/" + id + "/") {
				if e.status >= 400 {
					t.Errorf("%s: %d", e.uri, e.status)
				}
				if e.hadCookie {
					cookies++
				}
			}
			if cookies == 0 {
				t.Errorf("%s: ffmpeg sent no cookie, so nothing shows a cookie player is unaffected", route)
			}
		}
	})

	t.Run("every URI of a low-latency playlist opens without a cookie, and the upstream sees no token", func(t *testing.T) {
		id := s.createAlias(t, `"passcode":"`+passcode+`"`)
		base := s.base + "/live/" + id + "/ll/ll.m3u8"
		r := get(t, base+"?_HLS_msn=2&_HLS_part=1&passcode="+passcode)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		collect(r.body)
		if got := s.up.last(t, "/ll/ll.m3u8").uri; !strings.HasSuffix(got, "?_HLS_msn=2&_HLS_part=1") {
			t.Errorf("the upstream got %q, want the delivery directives without the passcode", got)
		}
		token := tokenOf(t, r.body)
		tags := map[string]bool{}
		for _, u := range uris(r.body) {
			if !strings.Contains(u.uri, "lgt="+token) {
				t.Errorf("%s %s carries no token", u.tag, u.uri)
				continue
			}
			tags[u.tag] = true
			header := []string{}
			if u.rangeHeader != "" {
				header = []string{"Range", u.rangeHeader}
			}
			got := get(t, resolve(t, base, u.uri), header...)
			if got.status != http.StatusOK && got.status != http.StatusPartialContent {
				t.Errorf("%s %s: %d %s", u.tag, u.uri, got.status, got.body)
			}
		}
		for _, tag := range []string{"#EXT-X-MAP", "#EXT-X-PART", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT", ""} {
			if !tags[tag] {
				t.Errorf("no URI of %q was checked", tag)
			}
		}
		for _, seen := range s.up.all() {
			if strings.Contains(seen.uri, "lgt=") || strings.Contains(seen.uri, "passcode=") || seen.header.Get("Cookie") != "" {
				t.Errorf("the upstream got %s with Cookie %q", seen.uri, seen.header.Get("Cookie"))
			}
		}
	})

	t.Run("a variant playlist opened with a token carries the same token", func(t *testing.T) {
		id := s.createAlias(t, `"passcode":"`+passcode+`"`)
		master := get(t, s.base+"/live/"+id+"/hls/master.m3u8?passcode="+passcode)
		collect(master.body)
		token := tokenOf(t, master.body)
		variant := get(t, s.base+"/live/"+id+"/hls/v0/index.m3u8?lgt="+token)
		if variant.status != http.StatusOK || tokenOf(t, variant.body) != token {
			t.Errorf("%d, variant token %q, want %q", variant.status, tokensIn(variant.body), token)
		}
		if variant.header.Get("Set-Cookie") != "" {
			t.Errorf("a request opened by a playback token got a cookie: %q", variant.header.Get("Set-Cookie"))
		}
	})

	t.Run("tokens are refused on another alias, after a new passcode, after they expire and after a revocation", func(t *testing.T) {
		a := s.createAlias(t, `"passcode":"`+passcode+`"`)
		b := s.createAlias(t, `"passcode":"`+passcode+`"`)
		token := tokenOf(t, get(t, s.base+"/live/"+a+"/hls/v0/index.m3u8?passcode="+passcode).body)
		segment := func(id, token string) reply { return get(t, s.base+"/live/"+id+"/hls/v0/seg0.ts?lgt="+token) }
		if r := segment(a, token); r.status != http.StatusOK {
			t.Fatalf("the token on its own alias: %d %s", r.status, r.body)
		}
		wantRefused := func(what string, r reply) {
			t.Helper()
			if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s: %d %q %s, want 401 invalid_token", what, r.status, r.header.Get("WWW-Authenticate"), r.body)
			}
		}
		wantRefused("on another alias with the same passcode", segment(b, token))
		wantRefused("under another route of its alias", get(t, s.base+"/plain/"+a+"/hls/v0/seg0.ts?lgt="+token))

		if r := s.api(t, "alias/update/"+a, `{"passcode":"new-sesame"}`); r.status != http.StatusOK {
			t.Fatalf("update: %d %s", r.status, r.body)
		}
		testcaddy.PollUntil(t, 10*time.Second, "the old passcode's token refused", func() bool {
			return segment(a, token).status == http.StatusUnauthorized
		})
		wantRefused("after a new passcode", segment(a, token))
		fresh := tokenOf(t, get(t, s.base+"/live/"+a+"/hls/v0/index.m3u8?passcode=new-sesame").body)
		if r := segment(a, fresh); r.status != http.StatusOK {
			t.Errorf("a token of the new passcode: %d %s", r.status, r.body)
		}

		c := s.createAlias(t, `"jwt_secret":"`+jwtSecret+`"`)
		short := signJWT(t, c, "u-short", time.Now().Add(3*time.Second))
		expiring := tokenOf(t, get(t, s.base+"/live/"+c+"/hls/v0/index.m3u8?token="+short).body)
		if r := segment(c, expiring); r.status != http.StatusOK {
			t.Fatalf("a token of a short JWT: %d %s", r.status, r.body)
		}
		testcaddy.PollUntil(t, 30*time.Second, "the short JWT's token refused", func() bool {
			return segment(c, expiring).status == http.StatusUnauthorized
		})
		wantRefused("after the JWT it came from expired", segment(c, expiring))
		testcaddy.PollUntil(t, 10*time.Second, "the refusal logged as an expired playback token", func() bool {
			return strings.Contains(s.proc.Log.String(), `"reason":"playback_token_expired"`)
		})

		revoked := tokenOf(t, get(t, s.base+"/live/"+c+"/hls/v0/index.m3u8?token="+signJWT(t, c, "u-revoked", time.Now().Add(time.Hour))).body)
		kept := tokenOf(t, get(t, s.base+"/live/"+c+"/hls/v0/index.m3u8?token="+signJWT(t, c, "u-kept", time.Now().Add(time.Hour))).body)
		if r := s.api(t, "alias/revoke/"+c, `{"user_id":"u-revoked"}`); r.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		testcaddy.PollUntil(t, 10*time.Second, "the revoked user's token refused", func() bool {
			return segment(c, revoked).status == http.StatusUnauthorized
		})
		wantRefused("of a revoked user", segment(c, revoked))
		if r := segment(c, kept); r.status != http.StatusOK {
			t.Errorf("another user's token after a revocation: %d %s", r.status, r.body)
		}
		collect(strings.Join([]string{"?lgt=" + token, "?lgt=" + fresh, "?lgt=" + expiring, "?lgt=" + revoked, "?lgt=" + kept}, "\n"))
	})

	t.Run("headers and bodies the upstream sends", func(t *testing.T) {
		id := s.createAlias(t, `"passcode":"`+passcode+`"`)
		token := tokenOf(t, get(t, s.base+"/live/"+id+"/hls/v0/index.m3u8?passcode="+passcode).body)
		edge := func(name string, header ...string) reply {
			return get(t, s.base+"/live/"+id+"/edge/"+name+"?lgt="+token, header...)
		}
		rewritten := func(what string, r reply) {
			t.Helper()
			if r.status != http.StatusOK || tokenOf(t, r.body) != token {
				t.Errorf("%s: %d, tokens %q", what, r.status, tokensIn(r.body))
			}
			if cl := r.header.Get("Content-Length"); cl != fmt.Sprint(len(r.body)) {
				t.Errorf("%s: Content-Length %q for %d bytes", what, cl, len(r.body))
			}
			if cc := r.header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
				t.Errorf("%s: Cache-Control %q, want private", what, cc)
			}
		}

		r := edge("gzipped", "Accept-Encoding", "gzip")
		rewritten("a gzipped playlist", r)
		if ce := r.header.Get("Content-Encoding"); ce != "" {
			t.Errorf("a gzipped playlist comes out with Content-Encoding %q", ce)
		}
		if !strings.Contains(r.body, "https://cdn.example/live/seg1.ts\n") {
			t.Errorf("a segment on another host changed, or lost:\n%s", r.body)
		}
		if !strings.Contains(r.body, "/live/elsewhere/seg2.ts?lgt="+token) {
			t.Errorf("a segment under the origin's absolute URL carries no token:\n%s", r.body)
		}

		r = edge("brotli", "Accept-Encoding", "br")
		if r.status != http.StatusOK || r.header.Get("Content-Encoding") != "br" || r.body != "\x1b\x03not really brotli, but not readable either" {
			t.Errorf("a playlist in a coding linkgate cannot read: %d %q %q, want it passed on as it came", r.status, r.header.Get("Content-Encoding"), r.body)
		}

		r = edge("cached.m3u8")
		rewritten("a cacheable playlist", r)
		if r.header.Get("Etag") != `W/"v1"` || r.header.Get("Cache-Control") != "private, max-age=2" {
			t.Errorf("ETag %q, Cache-Control %q; want W/\"v1\" and private, max-age=2", r.header.Get("Etag"), r.header.Get("Cache-Control"))
		}
		r = edge("cached.m3u8", "If-None-Match", `W/"v1"`)
		if r.status != http.StatusNotModified || r.header.Get("Etag") != `W/"v1"` || r.header.Get("Cache-Control") != "private, max-age=2" {
			t.Errorf("revalidating: %d ETag %q Cache-Control %q, want 304 W/\"v1\" private, max-age=2", r.status, r.header.Get("Etag"), r.header.Get("Cache-Control"))
		}

		r = edge("chunked.m3u8", "Range", "bytes=0-9", "Accept-Encoding", "br")
		rewritten("a playlist sent in pieces, asked for in part", r)
		if seen := s.up.last(t, "/edge/chunked.m3u8"); seen.header.Get("Range") != "" || strings.Contains(seen.header.Get("Accept-Encoding"), "br") {
			t.Errorf("the upstream was asked for Range %q, Accept-Encoding %q of a playlist", seen.header.Get("Range"), seen.header.Get("Accept-Encoding"))
		}

		for _, name := range []string{"big.m3u8", "chunked-big.m3u8"} {
			r = edge(name)
			if r.status != http.StatusOK || r.body != bigPlaylist {
				t.Errorf("%s over the bound: %d, %d bytes, want the upstream's %d bytes as they came", name, r.status, len(r.body), len(bigPlaylist))
			}
		}
		if r = edge("malformed.m3u8"); r.status != http.StatusOK || r.body != "<html>not a playlist</html>\n" {
			t.Errorf("a malformed playlist: %d %q, want it passed on as it came", r.status, r.body)
		}

		r = send(t, http.MethodHead, s.base+"/live/"+id+"/hls/v0/index.m3u8?lgt="+token, "")
		if r.status != http.StatusOK || r.body != "" || r.header.Get("Content-Length") != "" || !strings.HasPrefix(r.header.Get("Cache-Control"), "private") {
			t.Errorf("HEAD of a playlist: %d, Content-Length %q, Cache-Control %q", r.status, r.header.Get("Content-Length"), r.header.Get("Cache-Control"))
		}

		file, err := os.ReadFile(filepath.Join(s.up.dir, "hls", "v0", "seg1.ts"))
		if err != nil {
			t.Fatal(err)
		}
		r = get(t, s.base+"/live/"+id+"/hls/v0/seg1.ts?lgt="+token)
		if r.status != http.StatusOK || r.body != string(file) || r.header.Get("Content-Length") != fmt.Sprint(len(file)) ||
			r.header.Get("Cache-Control") != "" || r.header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("a segment: %d, %d bytes of %d, Content-Length %q, Cache-Control %q, Accept-Ranges %q", r.status, len(r.body), len(file),
				r.header.Get("Content-Length"), r.header.Get("Cache-Control"), r.header.Get("Accept-Ranges"))
		}
		r = get(t, s.base+"/live/"+id+"/hls/v0/seg1.ts?lgt="+token, "Range", "bytes=188-375")
		if r.status != http.StatusPartialContent || r.body != string(file[188:376]) {
			t.Errorf("a range of a segment: %d, %d bytes", r.status, len(r.body))
		}
	})

	t.Run("neither tokens nor passcodes reach the logs", func(t *testing.T) {
		id := s.createAlias(t, `"passcode":"`+passcode+`"`)
		token := tokenOf(t, get(t, s.base+"/live/"+id+"/hls/v0/index.m3u8?passcode="+passcode+"&v=2").body)
		seenTokens = append(seenTokens, token)
		// An upstream that is down: Caddy's error log records the request.
		down := tokenOf(t, get(t, s.base+"/live/"+id+"/hls/v0/index.m3u8?passcode="+passcode).body)
		get(t, s.base+"/down/"+id+"/hls/v0/seg0.ts?lgt="+down+"&passcode="+passcode)
		logs := s.proc.Log.String()
		testcaddy.PollUntil(t, 10*time.Second, "the access log records the playlist", func() bool {
			logs = s.proc.Log.String()
			return strings.Contains(logs, `"uri":"/live/`+id+`/hls/v0/index.m3u8?v=2"`) && strings.Contains(logs, "/down/"+id+"/hls/v0/seg0.ts")
		})
		for _, tok := range append(seenTokens, down) {
			if strings.Contains(logs, tok) {
				t.Errorf("a playback token is in the log")
				break
			}
		}
		for _, secret := range []string{"lgt=", "passcode=", passcode} {
			if strings.Contains(logs, secret) {
				t.Errorf("%q is in the log", secret)
			}
		}
	})
}
