package alias

import (
	"crypto/sha256"
	"crypto/subtle"
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

// secretDigest is the SHA-256 of a secret; the zero value means "not made
// yet".
type secretDigest struct {
	sum [sha256.Size]byte
	ok  bool
}

func digestOf(secret string) secretDigest {
	if secret == "" {
		return secretDigest{}
	}
	return secretDigest{sum: sha256.Sum256([]byte(secret)), ok: true}
}

// equalSecret compares digests, not the strings, so that neither the
// content nor the length of the secret shows in the timing. want is the
// secret's digest when Prepare made it.
func equalSecret(want secretDigest, secret, given string) bool {
	if !want.ok {
		want = digestOf(secret)
	}
	g := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(want.sum[:], g[:]) == 1
}
