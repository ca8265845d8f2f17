package hooks

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MediaMTX's authMethod http bodies, byte for byte: %[1]s is the path's
// alias ID, %[2]s the credential, %[3]s the action. mediaMTXOld is an
// older MediaMTX's body: id null, no userAgent.
const (
	mediaMTXOld   = `{"ip":"192.0.2.10","user":"","password":"%[2]s","token":"","action":"%[3]s","path":"%[1]s","protocol":"rtsp","id":null,"query":""}`
	mediaMTXQuery = `{"ip":"198.51.100.7","user":"viewer","password":"","token":"","action":"%[3]s","path":"%[1]s","protocol":"hls","id":"3f6c1b2e-9a4d-4c1e-8f0a-2b7d5e6c9a10","query":"%[2]s","userAgent":"VLC/3.0.20 LibVLC/3.0.20"}`
	mediaMTXToken = `{"ip":"198.51.100.8","user":"","password":"","token":"%[2]s","action":"%[3]s","path":"%[1]s","protocol":"webrtc","id":"0b4f7c9e-1d2a-4e3b-9c8d-7a6b5c4d3e2f","query":"","userAgent":"Mozilla/5.0"}`
)

func TestMediaMTX(t *testing.T) {
	s := newServer(t)
	body := func(template, action string, credential func(t *testing.T, s *server, a *madeAlias) string) func(t *testing.T, s *server, a *madeAlias) string {
		return func(t *testing.T, s *server, a *madeAlias) string {
			return fill(template, a.ID, credential(t, s, a), action)
		}
	}
	key := func(t *testing.T, s *server, a *madeAlias) string { return a.StreamKey }
	keyParam := func(t *testing.T, s *server, a *madeAlias) string { return "key=" + a.StreamKey }
	passcode := func(t *testing.T, s *server, a *madeAlias) string { return a.Passcode }
	passcodeParam := func(t *testing.T, s *server, a *madeAlias) string { return "passcode=" + a.Passcode }
	viewerJWT := func(t *testing.T, s *server, a *madeAlias) string { return s.sign(t, a, 10*time.Minute, nil) }
	hostJWT := func(t *testing.T, s *server, a *madeAlias) string {
		return s.sign(t, a, 10*time.Minute, jwt.MapClaims{"host": true})
	}
	literal := func(v string) func(*testing.T, *server, *madeAlias) string {
		return func(*testing.T, *server, *madeAlias) string { return v }
	}
	cases := []struct {
		hookCase
		path   string // /hooks/mediamtx unless set
		status int
	}{
		{hookCase{"publish with the key as password", specFull, nil, body(mediaMTXOld, "publish", key)}, "", 204},
		{hookCase{"publish with the key in the query", specFull, nil, body(mediaMTXQuery, "publish", keyParam)}, "", 204},
		{hookCase{"publish with a host JWT", specFull, nil, body(mediaMTXToken, "publish", hostJWT)}, "", 204},
		{hookCase{"publish with a viewer JWT", specFull, nil, body(mediaMTXToken, "publish", viewerJWT)}, "", 403},
		// The passcode is read as at the gateway, and does not publish.
		{hookCase{"publish with the passcode", specFull, nil, body(mediaMTXQuery, "publish", passcodeParam)}, "", 403},
		{hookCase{"publish with a wrong key", specFull, nil, body(mediaMTXOld, "publish", literal("sk-wrong-0123456789"))}, "", 403},
		{hookCase{"publish without credential", specFull, nil, body(mediaMTXOld, "publish", literal(""))}, "", 401},
		{hookCase{"publish to a public alias without credential", specPublic, nil, body(mediaMTXOld, "publish", literal(""))}, "", 401},
		{hookCase{"publish to a public alias with its key", specPublic, nil, body(mediaMTXOld, "publish", key)}, "", 204},
		{hookCase{"publish to an expired alias", specFull, expired, body(mediaMTXOld, "publish", key)}, "", 403},
		{hookCase{"publish to a deleted alias", specFull, deleted, body(mediaMTXOld, "publish", key)}, "", 403},
		{hookCase{"publish to a conference", specConference, nil, body(mediaMTXOld, "publish", key)}, "", 403},
		{hookCase{"read with the passcode in the query", specFull, nil, body(mediaMTXQuery, "read", passcodeParam)}, "", 204},
		{hookCase{"read with the passcode as RTSP password", specFull, nil, body(mediaMTXOld, "read", passcode)}, "", 204},
		{hookCase{"read with a JWT as RTSP password", specFull, nil, body(mediaMTXOld, "read", viewerJWT)}, "", 204},
		{hookCase{"read with a JWT as bearer token", specFull, nil, body(mediaMTXToken, "read", viewerJWT)}, "", 204},
		{hookCase{"playback with the passcode", specFull, nil, body(mediaMTXQuery, "playback", passcodeParam)}, "", 204},
		{hookCase{"read with a wrong passcode", specFull, nil, body(mediaMTXQuery, "read", literal("passcode=wrong-passcode"))}, "", 403},
		{hookCase{"read without credential", specFull, nil, body(mediaMTXQuery, "read", literal(""))}, "", 401},
		{hookCase{"read a public alias", specPublic, nil, body(mediaMTXQuery, "read", literal(""))}, "", 204},
		{hookCase{"read an expired alias", specFull, expired, body(mediaMTXQuery, "read", passcodeParam)}, "", 403},
		{hookCase{"read a deleted alias", specFull, deleted, body(mediaMTXQuery, "read", passcodeParam)}, "", 403},
		{hookCase{"read a conference", specConference, nil, body(mediaMTXQuery, "read", passcodeParam)}, "", 403},
		{hookCase{"read under the path prefix", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string {
			return fill(mediaMTXQuery, "live/"+a.ID, "passcode="+a.Passcode, "read")
		}}, "/hooks/mediamtx-live", 204},
		// Without a prefix the alias is the whole, single-element path:
		// with the last element taken, a client holding <A>'s passcode
		// would be admitted to live/<A>/<B>, which MediaMTX serves as a
		// path of its own.
		{hookCase{"read a nested path without a prefix", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string {
			return fill(mediaMTXOld, "live/other/"+a.ID, a.Passcode, "read")
		}}, "", 403},
		{hookCase{"read a dot-dot path without a prefix", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string {
			return fill(mediaMTXOld, "x/../"+a.ID, a.Passcode, "read")
		}}, "", 403},
		{hookCase{"read a dot-dot path under the prefix", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string {
			return fill(mediaMTXOld, "live/x/../"+a.ID, a.Passcode, "read")
		}}, "/hooks/mediamtx-live", 403},
		{hookCase{"read outside the path prefix", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string {
			return fill(mediaMTXOld, "other/"+a.ID, a.Passcode, "read")
		}}, "/hooks/mediamtx-live", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/hooks/mediamtx"
			}
			_, _, r := tc.run(t, s, path, "application/json")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
		})
	}

	const api = `{"ip":"127.0.0.1","user":"admin","password":"admin","token":"","action":"%[1]s","path":"","protocol":"","id":null,"query":""}`
	for _, tc := range []struct {
		path, action string
		status       int
	}{
		{"/hooks/mediamtx", "api", http.StatusForbidden},
		{"/hooks/mediamtx", "metrics", http.StatusForbidden},
		{"/hooks/mediamtx", "pprof", http.StatusForbidden},
		{"/hooks/mediamtx-live", "api", http.StatusNoContent},
		{"/hooks/mediamtx-live", "metrics", http.StatusNoContent},
		{"/hooks/mediamtx-live", "pprof", http.StatusForbidden},
	} {
		t.Run(tc.action+" on "+tc.path, func(t *testing.T) {
			if r := s.post(t, tc.path, "application/json", fill(api, tc.action)); r.status != tc.status {
				t.Errorf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
		})
	}
}
