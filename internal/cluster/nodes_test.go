package cluster

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// propagation is how soon a change must reach every node's cache.
const propagation = time.Second

// TestTwoNodes runs what an operator runs: two "caddy run" processes of the
// binary built from cmd/caddy, on one database, started together (so their
// migrations race). A change made through one node, or by hand in SQL,
// must reach the other node's warm cache within a second: a new passcode,
// a deleted alias, a revoked organization token.
func TestTwoNodes(t *testing.T) {
	d := newDatabase(t)
	up := newUpstream(t)
	// Built here once per test binary (once per run with -count): every
	// node test is a subtest of this one.
	bin := testcaddy.BuildCaddy(t)
	a := startNode(t, bin, "A", testcaddy.NewSite(t, "{env.LINKGATE_DATABASE}", up), d.dsn)
	b := startNode(t, bin, "B", testcaddy.NewSite(t, "{env.LINKGATE_DATABASE}", up), d.dsn)
	a.waitReady(t)
	b.waitReady(t)
	d.waitListeners(t, 2)
	orgID, token := d.newOrg(t)
	owner := "Bearer " + token

	t.Run("update through A reaches B", func(t *testing.T) {
		id := createAlias(t, a.base, token, "old-passcode")
		old, next := livePath(id, "old-passcode"), livePath(id, "new-passcode")
		warm(t, a.base, old, "", aliasHits)
		warm(t, b.base, old, "", aliasHits)

		r := do(t, http.MethodPost, a.base+pathUpdate+id, owner, `{"passcode":"new-passcode"}`)
		want(t, r, http.StatusOK, "", "updating the passcode through A")
		// The node that made the change drops its entry before answering.
		want(t, get(t, a.base+old), http.StatusUnauthorized, "unauthorized", "old passcode on A right after the update")
		took := within(t, propagation, "B rejects the old passcode", func() bool {
			return get(t, b.base+old).status == http.StatusUnauthorized
		})
		t.Logf("B rejected the old passcode in a check begun %v after the update", took)
		want(t, get(t, b.base+next), http.StatusOK, "", "new passcode on B")
		want(t, get(t, a.base+next), http.StatusOK, "", "new passcode on A")
		want(t, get(t, b.base+old), http.StatusUnauthorized, "unauthorized", "old passcode on B")
	})

	t.Run("update in SQL reaches both", func(t *testing.T) {
		id := createAlias(t, a.base, token, "old-passcode")
		old, next := livePath(id, "old-passcode"), livePath(id, "new-passcode")
		warm(t, a.base, old, "", aliasHits)
		warm(t, b.base, old, "", aliasHits)

		d.exec(t, "UPDATE aliases SET passcode = 'new-passcode' WHERE id = $1", id)
		bothWithin(t, a, b, "reject the old passcode changed in SQL", func(n *node) bool {
			return get(t, n.base+old).status == http.StatusUnauthorized
		})
		for _, n := range []*node{a, b} {
			want(t, get(t, n.base+next), http.StatusOK, "", "new passcode on "+n.name)
		}
	})

	t.Run("JWT secret changed through A: B refuses the old tokens", func(t *testing.T) {
		oldSecret, newSecret := strings.Repeat("o", 32), strings.Repeat("n", 32)
		id := createAliasWith(t, a.base, token, fmt.Sprintf(`"jwt_secret":%q`, oldSecret))
		path := "/live/" + id + "/index.m3u8"
		oldJWT, newJWT := viewerJWT(t, id, oldSecret), viewerJWT(t, id, newSecret)
		warm(t, a.base, path, "Bearer "+oldJWT, aliasHits)
		warm(t, b.base, path, "Bearer "+oldJWT, aliasHits)

		r := do(t, http.MethodPost, a.base+pathUpdate+id, owner, fmt.Sprintf(`{"jwt_secret":%q}`, newSecret))
		want(t, r, http.StatusOK, "", "changing the JWT secret through A")
		bothWithin(t, a, b, "refuse a token signed with the old secret", func(n *node) bool {
			return do(t, http.MethodGet, n.base+path, "Bearer "+oldJWT, "").status == http.StatusUnauthorized
		})
		for _, n := range []*node{a, b} {
			want(t, do(t, http.MethodGet, n.base+path, "Bearer "+newJWT, ""), http.StatusOK, "", "a token signed with the new secret on "+n.name)
		}
	})

	t.Run("alias inserted in SQL opens on both despite a remembered not-found", func(t *testing.T) {
		id := alias.NewID()
		path := livePath(id, "passcode")
		remember(t, a.base, path, "", aliasNegativeHits, http.StatusNotFound)
		remember(t, b.base, path, "", aliasNegativeHits, http.StatusNotFound)

		d.exec(t, `INSERT INTO aliases (id, org_id, type, passcode, expired_at)
			VALUES ($1, $2, 'live', 'passcode', now() + interval '1 hour')`, id, orgID)
		bothWithin(t, a, b, "open the alias inserted in SQL", func(n *node) bool {
			return get(t, n.base+path).status == http.StatusOK
		})
	})

	t.Run("delete through B closes A", func(t *testing.T) {
		id := createAlias(t, a.base, token, "passcode")
		path := livePath(id, "passcode")
		warm(t, a.base, path, "", aliasHits)
		warm(t, b.base, path, "", aliasHits)

		r := do(t, http.MethodDelete, b.base+pathDelete+id, owner, "")
		want(t, r, http.StatusOK, "", "deleting through B")
		want(t, get(t, b.base+path), http.StatusNotFound, "alias_not_found", "deleted alias on B right after the delete")
		took := within(t, propagation, "A closes the deleted alias", func() bool {
			return get(t, a.base+path).status == http.StatusNotFound
		})
		t.Logf("A closed the alias in a check begun %v after the delete", took)
		want(t, get(t, a.base+path), http.StatusNotFound, "alias_not_found", "deleted alias on A")
	})

	t.Run("token revoked in SQL stops on both", func(t *testing.T) {
		id := createAlias(t, a.base, token, "passcode")
		s := d.store(t)
		revoked, _ := testcaddy.NewToken(t, s, orgID)
		path := "/live/" + id + "/index.m3u8"
		warm(t, a.base, path, "Bearer "+revoked, tokenHits)
		warm(t, b.base, path, "Bearer "+revoked, tokenHits)

		d.exec(t, "UPDATE org_tokens SET revoked_at = now() WHERE org_id = $1 AND revoked_at IS NULL AND token_hash = sha256($2::bytea)", orgID, revoked)
		bothWithin(t, a, b, "refuse the token revoked in SQL", func(n *node) bool {
			return do(t, http.MethodGet, n.base+path, "Bearer "+revoked, "").status == http.StatusUnauthorized
		})
		for _, n := range []*node{a, b} {
			want(t, do(t, http.MethodGet, n.base+path, "Bearer "+revoked, ""), http.StatusUnauthorized, "unauthorized", "revoked token on "+n.name)
			want(t, do(t, http.MethodGet, n.base+path, owner, ""), http.StatusOK, "", "the organization's other token on "+n.name)
		}
	})
}

// bothWithin polls both nodes until cond holds on each, and fails the
// test unless it did on each within propagation.
func bothWithin(t *testing.T, a, b *node, what string, cond func(*node) bool) {
	t.Helper()
	took := map[*node]time.Duration{}
	start := time.Now()
	within(t, propagation, "A and B "+what, func() bool {
		for _, n := range []*node{a, b} {
			at := time.Since(start)
			if _, done := took[n]; !done && cond(n) {
				took[n] = at
			}
		}
		return len(took) == 2
	})
	t.Logf("%s: A in a check begun %v after, B %v after", what, took[a], took[b])
	for n, at := range took {
		if at > propagation {
			t.Errorf("%s: node %s only in a check begun %v after, want within %v", what, n.name, at, propagation)
		}
	}
}

// node is a "caddy run" process serving a site.
type node struct {
	*testcaddy.Process
	name string
	base string
}

// startNode writes s as the Caddyfile of a node and runs it, with the
// database's DSN in LINKGATE_DATABASE. Cleanup stops it.
func startNode(t *testing.T, bin, name string, s testcaddy.Site, dsn string) *node {
	t.Helper()
	p := testcaddy.Run(t, bin, "node "+name, s.Caddyfile(t), "LINKGATE_DATABASE="+dsn)
	return &node{Process: p, name: name, base: s.Base()}
}

// waitReady waits until the node answers.
func (n *node) waitReady(t *testing.T) {
	t.Helper()
	n.WaitReady(t, func() bool {
		r, err := send(t.Context(), http.MethodGet, n.base+"/", "", "")
		return err == nil && r.status == testcaddy.FallthroughStatus
	})
}

// viewerJWT is a viewer token for alias id signed with secret, valid for
// an hour.
func viewerJWT(t *testing.T, id, secret string) string {
	t.Helper()
	now := time.Now()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"alias": id, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return token
}
