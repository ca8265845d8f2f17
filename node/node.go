// Package node is what one gateway node runs for a database: the store
// backend, the caches of aliases and organization tokens, the change feed
// that keeps the caches true across nodes (PostgreSQL's LISTEN/NOTIFY, or
// SQLite's data_version), and the key that signs session cookies. Caddy's
// linkgate app keeps one Node per database across config reloads; tests
// build one exactly as the app does. Metrics are handed in as callbacks,
// so the package knows nothing of Caddy or Prometheus.
package node

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/cache"
	"github.com/linkgate/linkgate/store/pgstore"
)

// DefaultQueryTimeout bounds each store query made for a request.
const DefaultQueryTimeout = 2 * time.Second

// Config is what shapes a node.
type Config struct {
	Database Database
	// CacheSize is how many aliases, and as many organization tokens, the
	// node holds in memory; zero takes the cache's default.
	CacheSize int64
	// CacheTTL, NegativeTTL and MaxStale are the cache's TTL, "not found"
	// TTL and how long past the TTL a cached entry is served while the
	// store fails; zero takes the cache's defaults.
	CacheTTL, NegativeTTL, MaxStale time.Duration
	// QueryTimeout bounds each store query made for a request.
	QueryTimeout time.Duration
}

// Events are told what happens to a node, for metrics. Each may be nil and
// must not block.
type Events struct {
	// StoreError: a store call failed for another reason than a missing
	// or duplicate row.
	StoreError func()
	// ListenerReconnect: the change feed reconnected to PostgreSQL.
	ListenerReconnect func()
	// TrackedOpen: an admission of a kind was tracked (+1) or untracked
	// (-1).
	TrackedOpen func(kind string, delta int)
	// TrackedEnded: the node ended an admission of a kind, for a reason.
	TrackedEnded func(kind, reason string)
}

// Node is one database and everything this process keeps about it.
type Node struct {
	cfg    Config
	events Events
	logger *zap.Logger

	// backend is opened on first use, not when the node is made: caddy
	// validate and reloads must not touch the database, and opening a
	// SQLite file creates it.
	openMu  sync.Mutex
	backend atomic.Pointer[Backend]

	aliases *cache.Cache[*alias.Alias]
	// orgs maps the hex SHA-256 of an organization token to its
	// organization, so a revoked token stops working on every node when
	// the change notice arrives.
	orgs *cache.Cache[string]

	migrateMu sync.Mutex
	migrated  bool

	feedOnce sync.Once
	stopFeed func()
	// listening is closed once the change feed has connected for the
	// first time.
	listening chan struct{}
	// ready is closed once the change feed listens, or Start gave up
	// waiting for it: loads wait for it, since the feed's first connect
	// drops everything cached before, and a request served before Start
	// (Caddy starts its apps in no set order) would pay for its alias
	// twice.
	ready     chan struct{}
	readyOnce sync.Once
	// isReady is ready, read without a channel on the hit path.
	isReady atomic.Bool

	// tracked are the admissions that outlive their request.
	tracked tracker

	sessionKey   atomic.Pointer[[]byte]
	sessionLoads singleflight.Group
	// sessionRetry is when a failed key load may be tried again (Unix ns).
	sessionRetry atomic.Int64

	// lastContact is when the store last answered (Unix ns).
	lastContact atomic.Int64
	feedMu      sync.Mutex
	feed        Feed
	// lastProbe is the latest check of the store, which Health reuses for
	// probeInterval.
	lastProbe atomic.Pointer[probeResult]
	probes    singleflight.Group
}

// New makes a node for cfg. It opens nothing: the database is reached on
// Start. Lookups wait until Start has started the change feed.
func New(cfg Config, events Events, logger *zap.Logger) (*Node, error) {
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	n := &Node{cfg: cfg, events: events, logger: logger, listening: make(chan struct{}), ready: make(chan struct{}), feed: Feed{Kind: FeedPoll}}
	if cfg.Database.Postgres {
		n.feed.Kind = FeedListen
	}
	cc := cache.Config{
		MaxEntries:  cfg.CacheSize,
		TTL:         cfg.CacheTTL,
		NegativeTTL: cfg.NegativeTTL,
		MaxStale:    cfg.MaxStale,
		LoadTimeout: cfg.QueryTimeout,
	}
	var err error
	n.aliases, err = cache.New(cc, n.loadAlias, cache.Options[*alias.Alias]{
		NotFound: alias.ErrNotFound,
		Expiry:   func(a *alias.Alias) time.Time { return a.ExpiredAt },
		ValidKey: alias.ValidID,
	})
	if err != nil {
		return nil, err
	}
	n.orgs, err = cache.New(cc, n.loadOrg, cache.Options[string]{
		NotFound: alias.ErrNotFound,
		ValidKey: func(key string) bool { return len(key) == 2*len(alias.TokenHash{}) },
	})
	if err != nil {
		n.aliases.Close()
		return nil, err
	}
	return n, nil
}

// Backend returns the store, opening it on first use.
func (n *Node) Backend() (alias.Store, error) {
	b, err := n.open()
	if err != nil {
		return nil, err
	}
	return b, nil
}

// open returns the backend, opening it on first use.
func (n *Node) open() (Backend, error) {
	if b := n.backend.Load(); b != nil {
		return *b, nil
	}
	n.openMu.Lock()
	defer n.openMu.Unlock()
	if b := n.backend.Load(); b != nil {
		return *b, nil
	}
	b, err := n.cfg.Database.Open()
	if err != nil {
		return nil, n.storeError(err)
	}
	n.backend.Store(&b)
	return b, nil
}

// Start brings the node up: the migrations (once per node, when migrate
// is set), the session key, and the change feed, waiting up to 5 s for the
// feed to connect. Only a failed migration is an error: the rest is
// retried while the node serves.
func (n *Node) Start(ctx context.Context, migrate bool) error {
	n.migrateMu.Lock()
	defer n.migrateMu.Unlock()
	// Only a migration that ran counts: a later config may turn
	// auto_migrate on for the same database.
	if migrate && !n.migrated {
		b, err := n.Backend()
		if err != nil {
			return err
		}
		if err := b.Migrate(ctx); err != nil {
			return err
		}
		n.migrated = true
		// A check made before is out of date: the schema changed.
		n.lastProbe.Store(nil)
		n.logger.Info("database schema up to date")
	}
	if err := n.loadSessionKey(ctx); err != nil {
		n.logger.Warn("session cookie key not loaded yet; sessions start once the database answers", zap.Error(err))
	}
	n.startFeed(5 * time.Second)
	return nil
}

// Close stops the change feed and closes the caches and the store.
func (n *Node) Close() error {
	if n.stopFeed != nil {
		n.stopFeed()
	}
	n.aliases.Close()
	n.orgs.Close()
	if b := n.backend.Load(); b != nil {
		return (*b).Close()
	}
	return nil
}

// Alias returns an alias from the cache, loading it on a miss. The alias
// is shared and must not be changed.
func (n *Node) Alias(ctx context.Context, id string) (*alias.Alias, error) {
	if err := n.waitReady(ctx); err != nil {
		return nil, err
	}
	return n.aliases.Get(ctx, id)
}

// OrgByToken returns the organization of a token from the cache.
func (n *Node) OrgByToken(ctx context.Context, h alias.TokenHash) (string, error) {
	if err := n.waitReady(ctx); err != nil {
		return "", err
	}
	return n.orgs.Get(ctx, hex.EncodeToString(h[:]))
}

// AliasByStreamKey asks the store, not the cache: a publisher connects
// once, and a re-keyed alias must cut its stream at the next check.
func (n *Node) AliasByStreamKey(ctx context.Context, key string) (*alias.Alias, error) {
	b, err := n.Backend()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.QueryTimeout)
	defer cancel()
	a, err := b.AliasByStreamKey(ctx, key)
	if err = n.storeError(err); err != nil {
		return nil, err
	}
	a.Prepare()
	return &a, nil
}

// Stats returns the counters of the alias and token caches.
func (n *Node) Stats() (aliases, orgs cache.Stats) {
	return n.aliases.Stats(), n.orgs.Stats()
}

// InvalidateAlias drops one alias from the cache, as a change notice for
// it does, and rechecks the admissions to it.
func (n *Node) InvalidateAlias(id string) {
	n.aliases.Invalidate(id)
	go n.recheckAlias(id)
}

// Flush drops every cached alias and token, and rechecks every admission:
// what changed is not known.
func (n *Node) Flush() {
	n.aliases.Flush()
	n.orgs.Flush()
	go n.recheckAll()
}

// Wait blocks until the caches have applied every write made so far; for
// tests, as ristretto applies writes asynchronously.
func (n *Node) Wait() {
	n.aliases.Wait()
	n.orgs.Wait()
}

// waitReady holds a lookup until the node has started its change feed.
// It comes before the cache, not inside a load: a load that waited through
// the feed's first flush would be thrown away as outdated, and made again.
func (n *Node) waitReady(ctx context.Context) error {
	if n.isReady.Load() {
		return nil
	}
	select {
	case <-n.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (n *Node) loadAlias(ctx context.Context, id string) (*alias.Alias, error) {
	b, err := n.Backend()
	if err != nil {
		return nil, err
	}
	a, err := b.Alias(ctx, id)
	if err = n.storeError(err); err != nil {
		return nil, err
	}
	a.Prepare()
	return &a, nil
}

func (n *Node) loadOrg(ctx context.Context, hashHex string) (string, error) {
	var h alias.TokenHash
	if _, err := hex.Decode(h[:], []byte(hashHex)); err != nil {
		return "", alias.ErrNotFound
	}
	b, err := n.Backend()
	if err != nil {
		return "", err
	}
	org, err := b.OrgByToken(ctx, h)
	return org, n.storeError(err)
}

// storeError records that the store answered, when err is nil or says a
// row is missing or taken; otherwise it tells the events that the store
// could not answer. It returns err.
func (n *Node) storeError(err error) error {
	if err == nil || errors.Is(err, alias.ErrNotFound) || errors.Is(err, alias.ErrIDTaken) || errors.Is(err, alias.ErrStreamKeyTaken) ||
		errors.Is(err, alias.ErrTooManyRevocations) {
		n.lastContact.Store(time.Now().UnixNano())
		return err
	}
	if n.events.StoreError != nil {
		n.events.StoreError()
	}
	return err
}

// startFeed starts the node's one change feed and, for PostgreSQL, waits
// up to wait until it listens. It belongs to the node, not to a config, so
// it runs on a context of its own that Close cancels: a config's context
// ends at every reload, while the feed must not.
//
// Waiting keeps the first connect's flush (which covers changes made
// before LISTEN) from dropping what the first requests cached.
func (n *Node) startFeed(wait time.Duration) {
	defer n.readyOnce.Do(func() {
		n.isReady.Store(true)
		close(n.ready)
	})
	if !n.cfg.Database.Postgres {
		n.feedOnce.Do(n.startWatch)
		return
	}
	n.feedOnce.Do(func() {
		var first sync.Once
		n.stopFeed = pgstore.StartListener(pgstore.ListenerConfig{
			DSN:      n.cfg.Database.DSN,
			Logger:   n.logger,
			OnNotify: n.invalidate,
			OnConnect: func() {
				n.Flush()
				n.setFeed(true)
				first.Do(func() { close(n.listening) })
			},
			OnReconnect:  n.events.ListenerReconnect,
			OnDisconnect: func() { n.setFeed(false) },
		})
	})
	select {
	case <-n.listening:
	case <-time.After(wait):
		n.logger.Warn("cache invalidation listener not connected yet; changes made on other nodes may show late until it is")
	}
}

// watchInterval is how often a SQLite node asks whether another process
// (the linkgate commands, another Caddy on the same file) changed the
// database.
const watchInterval = time.Second

// startWatch polls a SQLite database for changes and flushes the caches on
// each: SQLite tells that something changed, not what.
func (n *Node) startWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	n.stopFeed = func() {
		cancel()
		<-done
	}
	// The first look is taken before the node serves: a change committed
	// between the node's first read and a later first look would never be
	// seen. Each look that finds a version other than the last flushes,
	// the first one too: before the node serves there is nothing to lose,
	// and after an outage at start-up what changed meanwhile is not known.
	var last int64
	look := func() {
		b, err := n.Backend()
		if err != nil {
			return
		}
		w, ok := b.(changeWatcher)
		if !ok {
			return
		}
		qctx, qcancel := context.WithTimeout(ctx, n.cfg.QueryTimeout)
		v, err := w.DataVersion(qctx)
		qcancel()
		err = n.storeError(err)
		n.setFeed(err == nil)
		if err == nil && v != last {
			n.Flush()
			last = v
		}
	}
	look()
	go func() {
		defer close(done)
		ticker := time.NewTicker(watchInterval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				look()
			}
		}
	}()
}

// invalidate drops the entry a change notice names.
func (n *Node) invalidate(payload string) {
	kind, key, ok := pgstore.ParseNotification(payload)
	switch {
	case !ok:
		n.logger.Warn("unexpected invalidation notice", zap.String("payload", payload))
	case kind == pgstore.KindAlias:
		n.InvalidateAlias(key)
	case kind == pgstore.KindToken:
		n.orgs.Invalidate(key)
		go n.recheckToken(key)
	}
}

// SessionKey returns the key that signs session cookies, loading it if
// Start could not, at most every 5 s; nil while the database does not
// answer: the gateway works without cookies until it does.
func (n *Node) SessionKey() []byte {
	if key := n.sessionKey.Load(); key != nil {
		return *key
	}
	if time.Now().UnixNano() < n.sessionRetry.Load() {
		return nil
	}
	n.sessionLoads.Do("", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.QueryTimeout)
		defer cancel()
		if err := n.loadSessionKey(ctx); err != nil {
			n.sessionRetry.Store(time.Now().Add(5 * time.Second).UnixNano())
			return nil, err
		}
		return nil, nil
	})
	if key := n.sessionKey.Load(); key != nil {
		return *key
	}
	return nil
}

func (n *Node) loadSessionKey(ctx context.Context) error {
	if n.sessionKey.Load() != nil {
		return nil
	}
	b, err := n.Backend()
	if err != nil {
		return err
	}
	key, err := b.SessionKey(ctx)
	if err = n.storeError(err); err != nil {
		return err
	}
	n.sessionKey.Store(&key)
	return nil
}
