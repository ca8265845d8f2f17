package gate

import (
	"slices"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
)

// TestIssuedCookieReuse: a viewer who sends the passcode with every
// segment gets the cookie made for the same grant moments ago, though each
// request's grant is issued at its own moment; never one that a revocation
// made since refuses, nor another user's or role's.
func TestIssuedCookieReuse(t *testing.T) {
	var c issuedCookies
	t0 := time.Unix(1_800_000_000, 250_000_000)
	a := &alias.Alias{ID: "abcdefghijkl", Version: 3}
	viewer := func(at time.Time) alias.Grant { return alias.Grant{Role: alias.RoleViewer, IssuedAt: at} }
	made := []string{"lgs_abcdefghijkl=made-at-t0"}
	c.put(a, viewer(t0), "/live/abcdefghijkl/", false, made, t0)

	later := t0.Add(5 * time.Second)
	if got, ok := c.get(a, viewer(later), "/live/abcdefghijkl/", false, later); !ok || !slices.Equal(got, made) {
		t.Errorf("a passcode viewer 5 s later got %q, %v; want the cookie made at t0", got, ok)
	}
	for name, g := range map[string]alias.Grant{
		"another role": {Role: alias.RolePublisher, IssuedAt: later},
		"a user":       {Role: alias.RoleViewer, User: "u1", IssuedAt: later},
	} {
		if _, ok := c.get(a, g, "/live/abcdefghijkl/", false, later); ok {
			t.Errorf("%s got the viewer's cookie", name)
		}
	}
	if _, ok := c.get(a, viewer(t0.Add(cookieReuse)), "/live/abcdefghijkl/", false, t0.Add(cookieReuse)); ok {
		t.Errorf("a cookie was reused %v after it was made", cookieReuse)
	}

	// Everything issued before t0+2s is revoked: the cookie made at t0
	// would be refused, so a new one must be made.
	revoked := *a
	revoked.Revocations = []alias.Revocation{{Kind: alias.RevokeBefore, Before: t0.Add(2 * time.Second).Truncate(time.Second), ExpiresAt: t0.Add(time.Hour)}}
	revoked.Prepare()
	if _, ok := c.get(&revoked, viewer(later), "/live/abcdefghijkl/", false, later); ok {
		t.Error("a cookie made before a revocation of everything issued before a moment was reused after it")
	}
	// A revocation of something else leaves it in use.
	other := *a
	other.Revocations = []alias.Revocation{{Kind: alias.RevokeUser, Value: "u1", ExpiresAt: t0.Add(time.Hour)}}
	other.Prepare()
	if _, ok := c.get(&other, viewer(later), "/live/abcdefghijkl/", false, later); !ok {
		t.Error("revoking another user stopped the viewer's cookie from being reused")
	}
}
