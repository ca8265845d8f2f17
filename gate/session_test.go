package gate

import (
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
)

func TestSessionCookie(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := &alias.Alias{ID: "abcdefghijkl", AuthEpoch: 7, ExpiredAt: now.Add(time.Hour)}
	s := NewSessionSigner([]byte(strings.Repeat("k", 32)))
	issued := now.Add(-5 * time.Minute)
	value, ok := s.Issue(a, alias.Grant{Role: alias.RoleHost, User: "user456", JTI: "token-1", IssuedAt: issued}, now, now.Add(time.Minute))
	if !ok {
		t.Fatal("no cookie issued")
	}
	g, ok := s.Verify(a, value, now)
	if !ok || g.Role != alias.RoleHost || g.User != "user456" || g.JTI != "token-1" || !g.IssuedAt.Equal(issued) || g.Expiry.Unix() != now.Add(time.Minute).Unix() {
		t.Fatalf("verified %+v, %v", g, ok)
	}
	renamed := *a
	renamed.Version++
	if _, ok := s.Verify(&renamed, value, now); !ok {
		t.Error("a cookie stopped working after a change that kept the epoch (a rename)")
	}
	rekeyed := *a
	rekeyed.AuthEpoch++
	other := *a
	other.ID = "abcdefghijkm"
	tests := []struct {
		name  string
		alias *alias.Alias
		value string
		at    time.Time
	}{
		{"after a new passcode or secret (a new epoch)", &rekeyed, value, now},
		{"for another alias", &other, value, now},
		{"past its expiry", a, value, now.Add(time.Minute)},
		{"signed with another key", a, mustIssue(t, NewSessionSigner([]byte(strings.Repeat("x", 32))), a, now), now},
		{"with a flipped character", a, flip(value, 10), now},
		{"with a flipped MAC", a, flip(value, len(value)-2), now},
		{"truncated", a, value[:20], now},
		{"empty", a, "", now},
		{"not base64", a, "!!!" + value, now},
		{"oversized", a, strings.Repeat("A", 4096), now},
	}
	for _, tt := range tests {
		if _, ok := s.Verify(tt.alias, tt.value, tt.at); ok {
			t.Errorf("cookie %s accepted", tt.name)
		}
	}
	if _, ok := s.Issue(a, alias.Grant{Role: alias.RoleViewer, User: strings.Repeat("u", 129)}, now, now.Add(time.Minute)); ok {
		t.Error("a cookie was issued for a user ID too long to carry")
	}
	if _, ok := s.Issue(a, alias.Grant{Role: alias.RoleViewer, JTI: strings.Repeat("j", 65)}, now, now.Add(time.Minute)); ok {
		t.Error("a cookie was issued for a jti too long to carry")
	}
}

// TestSessionCookieGrace: after a rotation with a grace period, a cookie
// of the previous epoch works until the grace ends, and not after.
func TestSessionCookieGrace(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := &alias.Alias{ID: "abcdefghijkl", AuthEpoch: 3, JWTSecret: strings.Repeat("o", 32), ExpiredAt: now.Add(24 * time.Hour)}
	s := NewSessionSigner([]byte(strings.Repeat("k", 32)))
	old := mustIssue(t, s, a, now)
	rotated := (&alias.Patch{JWTSecret: alias.Field{Set: true, Value: strings.Repeat("n", 32)}, JWTSecretGrace: 10 * time.Second}).Update(*a, now)
	g, ok := s.Verify(&rotated, old, now.Add(5*time.Second))
	if !ok || !g.Expiry.Equal(now.Add(10*time.Second)) {
		t.Fatalf("within the grace: %+v, %v; want accepted, ending with the grace", g, ok)
	}
	if _, ok := s.Verify(&rotated, old, now.Add(10*time.Second)); ok {
		t.Error("a cookie of the previous epoch was accepted after the grace")
	}
	cut := (&alias.Patch{JWTSecret: alias.Field{Set: true, Value: strings.Repeat("n", 32)}}).Update(*a, now)
	if _, ok := s.Verify(&cut, old, now); ok {
		t.Error("a cookie of the previous epoch was accepted after a rotation without grace")
	}
}

func mustIssue(t *testing.T, s *SessionSigner, a *alias.Alias, now time.Time) string {
	t.Helper()
	v, ok := s.Issue(a, alias.Grant{Role: alias.RoleViewer}, now, now.Add(time.Minute))
	if !ok {
		t.Fatal("no cookie issued")
	}
	return v
}

func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func BenchmarkSessionVerify(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	a := &alias.Alias{ID: "abcdefghijkl", AuthEpoch: 7, ExpiredAt: now.Add(time.Hour)}
	s := NewSessionSigner([]byte(strings.Repeat("k", 32)))
	value, _ := s.Issue(a, alias.Grant{Role: alias.RoleViewer}, now, now.Add(time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Verify(a, value, now); !ok {
			b.Fatal("refused")
		}
	}
}
