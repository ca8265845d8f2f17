// Package caddymodule is linkgate's Caddy glue: the linkgate app, the
// alias_api, alias_auth and alias_hooks handlers, their Caddyfile syntax,
// metrics and the "caddy linkgate" commands. The access decision lives in
// gate, the API in aliasapi, the media-server dialects in hooks, and what a
// node runs in node.
package caddymodule

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/node"
)

func init() {
	caddy.RegisterModule(App{})
}

// nodes holds one node per database across config reloads: a reload
// reuses the pool, the caches and the change feed instead of dropping
// them.
var nodes = caddy.NewUsagePool()

// nodeHandle is a node in the pool, with the gate state every handler on
// it shares.
type nodeHandle struct {
	*node.Node
	// tokens remembers what verified JWTs and session cookies proved.
	tokens *gate.TokenCache
}

// Destruct closes the node once no config uses it.
func (h *nodeHandle) Destruct() error {
	retireStats(h.Stats())
	return h.Close()
}

// App is the linkgate app. It owns the node (store, caches, change feed)
// that every linkgate handler of the config uses, and the rules
// credentials are checked by.
type App struct {
	// Database is the alias store: a postgres:// or postgresql:// URL, or
	// sqlite:PATH for a file of the embedded store. Without it, the
	// embedded store keeps linkgate/linkgate.db under Caddy's data
	// directory. Use an {env.*} or {file.*} placeholder for a URL with a
	// password: it is resolved when the app is provisioned, so the
	// password never lands in the saved config.
	Database string `json:"database,omitempty"`

	// AutoMigrate applies the schema migrations when the app starts
	// (default true). Off, they are left to "caddy linkgate migrate".
	AutoMigrate *bool `json:"auto_migrate,omitempty"`

	// QueryTimeout bounds each store query made for a request (default 2s).
	QueryTimeout caddy.Duration `json:"query_timeout,omitempty"`

	// MinJWTSecretLength is the shortest jwt_secret the API accepts, in
	// bytes (default 32, as RFC 7518 §3.2 asks for HS256).
	MinJWTSecretLength int `json:"min_jwt_secret_length,omitempty"`

	// JWTLeeway is the clock skew tolerated on a JWT's exp, nbf and iat
	// (default 30s).
	JWTLeeway caddy.Duration `json:"jwt_leeway,omitempty"`

	// MaxTokenLifetime is the longest a JWT may be valid for, counted from
	// its iat (default 24h).
	MaxTokenLifetime caddy.Duration `json:"max_token_lifetime,omitempty"`

	// ThrottleCapacity is about how many clients the brute-force protection
	// of each throttle setting tracks (default 100000; 32 bytes each).
	// Its memory is fixed: more clients make it forget the stalest.
	ThrottleCapacity int `json:"throttle_capacity,omitempty"`

	// CacheSize is how many aliases each node holds in memory (default
	// 100000, about 0.5 KiB each); organization tokens get as many.
	CacheSize int64 `json:"cache_size,omitempty"`

	// CacheTTL is how long a cached alias is served before it is read
	// again (default 60s): the safety net behind change notices.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// NegativeTTL is how long "no such alias" is remembered (default 5s).
	NegativeTTL caddy.Duration `json:"negative_ttl,omitempty"`

	// MaxStale is how long past cache_ttl a cached alias is still served
	// while the database cannot be reached (default 5m; a negative value
	// never serves stale aliases).
	MaxStale caddy.Duration `json:"max_stale,omitempty"`

	poolKey string
	node    *nodeHandle
	jwt     *gate.JWTVerifier
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "linkgate",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision resolves the configuration and takes the node from the pool.
// It opens no connection: caddy validate and config reloads must not touch
// the database.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.setDefaults()
	a.jwt = gate.NewJWTVerifier(time.Duration(a.JWTLeeway), time.Duration(a.MaxTokenLifetime), nil)

	db, err := resolveDatabase(a.Database)
	if err != nil {
		return err
	}
	cfg := node.Config{
		Database:     db,
		CacheSize:    a.CacheSize,
		CacheTTL:     time.Duration(a.CacheTTL),
		NegativeTTL:  time.Duration(a.NegativeTTL),
		MaxStale:     time.Duration(a.MaxStale),
		QueryTimeout: time.Duration(a.QueryTimeout),
	}
	// The DSN is only a map key here; it is never logged.
	key := fmt.Sprintf("%+v", cfg)
	logger := a.logger
	v, _, err := nodes.LoadOrNew(key, func() (caddy.Destructor, error) {
		n, err := node.New(cfg, node.Events{
			StoreError:        metrics.storeErrors.Inc,
			ListenerReconnect: metrics.listenerReconnects.Inc,
			TrackedOpen: func(kind string, delta int) {
				metrics.held.WithLabelValues(kind).Add(float64(delta))
			},
			TrackedEnded: func(kind, reason string) {
				metrics.heldEnded.WithLabelValues(kind, reason).Inc()
			},
		}, logger)
		if err != nil {
			return nil, err
		}
		return &nodeHandle{Node: n, tokens: gate.NewTokenCache(gate.DefaultTokenCacheSize)}, nil
	})
	if err != nil {
		return fmt.Errorf("linkgate: %w", err)
	}
	a.poolKey, a.node = key, v.(*nodeHandle)
	registerMetrics(ctx.GetMetricsRegistry())
	return nil
}

// setDefaults fills in what the configuration left out; the commands
// read a config's app the same way.
func (a *App) setDefaults() {
	if a.QueryTimeout <= 0 {
		a.QueryTimeout = caddy.Duration(node.DefaultQueryTimeout)
	}
	if a.MinJWTSecretLength <= 0 {
		a.MinJWTSecretLength = alias.DefaultMinJWTSecretLength
	}
	if a.JWTLeeway <= 0 {
		a.JWTLeeway = caddy.Duration(gate.DefaultJWTLeeway)
	}
	if a.MaxTokenLifetime <= 0 {
		a.MaxTokenLifetime = caddy.Duration(gate.DefaultMaxTokenLifetime)
	}
	if a.ThrottleCapacity <= 0 {
		a.ThrottleCapacity = gate.DefaultLimiterCapacity
	}
}

// rules are the validation rules of the API on the app's settings.
func (a *App) rules() alias.Rules {
	return alias.Rules{MinJWTSecretLength: a.MinJWTSecretLength, MaxSecretGrace: time.Duration(a.MaxTokenLifetime)}
}

// Validate checks the configuration.
func (a *App) Validate() error {
	if a.MinJWTSecretLength > alias.MaxJWTSecretLength {
		return fmt.Errorf("linkgate: min_jwt_secret_length %d is over the %d bytes a jwt_secret may have", a.MinJWTSecretLength, alias.MaxJWTSecretLength)
	}
	return nil
}

// Start brings the node up: migrations (unless auto_migrate is off), the
// session key and the change feed.
func (a *App) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.node.Start(ctx, a.AutoMigrate == nil || *a.AutoMigrate); err != nil {
		return fmt.Errorf("linkgate: migrating the database: %w", err)
	}
	return nil
}

// Stop implements caddy.App; the node outlives the config in the pool.
func (a *App) Stop() error { return nil }

// Cleanup releases the node taken in Provision.
func (a *App) Cleanup() error {
	if a.node == nil {
		return nil
	}
	_, err := nodes.Delete(a.poolKey)
	a.node = nil
	return err
}

// newGate returns a gate over the app's node, for one handler.
func (a *App) newGate(logger *zap.Logger, limiter *gate.Limiter) *gate.Gate {
	return &gate.Gate{
		Source:     a.node,
		JWT:        a.jwt,
		Tokens:     a.node.tokens,
		SessionKey: a.node.SessionKey,
		Limiter:    limiter,
		Logger:     logger,
	}
}

// appOf returns the linkgate app of a handler's config.
func appOf(ctx caddy.Context) (*App, error) {
	app, err := ctx.App("linkgate")
	if err != nil {
		return nil, fmt.Errorf("loading the linkgate app: %w", err)
	}
	return app.(*App), nil
}

var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
