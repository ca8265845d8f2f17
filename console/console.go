// Package console is the organizer's web console: a page, its style sheet
// and its ES modules, embedded in the binary, and a small settings document
// the page reads (the shapes of the links it hands out). The page talks to
// the alias API of the same origin with the organization token the
// organizer types in; the server keeps no state for it.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Options are the console's settings. A URL template holds the
// placeholders {id} (the alias ID), {key} (its stream key), {passcode} and
// {token} (a JWT), each filled in URL-escaped by the page. A relative
// template is taken from the console's origin. An empty template hides
// the link it stands for.
type Options struct {
	// ViewerURL is where a viewer opens a live alias.
	ViewerURL string `json:"viewer_url"`

	// RoomURL is where a participant opens a conference alias.
	RoomURL string `json:"room_url"`

	// WHIPURL is where a publisher pushes a live alias over WHIP, with the
	// stream key as Bearer token.
	WHIPURL string `json:"whip_url"`

	// RTMPURL is the RTMP ingest URL of the operator's media server.
	RTMPURL string `json:"rtmp_url"`

	// SRTURL is the SRT ingest URL of the operator's media server.
	SRTURL string `json:"srt_url"`

	// PreviewURL is the HLS playlist the console plays to preview a live
	// alias. It must be a path on the console's own origin: the page may
	// connect nowhere else, and the segments need the session cookie the
	// gateway sets for the playlist.
	PreviewURL string `json:"preview_url"`

	// MaxTokenLifetime is the longest JWT the gateway accepts; the page
	// offers no longer lifetime for the links it signs.
	MaxTokenLifetime time.Duration `json:"-"`

	// PageSize is how many aliases the list asks the API for at a time.
	PageSize int `json:"page_size"`
}

// Defaults returns the settings that suit the example Caddyfile: live
// streams under /live/<id>/ (HLS playlist index.m3u8, WHIP at whip), rooms
// under /conference/<id>/, no RTMP or SRT server, JWTs of up to 24 hours,
// 50 aliases a page.
func Defaults() Options {
	return Options{
		ViewerURL:        "/live/{id}/index.m3u8",
		RoomURL:          "/conference/{id}/",
		WHIPURL:          "/live/{id}/whip",
		PreviewURL:       "/live/{id}/index.m3u8",
		MaxTokenLifetime: 24 * time.Hour,
		PageSize:         50,
	}
}

// The API lists at most this many aliases a page.
const maxPageSize = 500

// placeholders are those a template may hold.
var placeholders = []string{"{id}", "{key}", "{passcode}", "{token}"}

// Validate checks the options; New calls it.
func (o Options) Validate() error {
	for name, tmpl := range map[string]string{
		"viewer_url": o.ViewerURL, "room_url": o.RoomURL, "whip_url": o.WHIPURL,
		"rtmp_url": o.RTMPURL, "srt_url": o.SRTURL, "preview_url": o.PreviewURL,
	} {
		if err := checkTemplate(tmpl); err != nil {
			return fmt.Errorf("console: %s %q: %w", name, tmpl, err)
		}
	}
	if o.PreviewURL != "" && (!strings.HasPrefix(o.PreviewURL, "/") || strings.HasPrefix(o.PreviewURL, "//")) {
		return fmt.Errorf("console: preview_url %q must be a path on the console's origin, starting with one /", o.PreviewURL)
	}
	if o.MaxTokenLifetime < 15*time.Minute {
		return fmt.Errorf("console: a max token lifetime of %v leaves no link lifetime to offer (the shortest is 15m)", o.MaxTokenLifetime)
	}
	if o.PageSize < 1 || o.PageSize > maxPageSize {
		return fmt.Errorf("console: page size %d is not between 1 and %d", o.PageSize, maxPageSize)
	}
	return nil
}

// checkTemplate refuses a template whose braces are not one of the known
// placeholders, so that a typo shows when the config loads rather than as
// a broken link in front of a viewer.
func checkTemplate(tmpl string) error {
	rest := tmpl
	for _, p := range placeholders {
		rest = strings.ReplaceAll(rest, p, "")
	}
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("only the placeholders %s may be used", strings.Join(placeholders, ", "))
	}
	if strings.ContainsFunc(tmpl, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("a URL may not hold spaces or control characters")
	}
	return nil
}

// Handler serves the console. It answers by the last element of the
// request path, so it works under whatever prefix it is mounted at: the
// page refers to its files relative to itself. A path ending in / is the
// page.
type Handler struct {
	files map[string]file
}

// file is an asset as served: its bytes, type and entity tag.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// settings is what the page reads from settings.json.
type settings struct {
	Options
	MaxTokenLifetime int64 `json:"max_token_lifetime"`
}

// settingsName is the settings document's file name, beside the page.
const settingsName = "settings.json"

// New returns the console's handler with opts, which it checks.
func New(opts Options) (*Handler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{files: map[string]file{}}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		h.add(path.Base(p), body)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: reading the embedded assets: %w", err)
	}
	doc, err := json.Marshal(settings{Options: opts, MaxTokenLifetime: int64(opts.MaxTokenLifetime / time.Second)})
	if err != nil {
		return nil, err
	}
	h.add(settingsName, doc)
	return h, nil
}

func (h *Handler) add(name string, body []byte) {
	sum := sha256.Sum256(body)
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	// Module scripts must be served as JavaScript whatever the host's
	// MIME table says, or the browser refuses them.
	case ".js", ".mjs":
		ctype = "text/javascript; charset=utf-8"
	case ".txt":
		ctype = "text/plain; charset=utf-8"
	}
	h.files[name] = file{
		body:        body,
		contentType: ctype,
		etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
	}
}

// contentSecurityPolicy lets the page load its own scripts, style sheet
// and data, and nothing else: no inline script or style, no frames. media-src
// blob: is for the preview, which hls.js feeds through a MediaSource; its
// transmuxing worker is a file of the console, so worker-src needs no
// blob:.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"media-src 'self' blob:; connect-src 'self'; worker-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// ServeHTTP serves the page, its assets and settings.json.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	// The files change only with the binary, but are not named by their
	// content: revalidate every time, which the ETag makes cheap.
	hdr.Set("Cache-Control", "no-cache")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "The console answers GET and HEAD only.")
		return
	}
	name, ok := assetName(r.URL.EscapedPath())
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_path", "The path has a dot segment or an escaped separator.")
		return
	}
	f, ok := h.files[name]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "The console has no such file.")
		return
	}
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// assetName returns the file a request path asks for: its last element, or
// the page for a path ending in /. It refuses dot segments and escaped
// slashes or backslashes anywhere in the path, as the gateway does: they
// mean something else to every layer that resolves them.
func assetName(escaped string) (string, bool) {
	for _, seg := range strings.Split(escaped, "/") {
		lower := strings.ToLower(seg)
		if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(seg, `\`) {
			return "", false
		}
		if dots := strings.ReplaceAll(lower, "%2e", "."); dots == "." || dots == ".." {
			return "", false
		}
	}
	name := path.Base("/" + escaped)
	if strings.HasSuffix(escaped, "/") || name == "/" {
		return "index.html", true
	}
	return name, true
}

// errorBody is the JSON error body every linkgate endpoint answers with.
type errorBody struct {
	Errors struct {
		Detail string `json:"detail"`
		Code   string `json:"code"`
	} `json:"errors"`
}

func writeError(w http.ResponseWriter, status int, code, detail string) {
	var body errorBody
	body.Errors.Code, body.Errors.Detail = code, detail
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
