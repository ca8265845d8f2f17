package caddymodule

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/manifest"
)

// MaxPlaylistSize bounds the playlist or manifest alias_auth reads to
// rewrite, as it came from the upstream (decompressed, when it came gzipped).
// A larger one is passed on as it is, without tokens: it is still played by
// players that keep cookies, and the count of such playlists says an
// operator should shorten the media server's playlist window.
const MaxPlaylistSize = 1 << 20

// playlistWriter holds back the answer to an admitted GET or HEAD until its
// status and headers tell whether it is a playlist or a manifest; then
// either it buffers the body to rewrite it with a playback token, or it
// steps aside and every later write goes straight to the client. Writers
// come from a pool, so a segment costs no allocation.
type playlistWriter struct {
	caddyhttp.ResponseWriterWrapper
	h     *AliasAuth
	r     *http.Request
	d     gate.Decision
	state playlistState
	kind  manifest.Kind
	// gzipped says the buffered body is gzip-compressed.
	gzipped bool
	// body is what the upstream sent, out the rewritten document; both
	// keep their capacity in the pool.
	body, out []byte
}

type playlistState uint8

const (
	// undecided: no status yet.
	undecided playlistState = iota
	// passing: the response is no playlist to rewrite, and goes through.
	passing
	// buffering: a playlist, held until the upstream is done.
	buffering
)

// playlistResult is what became of a playlist, as the playlists_total
// metric counts it.
type playlistResult uint8

const (
	playlistRewritten playlistResult = iota
	// playlistTooLarge: over MaxPlaylistSize.
	playlistTooLarge
	// playlistEncoded: compressed other than by gzip.
	playlistEncoded
	// playlistMalformed: not a document the rewriter could follow.
	playlistMalformed
	// playlistUnsigned: no token could be issued (the session key is not
	// loaded yet, or the grant cannot be carried).
	playlistUnsigned
)

var playlistResultNames = [...]string{
	playlistRewritten: "rewritten",
	playlistTooLarge:  "too_large",
	playlistEncoded:   "encoded",
	playlistMalformed: "malformed",
	playlistUnsigned:  "unsigned",
}

// playlistCounters are the playlists_total counters by result, looked up
// once rather than hashed on every playlist.
var playlistCounters = func() (c [len(playlistResultNames)]prometheus.Counter) {
	for i, name := range playlistResultNames {
		c[i] = metrics.playlists.WithLabelValues(name)
	}
	return c
}()

var playlistWriters = sync.Pool{New: func() any { return new(playlistWriter) }}

// keptBuffer is the most capacity a pooled writer keeps: the rare large
// playlist should not pin its buffers for the life of the process.
const keptBuffer = 64 << 10

// playlistWriter returns the writer that rewrites the playlists answered to
// r, admitted as d, or nil when none can be: the route issues no playback
// tokens to this admission, the method reads no body, or the request is an
// upgrade, whose connection is no response to rewrite.
func (h *AliasAuth) playlistWriter(w http.ResponseWriter, r *http.Request, d *gate.Decision) *playlistWriter {
	if !h.route.Playback(d) || r.Method != http.MethodGet && r.Method != http.MethodHead || r.Header["Upgrade"] != nil {
		return nil
	}
	if manifest.KindOf("", r.URL.Path) != manifest.None {
		// The whole document, as it is: a range of it cannot be rewritten,
		// and a compressed one would have to be decompressed first. Caddy's
		// transport asks the upstream for gzip on its own when the client
		// does not, and then hands on the body decompressed.
		delete(r.Header, "Accept-Encoding")
		delete(r.Header, "Range")
		delete(r.Header, "If-Range")
	}
	pw := playlistWriters.Get().(*playlistWriter)
	pw.ResponseWriter, pw.h, pw.r, pw.d = w, h, r, *d
	return pw
}

// serve hands r to next through pw, then writes what it held back.
func (pw *playlistWriter) serve(next caddyhttp.Handler, r *http.Request) error {
	err := next.ServeHTTP(pw, r)
	if pw.state == buffering {
		if err != nil {
			// Whatever the upstream managed to send goes on as it came, as
			// it would have without the rewriting.
			pw.release()
		} else {
			pw.rewrite()
		}
	}
	pw.recycle()
	return err
}

func (pw *playlistWriter) recycle() {
	body, out := pw.body[:0], pw.out[:0]
	if cap(body) > keptBuffer {
		body = nil
	}
	if cap(out) > keptBuffer {
		out = nil
	}
	*pw = playlistWriter{body: body, out: out}
	playlistWriters.Put(pw)
}

// WriteHeader decides, at the final status, whether the response is a
// playlist to rewrite.
func (pw *playlistWriter) WriteHeader(status int) {
	if pw.state != undecided || status >= 100 && status <= 199 {
		if pw.state != buffering {
			pw.ResponseWriter.WriteHeader(status)
		}
		return
	}
	pw.state = passing
	header := pw.Header()
	pw.kind = manifest.KindOf(header.Get("Content-Type"), pw.r.URL.Path)
	switch {
	case pw.kind == manifest.None:
	case status == http.StatusNotModified:
		// The client keeps the body it was given, with its token; what
		// the answer updates must read as what that body came with.
		privateValidators(header)
	case status != http.StatusOK:
	case !pw.encodingReadable(header):
		pw.count(playlistEncoded, -1)
	case pw.tooLong(header):
		pw.count(playlistTooLarge, -1)
	case pw.r.Method == http.MethodHead:
		rewrittenHeaders(header, pw.gzipped)
		delete(header, "Content-Length")
	default:
		pw.state = buffering
		if n, err := strconv.Atoi(header.Get("Content-Length")); err == nil && n > 0 && cap(pw.body) < n {
			pw.body = make([]byte, 0, n)
		}
		return
	}
	pw.ResponseWriter.WriteHeader(status)
}

// encodingReadable reports whether the body comes in a coding the rewriter
// can read: none, or gzip (from an upstream that compresses whatever it is
// asked, or a playlist not named as one).
func (pw *playlistWriter) encodingReadable(header http.Header) bool {
	switch strings.ToLower(header.Get("Content-Encoding")) {
	case "", "identity":
		return true
	case "gzip", "x-gzip":
		pw.gzipped = true
		return true
	}
	return false
}

// tooLong reports whether the upstream announced a body over the bound.
func (pw *playlistWriter) tooLong(header http.Header) bool {
	n, err := strconv.ParseInt(header.Get("Content-Length"), 10, 64)
	return err == nil && n > MaxPlaylistSize
}

func (pw *playlistWriter) Write(p []byte) (int, error) {
	if pw.state == undecided {
		pw.WriteHeader(http.StatusOK)
	}
	if pw.state != buffering {
		return pw.ResponseWriter.Write(p)
	}
	if len(pw.body)+len(p) > MaxPlaylistSize {
		pw.count(playlistTooLarge, len(pw.body)+len(p))
		if err := pw.release(); err != nil {
			return 0, err
		}
		return pw.ResponseWriter.Write(p)
	}
	pw.body = append(pw.body, p...)
	return len(p), nil
}

// ReadFrom keeps the underlying writer's ReadFrom (sendfile, for a file
// server's segments) for what passes through.
func (pw *playlistWriter) ReadFrom(src io.Reader) (int64, error) {
	if pw.state == undecided {
		pw.WriteHeader(http.StatusOK)
	}
	if pw.state != buffering {
		return pw.ResponseWriterWrapper.ReadFrom(src)
	}
	return io.Copy(writeOnly{pw}, src)
}

// writeOnly hides ReadFrom, so io.Copy writes in chunks.
type writeOnly struct{ io.Writer }

// FlushError flushes what passes through; a held-back playlist is written
// whole at the end, whatever the upstream's pace.
func (pw *playlistWriter) FlushError() error {
	if pw.state == undecided {
		pw.WriteHeader(http.StatusOK)
	}
	if pw.state == buffering {
		return nil
	}
	return http.NewResponseController(pw.ResponseWriter).Flush()
}

// release writes the held-back status and body as they came, and lets
// what follows pass.
func (pw *playlistWriter) release() error {
	pw.state = passing
	pw.ResponseWriter.WriteHeader(http.StatusOK)
	_, err := pw.ResponseWriter.Write(pw.body)
	return err
}

// rewrite writes the held-back playlist with a playback token in every URI
// that leads back here, or as it came when it cannot be rewritten.
func (pw *playlistWriter) rewrite() {
	body := pw.body
	if pw.gzipped {
		var err error
		if body, err = pw.gunzip(); err != nil {
			pw.malformed(len(pw.body), err)
			return
		}
		if len(body) > MaxPlaylistSize {
			pw.count(playlistTooLarge, len(body))
			pw.release()
			return
		}
	}
	token, ok := pw.h.gate.PlaybackToken(&pw.d, &pw.h.route, gate.PlaybackScope(pw.r.URL.Path, pw.d.Alias.ID))
	if !ok {
		pw.count(playlistUnsigned, len(body))
		pw.release()
		return
	}
	rw := manifest.Rewriter{Param: gate.QueryPlayback, Token: token, Origin: origin(pw.r)}
	var err error
	if pw.kind == manifest.DASH {
		pw.out, err = rw.DASH(pw.out[:0], body)
	} else {
		pw.out, err = rw.HLS(pw.out[:0], body)
	}
	if err != nil {
		pw.malformed(len(body), err)
		return
	}
	header := pw.Header()
	rewrittenHeaders(header, pw.gzipped)
	header["Content-Length"] = []string{strconv.Itoa(len(pw.out))}
	pw.state = passing
	pw.ResponseWriter.WriteHeader(http.StatusOK)
	pw.ResponseWriter.Write(pw.out)
	pw.count(playlistRewritten, len(pw.out))
}

// gunzip decompresses the held-back body, reading at most one byte past
// the bound.
func (pw *playlistWriter) gunzip() ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(pw.body))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(min(4*len(pw.body), MaxPlaylistSize+1))
	_, err = buf.ReadFrom(io.LimitReader(zr, MaxPlaylistSize+1))
	return buf.Bytes(), err
}

// malformed passes on as it came a playlist the rewriter could not read.
// That is most often no playlist at all (a text answer under a playlist's
// name), so it is counted, and logged at debug level only.
func (pw *playlistWriter) malformed(size int, err error) {
	pw.count(playlistMalformed, size)
	if ce := pw.h.logger.Check(zap.DebugLevel, "playlist not rewritten"); ce != nil {
		ce.Write(zap.String("alias", pw.d.Alias.ID), zap.String("path", pw.r.URL.Path), zap.Error(err))
	}
	pw.release()
}

// count counts a playlist by result and warns of those that went on
// without tokens for a reason the operator can act on: players that keep no
// cookies cannot play them. size is -1 when unknown.
func (pw *playlistWriter) count(result playlistResult, size int) {
	playlistCounters[result].Inc()
	if result == playlistRewritten || result == playlistMalformed {
		return
	}
	if ce := pw.h.logger.Check(zap.WarnLevel, "playlist passed on without playback tokens"); ce != nil {
		ce.Write(zap.String("alias", pw.d.Alias.ID), zap.String("path", pw.r.URL.Path),
			zap.String("reason", playlistResultNames[result]), zap.Int("size", size))
	}
}

// rewrittenHeaders makes the headers of a playlist say what the rewritten
// body is: its own length (set by the caller), no coding, no ranges or
// digests of the upstream's bytes, a weak validator, and private caching,
// since every viewer's copy carries the viewer's token.
func rewrittenHeaders(header http.Header, decompressed bool) {
	for _, name := range []string{"Content-Length", "Accept-Ranges", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest"} {
		delete(header, name)
	}
	if decompressed {
		delete(header, "Content-Encoding")
	}
	privateValidators(header)
}

// privateValidators marks the upstream's ETag weak, since the body it names
// is the same document for this viewer, not the same bytes, and makes the
// response private to the viewer.
func privateValidators(header http.Header) {
	if tag := header.Get("Etag"); tag != "" && !strings.HasPrefix(tag, "W/") {
		header["Etag"] = []string{"W/" + tag}
	}
	header["Cache-Control"] = []string{privateCacheControl(header.Get("Cache-Control"))}
}

// privateCacheControl is the upstream's Cache-Control with what lets a
// shared cache keep the response (public, s-maxage) replaced by private.
func privateCacheControl(cc string) string {
	kept := []string{"private"}
	for part := range strings.SplitSeq(cc, ",") {
		part = strings.TrimSpace(part)
		name, _, _ := strings.Cut(part, "=")
		switch {
		case part == "", strings.EqualFold(name, "public"), strings.EqualFold(name, "private"), strings.EqualFold(name, "s-maxage"):
		default:
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, ", ")
}

// origin is the scheme and host the client used, for telling which absolute
// URIs of a playlist lead back here.
func origin(r *http.Request) *url.URL {
	scheme := "http"
	if viaHTTPS(r) {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: r.Host}
}

// viaHTTPS reports whether the client reached Caddy over HTTPS: Caddy
// terminated TLS, or a trusted proxy that did says so.
func viaHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return trusted && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
