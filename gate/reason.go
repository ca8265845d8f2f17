package gate

import "net/http"

// Reason is why the gate decided as it did. It is the one vocabulary of
// logs (reason=...), metrics (the reason label) and replies: every entry
// point renders a decision from its reason, in its own format.
type Reason uint8

// Admissions.
const (
	// ReasonSession: the alias's session cookie.
	ReasonSession Reason = iota + 1
	// ReasonCredential: a passcode, JWT, stream key or organization token.
	ReasonCredential
	// ReasonPublic: no credential, on an alias with neither passcode nor
	// JWT secret, for viewing.
	ReasonPublic
	// ReasonPasscodeLogin: the passcode page's form, answered with a
	// session cookie and a redirect.
	ReasonPasscodeLogin
	// ReasonAcknowledged: a media server's notice that admits nobody (a
	// stream ended), acknowledged without a decision.
	ReasonAcknowledged
	// ReasonPlaybackToken: a playback token in the URL, which a playlist
	// the gateway rewrote put there.
	ReasonPlaybackToken
)

// Refusals of the alias itself: all look like "not found" to the client,
// so that nobody learns which aliases exist.
const (
	ReasonNotFound Reason = iota + 16
	ReasonExpired
	// ReasonWrongType: a live alias on a conference route, or the other way.
	ReasonWrongType
	// ReasonInvalidPath: a path with "." or ".." segments, which an
	// upstream could resolve to another alias's content.
	ReasonInvalidPath
)

// Refusals of the credential. All but ReasonNoCredential count as a failure
// of the client on the alias; the client is told only that the credential
// is not valid, the log says which rule refused it.
const (
	ReasonNoCredential Reason = iota + 32
	ReasonWrongPasscode
	ReasonWrongStreamKey
	// ReasonBadOrgToken: not an organization token (bad checksum), or one
	// that is unknown or revoked.
	ReasonBadOrgToken
	// ReasonMalformedCredential: a credential parameter that is not valid
	// percent-encoding.
	ReasonMalformedCredential
	ReasonTokenTooLarge
	ReasonTokenMalformed
	ReasonBadAlgorithm
	// ReasonCritHeader: a JWT header with "crit": extensions linkgate does
	// not understand must be refused (RFC 7515 §4.1.11).
	ReasonCritHeader
	ReasonBadSignature
	// ReasonUnknownKeyID: a JWT whose kid names no secret of the alias
	// that is valid now.
	ReasonUnknownKeyID
	// ReasonNoJWTSecret: a JWT for an alias that accepts none.
	ReasonNoJWTSecret
	// ReasonBadClaims: a duplicate claim, or a known claim of the wrong
	// type (a string exp, a host that is not a boolean).
	ReasonBadClaims
	// ReasonBadUserID: a user_id that cannot be a header value.
	ReasonBadUserID
	ReasonAliasMismatch
	ReasonTokenExpired
	ReasonTokenNotYetValid
	// ReasonIssuedInFuture: iat later than now, beyond the leeway.
	ReasonIssuedInFuture
	// ReasonNoExpiry: a token with neither exp nor expires_in.
	ReasonNoExpiry
	// ReasonExpiresInNeedsIAT: a relative expires_in without iat.
	ReasonExpiresInNeedsIAT
	ReasonLifetimeTooLong
)

// Refusals of a credential that is valid but not enough, and of the
// circumstances.
const (
	// ReasonForeignOrg: a valid token of another organization.
	ReasonForeignOrg Reason = iota + 64
	// ReasonRoleNotAllowed: a valid credential whose role the route does
	// not accept (a viewer on a publish route).
	ReasonRoleNotAllowed
	// ReasonCrossSiteForm: a passcode form posted from another site.
	ReasonCrossSiteForm
	// ReasonRevoked: a valid credential of a user, a token or an era the
	// alias's owner revoked.
	ReasonRevoked
	// ReasonCredentialChanged: what admitted a standing connection (the
	// passcode, the JWT secret, the stream key) has changed.
	ReasonCredentialChanged
	ReasonThrottled
	ReasonUnavailable
	// ReasonSessionUnavailable: the passcode form was right, but the
	// session key is not loaded, so no cookie can be issued.
	ReasonSessionUnavailable
	// ReasonPasscodePage: a browser without a credential was shown the
	// passcode page (a rendering of ReasonNoCredential).
	ReasonPasscodePage
)

// Refusals of a playback token. Like an invalid session cookie, and unlike
// a wrong credential, none counts as a failure of the client: a token
// cannot be guessed, and the ones refused are stale copies (in a playlist a
// player still holds, or a link passed on) that would otherwise throttle
// every viewer behind the address. A token that is genuine but of an epoch
// the alias no longer accepts is refused as ReasonCredentialChanged.
const (
	// ReasonPlaybackTokenInvalid: not a token the gateway signed, or one
	// for another alias or another path.
	ReasonPlaybackTokenInvalid Reason = iota + 112
	ReasonPlaybackTokenExpired
)

// Refusals of a media server's request before any decision.
const (
	// ReasonActionNotAllowed: a MediaMTX action that names no stream (api,
	// metrics, pprof) and is not allowed.
	ReasonActionNotAllowed Reason = iota + 96
	// ReasonBadHookSignature: an OvenMediaEngine request not signed with
	// the hook's secret.
	ReasonBadHookSignature
	ReasonBadRequest
	ReasonBodyTooLarge
	ReasonMethodNotAllowed
)

// reasonInfo is what every entry point needs to render a reason.
type reasonInfo struct {
	name   string
	status int
	// code is the machine code of the JSON error body (the API's and the
	// gateway's 401 say "unauthorized" instead: see Code).
	code   string
	detail string
}

const (
	detailBadCredential = "the credential is not valid for this alias"
	detailNotFound      = "alias not found"
)

func badCredential(name string) reasonInfo {
	return reasonInfo{name, http.StatusUnauthorized, "bad_credential", detailBadCredential}
}

func notFound(name string) reasonInfo {
	return reasonInfo{name, http.StatusNotFound, "alias_not_found", detailNotFound}
}

var reasons = [...]reasonInfo{
	ReasonSession:       {"session", http.StatusOK, "admitted", ""},
	ReasonCredential:    {"credential", http.StatusOK, "admitted", ""},
	ReasonPublic:        {"public", http.StatusOK, "admitted", ""},
	ReasonPasscodeLogin: {"passcode_page_login", http.StatusOK, "admitted", ""},
	ReasonAcknowledged:  {"acknowledged", http.StatusOK, "acknowledged", ""},
	ReasonPlaybackToken: {"playback_token", http.StatusOK, "admitted", ""},

	ReasonNotFound:    notFound("alias_not_found"),
	ReasonExpired:     notFound("alias_expired"),
	ReasonWrongType:   notFound("wrong_type"),
	ReasonInvalidPath: {"invalid_path", http.StatusBadRequest, "invalid_path", "the path must not contain . or .. segments"},

	ReasonNoCredential:        {"no_credential", http.StatusUnauthorized, "no_credential", "this alias needs a credential"},
	ReasonWrongPasscode:       badCredential("wrong_passcode"),
	ReasonWrongStreamKey:      badCredential("wrong_stream_key"),
	ReasonBadOrgToken:         badCredential("bad_org_token"),
	ReasonMalformedCredential: badCredential("malformed_credential"),
	ReasonTokenTooLarge:       badCredential("token_too_large"),
	ReasonTokenMalformed:      badCredential("token_malformed"),
	ReasonBadAlgorithm:        badCredential("bad_algorithm"),
	ReasonCritHeader:          badCredential("crit_header"),
	ReasonBadSignature:        badCredential("bad_signature"),
	ReasonUnknownKeyID:        badCredential("unknown_key_id"),
	ReasonNoJWTSecret:         badCredential("no_jwt_secret"),
	ReasonBadClaims:           badCredential("bad_claims"),
	ReasonBadUserID:           badCredential("bad_user_id"),
	ReasonAliasMismatch:       badCredential("alias_mismatch"),
	ReasonTokenExpired:        badCredential("token_expired"),
	ReasonTokenNotYetValid:    badCredential("token_not_yet_valid"),
	ReasonIssuedInFuture:      badCredential("issued_in_future"),
	ReasonNoExpiry:            badCredential("no_expiry"),
	ReasonExpiresInNeedsIAT:   badCredential("expires_in_needs_iat"),
	ReasonLifetimeTooLong:     badCredential("lifetime_too_long"),

	ReasonForeignOrg:         {"foreign_org", http.StatusForbidden, "forbidden", "the credential does not open this alias"},
	ReasonRoleNotAllowed:     {"role_not_allowed", http.StatusForbidden, "forbidden", "the credential does not allow this here"},
	ReasonCrossSiteForm:      {"cross_site_form", http.StatusForbidden, "forbidden", "the passcode form must be posted from this site"},
	ReasonRevoked:            {"revoked", http.StatusUnauthorized, "revoked", "the credential has been revoked"},
	ReasonCredentialChanged:  {"credential_changed", http.StatusUnauthorized, "credential_changed", "the alias's credentials have changed"},
	ReasonThrottled:          {"too_many_failures", http.StatusTooManyRequests, "too_many_failures", "too many failed attempts, try again later"},
	ReasonUnavailable:        {"store_unavailable", http.StatusServiceUnavailable, "store_unavailable", "the alias store is unavailable, try again shortly"},
	ReasonSessionUnavailable: {"session_unavailable", http.StatusServiceUnavailable, "session_unavailable", "sessions cannot be issued right now, try again shortly"},
	ReasonPasscodePage:       {"passcode_page", http.StatusUnauthorized, "no_credential", "this alias needs a passcode"},

	ReasonActionNotAllowed: {"action_not_allowed", http.StatusForbidden, "action_not_allowed", "this action is not allowed"},
	ReasonBadHookSignature: {"bad_hook_signature", http.StatusUnauthorized, "bad_hook_signature", "the request is not signed with the hook's secret"},
	ReasonBadRequest:       {"bad_request", http.StatusBadRequest, "bad_request", "the request could not be read"},
	ReasonBodyTooLarge:     {"body_too_large", http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than 64 KiB"},
	ReasonMethodNotAllowed: {"method_not_allowed", http.StatusMethodNotAllowed, "method_not_allowed", "hooks are POST requests"},

	ReasonPlaybackTokenInvalid: badCredential("playback_token_invalid"),
	ReasonPlaybackTokenExpired: badCredential("playback_token_expired"),
}

func (r Reason) info() *reasonInfo {
	if int(r) < len(reasons) && reasons[r].name != "" {
		return &reasons[r]
	}
	return &reasonInfo{"unknown", http.StatusInternalServerError, "internal_error", "internal error"}
}

// String is the reason's name, as logs and metrics show it.
func (r Reason) String() string { return r.info().name }

// Status is the HTTP status the reason is answered with; 200 for
// admissions.
func (r Reason) Status() int { return r.info().status }

// Code is the machine code of the reason's JSON error body. A refused
// credential's class is bad_credential and a missing one's no_credential;
// the gateway and the API answer both as 401 "unauthorized" (Challenge).
func (r Reason) Code() string { return r.info().code }

// Detail is the sentence of the reason's error body. It never says more
// than the client may know: every refused credential reads the same.
func (r Reason) Detail() string { return r.info().detail }

// Admitted reports whether the reason lets the client in.
func (r Reason) Admitted() bool { return r.info().status == http.StatusOK }

// BadCredential reports whether the reason refuses a credential that was
// presented: such a refusal counts against the client.
func (r Reason) BadCredential() bool { return r >= ReasonWrongPasscode && r <= ReasonLifetimeTooLong }

// Reasons lists every reason, for documentation and metrics tests.
func Reasons() []Reason {
	var all []Reason
	for r := range reasons {
		if reasons[r].name != "" {
			all = append(all, Reason(r))
		}
	}
	return all
}
