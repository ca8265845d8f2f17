package gate

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/linkgate/linkgate/alias"
)

// Route is what one gateway route (an alias_auth) asks of its requests.
type Route struct {
	Type    alias.Type
	Require alias.Requirement
	// ForwardCredentials keeps the credential in what the upstream gets.
	ForwardCredentials bool
	// SessionLifetime bounds session cookies; zero issues none.
	SessionLifetime time.Duration
	// PasscodePage shows browsers a passcode form instead of a bare 401.
	// It needs session cookies: the form's answer is one.
	PasscodePage bool
	// PlaybackTokens has the playlists of admitted requests carry playback
	// tokens; SessionLifetime bounds them as it bounds cookies, and zero
	// issues none.
	PlaybackTokens bool
}

// Inbound is what the server knows of a request besides the request
// itself.
type Inbound struct {
	// AliasID is the alias the request names.
	AliasID string
	// Client is the client's IP address, as throttling counts it.
	Client string
	// Secure tells that the client reached the server over HTTPS, directly
	// or through a trusted proxy that terminated TLS: session cookies are
	// then marked Secure.
	Secure bool
}

// formPasscode is the field of the passcode page's form.
const formPasscode = "linkgate_passcode"

// maxFormSize bounds the passcode form's body; a larger POST is not the
// form, and is left for the upstream.
const maxFormSize = 4096

// Check is the gateway's decision on r: it reads the credentials, asks
// Decide and renders the decision. It returns the decision and whether r
// may go on to the upstream; when it may not, Check has answered r. A
// request that goes on has its credentials stripped (unless the route
// forwards them), and a session cookie set when a credential other than
// the cookie opened the alias.
func (g *Gate) Check(w http.ResponseWriter, r *http.Request, route *Route, in Inbound) (Decision, bool) {
	if hasDotSegment(r.URL.Path) {
		// The ID was read from the path as sent, while the upstream may
		// resolve "..": /live/<public>/../<protected>/ must not pass as
		// the public alias.
		d := Decision{Reason: ReasonInvalidPath}
		WriteRefusal(w, &d)
		return d, false
	}
	p := ReadHTTP(r, in.AliasID)
	req := Request{
		AliasID:     in.AliasID,
		Type:        route.Type,
		Need:        route.Require,
		Session:     p.Session,
		HasSession:  p.HasSession,
		Playback:    p.Playback,
		HasPlayback: p.HasPlayback,
		Credential:  p.Credential,
		Client:      in.Client,
	}
	if p.HasPlayback {
		req.PlaybackScope = PlaybackScope(r.URL.Path, in.AliasID)
	}
	if passcode, ok := g.passcodeForm(r, route, in.AliasID); ok {
		if crossSite(r) {
			d := Decision{Reason: ReasonCrossSiteForm}
			WriteRefusal(w, &d)
			return d, false
		}
		req.Credential = Credential{Kind: KindPasscode, Value: passcode}
		d := g.Decide(r.Context(), &req)
		return g.passcodeLogin(w, r, route, in, d), false
	}
	d := g.Decide(r.Context(), &req)
	if !d.Admitted() {
		if d.Reason == ReasonNoCredential && route.PasscodePage && d.Alias.Passcode != "" &&
			route.Require == alias.RequireViewer && wantsHTML(r) {
			writePasscodePage(w, http.StatusUnauthorized, noticeNone)
			d.Reason = ReasonPasscodePage
			return d, false
		}
		WriteRefusal(w, &d)
		return d, false
	}
	if !route.ForwardCredentials {
		stripCredentials(r, d.Alias.ID)
	}
	filterTrailers(r, route.ForwardCredentials)
	if d.Reason == ReasonCredential {
		g.setSession(w, r, route, in, &d)
	}
	return d, true
}

// passcodeForm reads the passcode page's form post, for a route that shows
// the page and an alias with a passcode. Any other POST body is left for
// the upstream untouched.
func (g *Gate) passcodeForm(r *http.Request, route *Route, aliasID string) (string, bool) {
	if r.Method != http.MethodPost || !route.PasscodePage || route.Require != alias.RequireViewer ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") ||
		r.ContentLength > maxFormSize || r.ContentLength < 0 {
		return "", false
	}
	if a, err := g.Source.Alias(r.Context(), aliasID); err != nil || a.Passcode == "" {
		return "", false
	}
	body := make([]byte, r.ContentLength)
	n, _ := io.ReadFull(r.Body, body)
	body = body[:n]
	v, ok := QueryValue(string(body), formPasscode)
	if !ok {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return v, ok
}

// crossSite reports whether a form post comes from another site: a page
// elsewhere must not log a viewer in with a passcode of its choosing.
// Browsers say where a post comes from in Sec-Fetch-Site, and older ones
// in Origin; a client that sends neither is no browser a page could drive.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	case "":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host)
}

// passcodeLogin renders the decision on the passcode page's form: a
// session cookie and a redirect to the clean URL, or the page again with
// what went wrong.
func (g *Gate) passcodeLogin(w http.ResponseWriter, r *http.Request, route *Route, in Inbound, d Decision) Decision {
	switch {
	case d.Reason == ReasonThrottled:
		w.Header().Set("Retry-After", RetryAfter(d.RetryAfter))
		writePasscodePage(w, http.StatusTooManyRequests, noticeThrottled)
		return d
	case d.Reason.BadCredential():
		writePasscodePage(w, http.StatusUnauthorized, noticeWrong)
		return d
	case d.Reason == ReasonSession:
		// A viewer with a valid cookie posted the form again: the cookie
		// already admits them.
	case !d.Admitted():
		WriteRefusal(w, &d)
		return d
	case !g.setSession(w, r, route, in, &d):
		// Without a cookie the redirect would land on the page again.
		d = Decision{Reason: ReasonSessionUnavailable, Alias: d.Alias, RetryAfter: 5 * time.Second}
		WriteRefusal(w, &d)
		return d
	}
	u := *r.URL
	u.RawQuery = WithoutParams(u.RawQuery, StrippedParams)
	w.Header().Set("Location", u.RequestURI())
	w.WriteHeader(http.StatusSeeOther)
	d.Reason = ReasonPasscodeLogin
	return d
}

func wantsHTML(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html")
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

// setSession issues the session cookie for an admission, expiring no
// later than the credential, the alias or the route's session lifetime,
// and reports whether it did.
func (g *Gate) setSession(w http.ResponseWriter, r *http.Request, route *Route, in Inbound, d *Decision) bool {
	a, grant := d.Alias, d.Grant
	// An owner's token can be revoked; a cookie minted from it could not,
	// so owners send their token with every request.
	if route.SessionLifetime <= 0 || grant.Role == alias.RoleOwner {
		return false
	}
	now := g.now()
	path := aliasPath(r.URL.Path, a.ID)
	if header, ok := g.issued.get(a, grant, path, in.Secure, now); ok {
		addSetCookie(w.Header(), header)
		return true
	}
	signer := g.sessions()
	if signer == nil {
		return false
	}
	expiry := now.Add(route.SessionLifetime)
	if d.Expiry.Before(expiry) {
		expiry = d.Expiry
	}
	value, ok := signer.Issue(a, grant, now, expiry)
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
		Secure:   in.Secure,
		SameSite: http.SameSiteLaxMode,
	}
	header := []string{cookie.String()}
	g.issued.put(a, grant, path, in.Secure, header, now)
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

// stripCredentials removes every credential the gateway reads from what
// the upstream gets.
func stripCredentials(r *http.Request, aliasID string) {
	// Canonical keys straight on the map: Header.Del would canonicalize
	// them again on every request.
	delete(r.Header, "Authorization")
	delete(r.Header, HeaderPasscode)
	if r.URL.RawQuery != "" {
		if q := WithoutParams(r.URL.RawQuery, StrippedParams); q != r.URL.RawQuery {
			r.URL.RawQuery = q
			r.RequestURI = r.URL.RequestURI()
		}
	}
	stripSession(r, aliasID)
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
		delete(r.Header, "Cookie")
		return
	}
	r.Header["Cookie"] = []string{strings.Join(kept, "; ")}
}

// filterTrailers keeps identity headers and credentials out of the request
// trailers the upstream gets. A client may send trailers after any body,
// declared or not, and the proxy forwards those the request holds when the
// body ends: so the request gets a trailer map of its own, which the body
// fills with the allowed trailers when it ends. An HTTP/1 request has
// trailers only after a chunked body, so one without is left alone: that is
// nearly every request a player makes, and Caddy wraps even an empty body.
func filterTrailers(r *http.Request, forwardCredentials bool) {
	if r.Body == nil || r.Body == http.NoBody || r.ProtoMajor == 1 && len(r.TransferEncoding) == 0 {
		return
	}
	clean := make(http.Header, len(r.Trailer))
	for name := range r.Trailer {
		if trailerAllowed(name, forwardCredentials) {
			clean[name] = nil
		}
	}
	r.Body = &trailerFilter{ReadCloser: r.Body, from: r.Trailer, to: clean, forwardCredentials: forwardCredentials}
	r.Trailer = clean
}

func trailerAllowed(name string, forwardCredentials bool) bool {
	name = http.CanonicalHeaderKey(name)
	switch {
	case strings.HasPrefix(name, IdentityHeaderPrefix):
		return false
	case forwardCredentials:
		return true
	}
	return name != "Authorization" && name != HeaderPasscode && name != "Cookie"
}

// trailerFilter copies the allowed trailers of a request when its body
// ends, which is when the server has read them.
type trailerFilter struct {
	io.ReadCloser
	from, to           http.Header
	forwardCredentials bool
	done               bool
}

func (t *trailerFilter) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF && !t.done {
		t.done = true
		for name, values := range t.from {
			if trailerAllowed(name, t.forwardCredentials) {
				t.to[name] = values
			}
		}
	}
	return n, err
}
