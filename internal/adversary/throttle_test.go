package adversary

import (
	"net/http"
	"strconv"
	"testing"
)

// The retrieve endpoint once read credentials on its own: a client the
// gateway had throttled went on guessing ?passcode= there without limit,
// and a 4-digit passcode fell in about a second. Now both count failures
// in one table per client and alias.
var _ = attack("guessing passcodes on retrieve is throttled with the gateway", func(t *testing.T, s *server) {
	const limit = 10 // the default throttle
	wantThrottled := func(t *testing.T, r reply, where string) {
		t.Helper()
		retry, err := strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != http.StatusTooManyRequests || r.code() != "too_many_failures" || err != nil || retry < 1 {
			t.Fatalf("%s: %d %q Retry-After %q, want 429 too_many_failures with Retry-After", where, r.status, r.body, r.header.Get("Retry-After"))
		}
	}
	t.Run("guesses on retrieve close the gateway", func(t *testing.T) {
		id := s.createAlias(t, `"type":"live","passcode":"4821"`)
		for i := range limit {
			if r := s.get(t, "/api/v1/alias/"+id+"?passcode="+strconv.Itoa(1000+i)); r.status != http.StatusUnauthorized {
				t.Fatalf("guess %d on retrieve: %d %s, want 401", i, r.status, r.body)
			}
		}
		// The right passcode is refused too: a guesser must not learn
		// that the next guess was the one.
		wantThrottled(t, s.get(t, "/api/v1/alias/"+id+"?passcode=4821"), "retrieve")
		wantThrottled(t, s.get(t, "/live/"+id+"/index.m3u8?passcode=4821"), "the gateway")
		wantThrottled(t, s.get(t, "/api/v1/alias/"+id, "X-Alias-Passcode", "4821"), "retrieve by header")
	})
	t.Run("guesses at the gateway close retrieve", func(t *testing.T) {
		id := s.createAlias(t, `"type":"live","passcode":"7310"`)
		for i := range limit {
			if r := s.get(t, "/live/"+id+"/index.m3u8?passcode="+strconv.Itoa(1000+i)); r.status != http.StatusUnauthorized {
				t.Fatalf("guess %d at the gateway: %d %s, want 401", i, r.status, r.body)
			}
		}
		wantThrottled(t, s.get(t, "/api/v1/alias/"+id+"?passcode=7310"), "retrieve")
	})
	t.Run("guesses by every credential form count", func(t *testing.T) {
		id := s.createAlias(t, `"type":"live","passcode":"5555","jwt_secret":"0123456789abcdef0123456789abcdef"`)
		guesses := [][]string{
			{"/api/v1/alias/" + id + "?passcode=0001"},
			{"/api/v1/alias/" + id + "?pass%63ode=0002"},
			{"/api/v1/alias/" + id, "X-Alias-Passcode", "0003"},
			{"/api/v1/alias/" + id + "?token=eyJhbGciOiJIUzI1NiJ9.eyJhbGlhcyI6IngifQ.c2ln"},
			{"/api/v1/alias/" + id, "Authorization", "Bearer some-stream-key-guess"},
			{"/api/v1/alias/" + id + "?token=%zz"},
			{"/live/" + id + "/index.m3u8?passcode=0004"},
			{"/live/" + id + "/index.m3u8", "X-Alias-Passcode", "0005"},
			{"/live/" + id + "/index.m3u8?jwt=not-a-token"},
			{"/api/v1/alias/" + id + "?passcode=0006"},
		}
		for i, g := range guesses {
			if r := s.get(t, g[0], g[1:]...); r.status != http.StatusUnauthorized {
				t.Fatalf("guess %d (%v): %d %s, want 401", i, g, r.status, r.body)
			}
		}
		wantThrottled(t, s.get(t, "/api/v1/alias/"+id+"?passcode=5555"), "retrieve")
	})
})
