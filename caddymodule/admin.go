package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/linkgate/linkgate/cache"
	"github.com/linkgate/linkgate/node"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI adds linkgate's endpoints to Caddy's admin API:
//
//	GET  /linkgate/status       every node's store, change feed, migrations and caches
//	POST /linkgate/cache/flush  empties every node's caches
//
// A node is what the linkgate app runs for one database; the endpoints
// read the nodes the running configs hold, so they need no configuration
// and work whatever the config loads in which order.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.linkgate",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the linkgate endpoints of the admin API.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/linkgate/status", Handler: caddy.AdminHandlerFunc(handleStatus)},
		{Pattern: "/linkgate/cache/flush", Handler: caddy.AdminHandlerFunc(handleFlush)},
	}
}

// runningNodes returns the nodes of the running configs, in the order of
// their databases.
func runningNodes() []*nodeHandle {
	var all []*nodeHandle
	nodes.Range(func(_, v any) bool {
		all = append(all, v.(*nodeHandle))
		return true
	})
	slices.SortFunc(all, func(a, b *nodeHandle) int { return strings.Compare(a.DatabaseName(), b.DatabaseName()) })
	return all
}

// handleStatus answers GET /linkgate/status.
func handleStatus(w http.ResponseWriter, r *http.Request) error {
	if err := onlyMethod(w, r, http.MethodGet); err != nil {
		return err
	}
	body := statusJSON{Nodes: []nodeStatusJSON{}}
	for _, n := range runningNodes() {
		n.Wait()
		body.Nodes = append(body.Nodes, nodeStatusJSONOf(n.Status()))
	}
	return writeAdminJSON(w, body)
}

// handleFlush answers POST /linkgate/cache/flush.
func handleFlush(w http.ResponseWriter, r *http.Request) error {
	if err := onlyMethod(w, r, http.MethodPost); err != nil {
		return err
	}
	body := flushJSON{Flushed: []flushedJSON{}}
	for _, n := range runningNodes() {
		n.Wait()
		aliases, tokens := n.CacheSizes()
		n.Flush()
		body.Flushed = append(body.Flushed, flushedJSON{
			Database: n.DatabaseName(),
			Caches: map[string]cacheSizeJSON{
				"alias": {Entries: aliases.Entries, NotFound: aliases.NotFound},
				"token": {Entries: tokens.Entries, NotFound: tokens.NotFound},
			},
		})
	}
	return writeAdminJSON(w, body)
}

// onlyMethod refuses any other method than method, as Caddy's own admin
// endpoints do, naming the one allowed.
func onlyMethod(w http.ResponseWriter, r *http.Request, method string) error {
	if r.Method == method {
		return nil
	}
	w.Header().Set("Allow", method)
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("method not allowed; use " + method)}
}

func writeAdminJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	return enc.Encode(v)
}

// statusJSON is the body of GET /linkgate/status.
type statusJSON struct {
	Nodes []nodeStatusJSON `json:"nodes"`
}

type nodeStatusJSON struct {
	Status string                   `json:"status"`
	Reason *string                  `json:"reason"`
	Store  storeStatusJSON          `json:"store"`
	Feed   feedJSON                 `json:"feed"`
	Caches map[string]cacheStatJSON `json:"caches"`
}

type storeStatusJSON struct {
	Kind        string          `json:"kind"`
	Database    string          `json:"database"`
	Reachable   bool            `json:"reachable"`
	Error       *string         `json:"error"`
	LastContact *int64          `json:"last_contact"`
	MaxStale    int64           `json:"max_stale"`
	Migrations  *migrationsJSON `json:"migrations"`
}

type migrationsJSON struct {
	Applied []int64 `json:"applied"`
	Pending []int64 `json:"pending"`
}

type cacheSizeJSON struct {
	Entries  int64 `json:"entries"`
	NotFound int64 `json:"not_found_entries"`
}

type cacheStatJSON struct {
	cacheSizeJSON
	Lookups       uint64   `json:"lookups"`
	Hits          uint64   `json:"hits"`
	NegativeHits  uint64   `json:"negative_hits"`
	Misses        uint64   `json:"misses"`
	HitRatio      *float64 `json:"hit_ratio"`
	Loads         uint64   `json:"loads"`
	LoadErrors    uint64   `json:"load_errors"`
	StaleServed   uint64   `json:"stale_served"`
	Invalidations uint64   `json:"invalidations"`
	Flushes       uint64   `json:"flushes"`
}

func nodeStatusJSONOf(s node.Status) nodeStatusJSON {
	kind := "sqlite"
	if s.Postgres {
		kind = "postgres"
	}
	out := nodeStatusJSON{
		Status: s.Status,
		Reason: orNull(s.Reason),
		Store: storeStatusJSON{
			Kind:        kind,
			Database:    s.Database,
			Reachable:   s.StoreReachable,
			Error:       orNull(s.StoreError),
			LastContact: unixOrNull(s.LastContact),
			MaxStale:    int64(s.MaxStale),
		},
		Feed: feedJSONOf(s.Feed),
		Caches: map[string]cacheStatJSON{
			"alias": cacheStatJSONOf(s.AliasCache),
			"token": cacheStatJSONOf(s.TokenCache),
		},
	}
	if s.Applied != nil {
		out.Store.Migrations = &migrationsJSON{Applied: s.Applied, Pending: s.Pending}
	}
	return out
}

func cacheStatJSONOf(c node.CacheStatus) cacheStatJSON {
	out := cacheStatJSON{
		cacheSizeJSON: cacheSizeJSON{Entries: c.Entries, NotFound: c.NotFound},
		Lookups:       lookups(c.Stats),
		Hits:          c.Hits,
		NegativeHits:  c.NegativeHits,
		Misses:        c.Misses,
		Loads:         c.Loads,
		LoadErrors:    c.LoadErrors,
		StaleServed:   c.StaleServed,
		Invalidations: c.Invalidations,
		Flushes:       c.Flushes,
	}
	if out.Lookups > 0 {
		ratio := float64(c.Hits+c.NegativeHits) / float64(out.Lookups)
		out.HitRatio = &ratio
	}
	return out
}

// lookups counts every Get once: each is a hit, a negative hit or a miss.
func lookups(s cache.Stats) uint64 { return s.Hits + s.NegativeHits + s.Misses }

// flushJSON is the body of POST /linkgate/cache/flush: what each node
// held before the flush.
type flushJSON struct {
	Flushed []flushedJSON `json:"flushed"`
}

type flushedJSON struct {
	Database string                   `json:"database"`
	Caches   map[string]cacheSizeJSON `json:"caches"`
}

var _ caddy.AdminRouter = adminAPI{}
