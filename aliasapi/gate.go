package aliasapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Gate decides, request by request, whether a viewer, host or publisher
// may reach the media backend behind an alias. The Caddy handler
// alias_auth and the media-server hooks are thin shells around it.
type Gate struct {
	// Alias returns an alias by ID, normally from the cache. The returned
	// alias is shared and must not be changed.
	Alias func(ctx context.Context, id string) (*Alias, error)
	// OrgByToken returns the organization holding an unrevoked token.
	OrgByToken func(ctx context.Context, h TokenHash) (string, error)
	JWT        *JWTVerifier
	// Tokens remembers what verified JWTs proved; nil disables it.
	Tokens *TokenCache
	// Sessions returns the signer of session cookies, or nil while the
	// shared key is not loaded: then no cookie is issued or accepted.
	Sessions func() *SessionSigner
	Limiter  *Limiter
	Logger   *zap.Logger
	Now      func() time.Time

	issued issuedCookies
}

// Route is what one alias_auth asks of the requests it sees.
type Route struct {
	Type    Type
	Require Requirement
	// ForwardCredentials keeps the credential in what the upstream gets.
	ForwardCredentials bool
	// SessionLifetime bounds session cookies; zero issues none.
	SessionLifetime time.Duration
	// PasscodePage shows browsers a passcode form instead of a bare 401.
	// It needs session cookies: the form's answer is one.
	PasscodePage bool
}

// Credential sources, in the order the gateway consults them.
const (
	QueryToken       = "token"
	QueryJWT         = "jwt"
	QueryAccessToken = "access_token"
	QueryPasscode    = "passcode"
	HeaderPasscode   = "X-Alias-Passcode"
	// formPasscode is the field of the passcode page's form.
	formPasscode = "linkgate_passcode"
)

// credentialParams are stripped from the URL the upstream sees.
var credentialParams = [...]string{QueryToken, QueryJWT, QueryAccessToken, QueryPasscode}

// Errors of Authenticate. A caller answers ErrNoCredential with a
// challenge, ErrBadCredential with 401 invalid_token (and counts it
// against the client), ErrForbidden with 403.
var (
	ErrNoCredential  = errors.New("no credential")
	ErrBadCredential = errors.New("credential refused")
	ErrForbidden     = errors.New("credential lacks the role")
)

// CredentialKind tells Authenticate how to read a credential.
type CredentialKind uint8

// The kinds of credential.
const (
	// CredentialBearer is read by its shape: a JWT, an organization token
	// (by its prefix), otherwise a stream key.
	CredentialBearer CredentialKind = iota + 1
	CredentialJWT
	CredentialStreamKey
	CredentialPasscode
)

// Credential is one secret a client presented.
type Credential struct {
	Kind  CredentialKind
	Value string
}

// Authenticate checks credential c against alias a and tells what it grants.
// It is the one decision behind the gateway and the media-server hooks.
func (g *Gate) Authenticate(ctx context.Context, a *Alias, c Credential) (Grant, error) {
	kind := c.Kind
	if kind == CredentialBearer {
		switch {
		case LooksLikeJWT(c.Value):
			kind = CredentialJWT
		case strings.HasPrefix(c.Value, OrgTokenPrefix):
			return g.owner(ctx, a, c.Value)
		default:
			kind = CredentialStreamKey
		}
	}
	switch kind {
	case CredentialJWT:
		return g.verifyJWT(a, c.Value)
	case CredentialStreamKey:
		if CheckStreamKey(a, c.Value) {
			return Grant{Role: RolePublisher}, nil
		}
	case CredentialPasscode:
		if CheckPasscode(a, c.Value) {
			return Grant{Role: RoleViewer}, nil
		}
	}
	return Grant{}, ErrBadCredential
}

func (g *Gate) owner(ctx context.Context, a *Alias, token string) (Grant, error) {
	h, ok := ParseOrgToken(token)
	if !ok {
		return Grant{}, ErrBadCredential
	}
	orgID, err := g.OrgByToken(ctx, h)
	switch {
	case errors.Is(err, ErrNotFound):
		return Grant{}, ErrBadCredential
	case err != nil:
		return Grant{}, err
	case orgID != a.OrgID:
		return Grant{}, ErrForbidden
	}
	return Grant{Role: RoleOwner}, nil
}

func (g *Gate) verifyJWT(a *Alias, token string) (Grant, error) {
	now := g.now()
	if g.Tokens != nil {
		if grant, ok := g.Tokens.Get(a, token, now); ok {
			return grant, nil
		}
	}
	grant, err := g.JWT.Verify(a, token)
	if err != nil {
		if g.Logger != nil {
			if ce := g.Logger.Check(zap.DebugLevel, "JWT refused"); ce != nil {
				ce.Write(zap.String("alias", a.ID), zap.Error(err))
			}
		}
		return Grant{}, ErrBadCredential
	}
	if g.Tokens != nil {
		g.Tokens.Put(a, token, grant)
	}
	return grant, nil
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Decision is the outcome of Check.
type Decision struct {
	Alias *Alias
	Grant Grant
	// Status is 0 when the request may pass; otherwise the response has
	// been written with this status.
	Status int
	// Reason is a short machine word for logs and metrics.
	Reason string
}

// Check authorizes r for the alias aliasID on route. On success it strips
// the credential (unless the route forwards it), sets a session cookie when
// a credential other than the cookie opened the alias, and returns the
// decision with Status 0. Otherwise it has answered r.
func (g *Gate) Check(w http.ResponseWriter, r *http.Request, route *Route, aliasID, client string) Decision {
	if hasDotSegment(r.URL.Path) {
		// The ID was read from the path as sent, while the upstream may
		// resolve "..": /live/<public>/../<protected>/ must not pass as
		// the public alias.
		return deny(w, http.StatusBadRequest, "invalid_path", "the path must not contain . or .. segments")
	}
	if !ValidID(aliasID) {
		return deny(w, http.StatusNotFound, OutcomeNotFound, "alias not found")
	}
	a, err := g.Alias(r.Context(), aliasID)
	switch {
	case errors.Is(err, ErrNotFound):
		return deny(w, http.StatusNotFound, OutcomeNotFound, "alias not found")
	case err != nil:
		if g.Logger != nil {
			g.Logger.Error("alias store unavailable", zap.String("alias", aliasID), zap.Error(err))
		}
		w.Header().Set("Retry-After", "1")
		return deny(w, http.StatusServiceUnavailable, OutcomeUnavailable, "the alias store is unavailable, try again shortly")
	}
	now := g.now()
	if a.Expired(now) || a.Type != route.Type {
		return deny(w, http.StatusNotFound, OutcomeNotFound, "alias not found")
	}

	if grant, ok := g.session(r, a, now); ok && grant.Role.Allows(route.Require) {
		if !route.ForwardCredentials {
			stripCredentials(r, a.ID)
		}
		return Decision{Alias: a, Grant: grant, Reason: "session"}
	}

	if r.Method == http.MethodPost && route.PasscodePage && a.Passcode != "" && route.Require == RequireViewer {
		if passcode, ok := passcodeForm(r); ok {
			return g.passcodeLogin(w, r, route, a, client, passcode, now)
		}
	}

	c, found := credentialOf(r)
	if !found {
		switch {
		case a.Public() && route.Require == RequireViewer:
			return Decision{Alias: a, Grant: Grant{Role: RoleViewer}, Reason: "public"}
		case route.PasscodePage && a.Passcode != "" && route.Require == RequireViewer && wantsHTML(r):
			writePasscodePage(w, http.StatusUnauthorized, noticeNone)
			return Decision{Alias: a, Status: http.StatusUnauthorized, Reason: "passcode_page"}
		}
		return challenge(w, false, "this alias needs a credential")
	}

	v := g.judge(r.Context(), a, route.Require, c, client, now)
	switch v.status {
	case 0:
	case http.StatusUnauthorized:
		return challenge(w, true, v.detail)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", retryAfter(v.retryAfter))
		fallthrough
	default:
		return deny(w, v.status, v.reason, v.detail)
	}
	grant := v.grant
	if !route.ForwardCredentials {
		stripCredentials(r, a.ID)
	}
	g.setSession(w, r, route, a, grant, now)
	return Decision{Alias: a, Grant: grant, Reason: "credential"}
}

// verdict is the decision on one credential for an alias: status 0 lets
// the client in with grant; anything else is the HTTP status of the
// refusal, with a reason word for logs and metrics and a sentence.
type verdict struct {
	status     int
	reason     string
	detail     string
	grant      Grant
	retryAfter time.Duration
}

// judge is the decision every entry point shares, the gateway, its
// passcode form and the media-server hooks: throttling per client and
// alias, the credential through Authenticate, then the role against need.
func (g *Gate) judge(ctx context.Context, a *Alias, need Requirement, c Credential, client string, now time.Time) verdict {
	if g.Limiter != nil {
		if retry, blocked := g.Limiter.Blocked(client, a.ID, now); blocked {
			return verdict{status: http.StatusTooManyRequests, reason: OutcomeThrottled, detail: "too many failed attempts, try again later", retryAfter: retry}
		}
	}
	grant, err := g.Authenticate(ctx, a, c)
	switch {
	case errors.Is(err, ErrBadCredential):
		if g.Limiter != nil {
			g.Limiter.Fail(client, a.ID, now)
		}
		return verdict{status: http.StatusUnauthorized, reason: OutcomeBadCredential, detail: "the credential is not valid for this alias"}
	case errors.Is(err, ErrForbidden):
		return verdict{status: http.StatusForbidden, reason: OutcomeForbidden, detail: "the credential does not open this alias"}
	case err != nil:
		if g.Logger != nil {
			g.Logger.Error("alias store unavailable", zap.String("alias", a.ID), zap.Error(err))
		}
		return verdict{status: http.StatusServiceUnavailable, reason: OutcomeUnavailable, detail: "the alias store is unavailable, try again shortly", retryAfter: time.Second}
	}
	if !grant.Role.Allows(need) {
		return verdict{status: http.StatusForbidden, reason: OutcomeForbidden, detail: "the credential does not allow this here"}
	}
	return verdict{grant: grant}
}

// retryAfter is a Retry-After value: whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// passcodeLogin answers the passcode page's form: a session cookie and a
// redirect to the clean URL, or the page again with an error.
func (g *Gate) passcodeLogin(w http.ResponseWriter, r *http.Request, route *Route, a *Alias, client, passcode string, now time.Time) Decision {
	v := g.judge(r.Context(), a, RequireViewer, Credential{Kind: CredentialPasscode, Value: passcode}, client, now)
	switch v.status {
	case 0:
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", retryAfter(v.retryAfter))
		writePasscodePage(w, v.status, noticeThrottled)
		return Decision{Alias: a, Status: v.status, Reason: v.reason}
	default:
		writePasscodePage(w, v.status, noticeWrong)
		return Decision{Alias: a, Status: v.status, Reason: v.reason}
	}
	// Without a cookie the redirect would land on the page again.
	if !g.setSession(w, r, route, a, Grant{Role: RoleViewer}, now) {
		w.Header().Set("Retry-After", "5")
		return deny(w, http.StatusServiceUnavailable, "session_unavailable", "sessions cannot be issued right now, try again shortly")
	}
	u := *r.URL
	u.RawQuery = withoutCredentials(u.RawQuery)
	w.Header().Set("Location", u.RequestURI())
	w.WriteHeader(http.StatusSeeOther)
	return Decision{Alias: a, Status: http.StatusSeeOther, Reason: "passcode_page_login"}
}

// session returns the grant of the alias's session cookie, if r carries a
// valid one.
func (g *Gate) session(r *http.Request, a *Alias, now time.Time) (Grant, bool) {
	value, ok := cookieValue(r, a.ID)
	if !ok {
		return Grant{}, false
	}
	// Every segment of a stream brings the same cookie: remember what it
	// proved, as for JWTs, instead of computing its MAC each time.
	if g.Tokens != nil {
		if grant, ok := g.Tokens.Get(a, value, now); ok {
			return grant, true
		}
	}
	signer := g.Sessions()
	if signer == nil {
		return Grant{}, false
	}
	grant, ok := signer.Verify(a, value, now)
	if ok && g.Tokens != nil {
		g.Tokens.Put(a, value, grant)
	}
	return grant, ok
}

// setSession issues the session cookie for grant, expiring no later than
// the credential, the alias or the route's session lifetime, and reports
// whether it did.
func (g *Gate) setSession(w http.ResponseWriter, r *http.Request, route *Route, a *Alias, grant Grant, now time.Time) bool {
	// An owner's token can be revoked; a cookie minted from it could not,
	// so owners send their token with every request.
	if route.SessionLifetime <= 0 || grant.Role == RoleOwner {
		return false
	}
	path, secure := aliasPath(r.URL.Path, a.ID), r.TLS != nil
	if header, ok := g.issued.get(a, grant, path, secure, now); ok {
		addSetCookie(w.Header(), header)
		return true
	}
	signer := g.Sessions()
	if signer == nil {
		return false
	}
	expiry := now.Add(route.SessionLifetime)
	if !grant.Expiry.IsZero() && grant.Expiry.Before(expiry) {
		expiry = grant.Expiry
	}
	if a.ExpiredAt.Before(expiry) {
		expiry = a.ExpiredAt
	}
	value, ok := signer.Issue(a, grant, expiry)
	if !ok || !expiry.After(now) {
		return false
	}
	cookie := &http.Cookie{
		Name:     SessionCookiePrefix + a.ID,
		Value:    value,
		Path:     path,
		Expires:  expiry,
		MaxAge:   int(expiry.Sub(now) / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	header := []string{cookie.String()}
	g.issued.put(a, grant, path, secure, header, now)
	addSetCookie(w.Header(), header)
	return true
}

// addSetCookie adds a shared one-element Set-Cookie value: as is when it is
// the response's only cookie, copied otherwise, so the shared slice is
// never written to.
func addSetCookie(h http.Header, header []string) {
	if existing := h["Set-Cookie"]; len(existing) > 0 {
		h["Set-Cookie"] = append(existing[:len(existing):len(existing)], header[0])
		return
	}
	h["Set-Cookie"] = header[:1:1]
}

// aliasPath is the request path up to and including the segment that is
// the alias ID, so the cookie goes only with requests for that alias.
func aliasPath(path, id string) string {
	for i := 0; i < len(path); {
		j := strings.Index(path[i:], id)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(id)
		if start > 0 && path[start-1] == '/' && (end == len(path) || path[end] == '/') {
			return path[:end]
		}
		i = start + 1
	}
	return "/"
}

// hasDotSegment reports whether a cleaned path would differ in its
// segments: "." or ".." anywhere, as sent or percent-decoded.
func hasDotSegment(path string) bool {
	for path != "" {
		var seg string
		seg, path, _ = strings.Cut(path, "/")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// credentialOf finds the first credential r presents, in the gateway's
// order: Authorization, the token query parameters, the passcode.
func credentialOf(r *http.Request) (Credential, bool) {
	if auth := r.Header["Authorization"]; len(auth) > 0 && auth[0] != "" {
		return Credential{Kind: CredentialBearer, Value: bearer(auth[0])}, true
	}
	if v, i, ok := firstCredentialParam(r.URL.RawQuery); ok {
		kind := CredentialBearer
		if credentialParams[i] == QueryPasscode {
			kind = CredentialPasscode
		}
		return Credential{Kind: kind, Value: v}, true
	}
	if v := r.Header[HeaderPasscode]; len(v) > 0 && v[0] != "" {
		return Credential{Kind: CredentialPasscode, Value: v[0]}, true
	}
	return Credential{}, false
}

func bearer(auth string) string {
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return strings.TrimSpace(auth)
}

// queryValue returns the first value of name in a raw query without
// building the whole url.Values, which would cost allocations on every
// segment request.
func queryValue(rawQuery, name string) (string, bool) {
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

// stripCredentials removes every credential the gateway reads from what
// the upstream gets.
func stripCredentials(r *http.Request, aliasID string) {
	// Canonical keys straight on the map: Header.Del would canonicalize
	// them again on every request.
	delete(r.Header, "Authorization")
	delete(r.Header, HeaderPasscode)
	if r.URL.RawQuery != "" {
		if q := withoutCredentials(r.URL.RawQuery); q != r.URL.RawQuery {
			r.URL.RawQuery = q
			r.RequestURI = r.URL.RequestURI()
		}
	}
	stripSession(r, aliasID)
}

// firstCredentialParam returns the value of the credential parameter the
// gateway reads first (token, jwt, access_token, then passcode) in one pass
// over the raw query, and its index in credentialParams.
func firstCredentialParam(rawQuery string) (value string, index int, ok bool) {
	var raw [len(credentialParams)]string
	var seen [len(credentialParams)]bool
	for rest := rawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		key, v, _ := strings.Cut(pair, "=")
		if i := credentialParam(key); i >= 0 && !seen[i] {
			raw[i], seen[i] = v, true
		}
	}
	for i := range credentialParams {
		if seen[i] {
			v, err := unescapeQuery(raw[i])
			return v, i, err == nil
		}
	}
	return "", 0, false
}

func credentialParam(key string) int {
	for i, name := range credentialParams {
		if key == name {
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

// withoutCredentials drops the credential parameters from a raw query and
// keeps the rest as it was written.
func withoutCredentials(rawQuery string) string {
	var kept strings.Builder
	found := false
	for rest, start := rawQuery, 0; rest != ""; {
		pair, next, more := strings.Cut(rest, "&")
		key, _, _ := strings.Cut(pair, "=")
		if credentialParam(key) >= 0 {
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

// stripSession removes the alias's session cookie from the Cookie header.
func stripSession(r *http.Request, aliasID string) {
	lines := r.Header["Cookie"]
	if len(lines) == 0 {
		return
	}
	if _, ok := cookieValue(r, aliasID); !ok {
		return
	}
	name := SessionCookiePrefix + aliasID + "="
	var kept []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if part != "" && !strings.HasPrefix(part, name) {
				kept = append(kept, part)
			}
		}
	}
	if len(kept) == 0 {
		r.Header.Del("Cookie")
		return
	}
	r.Header["Cookie"] = []string{strings.Join(kept, "; ")}
}

// passcodeForm reads the passcode page's form post. Any other POST body is
// left for the upstream untouched.
func passcodeForm(r *http.Request) (string, bool) {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") || r.ContentLength > 4096 || r.ContentLength < 0 {
		return "", false
	}
	body := make([]byte, r.ContentLength)
	n, _ := io.ReadFull(r.Body, body)
	body = body[:n]
	v, ok := queryValue(string(body), formPasscode)
	if !ok {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return v, ok
}

func wantsHTML(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// challenge answers 401 with the Bearer challenge of RFC 6750.
func challenge(w http.ResponseWriter, invalid bool, detail string) Decision {
	unauthorized(w, invalid, detail)
	reason := "no_credential"
	if invalid {
		reason = "bad_credential"
	}
	return Decision{Status: http.StatusUnauthorized, Reason: reason}
}

func deny(w http.ResponseWriter, status int, code, detail string) Decision {
	WriteError(w, status, code, detail)
	return Decision{Status: status, Reason: code}
}
