package e2e

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// TestThrottle covers decision 8's throttling: after the route's number of
// failed credentials a client gets 429 with Retry-After on that alias, even
// with the right credential; a session cookie it already holds keeps
// working, and neither other aliases nor (see TestThrottleByClient) other
// clients are affected.
func TestThrottle(t *testing.T) {
	g := newGateway(t, "")
	a := g.createAlias(t, specFull)
	right := get("/tight/" + a.ID + "/index.m3u8?passcode=" + q(a.Passcode))

	first := g.do(t, right)
	wantPassed(t, first, a, "viewer", "")
	cookie := sessionCookie(t, first, a)

	for i := 1; i <= 3; i++ {
		wantDenied(t, g.do(t, get("/tight/"+a.ID+"/index.m3u8?passcode=wrong"+strconv.Itoa(i))),
			http.StatusUnauthorized, codeUnauthorized, challengeInvalid)
	}

	t.Run("right passcode after 3 failures", func(t *testing.T) {
		wantThrottled(t, g.do(t, right))
	})
	t.Run("any credential", func(t *testing.T) {
		wantThrottled(t, g.do(t, get("/tight/"+a.ID+"/index.m3u8", "Authorization", "Bearer "+a.viewerJWT(t, "x"))))
		wantThrottled(t, g.do(t, get("/tight/"+a.ID+"/index.m3u8", "X-Alias-Passcode", a.Passcode)))
	})
	t.Run("passcode page", func(t *testing.T) {
		r := g.do(t, request{method: http.MethodPost, path: "/tight/" + a.ID + "/index.m3u8",
			body:   url.Values{"linkgate_passcode": {a.Passcode}}.Encode(),
			header: []string{"Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html"}})
		if r.status != http.StatusTooManyRequests || len(r.upstream) != 0 {
			t.Fatalf("status %d (upstream got %d), want 429", r.status, len(r.upstream))
		}
		wantRetryAfter(t, r)
		if v := r.header.Values("Set-Cookie"); len(v) != 0 {
			t.Errorf("Set-Cookie %q on a throttled login", v)
		}
	})
	t.Run("spoofed X-Forwarded-For from an untrusted peer", func(t *testing.T) {
		wantThrottled(t, g.do(t, get(right.path, "X-Forwarded-For", "203.0.113.99")))
	})
	t.Run("session cookie still passes", func(t *testing.T) {
		wantPassed(t, g.do(t, get("/tight/"+a.ID+"/seg1.ts", "Cookie", cookieHeader(cookie))), a, "viewer", "")
	})
	t.Run("other alias of the same client", func(t *testing.T) {
		b := g.createAlias(t, specPasscode)
		wantPassed(t, g.do(t, get("/tight/"+b.ID+"/index.m3u8?passcode="+q(b.Passcode))), b, "viewer", "")
	})
	t.Run("default limit is 10", func(t *testing.T) {
		b := g.createAlias(t, specPasscode)
		for range 10 {
			wantDenied(t, g.do(t, get("/live/"+b.ID+"/index.m3u8?passcode=wrong")),
				http.StatusUnauthorized, codeUnauthorized, challengeInvalid)
		}
		wantThrottled(t, g.do(t, get("/live/"+b.ID+"/index.m3u8?passcode="+q(b.Passcode))))
	})
}

// TestThrottleByClient: behind a trusted proxy the client is the address
// in X-Forwarded-For, so one client's failures do not throttle another
// behind the same proxy.
func TestThrottleByClient(t *testing.T) {
	g := newGateway(t, "servers {\n\t\ttrusted_proxies static 127.0.0.1/8\n\t}")
	a := g.createAlias(t, specPasscode)
	path := "/tight/" + a.ID + "/index.m3u8?passcode="
	for range 3 {
		wantDenied(t, g.do(t, get(path+"wrong", "X-Forwarded-For", "203.0.113.7")),
			http.StatusUnauthorized, codeUnauthorized, challengeInvalid)
	}
	wantThrottled(t, g.do(t, get(path+q(a.Passcode), "X-Forwarded-For", "203.0.113.7")))
	wantPassed(t, g.do(t, get(path+q(a.Passcode), "X-Forwarded-For", "203.0.113.8")), a, "viewer", "")
	wantDenied(t, g.do(t, get(path+"wrong", "X-Forwarded-For", "203.0.113.8")),
		http.StatusUnauthorized, codeUnauthorized, challengeInvalid)
	wantPassed(t, g.do(t, get(path+q(a.Passcode), "X-Forwarded-For", "203.0.113.8")), a, "viewer", "")
}

func wantThrottled(t *testing.T, r result) {
	t.Helper()
	wantDenied(t, r, http.StatusTooManyRequests, codeThrottled, "")
	wantRetryAfter(t, r)
}

// wantRetryAfter fails the test unless r says, in whole seconds, when to
// try again, within the 1m window of the routes it is used on.
func wantRetryAfter(t *testing.T, r result) {
	t.Helper()
	v := r.header.Get("Retry-After")
	if n, err := strconv.Atoi(v); err != nil || n <= 0 || n > 60 {
		t.Errorf("Retry-After %q, want whole seconds in 1..60", v)
	}
}
