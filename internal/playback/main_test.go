package playback

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// server is the built binary on the embedded store, in front of a
// recording upstream that serves what ffmpeg wrote, with the root
// Caddyfile's log filters.
type server struct {
	bin    string
	db     string // the database option
	base   string // http://127.0.0.1:port
	proc   *testcaddy.Process
	up     *upstream
	token  string // an organization's token
	ffmpeg string
	// cookieless is a proxy in front of the server that strips every
	// cookie both ways; keeping one only records.
	cookieless, keeping *recorder
}

const (
	passcode  = "open-sesame"
	jwtSecret = "a-jwt-secret-of-at-least-32-bytes-for-hs256"
)

// siteRoutes are the routes of the test site after the API: %[1]s is the
// upstream, %[2]s an address nothing listens on.
const siteRoutes = `
	handle /live/* {
		alias_auth live
		reverse_proxy %[1]s
	}
	handle /plain/* {
		alias_auth live {
			playback_tokens off
		}
		reverse_proxy %[1]s
	}
	handle /cors/* {
		header Access-Control-Allow-Origin *
		alias_auth live
		reverse_proxy %[1]s
	}
	handle /down/* {
		alias_auth live
		reverse_proxy %[2]s
	}
`

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{ffmpeg: findFFmpeg(t)}
	media := t.TempDir()
	generateMedia(t, s.ffmpeg, media)
	s.up = newUpstream(t, media)
	s.bin = testcaddy.BuildCaddy(t)
	dir := t.TempDir()
	s.db = "sqlite:" + filepath.Join(dir, "linkgate.db")
	port := testcaddy.FreePort(t)
	s.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	globalLog, siteLog := rootLogBlocks(t)
	text := fmt.Sprintf(`{
	%s
	linkgate {
		database %s
	}
	%s
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	%s
	%s
}
`, testcaddy.GlobalOptions(filepath.Join(dir, "storage")), s.db, globalLog, port,
		fmt.Sprintf(siteRoutes, s.up.host, fmt.Sprintf("127.0.0.1:%d", testcaddy.FreePort(t))), siteLog)
	s.proc = testcaddy.Run(t, s.bin, "linkgate", string(caddyfile.Format([]byte(text))))
	s.proc.WaitReady(t, func() bool {
		r, err := http.Get(s.base + "/live/")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusNotFound
	})
	out, err := exec.Command(s.bin, "linkgate", "org", "create", "acme", "--json", "--database", s.db).Output()
	if err != nil {
		t.Fatalf("caddy linkgate org create: %v", err)
	}
	var org struct{ Token string }
	if err := json.Unmarshal(out, &org); err != nil || org.Token == "" {
		t.Fatalf("caddy linkgate org create printed %q", out)
	}
	s.token = org.Token
	s.cookieless = newRecorder(t, s.base, true)
	s.keeping = newRecorder(t, s.base, false)
	return s
}

// rootLogBlocks returns the global and the site log blocks of the root
// Caddyfile: the test site logs exactly as the example does.
func rootLogBlocks(t *testing.T) (global, site string) {
	t.Helper()
	b, err := os.ReadFile("../../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	block := func(from int) string {
		start := strings.Index(text[from:], "\tlog {")
		if start < 0 {
			t.Fatal("the root Caddyfile has fewer log blocks than expected")
		}
		start += from
		depth := 0
		for i := start; i < len(text); i++ {
			switch text[i] {
			case '{':
				depth++
			case '}':
				if depth--; depth == 0 {
					return text[start : i+1]
				}
			}
		}
		t.Fatal("a log block of the root Caddyfile does not end")
		return ""
	}
	first, last := strings.Index(text, "\tlog {"), strings.LastIndex(text, "\tlog {")
	if first == last {
		t.Fatal("the root Caddyfile has one log block, want a global and a site one")
	}
	return block(first), block(last)
}

// findFFmpeg returns Debian's ffmpeg. Without one the test skips, unless
// CI is set: there a missing ffmpeg must not pass as a skipped test.
func findFFmpeg(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("ffmpeg is required when CI is set: %v (install Debian's ffmpeg)", err)
	}
	t.Skipf("skipping: no ffmpeg: %v", err)
	return ""
}

// testSource is three seconds of test picture and tone with a keyframe
// every second, so that one-second segments come out.
var testSource = []string{
	"-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=3",
	"-f", "lavfi", "-i", "sine=duration=3:sample_rate=8000",
	"-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-c:a", "aac", "-threads", "1",
}

// generateMedia writes, under dir: hls/ a multivariant MPEG-TS stream with
// two video variants and an audio rendition; enc/ an AES-128 stream whose
// key sits beside its playlist; ll/ fragmented MP4 with a low-latency
// playlist ll.m3u8 written over ffmpeg's segments; dash/ a DASH stream.
func generateMedia(t *testing.T, ffmpeg, dir string) {
	t.Helper()
	run := func(sub string, args ...string) {
		t.Helper()
		d := filepath.Join(dir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if sub == "enc" {
			write(t, filepath.Join(d, "enc.key"), "0123456789abcdef")
			write(t, filepath.Join(d, "key.info"), "enc.key\nenc.key\n")
		}
		cmd := exec.Command(ffmpeg, append(append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, testSource...), args...)...)
		cmd.Dir = d
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("hls", "-map", "0:v", "-map", "0:v", "-map", "1:a", "-b:v:0", "60k", "-b:v:1", "30k",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-master_pl_name", "master.m3u8",
		"-var_stream_map", "v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud",
		"-hls_segment_filename", "v%v/seg%d.ts", "v%v/index.m3u8")
	run("enc", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_key_info_file", "key.info", "index.m3u8")
	run("ll", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_segment_type", "fmp4",
		"-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", "seg%d.m4s", "index.m3u8")
	run("dash", "-map", "0:v", "-map", "1:a", "-f", "dash", "-seg_duration", "1", "-use_template", "1", "-use_timeline", "1", "manifest.mpd")
	write(t, filepath.Join(dir, "ll", "ll.m3u8"), lowLatency(t, filepath.Join(dir, "ll")))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lowLatency writes a low-latency media playlist, shaped as RFC 8216bis's
// examples are, over the segments ffmpeg wrote in dir: each segment in two
// parts (byte ranges of it), a preload hint, a rendition report, and the
// server control a blocking reload needs. A player that knows no parts
// plays the segments.
func lowLatency(t *testing.T, dir string) string {
	t.Helper()
	index, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n")
	b.WriteString("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5,CAN-SKIP-UNTIL=6.0\n")
	b.WriteString("#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init.mp4\"\n")
	segments := 0
	extinf := ""
	for line := range strings.SplitSeq(string(index), "\n") {
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			extinf = line
		case line != "" && !strings.HasPrefix(line, "#"):
			info, err := os.Stat(filepath.Join(dir, line))
			if err != nil {
				t.Fatal(err)
			}
			half := info.Size() / 2
			fmt.Fprintf(&b, "#EXT-X-PART:DURATION=0.5,URI=\"%s\",BYTERANGE=\"%d@0\",INDEPENDENT=YES\n", line, half)
			fmt.Fprintf(&b, "#EXT-X-PART:DURATION=0.5,URI=\"%s\",BYTERANGE=\"%d@%d\"\n", line, info.Size()-half, half)
			fmt.Fprintf(&b, "%s\n%s\n", extinf, line)
			segments++
		}
	}
	if segments < 2 {
		t.Fatalf("ffmpeg wrote %d fragmented MP4 segments:\n%s", segments, index)
	}
	fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg%d.m4s\",BYTERANGE-START=0\n", segments-1)
	fmt.Fprintf(&b, "#EXT-X-RENDITION-REPORT:URI=\"index.m3u8\",LAST-MSN=%d,LAST-PART=1\n", segments-1)
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.String()
}

// upstream is the media server: it serves the files ffmpeg wrote, for any
// route and alias (/<route>/<alias>/<file>), answers the awkward cases
// under edge/, and records every request that reached it.
type upstream struct {
	host string
	dir  string
	mu   sync.Mutex
	seen []seen
}

// seen is a request as the upstream got it.
type seen struct {
	uri    string
	header http.Header
}

func newUpstream(t *testing.T, dir string) *upstream {
	u := &upstream{dir: dir}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	u.host = srv.Listener.Addr().String()
	return u
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.seen = append(u.seen, seen{r.RequestURI, r.Header.Clone()})
	u.mu.Unlock()
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 3 {
		http.NotFound(w, r)
		return
	}
	file := parts[2]
	if name, ok := strings.CutPrefix(file, "edge/"); ok {
		edge(w, r, name)
		return
	}
	r.URL.Path = "/" + file
	http.FileServer(http.Dir(u.dir)).ServeHTTP(w, r)
}

// last is the last request whose URI contains part.
func (u *upstream) last(t *testing.T, part string) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := len(u.seen) - 1; i >= 0; i-- {
		if strings.Contains(u.seen[i].uri, part) {
			return u.seen[i]
		}
	}
	t.Fatalf("no request for %q reached the upstream", part)
	return seen{}
}

// all is every request the upstream got.
func (u *upstream) all() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.seen...)
}

// edgePlaylist is a media playlist with a relative segment, one on a CDN
// and one under the absolute URL of the origin the client used (which a
// media server learns from X-Forwarded-Host).
func edgePlaylist(r *http.Request) string {
	return "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nseg0.ts\n#EXTINF:1.0,\nhttps://cdn.example/live/seg1.ts\n" +
		"#EXTINF:1.0,\nhttp://" + r.Header.Get("X-Forwarded-Host") + "/live/elsewhere/seg2.ts\n#EXT-X-ENDLIST\n"
}

// bigPlaylist is a valid media playlist over MaxPlaylistSize (1 MiB).
var bigPlaylist = func() string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:2\n")
	for i := 0; b.Len() <= 3<<19; i++ {
		fmt.Fprintf(&b, "#EXTINF:2.0,\nsegment-of-a-long-recording-%08d.ts\n", i)
	}
	return b.String() + "#EXT-X-ENDLIST\n"
}()

// edge answers what media servers and their proxies sometimes send.
func edge(w http.ResponseWriter, r *http.Request, name string) {
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	switch name {
	case "gzipped":
		// Compressed whenever the client allows it, under a name that is
		// no playlist's.
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			io.WriteString(w, edgePlaylist(r))
			return
		}
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		io.WriteString(zw, edgePlaylist(r))
		zw.Close()
		h.Set("Content-Encoding", "gzip")
		h.Set("Vary", "Accept-Encoding")
		h.Set("Content-Length", strconv.Itoa(z.Len()))
		w.Write(z.Bytes())
	case "brotli":
		h.Set("Content-Encoding", "br")
		io.WriteString(w, "\x1b\x03not really brotli, but not readable either")
	case "cached.m3u8":
		h.Set("Etag", `"v1"`)
		h.Set("Cache-Control", "public, max-age=2, s-maxage=5")
		h.Set("Last-Modified", "Mon, 02 Mar 2026 12:00:00 GMT")
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, edgePlaylist(r))
	case "big.m3u8":
		h.Set("Content-Length", strconv.Itoa(len(bigPlaylist)))
		io.WriteString(w, bigPlaylist)
	case "chunked-big.m3u8", "chunked.m3u8":
		doc := edgePlaylist(r)
		if name == "chunked-big.m3u8" {
			doc = bigPlaylist
		}
		// Sent in pieces without a length, as a live packager streams.
		for len(doc) > 0 {
			n := min(len(doc), 4096)
			io.WriteString(w, doc[:n])
			w.(http.Flusher).Flush()
			doc = doc[n:]
		}
	case "malformed.m3u8":
		io.WriteString(w, "<html>not a playlist</html>\n")
	default:
		http.NotFound(w, r)
	}
}

// recorder is a proxy in front of the server that records every exchange
// and, when strip is set, removes every cookie both ways: a player behind
// it keeps none, whatever it would do.
type recorder struct {
	url   string
	mu    sync.Mutex
	got   []exchange
	strip bool
}

// exchange is one request through a recorder and its answer.
type exchange struct {
	uri       string
	status    int
	hadCookie bool
}

func newRecorder(t *testing.T, target string, strip bool) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{strip: strip}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			// Whether the player sent a cookie travels with the request to
			// ModifyResponse, which records the exchange.
			pr.Out.Header.Del("X-Recorder-Cookie")
			if pr.In.Header.Get("Cookie") != "" {
				pr.Out.Header.Set("X-Recorder-Cookie", "1")
			}
			if strip {
				pr.Out.Header.Del("Cookie")
			}
		},
		ModifyResponse: func(res *http.Response) error {
			if strip {
				res.Header.Del("Set-Cookie")
			}
			rec.mu.Lock()
			rec.got = append(rec.got, exchange{res.Request.URL.RequestURI(), res.StatusCode, res.Request.Header.Get("X-Recorder-Cookie") != ""})
			rec.mu.Unlock()
			return nil
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	rec.url = srv.URL
	return rec
}

// exchanges are the exchanges whose URI contains part.
func (rec *recorder) exchanges(part string) []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []exchange
	for _, e := range rec.got {
		if strings.Contains(e.uri, part) {
			out = append(out, e)
		}
	}
	return out
}

// playback is what a run of ffmpeg made of a stream.
type playback struct {
	// played is how much media ffmpeg got out, by its last progress
	// report.
	played time.Duration
	errors string
	err    error
}

// play runs ffmpeg on url as a viewer would watch it, copying every stream
// to nowhere, and reports how much it played.
func (s *server) play(t *testing.T, url string) playback {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1",
		"-i", url, "-c", "copy", "-f", "null", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	p := playback{err: cmd.Run(), errors: stderr.String()}
	if m := outTime.FindAllStringSubmatch(stdout.String(), -1); len(m) > 0 {
		us, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
		p.played = time.Duration(us) * time.Microsecond
	}
	return p
}

var outTime = regexp.MustCompile(`(?m)^out_time_us=(\d+)$`)

// reply is what a client got.
type reply struct {
	status int
	header http.Header
	body   string
}

// client keeps no cookies and follows no redirects.
var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send makes a request of method to url; header holds name, value pairs.
func send(t *testing.T, method, url, body string, header ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: string(b)}
}

func get(t *testing.T, url string, header ...string) reply {
	t.Helper()
	return send(t, http.MethodGet, url, "", header...)
}

// api calls the alias API with the organization's token.
func (s *server) api(t *testing.T, path, body string) reply {
	t.Helper()
	return send(t, http.MethodPost, s.base+"/organization/api/v1/"+path, body, "Authorization", s.token)
}

// createAlias creates a live alias from JSON members, a day long unless
// they say otherwise, and returns its ID.
func (s *server) createAlias(t *testing.T, members string) string {
	t.Helper()
	if !strings.Contains(members, `"expired_at"`) {
		members += fmt.Sprintf(`,"expired_at":%d`, time.Now().Add(24*time.Hour).Unix())
	}
	r := s.api(t, "alias/create", `{"type":"live",`+members+`}`)
	var v struct{ Data struct{ ID string } }
	if r.status != http.StatusCreated || json.Unmarshal([]byte(r.body), &v) != nil {
		t.Fatalf("creating an alias {%s}: %d %s", members, r.status, r.body)
	}
	return v.Data.ID
}

// signJWT is a viewer JWT of the alias for user, ending at exp.
func signJWT(t *testing.T, aliasID, user string, exp time.Time) string {
	t.Helper()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"alias": aliasID, "user_id": user, "iat": time.Now().Unix(), "exp": exp.Unix(),
	}).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// lgt matches the playback token parameter in a URI of a playlist.
var lgt = regexp.MustCompile(`[?&](?:amp;)?lgt=([A-Za-z0-9_-]+)`)

// tokensIn returns every playback token in doc, in order.
func tokensIn(doc string) []string {
	var out []string
	for _, m := range lgt.FindAllStringSubmatch(doc, -1) {
		out = append(out, m[1])
	}
	return out
}

// tokenOf returns the one playback token every URI of doc carries.
func tokenOf(t *testing.T, doc string) string {
	t.Helper()
	tokens := tokensIn(doc)
	if len(tokens) == 0 {
		t.Fatalf("no playback token in:\n%s", doc)
	}
	for _, tok := range tokens[1:] {
		if tok != tokens[0] {
			t.Fatalf("the URIs of one playlist carry different tokens:\n%s", doc)
		}
	}
	return tokens[0]
}

// uris returns the URIs of an HLS playlist: its URI lines and the URI
// attributes of its tags, each with the byte range that goes with it.
func uris(doc string) []hlsURI {
	var out []hlsURI
	attr := regexp.MustCompile(`URI="([^"]*)"`)
	byterange := regexp.MustCompile(`BYTERANGE="(\d+)@(\d+)"`)
	for line := range strings.SplitSeq(doc, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case !strings.HasPrefix(line, "#"):
			out = append(out, hlsURI{uri: line})
		default:
			for _, m := range attr.FindAllStringSubmatch(line, -1) {
				u := hlsURI{uri: m[1], tag: strings.SplitN(line, ":", 2)[0]}
				if br := byterange.FindStringSubmatch(line); br != nil {
					n, _ := strconv.Atoi(br[1])
					off, _ := strconv.Atoi(br[2])
					u.rangeHeader = fmt.Sprintf("bytes=%d-%d", off, off+n-1)
				}
				out = append(out, u)
			}
		}
	}
	return out
}

type hlsURI struct {
	uri, tag, rangeHeader string
}

// resolve resolves ref against the URL base.
func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).String()
}
