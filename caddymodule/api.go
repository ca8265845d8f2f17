package caddymodule

import (
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/gate"
)

func init() {
	caddy.RegisterModule(AliasAPI{})
}

// AliasAPI serves the alias API (retrieve, list, create, update, delete)
// on its documented paths and passes every other request on, so it can sit
// in a site beside the routes it protects.
type AliasAPI struct {
	// Throttle sets the brute-force protection of the retrieve endpoint
	// (failure_limit, failure_window); with the same setting as an
	// alias_auth, failures on either count for both.
	Throttle

	api *aliasapi.API
}

// CaddyModule returns the Caddy module information.
func (AliasAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.alias_api",
		New: func() caddy.Module { return new(AliasAPI) },
	}
}

// Provision wires the handler to the linkgate app.
func (h *AliasAPI) Provision(ctx caddy.Context) error {
	app, err := appOf(ctx)
	if err != nil {
		return err
	}
	limiter, err := h.Throttle.provision(app)
	if err != nil {
		return err
	}
	logger := ctx.Logger()
	h.api = &aliasapi.API{
		Store: app.node.Catalog(),
		Gate:  app.newGate(logger, limiter),
		Rules: app.rules(),
		// No token or session outlives max_token_lifetime (and the leeway
		// on its expiry): a revocation is kept that long.
		RevocationTTL: time.Duration(app.MaxTokenLifetime + app.JWTLeeway),
		QueryTimeout:  time.Duration(app.QueryTimeout),
		Logger:        logger,
		ClientIP: func(r *http.Request) string {
			ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
			return ip
		},
		Decided: func(reason gate.Reason) { countDecision("alias_api", reason) },
	}
	return nil
}

// Validate checks the configuration.
func (h *AliasAPI) Validate() error { return h.Throttle.validate() }

// Cleanup releases the failure table taken in Provision.
func (h *AliasAPI) Cleanup() error { return h.Throttle.cleanup() }

// ServeHTTP answers API requests and hands the rest to next.
func (h *AliasAPI) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.api.Handles(r) {
		return next.ServeHTTP(w, r)
	}
	h.api.ServeHTTP(w, r)
	return nil
}

var (
	_ caddy.Provisioner           = (*AliasAPI)(nil)
	_ caddy.Validator             = (*AliasAPI)(nil)
	_ caddy.CleanerUpper          = (*AliasAPI)(nil)
	_ caddyhttp.MiddlewareHandler = (*AliasAPI)(nil)
)
