// Package caddymodule is linkgate's Caddy glue: the linkgate app, the
// alias_api handler, their Caddyfile syntax and the "caddy linkgate"
// commands. The product itself lives in aliasapi and the stores.
package caddymodule

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/aliasapi"
)

func init() {
	caddy.RegisterModule(App{})
}

// stores holds one store per database across config reloads: a reload
// reuses the pool instead of dropping every connection.
var stores = caddy.NewUsagePool()

// App is the linkgate app. It owns the alias store that every linkgate
// handler of the config uses, and the rules credentials are checked by.
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
	// of each alias_auth setting tracks (default 100000; 32 bytes each).
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
	shared  *sharedStore
	jwt     *aliasapi.JWTVerifier
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "linkgate",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision resolves the configuration and takes the store from the pool
// of stores. It opens no connection: caddy validate and config reloads must
// not touch the database.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if a.QueryTimeout <= 0 {
		a.QueryTimeout = caddy.Duration(aliasapi.DefaultQueryTimeout)
	}
	if a.MinJWTSecretLength <= 0 {
		a.MinJWTSecretLength = aliasapi.DefaultMinJWTSecretLength
	}
	if a.MinJWTSecretLength > aliasapi.MaxJWTSecretLength {
		return fmt.Errorf("linkgate: min_jwt_secret_length %d is over the %d bytes a jwt_secret may have", a.MinJWTSecretLength, aliasapi.MaxJWTSecretLength)
	}
	if a.JWTLeeway <= 0 {
		a.JWTLeeway = caddy.Duration(aliasapi.DefaultJWTLeeway)
	}
	if a.MaxTokenLifetime <= 0 {
		a.MaxTokenLifetime = caddy.Duration(aliasapi.DefaultMaxTokenLifetime)
	}
	if a.ThrottleCapacity <= 0 {
		a.ThrottleCapacity = aliasapi.DefaultLimiterCapacity
	}
	a.jwt = aliasapi.NewJWTVerifier(time.Duration(a.JWTLeeway), time.Duration(a.MaxTokenLifetime), nil)

	db, err := resolveDatabase(a.Database)
	if err != nil {
		return err
	}
	settings := cacheSettings{
		size:         a.CacheSize,
		ttl:          time.Duration(a.CacheTTL),
		negativeTTL:  time.Duration(a.NegativeTTL),
		maxStale:     time.Duration(a.MaxStale),
		queryTimeout: time.Duration(a.QueryTimeout),
	}
	// The DSN is only a map key here; it is never logged.
	key := fmt.Sprintf("%s\x00%+v", db.dsn, settings)
	logger := a.logger
	v, _, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		return newSharedStore(db, settings, logger)
	})
	if err != nil {
		return fmt.Errorf("linkgate: %w", err)
	}
	a.poolKey, a.shared = key, v.(*sharedStore)
	registerMetrics(ctx.GetMetricsRegistry())
	return nil
}

// Start applies the migrations, once per database and process, unless
// auto_migrate is off, and loads the key that signs session cookies.
func (a *App) Start() error {
	s := a.shared
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Only a migration that ran counts: a later config may turn
	// auto_migrate on for the same database.
	if !s.migrated && (a.AutoMigrate == nil || *a.AutoMigrate) {
		b, err := s.store()
		if err != nil {
			return fmt.Errorf("linkgate: opening the database: %w", err)
		}
		if err := b.Migrate(ctx); err != nil {
			return fmt.Errorf("linkgate: migrating the database: %w", err)
		}
		s.migrated = true
		a.logger.Info("database schema up to date")
	}
	if err := s.loadSessionKey(ctx); err != nil {
		a.logger.Warn("session cookie key not loaded yet; sessions start once the database answers", zap.Error(err))
	}
	s.startListener(5 * time.Second)
	return nil
}

// Stop implements caddy.App; the store outlives the config in the pool.
func (a *App) Stop() error { return nil }

// Cleanup releases the store taken in Provision.
func (a *App) Cleanup() error {
	if a.shared == nil {
		return nil
	}
	_, err := stores.Delete(a.poolKey)
	a.shared = nil
	return err
}

// gate returns a Gate over the app's shared store, for one handler.
func (a *App) gate(logger *zap.Logger) *aliasapi.Gate { return a.shared.gate(a.jwt, logger) }

// limiters holds the failure tables across reloads, one per setting, so a
// reload neither forgets who was guessing nor allocates a new table.
var limiters = caddy.NewUsagePool()

type limiterHandle struct {
	*aliasapi.Limiter
	key string
}

func (l *limiterHandle) Destruct() error { return nil }

func (l *limiterHandle) release() error {
	_, err := limiters.Delete(l.key)
	return err
}

// limiter returns the failure table for a limit and window.
func (a *App) limiter(limit int, window time.Duration) (*limiterHandle, error) {
	key := fmt.Sprintf("%d/%s/%d", limit, window, a.ThrottleCapacity)
	v, _, err := limiters.LoadOrNew(key, func() (caddy.Destructor, error) {
		return &limiterHandle{Limiter: aliasapi.NewLimiter(limit, window, a.ThrottleCapacity), key: key}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*limiterHandle), nil
}

// Store returns the alias store of the app.
// Reads come from the node's caches; writes drop what they change.
func (a *App) Store() aliasapi.Store { return cachedStore{shared: a.shared} }

var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
