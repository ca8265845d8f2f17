// Package cache is the read-through cache between the gateway and the alias
// store. The gateway asks it for an alias on every request, so a hit costs
// no allocation and no store call; a change made anywhere reaches it through
// Invalidate or Flush, and the TTL only backs those up.
package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"golang.org/x/sync/singleflight"
)

// ErrClosed is what Get returns for a key it cannot answer from memory once
// Close has been called, rather than reaching for a store that is going away.
var ErrClosed = errors.New("cache: closed")

// Config sizes the cache and sets its lifetimes. A zero field takes its
// default, so a configuration can leave out anything it does not care about.
type Config struct {
	// MaxEntries is how many values are held at most (default 100000). Every
	// value counts as one: aliases are all about the same size, and weighing
	// each one would cost work on every store for no better bound.
	MaxEntries int64
	// TTL is how long a value is served before the next Get reloads it
	// (default 60s). Invalidation keeps values current; the TTL is the
	// safety net for a notification that never arrived.
	TTL time.Duration
	// NegativeTTL is how long "not found" is remembered (default 5s): long
	// enough to absorb a flood of requests for an unknown ID, short enough
	// that an alias whose creation notice was lost opens soon.
	NegativeTTL time.Duration
	// MaxStale is how long past its TTL a value is still served when
	// reloading it fails with anything but NotFound (default 5m), so that
	// viewers already watching are not cut off while the store is down.
	// Negative: never serve a stale value (zero cannot say it, as zero asks
	// for the default).
	MaxStale time.Duration
	// LoadTimeout bounds one load (default 2s), so that a request for an
	// uncached key fails within it when the store does not answer.
	LoadTimeout time.Duration
}

// Defaults applied to zero Config fields.
const (
	defaultMaxEntries  = 100_000
	defaultTTL         = 60 * time.Second
	defaultNegativeTTL = 5 * time.Second
	defaultMaxStale    = 5 * time.Minute
	defaultLoadTimeout = 2 * time.Second
)

// maxNegativeEntries bounds the "not found" memory on its own, so that a
// flood of unknown IDs costs a small fixed amount and evicts no real value.
const maxNegativeEntries = 10_000

// staleRetry is how long a value served stale after a failed reload is
// served without trying again: while the store is down, each key costs one
// slow failing load per interval instead of one per request.
const staleRetry = time.Second

// staleWait is how long a Get with a stale value at hand waits for its
// reload before serving the stale value: longer than a healthy store takes,
// far shorter than LoadTimeout, which is what a frozen store costs.
const staleWait = 200 * time.Millisecond

// stripes is how many generation counters Invalidate spreads keys over:
// fixed, so memory does not grow with the keys seen; two keys sharing a
// stripe only cost a load result that is not stored.
const stripes = 4096

// Loader fetches the value for key from the source of truth. It returns the
// NotFound error given in Options (wrapped is fine) when there is no such
// key, and must give up when ctx is done: that is how LoadTimeout and Close
// reach it.
type Loader[V any] func(ctx context.Context, key string) (V, error)

// Options are the parts of a cache that depend on the value type.
type Options[V any] struct {
	// NotFound is the Loader's "no such key" error (alias.ErrNotFound).
	// Required: it tells an answer that may be remembered from a failure
	// that must not be.
	NotFound error
	// Expiry, if set, gives the instant from which a value is no longer
	// served from the cache (an alias's expired_at); the zero time means
	// none. The cache only keeps values as long as they may be served;
	// whether an expired value is usable is the caller's decision.
	Expiry func(V) time.Time
	// ValidKey, if set, rejects keys that cannot exist (alias.ValidID):
	// Get answers NotFound for them without a load, so junk in a URL never
	// reaches the store.
	ValidKey func(string) bool
	// Now replaces time.Now, so tests can move time instead of sleeping.
	Now func() time.Time
}

// Cache is a typed read-through cache. Its methods are safe for concurrent
// use until Close.
type Cache[V any] struct {
	values   *ristretto.Cache[string, *entry[V]]
	negative *ristretto.Cache[string, int64] // "not found" until this clock()
	load     Loader[V]
	notFound error
	expiry   func(V) time.Time
	validKey func(string) bool
	now      func() time.Time // Options.Now; nil for the real clock
	base     time.Time        // instant 0 of the nanosecond clock entries use
	cfg      Config
	seed     maphash.Seed

	// A load stores its result only if neither its key's generation nor the
	// epoch moved while it ran: Invalidate bumps the one, Flush the other.
	// Check and Set happen under storeMu, and so do the bumps: a bump comes
	// either before the check, and nothing is stored, or after the Set, and
	// so before the Del or Clear that follows it and removes what was set.
	gens    [stripes]atomic.Uint64
	epoch   atomic.Uint64
	storeMu sync.Mutex
	// group is replaced on Flush, so a Get after a flush never joins a load
	// that started before it.
	group atomic.Pointer[singleflight.Group]

	// life bounds every load, so none outlives Close.
	life   context.Context
	cancel context.CancelFunc
	// mu is held shared by loads and by the methods that write to ristretto,
	// and exclusively by Close, so that nothing writes to a closed ristretto
	// (which panics).
	mu     sync.RWMutex
	closed bool

	stats counters
}

// entry is what the values ristretto holds: a pointer, so a hit copies
// nothing but V, with its deadlines precomputed so that a hit is one clock
// read and one comparison. Deadlines are on the clock method's scale.
type entry[V any] struct {
	value V
	fresh int64 // served without a load before this
	stale int64 // served when a reload fails, before this
	// retryAt is set when a reload failed and the value was served stale:
	// until then the value is served stale without another try.
	retryAt atomic.Int64
}

// New returns a cache that loads missing values with load. Close it when no
// Get can run any more (in Caddy: Cleanup, not Stop, as apps stop in no
// fixed order): it stops ristretto's goroutines and cancels loads.
func New[V any](cfg Config, load Loader[V], opts Options[V]) (*Cache[V], error) {
	if load == nil {
		return nil, errors.New("cache: nil loader")
	}
	if opts.NotFound == nil {
		return nil, errors.New("cache: Options.NotFound is required")
	}
	if cfg.MaxEntries < 0 || cfg.TTL < 0 || cfg.NegativeTTL < 0 || cfg.LoadTimeout < 0 {
		return nil, fmt.Errorf("cache: negative size or duration in %+v", cfg)
	}
	cfg.MaxEntries = orDefault(cfg.MaxEntries, defaultMaxEntries)
	cfg.TTL = orDefault(cfg.TTL, defaultTTL)
	cfg.NegativeTTL = orDefault(cfg.NegativeTTL, defaultNegativeTTL)
	cfg.MaxStale = max(orDefault(cfg.MaxStale, defaultMaxStale), 0)
	cfg.LoadTimeout = orDefault(cfg.LoadTimeout, defaultLoadTimeout)

	c := &Cache[V]{
		load:     load,
		notFound: opts.NotFound,
		expiry:   opts.Expiry,
		validKey: opts.ValidKey,
		now:      opts.Now,
		cfg:      cfg,
		seed:     maphash.MakeSeed(),
	}
	c.base = c.wallNow()
	// Two independently seeded hashes: ristretto keeps only these, not the
	// key, and checks the second on every hit, so a collision on the first
	// cannot serve one alias for another.
	conflictSeed := maphash.MakeSeed()
	keyToHash := func(key string) (uint64, uint64) {
		return maphash.String(c.seed, key), maphash.String(conflictSeed, key)
	}
	var err error
	c.values, err = ristretto.NewCache(&ristretto.Config[string, *entry[V]]{
		NumCounters:        10 * cfg.MaxEntries,
		MaxCost:            cfg.MaxEntries,
		BufferItems:        64,
		IgnoreInternalCost: true,
		KeyToHash:          keyToHash,
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	negMax := min(max(cfg.MaxEntries/10, 100), maxNegativeEntries)
	c.negative, err = ristretto.NewCache(&ristretto.Config[string, int64]{
		NumCounters:        10 * negMax,
		MaxCost:            negMax,
		BufferItems:        64,
		IgnoreInternalCost: true,
		KeyToHash:          keyToHash,
	})
	if err != nil {
		c.values.Close()
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.group.Store(new(singleflight.Group))
	c.life, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Get returns the value for key: from memory when it is fresh, otherwise
// from one load shared by every concurrent Get of the key. A caller whose
// ctx ends stops waiting with ctx.Err(), but the load goes on for the
// others, bounded by LoadTimeout. A missing key returns the NotFound error
// and is remembered for NegativeTTL. Any other load error is returned as
// is, and not remembered, unless a value within MaxStale is at hand: then
// that value is returned instead.
//
// A value is never served from memory at or past its Expiry. A value that
// is loaded already past it is returned, for the caller to judge, but not
// kept: every Get of it loads again (one load for concurrent Gets).
func (c *Cache[V]) Get(ctx context.Context, key string) (V, error) {
	e, _ := c.values.Get(key)
	now := c.clock()
	if e != nil && now < e.fresh {
		c.stats.hits.Add(1)
		return e.value, nil
	}
	return c.miss(ctx, key, e, now)
}

// miss is Get's path for anything but a fresh hit, kept out of Get so that
// the hit path stays small.
func (c *Cache[V]) miss(ctx context.Context, key string, e *entry[V], now int64) (V, error) {
	var zero V
	if until, ok := c.negative.Get(key); ok && now < until {
		c.stats.negativeHits.Add(1)
		return zero, c.notFound
	}
	if c.validKey != nil && !c.validKey(key) {
		c.stats.negativeHits.Add(1)
		return zero, c.notFound
	}
	if e != nil && now < e.retryAt.Load() && now < e.stale {
		c.stats.misses.Add(1)
		c.stats.staleServed.Add(1)
		return e.value, nil
	}
	ch := c.group.Load().DoChan(key, func() (any, error) { return c.fetch(key) })
	// Counted once the Get has joined the load: every miss counted is then
	// a Get that the running load, or a later one, answers.
	c.stats.misses.Add(1)
	// With a stale value at hand, a store that does not answer at once
	// must not hold the request for the whole LoadTimeout: the value is
	// served after staleWait while the load goes on. A store that answers
	// in time still decides, so a deleted key is not served.
	var staleAfter <-chan time.Time
	if e != nil && now < e.stale {
		t := time.NewTimer(staleWait)
		defer t.Stop()
		staleAfter = t.C
	}
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-staleAfter:
		e.retryAt.Store(c.clock() + int64(staleRetry))
		c.stats.staleServed.Add(1)
		return e.value, nil
	case r := <-ch:
		if r.Err == nil {
			return r.Val.(V), nil
		}
		if e != nil && !errors.Is(r.Err, c.notFound) && !errors.Is(r.Err, ErrClosed) {
			if now := c.clock(); now < e.stale {
				e.retryAt.Store(now + int64(staleRetry))
				c.stats.staleServed.Add(1)
				return e.value, nil
			}
		}
		return zero, r.Err
	}
}

// fetch runs the Loader once for every Get waiting on key, and keeps what
// it returns unless key was invalidated or the cache flushed meanwhile.
func (c *Cache[V]) fetch(key string) (any, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, ErrClosed
	}
	gen := &c.gens[c.stripe(key)]
	gen0, epoch0 := gen.Load(), c.epoch.Load()
	current := func() bool { return gen.Load() == gen0 && c.epoch.Load() == epoch0 }

	ctx, cancel := context.WithTimeout(c.life, c.cfg.LoadTimeout)
	defer cancel()
	c.stats.loads.Add(1)
	v, err := c.load(ctx, key)
	now := c.wallNow()
	// ristretto applies writes asynchronously: each store waits until its
	// write is visible, or a Get arriving between the end of this load and
	// the write would load the key again.
	switch {
	case err == nil:
		c.store(key, v, now, current)
		c.values.Wait()
		return v, nil
	case errors.Is(err, c.notFound):
		// The key is gone: its old value must not be served stale later.
		c.values.Del(key)
		c.storeNegative(key, now, current)
		c.negative.Wait()
		return nil, err
	default:
		c.stats.loadErrors.Add(1)
		return nil, err
	}
}

// store keeps v for TTL (and MaxStale behind it), both cut short by its
// Expiry, unless the key was invalidated or the cache flushed since the load
// began.
func (c *Cache[V]) store(key string, v V, now time.Time, current func() bool) {
	fresh, keep := c.cfg.TTL, c.cfg.TTL+c.cfg.MaxStale
	if c.expiry != nil {
		if exp := c.expiry(v); !exp.IsZero() {
			left := exp.Sub(now) // saturates for a far-off Expiry
			fresh, keep = min(fresh, left), min(keep, left)
		}
	}
	if fresh <= 0 {
		return
	}
	n := c.since(now)
	e := &entry[V]{value: v, fresh: n + int64(fresh), stale: n + int64(keep)}
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	if current() {
		// No ristretto TTL: it would read the wall clock on every hit,
		// half the cost of one here. The entry's own deadlines decide what
		// is served; MaxEntries bounds what an outdated entry costs.
		c.values.Set(key, e, 1)
	}
}

// storeNegative remembers that key does not exist, on the same terms as store.
func (c *Cache[V]) storeNegative(key string, now time.Time, current func() bool) {
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	if current() {
		c.negative.SetWithTTL(key, c.since(now)+int64(c.cfg.NegativeTTL), 1, c.cfg.NegativeTTL)
	}
}

// clock returns the nanoseconds since New. On the real clock it reads only
// the monotonic clock, half the cost of time.Now, and this is on every hit.
func (c *Cache[V]) clock() int64 {
	if c.now == nil {
		return int64(time.Since(c.base))
	}
	return c.since(c.now())
}

func (c *Cache[V]) since(t time.Time) int64 { return int64(t.Sub(c.base)) }

// wallNow is the instant Expiry is compared with.
func (c *Cache[V]) wallNow() time.Time {
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}

func (c *Cache[V]) stripe(key string) uint64 {
	return maphash.String(c.seed, key) % stripes
}

// Invalidate forgets key (its value and any "not found"), and keeps any
// load of key already running from storing what it read. Call it after the
// change is committed: a load that starts later sees the change. When it
// returns, no Get serves what was cached before.
func (c *Cache[V]) Invalidate(key string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return
	}
	c.storeMu.Lock()
	c.gens[c.stripe(key)].Add(1)
	c.storeMu.Unlock()
	c.group.Load().Forget(key)
	c.values.Del(key)
	c.negative.Del(key)
	// Del is queued behind the Sets made before the bump; until ristretto
	// has applied both, such a value could still show.
	c.values.Wait()
	c.negative.Wait()
	c.stats.invalidations.Add(1)
}

// Flush forgets everything and keeps every load already running from
// storing what it read. The invalidation feed calls it after reconnecting,
// since notifications sent while it was away are lost.
func (c *Cache[V]) Flush() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return
	}
	// Held through Clear, which must not run twice at once; a store waiting
	// meanwhile finds the epoch moved.
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	c.epoch.Add(1)
	c.group.Store(new(singleflight.Group))
	c.values.Clear()
	c.negative.Clear()
	c.stats.flushes.Add(1)
}

// Wait blocks until the values stored so far can be hit: ristretto applies
// Sets asynchronously. Tests use it; the gateway has no need to.
func (c *Cache[V]) Wait() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return
	}
	c.values.Wait()
	c.negative.Wait()
}

// Close cancels running loads, waits for them, and stops ristretto's
// goroutines. Later calls to Get return ErrClosed; Invalidate, Flush and
// Wait do nothing. Gets must not race Close: ristretto's own Get is not
// safe against it.
func (c *Cache[V]) Close() {
	c.cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.values.Close()
	c.negative.Close()
}
