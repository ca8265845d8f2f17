package gate

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/linkgate/linkgate/alias"
)

// TokenCache remembers what verified JWTs proved, so a player that sends
// the same token with every segment pays for one HMAC and JSON parse, not
// one per request. An entry holds for the alias ID and version it was
// verified against and until the token's expiry: a new secret (a new
// version) or an expired token sends the next request back to Verify.
//
// Tokens are keyed by two independently seeded 64-bit hashes; the token
// itself is not kept.
type TokenCache struct {
	shards   [tokenShards]tokenShard
	seeds    [2]maphash.Seed
	perShard int
}

const tokenShards = 16

// DefaultTokenCacheSize is how many verified tokens a gateway remembers.
const DefaultTokenCacheSize = 100_000

type tokenShard struct {
	mu      sync.RWMutex
	entries map[uint64]tokenEntry
}

type tokenEntry struct {
	check   uint64
	aliasID string
	version int64
	grant   alias.Grant
}

// NewTokenCache returns a cache of about size tokens.
func NewTokenCache(size int) *TokenCache {
	c := &TokenCache{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, perShard: max(size/tokenShards, 1)}
	for i := range c.shards {
		c.shards[i].entries = make(map[uint64]tokenEntry)
	}
	return c
}

func (c *TokenCache) hashes(token string) (uint64, uint64) {
	return maphash.String(c.seeds[0], token), maphash.String(c.seeds[1], token)
}

// Get returns the grant token proved for alias a, if it still holds at now.
func (c *TokenCache) Get(a *alias.Alias, token string, now time.Time) (alias.Grant, bool) {
	key, check := c.hashes(token)
	s := &c.shards[key%tokenShards]
	s.mu.RLock()
	e, ok := s.entries[key]
	s.mu.RUnlock()
	if !ok || e.check != check || e.aliasID != a.ID || e.version != a.Version || !now.Before(e.grant.Expiry) {
		return alias.Grant{}, false
	}
	return e.grant, true
}

// Put remembers that token proved grant for alias a.
func (c *TokenCache) Put(a *alias.Alias, token string, grant alias.Grant) {
	key, check := c.hashes(token)
	s := &c.shards[key%tokenShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) >= c.perShard {
		// Forgetting a shard at once keeps memory bounded at the cost of
		// re-verifying its tokens once; no per-entry bookkeeping needed.
		clear(s.entries)
	}
	s.entries[key] = tokenEntry{check: check, aliasID: a.ID, version: a.Version, grant: grant}
}
