package aliasapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzGateCheck throws arbitrary credentials at the gateway's decision and
// checks that it never panics and never admits a request that does not
// carry a real credential of the alias: its passcode, its stream key, a
// JWT signed with its secret, or a session cookie signed with the key.
func FuzzGateCheck(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	a := &Alias{
		ID: "fuzzalias001", OrgID: "org_fuzz", Type: TypeLive,
		Passcode: "correct-horse", JWTSecret: strings.Repeat("s", 32), StreamKey: "sk-0123456789abcdef",
		ExpiredAt: now.Add(time.Hour), Version: 3,
	}
	signer := NewSessionSigner([]byte(strings.Repeat("k", 32)))
	good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"alias": a.ID, "exp": now.Add(time.Minute).Unix(), "host": true}).SignedString([]byte(a.JWTSecret))
	cookie, _ := signer.Issue(a, Grant{Role: RoleViewer}, now.Add(time.Minute))

	f.Add("Bearer "+good, "", "", "")
	f.Add("", "passcode=correct-horse&x=1", "", "")
	f.Add("", "token="+good[:len(good)-2]+"xx", "", "")
	f.Add("Bearer sk-0123456789abcdef", "", "", "")
	f.Add("", "", "lgs_fuzzalias001="+cookie, "")
	f.Add("", "", "lgs_fuzzalias001="+cookie[:len(cookie)-3]+"AAA", "correct-horse")
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJhbGlhcyI6ImZ1enphbGlhczAwMSJ9.", "", "", "")
	f.Add("lgo_notatoken", "jwt=a.b.c", "", "")

	g := &Gate{
		Alias:      func(context.Context, string) (*Alias, error) { return a, nil },
		OrgByToken: func(context.Context, TokenHash) (string, error) { return "", ErrNotFound },
		JWT:        NewJWTVerifier(DefaultJWTLeeway, DefaultMaxTokenLifetime, func() time.Time { return now }),
		Tokens:     NewTokenCache(64),
		Sessions:   func() *SessionSigner { return signer },
		Now:        func() time.Time { return now },
	}
	route := &Route{Type: TypeLive, Require: RequireViewer, SessionLifetime: time.Hour}
	verify := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithLeeway(DefaultJWTLeeway))

	f.Fuzz(func(t *testing.T, auth, query, cookieHeader, passcodeHeader string) {
		r := httptest.NewRequest(http.MethodGet, "/live/fuzzalias001/index.m3u8", nil)
		r.URL.RawQuery = query
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if cookieHeader != "" {
			r.Header.Set("Cookie", cookieHeader)
		}
		if passcodeHeader != "" {
			r.Header.Set(HeaderPasscode, passcodeHeader)
		}
		original := auth + "\x00" + query + "\x00" + passcodeHeader
		cookies := cookieHeader
		d := g.Check(httptest.NewRecorder(), r, route, a.ID, "192.0.2.1")
		if d.Status != 0 {
			return
		}
		candidates := presented(original)
		for _, c := range candidates {
			if strings.Contains(c, a.Passcode) || strings.Contains(c, a.StreamKey) {
				return
			}
		}
		if v, ok := cookieValue(&http.Request{Header: http.Header{"Cookie": {cookies}}}, a.ID); ok {
			if _, ok := signer.Verify(a, v, now); ok {
				return
			}
		}
		for _, candidate := range candidates {
			if _, err := verify.Parse(candidate, func(*jwt.Token) (any, error) { return []byte(a.JWTSecret), nil }); err == nil {
				return
			}
		}
		t.Fatalf("admitted as %s without a real credential: auth %q query %q cookie %q passcode header %q",
			d.Grant.Role, auth, query, cookies, passcodeHeader)
	})
}

// presented lists what a client sent: the raw text, every substring that
// could be a compact JWT, and every percent-decoded query value.
func presented(s string) []string {
	out := []string{s}
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return !(r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	for _, field := range fields {
		if strings.Count(field, ".") == 2 {
			out = append(out, field)
		}
	}
	for pair := range strings.SplitSeq(strings.ReplaceAll(s, "\x00", "&"), "&") {
		if _, v, ok := strings.Cut(pair, "="); ok {
			if v, ok := queryValue("v="+v, "v"); ok {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}

func TestWithoutCredentials(t *testing.T) {
	tests := map[string]string{
		"":                                "",
		"a=1":                             "a=1",
		"passcode=x":                      "",
		"a=1&passcode=x":                  "a=1",
		"passcode=x&a=1":                  "a=1",
		"a=1&token=t&b=x%20y&jwt=j&c=":    "a=1&b=x%20y&c=",
		"token=1&token=2":                 "",
		"a=1&&b=2&access_token=z&d=4&d=5": "a=1&&b=2&d=4&d=5",
		"passcodes=keep&xpasscode=keep":   "passcodes=keep&xpasscode=keep",
		"a=1&passcode=x&&b=2":             "a=1&b=2",
	}
	for in, want := range tests {
		if got := withoutCredentials(in); got != want {
			t.Errorf("withoutCredentials(%q) = %q, want %q", in, got, want)
		}
	}
}
