package kick

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/mediaapi"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

const mtxKicked = `linkgate_media_kicks_total{outcome="kicked",server="mediamtx"}`

// connect admits a MediaMTX client through the hook, failing the test
// unless the hook lets it in, and returns the ID of the auth request.
func (s *server) connect(t *testing.T, c mediaapi.Client) string {
	t.Helper()
	id, status := s.mtx.Connect(t, c)
	if status != http.StatusNoContent {
		t.Fatalf("%s %s over %s: the hook answered %d", c.Action, c.Path, c.Protocol, status)
	}
	return id
}

// waitKicked waits until MediaMTX kicked every one of ids.
func (s *server) waitKicked(t *testing.T, ids ...string) {
	t.Helper()
	testcaddy.PollUntil(t, 10*time.Second, "MediaMTX kicks "+strings.Join(ids, ", "), func() bool {
		for _, id := range ids {
			if !s.mtx.Kicked(id) {
				return false
			}
		}
		return true
	})
}

// testMediaMTX ends MediaMTX's sessions.
func testMediaMTX(t *testing.T, s *server) {
	t.Run("deleting the alias kicks its publisher and every reader", func(t *testing.T) {
		a := s.createAlias(t)
		viewer := s.jwtFor(t, a, "viewer-1")
		clients := map[string]mediaapi.Client{
			"publisher over RTMP, with the stream key": {Protocol: "rtmp", Action: "publish", User: "obs", Password: a.StreamKey},
			"reader over RTSP, with the passcode":      {Protocol: "rtsp", Action: "read", Password: a.Passcode},
			"reader over RTSPS, with the passcode":     {Protocol: "rtsp", TLS: true, Action: "read", Password: a.Passcode},
			"reader over RTMPS, with a JWT":            {Protocol: "rtmp", TLS: true, Action: "read", User: "v", Password: viewer},
			"reader over SRT, with the passcode":       {Protocol: "srt", Action: "read", User: "v", Password: a.Passcode},
			"reader over WebRTC, with a bearer JWT":    {Protocol: "webrtc", Action: "read", Token: viewer},
		}
		// What each kick ends: the auth request's ID, or for RTSP the
		// session the connection carries.
		ids, kicked := map[string]string{}, map[string]string{}
		for name, c := range clients {
			c.Path = a.ID
			ids[name] = s.connect(t, c)
			kicked[name] = ids[name]
			if c.Protocol == "rtsp" {
				kicked[name] = s.mtx.Session(ids[name])
			}
		}
		before := s.metric(t, mtxKicked)
		deleted := s.deleteAlias(t, a)
		for name := range clients {
			s.waitKicked(t, kicked[name])
		}
		calls := s.mtx.Calls()
		var slowest time.Duration
		for name := range clients {
			kicks := answered(kickCalls(calls, kicked[name]))
			if len(kicks) != 1 {
				t.Errorf("%s: %d kicks, want 1", name, len(kicks))
				continue
			}
			if k := kicks[0]; k.User != "linkgate" || k.Password != mtxPassword {
				t.Errorf("%s: the kick carried user %q and a password of %d bytes, want the api URL's", name, k.User, len(k.Password))
			}
			slowest = max(slowest, kicks[0].At.Sub(deleted))
			wantReason(t, s.waitEnded(t, ids[name]), "alias_not_found")
		}
		t.Logf("MediaMTX got the last of %d kicks %v after the delete was sent", len(clients), slowest)
		if grew := s.metric(t, mtxKicked) - before; grew != float64(len(clients)) {
			t.Errorf("%s grew by %v, want %d", mtxKicked, grew, len(clients))
		}
	})

	t.Run("a new stream key kicks the publisher", func(t *testing.T) {
		a := s.createAlias(t)
		pub := s.connect(t, mediaapi.Client{Protocol: "srt", Action: "publish", Path: a.ID, User: "obs", Password: a.StreamKey})
		s.rekey(t, a)
		s.waitKicked(t, pub)
		wantReason(t, s.waitEnded(t, pub), "credential_changed")
		// The new key admits again.
		s.connect(t, mediaapi.Client{Protocol: "srt", Action: "publish", Path: a.ID, User: "obs", Password: a.StreamKey})
	})

	t.Run("revoking a user kicks that user's readers and no one else", func(t *testing.T) {
		a := s.createAlias(t)
		pub := s.connect(t, mediaapi.Client{Protocol: "rtmp", Action: "publish", Path: a.ID, Password: a.StreamKey})
		alice := s.connect(t, mediaapi.Client{Protocol: "rtmp", Action: "read", Path: a.ID, User: "alice", Password: s.jwtFor(t, a, "alice")})
		bob := s.connect(t, mediaapi.Client{Protocol: "webrtc", Action: "read", Path: a.ID, Token: s.jwtFor(t, a, "bob")})
		s.revokeUser(t, a, "alice")
		s.waitKicked(t, alice)
		wantReason(t, s.waitEnded(t, alice), "revoked")

		// Deleting the alias ends the others: for that reason only, so
		// the revocation ended none of them.
		s.deleteAlias(t, a)
		s.waitKicked(t, pub, bob)
		wantReason(t, s.waitEnded(t, pub), "alias_not_found")
		wantReason(t, s.waitEnded(t, bob), "alias_not_found")
		if n := len(s.endedLines(alice)); n != 1 {
			t.Errorf("alice's session ended %d times, want once", n)
		}
	})

	t.Run("a session that left is forgotten, not kicked", func(t *testing.T) {
		a := s.createAlias(t)
		left := s.connect(t, mediaapi.Client{Protocol: "rtmp", Action: "read", Path: a.ID, Password: a.Passcode})
		stays := s.connect(t, mediaapi.Client{Protocol: "rtmp", Action: "read", Path: a.ID, Password: a.Passcode})
		s.mtx.Disconnect(left)
		// A session is forgotten once two sweeps in a row missed it: the
		// third sweep's list starts after the second sweep is done.
		lists := func() int {
			n := 0
			for _, c := range s.mtx.Calls() {
				if c.Path == "/v3/rtmpconns/list" {
					n++
				}
			}
			return n
		}
		start := lists()
		testcaddy.PollUntil(t, 10*time.Second, "three sweeps of MediaMTX's lists", func() bool { return lists() >= start+3 })
		s.deleteAlias(t, a)
		s.waitKicked(t, stays)
		wantReason(t, s.waitEnded(t, stays), "alias_not_found")
		if kicks := kickCalls(s.mtx.Calls(), left); len(kicks) != 0 {
			t.Errorf("the session that left was kicked %d times", len(kicks))
		}
		if lines := s.endedLines(left); len(lines) != 0 {
			t.Errorf("linkgate ended the session that left: %v", lines)
		}
	})

	t.Run("MediaMTX's API is open to linkgate's calls only", func(t *testing.T) {
		for _, who := range [][2]string{{"linkgate", "not-the-password"}, {"admin", mtxPassword}, {"", ""}} {
			status, _ := postJSON(t, s.base+"/hooks/mediamtx", map[string]any{
				"ip": "127.0.0.1", "user": who[0], "password": who[1], "token": "",
				"action": "api", "path": "", "protocol": "", "id": nil, "query": "",
			})
			if status != http.StatusForbidden {
				t.Errorf("an API call as %q: the hook answered %d, want 403", who[0], status)
			}
		}
	})
}
