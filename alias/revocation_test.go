package alias

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// TestRevoked: what a revocation refuses, and that it stops refusing when
// it expires; an owner is never refused here.
func TestRevoked(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	later, earlier := now.Add(time.Hour), now.Add(-time.Second)
	a := Alias{Revocations: []Revocation{
		{Kind: RevokeUser, Value: "alice", ExpiresAt: later},
		{Kind: RevokeUser, Value: "gone", ExpiresAt: earlier},
		{Kind: RevokeJTI, Value: "t-1", ExpiresAt: later},
		{Kind: RevokeBefore, Before: now.Add(-time.Minute), ExpiresAt: later},
	}}
	fresh := now.Add(-time.Second)
	for _, tt := range []struct {
		name    string
		grant   Grant
		revoked bool
	}{
		{"the revoked user", Grant{Role: RoleViewer, User: "alice", IssuedAt: fresh}, true},
		{"another user", Grant{Role: RoleViewer, User: "bob", IssuedAt: fresh}, false},
		{"a user whose revocation expired", Grant{Role: RoleViewer, User: "gone", IssuedAt: fresh}, false},
		{"the revoked jti", Grant{Role: RoleViewer, JTI: "t-1", IssuedAt: fresh}, true},
		{"another jti", Grant{Role: RoleViewer, JTI: "t-2", IssuedAt: fresh}, false},
		{"issued before the moment", Grant{Role: RoleViewer, IssuedAt: now.Add(-2 * time.Minute)}, true},
		{"issued at the moment", Grant{Role: RoleViewer, IssuedAt: now.Add(-time.Minute)}, false},
		{"no user, no jti", Grant{Role: RoleViewer, IssuedAt: fresh}, false},
		{"the owner", Grant{Role: RoleOwner, User: "alice"}, false},
	} {
		if got := a.Revoked(&tt.grant, now); got != tt.revoked {
			t.Errorf("%s: revoked %v, want %v", tt.name, got, tt.revoked)
		}
	}
}

// TestRevokedIndexed: an alias with many revocations, which are looked up
// rather than scanned, refuses exactly what each revocation would refuse
// on its own.
func TestRevokedIndexed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var a Alias
		for range indexedRevocations + 1 + rng.IntN(200) {
			r := Revocation{ExpiresAt: now.Add(time.Duration(rng.IntN(120)-60) * time.Second)}
			switch rng.IntN(5) {
			case 0:
				r.Kind, r.Before = RevokeBefore, now.Add(-time.Duration(rng.IntN(600))*time.Second)
			case 1, 2:
				r.Kind, r.Value = RevokeJTI, "t"+strconv.Itoa(rng.IntN(100))
			default:
				r.Kind, r.Value = RevokeUser, "u"+strconv.Itoa(rng.IntN(100))
			}
			a.Revocations = append(a.Revocations, r)
		}
		a.Prepare()
		if a.revokedBy == nil {
			t.Fatalf("%d revocations are not indexed", len(a.Revocations))
		}
		for range 200 {
			g := Grant{Role: RoleViewer, IssuedAt: now.Add(-time.Duration(rng.IntN(600)) * time.Second)}
			if rng.IntN(4) > 0 {
				g.User = "u" + strconv.Itoa(rng.IntN(120))
			}
			if rng.IntN(2) > 0 {
				g.JTI = "t" + strconv.Itoa(rng.IntN(120))
			}
			want := false
			for _, r := range a.Revocations {
				want = want || now.Before(r.ExpiresAt) && r.Matches(&g)
			}
			if got := a.Revoked(&g, now); got != want {
				t.Fatalf("round %d, %+v: revoked %v, each revocation on its own says %v", round, g, got, want)
			}
		}
	}
}

// manyRevocations is an alias of an event that revoked n users.
func manyRevocations(n int) Alias {
	now := time.Now()
	a := Alias{Revocations: make([]Revocation, n)}
	for i := range a.Revocations {
		a.Revocations[i] = Revocation{Kind: RevokeUser, Value: "user-" + strconv.Itoa(i), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	return a
}

// BenchmarkRevoked is the check every request of an alias makes, with no
// revocation, a few, and as many as an alias may have.
func BenchmarkRevoked(b *testing.B) {
	for _, n := range []int{0, indexedRevocations, MaxRevocations} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			a := manyRevocations(n)
			a.Prepare()
			g := Grant{Role: RoleViewer, User: "someone-else", JTI: "t", IssuedAt: time.Now()}
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if a.Revoked(&g, now) {
					b.Fatal("refused")
				}
			}
		})
	}
}

// BenchmarkPrepareRevocations is preparing a cached alias that has as
// many revocations as it may; B/revocation is what each costs in memory
// once cached: its row, its value, and its share of the index.
func BenchmarkPrepareRevocations(b *testing.B) {
	a := manyRevocations(MaxRevocations)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	a.Prepare()
	runtime.ReadMemStats(&after)
	row := int(unsafe.Sizeof(Revocation{})) + len(a.Revocations[MaxRevocations/2].Value)
	perRevocation := float64(row) + float64(after.TotalAlloc-before.TotalAlloc)/MaxRevocations
	b.ReportAllocs()
	for b.Loop() {
		a.Prepare()
	}
	b.ReportMetric(perRevocation, "B/revocation")
}
