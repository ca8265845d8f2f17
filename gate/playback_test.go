package gate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/node"
)

func TestPlaybackTokenSigning(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := &alias.Alias{ID: "abcdefghijkl", AuthEpoch: 7, ExpiredAt: now.Add(time.Hour)}
	s := gate.NewSessionSigner([]byte(strings.Repeat("k", 32)))
	const scope = "/live/abcdefghijkl"
	issued := now.Add(-time.Minute)
	grant := alias.Grant{Role: alias.RoleViewer, User: "user456", JTI: "token-1", IssuedAt: issued}
	token, ok := s.IssuePlayback(a, grant, scope, now, now.Add(time.Minute))
	if !ok {
		t.Fatal("no token issued")
	}
	g, r := s.VerifyPlayback(a, token, scope, now)
	if r != 0 || g.Role != alias.RoleViewer || g.User != "user456" || g.JTI != "token-1" || !g.IssuedAt.Equal(issued) ||
		!g.Expiry.Equal(now.Add(time.Minute)) || g.Epoch != 7 {
		t.Fatalf("verified %+v, %v", g, r)
	}
	cookie, _ := s.Issue(a, grant, now, now.Add(time.Minute))
	if _, ok := s.Verify(a, token, now); ok {
		t.Error("a playback token was accepted as a session cookie")
	}
	rekeyed := *a
	rekeyed.AuthEpoch++
	other := *a
	other.ID = "abcdefghijkm"
	for _, tc := range []struct {
		name, value, scope string
		alias              *alias.Alias
		at                 time.Time
		want               gate.Reason
	}{
		{"a session cookie", cookie, scope, a, now, gate.ReasonPlaybackTokenInvalid},
		{"under another path", token, "/dash/abcdefghijkl", a, now, gate.ReasonPlaybackTokenInvalid},
		{"under a path that only starts the same", token, "/live/abcdefghijkl/x", a, now, gate.ReasonPlaybackTokenInvalid},
		{"for another alias", token, "/live/abcdefghijkm", &other, now, gate.ReasonPlaybackTokenInvalid},
		{"signed with another key", mustPlayback(t, gate.NewSessionSigner([]byte(strings.Repeat("x", 32))), a, scope, now), scope, a, now, gate.ReasonPlaybackTokenInvalid},
		{"with a flipped character", flipChar(token, 12), scope, a, now, gate.ReasonPlaybackTokenInvalid},
		{"truncated", token[:40], scope, a, now, gate.ReasonPlaybackTokenInvalid},
		{"empty", "", scope, a, now, gate.ReasonPlaybackTokenInvalid},
		{"after a new passcode or secret (a new epoch)", token, scope, &rekeyed, now, gate.ReasonCredentialChanged},
		{"past its expiry", token, scope, a, now.Add(time.Minute), gate.ReasonPlaybackTokenExpired},
	} {
		if _, r := s.VerifyPlayback(tc.alias, tc.value, tc.scope, tc.at); r != tc.want {
			t.Errorf("a token %s: %v, want %v", tc.name, r, tc.want)
		}
	}
	if _, ok := s.IssuePlayback(a, grant, "/"+strings.Repeat("p", gate.MaxPlaybackScope), now, now.Add(time.Minute)); ok {
		t.Error("a token was issued for a path longer than it can be bound to")
	}
}

func mustPlayback(t *testing.T, s *gate.SessionSigner, a *alias.Alias, scope string, now time.Time) string {
	t.Helper()
	v, ok := s.IssuePlayback(a, alias.Grant{Role: alias.RoleViewer}, scope, now, now.Add(time.Minute))
	if !ok {
		t.Fatal("no token issued")
	}
	return v
}

func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// playbackWorld is a gateway over a real embedded store with a passcode
// alias, an alias that also takes JWTs, and a public one.
type playbackWorld struct {
	node                   *node.Node
	orgID                  string
	passcode, full, public string // alias IDs
	gate                   *gate.Gate
	route                  *gate.Route
}

const playbackSecret = "0123456789abcdef0123456789abcdef"

func newPlaybackWorld(t *testing.T) *playbackWorld {
	t.Helper()
	ctx := context.Background()
	n, err := node.New(node.Config{Database: node.Database{DSN: filepath.Join(t.TempDir(), "linkgate.db")}}, node.Events{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(ctx, true); err != nil {
		t.Fatal(err)
	}
	store, err := n.Backend()
	if err != nil {
		t.Fatal(err)
	}
	org, err := store.CreateOrg(ctx, "playback")
	if err != nil {
		t.Fatal(err)
	}
	w := &playbackWorld{node: n, orgID: org.ID, passcode: "playpasscode", full: "playfull0001", public: "playpublic01"}
	for _, a := range []alias.Alias{
		{ID: w.passcode, Passcode: "open-sesame"},
		{ID: w.full, Passcode: "open-sesame", JWTSecret: playbackSecret, StreamKey: "sk-playback-0123456789"},
		{ID: w.public},
	} {
		a.OrgID, a.Type, a.ExpiredAt = org.ID, alias.TypeLive, time.Now().Add(24*time.Hour)
		if _, err := store.CreateAlias(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	w.gate = &gate.Gate{
		Source:     n,
		JWT:        gate.NewJWTVerifier(gate.DefaultJWTLeeway, gate.DefaultMaxTokenLifetime, nil),
		Tokens:     gate.NewTokenCache(100),
		SessionKey: n.SessionKey,
		Limiter:    gate.NewLimiter(3, time.Minute, 100),
	}
	w.route = &gate.Route{Type: alias.TypeLive, SessionLifetime: time.Hour, PlaybackTokens: true}
	return w
}

// check sends a GET of target through the gateway from client and returns
// the decision, what the client got, and the request as the upstream would.
func (w *playbackWorld) check(t *testing.T, route *gate.Route, aliasID, target, client string) (gate.Decision, *httptest.ResponseRecorder, *http.Request) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	rec := httptest.NewRecorder()
	d, pass := w.gate.Check(rec, r, route, gate.Inbound{AliasID: aliasID, Client: client})
	if pass != d.Admitted() {
		t.Fatalf("%s: passed %v, decision %v", target, pass, d.Reason)
	}
	return d, rec, r
}

// token is the playback token the playlist at target, opened with its
// query, carries.
func (w *playbackWorld) token(t *testing.T, aliasID, target string) string {
	t.Helper()
	d, _, r := w.check(t, w.route, aliasID, target, "192.0.2.1")
	if !d.Admitted() {
		t.Fatalf("%s: %v", target, d.Reason)
	}
	token, ok := w.gate.PlaybackToken(&d, w.route, gate.PlaybackScope(r.URL.Path, aliasID))
	if !ok {
		t.Fatalf("%s: no playback token for %v", target, d.Reason)
	}
	return token
}

func (w *playbackWorld) update(t *testing.T, id string, p alias.Patch) {
	t.Helper()
	if _, err := w.node.Catalog().UpdateAlias(context.Background(), w.orgID, id, p); err != nil {
		t.Fatal(err)
	}
}

func (w *playbackWorld) revoke(t *testing.T, id string, r alias.Revocation) {
	t.Helper()
	r.CreatedAt, r.ExpiresAt = time.Now(), time.Now().Add(time.Hour)
	if _, err := w.node.Catalog().Revoke(context.Background(), w.orgID, id, r, alias.MaxRevocations); err != nil {
		t.Fatal(err)
	}
}

func (w *playbackWorld) jwt(t *testing.T, id string, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"alias": id, "iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(playbackSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPlaybackTokenDecisions walks a playback token through the one
// decision: what it opens, what it does not, and what it leaves for the
// upstream.
func TestPlaybackTokenDecisions(t *testing.T) {
	w := newPlaybackWorld(t)
	seg := func(id, token string) string { return "/live/" + id + "/seg1.ts?_HLS_msn=4&lgt=" + token }

	t.Run("opens the alias it was issued for, under its path, and goes no further", func(t *testing.T) {
		token := w.token(t, w.passcode, "/live/"+w.passcode+"/index.m3u8?passcode=open-sesame")
		d, rec, r := w.check(t, w.route, w.passcode, seg(w.passcode, token), "192.0.2.1")
		if d.Reason != gate.ReasonPlaybackToken || d.Grant.Role != alias.RoleViewer {
			t.Fatalf("%v %v, want admitted by the playback token as a viewer", d.Reason, d.Grant.Role)
		}
		if r.URL.RawQuery != "_HLS_msn=4" || strings.Contains(r.RequestURI, "lgt") {
			t.Errorf("the upstream gets the query %q (URI %q), want the token stripped and the rest kept", r.URL.RawQuery, r.RequestURI)
		}
		if c := rec.Header().Get("Set-Cookie"); c != "" {
			t.Errorf("an admission by a playback token set a cookie: %q", c)
		}
		for _, tc := range []struct {
			name, id, target string
			route            *gate.Route
			want             gate.Reason
		}{
			{"another alias", w.full, seg(w.full, token), w.route, gate.ReasonPlaybackTokenInvalid},
			{"another path of the alias", w.passcode, "/dash/" + w.passcode + "/seg1.ts?lgt=" + token, w.route, gate.ReasonPlaybackTokenInvalid},
			{"a publish route", w.passcode, seg(w.passcode, token), &gate.Route{Type: alias.TypeLive, Require: alias.RequirePublish}, gate.ReasonRoleNotAllowed},
			{"a damaged copy", w.passcode, seg(w.passcode, flipChar(token, 20)), w.route, gate.ReasonPlaybackTokenInvalid},
			{"not percent-encoding", w.passcode, "/live/" + w.passcode + "/seg1.ts?lgt=%zz", w.route, gate.ReasonPlaybackTokenInvalid},
		} {
			d, rec, _ := w.check(t, tc.route, tc.id, tc.target, "192.0.2.1")
			if d.Reason != tc.want {
				t.Errorf("%s: %v, want %v", tc.name, d.Reason, tc.want)
			}
			if rec.Code == http.StatusUnauthorized && !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s: 401 without invalid_token: %q", tc.name, rec.Header().Get("WWW-Authenticate"))
			}
		}
	})

	t.Run("a token that opened a playlist is the one its playlist carries", func(t *testing.T) {
		token := w.token(t, w.passcode, "/live/"+w.passcode+"/index.m3u8?passcode=open-sesame")
		if again := w.token(t, w.passcode, "/live/"+w.passcode+"/v0/index.m3u8?lgt="+token); again != token {
			t.Errorf("a variant playlist opened with a token carries another one:\n%s\n%s", token, again)
		}
	})

	t.Run("grants viewing only and ends with the JWT it came from", func(t *testing.T) {
		host := w.jwt(t, w.full, jwt.MapClaims{"host": true, "user_id": "u-host", "exp": time.Now().Add(3 * time.Minute).Unix()})
		token := w.token(t, w.full, "/live/"+w.full+"/index.m3u8?token="+host)
		d, _, _ := w.check(t, w.route, w.full, seg(w.full, token), "192.0.2.1")
		if d.Reason != gate.ReasonPlaybackToken || d.Grant.Role != alias.RoleViewer || d.Grant.User != "u-host" {
			t.Fatalf("%v %v %q, want the host's user admitted as a viewer", d.Reason, d.Grant.Role, d.Grant.User)
		}
		if d.Expiry.After(time.Now().Add(3 * time.Minute)) {
			t.Errorf("the token outlives the JWT it came from: %v", d.Expiry)
		}
		d, _, _ = w.check(t, &gate.Route{Type: alias.TypeLive, Require: alias.RequireHost}, w.full, seg(w.full, token), "192.0.2.1")
		if d.Reason != gate.ReasonRoleNotAllowed {
			t.Errorf("a host's playback token on a host route: %v, want role_not_allowed", d.Reason)
		}
	})

	t.Run("none for a public alias or an owner, none with the setting off", func(t *testing.T) {
		d, _, r := w.check(t, w.route, w.public, "/live/"+w.public+"/index.m3u8", "192.0.2.1")
		if _, ok := w.gate.PlaybackToken(&d, w.route, gate.PlaybackScope(r.URL.Path, w.public)); ok || d.Reason != gate.ReasonPublic {
			t.Errorf("a public alias (%v) got a playback token", d.Reason)
		}
		owner := gate.Decision{Reason: gate.ReasonCredential, Alias: d.Alias, Grant: alias.Grant{Role: alias.RoleOwner}, Expiry: d.Expiry}
		if _, ok := w.gate.PlaybackToken(&owner, w.route, "/live/"+w.public); ok {
			t.Error("an owner got a playback token")
		}
		d, _, _ = w.check(t, w.route, w.passcode, "/live/"+w.passcode+"/index.m3u8?passcode=open-sesame", "192.0.2.1")
		for name, route := range map[string]*gate.Route{
			"playback tokens off": {Type: alias.TypeLive, SessionLifetime: time.Hour},
			"sessions off":        {Type: alias.TypeLive, PlaybackTokens: true},
		} {
			if _, ok := w.gate.PlaybackToken(&d, route, "/live/"+w.passcode); ok {
				t.Errorf("%s: a playback token was issued", name)
			}
		}
	})

	t.Run("refused tokens are not counted, and valid ones pass a throttled client", func(t *testing.T) {
		const client = "192.0.2.50"
		token := w.token(t, w.passcode, "/live/"+w.passcode+"/index.m3u8?passcode=open-sesame")
		for range 10 {
			if d, _, _ := w.check(t, w.route, w.passcode, seg(w.passcode, "bm90LWEtdG9rZW4"), client); d.Reason != gate.ReasonPlaybackTokenInvalid {
				t.Fatalf("a made-up token: %v, want playback_token_invalid (not throttled)", d.Reason)
			}
		}
		if d, _, _ := w.check(t, w.route, w.passcode, "/live/"+w.passcode+"/index.m3u8?passcode=open-sesame", client); d.Reason != gate.ReasonCredential {
			t.Fatalf("the passcode after refused tokens: %v, want admitted", d.Reason)
		}
		for range 3 {
			w.check(t, w.route, w.passcode, "/live/"+w.passcode+"/index.m3u8?passcode=guess", client)
		}
		if d, _, _ := w.check(t, w.route, w.passcode, "/live/"+w.passcode+"/index.m3u8?passcode=open-sesame", client); d.Reason != gate.ReasonThrottled {
			t.Fatalf("after three wrong passcodes: %v, want throttled", d.Reason)
		}
		if d, _, _ := w.check(t, w.route, w.passcode, seg(w.passcode, token), client); d.Reason != gate.ReasonPlaybackToken {
			t.Errorf("a valid token of a throttled client: %v, want admitted", d.Reason)
		}
	})

	t.Run("a refused token leaves the decision to the credential beside it, or to public viewing", func(t *testing.T) {
		if d, _, _ := w.check(t, w.route, w.passcode, seg(w.passcode, "bm90LWEtdG9rZW4")+"&passcode=open-sesame", "192.0.2.2"); d.Reason != gate.ReasonCredential {
			t.Errorf("a made-up token beside the right passcode: %v, want admitted by the passcode", d.Reason)
		}
		if d, _, _ := w.check(t, w.route, w.public, seg(w.public, "bm90LWEtdG9rZW4"), "192.0.2.2"); d.Reason != gate.ReasonPublic {
			t.Errorf("a made-up token on a public alias: %v, want public viewing", d.Reason)
		}
	})

	t.Run("revocations reach tokens", func(t *testing.T) {
		viewer := w.jwt(t, w.full, jwt.MapClaims{"user_id": "u-revoked", "jti": "jti-1"})
		byUser := w.token(t, w.full, "/live/"+w.full+"/index.m3u8?token="+viewer)
		byPasscode := w.token(t, w.full, "/live/"+w.full+"/index.m3u8?passcode=open-sesame")
		w.revoke(t, w.full, alias.Revocation{Kind: alias.RevokeUser, Value: "u-revoked"})
		if d, _, _ := w.check(t, w.route, w.full, seg(w.full, byUser), "192.0.2.3"); d.Reason != gate.ReasonRevoked {
			t.Errorf("the token of a revoked user: %v, want revoked", d.Reason)
		}
		if d, _, _ := w.check(t, w.route, w.full, seg(w.full, byPasscode), "192.0.2.3"); d.Reason != gate.ReasonPlaybackToken {
			t.Errorf("another viewer's token after a user's revocation: %v, want admitted", d.Reason)
		}
		w.revoke(t, w.full, alias.Revocation{Kind: alias.RevokeBefore, Before: time.Now().Add(time.Second)})
		if d, _, _ := w.check(t, w.route, w.full, seg(w.full, byPasscode), "192.0.2.3"); d.Reason != gate.ReasonRevoked {
			t.Errorf("a token issued before a revocation of everything earlier: %v, want revoked", d.Reason)
		}
	})

	t.Run("a new passcode ends the tokens of the old one", func(t *testing.T) {
		token := w.token(t, w.passcode, "/live/"+w.passcode+"/index.m3u8?passcode=open-sesame")
		w.update(t, w.passcode, alias.Patch{Passcode: alias.Field{Set: true, Value: "new-sesame"}})
		d, rec, _ := w.check(t, w.route, w.passcode, seg(w.passcode, token), "192.0.2.4")
		if d.Reason != gate.ReasonCredentialChanged || rec.Code != http.StatusUnauthorized {
			t.Errorf("a token of the old passcode: %v %d, want credential_changed 401", d.Reason, rec.Code)
		}
	})
}

// BenchmarkPlaybackToken is what a segment request pays for its token
// (verify) and a playlist for the one it hands on (issue).
func BenchmarkPlaybackToken(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	a := &alias.Alias{ID: "abcdefghijkl", AuthEpoch: 7, ExpiredAt: now.Add(time.Hour)}
	s := gate.NewSessionSigner([]byte(strings.Repeat("k", 32)))
	const scope = "/live/abcdefghijkl"
	grant := alias.Grant{Role: alias.RoleViewer, User: "user456", IssuedAt: now}
	token, _ := s.IssuePlayback(a, grant, scope, now, now.Add(time.Hour))
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, r := s.VerifyPlayback(a, token, scope, now); r != 0 {
				b.Fatal(r)
			}
		}
	})
	b.Run("issue", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := s.IssuePlayback(a, grant, scope, now, now.Add(time.Hour)); !ok {
				b.Fatal("not issued")
			}
		}
	})
}
