package gate

import (
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
)

func TestSessionCookie(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := &alias.Alias{ID: "abcdefghijkl", Version: 7, ExpiredAt: now.Add(time.Hour)}
	s := NewSessionSigner([]byte(strings.Repeat("k", 32)))
	value, ok := s.Issue(a, alias.Grant{Role: alias.RoleHost, User: "user456"}, now.Add(time.Minute))
	if !ok {
		t.Fatal("no cookie issued")
	}
	g, ok := s.Verify(a, value, now)
	if !ok || g.Role != alias.RoleHost || g.User != "user456" || g.Expiry.Unix() != now.Add(time.Minute).Unix() {
		t.Fatalf("verified %+v, %v", g, ok)
	}
	updated := *a
	updated.Version++
	other := *a
	other.ID = "abcdefghijkm"
	tests := []struct {
		name  string
		alias *alias.Alias
		value string
		at    time.Time
	}{
		{"after an update of the alias", &updated, value, now},
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
	if _, ok := s.Issue(a, alias.Grant{Role: alias.RoleViewer, User: strings.Repeat("u", 129)}, now.Add(time.Minute)); ok {
		t.Error("a cookie was issued for a user ID too long to carry")
	}
}

func mustIssue(t *testing.T, s *SessionSigner, a *alias.Alias, now time.Time) string {
	t.Helper()
	v, ok := s.Issue(a, alias.Grant{Role: alias.RoleViewer}, now.Add(time.Minute))
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
	a := &alias.Alias{ID: "abcdefghijkl", Version: 7, ExpiredAt: now.Add(time.Hour)}
	s := NewSessionSigner([]byte(strings.Repeat("k", 32)))
	value, _ := s.Issue(a, alias.Grant{Role: alias.RoleViewer}, now.Add(time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Verify(a, value, now); !ok {
			b.Fatal("refused")
		}
	}
}
