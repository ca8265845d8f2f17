package caddymodule

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
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

	// Throttle sets the brute-force protection (failure_limit,
	// failure_window).
	Throttle

	gate   *aliasapi.Gate
	route  aliasapi.Route
	logger *zap.Logger
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
		h.ID = defaultIDPlaceholder
	}
	if h.SessionLifetime == 0 {
		h.SessionLifetime = caddy.Duration(DefaultSessionLifetime)
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
	if h.gate.Limiter, err = h.Throttle.provision(app); err != nil {
		return err
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
	return h.Throttle.cleanup()
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
	var aliasID string
	if h.ID == defaultIDPlaceholder {
		aliasID = pathSegment(r.URL.Path, 1)
	} else {
		aliasID = repl.ReplaceAll(h.ID, "")
	}
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
	id := identityOf(d.Alias.ID)
	role := d.Grant.Role
	r.Header[headerAlias] = id.header
	r.Header[headerType] = typeHeaders[d.Alias.Type]
	r.Header[headerRole] = roleHeaders[role]
	repl.Set("http.linkgate.alias", id.value)
	repl.Set("http.linkgate.role", roleValues[role])
	if d.Grant.User == "" {
		r.Header[headerUser] = emptyHeader
		repl.Set("http.linkgate.user", "")
	} else {
		user := identityOf(d.Grant.User)
		r.Header[headerUser] = user.header
		repl.Set("http.linkgate.user", user.value)
	}
	return next.ServeHTTP(w, r)
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

// Header values and placeholder values that every request of an alias
// shares. They are built once: a header value is a one-element slice,
// capacity one, that nobody writes into (Header.Set replaces a slice,
// Header.Add appends to a full one, which copies it), and a placeholder
// value is the string already in an interface.
var (
	emptyHeader = []string{""}
	typeHeaders = map[aliasapi.Type][]string{
		aliasapi.TypeLive:       {string(aliasapi.TypeLive)},
		aliasapi.TypeConference: {string(aliasapi.TypeConference)},
	}
	roleHeaders = [...][]string{
		aliasapi.RoleViewer:    {aliasapi.RoleViewer.String()},
		aliasapi.RolePublisher: {aliasapi.RolePublisher.String()},
		aliasapi.RoleHost:      {aliasapi.RoleHost.String()},
		aliasapi.RoleOwner:     {aliasapi.RoleOwner.String()},
	}
	roleValues = [...]any{
		aliasapi.RoleViewer:    aliasapi.RoleViewer.String(),
		aliasapi.RolePublisher: aliasapi.RolePublisher.String(),
		aliasapi.RoleHost:      aliasapi.RoleHost.String(),
		aliasapi.RoleOwner:     aliasapi.RoleOwner.String(),
	}
)

// aliasIdentity is an alias ID, or a user ID, as a header value and as a
// placeholder value: both are the string itself, so one table serves both.
type aliasIdentity struct {
	header []string
	value  any
}

// identities remembers aliasIdentity per alias or user ID; bounded, since
// IDs come and go.
var identities = struct {
	sync.RWMutex
	m map[string]aliasIdentity
}{m: make(map[string]aliasIdentity)}

const maxIdentities = 100_000

func identityOf(id string) aliasIdentity {
	identities.RLock()
	ident, ok := identities.m[id]
	identities.RUnlock()
	if ok {
		return ident
	}
	ident = aliasIdentity{header: []string{id}, value: id}
	identities.Lock()
	if len(identities.m) >= maxIdentities {
		clear(identities.m)
	}
	identities.m[id] = ident
	identities.Unlock()
	return ident
}

var (
	_ caddy.Provisioner           = (*AliasAuth)(nil)
	_ caddy.Validator             = (*AliasAuth)(nil)
	_ caddy.CleanerUpper          = (*AliasAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*AliasAuth)(nil)
)
