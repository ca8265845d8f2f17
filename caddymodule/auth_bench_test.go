package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/cache"
)

// benchGateway is alias_auth over a warm cache, without a database: the
// benchmarks measure the handler on a cache hit.
type benchGateway struct {
	h     *AliasAuth
	alias *aliasapi.Alias
	cache *cache.Cache[*aliasapi.Alias]
}

const benchSecret = "0123456789abcdef0123456789abcdef"

func newBenchGateway(b *testing.B) *benchGateway {
	b.Helper()
	a := &aliasapi.Alias{
		ID: "abcdefghijkl", OrgID: "org_bench", Type: aliasapi.TypeLive,
		Passcode: "open-sesame", JWTSecret: benchSecret, StreamKey: "sk-0123456789abcdef",
		ExpiredAt: time.Now().Add(24 * time.Hour), Version: 1,
	}
	a.Prepare()
	c, err := cache.New(cache.Config{}, func(_ context.Context, id string) (*aliasapi.Alias, error) {
		if id == a.ID {
			return a, nil
		}
		return nil, aliasapi.ErrNotFound
	}, cache.Options[*aliasapi.Alias]{NotFound: aliasapi.ErrNotFound, ValidKey: aliasapi.ValidID})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	if _, err := c.Get(context.Background(), a.ID); err != nil {
		b.Fatal(err)
	}
	c.Wait()
	signer := aliasapi.NewSessionSigner([]byte(strings.Repeat("k", 32)))
	h := &AliasAuth{
		ID:     "{http.request.uri.path.1}",
		logger: zap.NewNop(),
		route:  aliasapi.Route{Type: aliasapi.TypeLive, SessionLifetime: DefaultSessionLifetime, PasscodePage: true},
		gate: &aliasapi.Gate{
			Alias:      c.Get,
			OrgByToken: func(context.Context, aliasapi.TokenHash) (string, error) { return "", aliasapi.ErrNotFound },
			JWT:        aliasapi.NewJWTVerifier(aliasapi.DefaultJWTLeeway, aliasapi.DefaultMaxTokenLifetime, nil),
			Tokens:     aliasapi.NewTokenCache(aliasapi.DefaultTokenCacheSize),
			Sessions:   func() *aliasapi.SessionSigner { return signer },
			Limiter:    aliasapi.NewLimiter(1<<30, time.Minute, 1000),
		},
	}
	return &benchGateway{h: h, alias: a, cache: c}
}

// request is a request as Caddy hands it to a handler, prepared once:
// the loop measures the handler, not Caddy's request setup.
func (g *benchGateway) request(b *testing.B, target string) *http.Request {
	b.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.10"}))
	caddyhttp.NewTestReplacer(r)
	return r
}

type nopHandler struct{}

func (nopHandler) ServeHTTP(http.ResponseWriter, *http.Request) error { return nil }

// discard is a ResponseWriter that keeps nothing, so the loop measures
// the handler rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func (g *benchGateway) run(b *testing.B, r *http.Request, reset func(*http.Request), wantPass bool) {
	b.Helper()
	w := &discard{h: http.Header{}}
	passed := false
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { passed = true; return nil })
	b.ReportAllocs()
	for b.Loop() {
		reset(r)
		clear(w.h)
		passed = false
		if err := g.h.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
		if passed != wantPass {
			b.Fatalf("passed %v, want %v", passed, wantPass)
		}
	}
}

func BenchmarkAliasAuthPasscode(b *testing.B) {
	g := newBenchGateway(b)
	r := g.request(b, "/live/abcdefghijkl/seg1.ts?passcode=open-sesame")
	raw := r.URL.RawQuery
	g.run(b, r, func(r *http.Request) { r.URL.RawQuery = raw }, true)
}

func BenchmarkAliasAuthSessionCookie(b *testing.B) {
	g := newBenchGateway(b)
	value, _ := aliasapi.NewSessionSigner([]byte(strings.Repeat("k", 32))).Issue(g.alias, aliasapi.Grant{Role: aliasapi.RoleViewer}, time.Now().Add(time.Hour))
	r := g.request(b, "/live/abcdefghijkl/seg1.ts")
	cookie := []string{"lgs_abcdefghijkl=" + value}
	g.run(b, r, func(r *http.Request) { r.Header["Cookie"] = cookie }, true)
}

func benchJWT(b *testing.B) string {
	b.Helper()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"alias": "abcdefghijkl", "user_id": "user456", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(benchSecret))
	if err != nil {
		b.Fatal(err)
	}
	return token
}

func BenchmarkAliasAuthRepeatedJWT(b *testing.B) {
	g := newBenchGateway(b)
	auth := []string{"Bearer " + benchJWT(b)}
	r := g.request(b, "/live/abcdefghijkl/seg1.ts")
	g.run(b, r, func(r *http.Request) { r.Header["Authorization"] = auth }, true)
}

func BenchmarkAliasAuthFirstSeenJWT(b *testing.B) {
	g := newBenchGateway(b)
	g.h.gate.Tokens = nil
	auth := []string{"Bearer " + benchJWT(b)}
	r := g.request(b, "/live/abcdefghijkl/seg1.ts")
	g.run(b, r, func(r *http.Request) { r.Header["Authorization"] = auth }, true)
}

// BenchmarkGolangJWTParse is the yardstick of a first-seen JWT: the parse
// and HS256 check of golang-jwt alone.
func BenchmarkGolangJWTParse(b *testing.B) {
	token := benchJWT(b)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}))
	key := []byte(benchSecret)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parser.Parse(token, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAliasAuthDenial(b *testing.B) {
	g := newBenchGateway(b)
	r := g.request(b, "/live/abcdefghijkl/seg1.ts")
	g.run(b, r, func(*http.Request) {}, false)
}

// BenchmarkAliasAuthPasscodeUnderInvalidations runs the passcode benchmark
// while other aliases are invalidated without pause, as change notices
// from a busy database would: the hit path must not slow down.
func BenchmarkAliasAuthPasscodeUnderInvalidations(b *testing.B) {
	g := newBenchGateway(b)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				g.cache.Invalidate("other" + string(rune('a'+i%26)))
			}
		}
	}()
	defer func() { close(stop); <-done }()
	r := g.request(b, "/live/abcdefghijkl/seg1.ts?passcode=open-sesame")
	raw := r.URL.RawQuery
	g.run(b, r, func(r *http.Request) { r.URL.RawQuery = raw }, true)
}

// BenchmarkCaddyPlaceholder is what Caddy itself spends to read the alias
// ID from {http.request.uri.path.1}: the allocations of the handler
// benchmarks above it are Caddy's own.
func BenchmarkCaddyPlaceholder(b *testing.B) {
	g := newBenchGateway(b)
	r := g.request(b, "/live/abcdefghijkl/seg1.ts")
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	b.ReportAllocs()
	for b.Loop() {
		if repl.ReplaceAll("{http.request.uri.path.1}", "") != "abcdefghijkl" {
			b.Fatal("wrong ID")
		}
	}
}
