package gate

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/linkgate/linkgate/alias"
)

// issuedCookies remembers the Set-Cookie values the gateway issued, so a
// player that sends its passcode or token with every segment, and keeps no
// cookies, does not cost a MAC and a cookie built anew on every request.
// A value is reused for at most cookieReuse after it was made: its Max-Age
// then overstates the cookie's life by as much, which costs nothing, since
// the expiry signed inside the cookie is what the gateway enforces.
type issuedCookies struct {
	once sync.Once
	seed maphash.Seed
	mu   sync.RWMutex
	m    map[uint64]issuedCookie
}

const (
	cookieReuse      = 30 * time.Second
	maxIssuedCookies = 10_000
)

// issuedCookie is one Set-Cookie value and everything it was made for.
type issuedCookie struct {
	header  []string
	aliasID string
	version int64
	grant   alias.Grant
	carried alias.Grant
	path    string
	secure  bool
	madeAt  time.Time
}

func (c *issuedCookies) key(a *alias.Alias, g alias.Grant, path string, secure bool) uint64 {
	c.once.Do(func() {
		c.seed = maphash.MakeSeed()
		c.m = make(map[uint64]issuedCookie)
	})
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(a.ID)
	h.WriteByte(0)
	h.WriteString(path)
	h.WriteByte(0)
	h.WriteString(g.User)
	return h.Sum64()
}

// get returns the Set-Cookie value made for the same alias version, grant,
// path and scheme less than cookieReuse ago.
func (c *issuedCookies) get(a *alias.Alias, g alias.Grant, path string, secure bool, now time.Time) ([]string, bool) {
	k := c.key(a, g, path, secure)
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || e.aliasID != a.ID || e.version != a.Version || e.path != path || e.secure != secure ||
		now.Sub(e.madeAt) >= cookieReuse || now.Before(e.madeAt) {
		return nil, false
	}
	// A passcode, a stream key or a public alias proves a grant at the
	// moment of the request, so no two requests' grants are equal in
	// IssuedAt; the cookie made for the same grant a few seconds ago
	// serves as well, unless a revocation made since refuses what it
	// carries.
	same := g
	same.IssuedAt = e.grant.IssuedAt
	if e.grant != same || a.Revoked(&e.carried, now) {
		return nil, false
	}
	return e.header, true
}

func (c *issuedCookies) put(a *alias.Alias, g alias.Grant, path string, secure bool, header []string, now time.Time) {
	k := c.key(a, g, path, secure)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxIssuedCookies {
		clear(c.m)
	}
	// What the cookie carries, for the revocations made after it.
	carried := g
	carried.IssuedAt = sessionIssuedAt(g, now)
	c.m[k] = issuedCookie{header: header, aliasID: a.ID, version: a.Version, grant: g, carried: carried, path: path, secure: secure, madeAt: now}
}
