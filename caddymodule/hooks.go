package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/linkgate/linkgate/aliasapi"
)

func init() {
	caddy.RegisterModule(AliasHooks{})
	httpcaddyfile.RegisterHandlerDirective("alias_hooks", parseAliasHooks)
	// Beside alias_api, before handle: a matcher-scoped alias_hooks
	// answers its path without a handle block or an order option, and
	// forward_auth or basic_auth still run before it.
	httpcaddyfile.RegisterDirectiveOrder("alias_hooks", httpcaddyfile.Before, "handle")
}

// AliasHooks answers a media server's admission hooks (MediaMTX, SRS,
// nginx-rtmp, OvenMediaEngine) in that server's format, with the decision
// alias_auth makes for live aliases. It answers every request it gets:
// mount it on an internal route.
type AliasHooks struct {
	// Flavour is the media server: mediamtx, srs, nginx_rtmp or ome.
	Flavour string `json:"flavour"`

	// PathPrefix (mediamtx) is removed from MediaMTX's path to get the
	// alias ID, in whole path elements; by default the alias ID is the
	// last path element.
	PathPrefix string `json:"path_prefix,omitempty"`

	// AllowActions (mediamtx) lists the MediaMTX actions api, metrics and
	// pprof that are allowed; by default they are refused.
	AllowActions []string `json:"allow_actions,omitempty"`

	// Secret (ome, required) is the AdmissionWebhooks secret key that signs
	// OvenMediaEngine's requests. Use an {env.*} or {file.*} placeholder:
	// it is resolved when the handler is provisioned.
	Secret string `json:"secret,omitempty"`

	// Throttle sets the brute-force protection (failure_limit,
	// failure_window).
	Throttle

	handler *aliasapi.HookHandler
}

// CaddyModule returns the Caddy module information.
func (AliasHooks) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.alias_hooks",
		New: func() caddy.Module { return new(AliasHooks) },
	}
}

// Provision wires the handler to the linkgate app.
func (h *AliasHooks) Provision(ctx caddy.Context) error {
	// Caddy validates after provisioning; a JSON config without its
	// secret should fail on that, not on what Provision makes of it.
	if err := h.Validate(); err != nil {
		return err
	}
	logger := ctx.Logger()
	appModule, err := ctx.App("linkgate")
	if err != nil {
		return fmt.Errorf("loading the linkgate app: %w", err)
	}
	app := appModule.(*App)
	flavour := aliasapi.Flavour(h.Flavour)
	handler := &aliasapi.HookHandler{
		Gate:         app.gate(logger),
		Flavour:      flavour,
		PathPrefix:   h.PathPrefix,
		AllowActions: h.AllowActions,
		Logger:       logger,
		Decisions: func(_, outcome string) {
			countDecision("alias_hooks", outcome == aliasapi.OutcomeAdmitted || outcome == aliasapi.OutcomeAcknowledged, outcome)
		},
	}
	if flavour == aliasapi.FlavourOME {
		secret := caddy.NewReplacer().ReplaceKnown(h.Secret, "")
		if secret == "" {
			return fmt.Errorf("alias_hooks ome: the secret is empty once its placeholders are resolved")
		}
		handler.Secret = []byte(secret)
	}
	if flavour == aliasapi.FlavourNginxRTMP {
		handler.KeyLookup = keyLookup(app)
	}
	if handler.Gate.Limiter, err = h.Throttle.provision(app); err != nil {
		return err
	}
	h.handler = handler
	return nil
}

// keyLookup returns the app's lookup of aliases by stream key. It asks the
// store, not the cache: a publisher connects once, and a re-keyed alias must
// cut its stream at the next update.
func keyLookup(app *App) aliasapi.KeyLookup {
	s := app.Store()
	timeout := time.Duration(app.QueryTimeout)
	return func(ctx context.Context, key string) (*aliasapi.Alias, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		a, err := s.AliasByStreamKey(ctx, key)
		if err != nil {
			return nil, err
		}
		return &a, nil
	}
}

// Validate checks the configuration.
func (h *AliasHooks) Validate() error {
	flavour := aliasapi.Flavour(h.Flavour)
	if !flavour.Valid() {
		return fmt.Errorf("alias_hooks: the flavour must be mediamtx, srs, nginx_rtmp or ome, not %q", h.Flavour)
	}
	if flavour != aliasapi.FlavourMediaMTX && (h.PathPrefix != "" || len(h.AllowActions) != 0) {
		return fmt.Errorf("alias_hooks %s: path_prefix and allow_actions are for mediamtx only", h.Flavour)
	}
	for _, action := range h.AllowActions {
		if !slices.Contains(aliasapi.MediaMTXActions, action) {
			return fmt.Errorf("alias_hooks mediamtx: allow_actions takes api, metrics and pprof, not %q", action)
		}
	}
	switch {
	case flavour == aliasapi.FlavourOME && h.Secret == "":
		return fmt.Errorf("alias_hooks ome needs the secret key of OvenMediaEngine's AdmissionWebhooks")
	case flavour != aliasapi.FlavourOME && h.Secret != "":
		return fmt.Errorf("alias_hooks %s: secret is for ome only", h.Flavour)
	}
	return nil
}

// Cleanup releases the failure table taken in Provision.
func (h *AliasHooks) Cleanup() error {
	return h.Throttle.cleanup()
}

// ServeHTTP answers the hook request; it never calls next.
func (h *AliasHooks) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h.handler.ServeHTTP(w, r)
	return nil
}

// parseAliasHooks sets up the alias_hooks handler:
//
//	alias_hooks mediamtx|srs|nginx_rtmp|ome {
//		path_prefix   <prefix>                  # mediamtx
//		allow_actions api|metrics|pprof ...     # mediamtx
//		secret        <value>                   # ome, required
//		throttle      <failures> <window>|off
//	}
func parseAliasHooks(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	a := new(AliasHooks)
	if err := a.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return a, nil
}

// UnmarshalCaddyfile reads the alias_hooks directive; see parseAliasHooks.
func (h *AliasHooks) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if !d.NextArg() {
		return d.Errf("alias_hooks needs the media server: mediamtx, srs, nginx_rtmp or ome")
	}
	h.Flavour = d.Val()
	if !aliasapi.Flavour(h.Flavour).Valid() {
		return d.Errf("alias_hooks: the media server must be mediamtx, srs, nginx_rtmp or ome, not %q", h.Flavour)
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		args := d.RemainingArgs()
		switch name {
		case "path_prefix":
			if len(args) != 1 {
				return d.ArgErr()
			}
			h.PathPrefix = args[0]
		case "allow_actions":
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.AllowActions = append(h.AllowActions, args...)
		case "secret":
			if len(args) != 1 {
				return d.ArgErr()
			}
			h.Secret = args[0]
		case "throttle":
			if err := h.Throttle.unmarshal(d, args); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized alias_hooks subdirective %q", name)
		}
	}
	if err := h.Validate(); err != nil {
		return d.Err(err.Error())
	}
	return nil
}

var (
	_ caddy.Provisioner           = (*AliasHooks)(nil)
	_ caddy.Validator             = (*AliasHooks)(nil)
	_ caddy.CleanerUpper          = (*AliasHooks)(nil)
	_ caddyhttp.MiddlewareHandler = (*AliasHooks)(nil)
	_ caddyfile.Unmarshaler       = (*AliasHooks)(nil)
)
