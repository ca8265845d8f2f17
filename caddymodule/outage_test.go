package caddymodule_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// TestDatabaseOutage stops PostgreSQL under a running Caddy: the API must
// answer 503 with its JSON error, promptly rather than hanging, and serve
// again once the database is back, without a Caddy restart. It stops the
// package's server, so it must not run in parallel with other tests.
func TestDatabaseOutage(t *testing.T) {
	dsn := pgtest.DB(t)
	base := startCaddy(t, dsn)
	_, token := newOrg(t, dsn)
	createBody := func() string {
		return fmt.Sprintf(`{"type":"live","passcode":"letmein","expired_at":%d}`, inAnHour())
	}
	id := wantAlias(t, do(t, http.MethodPost, base+pathCreate, token, createBody()), http.StatusCreated)["id"].(string)

	requests := []struct {
		name, method, path, auth string
		body                     func() string
		ok                       int
	}{
		{"create", http.MethodPost, pathCreate, token, createBody, http.StatusCreated},
		{"list", http.MethodGet, pathList, token, nil, http.StatusOK},
		{"retrieve as owner", http.MethodGet, pathRetrieve + id, token, nil, http.StatusOK},
		{"retrieve with passcode", http.MethodGet, pathRetrieve + id + "?passcode=letmein", "", nil, http.StatusOK},
	}
	send := func(i int) response {
		rq := requests[i]
		body := ""
		if rq.body != nil {
			body = rq.body()
		}
		return do(t, rq.method, base+rq.path, rq.auth, body)
	}

	pgtest.StopServer(t)
	for i, rq := range requests {
		t.Run("down/"+rq.name, func(t *testing.T) {
			// do fails the test if the answer takes longer than the
			// client's timeout: a request must not wait for the database.
			r := send(i)
			wantError(t, r, http.StatusServiceUnavailable, "store_unavailable")
			if r.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}

	pgtest.StartServer(t)
	// The pool may hold connections the shutdown killed; how many requests
	// it takes to notice is the pool's business, but it must recover.
	testcaddy.PollUntil(t, 20*time.Second, "the API creates aliases again after the database came back", func() bool {
		return send(0).status == http.StatusCreated
	})
	for i, rq := range requests {
		t.Run("back/"+rq.name, func(t *testing.T) {
			wantJSON(t, send(i), rq.ok)
		})
	}
}
