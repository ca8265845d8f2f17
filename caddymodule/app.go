// Package caddymodule is linkgate's Caddy glue: the linkgate app, the
// alias_api handler, their Caddyfile syntax and the "caddy linkgate"
// commands. The product itself lives in aliasapi and the stores.
package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/store/pgstore"
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
	// Database is the alias store: a postgres:// or postgresql:// URL.
	// Use an {env.*} or {file.*} placeholder: it is resolved when the app
	// is provisioned, so the password never lands in the saved config.
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

	dsn    string
	shared *sharedStore
	jwt    *aliasapi.JWTVerifier
	logger *zap.Logger
}

// sharedStore is a store and what has been done to its database in this
// process, shared by every config that names the same database.
type sharedStore struct {
	*pgstore.Store
	migrateMu sync.Mutex
	migrated  bool

	// tokens outlives reloads: what a JWT proved does not depend on config.
	tokens *aliasapi.TokenCache

	signer      atomic.Pointer[aliasapi.SessionSigner]
	signerLoads singleflight.Group
	// signerRetry is when a failed key load may be tried again (Unix ns).
	signerRetry atomic.Int64
}

// sessions returns the session cookie signer, loading the shared key if
// Start could not: the gateway works without cookies until it can.
func (s *sharedStore) sessions() *aliasapi.SessionSigner {
	if signer := s.signer.Load(); signer != nil {
		return signer
	}
	if time.Now().UnixNano() < s.signerRetry.Load() {
		return nil
	}
	v, _, _ := s.signerLoads.Do("", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), aliasapi.DefaultQueryTimeout)
		defer cancel()
		if err := s.loadSessionKey(ctx); err != nil {
			s.signerRetry.Store(time.Now().Add(5 * time.Second).UnixNano())
			return nil, err
		}
		return s.signer.Load(), nil
	})
	signer, _ := v.(*aliasapi.SessionSigner)
	return signer
}

func (s *sharedStore) loadSessionKey(ctx context.Context) error {
	if s.signer.Load() != nil {
		return nil
	}
	key, err := s.SessionKey(ctx)
	if err != nil {
		return err
	}
	s.signer.Store(aliasapi.NewSessionSigner(key))
	return nil
}

// Destruct closes the pool once no config uses it.
func (s *sharedStore) Destruct() error {
	s.Close()
	return nil
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

	dsn, err := resolveDatabase(a.Database)
	if err != nil {
		return err
	}
	v, _, err := stores.LoadOrNew(dsn, func() (caddy.Destructor, error) {
		s, err := pgstore.Open(dsn)
		if err != nil {
			return nil, err
		}
		return &sharedStore{Store: s, tokens: aliasapi.NewTokenCache(aliasapi.DefaultTokenCacheSize)}, nil
	})
	if err != nil {
		return fmt.Errorf("linkgate: %w", err)
	}
	a.dsn, a.shared = dsn, v.(*sharedStore)
	return nil
}

// resolveDatabase replaces the placeholders of the database option and
// checks that linkgate can use the result.
func resolveDatabase(database string) (string, error) {
	dsn := caddy.NewReplacer().ReplaceKnown(database, "")
	switch {
	case strings.TrimSpace(dsn) == "":
		return "", errors.New("linkgate: no database configured: set the database option of the linkgate app to a postgres:// URL")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return dsn, nil
	}
	return "", errors.New("linkgate: the database option must be a postgres:// or postgresql:// URL")
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
		if err := s.Migrate(ctx); err != nil {
			return fmt.Errorf("linkgate: migrating the database: %w", err)
		}
		s.migrated = true
		a.logger.Info("database schema up to date")
	}
	if err := s.loadSessionKey(ctx); err != nil {
		a.logger.Warn("session cookie key not loaded yet; sessions start once the database answers", zap.Error(err))
	}
	return nil
}

// Stop implements caddy.App; the store outlives the config in the pool.
func (a *App) Stop() error { return nil }

// Cleanup releases the store taken in Provision.
func (a *App) Cleanup() error {
	if a.shared == nil {
		return nil
	}
	_, err := stores.Delete(a.dsn)
	a.shared = nil
	return err
}

// gate returns a Gate over the app's store and shared state, for one
// handler.
func (a *App) gate(logger *zap.Logger) *aliasapi.Gate {
	timeout := time.Duration(a.QueryTimeout)
	s := a.shared
	return &aliasapi.Gate{
		Alias: func(ctx context.Context, id string) (*aliasapi.Alias, error) {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			alias, err := s.Alias(ctx, id)
			if err != nil {
				return nil, err
			}
			return &alias, nil
		},
		OrgByToken: func(ctx context.Context, h aliasapi.TokenHash) (string, error) {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return s.OrgByToken(ctx, h)
		},
		JWT:      a.jwt,
		Tokens:   s.tokens,
		Sessions: s.sessions,
		Logger:   logger,
	}
}

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
		return &limiterHandle{Limiter: aliasapi.NewLimiter(limit, window, a.ThrottleCapacity, nil), key: key}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*limiterHandle), nil
}

// Store returns the alias store of the app.
func (a *App) Store() aliasapi.Store { return a.shared }

var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
