package alias

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// CheckPasscode reports whether given is the alias's passcode. It takes the
// same time whatever the two strings share, including their lengths.
func CheckPasscode(a *Alias, given string) bool {
	return a.Passcode != "" && equalSecret(a.passcodeDigest, a.Passcode, given)
}

// CheckStreamKey reports whether given is the alias's stream key, in
// constant time like CheckPasscode.
func CheckStreamKey(a *Alias, given string) bool {
	return a.StreamKey != "" && equalSecret(a.streamKeyDigest, a.StreamKey, given)
}

// secretDigest is the first half of a secret's SHA-256: finding another
// secret with the same 128 bits takes some 2^128 tries, out of reach as
// surely as 2^256, and a cached alias holds two of them. The zero value
// means "not made"; a real digest that happened to be zero would only be
// made again.
type secretDigest [sha256.Size / 2]byte

func digestOf(secret string) secretDigest {
	if secret == "" {
		return secretDigest{}
	}
	sum := sha256.Sum256([]byte(secret))
	return secretDigest(sum[:len(secretDigest{})])
}

// equalSecret compares digests, not the strings, so that neither the
// content nor the length of the secret shows in the timing. want is the
// secret's digest when Prepare made it.
func equalSecret(want secretDigest, secret, given string) bool {
	if want == (secretDigest{}) {
		want = digestOf(secret)
	}
	g := digestOf(given)
	return subtle.ConstantTimeCompare(want[:], g[:]) == 1
}

// NewStreamKey returns a fresh stream key: 32 random bytes in base64url
// (43 characters), which every rule for stream keys accepts.
func NewStreamKey() string {
	for {
		if key := randomBase64(32); checkStreamKey(key) == nil {
			return key
		}
	}
}

// NewJWTSecret returns a fresh jwt_secret: 48 random bytes in base64url
// (64 characters), over the 32 bytes HS256 needs.
func NewJWTSecret() string { return randomBase64(48) }

func randomBase64(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// LooksLikeJWT reports whether s has the shape of a compact JWS: three
// base64url segments, the first a JSON object. Credentials are told apart
// by it: a Bearer value of that shape is read as a JWT.
func LooksLikeJWT(s string) bool {
	if !strings.HasPrefix(s, "eyJ") || strings.Count(s, ".") != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
