package aliasapi

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize bounds a JWT before any parsing: no legitimate alias token
// comes close, and parsing attacker-sized input is work for nothing.
const MaxTokenSize = 4096

// absoluteExpiresIn separates the two readings of the expires_in claim: the
// seed calls it both a lifetime in seconds and "a timestamp in the future".
// Values from 10^9 (September 2001) up are Unix times.
const absoluteExpiresIn = 1e9

// Defaults of the JWT rules.
const (
	DefaultJWTLeeway        = 30 * time.Second
	DefaultMaxTokenLifetime = 24 * time.Hour
)

// ErrInvalidToken is wrapped by every reason a JWT is refused.
var ErrInvalidToken = errors.New("invalid token")

// JWTVerifier checks the tokens organizers sign with an alias's jwt_secret.
// The same verifier serves the API's retrieve endpoint and the gateway.
type JWTVerifier struct {
	parser      *jwt.Parser
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
	return &JWTVerifier{
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"HS256"}),
			jwt.WithLeeway(leeway),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now),
		),
		leeway:      leeway,
		maxLifetime: maxLifetime,
		now:         now,
	}
}

// aliasClaims are the claims of the seed. Typed fields make a "host" that is
// not a boolean, or a "user_id" that is not a string, a decoding error.
type aliasClaims struct {
	jwt.RegisteredClaims
	Alias     string   `json:"alias"`
	UserID    *string  `json:"user_id"`
	Host      *bool    `json:"host"`
	ExpiresIn *float64 `json:"expires_in"`
}

// Verify checks token against alias a and returns what it grants: the host
// or viewer role, the user and when the grant ends.
func (v *JWTVerifier) Verify(a *Alias, token string) (Grant, error) {
	if len(token) > MaxTokenSize {
		return Grant{}, tokenError("token is larger than %d bytes", MaxTokenSize)
	}
	if a.JWTSecret == "" {
		return Grant{}, tokenError("the alias accepts no JWT")
	}
	var c aliasClaims
	_, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		// Always the secret of the alias in the URL, never of the alias
		// the token names: the claim is checked after the signature.
		return []byte(a.JWTSecret), nil
	})
	if err != nil {
		return Grant{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.Alias != a.ID {
		return Grant{}, tokenError("the alias claim does not name this alias")
	}
	expiry, err := v.expiry(&c)
	if err != nil {
		return Grant{}, err
	}
	g := Grant{Role: RoleViewer, Expiry: expiry}
	if c.Host != nil && *c.Host {
		g.Role = RoleHost
	}
	if c.UserID != nil {
		g.User = *c.UserID
	}
	return g, nil
}

// expiry is the earliest of exp and expires_in; a token needs one of them.
func (v *JWTVerifier) expiry(c *aliasClaims) (time.Time, error) {
	now := v.now()
	var expiry time.Time
	if c.ExpiresAt != nil {
		expiry = c.ExpiresAt.Time
	}
	if c.ExpiresIn != nil {
		in := *c.ExpiresIn
		var t time.Time
		switch {
		case in < 0:
			return time.Time{}, tokenError("expires_in is negative")
		case in >= absoluteExpiresIn:
			t = time.Unix(int64(in), 0)
		case c.IssuedAt == nil:
			return time.Time{}, tokenError("a relative expires_in needs an iat claim")
		default:
			t = c.IssuedAt.Add(time.Duration(in * float64(time.Second)))
		}
		if !now.Before(t.Add(v.leeway)) {
			return time.Time{}, tokenError("token has expired (expires_in)")
		}
		if expiry.IsZero() || t.Before(expiry) {
			expiry = t
		}
	}
	if expiry.IsZero() {
		return time.Time{}, tokenError("token does not expire: it needs exp or expires_in")
	}
	start := now
	if c.IssuedAt != nil {
		start = c.IssuedAt.Time
	}
	if v.maxLifetime > 0 && expiry.Sub(start) > v.maxLifetime {
		return time.Time{}, tokenError("token lives longer than the %s this gateway allows", v.maxLifetime)
	}
	return expiry, nil
}

func tokenError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}

// LooksLikeJWT reports whether s has the shape of a compact JWS: three
// base64url segments, the first a JSON object.
func LooksLikeJWT(s string) bool {
	if !strings.HasPrefix(s, "eyJ") || strings.Count(s, ".") != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
