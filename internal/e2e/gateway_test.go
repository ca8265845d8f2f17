package e2e

import (
	"net/http"
	"net/url"
	pathpkg "path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// gateCase is one request to a fresh alias and the gateway's expected
// answer: the upstream's 200 seen with role and user, or a denial with
// status, code and (for 401) challenge. Each case has its own alias, so
// failures of one case never count towards the throttling of another.
type gateCase struct {
	name  string
	alias spec
	req   func(t *testing.T, g *gateway, a *madeAlias) request

	status     int
	role, user string // on 200
	code       string // on a denial
	challenge  string // on 401
}

func runGateCases(t *testing.T, g *gateway, cases []gateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := g.createAlias(t, tc.alias)
			r := g.do(t, tc.req(t, g, a))
			if tc.status == http.StatusOK {
				wantPassed(t, r, a, tc.role, tc.user)
				return
			}
			wantDenied(t, r, tc.status, tc.code, tc.challenge)
		})
	}
}

// TestLookup covers decision 1: an alias that is unknown, expired, of the
// route's other type, or whose ID cannot exist is 404, whatever the
// credential, and the upstream never hears of it.
func TestLookup(t *testing.T) {
	g := newGateway(t, "")
	runGateCases(t, g, []gateCase{
		{
			name: "unknown alias", alias: specFull,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/live/"+alias.NewID()+"/index.m3u8", "Authorization", "Bearer "+g.token)
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "unknown alias without credential", alias: specPublic,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/live/" + alias.NewID() + "/index.m3u8")
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "expired alias with its passcode", alias: specFull,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				g.expire(t, a)
				return get("/live/" + a.ID + "/index.m3u8?passcode=" + q(a.Passcode))
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "expired alias with the owner's token", alias: specFull,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				g.expire(t, a)
				return get("/live/"+a.ID+"/index.m3u8", "Authorization", "Bearer "+g.token)
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "expired public alias", alias: specPublic,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				g.expire(t, a)
				return get("/live/" + a.ID + "/index.m3u8")
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "conference alias on a live route", alias: specConference,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/live/" + a.ID + "/index.m3u8?passcode=" + q(a.Passcode))
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "conference alias on a publish route, owner token", alias: specConference,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/whip/"+a.ID, "Authorization", "Bearer "+g.token)
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "live alias on a conference route", alias: specFull,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/conference/"+a.ID+"/rtc", "Authorization", "Bearer "+a.viewerJWT(t, "u"))
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "live alias on a host route", alias: specFull,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/host/"+a.ID+"/rtc", "Authorization", "Bearer "+a.hostJWT(t, "u"))
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "ID with a dot", alias: specPublic,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/live/" + a.ID + ".x/index.m3u8")
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "ID of 65 characters", alias: specPublic,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/live/" + strings.Repeat("a", 65) + "/index.m3u8")
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "empty ID", alias: specPublic,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/live/")
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "ID placeholder empty: no room parameter", alias: specPublic,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/byquery/index.m3u8?rooms=" + a.ID)
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
		{
			name: "ID placeholder invalid", alias: specPublic,
			req: func(t *testing.T, g *gateway, a *madeAlias) request {
				return get("/byquery/index.m3u8?room=" + a.ID + "%20")
			},
			status: http.StatusNotFound, code: codeNotFound,
		},
	})
}

// TestCredentials covers decisions 2 to 4 and 8 one credential at a time:
// every place a credential is read, every kind, each role against each
// requirement, and the 401 (with or without invalid_token) and 403 answers.
func TestCredentials(t *testing.T) {
	g := newGateway(t, "")
	bearer := func(v string) []string { return []string{"Authorization", "Bearer " + v} }
	seg := func(a *madeAlias) string { return "/live/" + a.ID + "/index.m3u8" }

	t.Run("public", func(t *testing.T) {
		runGateCases(t, g, []gateCase{
			{
				name: "viewer without credential", alias: specPublic,
				req:    func(t *testing.T, g *gateway, a *madeAlias) request { return get(seg(a)) },
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "publish without credential", alias: specPublic,
				req:    func(t *testing.T, g *gateway, a *madeAlias) request { return get("/whip/" + a.ID) },
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeNone,
			},
			{
				name: "host route without credential", alias: spec{conference: true},
				req:    func(t *testing.T, g *gateway, a *madeAlias) request { return get("/host/" + a.ID + "/rtc") },
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeNone,
			},
			{
				name: "conference viewer without credential", alias: spec{conference: true},
				req:    func(t *testing.T, g *gateway, a *madeAlias) request { return get("/conference/" + a.ID + "/rtc") },
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "publish with the owner's token", alias: specPublic,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, bearer(g.token)...)
				},
				status: http.StatusOK, role: "owner",
			},
			{
				name: "JWT on an alias without jwt_secret", alias: specPublic,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, "some-secret-of-thirty-two-bytes-or-more", a.claims(nil)))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
		})
	})

	t.Run("passcode", func(t *testing.T) {
		runGateCases(t, g, []gateCase{
			{
				name: "query", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a) + "?passcode=" + q(a.Passcode))
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "header", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), "X-Alias-Passcode", a.Passcode)
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "query with URL-special characters", alias: specPasscode,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					a.Passcode = "p&ss w+rd=%1"
					g.updateAlias(t, a, map[string]any{"passcode": a.Passcode})
					return get(seg(a) + "?x=1&passcode=" + q(a.Passcode))
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "wrong in query", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a) + "?passcode=" + q(a.Passcode+"x"))
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "wrong in header", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), "X-Alias-Passcode", "nope")
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				// An empty parameter is no credential: clients send
				// "?passcode=" for "none".
				name: "empty in query", alias: specPasscode,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a) + "?passcode=")
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeNone,
			},
			{
				name: "empty token before the passcode", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a) + "?token=&passcode=" + q(a.Passcode))
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				// Not valid percent-encoding: a wrong credential, not a
				// missing one, and the passcode after it is not consulted.
				name: "malformed token before the passcode", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a) + "?token=%zz&passcode=" + q(a.Passcode))
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				// Parameter names are read as every upstream reads them:
				// percent-decoded.
				name: "percent-encoded parameter name", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a) + "?pass%63ode=" + q(a.Passcode))
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "no credential", alias: specPasscode,
				req:    func(t *testing.T, g *gateway, a *madeAlias) request { return get(seg(a)) },
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeNone,
			},
			{
				name: "the passcode of another alias", alias: specPasscode,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					other := g.createAlias(t, specPasscode)
					return get(seg(a) + "?passcode=" + q(other.Passcode))
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
		})
	})

	t.Run("JWT", func(t *testing.T) {
		runGateCases(t, g, []gateCase{
			{
				name: "bearer", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(a.viewerJWT(t, "u-bearer"))...)
				},
				status: http.StatusOK, role: "viewer", user: "u-bearer",
			},
			{
				name: "lower-case bearer scheme", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), "Authorization", "bearer "+a.viewerJWT(t, "u-lower"))
				},
				status: http.StatusOK, role: "viewer", user: "u-lower",
			},
			{
				name: "token query", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a) + "?token=" + a.viewerJWT(t, "u-token"))
				},
				status: http.StatusOK, role: "viewer", user: "u-token",
			},
			{
				name: "jwt query", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a) + "?jwt=" + a.viewerJWT(t, "u-jwt"))
				},
				status: http.StatusOK, role: "viewer", user: "u-jwt",
			},
			{
				name: "access_token query", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a) + "?access_token=" + a.viewerJWT(t, "u-at"))
				},
				status: http.StatusOK, role: "viewer", user: "u-at",
			},
			{
				name: "without user_id", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(nil)))...)
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "host on a viewer route", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(a.hostJWT(t, "h"))...)
				},
				status: http.StatusOK, role: "host", user: "h",
			},
			{
				name: "host:false is a viewer", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"host": false})))...)
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "host on /host", alias: specConference,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/host/"+a.ID+"/rtc", bearer(a.hostJWT(t, "the-host"))...)
				},
				status: http.StatusOK, role: "host", user: "the-host",
			},
			{
				name: "viewer on /host", alias: specConference,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/host/"+a.ID+"/rtc", bearer(a.viewerJWT(t, "v"))...)
				},
				status: http.StatusForbidden, code: codeForbidden,
			},
			{
				name: "viewer on /whip", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, bearer(a.viewerJWT(t, "v"))...)
				},
				status: http.StatusForbidden, code: codeForbidden,
			},
			{
				name: "host on /whip", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, bearer(a.hostJWT(t, "h"))...)
				},
				status: http.StatusOK, role: "host", user: "h",
			},
			{
				name: "HS384", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					s, err := jwt.NewWithClaims(jwt.SigningMethodHS384, a.claims(nil)).SignedString([]byte(a.JWTSecret))
					if err != nil {
						t.Fatal(err)
					}
					return get(seg(a), bearer(s)...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "alg none", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					s, err := jwt.NewWithClaims(jwt.SigningMethodNone, a.claims(jwt.MapClaims{"host": true})).SignedString(jwt.UnsafeAllowNoneSignatureType)
					if err != nil {
						t.Fatal(err)
					}
					return get(seg(a), bearer(s)...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "signed with the secret of the alias it names, not the URL's", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					other := g.createAlias(t, specFull)
					return get(seg(a), bearer(other.hostJWT(t, "h"))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "alias claim names another alias", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"alias": alias.NewID()})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "no alias claim", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"alias": nil})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "wrong secret", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret+"x", a.claims(nil)))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "expired beyond the leeway", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					now := time.Now()
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-2 * time.Minute).Unix()})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "expired within the leeway", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					now := time.Now()
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-5 * time.Second).Unix()})))...)
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "not valid before ten minutes from now", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"nbf": time.Now().Add(10 * time.Minute).Unix()})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "issued ten minutes in the future", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"iat": time.Now().Add(10 * time.Minute).Unix()})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "no expiry", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"exp": nil})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "relative expires_in with iat", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"exp": nil, "expires_in": 3600})))...)
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "relative expires_in without iat", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"exp": nil, "iat": nil, "expires_in": 3600})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "relative expires_in passed", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"iat": time.Now().Add(-time.Hour).Unix(), "expires_in": 600})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "absolute expires_in", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"exp": nil, "iat": nil, "expires_in": time.Now().Add(time.Hour).Unix()})))...)
				},
				status: http.StatusOK, role: "viewer",
			},
			{
				name: "absolute expires_in passed, exp in the future", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"expires_in": time.Now().Add(-time.Hour).Unix()})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "lives longer than the maximum", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"exp": time.Now().Add(48 * time.Hour).Unix()})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "host is a string", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"host": "true"})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "user_id is a number", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"user_id": 42})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "over 4 KiB", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, a.JWTSecret, a.claims(jwt.MapClaims{"pad": strings.Repeat("x", 4096)})))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "on an alias without jwt_secret", alias: specPasscode,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(sign(t, "a-secret-of-at-least-thirty-two-bytes!!", a.claims(nil)))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "Authorization wins over a valid passcode", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a)+"?passcode="+q(a.Passcode), bearer(sign(t, a.JWTSecret+"x", a.claims(nil)))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
		})
	})

	t.Run("stream key", func(t *testing.T) {
		runGateCases(t, g, []gateCase{
			{
				name: "bearer on /whip", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, bearer(a.StreamKey)...)
				},
				status: http.StatusOK, role: "publisher",
			},
			{
				name: "POST on /whip", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return request{method: http.MethodPost, path: "/whip/" + a.ID, body: "v=0\r\n",
						header: append(bearer(a.StreamKey), "Content-Type", "application/sdp")}
				},
				status: http.StatusOK, role: "publisher",
			},
			{
				name: "wrong key on /whip", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, bearer(a.StreamKey+"x")...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "another alias's key on /whip", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, bearer(g.createAlias(t, specFull).StreamKey)...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "passcode on /whip", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/" + a.ID + "?passcode=" + q(a.Passcode))
				},
				status: http.StatusForbidden, code: codeForbidden,
			},
			{
				name: "no credential on /whip", alias: specFull,
				req:    func(t *testing.T, g *gateway, a *madeAlias) request { return get("/whip/" + a.ID) },
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeNone,
			},
			{
				name: "publisher may view", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(a.StreamKey)...)
				},
				status: http.StatusOK, role: "publisher",
			},
			{
				name: "on an alias without stream key", alias: specPasscode,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, bearer("sk-0123456789abcdef0123")...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
		})
	})

	t.Run("organization token", func(t *testing.T) {
		runGateCases(t, g, []gateCase{
			{
				name: "owner without Bearer scheme", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, "Authorization", g.token)
				},
				status: http.StatusOK, role: "owner",
			},
			{
				name: "another organization's token", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get(seg(a), bearer(g.otherToken)...)
				},
				status: http.StatusForbidden, code: codeForbidden,
			},
			{
				name: "another organization's token on a public alias", alias: specPublic,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					return get("/whip/"+a.ID, bearer(g.otherToken)...)
				},
				status: http.StatusForbidden, code: codeForbidden,
			},
			{
				name: "revoked token", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					token, id := testcaddy.NewToken(t, g.store, g.orgID)
					if _, err := g.store.RevokeToken(t.Context(), id); err != nil {
						t.Fatal(err)
					}
					return get(seg(a), bearer(token)...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "token with a bad checksum", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					bad := []byte(g.token)
					bad[len(bad)-1] ^= 1
					return get(seg(a), bearer(string(bad))...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
			{
				name: "unknown well-formed token", alias: specFull,
				req: func(t *testing.T, g *gateway, a *madeAlias) request {
					token, _ := alias.NewOrgToken()
					return get(seg(a), bearer(token)...)
				},
				status: http.StatusUnauthorized, code: codeUnauthorized, challenge: challengeInvalid,
			},
		})
	})
}

// TestOwnerOnEveryRoute: the owning organization's token opens its aliases
// on every route, whatever the route requires (decision 4).
func TestOwnerOnEveryRoute(t *testing.T) {
	g := newGateway(t, "")
	live := g.createAlias(t, specFull)
	conf := g.createAlias(t, specConference)
	for _, tc := range []struct {
		path string
		a    *madeAlias
	}{
		{"/live/" + live.ID + "/index.m3u8", live},
		{"/whip/" + live.ID, live},
		{"/fwd/" + live.ID + "/index.m3u8", live},
		{"/byquery/index.m3u8?room=" + live.ID, live},
		{"/tight/" + live.ID + "/index.m3u8", live},
		{"/nocookie/" + live.ID + "/index.m3u8", live},
		{"/host/" + conf.ID + "/rtc", conf},
		{"/conference/" + conf.ID + "/rtc", conf},
	} {
		t.Run(tc.path, func(t *testing.T) {
			wantPassed(t, g.do(t, get(tc.path, "Authorization", "Bearer "+g.token)), tc.a, "owner", "")
			wantDenied(t, g.do(t, get(tc.path, "Authorization", "Bearer "+g.otherToken)), http.StatusForbidden, codeForbidden, "")
		})
	}
}

// TestRevokedTokenAfterUse: a token that worked stops working once revoked,
// and so does the owner session it opened: revoking is how an organization
// shuts out a leaked token. The change is made in the database, as "caddy
// linkgate" does, so the gateway may learn of it through LISTEN/NOTIFY; it
// must within seconds.
func TestRevokedTokenAfterUse(t *testing.T) {
	g := newGateway(t, "")
	a := g.createAlias(t, specFull)
	token, id := testcaddy.NewToken(t, g.store, g.orgID)
	path := "/whip/" + a.ID
	first := g.do(t, get(path, "Authorization", "Bearer "+token))
	wantPassed(t, first, a, "owner", "")
	// A cookie minted from the token would outlive its revocation.
	if cookies := first.header.Values("Set-Cookie"); len(cookies) != 0 {
		t.Fatalf("an organization token got a session cookie: %q", cookies)
	}
	if _, err := g.store.RevokeToken(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	testcaddy.PollUntil(t, 5*time.Second, "the revoked token is refused", func() bool {
		return g.do(t, get(path, "Authorization", "Bearer "+token)).status == http.StatusUnauthorized
	})
	wantDenied(t, g.do(t, get(path, "Authorization", "Bearer "+token)), http.StatusUnauthorized, codeUnauthorized, challengeInvalid)
}

// TestIdentity covers decision 5's identity: the upstream learns alias,
// type, role and user from X-Linkgate-* headers, and no client can forge
// any X-Linkgate-* header.
func TestIdentity(t *testing.T) {
	g := newGateway(t, "")
	forged := []string{
		"X-Linkgate-Role", "owner",
		"x-linkgate-user", "mallory",
		"X-Linkgate-Alias", "someone-else",
		"X-Linkgate-Type", "conference",
		"X-Linkgate-Foo", "x",
	}

	t.Run("JWT user on live", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		s := wantPassed(t, g.do(t, get("/live/"+a.ID+"/index.m3u8",
			append(forged, "Authorization", "Bearer "+a.viewerJWT(t, "alice"))...)), a, "viewer", "alice")
		wantOnlyIdentity(t, s)
	})
	t.Run("host on conference", func(t *testing.T) {
		a := g.createAlias(t, specConference)
		s := wantPassed(t, g.do(t, get("/conference/"+a.ID+"/rtc?token="+a.hostJWT(t, "bob"), forged...)), a, "host", "bob")
		wantOnlyIdentity(t, s)
	})
	t.Run("public alias", func(t *testing.T) {
		a := g.createAlias(t, specPublic)
		s := wantPassed(t, g.do(t, get("/live/"+a.ID+"/index.m3u8", forged...)), a, "viewer", "")
		wantOnlyIdentity(t, s)
	})
	t.Run("ID from the query", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		decoy := g.createAlias(t, specPublic)
		// The path names a public alias; the configured placeholder reads
		// the query, so the path must not matter.
		s := wantPassed(t, g.do(t, get("/byquery/"+decoy.ID+"/index.m3u8?room="+a.ID+"&passcode="+q(a.Passcode), forged...)), a, "viewer", "")
		wantOnlyIdentity(t, s)
		wantDenied(t, g.do(t, get("/byquery/"+decoy.ID+"/index.m3u8?room="+a.ID)), http.StatusUnauthorized, codeUnauthorized, challengeNone)
	})
	// An upstream that reads fewer identity headers is sent only those,
	// and still none that a client forged.
	t.Run("identity_headers role user", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		r := g.do(t, get("/fewer/"+a.ID+"/index.m3u8", append(forged, "Authorization", "Bearer "+a.viewerJWT(t, "alice"))...))
		if r.status != http.StatusOK || len(r.upstream) != 1 {
			t.Fatalf("status %d, upstream got it %d times; body: %s", r.status, len(r.upstream), r.body)
		}
		s := r.upstream[0]
		if got, want := headerNames(s.Header, "X-Linkgate-"), []string{"X-Linkgate-Role", "X-Linkgate-User"}; !slices.Equal(got, want) {
			t.Errorf("upstream got X-Linkgate-* headers %v, want %v", got, want)
		}
		if s.Header.Get("X-Linkgate-Role") != "viewer" || s.Header.Get("X-Linkgate-User") != "alice" {
			t.Errorf("upstream got role %q user %q, want viewer alice", s.Header.Get("X-Linkgate-Role"), s.Header.Get("X-Linkgate-User"))
		}
	})
	t.Run("identity_headers none", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		r := g.do(t, get("/quiet/"+a.ID+"/index.m3u8?passcode="+q(a.Passcode), forged...))
		if r.status != http.StatusOK || len(r.upstream) != 1 {
			t.Fatalf("status %d, upstream got it %d times; body: %s", r.status, len(r.upstream), r.body)
		}
		if got := headerNames(r.upstream[0].Header, "X-Linkgate-"); len(got) != 0 {
			t.Errorf("upstream got X-Linkgate-* headers %v, want none", got)
		}
		wantDenied(t, g.do(t, get("/quiet/"+a.ID+"/index.m3u8", forged...)), http.StatusUnauthorized, codeUnauthorized, challengeNone)
	})
}

// wantOnlyIdentity fails the test unless the four identity headers are the
// only X-Linkgate-* headers the upstream got.
func wantOnlyIdentity(t *testing.T, s seen) {
	t.Helper()
	want := []string{"X-Linkgate-Alias", "X-Linkgate-Role", "X-Linkgate-Type", "X-Linkgate-User"}
	if got := headerNames(s.Header, "X-Linkgate-"); !slices.Equal(got, want) {
		t.Errorf("upstream got X-Linkgate-* headers %v, want %v", got, want)
	}
}

// TestPathConfusion: the alias the gateway checks must be the alias the
// upstream serves. A path with dot segments, plain or percent-encoded,
// must not let a credential for (or the public access of) one alias reach
// another alias's media once the upstream resolves the path, as media
// servers and file servers do.
func TestPathConfusion(t *testing.T) {
	g := newGateway(t, "")
	open := g.createAlias(t, specPublic)
	secret := g.createAlias(t, specPasscode)
	for _, path := range []string{
		"/live/" + open.ID + "/../" + secret.ID + "/index.m3u8",
		"/live/" + open.ID + "/..%2F" + secret.ID + "/index.m3u8",
		"/live/" + open.ID + "%2F..%2F" + secret.ID + "/index.m3u8",
		"/live/" + open.ID + "/%2e%2e/" + secret.ID + "/index.m3u8",
		"/live/" + open.ID + "/./../" + secret.ID + "/index.m3u8",
	} {
		t.Run(path, func(t *testing.T) {
			r := g.do(t, get(path))
			if len(r.upstream) == 0 {
				if r.status < 400 || r.status >= 500 {
					t.Errorf("status %d with nothing sent upstream, want a 4xx", r.status)
				}
				return
			}
			s := r.upstream[0]
			u, err := url.ParseRequestURI(s.URI)
			if err != nil {
				t.Fatal(err)
			}
			resolved := pathpkg.Clean(u.Path)
			checked := s.Header.Get("X-Linkgate-Alias")
			if parts := strings.Split(resolved, "/"); len(parts) < 3 || parts[2] != checked {
				t.Errorf("the gateway checked alias %s but handed the upstream %q, which resolves to %q (madeAlias %s is passcode-protected)",
					checked, s.URI, resolved, secret.ID)
			}
		})
	}
}

// TestStripping covers decision 5's stripping: by default the upstream gets
// no credential (header, query parameter or session cookie) and everything
// else as the client sent it; with forward_credentials it gets all of it.
func TestStripping(t *testing.T) {
	g := newGateway(t, "")

	// A request loaded with every credential at once; the Authorization
	// JWT is the one that opens the alias.
	loaded := func(t *testing.T, route string, a *madeAlias) request {
		query := "a=1&token=" + a.viewerJWT(t, "q") + "&b=x%20y&passcode=" + q(a.Passcode) +
			"&jwt=j&c=&access_token=at&d=4&d=5"
		return get("/"+route+"/"+a.ID+"/index.m3u8?"+query,
			"Authorization", "Bearer "+a.viewerJWT(t, "dave"),
			"X-Alias-Passcode", a.Passcode,
			"Cookie", "theme=dark; "+gate.SessionCookiePrefix+a.ID+"=stale; other=1",
			"Cookie", gate.SessionCookiePrefix+"unrelated=z",
			"X-Other", "kept",
		)
	}

	t.Run("default", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		rq := loaded(t, "live", a)
		s := wantPassed(t, g.do(t, rq), a, "viewer", "dave")
		if want := "a=1&b=x%20y&c=&d=4&d=5"; s.Query != want {
			t.Errorf("upstream got query %q, want %q (credentials gone, the rest as sent, in order)", s.Query, want)
		}
		if want := "/live/" + a.ID + "/index.m3u8?a=1&b=x%20y&c=&d=4&d=5"; s.URI != want {
			t.Errorf("upstream got %q, want %q", s.URI, want)
		}
		for _, name := range []string{"Authorization", "X-Alias-Passcode"} {
			if v, ok := s.Header[name]; ok {
				t.Errorf("upstream got %s %q", name, v)
			}
		}
		if got, want := cookieNames(s.Header), []string{"lgs_unrelated", "other", "theme"}; !slices.Equal(got, want) {
			t.Errorf("upstream got cookies %v, want %v", got, want)
		}
		if v := s.Header.Get("X-Other"); v != "kept" {
			t.Errorf("upstream got X-Other %q, want kept", v)
		}
	})

	t.Run("only the credential in the query", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		s := wantPassed(t, g.do(t, get("/live/"+a.ID+"/index.m3u8?token="+a.viewerJWT(t, "e"))), a, "viewer", "e")
		if s.URI != "/live/"+a.ID+"/index.m3u8" {
			t.Errorf("upstream got %q, want the path without a query", s.URI)
		}
	})

	t.Run("only the session cookie", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		r := g.do(t, get("/live/"+a.ID+"/index.m3u8?passcode="+q(a.Passcode)))
		wantPassed(t, r, a, "viewer", "")
		c := sessionCookie(t, r, a)
		s := wantPassed(t, g.do(t, get("/live/"+a.ID+"/seg1.ts", "Cookie", cookieHeader(c))), a, "viewer", "")
		if v, ok := s.Header["Cookie"]; ok {
			t.Errorf("upstream got Cookie %q, want none", v)
		}
		s = wantPassed(t, g.do(t, get("/live/"+a.ID+"/seg2.ts", "Cookie", "a=1; "+cookieHeader(c)+"; b=2")), a, "viewer", "")
		if got, want := cookieNames(s.Header), []string{"a", "b"}; !slices.Equal(got, want) {
			t.Errorf("upstream got cookies %v, want %v", got, want)
		}
	})

	t.Run("forward_credentials", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		rq := loaded(t, "fwd", a)
		want := rq.path
		s := wantPassed(t, g.do(t, rq), a, "viewer", "dave")
		if s.URI != want {
			t.Errorf("upstream got %q, want %q", s.URI, want)
		}
		if v := s.Header.Get("Authorization"); v != rq.header[1] {
			t.Errorf("upstream got Authorization %q, want %q", v, rq.header[1])
		}
		if v := s.Header.Get("X-Alias-Passcode"); v != a.Passcode {
			t.Errorf("upstream got X-Alias-Passcode %q, want %q", v, a.Passcode)
		}
		if got, want := cookieNames(s.Header), slices.Sorted(slices.Values([]string{"lgs_" + a.ID, "lgs_unrelated", "other", "theme"})); !slices.Equal(got, want) {
			t.Errorf("upstream got cookies %v, want %v", got, want)
		}
	})

	t.Run("forward_credentials with a session cookie", func(t *testing.T) {
		a := g.createAlias(t, specFull)
		r := g.do(t, get("/fwd/"+a.ID+"/index.m3u8?passcode="+q(a.Passcode)))
		wantPassed(t, r, a, "viewer", "")
		c := sessionCookie(t, r, a)
		if c.Path != "/fwd/"+a.ID {
			t.Errorf("cookie path %q, want /fwd/%s", c.Path, a.ID)
		}
		s := wantPassed(t, g.do(t, get("/fwd/"+a.ID+"/seg1.ts", "Cookie", cookieHeader(c))), a, "viewer", "")
		if got := cookieNames(s.Header); !slices.Equal(got, []string{c.Name}) {
			t.Errorf("upstream got cookies %v, want [%s]", got, c.Name)
		}
	})
}

// TestSessionStripsOtherCredentials: a request let in by its session cookie
// may still carry the credential that opened the alias the first time
// (a player reloading a live playlist by the same URL with ?passcode= or
// ?token=, or one that sets Authorization on every request). Decision 5
// strips the credential whatever let the request in.
func TestSessionStripsOtherCredentials(t *testing.T) {
	g := newGateway(t, "")
	a := g.createAlias(t, specFull)
	jwtToken := a.viewerJWT(t, "erin")
	url := "/live/" + a.ID + "/index.m3u8?x=1&token=" + jwtToken + "&passcode=" + q(a.Passcode)
	first := g.do(t, get(url, "Authorization", "Bearer "+jwtToken, "X-Alias-Passcode", a.Passcode))
	wantPassed(t, first, a, "viewer", "erin")
	c := sessionCookie(t, first, a)

	// The reload: same URL, same headers, and now the cookie.
	s := wantPassed(t, g.do(t, get(url, "Authorization", "Bearer "+jwtToken, "X-Alias-Passcode", a.Passcode, "Cookie", cookieHeader(c))), a, "viewer", "erin")
	if s.Query != "x=1" {
		t.Errorf("upstream got query %q, want x=1: the JWT and passcode were handed on", s.Query)
	}
	for _, name := range []string{"Authorization", "X-Alias-Passcode", "Cookie"} {
		if v, ok := s.Header[name]; ok {
			t.Errorf("upstream got %s %q, want none", name, v)
		}
	}
}

// cookieNames lists the names of the cookies in h's Cookie headers, sorted.
func cookieNames(h http.Header) []string {
	r := http.Request{Header: h}
	var names []string
	for _, c := range r.Cookies() {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}
