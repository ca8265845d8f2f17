package caddymodule

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/hooks"
)

func init() {
	caddy.RegisterModule(AliasHooks{})
}

// AliasHooks answers a media server's admission hooks (MediaMTX, SRS,
// nginx-rtmp, OvenMediaEngine) in that server's format, with the decision
// alias_auth makes for live aliases. It answers every request it gets:
// mount it on an internal route.
type AliasHooks struct {
	// Flavour is the media server: mediamtx, srs, nginx_rtmp or ome.
	Flavour string `json:"flavour"`

	// PathPrefix (mediamtx) is removed from MediaMTX's path to get the
	// alias ID, in whole path elements, leaving exactly one element; by
	// default the path must be a single element.
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

	handler *hooks.Handler
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
	app, err := appOf(ctx)
	if err != nil {
		return err
	}
	limiter, err := h.Throttle.provision(app)
	if err != nil {
		return err
	}
	logger := ctx.Logger()
	h.handler = &hooks.Handler{
		Gate:         app.newGate(logger, limiter),
		Flavour:      hooks.Flavour(h.Flavour),
		PathPrefix:   h.PathPrefix,
		AllowActions: h.AllowActions,
		Logger:       logger,
		Decisions: func(_ hooks.Flavour, reason gate.Reason) {
			countDecision("alias_hooks", reason)
		},
	}
	if h.Secret != "" {
		h.handler.Secret = []byte(caddy.NewReplacer().ReplaceKnown(h.Secret, ""))
	}
	return nil
}

// Validate checks the configuration.
func (h *AliasHooks) Validate() error {
	flavour := hooks.Flavour(h.Flavour)
	if !flavour.Valid() {
		return fmt.Errorf("alias_hooks: the flavour must be mediamtx, srs, nginx_rtmp or ome, not %q", h.Flavour)
	}
	if flavour != hooks.FlavourMediaMTX && (h.PathPrefix != "" || len(h.AllowActions) != 0) {
		return fmt.Errorf("alias_hooks %s: path_prefix and allow_actions are for mediamtx only", h.Flavour)
	}
	for _, action := range h.AllowActions {
		if !slices.Contains(hooks.MediaMTXActions, action) {
			return fmt.Errorf("alias_hooks mediamtx: allow_actions takes api, metrics and pprof, not %q", action)
		}
	}
	switch {
	case flavour == hooks.FlavourOME && h.Secret == "":
		return fmt.Errorf("alias_hooks ome needs the secret key of OvenMediaEngine's AdmissionWebhooks")
	case flavour == hooks.FlavourOME && h.handler != nil && len(h.handler.Secret) == 0:
		return fmt.Errorf("alias_hooks ome: the secret is empty once its placeholders are resolved")
	case flavour != hooks.FlavourOME && h.Secret != "":
		return fmt.Errorf("alias_hooks %s: secret is for ome only", h.Flavour)
	}
	return h.Throttle.validate()
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

var (
	_ caddy.Provisioner           = (*AliasHooks)(nil)
	_ caddy.Validator             = (*AliasHooks)(nil)
	_ caddy.CleanerUpper          = (*AliasHooks)(nil)
	_ caddyhttp.MiddlewareHandler = (*AliasHooks)(nil)
)
