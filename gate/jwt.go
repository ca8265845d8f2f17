package gate

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	if previous && a.Previous.Until.Before(expiry) {
		// A token of the replaced secret ends with the grace period.
		expiry = a.Previous.Until
	}
	g := alias.Grant{Role: alias.RoleViewer, Expiry: expiry, JTI: c.jti, Epoch: a.AuthEpoch}
	if previous {
		g.Epoch = a.Previous.Epoch
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
		if inGrace && verify(a.Previous.JWTSecret) {
			return true, 0
		}
	case kid == alias.KeyID(a.JWTSecret):
		if verify(a.JWTSecret) {
			return false, 0
		}
	case inGrace && kid == alias.KeyID(a.Previous.JWTSecret):
		if verify(a.Previous.JWTSecret) {
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
	r = eachMember(header, func(name string, value []byte) Reason {
		switch name {
		case "alg":
			if json.Unmarshal(value, &alg) != nil {
				return ReasonTokenMalformed
			}
		case "kid":
			if json.Unmarshal(value, &kid) != nil {
				return ReasonTokenMalformed
			}
		case "crit":
			return ReasonCritHeader
		default:
			if !json.Valid(value) {
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
	return eachMember(body, func(name string, value []byte) Reason {
		var ok bool
		switch name {
		case "alias":
			ok = json.Unmarshal(value, &c.alias) == nil
		case "user_id":
			var s *string
			if ok = json.Unmarshal(value, &s) == nil && s != nil; ok {
				if !validHeaderValue(*s) {
					return ReasonBadUserID
				}
				c.userID = s
			}
		case "jti":
			if ok = json.Unmarshal(value, &c.jti) == nil; ok && (len(c.jti) > maxJTI || !validHeaderValue(c.jti)) {
				return ReasonBadClaims
			}
		case "host":
			var b *bool
			ok = json.Unmarshal(value, &b) == nil && b != nil
			c.host = ok && *b
		case "expires_in":
			c.expiresIn, ok = decodeNumber(value)
		case "exp":
			c.exp, ok = decodeNumber(value)
		case "nbf":
			c.nbf, ok = decodeNumber(value)
		case "iat":
			c.iat, ok = decodeNumber(value)
		default:
			ok = json.Valid(value)
		}
		if !ok {
			return ReasonBadClaims
		}
		return 0
	})
}

// eachMember walks the members of one JSON object, calling member with
// each name (unescaped) and its value as it is written, which member must
// decode or check itself. A duplicate name, anything but one object, or
// trailing data is ReasonBadClaims; member's own refusal stops the walk.
//
// It splits the object itself rather than with encoding/json's streaming
// decoder, which builds and drops a syntax error for the delimiter after
// every value it reads: half of a first-seen token's allocations.
func eachMember(data []byte, member func(name string, value []byte) Reason) Reason {
	i := skipSpace(data, 0)
	if i == len(data) || data[i] != '{' {
		return ReasonBadClaims
	}
	i = skipSpace(data, i+1)
	var seenBuf [12]string
	seen := seenBuf[:0]
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			end, ok := skipString(data, i)
			if !ok {
				return ReasonBadClaims
			}
			name, ok := unquote(data[i:end])
			if !ok {
				return ReasonBadClaims
			}
			for _, s := range seen {
				if s == name {
					return ReasonBadClaims
				}
			}
			seen = append(seen, name)
			i = skipSpace(data, end)
			if i == len(data) || data[i] != ':' {
				return ReasonBadClaims
			}
			i = skipSpace(data, i+1)
			end, ok = skipValue(data, i)
			if !ok {
				return ReasonBadClaims
			}
			if r := member(name, data[i:end]); r != 0 {
				return r
			}
			i = skipSpace(data, end)
			if i == len(data) {
				return ReasonBadClaims
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return ReasonBadClaims
			}
			i = skipSpace(data, i+1)
		}
	}
	if skipSpace(data, i) != len(data) {
		return ReasonBadClaims
	}
	return 0
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the end of the JSON string that starts at i.
func skipString(data []byte, i int) (int, bool) {
	if i == len(data) || data[i] != '"' {
		return 0, false
	}
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// skipValue returns the end of the JSON value that starts at i. It only
// finds where the value ends: whether it is valid JSON is for whoever
// decodes it.
func skipValue(data []byte, i int) (int, bool) {
	if i == len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				end, ok := skipString(data, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	// A number or a literal: up to the next delimiter or space.
	start := i
	for ; i < len(data); i++ {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i, i > start
		}
	}
	return i, i > start
}

// unquote decodes a member name: as it is when it needs no decoding, else
// through encoding/json.
func unquote(quoted []byte) (string, bool) {
	raw := quoted[1 : len(quoted)-1]
	plain := utf8.Valid(raw)
	for _, c := range raw {
		if c < 0x20 || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(raw), true
	}
	var name string
	return name, json.Unmarshal(quoted, &name) == nil
}

// decodeNumber reads a JSON number; a string, even of digits, is not one.
func decodeNumber(value []byte) (*float64, bool) {
	if len(value) == 0 || value[0] == '"' || !json.Valid(value) {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(value), 64)
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
