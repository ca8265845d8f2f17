// Package alias is linkgate's domain: aliases and their validation, roles
// and grants, organization tokens, list cursors, and the interfaces of the
// stores that keep them. It knows nothing of HTTP or Caddy.
package alias

import (
	"encoding/binary"
	"time"
	"unique"
)

// Type is what an alias stands for: a live stream or a conference room.
type Type string

// The alias types the API accepts.
const (
	TypeLive       Type = "live"
	TypeConference Type = "conference"
)

// Valid reports whether t is one of the known alias types.
func (t Type) Valid() bool { return t == TypeLive || t == TypeConference }

// Alias is a short ID standing for a live stream or a conference room, with
// the rules that open it. An empty Name, Passcode, JWTSecret or StreamKey is
// unset (null in the API).
type Alias struct {
	ID        string
	OrgID     string
	Type      Type
	Name      string
	Passcode  string
	JWTSecret string
	StreamKey string
	ExpiredAt time.Time
	// InsertedAt keeps the store's full precision: list cursors point at it.
	InsertedAt time.Time
	UpdatedAt  time.Time
	// Version grows on every update, so anything derived from an older
	// state of the alias (a cached token) can tell.
	Version int64
	// AuthEpoch grows when what opens the alias to viewers and hosts
	// changes: its passcode or JWT secret. Session cookies and playback
	// tokens carry it, so renaming an alias keeps its viewers while a new
	// passcode ends their sessions. Publishers' sessions carry KeyEpoch
	// instead, so that a new stream key ends the publishers' alone.
	AuthEpoch int64
	// Previous is the JWT secret a rotation with a grace period replaced,
	// nil when there is none: nearly every alias, so a cached alias pays a
	// pointer for it rather than its fields.
	Previous *Rotation
	// Revocations are the revocations in force on the alias.
	Revocations []Revocation

	// Digests of the passcode and the stream key, made once by Prepare for
	// an alias that many requests will check.
	passcodeDigest, streamKeyDigest secretDigest
	// revokedBy indexes many revocations by what they refuse.
	revokedBy *revocationIndex
}

// Prepare computes once what checking credentials against a needs, for an
// alias about to be shared by many requests (a cached one). An alias that
// was not prepared is checked all the same, only slower.
func (a *Alias) Prepare() {
	a.passcodeDigest = digestOf(a.Passcode)
	a.streamKeyDigest = digestOf(a.StreamKey)
	a.revokedBy = indexRevocations(a.Revocations)
	// A node caches up to a million aliases over far fewer organizations
	// and two types: one copy of each of those strings serves them all.
	a.OrgID = unique.Make(a.OrgID).Value()
	a.Type = Type(unique.Make(string(a.Type)).Value())
}

// Rotation is a JWT secret replaced with a grace period: it still verifies
// tokens until Until, and the sessions of Epoch stay valid as long. Aliases
// share it when copied, so it is never changed once made.
type Rotation struct {
	JWTSecret string
	Until     time.Time
	Epoch     int64
}

// NewRotation returns the rotation a store read, or nil when secret is
// empty: the alias has none.
func NewRotation(secret string, until time.Time, epoch int64) *Rotation {
	if secret == "" {
		return nil
	}
	return &Rotation{JWTSecret: secret, Until: until, Epoch: epoch}
}

// Expired reports whether the alias no longer admits anyone but its owner.
func (a *Alias) Expired(now time.Time) bool { return !now.Before(a.ExpiredAt) }

// Public reports whether anyone may view the alias without a credential.
func (a *Alias) Public() bool { return a.Passcode == "" && a.JWTSecret == "" }

// Patch is a partial update. A nil pointer or an unset Field keeps the
// stored value; a set Field with an empty Value clears it.
type Patch struct {
	Type      *Type
	Name      Field
	Passcode  Field
	JWTSecret Field
	StreamKey Field
	ExpiredAt *time.Time
	// JWTSecretGrace keeps the replaced JWT secret, and the sessions made
	// under it, valid this long after a new one is set; zero ends them at
	// once.
	JWTSecretGrace time.Duration
}

// Field is an optional string attribute in a Patch.
type Field struct {
	Set   bool
	Value string
}

// Apply returns a with p applied.
func (p *Patch) Apply(a Alias) Alias {
	if p.Type != nil {
		a.Type = *p.Type
	}
	p.Name.apply(&a.Name)
	p.Passcode.apply(&a.Passcode)
	p.JWTSecret.apply(&a.JWTSecret)
	p.StreamKey.apply(&a.StreamKey)
	if p.ExpiredAt != nil {
		a.ExpiredAt = *p.ExpiredAt
	}
	return a
}

// Update returns old with p applied at now: when the passcode or the JWT
// secret changes, the credential epoch moves, ending every viewer's and
// host's session of the old one, unless the change is a new JWT secret
// with a grace period: then the old secret and its sessions stay valid
// until the grace ends. A new stream key changes KeyEpoch by itself.
func (p *Patch) Update(old Alias, now time.Time) Alias {
	a := p.Apply(old)
	if a.Passcode == old.Passcode && a.JWTSecret == old.JWTSecret {
		return a
	}
	a.AuthEpoch = old.AuthEpoch + 1
	a.Previous = nil
	if p.JWTSecretGrace > 0 && old.JWTSecret != "" && a.JWTSecret != "" && a.Passcode == old.Passcode {
		a.Previous = &Rotation{JWTSecret: old.JWTSecret, Until: now.Add(p.JWTSecretGrace), Epoch: old.AuthEpoch}
	}
	return a
}

// InGrace reports whether the previous JWT secret, and the sessions of
// the previous epoch, are still valid at now.
func (a *Alias) InGrace(now time.Time) bool {
	return a.Previous != nil && now.Before(a.Previous.Until)
}

// GraceUntil is when the grace of the previous JWT secret ends; the zero
// time when there is none.
func (a *Alias) GraceUntil() time.Time {
	if a.Previous == nil {
		return time.Time{}
	}
	return a.Previous.Until
}

// EpochValid reports whether something issued to role under epoch, a
// session cookie or a playback token, still opens the alias at now.
func (a *Alias) EpochValid(role Role, epoch int64, now time.Time) bool {
	if role == RolePublisher {
		return epoch == a.KeyEpoch()
	}
	return epoch == a.AuthEpoch || a.InGrace(now) && epoch == a.Previous.Epoch
}

// EpochOf is the epoch what is issued to role now carries.
func (a *Alias) EpochOf(role Role) int64 {
	if role == RolePublisher {
		return a.KeyEpoch()
	}
	return a.AuthEpoch
}

// KeyEpoch is the epoch of the stream key: taken from its digest, so that
// it changes with the key without being stored, and tells nothing of it.
func (a *Alias) KeyEpoch() int64 {
	d := a.streamKeyDigest
	if d == (secretDigest{}) {
		d = digestOf(a.StreamKey)
	}
	return int64(binary.BigEndian.Uint64(d[:8]))
}

func (f Field) apply(dst *string) {
	if f.Set {
		*dst = f.Value
	}
}
