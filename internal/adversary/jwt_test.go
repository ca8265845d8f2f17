package adversary

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const jwtSecret = "0123456789abcdef0123456789abcdef"

// signRaw signs a JWT whose header and claims are given as raw JSON, so
// that a test can send what no JWT library would write.
func signRaw(header, claims, secret string) string {
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// JWT claims are read exactly: what a lenient decoder accepts (claim names
// in any case, the last of duplicate claims, dates as strings) and what
// RFC 7515 says to refuse (a crit header) must not open an alias, and a
// user ID that cannot be a header value must not reach the upstream.
var _ = attack("JWTs are parsed exactly", func(t *testing.T, s *server) {
	id := s.createAlias(t, `"type":"live","jwt_secret":"`+jwtSecret+`"`)
	const hs256 = `{"alg":"HS256","typ":"JWT"}`
	exp := time.Now().Add(time.Hour).Unix()
	good := signRaw(hs256, fmt.Sprintf(`{"alias":%q,"exp":%d,"host":true,"user_id":"u1"}`, id, exp), jwtSecret)
	if r := s.get(t, "/host/"+id+"/room", "Authorization", "Bearer "+good); r.status != http.StatusOK {
		t.Fatalf("a well-formed host token: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		name, header, claims string
		path                 string
		status               int
	}{
		{"HOST in capitals does not make a host", hs256, `{"alias":%q,"exp":%d,"HOST":true}`, "/host/", http.StatusForbidden},
		{"ALIAS in capitals names no alias", hs256, `{"ALIAS":%q,"exp":%d}`, "/live/", http.StatusUnauthorized},
		{"a duplicate claim", hs256, `{"alias":"someotheralias","alias":%q,"exp":%d}`, "/live/", http.StatusUnauthorized},
		{"a duplicate host", hs256, `{"alias":%q,"exp":%d,"host":false,"host":true}`, "/host/", http.StatusUnauthorized},
		{"exp as a string", hs256, `{"alias":%q,"exp":"%d"}`, "/live/", http.StatusUnauthorized},
		{"a crit header", `{"alg":"HS256","crit":["b64"],"b64":false}`, `{"alias":%q,"exp":%d}`, "/live/", http.StatusUnauthorized},
		{"user_id with CR LF", hs256, `{"alias":%q,"exp":%d,"user_id":"u1\r\nX-Linkgate-Role: owner"}`, "/live/", http.StatusUnauthorized},
		{"user_id with NUL", hs256, `{"alias":%q,"exp":%d,"user_id":"u\u0000"}`, "/live/", http.StatusUnauthorized},
		{"alg none", `{"alg":"none"}`, `{"alias":%q,"exp":%d}`, "/live/", http.StatusUnauthorized},
		{"alg HS512", `{"alg":"HS512"}`, `{"alias":%q,"exp":%d}`, "/live/", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := signRaw(tc.header, fmt.Sprintf(tc.claims, id, exp), jwtSecret)
			r := s.get(t, tc.path+id+"/room?token="+token)
			if r.status != tc.status {
				t.Errorf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if r.header.Get("Set-Cookie") != "" {
				t.Errorf("a refused token was given a session cookie: %s", r.header.Get("Set-Cookie"))
			}
		})
	}
})

// Every JWT refusal reads the same to the client, but the log says which
// rule refused it, at info level, with the alias and never the token; a
// passcode form login is not logged as a denial.
var _ = attack("refusals are logged with a precise reason and no secret", func(t *testing.T, s *server) {
	id := s.createAlias(t, `"type":"live","passcode":"open-sesame","jwt_secret":"`+jwtSecret+`"`)
	conf := s.createAlias(t, `"type":"conference","jwt_secret":"`+jwtSecret+`"`)
	now := time.Now()
	claims := func(alias string, iat, exp time.Time) string {
		return fmt.Sprintf(`{"alias":%q,"iat":%d,"exp":%d}`, alias, iat.Unix(), exp.Unix())
	}
	hs256 := `{"alg":"HS256","typ":"JWT"}`
	tokens := map[string]struct{ path, token string }{
		"token_expired":     {"/live/" + id, signRaw(hs256, claims(id, now.Add(-2*time.Hour), now.Add(-time.Hour)), jwtSecret)},
		"bad_signature":     {"/live/" + id, signRaw(hs256, claims(id, now, now.Add(time.Hour)), strings.Repeat("x", 32))},
		"alias_mismatch":    {"/live/" + id, signRaw(hs256, claims(conf, now, now.Add(time.Hour)), jwtSecret)},
		"lifetime_too_long": {"/live/" + id, signRaw(hs256, claims(id, now, now.Add(72*time.Hour)), jwtSecret)},
		"wrong_type":        {"/live/" + conf, signRaw(hs256, claims(conf, now, now.Add(time.Hour)), jwtSecret)},
	}
	for _, tc := range tokens {
		if r := s.get(t, tc.path+"/index.m3u8?token="+tc.token); r.status == http.StatusOK {
			t.Fatalf("%s: admitted", tc.path)
		}
	}
	form := s.send(t, http.MethodPost, "/live/"+id+"/index.m3u8", "linkgate_passcode=open-sesame",
		"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "same-origin")
	if form.status != http.StatusSeeOther {
		t.Fatalf("the passcode form: %d %s", form.status, form.body)
	}
	testPoll(t, "the refusals are in the log", func() bool {
		return strings.Count(s.proc.Log.String(), "alias request denied") >= len(tokens)
	})
	logged := map[string]bool{}
	for line := range strings.Lines(s.proc.Log.String()) {
		var e struct {
			Level, Msg, Alias, Reason string
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		if e.Msg == "alias request denied" && (e.Alias == id || e.Alias == conf) {
			if e.Level != "info" {
				t.Errorf("a refusal logged at %s: %s", e.Level, line)
			}
			logged[e.Reason] = true
		}
	}
	for reason := range tokens {
		if !logged[reason] {
			t.Errorf("no refusal logged with reason %s; logged %v", reason, logged)
		}
	}
	for _, tc := range tokens {
		if strings.Contains(s.proc.Log.String(), tc.token[strings.LastIndexByte(tc.token, '.')+1:]) {
			t.Errorf("a token is in the log")
		}
	}
	if logged["passcode_page_login"] {
		t.Error("a passcode form login was logged as a denial")
	}
	if strings.Contains(s.proc.Log.String(), "open-sesame") {
		t.Error("the passcode is in the log")
	}
})
