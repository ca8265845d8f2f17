package caddymodule

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

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

	// API (mediamtx, srs) is the base URL of the media server's HTTP API:
	// MediaMTX's Control API, SRS's HTTP API. With it, every session the
	// hook admits and the server can name is ended through the API once
	// its right to exist ends: its alias deleted, expired or re-keyed, its
	// user or token revoked, its JWT expired. User information in the URL
	// is sent as basic authentication; give the password as an {env.*} or
	// {file.*} placeholder: it is resolved when the handler is
	// provisioned.
	API string `json:"api,omitempty"`

	// APITimeout bounds each call to the API (default 2s).
	APITimeout caddy.Duration `json:"api_timeout,omitempty"`

	// SweepInterval (mediamtx) is how often MediaMTX's lists of
	// connections are read to forget the sessions that ended, which
	// MediaMTX does not report (default 1m).
	SweepInterval caddy.Duration `json:"sweep_interval,omitempty"`

	// Throttle sets the brute-force protection (failure_limit,
	// failure_window).
	Throttle

	handler *hooks.Handler
	// api is API with its placeholders resolved.
	api         string
	sessionsKey string
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
	if h.API != "" {
		h.api = caddy.NewReplacer().ReplaceKnown(h.API, "")
		return h.provisionSessions(app, logger)
	}
	return nil
}

// mediaSessions holds the sessions tracked for each media server across
// config reloads, by node and API URL: a reload that keeps the URL keeps
// ending the sessions admitted before it.
var mediaSessions = caddy.NewUsagePool()

type sessionsHandle struct {
	*hooks.Sessions
}

// Destruct forgets the sessions once no config names their API: a config
// without it wants none ended.
func (h *sessionsHandle) Destruct() error {
	h.Close()
	return nil
}

// provisionSessions takes the sessions of the media server's API. A
// configuration that is not valid takes none: Validate says why.
func (h *AliasHooks) provisionSessions(app *App, logger *zap.Logger) error {
	flavour := hooks.Flavour(h.Flavour)
	if flavour != hooks.FlavourMediaMTX && flavour != hooks.FlavourSRS {
		return nil
	}
	if _, err := hooks.ParseAPIURL(h.api); err != nil {
		return nil
	}
	// The key holds the API's password; it is only a map key.
	key := app.poolKey + "\x00" + h.Flavour + "\x00" + h.api
	v, _, err := mediaSessions.LoadOrNew(key, func() (caddy.Destructor, error) {
		api, err := hooks.NewAPI(h.api, time.Duration(h.APITimeout))
		if err != nil {
			return nil, err
		}
		return &sessionsHandle{hooks.NewSessions(flavour, api, app.node, logger, countKick)}, nil
	})
	if err != nil {
		return fmt.Errorf("alias_hooks %s: api: %w", h.Flavour, err)
	}
	h.sessionsKey = key
	sessions := v.(*sessionsHandle).Sessions
	sessions.API().SetTimeout(time.Duration(h.APITimeout))
	sessions.SetSweepInterval(time.Duration(h.SweepInterval))
	sessions.SetLogger(logger)
	h.handler.Sessions = sessions
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
	if err := h.validateAPI(); err != nil {
		return err
	}
	return h.Throttle.validate()
}

// validateAPI checks api and the settings that go with it. Its errors
// never quote the URL, which may hold a password.
func (h *AliasHooks) validateAPI() error {
	flavour := hooks.Flavour(h.Flavour)
	switch {
	case h.API == "" && (h.APITimeout != 0 || h.SweepInterval != 0):
		return fmt.Errorf("alias_hooks %s: api_timeout and sweep_interval need api", h.Flavour)
	case h.API == "":
		return nil
	case flavour != hooks.FlavourMediaMTX && flavour != hooks.FlavourSRS:
		return fmt.Errorf("alias_hooks %s: api is for mediamtx and srs only", h.Flavour)
	case h.SweepInterval != 0 && flavour != hooks.FlavourMediaMTX:
		return fmt.Errorf("alias_hooks %s: sweep_interval is for mediamtx only", h.Flavour)
	case h.APITimeout < 0 || h.SweepInterval < 0:
		return fmt.Errorf("alias_hooks %s: api_timeout and sweep_interval must be positive", h.Flavour)
	}
	raw := h.api
	if h.handler == nil {
		raw = h.API
	}
	if raw == "" {
		return fmt.Errorf("alias_hooks %s: the api URL is empty once its placeholders are resolved", h.Flavour)
	}
	if _, err := hooks.ParseAPIURL(raw); err != nil {
		return fmt.Errorf("alias_hooks %s: the api URL is not valid: %w", h.Flavour, err)
	}
	return nil
}

// Cleanup releases the failure table and the sessions taken in Provision.
func (h *AliasHooks) Cleanup() error {
	if h.sessionsKey != "" {
		if _, err := mediaSessions.Delete(h.sessionsKey); err != nil {
			return err
		}
		h.sessionsKey = ""
	}
	return h.Throttle.cleanup()
}

// countKick counts a kick's outcome.
func countKick(flavour hooks.Flavour, outcome hooks.KickOutcome) {
	metrics.kicks.WithLabelValues(string(flavour), string(outcome)).Inc()
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
