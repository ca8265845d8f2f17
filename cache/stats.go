package cache

import "sync/atomic"

// Stats are counters since New, each only ever growing, so the app can
// export them as Prometheus counters as they are. Every Get counts once in
// exactly one of Hits, NegativeHits and Misses.
type Stats struct {
	// Hits are Gets answered from a fresh value in memory.
	Hits uint64
	// NegativeHits are Gets answered NotFound without a load: a remembered
	// "not found", or a key that ValidKey rejects.
	NegativeHits uint64
	// Misses are all other Gets: they waited for a load (their own or a
	// shared one) or were served a stale value.
	Misses uint64
	// Loads are Loader calls; Misses minus Loads is what singleflight saved.
	Loads uint64
	// LoadErrors are Loader calls that failed with anything but NotFound:
	// the store was unreachable or slow.
	LoadErrors uint64
	// StaleServed are Misses answered with a value past its TTL because
	// reloading it failed.
	StaleServed uint64
	// Invalidations are Invalidate calls.
	Invalidations uint64
	// Flushes are Flush calls.
	Flushes uint64
}

// counters are the live Stats.
type counters struct {
	hits          atomic.Uint64
	negativeHits  atomic.Uint64
	misses        atomic.Uint64
	loads         atomic.Uint64
	loadErrors    atomic.Uint64
	staleServed   atomic.Uint64
	invalidations atomic.Uint64
	flushes       atomic.Uint64
}

// Stats returns the counters as they are now; they are read one by one, so
// a snapshot taken under load may be off by the Gets in flight.
func (c *Cache[V]) Stats() Stats {
	s := &c.stats
	return Stats{
		Hits:          s.hits.Load(),
		NegativeHits:  s.negativeHits.Load(),
		Misses:        s.misses.Load(),
		Loads:         s.loads.Load(),
		LoadErrors:    s.loadErrors.Load(),
		StaleServed:   s.staleServed.Load(),
		Invalidations: s.invalidations.Load(),
		Flushes:       s.flushes.Load(),
	}
}
