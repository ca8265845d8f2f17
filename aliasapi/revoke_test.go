package aliasapi_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestRevoke(t *testing.T) { onBothStores(t, testRevoke) }

func testRevoke(t *testing.T, e *env) {
	id := e.create(`"type":"conference","jwt_secret":"` + secret + `"`)["id"].(string)
	other := e.create(`"type":"conference","jwt_secret":"` + secret + `"`)["id"].(string)
	now := time.Now()
	token := func(alias, user, jti string, issued time.Time) string {
		c := jwt.MapClaims{"alias": alias, "user_id": user, "exp": now.Add(time.Hour).Unix(), "iat": issued.Unix()}
		if jti != "" {
			c["jti"] = jti
		}
		return sign(t, jwt.SigningMethodHS256, []byte(secret), c)
	}
	retrieve := func(alias, jwtToken string) response {
		t.Helper()
		return e.do("GET", "/api/v1/alias/"+alias, "Bearer "+jwtToken, "")
	}
	revoke := func(alias, auth, body string) response {
		t.Helper()
		return e.do("POST", "/organization/api/v1/alias/revoke/"+alias, auth, body)
	}
	alice, bob := token(id, "alice", "", now), token(id, "bob", "b-1", now)
	if r := retrieve(id, alice); r.status != 200 {
		t.Fatalf("alice before any revocation: %d %s", r.status, r.raw)
	}

	r := revoke(id, e.token, `{"user_id":"alice"}`)
	if r.status != 200 {
		t.Fatalf("revoking alice: %d %s", r.status, r.raw)
	}
	revs, _ := r.data()["revocations"].([]any)
	if len(revs) != 1 || revs[0].(map[string]any)["user_id"] != "alice" {
		t.Fatalf("revocations after revoking alice: %s", r.raw)
	}
	first := revs[0].(map[string]any)
	if created, expires := first["created_at"].(float64), first["expires_at"].(float64); created < float64(now.Unix()-5) || expires-created < 24*3600 {
		t.Errorf("alice's revocation runs from %v to %v: it must outlive every token issued before it", created, expires)
	}
	if r := retrieve(id, alice); !revoked(r) {
		t.Errorf("alice after her revocation: %d %s", r.status, r.raw)
	}
	if r := retrieve(id, token(id, "alice", "", now.Add(time.Hour))); r.status != 401 {
		t.Errorf("a new token for alice: %d; a user's revocation refuses them until it expires", r.status)
	}
	if r := retrieve(id, bob); r.status != 200 {
		t.Errorf("bob after alice's revocation: %d %s", r.status, r.raw)
	}
	if r := retrieve(other, token(other, "alice", "", now)); r.status != 200 {
		t.Errorf("alice on another alias: %d %s; a revocation is of one alias", r.status, r.raw)
	}

	if r := revoke(id, e.token, `{"jti":"b-1"}`); r.status != 200 {
		t.Fatalf("revoking a jti: %d %s", r.status, r.raw)
	}
	if r := retrieve(id, bob); !revoked(r) {
		t.Errorf("bob's revoked token: %d %s", r.status, r.raw)
	}
	if r := retrieve(id, token(id, "bob", "b-2", now)); r.status != 200 {
		t.Errorf("bob's other token: %d %s", r.status, r.raw)
	}

	carol := token(id, "carol", "", now.Add(-time.Hour))
	if r := revoke(id, e.token, fmt.Sprintf(`{"before":%d}`, now.Add(-time.Minute).Unix())); r.status != 200 {
		t.Fatalf("revoking before a moment: %d %s", r.status, r.raw)
	}
	if r := retrieve(id, carol); !revoked(r) {
		t.Errorf("a token issued before the moment: %d %s", r.status, r.raw)
	}
	if r := retrieve(id, token(id, "carol", "", now)); r.status != 200 {
		t.Errorf("a token issued after the moment: %d %s", r.status, r.raw)
	}

	r = e.do("GET", "/organization/api/v1/alias/revocations/"+id, e.token, "")
	if revs, _ := r.data()["revocations"].([]any); r.status != 200 || len(revs) != 3 {
		t.Fatalf("listing: %d %s", r.status, r.raw)
	}
	kid := base64.RawURLEncoding.EncodeToString(func() []byte { s := sha256.Sum256([]byte(secret)); return s[:9] }())
	if keys, _ := r.data()["jwt_secrets"].([]any); len(keys) != 1 || keys[0].(map[string]any)["kid"] != kid || keys[0].(map[string]any)["current"] != true {
		t.Errorf("jwt_secrets: %s, want the current secret's kid %s", r.raw, kid)
	}
	if strings.Contains(r.raw, secret) {
		t.Errorf("the listing shows the secret: %s", r.raw)
	}

	tests := []struct {
		name, method, path, auth, body, code string
		status                               int
	}{
		{"no token", "POST", "revoke/" + id, "", `{"user_id":"x"}`, "unauthorized", 401},
		{"another organization", "POST", "revoke/" + id, e.other, `{"user_id":"x"}`, "alias_not_found", 404},
		{"unknown alias", "POST", "revoke/zzzzzzzzzzzz", e.token, `{"user_id":"x"}`, "alias_not_found", 404},
		{"two kinds", "POST", "revoke/" + id, e.token, `{"user_id":"x","jti":"y"}`, "invalid_field", 400},
		{"nothing", "POST", "revoke/" + id, e.token, `{}`, "invalid_field", 400},
		{"unknown field", "POST", "revoke/" + id, e.token, `{"user":"x"}`, "unknown_field", 400},
		{"empty user", "POST", "revoke/" + id, e.token, `{"user_id":""}`, "invalid_field", 400},
		{"user not a string", "POST", "revoke/" + id, e.token, `{"user_id":7}`, "invalid_field", 400},
		{"before in the future", "POST", "revoke/" + id, e.token, fmt.Sprintf(`{"before":%d}`, now.Add(time.Hour).Unix()), "invalid_field", 400},
		{"before not an integer", "POST", "revoke/" + id, e.token, `{"before":"yesterday"}`, "invalid_field", 400},
		{"not JSON", "POST", "revoke/" + id, e.token, `user_id=x`, "invalid_json", 400},
		{"listing by GET only", "POST", "revocations/" + id, e.token, `{}`, "method_not_allowed", 405},
		{"listing another organization's", "GET", "revocations/" + id, e.other, ``, "alias_not_found", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, "/organization/api/v1/alias/"+tt.path, tt.auth, tt.body)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
			}
		})
	}
	r = e.do("GET", "/organization/api/v1/alias/revocations/"+id, e.token, "")
	if revs, _ := r.data()["revocations"].([]any); len(revs) != 3 {
		t.Errorf("refused revocations changed what is in force: %s", r.raw)
	}
}

// revoked reports whether r is the refusal of a revoked credential: a 401
// whose code is the API's "unauthorized", with the reason in its detail.
func revoked(r response) bool {
	errs, _ := r.body["errors"].(map[string]any)
	detail, _ := errs["detail"].(string)
	return r.status == 401 && r.code() == "unauthorized" && strings.Contains(detail, "revoked")
}

func TestSecretRotationGrace(t *testing.T) { onBothStores(t, testSecretRotationGrace) }

func testSecretRotationGrace(t *testing.T, e *env) {
	const next = "fedcba9876543210fedcba9876543210"
	id := e.create(`"type":"live","jwt_secret":"` + secret + `"`)["id"].(string)
	now := time.Now()
	old := sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"alias": id, "user_id": "early", "exp": now.Add(time.Hour).Unix()})
	fresh := sign(t, jwt.SigningMethodHS256, []byte(next), jwt.MapClaims{"alias": id, "user_id": "late", "exp": now.Add(time.Hour).Unix()})

	r := e.do("POST", "/organization/api/v1/alias/update/"+id, e.token, `{"jwt_secret":"`+next+`","jwt_secret_grace":600}`)
	if r.status != 200 || r.data()["jwt_secret"] != next {
		t.Fatalf("rotating with a grace: %d %s", r.status, r.raw)
	}
	if _, ok := r.data()["jwt_secret_grace"]; ok {
		t.Errorf("the alias shows the grace as a field of its own: %s", r.raw)
	}
	for name, tok := range map[string]string{"old secret in its grace": old, "new secret": fresh} {
		if r := e.do("GET", "/api/v1/alias/"+id, "Bearer "+tok, ""); r.status != 200 {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	r = e.do("GET", "/organization/api/v1/alias/revocations/"+id, e.token, "")
	keys, _ := r.data()["jwt_secrets"].([]any)
	if len(keys) != 2 {
		t.Fatalf("jwt_secrets in a grace: %s", r.raw)
	}
	if until, _ := keys[1].(map[string]any)["until"].(float64); keys[1].(map[string]any)["current"] != false || until < float64(now.Unix()+590) || until > float64(now.Unix()+610) {
		t.Errorf("the replaced secret: %v, want current false and until in 600s", keys[1])
	}

	// Rotating again without a grace ends the old secret's at once.
	const third = "0011223344556677889900112233445566"
	if r := e.do("POST", "/organization/api/v1/alias/update/"+id, e.token, `{"jwt_secret":"`+third+`"}`); r.status != 200 {
		t.Fatalf("rotating without a grace: %d %s", r.status, r.raw)
	}
	for name, tok := range map[string]string{"first secret": old, "second secret": fresh} {
		if r := e.do("GET", "/api/v1/alias/"+id, "Bearer "+tok, ""); r.status != 401 {
			t.Errorf("%s after a rotation without grace: %d %s", name, r.status, r.raw)
		}
	}

	for _, tt := range []struct{ name, body string }{
		{"grace without a new secret", `{"jwt_secret_grace":60}`},
		{"grace with a new passcode", `{"jwt_secret":"` + next + `","passcode":"x","jwt_secret_grace":60}`},
		{"grace too long", `{"jwt_secret":"` + next + `","jwt_secret_grace":9999999}`},
		{"grace negative", `{"jwt_secret":"` + next + `","jwt_secret_grace":-1}`},
	} {
		if r := e.do("POST", "/organization/api/v1/alias/update/"+id, e.token, tt.body); r.status != 400 || r.code() != "invalid_field" {
			t.Errorf("%s: %d %s", tt.name, r.status, r.raw)
		}
	}
	if r := e.do("POST", "/organization/api/v1/alias/create", e.token, fmt.Sprintf(`{"type":"live","expired_at":%d,"jwt_secret":"%s","jwt_secret_grace":60}`, future(), next)); r.status != 400 {
		t.Errorf("a grace on create: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/organization/api/v1/alias/revocations/"+id, e.token, ""); r.status != http.StatusOK {
		t.Fatalf("listing: %d", r.status)
	}
}
