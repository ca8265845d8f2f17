package caddymodule

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/aliasapi"
)

func init() {
	caddy.RegisterModule(AliasAuth{})
}

// AliasAuth admits a request only if it carries a credential for its alias:
// a session cookie, a JWT, a stream key, an organization token or the
// passcode. On success the upstream learns who the client is from
// X-Linkgate-* headers and {http.linkgate.*} placeholders; on failure the
// upstream never sees the request.
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

	// FailureLimit is how many failed credentials a client may send for an
	// alias within FailureWindow before it gets 429 (default 10; a
	// negative value turns throttling off).
	FailureLimit int `json:"failure_limit,omitempty"`

	// FailureWindow is the span failures are counted over (default 1m).
	FailureWindow caddy.Duration `json:"failure_window,omitempty"`

	gate    *aliasapi.Gate
	route   aliasapi.Route
	logger  *zap.Logger
	limiter *limiterHandle
}

// DefaultSessionLifetime bounds session cookies unless configured.
const DefaultSessionLifetime = 12 * time.Hour

// Identity headers the upstream gets. Every X-Linkgate-* header a client
// sent is deleted first, so none can be forged.
const (
	headerPrefix = "X-Linkgate-"
	headerAlias  = "X-Linkgate-Alias"
	headerType   = "X-Linkgate-Type"
	headerRole   = "X-Linkgate-Role"
	headerUser   = "X-Linkgate-User"
)

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
	appModule, err := ctx.App("linkgate")
	if err != nil {
		return fmt.Errorf("loading the linkgate app: %w", err)
	}
	app := appModule.(*App)
	if h.ID == "" {
		h.ID = "{http.request.uri.path.1}"
	}
	if h.SessionLifetime == 0 {
		h.SessionLifetime = caddy.Duration(DefaultSessionLifetime)
	}
	if h.FailureLimit == 0 {
		h.FailureLimit = aliasapi.DefaultFailureLimit
	}
	if h.FailureWindow <= 0 {
		h.FailureWindow = caddy.Duration(aliasapi.DefaultFailureWindow)
	}
	require, err := parseRequirement(h.Require)
	if err != nil {
		return err
	}
	if h.SessionLifetime < 0 && h.PasscodePage != nil && *h.PasscodePage {
		return fmt.Errorf("alias_auth: passcode_page needs session cookies; it cannot be on with session_lifetime off")
	}
	h.route = aliasapi.Route{
		Type:               aliasapi.Type(h.Type),
		Require:            require,
		ForwardCredentials: h.ForwardCredentials,
		SessionLifetime:    max(time.Duration(h.SessionLifetime), 0),
		PasscodePage:       h.SessionLifetime > 0 && (h.PasscodePage == nil || *h.PasscodePage),
	}
	h.gate = app.gate(h.logger)
	if h.FailureLimit > 0 {
		h.limiter, err = app.limiter(h.FailureLimit, time.Duration(h.FailureWindow))
		if err != nil {
			return err
		}
		h.gate.Limiter = h.limiter.Limiter
	}
	return nil
}

// Validate checks the configuration.
func (h *AliasAuth) Validate() error {
	if !aliasapi.Type(h.Type).Valid() {
		return fmt.Errorf("alias_auth: type must be live or conference, not %q", h.Type)
	}
	return nil
}

// Cleanup releases the failure table taken in Provision.
func (h *AliasAuth) Cleanup() error {
	if h.limiter != nil {
		return h.limiter.release()
	}
	return nil
}

func parseRequirement(s string) (aliasapi.Requirement, error) {
	switch s {
	case "", "viewer":
		return aliasapi.RequireViewer, nil
	case "publish":
		return aliasapi.RequirePublish, nil
	case "host":
		return aliasapi.RequireHost, nil
	}
	return 0, fmt.Errorf("alias_auth: require must be viewer, publish or host, not %q", s)
}

// ServeHTTP checks the request's credential and hands it to next only if it
// opens the alias.
func (h *AliasAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	aliasID := repl.ReplaceAll(h.ID, "")
	client, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)

	d := h.gate.Check(w, r, &h.route, aliasID, client)
	// A passcode form answered with a cookie and a redirect let the
	// viewer in, though the upstream sees only the next request.
	countDecision("alias_auth", d.Status == 0 || d.Status == http.StatusSeeOther, d.Reason)
	if d.Status != 0 {
		if ce := h.logger.Check(zap.InfoLevel, "alias request denied"); ce != nil {
			ce.Write(zap.String("alias", aliasID), zap.Int("status", d.Status), zap.String("reason", d.Reason), zap.String("client_ip", client))
		}
		return nil
	}

	for name := range r.Header {
		if strings.HasPrefix(name, headerPrefix) {
			delete(r.Header, name)
		}
	}
	role := d.Grant.Role.String()
	r.Header.Set(headerAlias, d.Alias.ID)
	r.Header.Set(headerType, string(d.Alias.Type))
	r.Header.Set(headerRole, role)
	r.Header.Set(headerUser, d.Grant.User)
	repl.Set("http.linkgate.alias", d.Alias.ID)
	repl.Set("http.linkgate.role", role)
	repl.Set("http.linkgate.user", d.Grant.User)
	return next.ServeHTTP(w, r)
}

var (
	_ caddy.Provisioner           = (*AliasAuth)(nil)
	_ caddy.Validator             = (*AliasAuth)(nil)
	_ caddy.CleanerUpper          = (*AliasAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*AliasAuth)(nil)
)
