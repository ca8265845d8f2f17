package alias

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestOrgTokenRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		token, hash := NewOrgToken()
		if !strings.HasPrefix(token, "lgo_") || len(token) != orgTokenLen {
			t.Fatalf("token %q has the wrong shape", token)
		}
		if seen[token] {
			t.Fatalf("token %q made twice", token)
		}
		seen[token] = true
		got, ok := ParseOrgToken(token)
		if !ok || got != hash || got != sha256.Sum256([]byte(token)) {
			t.Fatalf("token %q does not parse back to its SHA-256", token)
		}
	}
}

func TestOrgTokenChecksumCatchesTypos(t *testing.T) {
	token, _ := NewOrgToken()
	for i := len(OrgTokenPrefix); i < len(token); i++ {
		for _, c := range []byte{'0', 'a', 'Z'} {
			if token[i] == c {
				continue
			}
			typo := token[:i] + string(c) + token[i+1:]
			if _, ok := ParseOrgToken(typo); ok {
				t.Fatalf("changing character %d to %q still parses", i, c)
			}
		}
	}
	for _, bad := range []string{"", "lgo_", token[:len(token)-1], token + "0", "lgx_" + token[4:], strings.Replace(token, token[10:11], "-", 1)} {
		if _, ok := ParseOrgToken(bad); ok {
			t.Errorf("%q parsed as a token", bad)
		}
	}
}
