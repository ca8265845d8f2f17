package hooks

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SRS http_hooks bodies, byte for byte: %[1]s is the stream, %[2]s the
// client's query with its leading "?". srsPublish is SRS 5's, with a
// string client_id; srsPlay is SRS 3's, with an integer one.
const (
	srsPublish   = `{"server_id":"vid-0xk989d","service_id":"4k2mh1r0","action":"on_publish","client_id":"341w361a","ip":"192.0.2.20","vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://192.0.2.1:1935/live","stream":"%[1]s","param":"%[2]s","stream_url":"/live/%[1]s","stream_id":"vid-124q9y3"}`
	srsPlay      = `{"action":"on_play","client_id":1985,"ip":"%[3]s","vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://192.0.2.1/live","stream":"%[1]s","param":"%[2]s","pageUrl":""}`
	srsUnpublish = `{"server_id":"vid-0xk989d","service_id":"4k2mh1r0","action":"on_unpublish","client_id":"341w361a","ip":"192.0.2.20","vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://192.0.2.1:1935/live","stream":"%[1]s","param":"%[2]s","stream_url":"/live/%[1]s","stream_id":"vid-124q9y3"}`
	srsStop      = `{"action":"on_stop","client_id":1985,"ip":"192.0.2.21","vhost":"__defaultVhost__","app":"live","stream":"%[1]s","param":"%[2]s"}`
	srsClose     = `{"action":"on_close","client_id":1985,"ip":"192.0.2.21","vhost":"__defaultVhost__","app":"live","send_bytes":10560,"recv_bytes":3590}`
	srsConnect   = `{"action":"on_connect","client_id":1985,"ip":"192.0.2.21","vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://192.0.2.1/live","pageUrl":""}`
)

// srsCode returns the code of an SRS reply, failing the test unless the
// reply is a 200 with a JSON code (and a msg when it refuses).
func srsCode(t *testing.T, r reply) int {
	t.Helper()
	var body struct {
		Code *int   `json:"code"`
		Msg  string `json:"msg"`
	}
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200 always; body %q", r.status, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Code == nil {
		t.Fatalf("body %q, want {\"code\":...}", r.body)
	}
	if *body.Code != 0 && body.Msg == "" {
		t.Errorf("body %q refuses without msg", r.body)
	}
	return *body.Code
}

func TestSRS(t *testing.T) {
	s := newServer(t)
	publish := func(param func(a *madeAlias) string) func(*testing.T, *server, *madeAlias) string {
		return func(t *testing.T, s *server, a *madeAlias) string { return fill(srsPublish, a.ID, param(a)) }
	}
	play := func(param func(a *madeAlias) string) func(*testing.T, *server, *madeAlias) string {
		return func(t *testing.T, s *server, a *madeAlias) string { return fill(srsPlay, a.ID, param(a), "192.0.2.21") }
	}
	literal := func(v string) func(*madeAlias) string { return func(*madeAlias) string { return v } }
	cases := []struct {
		hookCase
		code int
	}{
		{hookCase{"publish with the key", specFull, nil, publish(func(a *madeAlias) string { return "?key=" + a.StreamKey })}, 0},
		{hookCase{"publish with the key among other parameters", specFull, nil, publish(func(a *madeAlias) string { return "?vhost=__defaultVhost__&key=" + a.StreamKey })}, 0},
		{hookCase{"publish with a host JWT", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string {
			return fill(srsPublish, a.ID, "?token="+s.sign(t, a, time.Hour, jwt.MapClaims{"host": true}))
		}}, 0},
		{hookCase{"publish with a wrong key", specFull, nil, publish(literal("?key=sk-wrong-0123456789"))}, 401},
		{hookCase{"publish with the passcode", specFull, nil, publish(func(a *madeAlias) string { return "?passcode=" + a.Passcode })}, 403},
		{hookCase{"publish without credential", specFull, nil, publish(literal(""))}, 401},
		{hookCase{"publish to a public alias without credential", specPublic, nil, publish(literal(""))}, 401},
		{hookCase{"publish to an expired alias", specFull, expired, publish(func(a *madeAlias) string { return "?key=" + a.StreamKey })}, 404},
		{hookCase{"publish to a deleted alias", specFull, deleted, publish(func(a *madeAlias) string { return "?key=" + a.StreamKey })}, 404},
		{hookCase{"publish to a conference", specConference, nil, publish(func(a *madeAlias) string { return "?key=" + a.StreamKey })}, 404},
		{hookCase{"play with the passcode", specFull, nil, play(func(a *madeAlias) string { return "?passcode=" + a.Passcode })}, 0},
		{hookCase{"play with a JWT", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string {
			return fill(srsPlay, a.ID, "?token="+s.sign(t, a, time.Hour, nil), "192.0.2.21")
		}}, 0},
		{hookCase{"play with a wrong passcode", specFull, nil, play(literal("?passcode=wrong-passcode"))}, 401},
		{hookCase{"play without credential", specFull, nil, play(literal(""))}, 401},
		{hookCase{"play a public alias", specPublic, nil, play(literal(""))}, 0},
		{hookCase{"play an expired alias", specFull, expired, play(func(a *madeAlias) string { return "?passcode=" + a.Passcode })}, 404},
		{hookCase{"play a deleted alias", specFull, deleted, play(func(a *madeAlias) string { return "?passcode=" + a.Passcode })}, 404},
		{hookCase{"play a conference", specConference, nil, play(func(a *madeAlias) string { return "?passcode=" + a.Passcode })}, 404},
		{hookCase{"on_unpublish", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string { return fill(srsUnpublish, a.ID, "") }}, 0},
		{hookCase{"on_stop of a deleted alias", specFull, deleted, func(t *testing.T, s *server, a *madeAlias) string { return fill(srsStop, a.ID, "") }}, 0},
		{hookCase{"on_close", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string { return srsClose }}, 0},
		{hookCase{"on_connect", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string { return srsConnect }}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, r := tc.run(t, s, "/hooks/srs", "application/json")
			if got := srsCode(t, r); got != tc.code {
				t.Errorf("code %d, want %d; body %s", got, tc.code, r.body)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		if got := srsCode(t, s.post(t, "/hooks/srs", "application/json", "action=on_play")); got != http.StatusBadRequest {
			t.Errorf("code %d, want 400", got)
		}
	})
	t.Run("path matcher without handle", func(t *testing.T) {
		a := s.createAlias(t, specFull)
		if got := srsCode(t, s.post(t, "/hooks/bare", "application/json", fill(srsPlay, a.ID, "?passcode="+a.Passcode, "192.0.2.21"))); got != 0 {
			t.Errorf("code %d, want 0", got)
		}
	})
}

// TestThrottleByMediaClient checks that failures count per media client,
// as the server reports its IP, and alias: every request here comes from
// 127.0.0.1, yet one client guessing does not lock out another.
func TestThrottleByMediaClient(t *testing.T) {
	s := newServer(t)
	a := s.createAlias(t, specFull)
	right := func(ip string) string { return fill(srsPlay, a.ID, "?passcode="+a.Passcode, ip) }
	for range 2 {
		if got := srsCode(t, s.post(t, "/hooks/tight", "application/json", fill(srsPlay, a.ID, "?passcode=wrong-passcode", "203.0.113.5"))); got != http.StatusUnauthorized {
			t.Fatalf("wrong passcode: code %d, want 401", got)
		}
	}
	if got := srsCode(t, s.post(t, "/hooks/tight", "application/json", right("203.0.113.5"))); got != http.StatusTooManyRequests {
		t.Errorf("the guessing client with the right passcode: code %d, want 429", got)
	}
	if got := srsCode(t, s.post(t, "/hooks/tight", "application/json", right("203.0.113.6"))); got != 0 {
		t.Errorf("another client: code %d, want 0", got)
	}
	b := s.createAlias(t, specFull)
	if got := srsCode(t, s.post(t, "/hooks/tight", "application/json", fill(srsPlay, b.ID, "?passcode="+b.Passcode, "203.0.113.5"))); got != 0 {
		t.Errorf("the guessing client on another alias: code %d, want 0", got)
	}
}
