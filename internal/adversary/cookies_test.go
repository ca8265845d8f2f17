package adversary

import (
	"net/http"
	"strings"
	"testing"
)

// Behind a load balancer that terminates TLS (a trusted proxy saying
// X-Forwarded-Proto: https) the session cookie must be Secure as when
// Caddy terminates TLS itself; an operator can also force it.
var _ = attack("session cookies are Secure behind a TLS-terminating proxy", func(t *testing.T, s *server) {
	id := s.createAlias(t, `"type":"live","passcode":"open-sesame"`)
	for _, tc := range []struct {
		name, path string
		header     []string
		secure     bool
	}{
		{"plain HTTP", "/live/", nil, false},
		{"trusted proxy over HTTPS", "/live/", []string{"X-Forwarded-Proto", "https"}, true},
		{"trusted proxy over HTTP", "/live/", []string{"X-Forwarded-Proto", "http"}, false},
		{"secure_cookies always", "/always/", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.get(t, tc.path+id+"/index.m3u8?passcode=open-sesame", tc.header...)
			cookie := r.header.Get("Set-Cookie")
			if r.status != http.StatusOK || cookie == "" {
				t.Fatalf("%d, Set-Cookie %q", r.status, cookie)
			}
			if secure := strings.Contains(cookie, "; Secure"); secure != tc.secure {
				t.Errorf("Set-Cookie %q: Secure %v, want %v", cookie, secure, tc.secure)
			}
		})
	}
})

// The passcode form must not accept a post from another site: a page
// elsewhere could log a viewer in with a passcode of its choosing (login
// CSRF).
var _ = attack("the passcode form refuses cross-site posts", func(t *testing.T, s *server) {
	id := s.createAlias(t, `"type":"live","passcode":"open-sesame"`)
	post := func(header ...string) reply {
		return s.send(t, http.MethodPost, "/live/"+id+"/index.m3u8", "linkgate_passcode=open-sesame",
			append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
	}
	for name, header := range map[string][]string{
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		"Sec-Fetch-Site same-site":  {"Sec-Fetch-Site", "same-site"},
		"Origin of another site":    {"Origin", "https://evil.example"},
		"Origin null":               {"Origin", "null"},
	} {
		if r := post(header...); r.status != http.StatusForbidden || r.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: %d Set-Cookie %q, want 403 without a cookie", name, r.status, r.header.Get("Set-Cookie"))
		}
	}
	host := strings.TrimPrefix(s.base, "http://")
	for name, header := range map[string][]string{
		"Sec-Fetch-Site same-origin": {"Sec-Fetch-Site", "same-origin", "Origin", s.base},
		"Origin of this site":        {"Origin", "http://" + host},
	} {
		if r := post(header...); r.status != http.StatusSeeOther || r.header.Get("Set-Cookie") == "" {
			t.Errorf("%s: %d Set-Cookie %q, want 303 with a cookie", name, r.status, r.header.Get("Set-Cookie"))
		}
	}
})
