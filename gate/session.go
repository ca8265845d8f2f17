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
// the alias ID and credential epoch, the role, the user, the jti of the
// JWT it came from, when it was made and when it ends, signed with
// HMAC-SHA256 under a key every node shares, so any node accepts it, a new
// passcode or secret (a new epoch) ends it, and revocations can match it.
//
// Layout before base64url: format (1), kind (1), epoch (8), expiry in Unix
// seconds (8), issue time in Unix seconds (8), role (1), ID length (1), jti
// length (1), ID, jti, user, MAC (32). The kind keeps a value made for one
// use from being accepted for another: a cookie is no playback token, and a
// playback token no cookie.
//
// A playback token's MAC also covers the path it is bound to (see
// IssuePlayback), length first, without carrying it: the verifier knows the
// path from the request, and the token stays as short as a cookie.
const (
	sessionFormat     = 2
	sessionFixed      = 1 + 1 + 8 + 8 + 8 + 1 + 1 + 1
	sessionMACSize    = sha256.Size
	maxSessionUser    = 128
	maxSessionJTI     = 64
	maxSessionPayload = sessionFixed + alias.MaxIDLength + maxSessionJTI + maxSessionUser
	maxSessionValue   = (maxSessionPayload + sessionMACSize + 2) / 3 * 4
	hmacBlock         = 64
	// MaxPlaybackScope bounds the path a playback token is bound to.
	MaxPlaybackScope = 256
)

// signedKind is what a signed value is for.
type signedKind byte

const (
	kindSession  signedKind = 1
	kindPlayback signedKind = 2
)

// SessionCookiePrefix starts the name of every session cookie; the alias ID
// completes it, so sessions of several aliases on one path do not collide.
const SessionCookiePrefix = "lgs_"

// SessionSigner issues and checks session cookies and playback tokens. It
// computes HMAC-SHA256 by hand over stack buffers so that checking either,
// which happens on every segment request, allocates nothing.
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

// mac is HMAC-SHA256(key, msg) for msg of at most maxSessionPayload bytes,
// and for a playback token HMAC-SHA256(key, len(scope) || scope || msg):
// the length comes first, so no scope and message can be split another way.
func (s *SessionSigner) mac(kind signedKind, scope string, msg []byte) [sessionMACSize]byte {
	var buf [hmacBlock + 2 + MaxPlaybackScope + maxSessionPayload]byte
	n := copy(buf[:], s.ipad[:])
	if kind == kindPlayback {
		n += copy(buf[n:], []byte{byte(len(scope) >> 8), byte(len(scope))})
		n += copy(buf[n:], scope)
	}
	n += copy(buf[n:], msg)
	inner := sha256.Sum256(buf[:n])
	n = copy(buf[:], s.opad[:])
	n += copy(buf[n:], inner[:])
	return sha256.Sum256(buf[:n])
}

// Issue returns the cookie value for grant g on alias a, made at now and
// valid until expiry; ok is false when the grant cannot be carried in a
// cookie (a user ID over 128 bytes, a jti over 64), and the client keeps
// using its credential.
func (s *SessionSigner) Issue(a *alias.Alias, g alias.Grant, now, expiry time.Time) (value string, ok bool) {
	return s.sign(kindSession, "", a, g, now, expiry)
}

// IssuePlayback returns a playback token for grant g on alias a, made at
// now and valid until expiry, for requests whose path up to the alias ID is
// scope; ok is false when the grant cannot be carried (as for Issue) or
// scope is longer than MaxPlaybackScope.
func (s *SessionSigner) IssuePlayback(a *alias.Alias, g alias.Grant, scope string, now, expiry time.Time) (value string, ok bool) {
	if len(scope) > MaxPlaybackScope {
		return "", false
	}
	return s.sign(kindPlayback, scope, a, g, now, expiry)
}

func (s *SessionSigner) sign(kind signedKind, scope string, a *alias.Alias, g alias.Grant, now, expiry time.Time) (string, bool) {
	if len(g.User) > maxSessionUser || len(g.JTI) > maxSessionJTI || len(a.ID) > alias.MaxIDLength {
		return "", false
	}
	issued := sessionIssuedAt(g, now)
	buf := make([]byte, 0, maxSessionPayload+sessionMACSize)
	buf = append(buf, sessionFormat, byte(kind))
	epoch := g.Epoch
	if epoch == 0 {
		epoch = a.EpochOf(g.Role)
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(epoch))
	buf = binary.BigEndian.AppendUint64(buf, uint64(expiry.Unix()))
	buf = binary.BigEndian.AppendUint64(buf, uint64(issued.Unix()))
	buf = append(buf, byte(g.Role), byte(len(a.ID)), byte(len(g.JTI)))
	buf = append(buf, a.ID...)
	buf = append(buf, g.JTI...)
	buf = append(buf, g.User...)
	sum := s.mac(kind, scope, buf)
	buf = append(buf, sum[:]...)
	return base64.RawURLEncoding.EncodeToString(buf), true
}

// sessionIssuedAt is the moment a session made at now for grant g says it
// was issued, to the second: as old as the credential it came from, so
// that a revocation of what was issued before a moment reaches it, and
// never later than now.
func sessionIssuedAt(g alias.Grant, now time.Time) time.Time {
	if !g.IssuedAt.IsZero() && g.IssuedAt.Before(now) {
		return g.IssuedAt.Truncate(time.Second)
	}
	return now.Truncate(time.Second)
}

// Verify returns the grant a cookie value carries if it is genuine, for
// this alias at an epoch it still accepts, and not expired at now. A
// session of the epoch before a rotation with a grace period ends with the
// grace. The grant's User and JTI are fresh strings only when the session
// has them.
func (s *SessionSigner) Verify(a *alias.Alias, value string, now time.Time) (alias.Grant, bool) {
	g, v := s.verify(kindSession, "", a, value, now)
	return g, v == signedValid
}

// VerifyPlayback returns the grant a playback token carries, as Verify does
// for a cookie, for a request whose path up to the alias ID is scope. Its
// reason tells a token that is not genuine, or not for this alias or path
// (ReasonPlaybackTokenInvalid), from one of an epoch the alias no longer
// accepts (ReasonCredentialChanged) and one past its expiry
// (ReasonPlaybackTokenExpired).
func (s *SessionSigner) VerifyPlayback(a *alias.Alias, value, scope string, now time.Time) (alias.Grant, Reason) {
	if len(scope) > MaxPlaybackScope {
		return alias.Grant{}, ReasonPlaybackTokenInvalid
	}
	g, v := s.verify(kindPlayback, scope, a, value, now)
	switch v {
	case signedValid:
		return g, 0
	case signedStale:
		return alias.Grant{}, ReasonCredentialChanged
	case signedExpired:
		return alias.Grant{}, ReasonPlaybackTokenExpired
	}
	return alias.Grant{}, ReasonPlaybackTokenInvalid
}

// signedVerdict is what checking a signed value found.
type signedVerdict uint8

const (
	signedInvalid signedVerdict = iota
	signedValid
	// signedStale: genuine, of an epoch the alias no longer accepts.
	signedStale
	signedExpired
)

func (s *SessionSigner) verify(kind signedKind, scope string, a *alias.Alias, value string, now time.Time) (alias.Grant, signedVerdict) {
	if len(value) > maxSessionValue {
		return alias.Grant{}, signedInvalid
	}
	var buf [maxSessionPayload + sessionMACSize]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], unsafe.Slice(unsafe.StringData(value), len(value)))
	if err != nil || n < sessionFixed+sessionMACSize {
		return alias.Grant{}, signedInvalid
	}
	payload, sum := buf[:n-sessionMACSize], buf[n-sessionMACSize:n]
	want := s.mac(kind, scope, payload)
	if subtle.ConstantTimeCompare(sum, want[:]) != 1 {
		return alias.Grant{}, signedInvalid
	}
	idLen, jtiLen := int(payload[27]), int(payload[28])
	epoch := int64(binary.BigEndian.Uint64(payload[2:10]))
	if payload[0] != sessionFormat || signedKind(payload[1]) != kind || sessionFixed+idLen+jtiLen > len(payload) ||
		string(payload[sessionFixed:sessionFixed+idLen]) != a.ID {
		return alias.Grant{}, signedInvalid
	}
	if !a.EpochValid(alias.Role(payload[26]), epoch, now) {
		return alias.Grant{}, signedStale
	}
	expiry := time.Unix(int64(binary.BigEndian.Uint64(payload[10:18])), 0)
	if epoch != a.EpochOf(alias.Role(payload[26])) && a.GraceUntil().Before(expiry) {
		expiry = a.GraceUntil()
	}
	if !now.Before(expiry) {
		return alias.Grant{}, signedExpired
	}
	g := alias.Grant{
		Role:     alias.Role(payload[26]),
		Expiry:   expiry,
		IssuedAt: time.Unix(int64(binary.BigEndian.Uint64(payload[18:26])), 0),
		Epoch:    epoch,
	}
	if g.Role == alias.RoleNone || g.Role > alias.RoleOwner {
		return alias.Grant{}, signedInvalid
	}
	rest := payload[sessionFixed+idLen:]
	if jti := rest[:jtiLen]; len(jti) > 0 {
		g.JTI = string(jti)
	}
	if user := rest[jtiLen:]; len(user) > 0 {
		g.User = string(user)
	}
	return g, signedValid
}
