// Package alias is linkgate's domain: aliases and their validation, roles
// and grants, organization tokens, list cursors, and the interfaces of the
// stores that keep them. It knows nothing of HTTP or Caddy.
package alias

import "time"

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
	// state of the alias (a session cookie, a cached token) can tell.
	Version int64

	// Digests of the passcode and the stream key, made once by Prepare for
	// an alias that many requests will check.
	passcodeDigest, streamKeyDigest secretDigest
}

// Prepare computes once what checking credentials against a needs, for an
// alias about to be shared by many requests (a cached one). An alias that
// was not prepared is checked all the same, only slower.
func (a *Alias) Prepare() {
	a.passcodeDigest = digestOf(a.Passcode)
	a.streamKeyDigest = digestOf(a.StreamKey)
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

func (f Field) apply(dst *string) {
	if f.Set {
		*dst = f.Value
	}
}
