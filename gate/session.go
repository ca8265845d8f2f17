package gate

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"time"
	"unsafe"

	"github.com/linkgate/linkgate/alias"
)

// A session cookie lets HLS segments, player reloads and other follow-up
// requests through without the credential that opened the alias. It holds
// the alias ID and version, the role, the user and an expiry, signed with
// HMAC-SHA256 under a key every node shares, so any node accepts it and an
// alias update (a new version) revokes it.
//
// Layout before base64url: version byte, alias version (8), expiry in Unix
// seconds (8), role (1), ID length (1), ID, user, MAC (32).
const (
	sessionFormat     = 1
	sessionFixed      = 1 + 8 + 8 + 1 + 1
	sessionMACSize    = sha256.Size
	maxSessionUser    = 128
	maxSessionPayload = sessionFixed + alias.MaxIDLength + maxSessionUser
	maxSessionValue   = (maxSessionPayload + sessionMACSize + 2) / 3 * 4
	hmacBlock         = 64
)

// SessionCookiePrefix starts the name of every session cookie; the alias ID
// completes it, so sessions of several aliases on one path do not collide.
const SessionCookiePrefix = "lgs_"

// SessionSigner issues and checks session cookies. It computes HMAC-SHA256
// by hand over stack buffers so that checking a cookie, which happens on
// every segment request, allocates nothing.
type SessionSigner struct {
	ipad, opad [hmacBlock]byte
}

// NewSessionSigner returns a signer with key (at least 32 random bytes).
func NewSessionSigner(key []byte) *SessionSigner {
	if len(key) > hmacBlock {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	s := new(SessionSigner)
	for i := range hmacBlock {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		s.ipad[i] = k ^ 0x36
		s.opad[i] = k ^ 0x5c
	}
	return s
}

// mac is HMAC-SHA256(key, msg) for msg of at most maxSessionPayload bytes.
func (s *SessionSigner) mac(msg []byte) [sessionMACSize]byte {
	var buf [hmacBlock + maxSessionPayload]byte
	n := copy(buf[:], s.ipad[:])
	n += copy(buf[n:], msg)
	inner := sha256.Sum256(buf[:n])
	n = copy(buf[:], s.opad[:])
	n += copy(buf[n:], inner[:])
	return sha256.Sum256(buf[:n])
}

// Issue returns the cookie value for grant g on alias a, valid until
// expiry; ok is false when the grant cannot be carried in a cookie (a user
// ID over 128 bytes), and the client keeps using its credential.
func (s *SessionSigner) Issue(a *alias.Alias, g alias.Grant, expiry time.Time) (value string, ok bool) {
	if len(g.User) > maxSessionUser || len(a.ID) > alias.MaxIDLength {
		return "", false
	}
	buf := make([]byte, 0, maxSessionPayload+sessionMACSize)
	buf = append(buf, sessionFormat)
	buf = binary.BigEndian.AppendUint64(buf, uint64(a.Version))
	buf = binary.BigEndian.AppendUint64(buf, uint64(expiry.Unix()))
	buf = append(buf, byte(g.Role), byte(len(a.ID)))
	buf = append(buf, a.ID...)
	buf = append(buf, g.User...)
	sum := s.mac(buf)
	buf = append(buf, sum[:]...)
	return base64.RawURLEncoding.EncodeToString(buf), true
}

// Verify returns the grant a cookie value carries if it is genuine, for
// this alias at its current version, and not expired at now. The grant's
// User is a fresh string only when the session has one.
func (s *SessionSigner) Verify(a *alias.Alias, value string, now time.Time) (alias.Grant, bool) {
	if len(value) > maxSessionValue {
		return alias.Grant{}, false
	}
	var buf [maxSessionPayload + sessionMACSize]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], unsafe.Slice(unsafe.StringData(value), len(value)))
	if err != nil || n < sessionFixed+sessionMACSize {
		return alias.Grant{}, false
	}
	payload, sum := buf[:n-sessionMACSize], buf[n-sessionMACSize:n]
	want := s.mac(payload)
	if subtle.ConstantTimeCompare(sum, want[:]) != 1 {
		return alias.Grant{}, false
	}
	idLen := int(payload[18])
	if payload[0] != sessionFormat || sessionFixed+idLen > len(payload) ||
		int64(binary.BigEndian.Uint64(payload[1:9])) != a.Version ||
		string(payload[sessionFixed:sessionFixed+idLen]) != a.ID {
		return alias.Grant{}, false
	}
	expiry := time.Unix(int64(binary.BigEndian.Uint64(payload[9:17])), 0)
	if !now.Before(expiry) {
		return alias.Grant{}, false
	}
	g := alias.Grant{Role: alias.Role(payload[17]), Expiry: expiry}
	if user := payload[sessionFixed+idLen:]; len(user) > 0 {
		g.User = string(user)
	}
	if g.Role == alias.RoleNone || g.Role > alias.RoleOwner {
		return alias.Grant{}, false
	}
	return g, true
}
