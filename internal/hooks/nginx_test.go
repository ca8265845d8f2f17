package hooks

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// nginx-rtmp's notify forms (notify_method post), byte for byte: nginx's
// session fields, then the call's, then the client's own query as it sent
// it. %[1]s is the stream name, %[2]s the client's query with its "&".
const (
	nginxSession     = `app=live&flashver=FMLE/3.0%20(compatible%3B%20FMSc/1.0)&swfurl=&tcurl=rtmp://192.0.2.1:1935/live&pageurl=&addr=192.0.2.30&clientid=7`
	nginxPublish     = nginxSession + `&call=publish&name=%[1]s&type=live%[2]s`
	nginxUpdate      = nginxSession + `&call=update_publish&time=30&timestamp=30012&name=%[1]s%[2]s`
	nginxPublishDone = nginxSession + `&call=publish_done&name=%[1]s%[2]s`
	nginxPlaySession = `app=live&flashver=LNX%209,0,124,2&swfurl=&tcurl=rtmp://192.0.2.1:1935/live&pageurl=&addr=192.0.2.31&clientid=9`
	nginxPlay        = nginxPlaySession + `&call=play&name=%[1]s&start=4294966296&duration=0&reset=0%[2]s`
	nginxUpdatePlay  = nginxPlaySession + `&call=update_play&time=60&timestamp=60020&name=%[1]s%[2]s`
	nginxPlayDone    = nginxPlaySession + `&call=play_done&name=%[1]s%[2]s`
	formType         = "application/x-www-form-urlencoded"
)

// wantNginx fails unless r has status and, for a 302, Location.
func wantNginx(t *testing.T, r reply, status int, location string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if got := r.header.Get("Location"); got != location {
		t.Errorf("Location %q, want %q", got, location)
	}
}

func TestNginxRTMP(t *testing.T) {
	s := newServer(t)
	byID := func(template string, query func(t *testing.T, s *server, a *madeAlias) string) func(*testing.T, *server, *madeAlias) string {
		return func(t *testing.T, s *server, a *madeAlias) string { return fill(template, a.ID, query(t, s, a)) }
	}
	byKey := func(template string) func(*testing.T, *server, *madeAlias) string {
		return func(t *testing.T, s *server, a *madeAlias) string { return fill(template, a.StreamKey, "") }
	}
	key := func(t *testing.T, s *server, a *madeAlias) string { return "&key=" + a.StreamKey }
	passcode := func(t *testing.T, s *server, a *madeAlias) string { return "&passcode=" + a.Passcode }
	literal := func(v string) func(*testing.T, *server, *madeAlias) string {
		return func(*testing.T, *server, *madeAlias) string { return v }
	}
	cases := []struct {
		hookCase
		status   int
		location bool // a 302 to the alias ID
	}{
		{hookCase{"publish with the key", specFull, nil, byID(nginxPublish, key)}, 204, false},
		{hookCase{"publish with a host JWT", specFull, nil, byID(nginxPublish, func(t *testing.T, s *server, a *madeAlias) string {
			return "&token=" + s.sign(t, a, time.Hour, jwt.MapClaims{"host": true})
		})}, 204, false},
		{hookCase{"publish with a wrong key", specFull, nil, byID(nginxPublish, literal("&key=sk-wrong-0123456789"))}, 401, false},
		{hookCase{"publish with the passcode", specFull, nil, byID(nginxPublish, passcode)}, 403, false},
		{hookCase{"publish without credential", specFull, nil, byID(nginxPublish, literal(""))}, 401, false},
		{hookCase{"publish to a public alias without credential", specPublic, nil, byID(nginxPublish, literal(""))}, 401, false},
		{hookCase{"publish to an expired alias", specFull, expired, byID(nginxPublish, key)}, 404, false},
		{hookCase{"publish to a deleted alias", specFull, deleted, byID(nginxPublish, key)}, 404, false},
		{hookCase{"publish to a conference", specConference, nil, byID(nginxPublish, key)}, 404, false},
		{hookCase{"publish under the stream key", specFull, nil, byKey(nginxPublish)}, 302, true},
		{hookCase{"publish under a public alias's stream key", specPublic, nil, byKey(nginxPublish)}, 302, true},
		{hookCase{"publish under the key of an expired alias", specFull, expired, byKey(nginxPublish)}, 404, false},
		{hookCase{"publish under the key of a deleted alias", specFull, deleted, byKey(nginxPublish)}, 404, false},
		{hookCase{"publish under the key of a conference", specConference, nil, byKey(nginxPublish)}, 404, false},
		{hookCase{"publish under an unknown key", specFull, nil, func(t *testing.T, s *server, a *madeAlias) string {
			return fill(nginxPublish, "sk-unknown-"+randomHex(8), "")
		}}, 404, false},
		{hookCase{"play with the passcode", specFull, nil, byID(nginxPlay, passcode)}, 204, false},
		{hookCase{"play with a JWT", specFull, nil, byID(nginxPlay, func(t *testing.T, s *server, a *madeAlias) string {
			return "&jwt=" + s.sign(t, a, time.Hour, nil)
		})}, 204, false},
		{hookCase{"play with a wrong passcode", specFull, nil, byID(nginxPlay, literal("&passcode=wrong-passcode"))}, 401, false},
		{hookCase{"play without credential", specFull, nil, byID(nginxPlay, literal(""))}, 401, false},
		{hookCase{"play a public alias", specPublic, nil, byID(nginxPlay, literal(""))}, 204, false},
		{hookCase{"play an expired alias", specFull, expired, byID(nginxPlay, passcode)}, 404, false},
		{hookCase{"play a deleted alias", specFull, deleted, byID(nginxPlay, passcode)}, 404, false},
		{hookCase{"play a conference", specConference, nil, byID(nginxPlay, passcode)}, 404, false},
		{hookCase{"play under the stream key", specFull, nil, byKey(nginxPlay)}, 404, false},
		{hookCase{"publish_done", specFull, nil, byID(nginxPublishDone, key)}, 204, false},
		{hookCase{"play_done of a deleted alias", specFull, deleted, byID(nginxPlayDone, passcode)}, 204, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, _, r := tc.run(t, s, "/hooks/nginx", formType)
			location := ""
			if tc.location {
				location = a.ID
			}
			wantNginx(t, r, tc.status, location)
		})
	}
}

// TestNginxRTMPUpdate follows running streams through nginx-rtmp's
// periodic update calls: a stream is cut (non-2xx) once its alias is
// re-keyed through the API, expires or is deleted.
func TestNginxRTMPUpdate(t *testing.T) {
	s := newServer(t)
	t.Run("published under the stream key, then re-keyed", func(t *testing.T) {
		a := s.createAlias(t, specFull)
		old := a.StreamKey
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxPublish, old, "")), http.StatusFound, a.ID)
		// nginx-rtmp's updates carry the name the client published under.
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxUpdate, old, "")), http.StatusNoContent, "")
		s.rekey(t, a)
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxUpdate, old, "")), http.StatusNotFound, "")
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxPublish, a.StreamKey, "")), http.StatusFound, a.ID)
	})
	t.Run("published by alias ID, then re-keyed", func(t *testing.T) {
		a := s.createAlias(t, specFull)
		old := "&key=" + a.StreamKey
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxPublish, a.ID, old)), http.StatusNoContent, "")
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxUpdate, a.ID, old)), http.StatusNoContent, "")
		s.rekey(t, a)
		r := s.post(t, "/hooks/nginx", formType, fill(nginxUpdate, a.ID, old))
		if r.status < 300 {
			t.Fatalf("update_publish with the old key: status %d, want a refusal", r.status)
		}
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxUpdate, a.ID, "&key="+a.StreamKey)), http.StatusNoContent, "")
	})
	t.Run("played, then expired", func(t *testing.T) {
		a := s.createAlias(t, specFull)
		q := "&passcode=" + a.Passcode
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxPlay, a.ID, q)), http.StatusNoContent, "")
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxUpdatePlay, a.ID, q)), http.StatusNoContent, "")
		s.expire(t, a)
		// The expiry was set behind the API's back: a cache hears of it
		// through the database's notification, not at once.
		testcaddy.PollUntil(t, 5*time.Second, "update_play refused after expiry", func() bool {
			return s.post(t, "/hooks/nginx", formType, fill(nginxUpdatePlay, a.ID, q)).status == http.StatusNotFound
		})
	})
	t.Run("published, then deleted", func(t *testing.T) {
		a := s.createAlias(t, specFull)
		q := "&key=" + a.StreamKey
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxPublish, a.ID, q)), http.StatusNoContent, "")
		s.deleteAlias(t, a)
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxUpdate, a.ID, q)), http.StatusNotFound, "")
		wantNginx(t, s.post(t, "/hooks/nginx", formType, fill(nginxPublishDone, a.ID, q)), http.StatusNoContent, "")
	})
}
