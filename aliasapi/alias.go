// Package aliasapi is linkgate's domain: aliases, their validation, the
// credentials that open them, and the alias API as plain net/http handlers
// over a Store. It knows nothing of Caddy.
package aliasapi

import (
	"crypto/rand"
	"time"
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

// IDLength is the length of the alias IDs linkgate generates.
const IDLength = 12

// maxIDLength bounds IDs made by hand in SQL; anything longer cannot exist
// and is refused before any lookup.
const maxIDLength = 64

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns a fresh random alias ID of IDLength characters from [a-z0-9].
func NewID() string { return randomString(IDLength, idAlphabet) }

// randomString draws n characters uniformly from alphabet (at most 256
// characters), rejecting the bytes that would bias the draw.
func randomString(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, b := range buf {
			if int(b) < limit {
				out = append(out, alphabet[int(b)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// ValidID reports whether id could name an alias: 1 to 64 characters of
// [A-Za-z0-9_-]. Generated IDs are narrower; the wider set admits aliases an
// operator inserted by hand. Anything else is "not found" without a lookup.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
