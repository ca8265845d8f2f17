package hooks

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// OvenMediaEngine's AdmissionWebhooks bodies, byte for byte: %[1]s is the
// stream, %[2]s the client's query with its "?".
const (
	omeIncoming = `{"client":{"address":"192.0.2.40","port":29291,"real_ip":"192.0.2.40","user_agent":""},"request":{"direction":"incoming","protocol":"rtmp","status":"opening","url":"rtmp://192.0.2.1:1935/app/%[1]s%[2]s","time":"2021-05-12T13:45:00.000Z"}}`
	omeOutgoing = `{"client":{"address":"192.0.2.41","port":51123,"real_ip":"192.0.2.41","user_agent":"Mozilla/5.0 (X11; Linux x86_64)"},"request":{"direction":"outgoing","protocol":"llhls","status":"opening","url":"http://192.0.2.1:3333/app/%[1]s/llhls.m3u8%[2]s","time":"2021-05-12T13:45:01.000Z"}}`
	omeClosing  = `{"client":{"address":"192.0.2.40","port":29291,"real_ip":"192.0.2.40","user_agent":""},"request":{"direction":"incoming","protocol":"rtmp","status":"closing","url":"rtmp://192.0.2.1:1935/app/%[1]s%[2]s","new_url":"rtmp://192.0.2.1:1935/app/%[1]s","time":"2021-05-12T14:45:00.000Z"}}`
)

// omeReply is OvenMediaEngine's view of a reply.
type omeReply struct {
	Allowed  *bool  `json:"allowed"`
	Lifetime *int64 `json:"lifetime"`
	Reason   string `json:"reason"`
}

func decodeOME(t *testing.T, r reply, status int) omeReply {
	t.Helper()
	var out omeReply
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	return out
}

// postOME posts b to the OME hook, signed with the operator's secret.
func (s *server) postOME(t *testing.T, b string) reply {
	t.Helper()
	return s.post(t, "/hooks/ome", "application/json", b, "X-OME-Signature", omeSignature(omeSecret, b))
}

func TestOME(t *testing.T) {
	s := newServer(t)
	query := func(template string, q func(t *testing.T, s *server, a *madeAlias) string) func(*testing.T, *server, *madeAlias) string {
		return func(t *testing.T, s *server, a *madeAlias) string { return fill(template, a.ID, q(t, s, a)) }
	}
	key := func(t *testing.T, s *server, a *madeAlias) string { return "?key=" + a.StreamKey }
	passcode := func(t *testing.T, s *server, a *madeAlias) string { return "?passcode=" + a.Passcode }
	literal := func(v string) func(*testing.T, *server, *madeAlias) string {
		return func(*testing.T, *server, *madeAlias) string { return v }
	}
	cases := []struct {
		hookCase
		allowed bool
		// lifetime is the most an admission may last; it must last
		// nearly that long (the test's own run time aside).
		lifetime time.Duration
		reason   string
	}{
		{hookCase{"publish with the key", specFull, nil, query(omeIncoming, key)}, true, time.Hour, ""},
		{hookCase{"publish with a host JWT", specFull, nil, query(omeIncoming, func(t *testing.T, s *server, a *madeAlias) string {
			return "?token=" + s.sign(t, a, 10*time.Minute, jwt.MapClaims{"host": true})
		})}, true, 10 * time.Minute, ""},
		{hookCase{"publish with a host JWT outliving the alias", specFull, nil, query(omeIncoming, func(t *testing.T, s *server, a *madeAlias) string {
			return "?token=" + s.sign(t, a, 3*time.Hour, jwt.MapClaims{"host": true})
		})}, true, time.Hour, ""},
		{hookCase{"publish with a wrong key", specFull, nil, query(omeIncoming, literal("?key=sk-wrong-0123456789"))}, false, 0, "the credential is not valid for this alias"},
		{hookCase{"publish with a viewer JWT", specFull, nil, query(omeIncoming, func(t *testing.T, s *server, a *madeAlias) string {
			return "?token=" + s.sign(t, a, time.Hour, nil)
		})}, false, 0, "the credential does not allow this here"},
		{hookCase{"publish without credential", specFull, nil, query(omeIncoming, literal(""))}, false, 0, "this alias needs a credential"},
		{hookCase{"publish to an expired alias", specFull, expired, query(omeIncoming, key)}, false, 0, "alias not found"},
		{hookCase{"publish to a deleted alias", specFull, deleted, query(omeIncoming, key)}, false, 0, "alias not found"},
		{hookCase{"publish to a conference", specConference, nil, query(omeIncoming, key)}, false, 0, "alias not found"},
		{hookCase{"play with the passcode", specFull, nil, query(omeOutgoing, passcode)}, true, time.Hour, ""},
		{hookCase{"play with a JWT", specFull, nil, query(omeOutgoing, func(t *testing.T, s *server, a *madeAlias) string {
			return "?token=" + s.sign(t, a, 20*time.Minute, nil)
		})}, true, 20 * time.Minute, ""},
		{hookCase{"play a public alias", specPublic, nil, query(omeOutgoing, literal(""))}, true, time.Hour, ""},
		{hookCase{"play with a wrong passcode", specFull, nil, query(omeOutgoing, literal("?passcode=wrong-passcode"))}, false, 0, "the credential is not valid for this alias"},
		{hookCase{"play without credential", specFull, nil, query(omeOutgoing, literal(""))}, false, 0, "this alias needs a credential"},
		{hookCase{"play an expired alias", specFull, expired, query(omeOutgoing, passcode)}, false, 0, "alias not found"},
		{hookCase{"play a deleted alias", specFull, deleted, query(omeOutgoing, passcode)}, false, 0, "alias not found"},
		{hookCase{"play a conference", specConference, nil, query(omeOutgoing, passcode)}, false, 0, "alias not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := s.createAlias(t, tc.spec)
			b := tc.body(t, s, a)
			if tc.prepare != nil {
				tc.prepare(t, s, a)
			}
			start := time.Now()
			got := decodeOME(t, s.postOME(t, b), http.StatusOK)
			if got.Allowed == nil || *got.Allowed != tc.allowed {
				t.Fatalf("allowed %v, want %v (reason %q)", got.Allowed, tc.allowed, got.Reason)
			}
			if !tc.allowed {
				if got.Reason != tc.reason || got.Lifetime != nil {
					t.Errorf("reason %q lifetime %v, want reason %q and no lifetime", got.Reason, got.Lifetime, tc.reason)
				}
				return
			}
			if got.Lifetime == nil {
				t.Fatal("allowed without lifetime")
			}
			lifetime := time.Duration(*got.Lifetime) * time.Millisecond
			// Aliases and tokens count in whole seconds.
			if lifetime > tc.lifetime || lifetime < tc.lifetime-time.Since(start)-2*time.Second {
				t.Errorf("lifetime %v, want at most and about %v", lifetime, tc.lifetime)
			}
			if until := time.Now().Add(lifetime); until.After(a.ExpiredAt.Add(time.Second)) {
				t.Errorf("admitted until %v, past the alias's expiry %v", until, a.ExpiredAt)
			}
		})
	}
	t.Run("closing", func(t *testing.T) {
		a := s.createAlias(t, specFull)
		s.deleteAlias(t, a)
		if r := s.postOME(t, fill(omeClosing, a.ID, "?key="+a.StreamKey)); r.status != http.StatusOK || strings.TrimSpace(r.body) != "{}" {
			t.Errorf("status %d body %q, want 200 {}", r.status, r.body)
		}
	})
	for _, sig := range []struct {
		name string
		of   func(body string) string
	}{
		{"missing", func(string) string { return "" }},
		{"of another secret", func(b string) string { return omeSignature("another-secret", b) }},
		{"of another body", func(b string) string { return omeSignature(omeSecret, b+" ") }},
		{"garbage", func(string) string { return "not base64!" }},
	} {
		t.Run("signature "+sig.name, func(t *testing.T) {
			a := s.createAlias(t, specFull)
			b := fill(omeIncoming, a.ID, "?key="+a.StreamKey)
			got := decodeOME(t, s.post(t, "/hooks/ome", "application/json", b, "X-OME-Signature", sig.of(b)), http.StatusUnauthorized)
			if got.Allowed == nil || *got.Allowed || got.Reason == "" {
				t.Errorf("reply %+v, want allowed false with a reason", got)
			}
		})
	}
}

// TestOMESignatureBeforeLookup proves that an unsigned request is refused
// before any lookup: with the database down, a signed request for an alias
// the gateway never saw fails on the store, an unsigned one is refused at
// once for its signature. It stops the package's PostgreSQL, so it runs
// alone.
func TestOMESignatureBeforeLookup(t *testing.T) {
	s := newServer(t)
	a := s.createAlias(t, specFull)
	b := fill(omeIncoming, a.ID, "?key="+a.StreamKey)
	unknown := fill(omeIncoming, alias.NewID(), "?key="+a.StreamKey)

	pgtest.StopServer(t)
	t.Run("bad signature", func(t *testing.T) {
		start := time.Now()
		got := decodeOME(t, s.post(t, "/hooks/ome", "application/json", b, "X-OME-Signature", omeSignature("another-secret", b)), http.StatusUnauthorized)
		if got.Reason != "the request is not signed with the hook's secret" {
			t.Errorf("reason %q, want the signature's", got.Reason)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("answered in %v: it waited for the database", d)
		}
	})
	t.Run("no signature", func(t *testing.T) {
		decodeOME(t, s.post(t, "/hooks/ome", "application/json", unknown), http.StatusUnauthorized)
	})
	t.Run("signed, so looked up", func(t *testing.T) {
		got := decodeOME(t, s.postOME(t, unknown), http.StatusOK)
		if got.Allowed == nil || *got.Allowed || got.Reason != "the alias store is unavailable, try again shortly" {
			t.Errorf("reply %+v, want a refusal because the store is down", got)
		}
	})
	pgtest.StartServer(t)
	testcaddy.PollUntil(t, 20*time.Second, "the hook admits once the database is back", func() bool {
		got := decodeOME(t, s.postOME(t, b), http.StatusOK)
		return got.Allowed != nil && *got.Allowed
	})
}
