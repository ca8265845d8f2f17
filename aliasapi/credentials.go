package aliasapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"
)

// Role is what a credential lets its holder do with an alias.
type Role uint8

// The roles, from least to most. Publishing and hosting are separate
// rights, not steps of one ladder: see Allows.
const (
	RoleNone Role = iota
	RoleViewer
	RolePublisher
	RoleHost
	RoleOwner
)

var roleNames = [...]string{"", "viewer", "publisher", "host", "owner"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return ""
}

// Requirement is what a route asks of a credential.
type Requirement uint8

// The requirements of alias_auth's require subdirective.
const (
	RequireViewer Requirement = iota
	RequirePublish
	RequireHost
)

// Allows reports whether role r meets requirement q: any role views;
// publishers, hosts and owners publish; hosts and owners host.
func (r Role) Allows(q Requirement) bool {
	switch q {
	case RequireViewer:
		return r != RoleNone
	case RequirePublish:
		return r == RolePublisher || r == RoleHost || r == RoleOwner
	case RequireHost:
		return r == RoleHost || r == RoleOwner
	}
	return false
}

// Grant is what a verified credential proved.
type Grant struct {
	Role Role
	User string
	// Expiry is when the credential stops being valid; zero means it lasts
	// as long as the alias does.
	Expiry time.Time
}

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
