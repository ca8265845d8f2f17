package node

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/linkgate/linkgate/cache"
)

// What Health says of a node.
const (
	// HealthOK: the store answers with the schema this binary needs.
	HealthOK = "ok"
	// HealthDegraded: the node serves, but not as well as it should: the
	// change feed is down, or the store is and the caches carry the node.
	HealthDegraded = "degraded"
	// HealthUnavailable: the node cannot serve what it is asked.
	HealthUnavailable = "unavailable"
)

// Why a node is not ok.
const (
	ReasonStoreUnreachable  = "store_unreachable"
	ReasonMigrationsPending = "migrations_pending"
	ReasonFeedDisconnected  = "feed_disconnected"
)

// The kinds of change feed.
const (
	// FeedListen is PostgreSQL's LISTEN/NOTIFY.
	FeedListen = "listen"
	// FeedPoll is SQLite's data_version, polled every second.
	FeedPoll = "poll"
)

// probeInterval is how long the result of a store check is reused: a load
// balancer polling every node every second costs the database one small
// query per node and second, however many balancers there are.
const probeInterval = time.Second

// probeTimeout bounds a store check, so that a node whose database hangs
// says so within probeInterval+probeTimeout (2 s) of the last good check.
const probeTimeout = time.Second

// Feed is the state of a node's change feed.
type Feed struct {
	// Kind is FeedListen or FeedPoll.
	Kind string
	// Connected: PostgreSQL's listener holds its connection, or SQLite's
	// last poll succeeded. While it is false, changes made elsewhere reach
	// this node only when cache_ttl runs out.
	Connected bool
	// Since is when Connected last changed; zero until the feed first
	// connected.
	Since time.Time
}

// Health is whether a node can serve, as a load balancer asks it.
type Health struct {
	// Status is HealthOK, HealthDegraded or HealthUnavailable.
	Status string
	// Reason is why Status is not HealthOK (a Reason* constant), or "".
	Reason string
	// StoreReachable: the latest check, at most 1 s old, got an answer.
	StoreReachable bool
	// LastContact is when the store last answered anything, a check or a
	// request's query; zero if it never did.
	LastContact time.Time
	Feed        Feed
	// Aliases and Tokens are how many entries the caches hold.
	Aliases, Tokens int64
}

// Status is what an operator asks of a node: its health and the details
// behind it.
type Status struct {
	Health
	// Postgres is true for PostgreSQL, false for SQLite.
	Postgres bool
	// Database is the database's URL without its password, or the SQLite
	// file's path.
	Database string
	// StoreError is why the latest check failed; "" when it did not.
	StoreError string
	// Applied and Pending are the versions of the migrations the database
	// has and of those it lacks: never nil when the store answered, both
	// nil when it did not.
	Applied, Pending []int64
	// MaxStale is how long past the last contact a node with a warm cache
	// stays ready while the store is unreachable; zero when never.
	MaxStale time.Duration
	// AliasCache and TokenCache are the caches' sizes and counters.
	AliasCache, TokenCache CacheStatus
}

// CacheStatus is one cache's size and counters.
type CacheStatus struct {
	// Entries are the values held, NotFound the "no such key" answers.
	Entries, NotFound int64
	cache.Stats
}

// probeResult is one check of the store.
type probeResult struct {
	at               time.Time // when it ended
	err              error
	applied, pending []int64
}

// probe checks the store, or returns the check made less than
// probeInterval ago. Concurrent callers share one check.
func (n *Node) probe() *probeResult {
	if r := n.lastProbe.Load(); r != nil && time.Since(r.at) < probeInterval {
		return r
	}
	v, _, _ := n.probes.Do("", func() (any, error) {
		if r := n.lastProbe.Load(); r != nil && time.Since(r.at) < probeInterval {
			return r, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(probeTimeout, n.cfg.QueryTimeout))
		defer cancel()
		r := &probeResult{}
		b, err := n.open()
		if err == nil {
			r.applied, r.pending, err = b.Migrations(ctx)
		}
		r.err = n.storeError(err)
		r.at = time.Now()
		n.lastProbe.Store(r)
		return r, nil
	})
	return v.(*probeResult)
}

// Health checks the store (at most once a second) and says whether the
// node can serve.
func (n *Node) Health() Health {
	return n.health(n.probe())
}

func (n *Node) health(p *probeResult) Health {
	aliases, _ := n.aliases.Len()
	tokens, _ := n.orgs.Len()
	h := Health{
		StoreReachable: p.err == nil,
		LastContact:    n.LastContact(),
		Feed:           n.Feed(),
		Aliases:        aliases,
		Tokens:         tokens,
	}
	h.Status, h.Reason = Readiness(h, len(p.pending), n.aliases.Config().MaxStale, time.Now())
	return h
}

// Readiness is the rule Health applies, at now, to what the node knows:
//
//   - the store answers but lacks migrations: unavailable, migrations_pending
//     (only with auto_migrate off, until "caddy linkgate migrate" runs);
//   - the store answers and the feed is down: degraded, feed_disconnected;
//   - the store answers: ok;
//   - the store does not answer, the alias cache holds something, and the
//     store last answered at most maxStale ago: degraded, store_unreachable
//     (cached aliases are served, uncached ones fail);
//   - otherwise: unavailable, store_unreachable.
func Readiness(h Health, pending int, maxStale time.Duration, now time.Time) (status, reason string) {
	switch {
	case h.StoreReachable && pending > 0:
		return HealthUnavailable, ReasonMigrationsPending
	case h.StoreReachable && !h.Feed.Connected:
		return HealthDegraded, ReasonFeedDisconnected
	case h.StoreReachable:
		return HealthOK, ""
	case h.Aliases > 0 && maxStale > 0 && !h.LastContact.IsZero() && now.Sub(h.LastContact) <= maxStale:
		return HealthDegraded, ReasonStoreUnreachable
	}
	return HealthUnavailable, ReasonStoreUnreachable
}

// Status checks the store (at most once a second) and reports everything
// an operator may ask about the node.
func (n *Node) Status() Status {
	p := n.probe()
	s := Status{
		Health:   n.health(p),
		Postgres: n.cfg.Database.Postgres,
		Database: n.DatabaseName(),
		MaxStale: n.aliases.Config().MaxStale,
	}
	if p.err != nil {
		s.StoreError = p.err.Error()
	} else {
		s.Applied, s.Pending = append([]int64{}, p.applied...), append([]int64{}, p.pending...)
	}
	s.AliasCache.Entries, s.AliasCache.NotFound = n.aliases.Len()
	s.TokenCache.Entries, s.TokenCache.NotFound = n.orgs.Len()
	s.AliasCache.Stats, s.TokenCache.Stats = n.Stats()
	return s
}

// DatabaseName is the node's database for people to read: without its
// password (see Database.Redacted).
func (n *Node) DatabaseName() string { return n.cfg.Database.Redacted() }

// LastContact is when the store last answered; zero if it never did.
func (n *Node) LastContact() time.Time {
	if ns := n.lastContact.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Feed returns the state of the change feed.
func (n *Node) Feed() Feed {
	n.feedMu.Lock()
	defer n.feedMu.Unlock()
	return n.feed
}

// setFeed records whether the change feed is connected.
func (n *Node) setFeed(connected bool) {
	n.feedMu.Lock()
	defer n.feedMu.Unlock()
	if n.feed.Connected != connected || n.feed.Since.IsZero() && connected {
		n.feed.Connected, n.feed.Since = connected, time.Now()
	}
}

// CacheSizes returns how many aliases and organization tokens the caches
// hold: what Flush would drop.
func (n *Node) CacheSizes() (aliases, tokens CacheStatus) {
	aliases.Entries, aliases.NotFound = n.aliases.Len()
	tokens.Entries, tokens.NotFound = n.orgs.Len()
	return aliases, tokens
}

// Redacted is the database for people to read: a PostgreSQL URL with its
// password, in the user part or in a query parameter, replaced by xxxxx;
// or the SQLite file's path.
func (d Database) Redacted() string {
	if !d.Postgres {
		return "sqlite:" + d.DSN
	}
	u, err := url.Parse(d.DSN)
	if err != nil {
		// Nothing of a URL that cannot be read may be shown: its password
		// could be anywhere in it.
		scheme, _, _ := strings.Cut(d.DSN, "://")
		return scheme + "://(unreadable URL)"
	}
	q := u.Query()
	for key := range q {
		if strings.Contains(strings.ToLower(key), "password") {
			q.Set(key, "xxxxx")
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
