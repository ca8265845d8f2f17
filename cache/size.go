package cache

// Len returns how many values, and how many "not found" answers, the cache
// holds: what ristretto has admitted and not yet evicted, which includes
// values past their TTL that are kept to be served stale. Sets still
// queued in ristretto's buffers are not counted yet.
func (c *Cache[V]) Len() (values, notFound int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return 0, 0
	}
	// Every entry costs one, so the cost in use is the number of entries.
	return c.values.MaxCost() - c.values.RemainingCost(), c.negative.MaxCost() - c.negative.RemainingCost()
}

// Config returns the cache's configuration, defaults filled in; MaxStale
// is zero when stale values are never served.
func (c *Cache[V]) Config() Config { return c.cfg }
