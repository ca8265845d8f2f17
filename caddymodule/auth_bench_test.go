package caddymodule

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/node"
)

// benchGateway is alias_auth over a node whose cache is warm: the
// benchmarks measure the handler on a cache hit.
type benchGateway struct {
	h     *AliasAuth
	alias *alias.Alias
	node  *node.Node
}

const benchSecret = "0123456789abcdef0123456789abcdef"

func newBenchGateway(b *testing.B) *benchGateway {
	b.Helper()
	n, err := node.New(node.Config{Database: node.Database{DSN: filepath.Join(b.TempDir(), "linkgate.db")}}, node.Events{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	ctx := context.Background()
	if err := n.Start(ctx, true); err != nil {
		b.Fatal(err)
	}
	store, err := n.Backend()
	if err != nil {
		b.Fatal(err)
	}
	org, err := store.CreateOrg(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.CreateAlias(ctx, alias.Alias{
		ID: "abcdefghijkl", OrgID: org.ID, Type: alias.TypeLive,
		Passcode: "open-sesame", JWTSecret: benchSecret, StreamKey: "sk-0123456789abcdef",
		ExpiredAt: time.Now().Add(24 * time.Hour),
	}); err != nil {
		b.Fatal(err)
	}
	a, err := n.Alias(ctx, "abcdefghijkl")
	if err != nil {
		b.Fatal(err)
	}
	n.Wait()
	h := &AliasAuth{
		ID:     defaultIDPlaceholder,
		logger: zap.NewNop(),
		route:  gate.Route{Type: alias.TypeLive, SessionLifetime: DefaultSessionLifetime, PasscodePage: true},
		gate: &gate.Gate{
			Source:     n,
			JWT:        gate.NewJWTVerifier(gate.DefaultJWTLeeway, gate.DefaultMaxTokenLifetime, nil),
			Tokens:     gate.NewTokenCache(gate.DefaultTokenCacheSize),
			SessionKey: n.SessionKey,
			Limiter:    gate.NewLimiter(1<<30, time.Minute, 1000),
		},
	}
	return &benchGateway{h: h, alias: a, node: n}
}

// request is a request as Caddy hands it to a handler, prepared once:
// the loop measures the handler, not Caddy's request setup.
func (g *benchGateway) request(b *testing.B, target string) *http.Request {
	b.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	// Caddy wraps every request's body, even an empty one, when it logs
	// requests or applies read timeouts.
	r.Body = io.NopCloser(r.Body)
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.10"}))
	caddyhttp.NewTestReplacer(r)
	return r
}

// withReplacer is r with a replacer of its own, as Caddy makes one for
// every request: what the handler puts in it is paid for on every request,
// and must not be measured in a replacer that earlier iterations filled.
// BenchmarkCaddyRequestReplacer is the cost of this alone.
func withReplacer(r *http.Request) *http.Request {
	rr := *r
	caddyhttp.NewTestReplacer(&rr)
	return &rr
}

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
		if err := g.h.ServeHTTP(w, withReplacer(r), next); err != nil {
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
	value, _ := gate.NewSessionSigner(g.node.SessionKey()).Issue(g.alias, alias.Grant{Role: alias.RoleViewer}, time.Now(), time.Now().Add(time.Hour))
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
				g.node.InvalidateAlias("other" + string(rune('a'+i%26)))
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

// BenchmarkCaddyRequestReplacer is the request replacer Caddy makes for
// every request, which the handler benchmarks include: what they take
// beyond this is the handler's.
func BenchmarkCaddyRequestReplacer(b *testing.B) {
	g := newBenchGateway(b)
	r := g.request(b, "/live/abcdefghijkl/seg1.ts")
	b.ReportAllocs()
	for b.Loop() {
		withReplacer(r)
	}
}

// BenchmarkIdentityPlaceholders is an admission's identity placeholders in
// a request's replacer, then what reverse_proxy sets in it when it hands
// on the response (sixteen placeholders and one per response header, here
// three and ten): "answered" as alias_auth gives them, "set" as six values
// set into the replacer, "none" reverse_proxy's alone.
func BenchmarkIdentityPlaceholders(b *testing.B) {
	g := newBenchGateway(b)
	r := g.request(b, "/live/abcdefghijkl/seg1.ts")
	d := gate.Decision{Reason: gate.ReasonSession, Alias: g.alias, Grant: alias.Grant{Role: alias.RoleViewer}}
	id := gate.IdentityOf(&d)
	for _, headers := range []int{3, 10} {
		proxied := reverseProxyPlaceholders(headers)
		for _, way := range []string{"answered", "set", "none"} {
			b.Run(fmt.Sprintf("%s/headers=%d", way, headers), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					repl := withReplacer(r).Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
					switch way {
					case "answered":
						setIdentityPlaceholders(repl, &d, &id)
					case "set":
						setEachIdentityPlaceholder(repl, &d, &id)
					}
					for _, key := range proxied {
						repl.Set(key, 1)
					}
				}
			})
		}
	}
}

// reverseProxyPlaceholders are the placeholders reverse_proxy sets for a
// response with the given number of headers.
func reverseProxyPlaceholders(headers int) []string {
	keys := []string{"http.reverse_proxy.upstream.address", "http.reverse_proxy.upstream.hostport",
		"http.reverse_proxy.upstream.host", "http.reverse_proxy.upstream.port",
		"http.reverse_proxy.upstream.requests", "http.reverse_proxy.upstream.max_requests",
		"http.reverse_proxy.upstream.fails", "http.reverse_proxy.upstream.latency",
		"http.reverse_proxy.upstream.latency_ms", "http.reverse_proxy.status_code",
		"http.reverse_proxy.status_text", "http.reverse_proxy.upstream.duration",
		"http.reverse_proxy.upstream.duration_ms", "http.reverse_proxy.duration",
		"http.reverse_proxy.duration_ms", "http.reverse_proxy.retries"}
	for i := range headers {
		keys = append(keys, fmt.Sprintf("http.reverse_proxy.header.X-Header-%d", i))
	}
	return keys
}
