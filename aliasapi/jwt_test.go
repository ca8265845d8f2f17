package aliasapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signEmptyKey signs HS256 with an empty key by hand: libraries refuse to.
func signEmptyKey(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, nil)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestRetrieveWithJWT(t *testing.T) { onBothStores(t, testRetrieveWithJWT) }

func testRetrieveWithJWT(t *testing.T, e *env) {
	const passcode = "open-sesame"
	id := e.create(`"type":"conference","passcode":"` + passcode + `","jwt_secret":"` + secret + `","stream_key":"` + streamKey + `"`)["id"].(string)
	other := e.create(`"type":"conference","jwt_secret":"` + strings.Repeat("z", 32) + `"`)["id"].(string)
	noSecret := e.create(`"type":"conference","passcode":"` + passcode + `"`)["id"].(string)

	now := time.Now()
	claims := func(extra jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{"alias": id, "user_id": "user456", "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	hs256 := func(extra jwt.MapClaims) string {
		return sign(t, jwt.SigningMethodHS256, []byte(secret), claims(extra))
	}

	none := [3]any{nil, nil, nil}
	host := [3]any{passcode, nil, streamKey}
	tests := []struct {
		name   string
		alias  string
		token  string
		status int
		saw    [3]any
	}{
		{"viewer", id, hs256(nil), 200, none},
		{"viewer with host false", id, hs256(jwt.MapClaims{"host": false}), 200, none},
		{"host", id, hs256(jwt.MapClaims{"host": true}), 200, host},
		{"no user_id", id, hs256(jwt.MapClaims{"user_id": nil}), 200, none},
		{"wrong alias claim", id, hs256(jwt.MapClaims{"alias": other}), 401, none},
		{"missing alias claim", id, hs256(jwt.MapClaims{"alias": nil}), 401, none},
		{"wrong key", id, sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("z", 32)), claims(nil)), 401, none},
		{"signed for another alias, presented on it", other, hs256(jwt.MapClaims{"alias": other}), 401, none},
		{"empty key, alias without secret", noSecret, signEmptyKey(t, claims(jwt.MapClaims{"alias": noSecret})), 401, none},
		{"empty key, alias with secret", id, signEmptyKey(t, claims(nil)), 401, none},
		{"alg none", id, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(jwt.MapClaims{"host": true})), 401, none},
		{"HS512", id, sign(t, jwt.SigningMethodHS512, []byte(secret), claims(nil)), 401, none},
		{"expired", id, hs256(jwt.MapClaims{"exp": now.Add(-time.Hour).Unix()}), 401, none},
		{"expired within the leeway", id, hs256(jwt.MapClaims{"exp": now.Add(-10 * time.Second).Unix()}), 200, none},
		{"not yet valid", id, hs256(jwt.MapClaims{"nbf": now.Add(time.Hour).Unix()}), 401, none},
		{"issued in the future", id, hs256(jwt.MapClaims{"iat": now.Add(time.Hour).Unix()}), 401, none},
		{"expires_in relative with iat", id, hs256(jwt.MapClaims{"exp": nil, "iat": now.Unix(), "expires_in": 3600}), 200, none},
		{"expires_in relative, lapsed", id, hs256(jwt.MapClaims{"exp": nil, "iat": now.Add(-2 * time.Hour).Unix(), "expires_in": 3600}), 401, none},
		{"expires_in relative without iat", id, hs256(jwt.MapClaims{"exp": nil, "expires_in": 3600}), 401, none},
		{"expires_in absolute", id, hs256(jwt.MapClaims{"exp": nil, "expires_in": now.Add(time.Hour).Unix()}), 200, none},
		{"expires_in absolute, past", id, hs256(jwt.MapClaims{"exp": nil, "expires_in": now.Add(-time.Hour).Unix()}), 401, none},
		{"expires_in earlier than exp wins", id, hs256(jwt.MapClaims{"iat": now.Add(-time.Hour).Unix(), "expires_in": 60}), 401, none},
		{"expires_in as a string", id, hs256(jwt.MapClaims{"exp": nil, "expires_in": "3600", "iat": now.Unix()}), 401, none},
		{"no expiry at all", id, hs256(jwt.MapClaims{"exp": nil}), 401, none},
		{"lives longer than allowed", id, hs256(jwt.MapClaims{"exp": now.Add(48 * time.Hour).Unix()}), 401, none},
		{"host as a string", id, hs256(jwt.MapClaims{"host": "true"}), 401, none},
		{"user_id as a number", id, hs256(jwt.MapClaims{"user_id": 456}), 401, none},
		{"over 4 KiB", id, hs256(jwt.MapClaims{"pad": strings.Repeat("p", 4096)}), 401, none},
		{"not a JWT at all", id, "eyJhbGciOiJIUzI1NiJ9.e30.x", 401, none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", "/api/v1/alias/"+tt.alias, "Bearer "+tt.token, "")
			if r.status != tt.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tt.status)
			}
			if r.status == 401 && r.header.Get("WWW-Authenticate") != `Bearer realm="linkgate", error="invalid_token"` {
				t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
			if r.status == 200 {
				checkShape(t, r.data())
				if got := secrets(r.data()); got != tt.saw {
					t.Fatalf("saw %v, want %v", got, tt.saw)
				}
			}
		})
	}
}
