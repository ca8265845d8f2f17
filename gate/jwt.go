package gate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/alias"
)

// MaxTokenSize bounds a JWT before any parsing: no legitimate alias token
// comes close, and parsing attacker-sized input is work for nothing.
const MaxTokenSize = 4096

// absoluteExpiresIn separates the two readings of the expires_in claim,
// which organizers use both as a lifetime in seconds and as the Unix time
// the token ends: values from 10^9 (September 2001) up are Unix times.
const absoluteExpiresIn = 1e9

// Defaults of the JWT rules.
const (
	DefaultJWTLeeway        = 30 * time.Second
	DefaultMaxTokenLifetime = 24 * time.Hour
)

// JWTVerifier checks the tokens organizers sign with an alias's
// jwt_secret: HS256 only, every claim linkgate reads parsed exactly.
type JWTVerifier struct {
	leeway      time.Duration
	maxLifetime time.Duration
	now         func() time.Time
}

// NewJWTVerifier returns a verifier. leeway is the clock skew tolerated on
// exp, nbf and iat; maxLifetime is the longest a token may be valid for,
// counted from its iat (or from now when it has none). now may be nil.
func NewJWTVerifier(leeway, maxLifetime time.Duration, now func() time.Time) *JWTVerifier {
	if now == nil {
		now = time.Now
	}
	return &JWTVerifier{leeway: leeway, maxLifetime: maxLifetime, now: now}
}

// claims are the claims linkgate reads. A claim is known only by its exact
// name: "HOST" is not "host", and an unknown claim is ignored.
type claims struct {
	alias     string
	userID    *string
	jti       string
	host      bool
	expiresIn *float64
	exp       *float64
	nbf       *float64
	iat       *float64
}

// maxJTI bounds the jti claim: it is kept with revocations and sessions.
const maxJTI = 64

// Verify checks token against alias a and returns what it grants: the host
// or viewer role, the user and when the grant ends. A refusal names the
// rule that refused it.
func (v *JWTVerifier) Verify(a *alias.Alias, token string) (alias.Grant, Reason) {
	if len(token) > MaxTokenSize {
		return alias.Grant{}, ReasonTokenTooLarge
	}
	if a.JWTSecret == "" {
		return alias.Grant{}, ReasonNoJWTSecret
	}
	head, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return alias.Grant{}, ReasonTokenMalformed
	}
	header, err := decodeSegment(head)
	if err != nil {
		return alias.Grant{}, ReasonTokenMalformed
	}
	kid, r := checkHeader(header)
	if r != 0 {
		return alias.Grant{}, r
	}
	signature, err := decodeSegment(sig)
	if err != nil {
		return alias.Grant{}, ReasonTokenMalformed
	}
	previous, r := v.checkSignature(a, token[:len(head)+1+len(payload)], signature, kid)
	if r != 0 {
		return alias.Grant{}, r
	}
	body, err := decodeSegment(payload)
	if err != nil {
		return alias.Grant{}, ReasonTokenMalformed
	}
	var c claims
	if r := c.parse(body); r != 0 {
		return alias.Grant{}, r
	}
	if c.alias != a.ID {
		return alias.Grant{}, ReasonAliasMismatch
	}
	expiry, r := v.expiry(&c)
	if r != 0 {
		return alias.Grant{}, r
	}
	if previous && a.PreviousUntil.Before(expiry) {
		// A token of the replaced secret ends with the grace period.
		expiry = a.PreviousUntil
	}
	g := alias.Grant{Role: alias.RoleViewer, Expiry: expiry, JTI: c.jti, Epoch: a.AuthEpoch}
	if previous {
		g.Epoch = a.PreviousEpoch
	}
	if c.host {
		g.Role = alias.RoleHost
	}
	if c.userID != nil {
		g.User = *c.userID
	}
	if c.iat != nil {
		g.IssuedAt = unixTime(*c.iat)
	}
	return g, 0
}

// checkSignature verifies an HS256 signature with the alias's secret, or
// during a rotation's grace period with the previous one: the one the kid
// names, or without a kid the current and then the previous. It reports
// whether the previous secret verified it. Always the secrets of the alias
// in the URL, never of the alias the token names: the claim is checked
// after the signature.
func (v *JWTVerifier) checkSignature(a *alias.Alias, signed string, signature []byte, kid string) (previous bool, r Reason) {
	inGrace := a.InGrace(v.now())
	verify := func(secret string) bool {
		return jwt.SigningMethodHS256.Verify(signed, signature, []byte(secret)) == nil
	}
	switch {
	case kid == "":
		if verify(a.JWTSecret) {
			return false, 0
		}
		if inGrace && verify(a.PreviousJWTSecret) {
			return true, 0
		}
	case kid == alias.KeyID(a.JWTSecret):
		if verify(a.JWTSecret) {
			return false, 0
		}
	case inGrace && kid == alias.KeyID(a.PreviousJWTSecret):
		if verify(a.PreviousJWTSecret) {
			return true, 0
		}
	default:
		return false, ReasonUnknownKeyID
	}
	return false, ReasonBadSignature
}

// decodeSegment decodes a base64url segment without padding, as RFC 7515
// writes them.
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// checkHeader accepts a JOSE header of HS256 with no critical extension,
// and returns its kid.
func checkHeader(header []byte) (kid string, r Reason) {
	var alg string
	r = eachMember(header, func(name string, dec *json.Decoder) Reason {
		switch name {
		case "alg":
			if dec.Decode(&alg) != nil {
				return ReasonTokenMalformed
			}
		case "kid":
			if dec.Decode(&kid) != nil {
				return ReasonTokenMalformed
			}
		case "crit":
			return ReasonCritHeader
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return ReasonTokenMalformed
			}
		}
		return 0
	})
	switch {
	case r == ReasonBadClaims:
		return "", ReasonTokenMalformed
	case r != 0:
		return "", r
	case alg != "HS256":
		return "", ReasonBadAlgorithm
	}
	return kid, 0
}

func (c *claims) parse(body []byte) Reason {
	return eachMember(body, func(name string, dec *json.Decoder) Reason {
		var ok bool
		switch name {
		case "alias":
			ok = dec.Decode(&c.alias) == nil
		case "user_id":
			var s *string
			if ok = dec.Decode(&s) == nil && s != nil; ok {
				if !validHeaderValue(*s) {
					return ReasonBadUserID
				}
				c.userID = s
			}
		case "jti":
			if ok = dec.Decode(&c.jti) == nil; ok && (len(c.jti) > maxJTI || !validHeaderValue(c.jti)) {
				return ReasonBadClaims
			}
		case "host":
			var b *bool
			ok = dec.Decode(&b) == nil && b != nil
			c.host = ok && *b
		case "expires_in":
			c.expiresIn, ok = decodeNumber(dec)
		case "exp":
			c.exp, ok = decodeNumber(dec)
		case "nbf":
			c.nbf, ok = decodeNumber(dec)
		case "iat":
			c.iat, ok = decodeNumber(dec)
		default:
			var skip json.RawMessage
			ok = dec.Decode(&skip) == nil
		}
		if !ok {
			return ReasonBadClaims
		}
		return 0
	})
}

// eachMember walks the members of one JSON object, calling member for each
// with the decoder positioned at its value. A duplicate name, anything but
// one object, or trailing data is ReasonBadClaims; member's own refusal
// stops the walk.
func eachMember(data []byte, member func(name string, dec *json.Decoder) Reason) Reason {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ReasonBadClaims
	}
	var seen []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ReasonBadClaims
		}
		name := t.(string)
		for _, s := range seen {
			if s == name {
				return ReasonBadClaims
			}
		}
		seen = append(seen, name)
		if r := member(name, dec); r != 0 {
			return r
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return ReasonBadClaims
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ReasonBadClaims
	}
	return 0
}

// decodeNumber reads a JSON number; a string, even of digits, is not one
// (json.Number alone would take "3600").
func decodeNumber(dec *json.Decoder) (*float64, bool) {
	var raw json.RawMessage
	if dec.Decode(&raw) != nil || len(raw) == 0 || raw[0] == '"' {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, false
	}
	return &f, true
}

// validHeaderValue reports whether s can be sent as an HTTP header value:
// the user ID goes to the upstream in X-Linkgate-User.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func unixTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// expiry checks the times of c and returns when the token ends: the
// earliest of exp and expires_in. A token needs one of them.
func (v *JWTVerifier) expiry(c *claims) (time.Time, Reason) {
	now := v.now()
	var expiry, issued time.Time
	if c.iat != nil {
		issued = unixTime(*c.iat)
		if issued.After(now.Add(v.leeway)) {
			return time.Time{}, ReasonIssuedInFuture
		}
	}
	if c.nbf != nil && unixTime(*c.nbf).After(now.Add(v.leeway)) {
		return time.Time{}, ReasonTokenNotYetValid
	}
	if c.exp != nil {
		expiry = unixTime(*c.exp)
	}
	if c.expiresIn != nil {
		in := *c.expiresIn
		var t time.Time
		switch {
		case in < 0:
			return time.Time{}, ReasonBadClaims
		case in >= absoluteExpiresIn:
			t = unixTime(in)
		case c.iat == nil:
			return time.Time{}, ReasonExpiresInNeedsIAT
		default:
			t = issued.Add(time.Duration(in * float64(time.Second)))
		}
		if expiry.IsZero() || t.Before(expiry) {
			expiry = t
		}
	}
	if expiry.IsZero() {
		return time.Time{}, ReasonNoExpiry
	}
	if !now.Before(expiry.Add(v.leeway)) {
		return time.Time{}, ReasonTokenExpired
	}
	start := now
	if c.iat != nil {
		start = issued
	}
	if v.maxLifetime > 0 && expiry.Sub(start) > v.maxLifetime {
		return time.Time{}, ReasonLifetimeTooLong
	}
	return expiry, 0
}
