package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/console"
)

// serve mounts the console under /console/ as Caddy's handle /console/*
// does: the handler sees the whole path.
func serve(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func newHandler(t *testing.T, opts console.Options) http.Handler {
	t.Helper()
	h, err := console.New(opts)
	if err != nil {
		t.Fatalf("console.New: %v", err)
	}
	return h
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPaths(t *testing.T) {
	h := newHandler(t, console.Defaults())
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/console/", "text/html", `<script type="module" src="console.js">`},
		{"/console/index.html", "text/html", `<label for="token">Organization token</label>`},
		{"/other/prefix/", "text/html", `<title>linkgate console</title>`},
		{"/console/console.js", "text/javascript", "sessionStorage"},
		{"/console/sessions.js", "text/javascript", "listRevocations"},
		{"/console/dom.js", "text/javascript", "aria-describedby"},
		{"/console/console.css", "text/css", ":focus-visible"},
		{"/console/hls.min.mjs", "text/javascript", "MANIFEST_PARSED"},
		{"/console/hls.worker.js", "text/javascript", "transmuxer"},
		{"/console/hls.js-LICENSE.txt", "text/plain", "Apache License"},
		{"/console/settings.json", "application/json", `"viewer_url"`},
	} {
		resp := serve(t, h, http.MethodGet, tc.path, nil)
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", tc.path, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.contentType)
		}
		if !strings.Contains(b, tc.contains) {
			t.Errorf("GET %s: the body does not hold %q", tc.path, tc.contains)
		}
	}

	resp := serve(t, h, http.MethodHead, "/console/", nil)
	if resp.StatusCode != http.StatusOK || body(t, resp) != "" {
		t.Errorf("HEAD /console/: %d, want 200 without a body", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHandler(t, console.Defaults())
	for _, path := range []string{"/console/", "/console/console.js", "/console/settings.json", "/console/nope.js", "/console/../x"} {
		resp := serve(t, h, http.MethodGet, path, nil)
		csp := resp.Header.Get("Content-Security-Policy")
		directives := map[string]string{}
		for _, d := range strings.Split(csp, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			directives[name] = value
		}
		for name, want := range map[string]string{
			"default-src":     "'none'",
			"script-src":      "'self'",
			"style-src":       "'self'",
			"connect-src":     "'self'",
			"media-src":       "'self' blob:",
			"worker-src":      "'self'",
			"frame-ancestors": "'none'",
			"base-uri":        "'none'",
			"form-action":     "'self'",
		} {
			if got := directives[name]; got != want {
				t.Errorf("GET %s: CSP %s is %q, want %q (whole policy: %s)", path, name, got, want, csp)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: the CSP allows something unsafe: %s", path, csp)
		}
		for name, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"Cache-Control":          "no-cache",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("GET %s: %s %q, want %q", path, name, got, want)
			}
		}
	}
}

func TestRevalidation(t *testing.T) {
	h := newHandler(t, console.Defaults())
	first := serve(t, h, http.MethodGet, "/console/console.js", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("console.js has no ETag")
	}
	again := serve(t, h, http.MethodGet, "/console/console.js", http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("GET with If-None-Match of the current ETag: %d, want 304", again.StatusCode)
	}
}

func TestRefusals(t *testing.T) {
	h := newHandler(t, console.Defaults())
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/console/nope.js", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/console/assets/console.js/x", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/console/console.go", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/console/../console_test.go", http.StatusBadRequest, "invalid_path"},
		{http.MethodGet, "/console/../../../etc/passwd", http.StatusBadRequest, "invalid_path"},
		{http.MethodGet, "/console/%2e%2e/%2E%2E/etc/passwd", http.StatusBadRequest, "invalid_path"},
		{http.MethodGet, "/console/..%2f..%2fetc%2fpasswd", http.StatusBadRequest, "invalid_path"},
		{http.MethodGet, "/console/..%5c..%5cconsole.go", http.StatusBadRequest, "invalid_path"},
		{http.MethodGet, "/console/./index.html", http.StatusBadRequest, "invalid_path"},
		{http.MethodPost, "/console/", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodDelete, "/console/settings.json", http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		resp := serve(t, h, tc.method, tc.path, nil)
		b := body(t, resp)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d; body %s", tc.method, tc.path, resp.StatusCode, tc.status, b)
			continue
		}
		var e struct {
			Errors struct{ Detail, Code string }
		}
		if err := json.Unmarshal([]byte(b), &e); err != nil || e.Errors.Code != tc.code || e.Errors.Detail == "" {
			t.Errorf("%s %s: body %s, want the JSON error with code %s", tc.method, tc.path, b, tc.code)
		}
		if strings.Contains(b, "root:") || strings.Contains(b, "package console") {
			t.Errorf("%s %s: the body holds a file from outside the console: %s", tc.method, tc.path, b)
		}
	}
	if resp := serve(t, h, http.MethodPost, "/console/", nil); resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /console/: Allow %q, want GET, HEAD", resp.Header.Get("Allow"))
	}
}

func TestSettingsDocument(t *testing.T) {
	opts := console.Options{
		ViewerURL:        "https://cdn.example.com/live/{id}/index.m3u8",
		RoomURL:          "/room/{id}/",
		RTMPURL:          "rtmp://media.example.com/ingest/{key}",
		SRTURL:           "srt://media.example.com:8890?streamid=publish:live/{id}:x:{key}",
		PreviewURL:       "/hls/{id}/index.m3u8",
		MaxTokenLifetime: 12 * time.Hour,
		PageSize:         7,
	}
	h := newHandler(t, opts)
	resp := serve(t, h, http.MethodGet, "/console/settings.json", nil)
	var got map[string]any
	if err := json.Unmarshal([]byte(body(t, resp)), &got); err != nil {
		t.Fatalf("settings.json is not JSON: %v", err)
	}
	want := map[string]any{
		"viewer_url":         opts.ViewerURL,
		"room_url":           opts.RoomURL,
		"whip_url":           "",
		"rtmp_url":           opts.RTMPURL,
		"srt_url":            opts.SRTURL,
		"preview_url":        opts.PreviewURL,
		"max_token_lifetime": float64(12 * 3600),
		"page_size":          float64(7),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("settings.json %s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("settings.json has %d members, want %d: %v", len(got), len(want), got)
	}
}

func TestDefaultsMatchTheExampleCaddyfile(t *testing.T) {
	d := console.Defaults()
	for name, got := range map[string]string{
		"viewer_url": d.ViewerURL, "room_url": d.RoomURL, "whip_url": d.WHIPURL, "preview_url": d.PreviewURL,
	} {
		// The example Caddyfile routes /live/* and /conference/* to the
		// gateway; rtmp and srt have no default, as it runs no media server.
		if !strings.HasPrefix(got, "/live/{id}/") && !strings.HasPrefix(got, "/conference/{id}/") {
			t.Errorf("default %s %q is not under a route of the example Caddyfile", name, got)
		}
	}
	if d.RTMPURL != "" || d.SRTURL != "" {
		t.Errorf("default rtmp_url %q, srt_url %q; want none", d.RTMPURL, d.SRTURL)
	}
	if d.MaxTokenLifetime != 24*time.Hour || d.PageSize != 50 {
		t.Errorf("default max token lifetime %v, page size %d; want 24h, 50", d.MaxTokenLifetime, d.PageSize)
	}
}

func TestBadOptions(t *testing.T) {
	for name, mutate := range map[string]func(*console.Options){
		"unknown placeholder":   func(o *console.Options) { o.ViewerURL = "/live/{alias}/index.m3u8" },
		"unbalanced brace":      func(o *console.Options) { o.RTMPURL = "rtmp://x/{key" },
		"space in a URL":        func(o *console.Options) { o.SRTURL = "srt://x:1 ?streamid={key}" },
		"absolute preview":      func(o *console.Options) { o.PreviewURL = "https://cdn.example.com/live/{id}/index.m3u8" },
		"scheme-relative":       func(o *console.Options) { o.PreviewURL = "//cdn.example.com/live/{id}/index.m3u8" },
		"token lifetime 10m":    func(o *console.Options) { o.MaxTokenLifetime = 10 * time.Minute },
		"page size 0":           func(o *console.Options) { o.PageSize = 0 },
		"page size over 500":    func(o *console.Options) { o.PageSize = 501 },
		"relative preview path": func(o *console.Options) { o.PreviewURL = "live/{id}/index.m3u8" },
	} {
		opts := console.Defaults()
		mutate(&opts)
		if _, err := console.New(opts); err == nil {
			t.Errorf("%s: console.New accepted %+v", name, opts)
		}
	}
}
