package alias

import (
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// RevocationKind is what a revocation refuses.
type RevocationKind string

// The kinds of revocation.
const (
	// RevokeUser refuses every JWT and session of one user.
	RevokeUser RevocationKind = "user"
	// RevokeBefore refuses every JWT issued, and session made, before a
	// moment: one call re-keys an event without changing its secret.
	RevokeBefore RevocationKind = "before"
	// RevokeJTI refuses one JWT, by its jti, and the sessions made from it.
	RevokeJTI RevocationKind = "jti"
)

// MaxRevocations bounds the revocations in force on one alias: the API
// refuses more. A revocation of everything before a moment replaces any
// number of them.
const MaxRevocations = 10_000

// Revocation refuses credentials of an alias until it expires, which is
// once no credential it could match can still be valid.
type Revocation struct {
	Kind RevocationKind
	// Value is the user ID or the jti; empty for RevokeBefore.
	Value string
	// Before is the moment of a RevokeBefore.
	Before    time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Matches reports whether r refuses grant g.
func (r *Revocation) Matches(g *Grant) bool {
	switch r.Kind {
	case RevokeUser:
		return g.User != "" && g.User == r.Value
	case RevokeJTI:
		return g.JTI != "" && g.JTI == r.Value
	case RevokeBefore:
		return g.IssuedAt.Before(r.Before)
	}
	return false
}

// Revoked reports whether a revocation in force at now refuses g. An
// owner's organization token is never revoked here: it is revoked as a
// token.
func (a *Alias) Revoked(g *Grant, now time.Time) bool {
	if g.Role == RoleOwner || len(a.Revocations) == 0 {
		return false
	}
	if x := a.revokedBy; x != nil {
		return x.revoked(g, now)
	}
	for i := range a.Revocations {
		r := &a.Revocations[i]
		if now.Before(r.ExpiresAt) && r.Matches(g) {
			return true
		}
	}
	return false
}

// indexedRevocations is how many revocations an alias has before they are
// indexed: a few are scanned in about the time of a lookup, without the
// index's memory.
const indexedRevocations = 4

// revocationIndex holds the revocations of an alias by user and by jti,
// with when each expires, so that a request of an event that has revoked
// thousands costs two lookups rather than a scan.
type revocationIndex struct {
	users, jtis map[string]time.Time
	befores     []Revocation
}

func indexRevocations(in []Revocation) *revocationIndex {
	if len(in) <= indexedRevocations {
		return nil
	}
	x := &revocationIndex{users: map[string]time.Time{}, jtis: map[string]time.Time{}}
	for _, r := range in {
		var m map[string]time.Time
		switch r.Kind {
		case RevokeUser:
			m = x.users
		case RevokeJTI:
			m = x.jtis
		default:
			x.befores = append(x.befores, r)
			continue
		}
		if r.ExpiresAt.After(m[r.Value]) {
			m[r.Value] = r.ExpiresAt
		}
	}
	return x
}

func (x *revocationIndex) revoked(g *Grant, now time.Time) bool {
	if until, ok := x.users[g.User]; ok && g.User != "" && now.Before(until) {
		return true
	}
	if until, ok := x.jtis[g.JTI]; ok && g.JTI != "" && now.Before(until) {
		return true
	}
	for i := range x.befores {
		if r := &x.befores[i]; now.Before(r.ExpiresAt) && r.Matches(g) {
			return true
		}
	}
	return false
}

// KeyID is the kid of a JWT secret: the first 9 bytes of its SHA-256 in
// base64url, 12 characters. A token may name the secret it is signed with
// by this kid in its header, as a rotation with a grace period keeps two.
func KeyID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}
