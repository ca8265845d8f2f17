package gate

import (
	"net/http"
	"net/url"
	"strings"
)

// Kind tells how a credential is read.
type Kind uint8

// The kinds of credential.
const (
	// KindNone: nothing was presented.
	KindNone Kind = iota
	// KindBearer is read by its shape: a JWT, an organization token (by
	// its prefix), otherwise a stream key.
	KindBearer
	KindJWT
	KindStreamKey
	KindPasscode
	// KindMalformed: a credential parameter whose value is not valid
	// percent-encoding. It is a wrong credential, not a missing one, so
	// that a guesser cannot probe without being counted.
	KindMalformed
	// KindOrganization: an organization the entry point has already
	// authenticated, its ID as the value; decided as a valid token of
	// that organization would be. Only code sets it (the command line,
	// which holds the database): nothing read from a request becomes one.
	KindOrganization
	// KindPlayback: a playback token. It is read beside the credential,
	// like the session cookie, never as it.
	KindPlayback
)

// Credential is the one secret a client presented, besides a session
// cookie. Only one is ever checked: trying every one a request carries
// would multiply a guesser's attempts.
type Credential struct {
	Kind  Kind
	Value string
}

// QueryParam is a query parameter that carries a credential, and how its
// value is read.
type QueryParam struct {
	Name string
	Kind Kind
}

// maxQueryParams bounds the parameter lists FromQuery reads, so that it
// can keep what it saw on the stack.
const maxQueryParams = 8

// Credential parameters and the passcode header of the gateway and the
// API's retrieve endpoint.
const (
	QueryToken       = "token"
	QueryJWT         = "jwt"
	QueryAccessToken = "access_token"
	QueryPasscode    = "passcode"
	HeaderPasscode   = "X-Alias-Passcode"
	// QueryPlayback carries a playback token: short, since every URI of a
	// rewritten playlist repeats it, and named so that no media server's
	// own parameter is taken for it.
	QueryPlayback = "lgt"
)

// HTTPParams are the credential parameters of HTTP clients, in the order
// they are consulted: players and WebSockets that cannot set headers put
// their JWT in one of the first three.
var HTTPParams = []QueryParam{
	{QueryToken, KindBearer},
	{QueryJWT, KindBearer},
	{QueryAccessToken, KindBearer},
	{QueryPasscode, KindPasscode},
}

// playbackParams is where a playback token is read.
var playbackParams = []QueryParam{{QueryPlayback, KindPlayback}}

// StrippedParams are the query parameters the gateway removes from what
// the upstream gets: the credential parameters and the playback token.
var StrippedParams = []QueryParam{
	{QueryToken, KindBearer},
	{QueryJWT, KindBearer},
	{QueryAccessToken, KindBearer},
	{QueryPasscode, KindPasscode},
	{QueryPlayback, KindPlayback},
}

// FromQuery returns the credential a raw query presents: the first
// non-empty value of the first parameter of params that has one. Empty
// values count as absent (clients send "?token=" for "no token"). A
// parameter name is matched after percent-decoding, as every upstream
// decodes it.
func FromQuery(rawQuery string, params []QueryParam) (Credential, bool) {
	var found [maxQueryParams]string
	var seen [maxQueryParams]bool
	for rest := rawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		key, value, _ := strings.Cut(pair, "=")
		if value == "" {
			continue
		}
		if i := paramIndex(key, params); i >= 0 && !seen[i] {
			found[i], seen[i] = value, true
		}
	}
	for i := range params {
		if !seen[i] {
			continue
		}
		v, err := unescapeQuery(found[i])
		if err != nil {
			return Credential{Kind: KindMalformed}, true
		}
		if v != "" {
			return Credential{Kind: params[i].Kind, Value: v}, true
		}
	}
	return Credential{}, false
}

// QueryValue returns the first value of name in a raw query without
// building the whole url.Values; ok is false when it is absent or not
// valid percent-encoding.
func QueryValue(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		key, value, _ := strings.Cut(pair, "=")
		if key != name {
			continue
		}
		unescaped, err := unescapeQuery(value)
		return unescaped, err == nil
	}
	return "", false
}

// paramIndex is the index in params of a raw query key, or -1.
func paramIndex(key string, params []QueryParam) int {
	if strings.ContainsAny(key, "%+") {
		k, err := url.QueryUnescape(key)
		if err != nil {
			return -1
		}
		key = k
	}
	for i := range params {
		if i < maxQueryParams && key == params[i].Name {
			return i
		}
	}
	return -1
}

func unescapeQuery(v string) (string, error) {
	if strings.ContainsAny(v, "%+") {
		return url.QueryUnescape(v)
	}
	return v, nil
}

// WithoutParams drops the parameters of params from a raw query, whatever
// their values, and keeps the rest as it was written.
func WithoutParams(rawQuery string, params []QueryParam) string {
	var kept strings.Builder
	found := false
	for rest, start := rawQuery, 0; rest != ""; {
		pair, next, more := strings.Cut(rest, "&")
		key, _, _ := strings.Cut(pair, "=")
		if paramIndex(key, params) >= 0 {
			if !found {
				found = true
				kept.WriteString(strings.TrimSuffix(rawQuery[:start], "&"))
			}
		} else if found && pair != "" {
			if kept.Len() > 0 {
				kept.WriteByte('&')
			}
			kept.WriteString(pair)
		}
		start += len(pair)
		if more {
			start++
		}
		rest = next
	}
	if !found {
		return rawQuery
	}
	return kept.String()
}

// Presented is what an HTTP client presented for an alias.
type Presented struct {
	// Session is the value of the alias's session cookie, if HasSession.
	Session    string
	HasSession bool
	// Playback is the playback token of the query, if HasPlayback; empty
	// when its value is not valid percent-encoding.
	Playback    string
	HasPlayback bool
	// Credential is the first other credential, in the order the gateway
	// consults them: Authorization, the token parameters, the passcode
	// parameter, the passcode header.
	Credential Credential
}

// ReadHTTP finds what r presents for the alias aliasID.
func ReadHTTP(r *http.Request, aliasID string) Presented {
	var p Presented
	p.Session, p.HasSession = cookieValue(r, aliasID)
	if r.URL.RawQuery != "" {
		if c, ok := FromQuery(r.URL.RawQuery, playbackParams); ok {
			p.Playback, p.HasPlayback = c.Value, true
		}
	}
	if auth := r.Header["Authorization"]; len(auth) > 0 {
		if v := bearer(auth[0]); v != "" {
			p.Credential = Credential{Kind: KindBearer, Value: v}
			return p
		}
	}
	if c, ok := FromQuery(r.URL.RawQuery, HTTPParams); ok {
		p.Credential = c
		return p
	}
	if v := r.Header[HeaderPasscode]; len(v) > 0 && v[0] != "" {
		p.Credential = Credential{Kind: KindPasscode, Value: v[0]}
	}
	return p
}

// bearer is the credential of an Authorization header, with or without
// the Bearer scheme: organization tokens are documented both ways.
func bearer(auth string) string {
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return strings.TrimSpace(auth)
}

// cookieValue finds the alias's session cookie without parsing every
// cookie of the request.
func cookieValue(r *http.Request, aliasID string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			name, value, ok := strings.Cut(part, "=")
			if ok && len(name) == len(SessionCookiePrefix)+len(aliasID) &&
				strings.HasPrefix(name, SessionCookiePrefix) && name[len(SessionCookiePrefix):] == aliasID {
				return value, true
			}
		}
	}
	return "", false
}
