package gate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/node"
)

// fuzzWorld is what FuzzGateCheck's requests are about: aliases of each
// kind in a real embedded store, and every credential that truly opens
// one, known to the oracle by value.
type fuzzWorld struct {
	node                 *node.Node
	aliases              []*alias.Alias // full, public, passcode only
	hostJWT, viewerJWT   string         // of the full alias
	cookie               string         // a viewer session of the full alias
	owner, foreign       string         // organization tokens
	jwtSecret, streamKey string
}

func newFuzzWorld(f *testing.F) *fuzzWorld {
	ctx := context.Background()
	n, err := node.New(node.Config{Database: node.Database{DSN: filepath.Join(f.TempDir(), "linkgate.db")}}, node.Events{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	if err := n.Start(ctx, true); err != nil {
		f.Fatal(err)
	}
	store, err := n.Backend()
	if err != nil {
		f.Fatal(err)
	}
	w := &fuzzWorld{node: n, jwtSecret: strings.Repeat("s", 32), streamKey: "sk-0123456789abcdef"}
	org := func() (string, string) {
		o, err := store.CreateOrg(ctx, "fuzz")
		if err != nil {
			f.Fatal(err)
		}
		token, hash := alias.NewOrgToken()
		if _, err := store.CreateToken(ctx, o.ID, "fuzz", hash); err != nil {
			f.Fatal(err)
		}
		return o.ID, token
	}
	var orgID string
	orgID, w.owner = org()
	_, w.foreign = org()
	for _, a := range []alias.Alias{
		{ID: "fuzzfull0001", Passcode: "correct-horse", JWTSecret: w.jwtSecret, StreamKey: w.streamKey},
		{ID: "fuzzpublic01", StreamKey: "sk-public-0123456789"},
		{ID: "fuzzpasscode", Passcode: "battery-staple"},
	} {
		a.OrgID, a.Type, a.ExpiredAt = orgID, alias.TypeLive, time.Now().Add(24*time.Hour)
		if _, err := store.CreateAlias(ctx, a); err != nil {
			f.Fatal(err)
		}
		cached, err := n.Alias(ctx, a.ID)
		if err != nil {
			f.Fatal(err)
		}
		w.aliases = append(w.aliases, cached)
	}
	sign := func(host bool) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"alias": "fuzzfull0001", "host": host, "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(w.jwtSecret))
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	w.hostJWT, w.viewerJWT = sign(true), sign(false)
	w.cookie, _ = gate.NewSessionSigner(n.SessionKey()).Issue(w.aliases[0], alias.Grant{Role: alias.RoleViewer}, time.Now(), time.Now().Add(time.Hour))
	return w
}

// expectation is what the documented rules say a request gets.
type expectation struct {
	status int    // 200 for admitted
	role   string // of an admission
	// failure tells that the request counts against the client.
	failure bool
}

// failureLimit is the fuzzed gate's throttle: after this many failures a
// client with a credential gets 429.
const failureLimit = 3

// expect applies the README's rules to a request, with code of its own:
// none of the gate's parsing is used to judge the gate.
func (w *fuzzWorld) expect(a *alias.Alias, auth, query, cookie, passcodeHeader string, failures int) expectation {
	// 1. The alias's session cookie: the first cookie of its name.
	for part := range strings.SplitSeq(cookie, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && name == "lgs_"+a.ID {
			if a.ID == "fuzzfull0001" && value == w.cookie {
				return expectation{status: 200, role: "viewer"}
			}
			break
		}
	}
	// 2. The first other credential: Authorization, the token parameters,
	// the passcode parameter, the passcode header.
	kind, value := "", ""
	if auth != "" {
		v := auth
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			v = v[7:]
		}
		if v = strings.TrimSpace(v); v != "" {
			kind, value = "bearer", v
		}
	}
	if kind == "" {
		first := map[string]string{}
		for pair := range strings.SplitSeq(query, "&") {
			k, v, _ := strings.Cut(pair, "=")
			if v == "" {
				continue
			}
			if strings.ContainsAny(k, "%+") {
				decoded, err := url.QueryUnescape(k)
				if err != nil {
					continue
				}
				k = decoded
			}
			if _, seen := first[k]; !seen {
				first[k] = v
			}
		}
		for _, name := range []string{"token", "jwt", "access_token", "passcode"} {
			raw, ok := first[name]
			if !ok {
				continue
			}
			v, err := url.QueryUnescape(raw)
			switch {
			case err != nil:
				kind = "malformed"
			case name == "passcode":
				kind, value = "passcode", v
			default:
				kind, value = "bearer", v
			}
			break
		}
	}
	if kind == "" && passcodeHeader != "" {
		kind, value = "passcode", passcodeHeader
	}
	// 3. No credential: public aliases open to viewers.
	if kind == "" {
		if a.Passcode == "" && a.JWTSecret == "" {
			return expectation{status: 200, role: "viewer"}
		}
		return expectation{status: 401}
	}
	// 4. Throttling, per client and alias.
	if failures >= failureLimit {
		return expectation{status: 429}
	}
	// 5. The credential.
	bad := expectation{status: 401, failure: true}
	switch {
	case kind == "malformed":
		return bad
	case kind == "passcode":
		if a.Passcode != "" && value == a.Passcode {
			return expectation{status: 200, role: "viewer"}
		}
		return bad
	case strings.HasPrefix(value, "eyJ") && strings.Count(value, ".") == 2 && strings.Trim(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "":
		switch {
		case a.ID == "fuzzfull0001" && value == w.hostJWT:
			return expectation{status: 200, role: "host"}
		case a.ID == "fuzzfull0001" && value == w.viewerJWT:
			return expectation{status: 200, role: "viewer"}
		}
		return bad
	case strings.HasPrefix(value, "lgo_"):
		switch value {
		case w.owner:
			return expectation{status: 200, role: "owner"}
		case w.foreign:
			return expectation{status: 403}
		}
		return bad
	case a.StreamKey != "" && value == a.StreamKey:
		return expectation{status: 200, role: "publisher"}
	}
	return bad
}

// FuzzGateCheck throws arbitrary requests, each sent up to five times, at
// the gateway's decision and holds it to the documented rules, modelled
// independently above: which credential is read, what it grants, public
// viewing, throttling after three failures, and that nothing the gateway
// reads as a credential reaches the upstream.
func FuzzGateCheck(f *testing.F) {
	w := newFuzzWorld(f)
	for _, seed := range []struct {
		kind                                uint8
		auth, query, cookie, passcodeHeader string
		repeat                              uint8
	}{
		{0, "Bearer " + w.hostJWT, "", "", "", 1},
		{0, "", "passcode=correct-horse&x=1", "", "", 1},
		{0, "", "token=" + w.viewerJWT[:len(w.viewerJWT)-2] + "xx", "", "", 4},
		{0, "Bearer " + w.streamKey, "", "", "", 1},
		{0, "", "", "lgs_fuzzfull0001=" + w.cookie, "", 1},
		{0, "", "", "a=b; lgs_fuzzfull0001=" + w.cookie[:len(w.cookie)-3] + "AAA", "correct-horse", 2},
		{0, "Bearer eyJhbGciOiJub25lIn0.eyJhbGlhcyI6ImZ1enpmdWxsMDAwMSJ9.", "", "", "", 1},
		{0, w.owner, "", "", "", 1},
		{0, "bearer " + w.foreign, "passcode=correct-horse", "", "", 2},
		{0, "lgo_notatoken", "jwt=a.b.c", "", "", 5},
		{0, "", "token=&passcode=correct-horse", "", "", 1},
		{0, "", "token=%zz&passcode=correct-horse", "", "", 4},
		{0, "", "pass%63ode=correct-horse", "", "", 1},
		{0, "", "lgt=bm90LWEtdG9rZW4&x=1", "", "", 5},
		{0, "", "l%67t=x&passcode=correct-horse", "", "", 1},
		{0, "", "passcode=wrong&passcode=correct-horse", "", "wrong", 5},
		{1, "", "", "", "", 1},
		{1, "", "passcode=x", "", "", 5},
		{1, "Bearer sk-public-0123456789", "", "", "", 1},
		{2, "", "access_token=" + w.hostJWT, "", "battery-staple", 2},
		{2, "   ", "", "", "battery-staple", 1},
	} {
		f.Add(seed.kind, seed.auth, seed.query, seed.cookie, seed.passcodeHeader, seed.repeat)
	}
	route := &gate.Route{Type: alias.TypeLive, Require: alias.RequireViewer, SessionLifetime: time.Hour}
	credentialParams := map[string]bool{"token": true, "jwt": true, "access_token": true, "passcode": true, "lgt": true}

	f.Fuzz(func(t *testing.T, kind uint8, auth, query, cookie, passcodeHeader string, repeat uint8) {
		a := w.aliases[int(kind)%len(w.aliases)]
		g := &gate.Gate{
			Source:     w.node,
			JWT:        gate.NewJWTVerifier(gate.DefaultJWTLeeway, gate.DefaultMaxTokenLifetime, nil),
			SessionKey: w.node.SessionKey,
			Limiter:    gate.NewLimiter(failureLimit, time.Minute, 100),
		}
		failures := 0
		for range 1 + int(repeat)%5 {
			r := httptest.NewRequest(http.MethodGet, "/live/"+a.ID+"/index.m3u8", nil)
			r.URL.RawQuery = query
			if auth != "" {
				r.Header["Authorization"] = []string{auth}
			}
			if cookie != "" {
				r.Header["Cookie"] = []string{cookie}
			}
			if passcodeHeader != "" {
				r.Header[gate.HeaderPasscode] = []string{passcodeHeader}
			}
			want := w.expect(a, auth, query, cookie, passcodeHeader, failures)
			rec := httptest.NewRecorder()
			d, pass := g.Check(rec, r, route, gate.Inbound{AliasID: a.ID, Client: "192.0.2.1"})
			status := rec.Code
			if pass {
				status = 200
			}
			if status != want.status || pass && d.Grant.Role.String() != want.role {
				t.Fatalf("alias %s, Authorization %q, query %q, cookie %q, passcode header %q after %d failures: got %d %s (%s), want %d %s",
					a.ID, auth, query, cookie, passcodeHeader, failures, status, d.Grant.Role, d.Reason, want.status, want.role)
			}
			if want.failure {
				failures++
			}
			if !pass {
				continue
			}
			if _, ok := r.Header["Authorization"]; ok {
				t.Fatalf("Authorization reached the upstream: %q", auth)
			}
			if _, ok := r.Header[gate.HeaderPasscode]; ok {
				t.Fatalf("X-Alias-Passcode reached the upstream")
			}
			for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
				k, _, _ := strings.Cut(pair, "=")
				if decoded, err := url.QueryUnescape(k); err == nil && credentialParams[decoded] {
					t.Fatalf("the credential parameter %q reached the upstream: %q", k, r.URL.RawQuery)
				}
			}
		}
	})
}
