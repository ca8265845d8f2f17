package kick

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

const (
	srsKicked = `linkgate_media_kicks_total{outcome="kicked",server="srs"}`
	srsFailed = `linkgate_media_kicks_total{outcome="failed",server="srs"}`
)

// publish admits an SRS publisher through the hook, failing the test
// unless the hook lets it in, and returns its client ID.
func (s *server) publish(t *testing.T, stream, param string) string {
	t.Helper()
	id, code := s.srs.Publish(t, stream, param)
	if code != 0 {
		t.Fatalf("publishing %s: the hook answered code %d", stream, code)
	}
	return id
}

// play is publish for a player.
func (s *server) play(t *testing.T, stream, param string) string {
	t.Helper()
	id, code := s.srs.Play(t, stream, param)
	if code != 0 {
		t.Fatalf("playing %s: the hook answered code %d", stream, code)
	}
	return id
}

// waitSRSKicked waits until SRS kicked every one of ids.
func (s *server) waitSRSKicked(t *testing.T, ids ...string) {
	t.Helper()
	testcaddy.PollUntil(t, 10*time.Second, "SRS kicks "+strings.Join(ids, ", "), func() bool {
		for _, id := range ids {
			if !s.srs.Kicked(id) {
				return false
			}
		}
		return true
	})
}

// testSRS ends SRS's clients.
func testSRS(t *testing.T, s *server) {
	t.Run("deleting the alias kicks its publisher and every player", func(t *testing.T) {
		a := s.createAlias(t)
		ids := []string{
			s.publish(t, a.ID, "?key="+a.StreamKey),
			s.play(t, a.ID, "?passcode="+a.Passcode),
			s.play(t, a.ID, "?token="+s.jwtFor(t, a, "viewer-1")),
		}
		before := s.metric(t, srsKicked)
		deleted := s.deleteAlias(t, a)
		s.waitSRSKicked(t, ids...)
		calls := s.srs.Calls()
		var slowest time.Duration
		for _, id := range ids {
			kicks := answered(kickCalls(calls, id))
			if len(kicks) != 1 {
				t.Errorf("client %s: %d kicks, want 1", id, len(kicks))
				continue
			}
			if k := kicks[0]; k.Method != http.MethodDelete || k.Path != "/api/v1/clients/"+id || k.User != "admin" || k.Password != srsPassword {
				t.Errorf("client %s: kicked by %s %s as %q, want DELETE /api/v1/clients/%s with the api URL's credentials", id, k.Method, k.Path, k.User, id)
			}
			slowest = max(slowest, kicks[0].At.Sub(deleted))
			wantReason(t, s.waitEnded(t, id), "alias_not_found")
		}
		t.Logf("SRS got the last of %d kicks %v after the delete was sent", len(ids), slowest)
		if grew := s.metric(t, srsKicked) - before; grew != float64(len(ids)) {
			t.Errorf("%s grew by %v, want %d", srsKicked, grew, len(ids))
		}
	})

	t.Run("a client that closed is not kicked", func(t *testing.T) {
		a := s.createAlias(t)
		pub := s.publish(t, a.ID, "?key="+a.StreamKey)
		closed := s.play(t, a.ID, "?passcode="+a.Passcode)
		stays := s.play(t, a.ID, "?passcode="+a.Passcode)
		s.srs.Close(t, closed)
		s.deleteAlias(t, a)
		s.waitSRSKicked(t, pub, stays)
		wantReason(t, s.waitEnded(t, pub), "alias_not_found")
		wantReason(t, s.waitEnded(t, stays), "alias_not_found")
		if kicks := kickCalls(s.srs.Calls(), closed); len(kicks) != 0 {
			t.Errorf("the client that closed was kicked %d times", len(kicks))
		}
		if lines := s.endedLines(closed); len(lines) != 0 {
			t.Errorf("linkgate ended the client that closed: %v", lines)
		}
	})

	t.Run("a new stream key kicks the publisher", func(t *testing.T) {
		a := s.createAlias(t)
		pub := s.publish(t, a.ID, "?key="+a.StreamKey)
		s.rekey(t, a)
		s.waitSRSKicked(t, pub)
		wantReason(t, s.waitEnded(t, pub), "credential_changed")
		s.publish(t, a.ID, "?key="+a.StreamKey)
	})

	t.Run("revoking a user kicks that user's players and no one else", func(t *testing.T) {
		a := s.createAlias(t)
		pub := s.publish(t, a.ID, "?key="+a.StreamKey)
		alice := s.play(t, a.ID, "?token="+s.jwtFor(t, a, "alice"))
		bob := s.play(t, a.ID, "?token="+s.jwtFor(t, a, "bob"))
		s.revokeUser(t, a, "alice")
		s.waitSRSKicked(t, alice)
		wantReason(t, s.waitEnded(t, alice), "revoked")

		// Deleting the alias ends the others: for that reason only, so
		// the revocation ended none of them.
		s.deleteAlias(t, a)
		s.waitSRSKicked(t, pub, bob)
		wantReason(t, s.waitEnded(t, pub), "alias_not_found")
		wantReason(t, s.waitEnded(t, bob), "alias_not_found")
		if n := len(s.endedLines(alice)); n != 1 {
			t.Errorf("alice's client ended %d times, want once", n)
		}
	})

	t.Run("a kick SRS does not answer fails at the timeout and holds no hook", func(t *testing.T) {
		a := s.createAlias(t)
		player := s.play(t, a.ID, "?passcode="+a.Passcode)
		other := s.createAlias(t)
		s.srs.Hang(true)
		defer s.srs.Hang(false)
		before := s.metric(t, srsFailed)
		s.deleteAlias(t, a)
		testcaddy.PollUntil(t, 10*time.Second, "SRS is asked to kick", func() bool { return len(kickCalls(s.srs.Calls(), player)) > 0 })
		// The hooks answer while the kick waits.
		s.play(t, other.ID, "?passcode="+other.Passcode)
		line := s.waitEnded(t, player)
		if line["msg"] != "media session kick failed" || line["failure"] != "timeout" || line["reason"] != "alias_not_found" {
			t.Errorf("the kick that got no answer was logged as %v", line)
		}
		if grew := s.metric(t, srsFailed) - before; grew != 1 {
			t.Errorf("%s grew by %v, want 1", srsFailed, grew)
		}
	})
}
