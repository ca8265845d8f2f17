package caddymodule

import (
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/node"
)

func init() {
	caddy.RegisterModule(LinkgateHealth{})
}

// LinkgateHealth answers a load balancer's health checks: 200 while this
// node can serve (its store answers, or does not but the node's cache
// carries it for up to max_stale), 503 with Retry-After when it cannot,
// with a small JSON body that says why. The store is asked at most once a
// second, however often the check is. It answers every request it gets,
// so mount it on a path of its own.
type LinkgateHealth struct {
	node *nodeHandle
}

// CaddyModule returns the Caddy module information.
func (LinkgateHealth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.linkgate_health",
		New: func() caddy.Module { return new(LinkgateHealth) },
	}
}

// Provision wires the handler to the linkgate app.
func (h *LinkgateHealth) Provision(ctx caddy.Context) error {
	app, err := appOf(ctx)
	if err != nil {
		return err
	}
	h.node = app.node
	return nil
}

// healthRetry is the Retry-After of a 503: the store is checked again
// after a second.
const healthRetry = time.Second

// ServeHTTP answers GET and HEAD with the node's health.
func (h *LinkgateHealth) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		gate.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "The health check answers GET and HEAD only.")
		return nil
	}
	health := h.node.Health()
	status := http.StatusOK
	if health.Status == node.HealthUnavailable {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", gate.RetryAfter(healthRetry))
	}
	// net/http sends no body in answer to HEAD, but the same headers.
	gate.WriteJSON(w, status, healthJSON{
		Status: health.Status,
		Reason: orNull(health.Reason),
		Store:  storeHealthJSON{Reachable: health.StoreReachable, LastContact: unixOrNull(health.LastContact)},
		Feed:   feedJSONOf(health.Feed),
		Cache:  cacheSizesJSON{Aliases: health.Aliases, Tokens: health.Tokens},
	})
	return nil
}

// healthJSON is the health check's body.
type healthJSON struct {
	Status string          `json:"status"`
	Reason *string         `json:"reason"`
	Store  storeHealthJSON `json:"store"`
	Feed   feedJSON        `json:"feed"`
	Cache  cacheSizesJSON  `json:"cache"`
}

type storeHealthJSON struct {
	Reachable   bool   `json:"reachable"`
	LastContact *int64 `json:"last_contact"`
}

type cacheSizesJSON struct {
	Aliases int64 `json:"aliases"`
	Tokens  int64 `json:"tokens"`
}

// feedJSON is the change feed's state, in the health check and the admin
// API alike.
type feedJSON struct {
	Kind      string `json:"kind"`
	Connected bool   `json:"connected"`
	Since     *int64 `json:"since"`
}

func feedJSONOf(f node.Feed) feedJSON {
	return feedJSON{Kind: f.Kind, Connected: f.Connected, Since: unixOrNull(f.Since)}
}

// unixOrNull is t in Unix seconds, as the API gives times, or null for the
// zero time.
func unixOrNull(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	s := t.Unix()
	return &s
}

// orNull is s, or null for "".
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

var (
	_ caddy.Provisioner           = (*LinkgateHealth)(nil)
	_ caddyhttp.MiddlewareHandler = (*LinkgateHealth)(nil)
)
