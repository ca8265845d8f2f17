package adversary

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Stream keys are unique across all organizations, so "stream_key_taken"
// tells an organization that some alias, maybe another organization's,
// publishes with a key: an oracle for keys that publish into other
// organizations' streams. It is throttled per organization.
var _ = attack("stream_key_taken is throttled per organization", func(t *testing.T, s *server) {
	const theirs = "sk-rival-0123456789abcdef"
	s.createAliasOf(t, s.otherToken, `"type":"live","stream_key":"`+theirs+`"`)
	mine := s.createAlias(t, `"type":"live"`)
	update := func(token, id, key string) reply {
		return s.send(t, http.MethodPost, "/organization/api/v1/alias/update/"+id, `{"stream_key":"`+key+`"}`, "Authorization", token)
	}
	for i := range 10 {
		if r := update(s.token, mine, theirs); r.status != http.StatusBadRequest || r.code() != "stream_key_taken" {
			t.Fatalf("probe %d: %d %s, want 400 stream_key_taken", i, r.status, r.body)
		}
	}
	// Past the limit every key is refused, the free ones too: a prober
	// learns nothing more.
	r := update(s.token, mine, "sk-free-0123456789abcdef")
	if retry, err := strconv.Atoi(r.header.Get("Retry-After")); r.status != http.StatusTooManyRequests || r.code() != "too_many_failures" || err != nil || retry < 1 {
		t.Fatalf("after 10 taken keys: %d %s Retry-After %q, want 429 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	r = s.send(t, http.MethodPost, "/organization/api/v1/alias/create", `{"type":"live","stream_key":"sk-free-0123456789abcdef","expired_at":4102444800}`, "Authorization", s.token)
	if r.status != http.StatusTooManyRequests {
		t.Errorf("a create with a key after 10 taken keys: %d %s, want 429", r.status, r.body)
	}
	// Only keys are held back, and only this organization's.
	if r := s.send(t, http.MethodPost, "/organization/api/v1/alias/update/"+mine, `{"name":"renamed"}`, "Authorization", s.token); r.status != http.StatusOK {
		t.Errorf("an update without a key: %d %s", r.status, r.body)
	}
	other := s.createAliasOf(t, s.otherToken, `"type":"live"`)
	if r := update(s.otherToken, other, "sk-other-free-0123456789"); r.status != http.StatusOK {
		t.Errorf("another organization setting a key: %d %s", r.status, r.body)
	}
})

// Keys the gateway could never match are refused when they are set,
// instead of being accepted and then never working.
var _ = attack("stream keys that cannot work are refused", func(t *testing.T, s *server) {
	for name, key := range map[string]string{
		"leading space":         " sk-0123456789abcdef",
		"trailing space":        "sk-0123456789abcdef ",
		"organization prefix":   "lgo_0123456789abcdef",
		"shape of a JWT":        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXkifQ.c2lnbmF0dXJl",
		"trailing tab":          "sk-0123456789abcdef\t",
		"non-breaking space":    "\u00a0sk-0123456789abcdef",
		"shorter than 16":       "sk-short",
		"longer than 256 runes": strings.Repeat("k", 257),
	} {
		body, _ := json.Marshal(map[string]any{"type": "live", "stream_key": key, "expired_at": 4102444800})
		r := s.send(t, http.MethodPost, "/organization/api/v1/alias/create", string(body), "Authorization", s.token)
		var e struct{ Errors struct{ Code, Field string } }
		json.Unmarshal([]byte(r.body), &e)
		if r.status != http.StatusBadRequest || e.Errors.Field != "stream_key" {
			t.Errorf("%s: %d %s, want 400 naming stream_key", name, r.status, r.body)
		}
	}
})

// An organizer may ask for a strong key instead of choosing one; it is
// shown once in the answer, like any field, and it publishes.
var _ = attack("the API generates stream keys that publish", func(t *testing.T, s *server) {
	r := s.send(t, http.MethodPost, "/organization/api/v1/alias/create?generate=stream_key,jwt_secret", `{"type":"live","expired_at":4102444800}`, "Authorization", s.token)
	var v struct {
		Data struct {
			ID        string
			StreamKey *string `json:"stream_key"`
			JWTSecret *string `json:"jwt_secret"`
		}
	}
	if r.status != http.StatusCreated || json.Unmarshal([]byte(r.body), &v) != nil || v.Data.StreamKey == nil || v.Data.JWTSecret == nil {
		t.Fatalf("create with generate: %d %s", r.status, r.body)
	}
	if len(*v.Data.StreamKey) < 40 || len(*v.Data.JWTSecret) < 64 {
		t.Errorf("generated stream key of %d characters and secret of %d, want strong ones", len(*v.Data.StreamKey), len(*v.Data.JWTSecret))
	}
	if r := s.get(t, "/publish/"+v.Data.ID+"/whip", "Authorization", "Bearer "+*v.Data.StreamKey); r.status != http.StatusOK {
		t.Errorf("publishing with the generated key: %d %s", r.status, r.body)
	}
	old := *v.Data.StreamKey
	r = s.send(t, http.MethodPost, "/organization/api/v1/alias/update/"+v.Data.ID+"?generate=stream_key", `{}`, "Authorization", s.token)
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &v) != nil || v.Data.StreamKey == nil || *v.Data.StreamKey == old {
		t.Fatalf("update with generate: %d %s", r.status, r.body)
	}
	if r := s.get(t, "/publish/"+v.Data.ID+"/whip", "Authorization", "Bearer "+old); r.status != http.StatusUnauthorized {
		t.Errorf("publishing with the replaced key: %d, want 401", r.status)
	}
	for _, bad := range []struct{ query, body, code string }{
		{"?generate=passcode", `{}`, "invalid_query"},
		{"?generate=stream_key", `{"stream_key":"sk-mine-0123456789abcdef"}`, "invalid_field"},
	} {
		r := s.send(t, http.MethodPost, "/organization/api/v1/alias/update/"+v.Data.ID+bad.query, bad.body, "Authorization", s.token)
		if r.status != http.StatusBadRequest || r.code() != bad.code {
			t.Errorf("update%s %s: %d %s, want 400 %s", bad.query, bad.body, r.status, r.body, bad.code)
		}
	}
})
