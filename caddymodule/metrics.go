package caddymodule

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/cache"
	"github.com/linkgate/linkgate/gate"
)

// metrics are made once and registered into every config's registry: a
// reload brings a new registry, and counters must not restart from zero
// with it. No label carries an alias ID or a secret: label values come
// from small fixed sets.
var metrics = struct {
	decisions          *prometheus.CounterVec
	storeErrors        prometheus.Counter
	listenerReconnects prometheus.Counter
	kicks              *prometheus.CounterVec
	playlists          *prometheus.CounterVec
	caches             prometheus.Collector
	held               *prometheus.GaugeVec
	heldEnded          *prometheus.CounterVec
	revocations        prometheus.Collector
}{
	decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "linkgate",
		Name:      "auth_decisions_total",
		Help:      "Access decisions by handler (alias_auth, alias_api, alias_hooks), outcome (allowed, denied) and reason.",
	}, []string{"handler", "outcome", "reason"}),
	storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "linkgate",
		Name:      "store_errors_total",
		Help:      "Store calls that failed for another reason than a missing or duplicate row.",
	}),
	listenerReconnects: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "linkgate",
		Name:      "listener_reconnects_total",
		Help:      "Times the invalidation listener reconnected to PostgreSQL.",
	}),
	kicks: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "linkgate",
		Name:      "media_kicks_total",
		Help:      "Sessions linkgate asked a media server's API to end, by server (mediamtx, srs) and outcome (kicked, gone, failed).",
	}, []string{"server", "outcome"}),
	playlists: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "linkgate",
		Name:      "playlists_total",
		Help: "Playlists and manifests alias_auth answered to admitted requests, by result: rewritten with playback tokens, " +
			"or passed on without them as too_large, encoded (compressed other than by gzip), malformed, or unsigned (no token could be issued).",
	}, []string{"result"}),
	caches: cacheCollector{},
	held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "linkgate",
		Name:      "held_connections",
		Help:      "Admitted requests held open and ended when their right to exist ends, by kind (websocket, stream).",
	}, []string{"kind"}),
	heldEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "linkgate",
		Name:      "held_ended_total",
		Help:      "Held requests linkgate ended, by kind and reason (token_expired, revoked, credential_changed, alias_not_found, alias_expired, ...).",
	}, []string{"kind", "reason"}),
	revocations: revocationCollector{},
}

// registerMetrics adds linkgate's collectors to a config's registry.
func registerMetrics(registry *prometheus.Registry) {
	for _, c := range []prometheus.Collector{metrics.decisions, metrics.storeErrors, metrics.listenerReconnects, metrics.kicks, metrics.playlists,
		metrics.caches, metrics.held, metrics.heldEnded, metrics.revocations} {
		var already prometheus.AlreadyRegisteredError
		if err := registry.Register(c); err != nil && !errors.As(err, &already) {
			caddy.Log().Named("linkgate").Error("registering metrics", zap.Error(err))
		}
	}
}

// countDecision counts one access decision. The counters are looked up in
// a map of their own: WithLabelValues would hash and allocate on every
// request.
func countDecision(handler string, reason gate.Reason) {
	key := decisionKey{handler, reason}
	decisionCounters.RLock()
	c, ok := decisionCounters.m[key]
	decisionCounters.RUnlock()
	if !ok {
		outcome := "denied"
		if reason.Admitted() {
			outcome = "allowed"
		}
		c = metrics.decisions.WithLabelValues(handler, outcome, reason.String())
		decisionCounters.Lock()
		decisionCounters.m[key] = c
		decisionCounters.Unlock()
	}
	c.Inc()
}

type decisionKey struct {
	handler string
	reason  gate.Reason
}

// decisionCounters stays small: handlers and reasons are fixed sets.
var decisionCounters = struct {
	sync.RWMutex
	m map[decisionKey]prometheus.Counter
}{m: make(map[decisionKey]prometheus.Counter)}

// cacheCollector reports the counters of every live cache, summed over the
// nodes of the process, labelled by what the cache holds.
type cacheCollector struct{}

var cacheMetrics = []struct {
	desc *prometheus.Desc
	get  func(cache.Stats) uint64
}{
	{cacheDesc("hits_total", "Lookups answered from memory."), func(s cache.Stats) uint64 { return s.Hits }},
	{cacheDesc("negative_hits_total", "Lookups answered 'not found' from memory."), func(s cache.Stats) uint64 { return s.NegativeHits }},
	{cacheDesc("misses_total", "Lookups that waited for the store or got a stale entry."), func(s cache.Stats) uint64 { return s.Misses }},
	{cacheDesc("loads_total", "Store queries made for misses (concurrent misses share one)."), func(s cache.Stats) uint64 { return s.Loads }},
	{cacheDesc("load_errors_total", "Store queries for misses that failed."), func(s cache.Stats) uint64 { return s.LoadErrors }},
	{cacheDesc("stale_served_total", "Lookups answered with an entry past cache_ttl because the store failed."), func(s cache.Stats) uint64 { return s.StaleServed }},
	{cacheDesc("invalidations_total", "Entries dropped because they changed."), func(s cache.Stats) uint64 { return s.Invalidations }},
	{cacheDesc("flushes_total", "Times the whole cache was dropped (after the listener reconnected)."), func(s cache.Stats) uint64 { return s.Flushes }},
}

func cacheDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("linkgate_cache_"+name, help, []string{"cache"}, nil)
}

// Describe implements prometheus.Collector.
func (cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range cacheMetrics {
		ch <- m.desc
	}
}

// retired holds the counts of nodes that are gone (a reload that changed a
// cache option replaces its node), so the counters never go backwards.
var retired struct {
	sync.Mutex
	aliases, orgs cache.Stats
}

// retireStats adds a departing node's counts to retired.
func retireStats(aliases, orgs cache.Stats) {
	retired.Lock()
	defer retired.Unlock()
	retired.aliases = addStats(retired.aliases, aliases)
	retired.orgs = addStats(retired.orgs, orgs)
}

func addStats(a, b cache.Stats) cache.Stats {
	return cache.Stats{
		Hits:          a.Hits + b.Hits,
		NegativeHits:  a.NegativeHits + b.NegativeHits,
		Misses:        a.Misses + b.Misses,
		Loads:         a.Loads + b.Loads,
		LoadErrors:    a.LoadErrors + b.LoadErrors,
		StaleServed:   a.StaleServed + b.StaleServed,
		Invalidations: a.Invalidations + b.Invalidations,
		Flushes:       a.Flushes + b.Flushes,
	}
}

// Collect implements prometheus.Collector.
func (cacheCollector) Collect(ch chan<- prometheus.Metric) {
	retired.Lock()
	aliases, orgs := []cache.Stats{retired.aliases}, []cache.Stats{retired.orgs}
	retired.Unlock()
	nodes.Range(func(_, v any) bool {
		a, o := v.(*nodeHandle).Stats()
		aliases = append(aliases, a)
		orgs = append(orgs, o)
		return true
	})
	for _, m := range cacheMetrics {
		for label, stats := range map[string][]cache.Stats{"alias": aliases, "token": orgs} {
			var sum uint64
			for _, s := range stats {
				sum += m.get(s)
			}
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(sum), label)
		}
	}
}

// revocationCollector reports the revocations in force in the databases
// of the process's nodes, counted when scraped.
type revocationCollector struct{}

var revocationsDesc = prometheus.NewDesc("linkgate_revocations_in_force",
	"Revocations of users, tokens and moments in force on every alias of the database.", nil, nil)

// revocationsScrapeTimeout bounds the count a scrape waits for: a store
// that does not answer leaves the series out rather than the scrape hung.
const revocationsScrapeTimeout = time.Second

// Describe implements prometheus.Collector.
func (revocationCollector) Describe(ch chan<- *prometheus.Desc) { ch <- revocationsDesc }

// Collect implements prometheus.Collector.
func (revocationCollector) Collect(ch chan<- prometheus.Metric) {
	total, counted := 0, false
	nodes.Range(func(_, v any) bool {
		b, err := v.(*nodeHandle).Backend()
		if err != nil {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), revocationsScrapeTimeout)
		defer cancel()
		if n, err := b.RevocationsInForce(ctx); err == nil {
			total, counted = total+n, true
		}
		return true
	})
	if counted {
		ch <- prometheus.MustNewConstMetric(revocationsDesc, prometheus.GaugeValue, float64(total))
	}
}
