package caddymodule

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/linkgate/linkgate/aliasapi"
)

func init() {
	caddy.RegisterModule(AliasAPI{})
}

// AliasAPI serves the alias API (retrieve, list, create, update, delete)
// on its documented paths and passes every other request on, so it can sit
// in a site beside the routes it protects.
type AliasAPI struct {
	api *aliasapi.API
}

// CaddyModule returns the Caddy module information.
func (AliasAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.alias_api",
		New: func() caddy.Module { return new(AliasAPI) },
	}
}

// Provision wires the handler to the linkgate app's store.
func (h *AliasAPI) Provision(ctx caddy.Context) error {
	appModule, err := ctx.App("linkgate")
	if err != nil {
		return fmt.Errorf("loading the linkgate app: %w", err)
	}
	app := appModule.(*App)
	h.api = &aliasapi.API{
		Store:        app.Store(),
		Rules:        aliasapi.Rules{MinJWTSecretLength: app.MinJWTSecretLength},
		JWT:          app.jwt,
		QueryTimeout: time.Duration(app.QueryTimeout),
		Logger:       ctx.Logger(),
	}
	return nil
}

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
	_ caddyhttp.MiddlewareHandler = (*AliasAPI)(nil)
)
