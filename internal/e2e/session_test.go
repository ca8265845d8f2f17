package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/gate"
)

// TestSessionCookie covers decision 6: after a credential succeeds the
// client gets an HttpOnly cookie scoped to the alias's path that lets its
// follow-up requests in, expiring no later than the credential or the
// alias, and dead once the alias changes.
func TestSessionCookie(t *testing.T) {
	g := newGateway(t, "")

	t.Run("passcode", func(t *testing.T) {
		a := g.createAlias(t, spec{passcode: true, ttl: 10 * time.Minute})
		before := time.Now()
		r := g.do(t, get("/live/"+a.ID+"/index.m3u8?passcode="+q(a.Passcode)))
		wantPassed(t, r, a, "viewer", "")
		c := sessionCookie(t, r, a)
		wantCookieAttributes(t, c, "/live/"+a.ID)
		if limit := int(a.ExpiredAt.Unix() - before.Unix()); c.MaxAge <= 0 || c.MaxAge > limit {
			t.Errorf("Max-Age %d, want 1..%d: no later than the alias's expiry", c.MaxAge, limit)
		}
		if c.Expires.After(a.ExpiredAt) {
			t.Errorf("Expires %v, after the alias's expiry %v", c.Expires, a.ExpiredAt)
		}

		t.Run("follow-up with the cookie alone", func(t *testing.T) {
			for _, seg := range []string{"seg1.ts", "seg2.ts", "index.m3u8"} {
				wantPassed(t, g.do(t, get("/live/"+a.ID+"/"+seg, "Cookie", cookieHeader(c))), a, "viewer", "")
			}
		})
		t.Run("tampered", func(t *testing.T) {
			for _, i := range []int{0, len(c.Value) / 2, len(c.Value) - 8} {
				v := []byte(c.Value)
				if v[i] == 'A' {
					v[i] = 'B'
				} else {
					v[i] = 'A'
				}
				wantDenied(t, g.do(t, get("/live/"+a.ID+"/seg.ts", "Cookie", c.Name+"="+string(v))),
					http.StatusUnauthorized, codeUnauthorized, challengeNone)
			}
			wantDenied(t, g.do(t, get("/live/"+a.ID+"/seg.ts", "Cookie", c.Name+"=")),
				http.StatusUnauthorized, codeUnauthorized, challengeNone)
		})
		t.Run("not a credential for the publish route", func(t *testing.T) {
			wantDenied(t, g.do(t, get("/whip/"+a.ID, "Cookie", cookieHeader(c))),
				http.StatusUnauthorized, codeUnauthorized, challengeNone)
		})
		t.Run("not valid for another alias", func(t *testing.T) {
			other := g.createAlias(t, specPasscode)
			wantDenied(t, g.do(t, get("/live/"+other.ID+"/seg.ts", "Cookie", gate.SessionCookiePrefix+other.ID+"="+c.Value)),
				http.StatusUnauthorized, codeUnauthorized, challengeNone)
		})
		t.Run("refused after a passcode change", func(t *testing.T) {
			g.updateAlias(t, a, map[string]any{"passcode": "a-new-passcode"})
			wantDenied(t, g.do(t, get("/live/"+a.ID+"/seg3.ts", "Cookie", cookieHeader(c))),
				http.StatusUnauthorized, codeUnauthorized, challengeNone)
			a.Passcode = "a-new-passcode"
			r := g.do(t, get("/live/"+a.ID+"/index.m3u8?passcode="+q(a.Passcode)))
			wantPassed(t, r, a, "viewer", "")
			c = sessionCookie(t, r, a)
			wantPassed(t, g.do(t, get("/live/"+a.ID+"/seg4.ts", "Cookie", cookieHeader(c))), a, "viewer", "")
		})
		t.Run("not found after delete", func(t *testing.T) {
			g.deleteAlias(t, a)
			wantDenied(t, g.do(t, get("/live/"+a.ID+"/seg5.ts", "Cookie", cookieHeader(c))),
				http.StatusNotFound, codeNotFound, "")
		})
	})

	t.Run("JWT", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		exp := time.Now().Add(5 * time.Minute).Unix()
		token := sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"user_id": "frank", "exp": exp}))
		before := time.Now()
		r := g.do(t, get("/live/"+a.ID+"/index.m3u8", "Authorization", "Bearer "+token))
		wantPassed(t, r, a, "viewer", "frank")
		c := sessionCookie(t, r, a)
		wantCookieAttributes(t, c, "/live/"+a.ID)
		if limit := int(exp - before.Unix()); c.MaxAge <= 0 || c.MaxAge > limit {
			t.Errorf("Max-Age %d, want 1..%d: no later than the token's exp", c.MaxAge, limit)
		}
		if c.Expires.Unix() > exp {
			t.Errorf("Expires %v, after the token's exp %v", c.Expires, time.Unix(exp, 0))
		}
		wantPassed(t, g.do(t, get("/live/"+a.ID+"/seg1.ts", "Cookie", cookieHeader(c))), a, "viewer", "frank")

		g.updateAlias(t, a, map[string]any{"jwt_secret": randomHex(24)})
		wantDenied(t, g.do(t, get("/live/"+a.ID+"/seg2.ts", "Cookie", cookieHeader(c))),
			http.StatusUnauthorized, codeUnauthorized, challengeNone)
	})

	t.Run("host JWT on a conference", func(t *testing.T) {
		a := g.createAlias(t, specConference)
		r := g.do(t, get("/conference/"+a.ID+"/rtc?token="+a.hostJWT(t, "gina")))
		wantPassed(t, r, a, "host", "gina")
		c := sessionCookie(t, r, a)
		wantCookieAttributes(t, c, "/conference/"+a.ID)
		wantPassed(t, g.do(t, get("/conference/"+a.ID+"/rtc/ice", "Cookie", cookieHeader(c))), a, "host", "gina")
	})

	t.Run("stream key", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		r := g.do(t, get("/whip/"+a.ID, "Authorization", "Bearer "+a.StreamKey))
		wantPassed(t, r, a, "publisher", "")
		c := sessionCookie(t, r, a)
		wantCookieAttributes(t, c, "/whip/"+a.ID)
		wantPassed(t, g.do(t, get("/whip/"+a.ID+"/resource", "Cookie", cookieHeader(c))), a, "publisher", "")
		g.updateAlias(t, a, map[string]any{"stream_key": "sk-" + randomHex(12)})
		wantDenied(t, g.do(t, get("/whip/"+a.ID+"/resource", "Cookie", cookieHeader(c))),
			http.StatusUnauthorized, codeUnauthorized, challengeNone)
	})

	t.Run("session_lifetime bounds it", func(t *testing.T) {
		a := g.createAlias(t, specPasscode)
		r := g.do(t, get("/short/"+a.ID+"/index.m3u8?passcode="+q(a.Passcode)))
		wantPassed(t, r, a, "viewer", "")
		c := sessionCookie(t, r, a)
		wantCookieAttributes(t, c, "/short/"+a.ID)
		if c.MaxAge <= 0 || c.MaxAge > 90 {
			t.Errorf("Max-Age %d, want 1..90 (session_lifetime 90s)", c.MaxAge)
		}
	})

	t.Run("no cookie", func(t *testing.T) {
		a := g.createAlias(t, specPasscode)
		pub := g.createAlias(t, specPublic)
		for _, tc := range []struct {
			name string
			r    result
		}{
			{"session_lifetime off", g.do(t, get("/nocookie/"+a.ID+"/index.m3u8?passcode="+q(a.Passcode)))},
			{"public alias", g.do(t, get("/live/"+pub.ID+"/index.m3u8"))},
			{"denied", g.do(t, get("/live/"+a.ID+"/index.m3u8?passcode=wrong"))},
		} {
			if v := tc.r.header.Values("Set-Cookie"); len(v) != 0 {
				t.Errorf("%s: Set-Cookie %q, want none", tc.name, v)
			}
		}
	})
}

// wantCookieAttributes fails the test unless c is HttpOnly, SameSite=Lax,
// and scoped to path.
func wantCookieAttributes(t *testing.T, c *http.Cookie, path string) {
	t.Helper()
	if c.Path != path {
		t.Errorf("cookie Path %q, want %q", c.Path, path)
	}
	if !c.HttpOnly {
		t.Errorf("cookie %q is not HttpOnly", c.Raw)
	}
	if c.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie %q is not SameSite=Lax", c.Raw)
	}
	if c.Value == "" {
		t.Errorf("cookie %q has no value", c.Raw)
	}
}

// TestPasscodePage covers decision 7: a browser without a credential gets a
// self-contained passcode form; posting the right passcode sets the
// session cookie and redirects to the clean URL; none of it reaches the
// upstream.
func TestPasscodePage(t *testing.T) {
	g := newGateway(t, "")
	html := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	form := func(path, passcode string) request {
		return request{method: http.MethodPost, path: path, body: url.Values{"linkgate_passcode": {passcode}}.Encode(),
			header: []string{"Content-Type", "application/x-www-form-urlencoded", "Accept", html}}
	}

	a := g.createAlias(t, specPasscode)
	t.Run("page", func(t *testing.T) {
		r := g.do(t, get("/live/"+a.ID+"/index.m3u8", "Accept", html))
		wantPage(t, r, http.StatusUnauthorized, false)
	})

	t.Run("wrong passcode", func(t *testing.T) {
		r := g.do(t, form("/live/"+a.ID+"/index.m3u8", "wrong"))
		wantPage(t, r, http.StatusUnauthorized, true)
		if v := r.header.Values("Set-Cookie"); len(v) != 0 {
			t.Errorf("Set-Cookie %q after a wrong passcode", v)
		}
	})

	t.Run("right passcode", func(t *testing.T) {
		r := g.do(t, form("/live/"+a.ID+"/index.m3u8?passcode=stale&x=1", a.Passcode))
		if len(r.upstream) != 0 {
			t.Errorf("the upstream got the form post: %+v", r.upstream)
		}
		if r.status != http.StatusSeeOther {
			t.Fatalf("status %d, want 303; body: %s", r.status, r.body)
		}
		loc := r.header.Get("Location")
		if want := "/live/" + a.ID + "/index.m3u8?x=1"; loc != want {
			t.Errorf("Location %q, want %q", loc, want)
		}
		c := sessionCookie(t, r, a)
		wantCookieAttributes(t, c, "/live/"+a.ID)

		// The browser follows the redirect with its new cookie.
		s := wantPassed(t, g.do(t, get(loc, "Accept", html, "Cookie", cookieHeader(c))), a, "viewer", "")
		if s.URI != "/live/"+a.ID+"/index.m3u8?x=1" {
			t.Errorf("upstream got %q after the redirect", s.URI)
		}
	})

	t.Run("JSON clients get JSON", func(t *testing.T) {
		wantDenied(t, g.do(t, get("/live/"+a.ID+"/index.m3u8", "Accept", "application/json")),
			http.StatusUnauthorized, codeUnauthorized, challengeNone)
		wantDenied(t, g.do(t, get("/live/"+a.ID+"/index.m3u8")),
			http.StatusUnauthorized, codeUnauthorized, challengeNone)
	})
	t.Run("no page without a passcode to type", func(t *testing.T) {
		b := g.createAlias(t, spec{jwtSecret: true})
		wantDenied(t, g.do(t, get("/live/"+b.ID+"/index.m3u8", "Accept", html)),
			http.StatusUnauthorized, codeUnauthorized, challengeNone)
	})
	t.Run("passcode_page off", func(t *testing.T) {
		wantDenied(t, g.do(t, get("/nopage/"+a.ID+"/index.m3u8", "Accept", html)),
			http.StatusUnauthorized, codeUnauthorized, challengeNone)
	})
	t.Run("other form posts reach the upstream intact", func(t *testing.T) {
		b := g.createAlias(t, specFull)
		rq := request{method: http.MethodPost, path: "/live/" + b.ID + "/api", body: "a=1&b=2",
			header: []string{"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Bearer " + b.viewerJWT(t, "h")}}
		s := wantPassed(t, g.do(t, rq), b, "viewer", "h")
		if s.Method != http.MethodPost || s.Body != "a=1&b=2" {
			t.Errorf("upstream got %s with body %q, want POST a=1&b=2", s.Method, s.Body)
		}
	})
}

var styleRE = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// wantPage fails the test unless r is the passcode page with status; retry
// says whether it must tell that the last passcode was wrong.
func wantPage(t *testing.T, r result, status int, retry bool) {
	t.Helper()
	if len(r.upstream) != 0 {
		t.Errorf("the upstream got %d requests, want none", len(r.upstream))
	}
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q, want default-src 'none'", csp)
	}
	if got := r.header.Get("WWW-Authenticate"); status == http.StatusUnauthorized && got != challengeNone {
		t.Errorf("WWW-Authenticate %q, want %q", got, challengeNone)
	}
	body := string(r.body)
	for _, want := range []string{`<form method="post"`, `name="linkgate_passcode"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s:\n%s", want, body)
		}
	}
	if got := strings.Contains(body, `role="alert"`); got != retry {
		t.Errorf("the page has role=\"alert\": %v, want %v", got, retry)
	}
	for _, external := range []string{"<script", "src=", "href="} {
		if strings.Contains(body, external) {
			t.Errorf("the page is not self-contained: it has %s", external)
		}
	}
	// The page's own style sheet must be allowed by its policy, or the
	// browser shows it unstyled.
	if m := styleRE.FindStringSubmatch(body); m != nil {
		sum := sha256.Sum256([]byte(m[1]))
		if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, hash) {
			t.Errorf("Content-Security-Policy %q does not allow the page's style (%s)", csp, hash)
		}
	}
}
