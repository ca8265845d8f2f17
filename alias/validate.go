package alias

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits that the validation rules of the API apply.
const (
	maxNameLength     = 200
	minPasscodeLength = 4
	maxPasscodeLength = 128
	// MinStreamKeyLength and MaxStreamKeyLength bound stream_key, in
	// characters.
	MinStreamKeyLength = 16
	MaxStreamKeyLength = 256
	// MaxJWTSecretLength bounds jwt_secret, in bytes.
	MaxJWTSecretLength = 512

	// DefaultMinJWTSecretLength follows RFC 7518 §3.2: an HS256 key must be
	// at least as long as the hash output.
	DefaultMinJWTSecretLength = 32

	// latestExpiry keeps expired_at within what every store and client can
	// represent (9999-12-31T23:59:59Z).
	latestExpiry = 253402300799
)

// Rules are the deployment-specific parts of validation.
type Rules struct {
	// MinJWTSecretLength is the shortest jwt_secret accepted, in bytes.
	MinJWTSecretLength int
	// MaxSecretGrace is the longest jwt_secret_grace accepted; zero takes
	// DefaultMaxSecretGrace. No token of the old secret outlives the
	// longest a token may live, so a longer grace would keep nothing.
	MaxSecretGrace time.Duration
}

// DefaultMaxSecretGrace bounds jwt_secret_grace unless Rules say otherwise.
const DefaultMaxSecretGrace = 24 * time.Hour

// InputError is a client mistake in a request: the status and code of the
// JSON error body, and a sentence naming the field and the rule.
type InputError struct {
	Status int
	Code   string
	Detail string
	// Field is the body member the mistake is in, empty when it concerns
	// the body as a whole: forms show the error beside that field.
	Field string
}

func (e *InputError) Error() string { return e.Detail }

func invalid(code, format string, args ...any) *InputError {
	return &InputError{Status: 400, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// invalidField is invalid for a mistake in one member of the body.
func invalidField(field, code, format string, args ...any) *InputError {
	e := invalid(code, format, args...)
	e.Field = field
	return e
}

// decodeObject reads one JSON object and nothing after it, keeping each
// member raw so that absent, null and present can be told apart.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, invalid("invalid_json", "the request body must be a JSON object")
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, invalid("invalid_json", "the request body must be a JSON object, not %s", typeErr.Value)
		}
		return nil, invalid("invalid_json", "the request body is not valid JSON: %v", err)
	}
	if fields == nil {
		return nil, invalid("invalid_json", "the request body must be a JSON object, not null")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("invalid_json", "the request body must hold a single JSON object")
	}
	return fields, nil
}

// DecodeCreate parses and validates the body of a create request.
func DecodeCreate(body []byte, rules Rules, now time.Time) (Alias, error) {
	p, err := decodePatch(body, rules, now)
	if err != nil {
		return Alias{}, err
	}
	if p.Type == nil {
		return Alias{}, invalidField("type", "missing_field", `"type" is required: "live" or "conference"`)
	}
	if p.ExpiredAt == nil {
		return Alias{}, invalidField("expired_at", "missing_field", `"expired_at" is required: a Unix time in seconds, in the future`)
	}
	if p.JWTSecretGrace != 0 {
		return Alias{}, invalidField("jwt_secret_grace", "invalid_field", `"jwt_secret_grace" is for an update that replaces the jwt_secret`)
	}
	return p.Apply(Alias{}), nil
}

// DecodeUpdate parses and validates the body of a partial update.
func DecodeUpdate(body []byte, rules Rules, now time.Time) (Patch, error) {
	return decodePatch(body, rules, now)
}

func decodePatch(body []byte, rules Rules, now time.Time) (Patch, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return Patch{}, err
	}
	var p Patch
	// Sorted, so that the error for a body with several bad fields is always the same.
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[key]
		var err error
		switch key {
		case "type":
			err = decodeType(raw, &p)
		case "expired_at":
			err = decodeExpiry(raw, &p, now)
		case "name":
			p.Name, err = decodeOptional(key, raw, func(s string) error {
				if n := utf8.RuneCountInString(s); n < 1 || n > maxNameLength {
					return fmt.Errorf("must be 1 to %d characters, or null", maxNameLength)
				}
				return nil
			})
		case "passcode":
			p.Passcode, err = decodeOptional(key, raw, func(s string) error {
				if n := utf8.RuneCountInString(s); n < minPasscodeLength || n > maxPasscodeLength {
					return fmt.Errorf("must be %d to %d characters, or null", minPasscodeLength, maxPasscodeLength)
				}
				return nil
			})
		case "jwt_secret":
			p.JWTSecret, err = decodeOptional(key, raw, func(s string) error {
				if len(s) < rules.MinJWTSecretLength || len(s) > MaxJWTSecretLength {
					return fmt.Errorf("must be %d to %d bytes, or null (RFC 7518 §3.2 asks for at least 32 for HS256)", rules.MinJWTSecretLength, MaxJWTSecretLength)
				}
				return nil
			})
		case "stream_key":
			p.StreamKey, err = decodeOptional(key, raw, checkStreamKey)
		case "jwt_secret_grace":
			p.JWTSecretGrace, err = decodeGrace(raw, rules)
		case "id", "inserted_at":
			err = invalidField(key, "read_only_field", "%q is set by the server and cannot be written", key)
		default:
			err = invalidField(key, "unknown_field", "unknown field %q: the fields are type, name, passcode, jwt_secret, jwt_secret_grace, stream_key and expired_at", key)
		}
		if err != nil {
			return Patch{}, err
		}
	}
	if p.JWTSecretGrace > 0 {
		switch {
		case !p.JWTSecret.Set || p.JWTSecret.Value == "":
			return Patch{}, invalidField("jwt_secret_grace", "invalid_field", `"jwt_secret_grace" needs a new "jwt_secret" in the same update`)
		case p.Passcode.Set:
			return Patch{}, invalidField("jwt_secret_grace", "invalid_field", `"jwt_secret_grace" cannot come with a new "passcode": that ends every viewer's session at once`)
		}
	}
	return p, nil
}

// decodeGrace reads jwt_secret_grace: whole seconds, from 0 to the rules'
// maximum.
func decodeGrace(raw json.RawMessage, rules Rules) (time.Duration, error) {
	most := rules.MaxSecretGrace
	if most <= 0 {
		most = DefaultMaxSecretGrace
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < 0 || time.Duration(n)*time.Second > most {
		return 0, invalidField("jwt_secret_grace", "invalid_field", `"jwt_secret_grace" must be whole seconds from 0 to %d`, int64(most/time.Second))
	}
	return time.Duration(n) * time.Second, nil
}

func decodeType(raw json.RawMessage, p *Patch) error {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil || !Type(s).Valid() {
		return invalidField("type", "invalid_field", `"type" must be "live" or "conference"`)
	}
	t := Type(s)
	p.Type = &t
	return nil
}

func decodeExpiry(raw json.RawMessage, p *Patch, now time.Time) error {
	const rule = `"expired_at" must be an integer Unix time in seconds, in the future`
	if isNull(raw) || len(raw) == 0 || raw[0] == '"' {
		return invalidField("expired_at", "invalid_field", rule)
	}
	sec, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || sec > latestExpiry {
		return invalidField("expired_at", "invalid_field", rule)
	}
	if sec <= now.Unix() {
		return invalidField("expired_at", "invalid_field", `"expired_at" must be in the future (it is %d, now is %d)`, sec, now.Unix())
	}
	t := time.Unix(sec, 0).UTC()
	p.ExpiredAt = &t
	return nil
}

// decodeOptional reads a string-or-null member; check is the field's rule.
func decodeOptional(key string, raw json.RawMessage, check func(string) error) (Field, error) {
	if isNull(raw) {
		return Field{Set: true}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return Field{}, invalidField(key, "invalid_field", "%q must be a string or null", key)
	}
	if hasControl(s) {
		return Field{}, invalidField(key, "invalid_field", "%q must not contain control characters", key)
	}
	if err := check(s); err != nil {
		return Field{}, invalidField(key, "invalid_field", "%q %v", key, err)
	}
	return Field{Set: true, Value: s}, nil
}

// checkStreamKey refuses a stream key no publisher could use: the gateway
// trims an Authorization value, reads one of a JWT's shape as a JWT and
// one starting with lgo_ as an organization token, so such a key would
// never reach the stream key comparison.
func checkStreamKey(s string) error {
	switch n := utf8.RuneCountInString(s); {
	case n < MinStreamKeyLength || n > MaxStreamKeyLength:
		return fmt.Errorf("must be %d to %d characters, or null", MinStreamKeyLength, MaxStreamKeyLength)
	case strings.TrimSpace(s) != s:
		return errors.New("must not begin or end with white space")
	case strings.HasPrefix(s, OrgTokenPrefix):
		return fmt.Errorf("must not begin with %q, which marks organization tokens", OrgTokenPrefix)
	case LooksLikeJWT(s):
		return errors.New("must not have the shape of a JWT")
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// Limits of a revocation's fields.
const (
	maxRevokedUser = 128
	maxRevokedJTI  = 64
	// revokeAhead is how far in the future a "before" may be: clocks
	// differ, and a moment further ahead would refuse what is not issued
	// yet.
	revokeAhead = time.Minute
)

// DecodeRevocation parses and validates the body of a revocation: exactly
// one of user_id (a string), before (Unix seconds, not in the future) and
// jti (a string). The expiry is left for the caller.
func DecodeRevocation(body []byte, now time.Time) (Revocation, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return Revocation{}, err
	}
	const rule = `the body must hold exactly one of "user_id", "before" and "jti"`
	if len(fields) != 1 {
		return Revocation{}, invalid("invalid_field", rule)
	}
	for key, raw := range fields {
		switch key {
		case "user_id", "jti":
			kind, most := RevokeUser, maxRevokedUser
			if key == "jti" {
				kind, most = RevokeJTI, maxRevokedJTI
			}
			var v string
			if json.Unmarshal(raw, &v) != nil || v == "" || len(v) > most || hasControl(v) {
				return Revocation{}, invalidField(key, "invalid_field", "%q must be a string of 1 to %d bytes without control characters", key, most)
			}
			return Revocation{Kind: kind, Value: v}, nil
		case "before":
			sec, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || sec <= 0 || time.Unix(sec, 0).After(now.Add(revokeAhead)) {
				return Revocation{}, invalidField(key, "invalid_field", `"before" must be an integer Unix time in seconds, not in the future`)
			}
			return Revocation{Kind: RevokeBefore, Before: time.Unix(sec, 0).UTC()}, nil
		default:
			return Revocation{}, invalidField(key, "unknown_field", "unknown field %q: %s", key, rule)
		}
	}
	return Revocation{}, invalid("invalid_field", rule)
}
