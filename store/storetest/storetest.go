// Package storetest is the conformance suite of alias.Store: the cases
// every store passes, so that linkgate behaves the same whichever database
// holds its aliases. Each store package runs it from a test of its own:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) alias.Store {
//			s := openAFreshMigratedStore(t) // closed in t.Cleanup
//			return s
//		})
//	}
//
// The suite speaks only through the Store interface. What can only be seen
// in SQL (triggers on changes made by hand, constraints, files) belongs to
// each store's own tests.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
)

// Run runs the conformance cases as parallel subtests of t. open returns a
// fresh, migrated, empty store and registers its cleanup with t; it is
// called once or more per subtest, from parallel subtests at once.
func Run(t *testing.T, open func(t *testing.T) alias.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s alias.Store)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"DuplicateID", testDuplicateID},
		{"StreamKeyTaken", testStreamKeyTaken},
		{"AliasByStreamKey", testAliasByStreamKey},
		{"UpdatePartial", testUpdatePartial},
		{"UpdateClears", testUpdateClears},
		{"UpdateNoChangeKeepsVersion", testUpdateNoChange},
		{"UpdateForeignOrUnknown", testUpdateForeign},
		{"Delete", testDelete},
		{"ListIsolationAndOrder", testListIsolationAndOrder},
		{"ListPages", testListPages},
		{"ListCursorStable", testListCursorStable},
		{"ListOrderIsTotal", testListOrderIsTotal},
		{"Tokens", testTokens},
		{"Orgs", testOrgs},
		{"SessionKey", func(t *testing.T, s alias.Store) { testSessionKey(t, s, open) }},
		{"MigrateAgain", testMigrateAgain},
		{"ParallelCreates", testParallelCreates},
		{"ParallelUpdates", testParallelUpdates},
		{"AuthEpoch", testAuthEpoch},
		{"SecretGrace", testSecretGrace},
		{"Revocations", testRevocations},
		{"RevocationsBounded", testRevocationsBounded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// expiry is a second-aligned time in the future: the API's precision, which
// every store must keep exactly.
func expiry() time.Time { return time.Now().Add(24 * time.Hour).Truncate(time.Second) }

// streamKey returns a fresh stream key, valid for the API.
func streamKey() string { return "sk_" + alias.NewID() + alias.NewID() }

func newOrg(t *testing.T, s alias.Store) alias.Org {
	t.Helper()
	o, err := s.CreateOrg(t.Context(), "org "+alias.NewID())
	if err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	return o
}

// liveAlias is the smallest valid alias of org: every optional field unset.
func liveAlias(org alias.Org) alias.Alias {
	return alias.Alias{ID: alias.NewID(), OrgID: org.ID, Type: alias.TypeLive, ExpiredAt: expiry()}
}

// fullAlias has every field set.
func fullAlias(org alias.Org) alias.Alias {
	return alias.Alias{
		ID:        alias.NewID(),
		OrgID:     org.ID,
		Type:      alias.TypeConference,
		Name:      "Board meeting",
		Passcode:  "1234-secret",
		JWTSecret: "0123456789abcdef0123456789abcdef",
		StreamKey: streamKey(),
		ExpiredAt: expiry(),
	}
}

func create(t *testing.T, s alias.Store, a alias.Alias) alias.Alias {
	t.Helper()
	created, err := s.CreateAlias(t.Context(), a)
	if err != nil {
		t.Fatalf("CreateAlias(%s): %v", a.ID, err)
	}
	return created
}

func get(t *testing.T, s alias.Store, id string) alias.Alias {
	t.Helper()
	a, err := s.Alias(t.Context(), id)
	if err != nil {
		t.Fatalf("Alias(%s): %v", id, err)
	}
	return a
}

func update(t *testing.T, s alias.Store, orgID, id string, p alias.Patch) alias.Alias {
	t.Helper()
	a, err := s.UpdateAlias(t.Context(), orgID, id, p)
	if err != nil {
		t.Fatalf("UpdateAlias(%s): %v", id, err)
	}
	return a
}

func list(t *testing.T, s alias.Store, orgID string, q alias.ListQuery) []alias.Alias {
	t.Helper()
	page, err := s.Aliases(t.Context(), orgID, q)
	if err != nil {
		t.Fatalf("Aliases: %v", err)
	}
	return page
}

// cursorAfter is the cursor the API hands out after a.
func cursorAfter(a alias.Alias) *alias.Cursor {
	return &alias.Cursor{InsertedAt: a.InsertedAt, ID: a.ID}
}

// fieldsDiff compares what a caller writes: everything but the times and
// the version, which the store keeps.
func fieldsDiff(got, want alias.Alias) []string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	str("ID", got.ID, want.ID)
	str("OrgID", got.OrgID, want.OrgID)
	str("Type", string(got.Type), string(want.Type))
	str("Name", got.Name, want.Name)
	str("Passcode", got.Passcode, want.Passcode)
	str("JWTSecret", got.JWTSecret, want.JWTSecret)
	str("StreamKey", got.StreamKey, want.StreamKey)
	if !got.ExpiredAt.Equal(want.ExpiredAt) {
		d = append(d, fmt.Sprintf("ExpiredAt = %v, want %v", got.ExpiredAt, want.ExpiredAt))
	}
	return d
}

// wantFields reports the differences fieldsDiff finds.
func wantFields(t *testing.T, what string, got, want alias.Alias) {
	t.Helper()
	if d := fieldsDiff(got, want); d != nil {
		t.Errorf("%s: %s", what, strings.Join(d, "; "))
	}
}

// wantSame reports any difference at all, times and version included.
func wantSame(t *testing.T, what string, got, want alias.Alias) {
	t.Helper()
	d := fieldsDiff(got, want)
	if !got.InsertedAt.Equal(want.InsertedAt) {
		d = append(d, fmt.Sprintf("InsertedAt = %v, want %v", got.InsertedAt, want.InsertedAt))
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		d = append(d, fmt.Sprintf("UpdatedAt = %v, want %v", got.UpdatedAt, want.UpdatedAt))
	}
	if got.Version != want.Version {
		d = append(d, fmt.Sprintf("Version = %d, want %d", got.Version, want.Version))
	}
	if d != nil {
		t.Errorf("%s: %s", what, strings.Join(d, "; "))
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func ids(aliases []alias.Alias) []string {
	out := make([]string, len(aliases))
	for i, a := range aliases {
		out[i] = a.ID
	}
	return out
}

// before is the list order: insertion time, then ID.
func before(a, b alias.Alias) bool {
	if !a.InsertedAt.Equal(b.InsertedAt) {
		return a.InsertedAt.Before(b.InsertedAt)
	}
	return a.ID < b.ID
}

// wantOrdered checks that a list is strictly in list order: a total order,
// which keyset pagination needs.
func wantOrdered(t *testing.T, what string, aliases []alias.Alias) {
	t.Helper()
	for i := 1; i < len(aliases); i++ {
		if !before(aliases[i-1], aliases[i]) {
			t.Errorf("%s: entry %d (%s, %v) does not come after entry %d (%s, %v)", what,
				i, aliases[i].ID, aliases[i].InsertedAt, i-1, aliases[i-1].ID, aliases[i-1].InsertedAt)
		}
	}
}

// parallel runs f(0) to f(n-1) at once and returns their errors.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errs
}

func testCreateAndGet(t *testing.T, s alias.Store) {
	org := newOrg(t, s)
	// IDs made by hand in SQL may use the wider alphabet of ValidID.
	byHand := liveAlias(org)
	byHand.ID = "Made_By-Hand9"
	for _, in := range []alias.Alias{fullAlias(org), liveAlias(org), byHand} {
		start := time.Now()
		created := create(t, s, in)
		wantFields(t, "CreateAlias result", created, in)
		if created.Version != 1 {
			t.Errorf("CreateAlias(%s): Version = %d, want 1", in.ID, created.Version)
		}
		// The store's clock may be another machine's: only absurd values,
		// such as seconds read as microseconds, are wrong.
		for name, at := range map[string]time.Time{"InsertedAt": created.InsertedAt, "UpdatedAt": created.UpdatedAt} {
			if d := at.Sub(start); d < -time.Hour || d > time.Hour {
				t.Errorf("CreateAlias(%s): %s = %v, not near the time of the call (%v)", in.ID, name, at, start)
			}
		}
		got := get(t, s, in.ID)
		wantSame(t, "Alias after CreateAlias", got, created)

		// A cursor carries microseconds: the store must not keep more, or
		// the entry a cursor points at would come back on the next page.
		c, ok := alias.DecodeCursor(cursorAfter(got).Encode())
		if !ok || !c.InsertedAt.Equal(got.InsertedAt) {
			t.Errorf("Alias(%s): InsertedAt %v does not survive a cursor (%v)", in.ID, got.InsertedAt, c.InsertedAt)
		}
	}

	_, err := s.Alias(t.Context(), "nosuchalias0")
	wantErr(t, "Alias of an unknown ID", err, alias.ErrNotFound)
	_, err = s.Alias(t.Context(), strings.ToLower(byHand.ID))
	wantErr(t, "Alias of an ID in another case", err, alias.ErrNotFound)
}

func testDuplicateID(t *testing.T, s alias.Store) {
	org, other := newOrg(t, s), newOrg(t, s)
	a := create(t, s, fullAlias(org))

	dup := fullAlias(other)
	dup.ID = a.ID
	_, err := s.CreateAlias(t.Context(), dup)
	wantErr(t, "CreateAlias with a taken ID (other organization)", err, alias.ErrIDTaken)
	dup.OrgID = org.ID
	_, err = s.CreateAlias(t.Context(), dup)
	wantErr(t, "CreateAlias with a taken ID (same organization)", err, alias.ErrIDTaken)
	wantSame(t, "alias whose ID was reused", get(t, s, a.ID), a)

	// The failed inserts left their stream key free.
	dup.ID = alias.NewID()
	create(t, s, dup)

	// Both taken: either error is right, but it must be one of them.
	both := fullAlias(org)
	both.ID, both.StreamKey = a.ID, a.StreamKey
	_, err = s.CreateAlias(t.Context(), both)
	if !errors.Is(err, alias.ErrIDTaken) && !errors.Is(err, alias.ErrStreamKeyTaken) {
		t.Errorf("CreateAlias with a taken ID and stream key: error %v, want ErrIDTaken or ErrStreamKeyTaken", err)
	}
}

func testAliasByStreamKey(t *testing.T, s alias.Store) {
	ctx := t.Context()
	a := create(t, s, fullAlias(newOrg(t, s)))
	got, err := s.AliasByStreamKey(ctx, a.StreamKey)
	if err != nil {
		t.Fatalf("AliasByStreamKey: %v", err)
	}
	wantSame(t, "AliasByStreamKey", got, a)
	_, err = s.AliasByStreamKey(ctx, streamKey())
	wantErr(t, "AliasByStreamKey of an unknown key", err, alias.ErrNotFound)
	_, err = s.AliasByStreamKey(ctx, "")
	wantErr(t, "AliasByStreamKey of no key", err, alias.ErrNotFound)
}

func testStreamKeyTaken(t *testing.T, s alias.Store) {
	ctx := t.Context()
	org, other := newOrg(t, s), newOrg(t, s)
	a := create(t, s, fullAlias(org))
	b := create(t, s, fullAlias(other))

	// Unique across all organizations: a media server knows only the key.
	taken := fullAlias(other)
	taken.StreamKey = a.StreamKey
	_, err := s.CreateAlias(ctx, taken)
	wantErr(t, "CreateAlias with another's stream key", err, alias.ErrStreamKeyTaken)
	if _, err := s.Alias(ctx, taken.ID); !errors.Is(err, alias.ErrNotFound) {
		t.Errorf("Alias of the refused create: error %v, want ErrNotFound", err)
	}
	taken.StreamKey = streamKey()
	create(t, s, taken) // the refused create left its ID free

	_, err = s.UpdateAlias(ctx, other.ID, b.ID, alias.Patch{
		Name:      alias.Field{Set: true, Value: "renamed"},
		StreamKey: alias.Field{Set: true, Value: a.StreamKey},
	})
	wantErr(t, "UpdateAlias to another's stream key", err, alias.ErrStreamKeyTaken)
	wantSame(t, "alias after the refused update", get(t, s, b.ID), b)

	// An alias keeps its own key without colliding with itself.
	same := update(t, s, org.ID, a.ID, alias.Patch{StreamKey: alias.Field{Set: true, Value: a.StreamKey}})
	wantSame(t, "UpdateAlias to its own stream key", same, a)

	// Unset keys never collide, and a cleared key is free again.
	create(t, s, liveAlias(org))
	create(t, s, liveAlias(org))
	update(t, s, org.ID, a.ID, alias.Patch{StreamKey: alias.Field{Set: true}})
	reuse := liveAlias(other)
	reuse.StreamKey = a.StreamKey
	create(t, s, reuse)
	update(t, s, other.ID, b.ID, alias.Patch{StreamKey: alias.Field{Set: true}})
	update(t, s, org.ID, a.ID, alias.Patch{StreamKey: alias.Field{Set: true, Value: b.StreamKey}})
}

func testUpdatePartial(t *testing.T, s alias.Store) {
	org := newOrg(t, s)
	conference, live := alias.TypeConference, alias.TypeLive
	later := expiry().Add(48 * time.Hour)
	patches := []struct {
		name string
		p    alias.Patch
	}{
		{"name", alias.Patch{Name: alias.Field{Set: true, Value: "Renamed"}}},
		{"type", alias.Patch{Type: &live}},
		{"passcode", alias.Patch{Passcode: alias.Field{Set: true, Value: "new-passcode"}}},
		{"jwt_secret", alias.Patch{JWTSecret: alias.Field{Set: true, Value: strings.Repeat("k", 40)}}},
		{"stream_key", alias.Patch{StreamKey: alias.Field{Set: true, Value: streamKey()}}},
		{"expired_at", alias.Patch{ExpiredAt: &later}},
		{"everything", alias.Patch{
			Type:      &conference,
			Name:      alias.Field{Set: true, Value: "All new"},
			Passcode:  alias.Field{Set: true, Value: "0000"},
			JWTSecret: alias.Field{Set: true, Value: strings.Repeat("j", 32)},
			StreamKey: alias.Field{Set: true, Value: streamKey()},
			ExpiredAt: &later,
		}},
	}
	cur := create(t, s, fullAlias(org))
	first := cur
	for _, tt := range patches {
		want := tt.p.Apply(cur)
		got := update(t, s, org.ID, cur.ID, tt.p)
		wantFields(t, "UpdateAlias("+tt.name+")", got, want)
		if got.Version != cur.Version+1 {
			t.Errorf("UpdateAlias(%s): Version = %d, want %d", tt.name, got.Version, cur.Version+1)
		}
		if !got.InsertedAt.Equal(first.InsertedAt) {
			t.Errorf("UpdateAlias(%s): InsertedAt = %v, want %v as created", tt.name, got.InsertedAt, first.InsertedAt)
		}
		if !got.UpdatedAt.After(cur.UpdatedAt) {
			t.Errorf("UpdateAlias(%s): UpdatedAt = %v, not after %v", tt.name, got.UpdatedAt, cur.UpdatedAt)
		}
		wantSame(t, "Alias after UpdateAlias("+tt.name+")", get(t, s, cur.ID), got)
		cur = got
	}
}

func testUpdateClears(t *testing.T, s alias.Store) {
	org := newOrg(t, s)
	a := create(t, s, fullAlias(org))
	clear := alias.Field{Set: true}
	for _, tt := range []struct {
		name string
		p    alias.Patch
	}{
		{"name", alias.Patch{Name: clear}},
		{"passcode", alias.Patch{Passcode: clear}},
		{"jwt_secret", alias.Patch{JWTSecret: clear}},
		{"stream_key", alias.Patch{StreamKey: clear}},
	} {
		want := tt.p.Apply(a)
		got := update(t, s, org.ID, a.ID, tt.p)
		wantFields(t, "UpdateAlias clearing "+tt.name, got, want)
		if got.Version != a.Version+1 {
			t.Errorf("UpdateAlias clearing %s: Version = %d, want %d", tt.name, got.Version, a.Version+1)
		}
		wantSame(t, "Alias after clearing "+tt.name, get(t, s, a.ID), got)
		a = got
	}
	if !a.Public() {
		t.Errorf("alias with passcode and secret cleared is not public: %+v", a)
	}
}

func testUpdateNoChange(t *testing.T, s alias.Store) {
	org := newOrg(t, s)
	full := create(t, s, fullAlias(org))
	bare := create(t, s, liveAlias(org))
	typ, exp := full.Type, full.ExpiredAt.Local()
	for _, tt := range []struct {
		name string
		a    alias.Alias
		p    alias.Patch
	}{
		{"empty patch", full, alias.Patch{}},
		{"every field to its value", full, alias.Patch{
			Type:      &typ,
			Name:      alias.Field{Set: true, Value: full.Name},
			Passcode:  alias.Field{Set: true, Value: full.Passcode},
			JWTSecret: alias.Field{Set: true, Value: full.JWTSecret},
			StreamKey: alias.Field{Set: true, Value: full.StreamKey},
			ExpiredAt: &exp,
		}},
		{"clearing unset fields", bare, alias.Patch{
			Name:      alias.Field{Set: true},
			Passcode:  alias.Field{Set: true},
			JWTSecret: alias.Field{Set: true},
			StreamKey: alias.Field{Set: true},
		}},
	} {
		// The version signs session cookies: a no-op must not end them.
		got := update(t, s, org.ID, tt.a.ID, tt.p)
		wantSame(t, "UpdateAlias with "+tt.name, got, tt.a)
		wantSame(t, "Alias after UpdateAlias with "+tt.name, get(t, s, tt.a.ID), tt.a)
	}
}

func testUpdateForeign(t *testing.T, s alias.Store) {
	org, other := newOrg(t, s), newOrg(t, s)
	a := create(t, s, fullAlias(org))
	p := alias.Patch{Name: alias.Field{Set: true, Value: "stolen"}, Passcode: alias.Field{Set: true}}
	_, err := s.UpdateAlias(t.Context(), other.ID, a.ID, p)
	wantErr(t, "UpdateAlias of another organization's alias", err, alias.ErrNotFound)
	wantSame(t, "alias after another organization's update", get(t, s, a.ID), a)
	_, err = s.UpdateAlias(t.Context(), org.ID, "nosuchalias0", p)
	wantErr(t, "UpdateAlias of an unknown ID", err, alias.ErrNotFound)
}

func testDelete(t *testing.T, s alias.Store) {
	ctx := t.Context()
	org, other := newOrg(t, s), newOrg(t, s)
	a := create(t, s, fullAlias(org))
	b := create(t, s, fullAlias(org))

	wantErr(t, "DeleteAlias of another organization's alias", s.DeleteAlias(ctx, other.ID, a.ID), alias.ErrNotFound)
	wantSame(t, "alias after another organization's delete", get(t, s, a.ID), a)
	if err := s.DeleteAlias(ctx, org.ID, a.ID); err != nil {
		t.Fatalf("DeleteAlias: %v", err)
	}
	_, err := s.Alias(ctx, a.ID)
	wantErr(t, "Alias after DeleteAlias", err, alias.ErrNotFound)
	wantErr(t, "DeleteAlias twice", s.DeleteAlias(ctx, org.ID, a.ID), alias.ErrNotFound)
	wantErr(t, "DeleteAlias of an unknown ID", s.DeleteAlias(ctx, org.ID, "nosuchalias0"), alias.ErrNotFound)
	wantSame(t, "the other alias after DeleteAlias", get(t, s, b.ID), b)
	if got := ids(list(t, s, org.ID, alias.ListQuery{Limit: 10})); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("list after DeleteAlias = %v, want [%s]", got, b.ID)
	}

	// A deleted alias frees its ID and stream key, for anyone.
	again := fullAlias(other)
	again.ID, again.StreamKey = a.ID, a.StreamKey
	recreated := create(t, s, again)
	if recreated.Version != 1 {
		t.Errorf("re-created alias: Version = %d, want 1", recreated.Version)
	}
}

func testListIsolationAndOrder(t *testing.T, s alias.Store) {
	orgA, orgB, empty := newOrg(t, s), newOrg(t, s), newOrg(t, s)
	var created, createdLive []alias.Alias
	for i := range 6 {
		a := liveAlias(orgA)
		if i%2 == 1 {
			a = fullAlias(orgA)
		}
		c := create(t, s, a)
		created = append(created, c)
		if c.Type == alias.TypeLive {
			createdLive = append(createdLive, c)
		}
		create(t, s, fullAlias(orgB))
	}

	// One after another, aliases list in the order they were created.
	all := list(t, s, orgA.ID, alias.ListQuery{Limit: 100})
	if got, want := ids(all), ids(created); !slices.Equal(got, want) {
		t.Fatalf("Aliases(A) = %v, want %v", got, want)
	}
	wantOrdered(t, "Aliases(A)", all)
	for i := range all {
		wantSame(t, "list entry", all[i], created[i])
	}
	if got := list(t, s, orgB.ID, alias.ListQuery{Limit: 100}); len(got) != 6 {
		t.Errorf("Aliases(B) has %d entries, want 6", len(got))
	}

	// A JSON list must be [], not null.
	if got := list(t, s, empty.ID, alias.ListQuery{Limit: 100}); got == nil || len(got) != 0 {
		t.Errorf("Aliases of an organization without aliases = %#v, want an empty non-nil slice", got)
	}
	if got := list(t, s, "org_nosuch", alias.ListQuery{Limit: 100}); len(got) != 0 {
		t.Errorf("Aliases of an unknown organization = %v, want none", ids(got))
	}

	live := list(t, s, orgA.ID, alias.ListQuery{Type: alias.TypeLive, Limit: 100})
	if got, want := ids(live), ids(createdLive); !slices.Equal(got, want) {
		t.Errorf("Aliases(A, live) = %v, want %v", got, want)
	}
	conf := list(t, s, orgA.ID, alias.ListQuery{Type: alias.TypeConference, Limit: 100})
	for _, a := range conf {
		if a.Type != alias.TypeConference {
			t.Errorf("Aliases(A, conference) lists %s of type %s", a.ID, a.Type)
		}
	}
	if len(conf)+len(live) != len(all) {
		t.Errorf("Aliases(A): %d live + %d conference, want %d together", len(live), len(conf), len(all))
	}

	if got, want := ids(list(t, s, orgA.ID, alias.ListQuery{Limit: 4})), ids(created[:4]); !slices.Equal(got, want) {
		t.Errorf("Aliases(A, limit 4) = %v, want %v", got, want)
	}
	if got := list(t, s, orgA.ID, alias.ListQuery{Limit: 100, After: cursorAfter(all[len(all)-1])}); len(got) != 0 {
		t.Errorf("Aliases after the last entry = %v, want none", ids(got))
	}
}

// pages walks the list with the cursor the API would hand out.
func pages(t *testing.T, s alias.Store, orgID string, q alias.ListQuery) []alias.Alias {
	t.Helper()
	var all []alias.Alias
	for range 1000 {
		page := list(t, s, orgID, q)
		if len(page) > q.Limit {
			t.Fatalf("page of %d entries, limit %d", len(page), q.Limit)
		}
		all = append(all, page...)
		if len(page) < q.Limit {
			return all
		}
		q.After = cursorAfter(page[len(page)-1])
	}
	t.Fatal("the pages do not end")
	return nil
}

func testListPages(t *testing.T, s alias.Store) {
	org, other := newOrg(t, s), newOrg(t, s)
	for i := range 7 {
		a := liveAlias(org)
		if i%3 == 0 {
			a.Type = alias.TypeConference
		}
		create(t, s, a)
		create(t, s, liveAlias(other))
	}
	for _, typ := range []alias.Type{"", alias.TypeLive, alias.TypeConference} {
		whole := list(t, s, org.ID, alias.ListQuery{Type: typ, Limit: 100})
		for _, limit := range []int{1, 2, 3, 7, 8} {
			got := pages(t, s, org.ID, alias.ListQuery{Type: typ, Limit: limit})
			if !slices.Equal(ids(got), ids(whole)) {
				t.Errorf("type %q, pages of %d: %v, want %v", typ, limit, ids(got), ids(whole))
			}
		}
	}
}

func testListCursorStable(t *testing.T, s alias.Store) {
	ctx := t.Context()
	org := newOrg(t, s)
	var a []alias.Alias
	for range 6 {
		a = append(a, create(t, s, liveAlias(org)))
	}
	page1 := list(t, s, org.ID, alias.ListQuery{Limit: 3})
	if got, want := ids(page1), ids(a[:3]); !slices.Equal(got, want) {
		t.Fatalf("first page = %v, want %v", got, want)
	}
	after := cursorAfter(page1[2])

	// Between the pages: the cursor's own entry goes, so do one before it
	// and one after it, and new ones come.
	for _, gone := range []alias.Alias{a[2], a[0], a[3]} {
		if err := s.DeleteAlias(ctx, org.ID, gone.ID); err != nil {
			t.Fatal(err)
		}
	}
	n1, n2 := create(t, s, liveAlias(org)), create(t, s, liveAlias(org))

	page2 := list(t, s, org.ID, alias.ListQuery{Limit: 10, After: after})
	if got, want := ids(page2), []string{a[4].ID, a[5].ID, n1.ID, n2.ID}; !slices.Equal(got, want) {
		t.Errorf("second page after deletes and inserts = %v, want %v", got, want)
	}
}

// testListOrderIsTotal creates aliases at once, so that they may share an
// insertion time, and checks that paging one by one still sees each exactly
// once: the ID breaks ties.
func testListOrderIsTotal(t *testing.T, s alias.Store) {
	org := newOrg(t, s)
	const n = 30
	for i, err := range parallel(n, func(int) error {
		_, err := s.CreateAlias(t.Context(), liveAlias(org))
		return err
	}) {
		if err != nil {
			t.Fatalf("CreateAlias %d: %v", i, err)
		}
	}
	whole := list(t, s, org.ID, alias.ListQuery{Limit: 100})
	if len(whole) != n {
		t.Fatalf("list has %d entries, want %d", len(whole), n)
	}
	wantOrdered(t, "list", whole)
	if got := pages(t, s, org.ID, alias.ListQuery{Limit: 1}); !slices.Equal(ids(got), ids(whole)) {
		t.Errorf("pages of 1 = %v, want %v", ids(got), ids(whole))
	}

	// The cursor compares (insertion time, ID) as a pair: a position with an
	// entry's time and a prefix of its ID lies just before that entry.
	for i, e := range whole {
		at := &alias.Cursor{InsertedAt: e.InsertedAt, ID: e.ID[:len(e.ID)-1]}
		got := list(t, s, org.ID, alias.ListQuery{Limit: 1, After: at})
		if len(got) != 1 || got[0].ID != whole[i].ID {
			t.Errorf("Aliases after (%v, %q) = %v, want [%s]", at.InsertedAt, at.ID, ids(got), e.ID)
		}
	}
}

func testTokens(t *testing.T, s alias.Store) {
	ctx := t.Context()
	orgA, orgB, none := newOrg(t, s), newOrg(t, s), newOrg(t, s)
	if !strings.HasPrefix(orgA.ID, "org_") || orgA.CreatedAt.IsZero() || !strings.HasPrefix(orgA.Name, "org ") {
		t.Errorf("CreateOrg = %+v, want an org_ ID, the name and a creation time", orgA)
	}
	newToken := func(org alias.Org, name string) (alias.TokenInfo, alias.TokenHash) {
		t.Helper()
		_, h := alias.NewOrgToken()
		tok, err := s.CreateToken(ctx, org.ID, name, h)
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		if !strings.HasPrefix(tok.ID, "tok_") || tok.OrgID != org.ID || tok.Name != name || tok.CreatedAt.IsZero() || tok.RevokedAt != nil {
			t.Errorf("CreateToken(%s, %q) = %+v", org.ID, name, tok)
		}
		return tok, h
	}
	wantOrg := func(h alias.TokenHash, want string) {
		t.Helper()
		got, err := s.OrgByToken(ctx, h)
		if want == "" {
			wantErr(t, "OrgByToken", err, alias.ErrNotFound)
		} else if err != nil || got != want {
			t.Errorf("OrgByToken = %q, %v; want %q", got, err, want)
		}
	}

	tokA, hA := newToken(orgA, "ci")
	tokA2, hA2 := newToken(orgA, "")
	_, hB := newToken(orgB, "deploy")
	wantOrg(hA, orgA.ID)
	wantOrg(hA2, orgA.ID)
	wantOrg(hB, orgB.ID)
	_, unknown := alias.NewOrgToken()
	wantOrg(unknown, "")

	// Only the hash is kept, and it names one token.
	if _, err := s.CreateToken(ctx, orgB.ID, "copy", hA); err == nil {
		t.Error("CreateToken with a hash already recorded succeeded")
	}
	wantOrg(hA, orgA.ID)

	_, err := s.CreateToken(ctx, "org_nosuch", "x", unknown)
	wantErr(t, "CreateToken for an unknown organization", err, alias.ErrNotFound)
	wantOrg(unknown, "")

	revoked, err := s.RevokeToken(ctx, tokA.ID)
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if revoked.RevokedAt == nil || revoked.RevokedAt.Before(tokA.CreatedAt) ||
		revoked.ID != tokA.ID || revoked.OrgID != orgA.ID || revoked.Name != tokA.Name || !revoked.CreatedAt.Equal(tokA.CreatedAt) {
		t.Errorf("RevokeToken = %+v, want %+v with RevokedAt set", revoked, tokA)
	}
	wantOrg(hA, "")
	wantOrg(hA2, orgA.ID)
	_, err = s.RevokeToken(ctx, tokA.ID)
	wantErr(t, "RevokeToken twice", err, alias.ErrNotFound)
	_, err = s.RevokeToken(ctx, "tok_nosuch")
	wantErr(t, "RevokeToken of an unknown token", err, alias.ErrNotFound)

	tokens, err := s.Tokens(ctx, orgA.ID)
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	if len(tokens) != 2 || tokens[0].ID != tokA.ID || tokens[1].ID != tokA2.ID {
		t.Fatalf("Tokens(A) = %+v, want %s then %s", tokens, tokA.ID, tokA2.ID)
	}
	if r := tokens[0].RevokedAt; r == nil || !r.Equal(*revoked.RevokedAt) {
		t.Errorf("Tokens(A): revoked token has RevokedAt %v, want %v", r, revoked.RevokedAt)
	}
	if tokens[1].RevokedAt != nil || tokens[1].Name != "" || !tokens[1].CreatedAt.Equal(tokA2.CreatedAt) {
		t.Errorf("Tokens(A): second token = %+v, want %+v", tokens[1], tokA2)
	}
	if tokens, err := s.Tokens(ctx, none.ID); err != nil || tokens == nil || len(tokens) != 0 {
		t.Errorf("Tokens of an organization without tokens = %#v, %v; want an empty non-nil slice", tokens, err)
	}
}

func testOrgs(t *testing.T, s alias.Store) {
	ctx := t.Context()
	if orgs, err := s.Orgs(ctx); err != nil || orgs == nil || len(orgs) != 0 {
		t.Fatalf("Orgs of an empty store = %#v, %v; want an empty non-nil slice", orgs, err)
	}
	var made []alias.Org
	for _, name := range []string{"Acme", "acme", "Acme ", "Ácme", "Acme", "Globex"} {
		o, err := s.CreateOrg(ctx, name)
		if err != nil {
			t.Fatalf("CreateOrg(%q): %v", name, err)
		}
		made = append(made, o)
	}
	orgIDs := func(orgs []alias.Org) []string {
		out := make([]string, len(orgs))
		for i, o := range orgs {
			out[i] = o.ID
		}
		return out
	}
	wantOrgs := func(what string, got []alias.Org, err error, want ...alias.Org) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got == nil || !slices.Equal(orgIDs(got), orgIDs(want)) {
			t.Fatalf("%s = %v, want %v (oldest first)", what, orgIDs(got), orgIDs(want))
		}
		for i := range got {
			if got[i].Name != want[i].Name || !got[i].CreatedAt.Equal(want[i].CreatedAt) {
				t.Errorf("%s: entry %d = %+v, want %+v", what, i, got[i], want[i])
			}
		}
	}

	all, err := s.Orgs(ctx)
	wantOrgs("Orgs", all, err, made...)
	// Names match exactly: case, accents and spaces count.
	acme, err := s.OrgsByName(ctx, "Acme")
	wantOrgs(`OrgsByName("Acme")`, acme, err, made[0], made[4])
	lower, err := s.OrgsByName(ctx, "acme")
	wantOrgs(`OrgsByName("acme")`, lower, err, made[1])
	spaced, err := s.OrgsByName(ctx, "Acme ")
	wantOrgs(`OrgsByName("Acme ")`, spaced, err, made[2])
	none, err := s.OrgsByName(ctx, "Initech")
	wantOrgs(`OrgsByName("Initech")`, none, err)

	for _, want := range made {
		got, err := s.Org(ctx, want.ID)
		if err != nil || got.ID != want.ID || got.Name != want.Name || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("Org(%s) = %+v, %v; want %+v", want.ID, got, err, want)
		}
	}
	_, err = s.Org(ctx, "org_nosuch")
	wantErr(t, "Org of an unknown ID", err, alias.ErrNotFound)
}

func testSessionKey(t *testing.T, s alias.Store, open func(t *testing.T) alias.Store) {
	// Nodes starting together race to create the key; all get the winner's.
	keys := make([][]byte, 8)
	for i, err := range parallel(len(keys), func(i int) (err error) {
		keys[i], err = s.SessionKey(t.Context())
		return err
	}) {
		if err != nil {
			t.Fatalf("SessionKey %d: %v", i, err)
		}
	}
	again, err := s.SessionKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	keys = append(keys, again)
	if len(keys[0]) != 32 || bytes.Equal(keys[0], make([]byte, 32)) {
		t.Fatalf("SessionKey = %x, want 32 random bytes", keys[0])
	}
	for i, k := range keys {
		if !bytes.Equal(k, keys[0]) {
			t.Errorf("SessionKey call %d = %x, want %x as the first", i, k, keys[0])
		}
	}
	otherKey, err := open(t).SessionKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(otherKey, keys[0]) {
		t.Error("two databases have the same session key")
	}
}

func testMigrateAgain(t *testing.T, s alias.Store) {
	org := newOrg(t, s)
	a := create(t, s, fullAlias(org))
	key, err := s.SessionKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if applied, err := s.ApplyMigrations(t.Context()); err != nil || len(applied) != 0 {
		t.Errorf("ApplyMigrations on an up-to-date store = %q, %v; want nothing applied", applied, err)
	}
	for i, err := range parallel(4, func(int) error { return s.Migrate(t.Context()) }) {
		if err != nil {
			t.Errorf("concurrent Migrate %d: %v", i, err)
		}
	}
	wantSame(t, "alias after Migrate", get(t, s, a.ID), a)
	if k, err := s.SessionKey(t.Context()); err != nil || !bytes.Equal(k, key) {
		t.Errorf("SessionKey after Migrate = %x, %v; want %x", k, err, key)
	}
}

func testParallelCreates(t *testing.T, s alias.Store) {
	org := newOrg(t, s)
	const n = 50
	want := make([]string, n)
	for i, err := range parallel(n, func(i int) error {
		a := fullAlias(org)
		want[i] = a.ID
		_, err := s.CreateAlias(t.Context(), a)
		return err
	}) {
		if err != nil {
			t.Errorf("CreateAlias %d of %d in parallel: %v", i, n, err)
		}
	}
	got := ids(list(t, s, org.ID, alias.ListQuery{Limit: 2 * n}))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after %d parallel creates the list has %d entries: %v", n, len(got), got)
	}
}

// testParallelUpdates changes one alias from many callers at once: every
// change must count, none may be lost to another.
func testParallelUpdates(t *testing.T, s alias.Store) {
	org := newOrg(t, s)
	a := create(t, s, liveAlias(org))
	const n = 20
	for i, err := range parallel(n, func(i int) error {
		_, err := s.UpdateAlias(t.Context(), org.ID, a.ID, alias.Patch{Name: alias.Field{Set: true, Value: fmt.Sprint("name ", i)}})
		return err
	}) {
		if err != nil {
			t.Errorf("UpdateAlias %d of %d in parallel: %v", i, n, err)
		}
	}
	if got := get(t, s, a.ID); got.Version != 1+n {
		t.Errorf("after %d parallel updates Version = %d, want %d", n, got.Version, 1+n)
	}
}

// testAuthEpoch: the credential epoch moves when the passcode or the JWT
// secret changes, and only then; the stream key has an epoch of its own.
func testAuthEpoch(t *testing.T, s alias.Store) {
	ctx := t.Context()
	org := newOrg(t, s)
	a := create(t, s, fullAlias(org))
	epoch := a.AuthEpoch
	for _, tc := range []struct {
		name  string
		patch alias.Patch
		moves bool
	}{
		{"rename", alias.Patch{Name: alias.Field{Set: true, Value: "renamed"}}, false},
		{"new expiry", alias.Patch{ExpiredAt: ptr(expiry().Add(time.Hour))}, false},
		{"new passcode", alias.Patch{Passcode: alias.Field{Set: true, Value: "another-passcode"}}, true},
		{"new secret", alias.Patch{JWTSecret: alias.Field{Set: true, Value: strings.Repeat("n", 32)}}, true},
		{"new stream key", alias.Patch{StreamKey: alias.Field{Set: true, Value: streamKey()}}, false},
		{"cleared passcode", alias.Patch{Passcode: alias.Field{Set: true}}, true},
		{"nothing", alias.Patch{}, false},
	} {
		got, err := s.UpdateAlias(ctx, org.ID, a.ID, tc.patch)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if moved := got.AuthEpoch != epoch; moved != tc.moves {
			t.Errorf("%s: epoch %d -> %d, want moved %v", tc.name, epoch, got.AuthEpoch, tc.moves)
		}
		if got.Previous != nil {
			t.Errorf("%s: a grace period without asking: %+v", tc.name, *got.Previous)
		}
		if keyMoved := got.KeyEpoch() != a.KeyEpoch(); keyMoved != (got.StreamKey != a.StreamKey) {
			t.Errorf("%s: the stream key's epoch moved %v, its key changed %v", tc.name, keyMoved, got.StreamKey != a.StreamKey)
		}
		epoch, a = got.AuthEpoch, got
	}
}

func ptr[T any](v T) *T { return &v }

// testSecretGrace: a new JWT secret with a grace period keeps the old one
// and its epoch until the grace ends; a later change of what opens the
// alias ends the grace at once.
func testSecretGrace(t *testing.T, s alias.Store) {
	ctx := t.Context()
	org := newOrg(t, s)
	a := create(t, s, fullAlias(org))
	before := time.Now()
	got, err := s.UpdateAlias(ctx, org.ID, a.ID, alias.Patch{
		JWTSecret: alias.Field{Set: true, Value: strings.Repeat("n", 32)}, JWTSecretGrace: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Previous; p == nil || p.JWTSecret != a.JWTSecret || p.Epoch != a.AuthEpoch || got.AuthEpoch != a.AuthEpoch+1 {
		t.Fatalf("after a rotation with grace: %+v (previous %+v), want the old secret and epoch %d kept", got, p, a.AuthEpoch)
	}
	if until := got.Previous.Until; until.Before(before.Add(10*time.Minute-time.Second)) || until.After(time.Now().Add(10*time.Minute+time.Second)) {
		t.Errorf("grace until %v, want 10 minutes from the update", until)
	}
	if p := get(t, s, a.ID).Previous; p == nil || p.JWTSecret != a.JWTSecret || !p.Until.Equal(got.Previous.Until) || p.Epoch != a.AuthEpoch {
		t.Errorf("the grace read back: %+v", p)
	}
	if !got.InGrace(time.Now()) || !got.EpochValid(alias.RoleViewer, a.AuthEpoch, time.Now()) || got.EpochValid(alias.RoleViewer, a.AuthEpoch, time.Now().Add(11*time.Minute)) {
		t.Errorf("the previous epoch's validity is wrong: %+v", got)
	}
	got, err = s.UpdateAlias(ctx, org.ID, a.ID, alias.Patch{Passcode: alias.Field{Set: true, Value: "a-new-passcode"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Previous != nil || got.InGrace(time.Now()) {
		t.Errorf("a new passcode kept the grace: %+v", got)
	}
}

// testRevocations: revocations are kept per alias, read with it, merged
// when repeated, never shown past their expiry, and gone with the alias.
func testRevocations(t *testing.T, s alias.Store) {
	ctx := t.Context()
	org, other := newOrg(t, s), newOrg(t, s)
	a := create(t, s, fullAlias(org))
	later := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	revoke := func(r alias.Revocation) []alias.Revocation {
		t.Helper()
		in, err := s.Revoke(ctx, org.ID, a.ID, r, alias.MaxRevocations)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	revoke(alias.Revocation{Kind: alias.RevokeUser, Value: "u1", ExpiresAt: later})
	revoke(alias.Revocation{Kind: alias.RevokeJTI, Value: "token-7", ExpiresAt: later})
	revoke(alias.Revocation{Kind: alias.RevokeBefore, Before: time.Now().Add(-time.Minute).Truncate(time.Second), ExpiresAt: later})
	revoke(alias.Revocation{Kind: alias.RevokeUser, Value: "u1", ExpiresAt: later.Add(time.Hour)})
	in := revoke(alias.Revocation{Kind: alias.RevokeBefore, Before: time.Now().Truncate(time.Second), ExpiresAt: later})
	if len(in) != 3 {
		t.Fatalf("%d revocations in force, want 3 (user, jti, before): %+v", len(in), in)
	}
	for _, r := range in {
		switch r.Kind {
		case alias.RevokeUser:
			if r.Value != "u1" || !r.ExpiresAt.Equal(later.Add(time.Hour)) {
				t.Errorf("the user's revocation did not keep the later expiry: %+v", r)
			}
		case alias.RevokeBefore:
			if r.Before.Before(time.Now().Add(-30 * time.Second)) {
				t.Errorf("the revocation before a moment did not keep the later moment: %+v", r)
			}
		}
	}
	// What a node reads with the alias is what was revoked, to the moment.
	if got := get(t, s, a.ID); !sameRevocations(got.Revocations, in) {
		t.Errorf("Alias carries revocations %+v, want %+v", got.Revocations, in)
	}
	if got, err := s.AliasByStreamKey(ctx, a.StreamKey); err != nil || !sameRevocations(got.Revocations, in) {
		t.Errorf("AliasByStreamKey carries revocations %+v (%v), want %+v", got.Revocations, err, in)
	}
	listed, err := s.Revocations(ctx, org.ID, a.ID)
	if err != nil || len(listed) != 3 {
		t.Errorf("Revocations = %d, %v; want 3", len(listed), err)
	}
	// Expired ones are neither shown nor kept.
	revoke(alias.Revocation{Kind: alias.RevokeJTI, Value: "gone", ExpiresAt: time.Now().Add(-time.Second)})
	if listed, _ := s.Revocations(ctx, org.ID, a.ID); len(listed) != 3 {
		t.Errorf("an expired revocation is shown: %+v", listed)
	}
	if n, err := s.RevocationsInForce(ctx); err != nil || n != 3 {
		t.Errorf("RevocationsInForce = %d, %v; want 3", n, err)
	}
	if _, err := s.Revoke(ctx, other.ID, a.ID, alias.Revocation{Kind: alias.RevokeUser, Value: "x", ExpiresAt: later}, alias.MaxRevocations); !errors.Is(err, alias.ErrNotFound) {
		t.Errorf("revoking on another organization's alias: %v, want ErrNotFound", err)
	}
	if _, err := s.Revocations(ctx, other.ID, a.ID); !errors.Is(err, alias.ErrNotFound) {
		t.Errorf("listing another organization's revocations: %v, want ErrNotFound", err)
	}
	if err := s.DeleteAlias(ctx, org.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	b := fullAlias(org)
	b.ID = a.ID
	create(t, s, b)
	if got := get(t, s, a.ID); len(got.Revocations) != 0 {
		t.Errorf("a new alias of a deleted one's ID inherits %d revocations", len(got.Revocations))
	}
}

// testRevocationsBounded: no more than the limit are kept per alias, also
// under concurrent revocations, though repeating one already kept still
// works.
func testRevocationsBounded(t *testing.T, s alias.Store) {
	const limit = 40
	ctx := t.Context()
	org := newOrg(t, s)
	a := create(t, s, fullAlias(org))
	later := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, limit)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < limit; i += 8 {
				if _, err := s.Revoke(ctx, org.ID, a.ID, alias.Revocation{Kind: alias.RevokeUser, Value: "u" + strconv.Itoa(i), ExpiresAt: later}, limit); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, org.ID, a.ID, alias.Revocation{Kind: alias.RevokeUser, Value: "one-too-many", ExpiresAt: later}, limit); !errors.Is(err, alias.ErrTooManyRevocations) {
		t.Errorf("revocation %d: %v, want ErrTooManyRevocations", limit+1, err)
	}
	if in, err := s.Revoke(ctx, org.ID, a.ID, alias.Revocation{Kind: alias.RevokeBefore, Before: time.Now().Truncate(time.Second), ExpiresAt: later}, limit); err != nil || len(in) != limit+1 {
		t.Errorf("a revocation before a moment at the limit: %d in force, %v; want it kept, as the way to re-key", len(in), err)
	}
	if _, err := s.Revoke(ctx, org.ID, a.ID, alias.Revocation{Kind: alias.RevokeUser, Value: "u7", ExpiresAt: later.Add(time.Hour)}, limit); err != nil {
		t.Errorf("repeating a kept revocation at the bound: %v", err)
	}
}

// sameRevocations reports whether a and b hold the same revocations, in
// the same order, at the same instants.
func sameRevocations(a, b []alias.Revocation) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Kind != y.Kind || x.Value != y.Value || !x.Before.Equal(y.Before) ||
			!x.CreatedAt.Equal(y.CreatedAt) || !x.ExpiresAt.Equal(y.ExpiresAt) {
			return false
		}
	}
	return true
}

// MigrationFiles are the names of the migration files in dir (a store's
// migrations), in the order of their numbers.
func MigrationFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	if len(files) == 0 {
		t.Fatal("no migration files in " + dir)
	}
	return files
}

// AppliesMigrations checks a store that no migration has touched: the
// first call applies every file of dir (the store's migrations), in the
// order of their numbers; a second call, none.
func AppliesMigrations(t *testing.T, s alias.Store, dir string) {
	t.Helper()
	files := MigrationFiles(t, dir)
	applied, err := s.ApplyMigrations(t.Context())
	if err != nil || !slices.Equal(applied, files) {
		t.Fatalf("ApplyMigrations on a new store = %q, %v; want %q", applied, err, files)
	}
	applied, err = s.ApplyMigrations(t.Context())
	if err != nil || applied == nil || len(applied) != 0 {
		t.Fatalf("ApplyMigrations again = %#v, %v; want an empty list", applied, err)
	}
}
