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
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/hooks"
	"github.com/linkgate/linkgate/node"
)

// TestEntryPointsAgree walks every alias kind, credential and requirement
// through the three entry points (the gateway, the API's retrieve endpoint
// and a media server's hook) and checks they reach the same decision. The
// only differences are the ones the API documents: it serves both types,
// and shows owners their expired aliases.
func TestEntryPointsAgree(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
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
	orgToken := func(name string) (string, string) {
		org, err := store.CreateOrg(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		token, hash := alias.NewOrgToken()
		if _, err := store.CreateToken(ctx, org.ID, "test", hash); err != nil {
			t.Fatal(err)
		}
		return org.ID, token
	}
	orgID, owner := orgToken("owner")
	_, foreign := orgToken("foreign")

	now := time.Now()
	kinds := map[string]alias.Alias{
		"full":     {Type: alias.TypeLive, Passcode: "open-sesame", JWTSecret: secret, StreamKey: "sk-agree-full-0123456789"},
		"passcode": {Type: alias.TypeLive, Passcode: "open-sesame"},
		"jwt":      {Type: alias.TypeLive, JWTSecret: secret},
		"public":   {Type: alias.TypeLive, StreamKey: "sk-agree-public-0123456789"},
		"expired":  {Type: alias.TypeLive, Passcode: "open-sesame", JWTSecret: secret, StreamKey: "sk-agree-expired-0123456789", ExpiredAt: now.Add(-time.Minute)},
		"conference": {Type: alias.TypeConference, Passcode: "open-sesame", JWTSecret: secret,
			StreamKey: "sk-agree-conference-0123456789"},
		// Its user u1, whom every JWT here names, is revoked.
		"revoked": {Type: alias.TypeLive, Passcode: "open-sesame", JWTSecret: secret},
		// Its secret was replaced by another, with a grace still running.
		"rotated": {Type: alias.TypeLive, JWTSecret: strings.Repeat("r", 32)},
	}
	ids := map[string]string{"deleted": "deletedalias"}
	for kind, a := range kinds {
		a.ID, a.OrgID = alias.NewID(), orgID
		if a.ExpiredAt.IsZero() {
			a.ExpiredAt = now.Add(time.Hour)
		}
		if _, err := store.CreateAlias(ctx, a); err != nil {
			t.Fatal(err)
		}
		ids[kind] = a.ID
	}
	if _, err := store.Revoke(ctx, orgID, ids["revoked"], alias.Revocation{Kind: alias.RevokeUser, Value: "u1", ExpiresAt: now.Add(time.Hour)}, alias.MaxRevocations); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpdateAlias(ctx, orgID, ids["rotated"], alias.Patch{JWTSecret: alias.Field{Set: true, Value: secret}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpdateAlias(ctx, orgID, ids["rotated"], alias.Patch{JWTSecret: alias.Field{Set: true, Value: strings.Repeat("n", 32)}, JWTSecretGrace: time.Hour}); err != nil {
		t.Fatal(err)
	}
	sign := func(id string, key string, claims jwt.MapClaims) string {
		c := jwt.MapClaims{"alias": id, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "user_id": "u1"}
		for k, v := range claims {
			c[k] = v
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	newGate := func() *gate.Gate {
		return &gate.Gate{Source: n, JWT: gate.NewJWTVerifier(gate.DefaultJWTLeeway, gate.DefaultMaxTokenLifetime, nil), SessionKey: n.SessionKey}
	}
	var apiReason gate.Reason
	api := &aliasapi.API{Store: n.Catalog(), Gate: newGate(), Logger: zap.NewNop(), Decided: func(r gate.Reason) { apiReason = r }}
	var hookReason gate.Reason
	hook := &hooks.Handler{Gate: newGate(), Flavour: hooks.FlavourSRS, Decisions: func(_ hooks.Flavour, r gate.Reason) { hookReason = r }}
	gateway := newGate()

	// A credential as each entry point's clients send it: the gateway's
	// and the API's HTTP request, and an SRS client's query.
	type credential struct {
		name string
		http func(r *http.Request)
		srs  string
	}
	query := func(q string) func(r *http.Request) { return func(r *http.Request) { r.URL.RawQuery = q } }
	header := func(name, value string) func(r *http.Request) {
		return func(r *http.Request) { r.Header.Set(name, value) }
	}
	credentials := func(kind, id string) []credential {
		key := kinds[kind].StreamKey
		if key == "" {
			key = "sk-agree-none-0123456789"
		}
		return []credential{
			{name: "none", http: func(*http.Request) {}},
			{name: "passcode", http: query("passcode=open-sesame"), srs: "passcode=open-sesame"},
			{name: "passcode header", http: header(gate.HeaderPasscode, "open-sesame"), srs: "passcode=open-sesame"},
			{name: "wrong passcode", http: query("passcode=guess"), srs: "passcode=guess"},
			{name: "stream key", http: header("Authorization", "Bearer "+key), srs: "key=" + url.QueryEscape(key)},
			{name: "wrong stream key", http: header("Authorization", "Bearer sk-wrong-0123456789"), srs: "key=sk-wrong-0123456789"},
			{name: "host JWT", http: query("token=" + sign(id, secret, jwt.MapClaims{"host": true})), srs: "token=" + sign(id, secret, jwt.MapClaims{"host": true})},
			{name: "viewer JWT", http: query("jwt=" + sign(id, secret, nil)), srs: "jwt=" + sign(id, secret, nil)},
			{name: "JWT of another secret", http: query("token=" + sign(id, strings.Repeat("x", 32), nil)), srs: "token=" + sign(id, strings.Repeat("x", 32), nil)},
			{name: "JWT of another alias", http: query("token=" + sign("otheralias01", secret, nil)), srs: "token=" + sign("otheralias01", secret, nil)},
			{name: "owner token", http: header("Authorization", owner), srs: "token=" + owner},
			{name: "foreign token", http: header("Authorization", "Bearer "+foreign), srs: "token=" + foreign},
			{name: "malformed", http: query("token=%zz&passcode=open-sesame"), srs: "token=%zz&passcode=open-sesame"},
		}
	}

	combos := 0
	// How often each entry point saw the two new inputs decide.
	seen := map[string]int{}
	for kind, id := range ids {
		for _, c := range credentials(kind, id) {
			for _, need := range []alias.Requirement{alias.RequireViewer, alias.RequirePublish} {
				combos++
				name := kind + "/" + c.name + "/" + need.String()
				r := httptest.NewRequest(http.MethodGet, "/live/"+id+"/index.m3u8", nil)
				c.http(r)
				route := &gate.Route{Type: alias.TypeLive, Require: need}
				g, _ := gateway.Check(httptest.NewRecorder(), r, route, gate.Inbound{AliasID: id, Client: "192.0.2.1"})

				action := "on_play"
				if need == alias.RequirePublish {
					action = "on_publish"
				}
				body := `{"action":"` + action + `","client_id":"c1","ip":"192.0.2.1","stream":"` + id + `","param":"?` + c.srs + `"}`
				hook.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/hooks/srs", strings.NewReader(body)))
				switch {
				case kind == "revoked" && strings.Contains(c.name, "JWT") && g.Reason == gate.ReasonRevoked:
					seen["revoked"]++
				case kind == "rotated" && c.name == "viewer JWT" && g.Admitted():
					seen["in grace"]++
				}
				if hookReason != g.Reason {
					t.Errorf("%s: the gateway decides %s, the hook %s", name, g.Reason, hookReason)
				}
				if need != alias.RequireViewer {
					continue
				}
				r = httptest.NewRequest(http.MethodGet, "/api/v1/alias/"+id, nil)
				c.http(r)
				api.ServeHTTP(httptest.NewRecorder(), r)
				want := g.Reason
				switch {
				case kind == "conference" && g.Reason == gate.ReasonWrongType:
					// The API serves both types: the decision is the one a
					// conference route would make.
					conf := httptest.NewRequest(http.MethodGet, "/conference/"+id+"/", nil)
					c.http(conf)
					d, _ := gateway.Check(httptest.NewRecorder(), conf, &gate.Route{Type: alias.TypeConference}, gate.Inbound{AliasID: id, Client: "192.0.2.1"})
					want = d.Reason
				case kind == "expired" && c.name == "owner token":
					want = gate.ReasonCredential
				}
				if apiReason != want {
					t.Errorf("%s: the gateway decides %s, retrieve %s", name, want, apiReason)
				}
			}
		}
	}
	if combos < 150 {
		t.Errorf("only %d combinations walked", combos)
	}
	if seen["revoked"] == 0 || seen["in grace"] == 0 {
		t.Errorf("the gateway never refused a revoked user or admitted a replaced secret in its grace: %v", seen)
	}
}
