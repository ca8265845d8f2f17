package caddymodule

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/cache"
	"github.com/linkgate/linkgate/store/pgstore"
)

// sharedStore is one database and everything this process keeps about it:
// the pool, the caches, the invalidation listener, the session key. Every
// config that names the same database (and cache settings) shares it
// through the stores pool, so a reload keeps the caches warm and the node
// keeps exactly one listener.
type sharedStore struct {
	db     database
	logger *zap.Logger

	// backend is opened on first use, not when the config is provisioned:
	// caddy validate and reloads must not touch the database, and opening
	// a SQLite file creates it.
	openMu  sync.Mutex
	backend atomic.Pointer[backend]

	aliases *cache.Cache[*aliasapi.Alias]
	// orgs maps the hex SHA-256 of an organization token to its
	// organization, so a revoked token stops working on every node when
	// the change notice arrives.
	orgs *cache.Cache[string]
	// jwts remembers what verified JWTs proved.
	jwts *aliasapi.TokenCache

	migrateMu sync.Mutex
	migrated  bool

	listenOnce   sync.Once
	stopListener func()
	// stopWatch ends the SQLite change poller.
	stopWatch func()
	// listening is closed once the listener has connected for the first
	// time.
	listening chan struct{}

	signer      atomic.Pointer[aliasapi.SessionSigner]
	signerLoads singleflight.Group
	// signerRetry is when a failed key load may be tried again (Unix ns).
	signerRetry atomic.Int64
}

// cacheSettings are the parts of the app's config that shape a
// sharedStore; configs that differ in them get stores of their own.
type cacheSettings struct {
	size         int64
	ttl          time.Duration
	negativeTTL  time.Duration
	maxStale     time.Duration
	queryTimeout time.Duration
}

func newSharedStore(db database, cs cacheSettings, logger *zap.Logger) (*sharedStore, error) {
	s := &sharedStore{
		db:        db,
		logger:    logger,
		jwts:      aliasapi.NewTokenCache(aliasapi.DefaultTokenCacheSize),
		listening: make(chan struct{}),
	}
	cfg := cache.Config{
		MaxEntries:  cs.size,
		TTL:         cs.ttl,
		NegativeTTL: cs.negativeTTL,
		MaxStale:    cs.maxStale,
		LoadTimeout: cs.queryTimeout,
	}
	var err error
	s.aliases, err = cache.New(cfg, s.loadAlias, cache.Options[*aliasapi.Alias]{
		NotFound: aliasapi.ErrNotFound,
		Expiry:   func(a *aliasapi.Alias) time.Time { return a.ExpiredAt },
		ValidKey: aliasapi.ValidID,
	})
	if err != nil {
		return nil, err
	}
	s.orgs, err = cache.New(cfg, s.loadOrg, cache.Options[string]{
		NotFound: aliasapi.ErrNotFound,
		ValidKey: func(key string) bool { return len(key) == 2*len(aliasapi.TokenHash{}) },
	})
	if err != nil {
		s.aliases.Close()
		return nil, err
	}
	return s, nil
}

// store returns the backend, opening it on first use.
func (s *sharedStore) store() (aliasapi.Store, error) {
	if b := s.backend.Load(); b != nil {
		return *b, nil
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	if b := s.backend.Load(); b != nil {
		return *b, nil
	}
	b, err := s.db.open()
	if err != nil {
		return nil, err
	}
	s.backend.Store(&b)
	return b, nil
}

func (s *sharedStore) loadAlias(ctx context.Context, id string) (*aliasapi.Alias, error) {
	b, err := s.store()
	if err != nil {
		return nil, countStoreError(err)
	}
	a, err := b.Alias(ctx, id)
	if err != nil {
		return nil, countStoreError(err)
	}
	a.Prepare()
	return &a, nil
}

func (s *sharedStore) loadOrg(ctx context.Context, hashHex string) (string, error) {
	var h aliasapi.TokenHash
	if _, err := hex.Decode(h[:], []byte(hashHex)); err != nil {
		return "", aliasapi.ErrNotFound
	}
	b, err := s.store()
	if err != nil {
		return "", countStoreError(err)
	}
	org, err := b.OrgByToken(ctx, h)
	return org, countStoreError(err)
}

// countStoreError counts the errors that mean the store could not answer.
func countStoreError(err error) error {
	if err != nil && !errors.Is(err, aliasapi.ErrNotFound) && !errors.Is(err, aliasapi.ErrIDTaken) && !errors.Is(err, aliasapi.ErrStreamKeyTaken) {
		metrics.storeErrors.Inc()
	}
	return err
}

// Destruct stops the listener and closes the caches and the pool, once no
// config uses them; no request can reach them any more.
func (s *sharedStore) Destruct() error {
	if s.stopListener != nil {
		s.stopListener()
	}
	if s.stopWatch != nil {
		s.stopWatch()
	}
	retireStats(s.aliases.Stats(), s.orgs.Stats())
	s.aliases.Close()
	s.orgs.Close()
	if b := s.backend.Load(); b != nil {
		return (*b).Close()
	}
	return nil
}

// startListener starts the node's one invalidation listener for the
// database and waits, up to wait, until it listens. It belongs to the
// shared store, not to a config, so it runs on a context of its own that
// Destruct cancels: a config's context ends at every reload, while the
// listener must not.
//
// Waiting keeps the first connect's flush (which covers changes made
// before LISTEN) from dropping what the first requests cached.
func (s *sharedStore) startListener(wait time.Duration) {
	if !s.db.postgres {
		s.listenOnce.Do(s.startWatch)
		return
	}
	s.listenOnce.Do(func() {
		var first sync.Once
		s.stopListener = pgstore.StartListener(pgstore.ListenerConfig{
			DSN:      s.db.dsn,
			Logger:   s.logger,
			OnNotify: s.invalidate,
			OnConnect: func() {
				s.flush()
				first.Do(func() { close(s.listening) })
			},
			OnReconnect: metrics.listenerReconnects.Inc,
		})
	})
	select {
	case <-s.listening:
	case <-time.After(wait):
		s.logger.Warn("cache invalidation listener not connected yet; changes made on other nodes may show late until it is")
	}
}

// watchInterval is how often a SQLite node asks whether another process
// (the linkgate commands, another Caddy on the same file) changed the
// database.
const watchInterval = time.Second

// startWatch polls a SQLite database for changes and flushes the caches on
// each: SQLite tells that something changed, not what. Like the listener,
// it belongs to the shared store and stops in Destruct.
func (s *sharedStore) startWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopWatch = func() {
		cancel()
		<-done
	}
	go func() {
		defer close(done)
		ticker := time.NewTicker(watchInterval)
		defer ticker.Stop()
		var last int64
		for {
			if b, err := s.store(); err == nil {
				if w, ok := b.(changeWatcher); ok {
					qctx, qcancel := context.WithTimeout(ctx, aliasapi.DefaultQueryTimeout)
					v, err := w.DataVersion(qctx)
					qcancel()
					if err == nil && v != last {
						if last != 0 {
							s.flush()
						}
						last = v
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
}

// invalidate drops the entry a change notice names.
func (s *sharedStore) invalidate(payload string) {
	kind, key, ok := pgstore.ParseNotification(payload)
	switch {
	case !ok:
		s.logger.Warn("unexpected invalidation notice", zap.String("payload", payload))
	case kind == pgstore.KindAlias:
		s.aliases.Invalidate(key)
	case kind == pgstore.KindToken:
		s.orgs.Invalidate(key)
	}
}

// flush drops everything: notices sent while the listener was away are
// lost.
func (s *sharedStore) flush() {
	s.aliases.Flush()
	s.orgs.Flush()
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
	b, err := s.store()
	if err != nil {
		return err
	}
	key, err := b.SessionKey(ctx)
	if err != nil {
		return err
	}
	s.signer.Store(aliasapi.NewSessionSigner(key))
	return nil
}

// cachedStore is the Store the API uses: reads come from the caches the
// gateway shares, and every write through this node drops the entries it
// changed at once, before any change notice comes back.
type cachedStore struct {
	shared *sharedStore
}

// Alias implements aliasapi.Store from the cache.
func (c cachedStore) Alias(ctx context.Context, id string) (aliasapi.Alias, error) {
	a, err := c.shared.aliases.Get(ctx, id)
	if err != nil {
		return aliasapi.Alias{}, err
	}
	return *a, nil
}

// OrgByToken implements aliasapi.Store from the cache.
func (c cachedStore) OrgByToken(ctx context.Context, h aliasapi.TokenHash) (string, error) {
	return c.shared.orgs.Get(ctx, hex.EncodeToString(h[:]))
}

// AliasByStreamKey implements aliasapi.Store, from the store: stream keys
// are looked up when a publisher connects, not on every request.
func (c cachedStore) AliasByStreamKey(ctx context.Context, key string) (aliasapi.Alias, error) {
	b, err := c.shared.store()
	if err != nil {
		return aliasapi.Alias{}, countStoreError(err)
	}
	a, err := b.AliasByStreamKey(ctx, key)
	return a, countStoreError(err)
}

// Aliases implements aliasapi.Store.
func (c cachedStore) Aliases(ctx context.Context, orgID string, q aliasapi.ListQuery) ([]aliasapi.Alias, error) {
	b, err := c.shared.store()
	if err != nil {
		return nil, countStoreError(err)
	}
	aliases, err := b.Aliases(ctx, orgID, q)
	return aliases, countStoreError(err)
}

// CreateAlias implements aliasapi.Store; the new ID may be remembered as
// not found.
func (c cachedStore) CreateAlias(ctx context.Context, a aliasapi.Alias) (aliasapi.Alias, error) {
	b, err := c.shared.store()
	if err != nil {
		return aliasapi.Alias{}, countStoreError(err)
	}
	created, err := b.CreateAlias(ctx, a)
	if err == nil {
		c.shared.aliases.Invalidate(created.ID)
	}
	return created, countStoreError(err)
}

// UpdateAlias implements aliasapi.Store.
func (c cachedStore) UpdateAlias(ctx context.Context, orgID, id string, p aliasapi.Patch) (aliasapi.Alias, error) {
	b, err := c.shared.store()
	if err != nil {
		return aliasapi.Alias{}, countStoreError(err)
	}
	updated, err := b.UpdateAlias(ctx, orgID, id, p)
	if err == nil {
		c.shared.aliases.Invalidate(id)
	}
	return updated, countStoreError(err)
}

// DeleteAlias implements aliasapi.Store.
func (c cachedStore) DeleteAlias(ctx context.Context, orgID, id string) error {
	b, err := c.shared.store()
	if err != nil {
		return countStoreError(err)
	}
	err = b.DeleteAlias(ctx, orgID, id)
	if err == nil {
		c.shared.aliases.Invalidate(id)
	}
	return countStoreError(err)
}

// The API needs none of the administrative methods; the commands use the
// backend directly. They are here to make cachedStore a whole Store.

// CreateOrg implements aliasapi.Store.
func (c cachedStore) CreateOrg(ctx context.Context, name string) (aliasapi.Org, error) {
	b, err := c.shared.store()
	if err != nil {
		return aliasapi.Org{}, err
	}
	return b.CreateOrg(ctx, name)
}

// CreateToken implements aliasapi.Store.
func (c cachedStore) CreateToken(ctx context.Context, orgID, name string, h aliasapi.TokenHash) (aliasapi.TokenInfo, error) {
	b, err := c.shared.store()
	if err != nil {
		return aliasapi.TokenInfo{}, err
	}
	return b.CreateToken(ctx, orgID, name, h)
}

// Tokens implements aliasapi.Store.
func (c cachedStore) Tokens(ctx context.Context, orgID string) ([]aliasapi.TokenInfo, error) {
	b, err := c.shared.store()
	if err != nil {
		return nil, err
	}
	return b.Tokens(ctx, orgID)
}

// RevokeToken implements aliasapi.Store; the token's cache entry goes
// with its change notice (PostgreSQL) or the next change poll (SQLite).
func (c cachedStore) RevokeToken(ctx context.Context, tokenID string) (aliasapi.TokenInfo, error) {
	b, err := c.shared.store()
	if err != nil {
		return aliasapi.TokenInfo{}, err
	}
	return b.RevokeToken(ctx, tokenID)
}

// SessionKey implements aliasapi.Store.
func (c cachedStore) SessionKey(ctx context.Context) ([]byte, error) {
	b, err := c.shared.store()
	if err != nil {
		return nil, err
	}
	return b.SessionKey(ctx)
}

// Migrate implements aliasapi.Store.
func (c cachedStore) Migrate(ctx context.Context) error {
	b, err := c.shared.store()
	if err != nil {
		return err
	}
	return b.Migrate(ctx)
}

// gate returns a Gate over the shared store, for one handler.
func (s *sharedStore) gate(jwt *aliasapi.JWTVerifier, logger *zap.Logger) *aliasapi.Gate {
	return &aliasapi.Gate{
		Alias: s.aliases.Get,
		OrgByToken: func(ctx context.Context, h aliasapi.TokenHash) (string, error) {
			return s.orgs.Get(ctx, hex.EncodeToString(h[:]))
		},
		JWT:      jwt,
		Tokens:   s.jwts,
		Sessions: s.sessions,
		Logger:   logger,
	}
}

var _ aliasapi.Store = cachedStore{}
