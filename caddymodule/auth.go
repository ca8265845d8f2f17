package caddymodule

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

func init() {
	caddy.RegisterModule(AliasAuth{})
}

// AliasAuth admits a request only if it carries a credential for its alias:
// a session cookie, a JWT, a stream key, an organization token or the
// passcode. On success the upstream learns who the client is from
// X-Linkgate-* headers and {http.linkgate.*} placeholders, and Caddy's
// access log from {http.auth.user.id} (also .alias and .role); on failure
// the upstream never sees the request.
type AliasAuth struct {
	// Type is the alias type this route serves: live or conference. An
	// alias of the other type is not found here.
	Type string `json:"type"`

	// ID is where the alias ID is read; default {http.request.uri.path.1}.
	ID string `json:"id,omitempty"`

	// Require is viewer (default), publish or host.
	Require string `json:"require,omitempty"`

	// ForwardCredentials keeps the credential (Authorization, credential
	// query parameters, X-Alias-Passcode, the session cookie) in the
	// request the upstream gets; by default they are stripped.
	ForwardCredentials bool `json:"forward_credentials,omitempty"`

	// SessionLifetime bounds the session cookie issued after a credential
	// succeeds (default 12h; never past the token's or the alias's
	// expiry). A negative value issues no cookies.
	SessionLifetime caddy.Duration `json:"session_lifetime,omitempty"`

	// PasscodePage shows browsers a passcode form on passcode-protected
	// aliases (default true, unless session cookies are off: the form's
	// answer is a cookie).
	PasscodePage *bool `json:"passcode_page,omitempty"`

	// SecureCookies is when session cookies are marked Secure: auto
	// (default) when the client reached Caddy over HTTPS, directly or
	// through a trusted proxy that says so in X-Forwarded-Proto; always
	// for deployments whose TLS ends in front of proxies Caddy does not
	// trust.
	SecureCookies string `json:"secure_cookies,omitempty"`

	// IdentityHeaders names the X-Linkgate-* headers the upstream gets:
	// any of alias, type, role and user, or ["none"] for none of them.
	// Default: all four. Client-sent X-Linkgate-* headers are deleted
	// whatever this says; an upstream that reads none of them saves their
	// cost on every request.
	IdentityHeaders []string `json:"identity_headers,omitempty"`

	// TrackConnections is which admitted requests are held, so that they
	// end when their right to exist ends (the credential expires, the
	// alias changes or goes, a revocation): long (default: WebSockets,
	// LL-HLS blocking playlist reloads, event streams), all (every
	// request, for responses that last as long as the broadcast) or off.
	TrackConnections string `json:"track_connections,omitempty"`

	// PlaybackTokens rewrites the HLS playlists and DASH manifests that
	// admitted requests get, so that every URI leading back to this site
	// carries a playback token (the lgt query parameter), for players
	// that keep no cookies (default true, unless session cookies are off:
	// a token is a session carried in the URL).
	PlaybackTokens *bool `json:"playback_tokens,omitempty"`

	// Throttle sets the brute-force protection (failure_limit,
	// failure_window).
	Throttle

	gate     *gate.Gate
	node     *nodeHandle
	route    gate.Route
	identity gate.IdentityHeaders
	logger   *zap.Logger
}

// DefaultSessionLifetime bounds session cookies unless configured.
const DefaultSessionLifetime = 12 * time.Hour

// CaddyModule returns the Caddy module information.
func (AliasAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.alias_auth",
		New: func() caddy.Module { return new(AliasAuth) },
	}
}

// Provision wires the handler to the linkgate app.
func (h *AliasAuth) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	app, err := appOf(ctx)
	if err != nil {
		return err
	}
	if h.ID == "" {
		h.ID = defaultIDPlaceholder
	}
	if h.SessionLifetime == 0 {
		h.SessionLifetime = caddy.Duration(DefaultSessionLifetime)
	}
	require, _ := alias.ParseRequirement(h.Require)
	h.route = gate.Route{
		Type:               alias.Type(h.Type),
		Require:            require,
		ForwardCredentials: h.ForwardCredentials,
		// A session never outlives max_token_lifetime, which revocations
		// are kept for: a revoked session must not outlast its revocation.
		SessionLifetime: min(max(time.Duration(h.SessionLifetime), 0), time.Duration(app.MaxTokenLifetime)),
		PasscodePage:    h.SessionLifetime > 0 && (h.PasscodePage == nil || *h.PasscodePage),
		PlaybackTokens:  h.SessionLifetime > 0 && (h.PlaybackTokens == nil || *h.PlaybackTokens),
	}
	h.identity, _ = identityHeaders(h.IdentityHeaders)
	limiter, err := h.Throttle.provision(app)
	if err != nil {
		return err
	}
	h.gate = app.newGate(h.logger, limiter)
	h.node = app.node
	if h.TrackConnections == "" {
		h.TrackConnections = TrackLong
	}
	return nil
}

// Validate checks the configuration.
func (h *AliasAuth) Validate() error {
	if !alias.Type(h.Type).Valid() {
		return fmt.Errorf("alias_auth: type must be live or conference, not %q", h.Type)
	}
	if _, ok := alias.ParseRequirement(h.Require); h.Require != "" && !ok {
		return fmt.Errorf("alias_auth: require must be viewer, publish or host, not %q", h.Require)
	}
	if h.SessionLifetime < 0 && h.PasscodePage != nil && *h.PasscodePage {
		return fmt.Errorf("alias_auth: passcode_page needs session cookies; it cannot be on with session_lifetime off")
	}
	if _, err := identityHeaders(h.IdentityHeaders); err != nil {
		return err
	}
	if h.SessionLifetime < 0 && h.PlaybackTokens != nil && *h.PlaybackTokens {
		return fmt.Errorf("alias_auth: playback_tokens live as long as sessions; they cannot be on with session_lifetime off")
	}
	switch h.SecureCookies {
	case "", "auto", "always":
	default:
		return fmt.Errorf("alias_auth: secure_cookies must be auto or always, not %q", h.SecureCookies)
	}
	switch h.TrackConnections {
	case "", TrackLong, TrackAll, TrackOff:
	default:
		return fmt.Errorf("alias_auth: track_connections must be long, all or off, not %q", h.TrackConnections)
	}
	return h.Throttle.validate()
}

// Cleanup releases the failure table taken in Provision.
func (h *AliasAuth) Cleanup() error {
	return h.Throttle.cleanup()
}

// ServeHTTP checks the request's credential and hands it to next only if it
// opens the alias.
func (h *AliasAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	in := gate.Inbound{Secure: h.secure(r)}
	if h.ID == defaultIDPlaceholder {
		in.AliasID = pathSegment(r.URL.Path, 1)
	} else {
		in.AliasID = repl.ReplaceAll(h.ID, "")
	}
	in.Client, _ = caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)

	d, pass := h.gate.Check(w, r, &h.route, in)
	countDecision("alias_auth", d.Reason)
	if !pass {
		level, msg := zap.InfoLevel, "alias request denied"
		if d.Admitted() {
			level, msg = zap.DebugLevel, "passcode accepted"
		}
		if ce := h.logger.Check(level, msg); ce != nil {
			ce.Write(zap.String("alias", in.AliasID), zap.Int("status", d.Reason.Status()),
				zap.String("reason", d.Reason.String()), zap.String("client_ip", in.Client))
		}
		return nil
	}
	id := gate.IdentityOf(&d)
	gate.SetIdentityHeaders(r, &id, h.identity)
	setIdentityPlaceholders(repl, &d, &id)
	if kind := heldKind(r, h.TrackConnections); kind != "" {
		return h.serveHeld(w, r, next, &d, kind, in.Client)
	}
	if pw := h.playlistWriter(w, r, &d); pw != nil {
		return pw.serve(next, r)
	}
	return next.ServeHTTP(w, r)
}

// serveHeld hands on a request that is held until it ends, or until its
// right to exist ends and the node ends it.
func (h *AliasAuth) serveHeld(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, d *gate.Decision, kind, client string) (err error) {
	hw, r, done := h.hold(w, r, d, kind)
	defer done()
	defer func() {
		why := hw.ended()
		if why == 0 {
			return
		}
		// A response that was streaming when it was ended is cut by the
		// proxy with http.ErrAbortHandler; it is ended here instead, so
		// that the client sees its end rather than a broken connection.
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			panic(p)
		}
		if c := h.logger.Check(zap.InfoLevel, "held request ended"); c != nil {
			c.Write(zap.String("alias", d.Alias.ID), zap.String("kind", kind), zap.String("reason", why.String()),
				zap.String("client_ip", client))
		}
		if hw.isMuted() {
			gate.WriteRefusal(w, &gate.Decision{Reason: why, Alias: d.Alias})
		}
		err = nil
	}()
	// A blocked LL-HLS reload is a playlist too: its URIs get tokens.
	if pw := h.playlistWriter(hw, r, d); pw != nil {
		return pw.serve(next, r)
	}
	return next.ServeHTTP(hw, r)
}

// identityHeaders reads the identity_headers option: absent means all
// four, ["none"] none.
func identityHeaders(names []string) (gate.IdentityHeaders, error) {
	if len(names) == 0 {
		return gate.AllIdentityHeaders, nil
	}
	if len(names) == 1 && names[0] == "none" {
		return 0, nil
	}
	var set gate.IdentityHeaders
	for _, name := range names {
		h, ok := gate.ParseIdentityHeader(name)
		if !ok {
			return 0, fmt.Errorf("alias_auth: identity_headers are alias, type, role and user, or none alone, not %q", name)
		}
		set |= h
	}
	return set, nil
}

// secure tells whether the session cookie of a response to r is marked
// Secure.
func (h *AliasAuth) secure(r *http.Request) bool {
	return h.SecureCookies == "always" || viaHTTPS(r)
}

// defaultIDPlaceholder is where alias_auth reads the alias ID unless told
// otherwise; it is read straight from the path, which is what Caddy's
// replacer would do, without the replacer's allocations.
const defaultIDPlaceholder = "{http.request.uri.path.1}"

// pathSegment is segment i of path as {http.request.uri.path.i} counts
// them: after the leading slash, split at every slash.
func pathSegment(path string, i int) string {
	path = strings.TrimPrefix(path, "/")
	for ; i > 0; i-- {
		_, rest, ok := strings.Cut(path, "/")
		if !ok {
			return ""
		}
		path = rest
	}
	seg, _, _ := strings.Cut(path, "/")
	return seg
}

var (
	_ caddy.Provisioner           = (*AliasAuth)(nil)
	_ caddy.Validator             = (*AliasAuth)(nil)
	_ caddy.CleanerUpper          = (*AliasAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*AliasAuth)(nil)
)
