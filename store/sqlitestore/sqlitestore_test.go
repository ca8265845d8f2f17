package sqlitestore_test

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/store/sqlitestore"
	"github.com/linkgate/linkgate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) alias.Store {
		return open(t, filepath.Join(t.TempDir(), "linkgate.db"))
	})
}

// open opens and migrates the store at path, and closes it after the test.
func open(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// byHand opens the file as an operator with the sqlite3 shell would: a
// connection of its own, outside the store.
func byHand(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func newOrg(t *testing.T, s alias.Store) alias.Org {
	t.Helper()
	o, err := s.CreateOrg(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func newAlias(t *testing.T, s alias.Store, org alias.Org) alias.Alias {
	t.Helper()
	a, err := s.CreateAlias(t.Context(), alias.Alias{
		ID:        alias.NewID(),
		OrgID:     org.ID,
		Type:      alias.TypeLive,
		Passcode:  "1234",
		StreamKey: "sk_" + alias.NewID() + alias.NewID(),
		ExpiredAt: time.Now().Add(time.Hour).Truncate(time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), got, want)
	}
}

func TestOpenMakesPrivateFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "linkgate", "linkgate.db")
	s := open(t, path)
	newAlias(t, s, newOrg(t, s))

	wantMode(t, filepath.Join(dir, "data"), 0o700)
	wantMode(t, filepath.Join(dir, "data", "linkgate"), 0o700)
	// The write-ahead log and its index exist while the store is open and
	// hold the same secrets as the file.
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		wantMode(t, f, 0o600)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	notADB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notADB, bytes.Repeat([]byte("not an SQLite database\n"), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"", notADB, filepath.Join(blocker, "linkgate.db"), dir} {
		if s, err := sqlitestore.Open(path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// TestApplyMigrationsTellsWhatItApplied: a new file gets every migration
// file, in the order of their numbers; a second call, none.
func TestApplyMigrationsTellsWhatItApplied(t *testing.T) {
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "linkgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.AppliesMigrations(t, s, "migrations")
}

func TestWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "linkgate.db")
	open(t, path)
	var mode string
	if err := byHand(t, path).QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?name#1%.db")
	s := open(t, path)
	newOrg(t, s)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the path given: %v", err)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "linkgate.db")
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	org := newOrg(t, s)
	a := newAlias(t, s, org)
	_, hash := alias.NewOrgToken()
	tok, err := s.CreateToken(ctx, org.ID, "ci", hash)
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.SessionKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	got, err := s.Alias(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("after reopening Alias = %+v, want %+v", got, a)
	}
	if orgID, err := s.OrgByToken(ctx, hash); err != nil || orgID != org.ID {
		t.Errorf("after reopening OrgByToken = %q, %v; want %q", orgID, err, org.ID)
	}
	if tokens, err := s.Tokens(ctx, org.ID); err != nil || len(tokens) != 1 || tokens[0].ID != tok.ID || tokens[0].CreatedAt != tok.CreatedAt {
		t.Errorf("after reopening Tokens = %+v, %v; want [%+v]", tokens, err, tok)
	}
	if k, err := s.SessionKey(ctx); err != nil || !bytes.Equal(k, key) {
		t.Errorf("after reopening SessionKey = %x, %v; want %x", k, err, key)
	}
}

func TestTimesAreUTC(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "linkgate.db"))
	org := newOrg(t, s)
	a := newAlias(t, s, org)
	_, hash := alias.NewOrgToken()
	tok, err := s.CreateToken(ctx, org.ID, "", hash)
	if err != nil {
		t.Fatal(err)
	}
	tok, err = s.RevokeToken(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	for name, at := range map[string]time.Time{
		"ExpiredAt": a.ExpiredAt, "InsertedAt": a.InsertedAt, "UpdatedAt": a.UpdatedAt,
		"org CreatedAt": org.CreatedAt, "token CreatedAt": tok.CreatedAt, "token RevokedAt": *tok.RevokedAt,
	} {
		if at.Location() != time.UTC {
			t.Errorf("%s is in %v, want UTC", name, at.Location())
		}
	}
}

// TestTwoStoresOnOneFile plays two processes on one file: Caddy and the
// "caddy linkgate" CLI, or two Caddy instances on one host.
func TestTwoStoresOnOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "linkgate.db")
	stores := make([]*sqlitestore.Store, 2)
	for i := range stores {
		s, err := sqlitestore.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)+2*n)
	for _, s := range stores {
		wg.Go(func() { errs <- s.Migrate(ctx) })
	}
	wg.Wait()
	org := newOrg(t, stores[0])

	// Writers on both sides, readers alongside them.
	created := make([]string, n)
	for i := range n {
		wg.Go(func() {
			a, err := stores[i%2].CreateAlias(ctx, alias.Alias{
				ID: alias.NewID(), OrgID: org.ID, Type: alias.TypeLive, ExpiredAt: time.Now().Add(time.Hour),
			})
			created[i] = a.ID
			errs <- err
		})
		wg.Go(func() {
			_, err := stores[(i+1)%2].Aliases(ctx, org.ID, alias.ListQuery{Limit: 10})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("%v", err) // "database is locked" would land here
		}
	}
	slices.Sort(created)
	for i, s := range stores {
		list, err := s.Aliases(ctx, org.ID, alias.ListQuery{Limit: 2 * n})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]string, len(list))
		for j, a := range list {
			got[j] = a.ID
		}
		slices.Sort(got)
		if !slices.Equal(got, created) {
			t.Errorf("store %d lists %d aliases, want the %d created", i, len(got), n)
		}
	}

	k0, err0 := stores[0].SessionKey(ctx)
	k1, err1 := stores[1].SessionKey(ctx)
	if err := errors.Join(err0, err1); err != nil || !bytes.Equal(k0, k1) {
		t.Errorf("SessionKey of the two stores: %x and %x (%v), want the same", k0, k1, err)
	}
}

type versionRow struct {
	name      sql.NullString
	version   int64
	updatedAt int64
}

func readVersion(t *testing.T, db *sql.DB, id string) versionRow {
	t.Helper()
	var r versionRow
	if err := db.QueryRowContext(t.Context(), "SELECT name, version, updated_at FROM aliases WHERE id = ?", id).
		Scan(&r.name, &r.version, &r.updatedAt); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVersionTriggerByHand: a change made in SQL ends sessions as one made
// through the API does, and the version cannot be set by hand.
func TestVersionTriggerByHand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "linkgate.db")
	s := open(t, path)
	a := newAlias(t, s, newOrg(t, s))
	db := byHand(t, path)
	v1 := readVersion(t, db, a.ID)

	exec(t, db, "UPDATE aliases SET name = 'by hand' WHERE id = ?", a.ID)
	v2 := readVersion(t, db, a.ID)
	if v2.version != v1.version+1 || v2.updatedAt <= v1.updatedAt {
		t.Errorf("after a change by hand: %+v, want version %d and a later updated_at than %+v", v2, v1.version+1, v1)
	}

	for _, q := range []string{
		"UPDATE aliases SET name = 'by hand' WHERE id = ?",
		"UPDATE aliases SET version = 99 WHERE id = ?",
		"UPDATE aliases SET version = version - 1 WHERE id = ?",
		"UPDATE aliases SET stream_key = stream_key, expired_at = expired_at WHERE id = ?",
	} {
		exec(t, db, q, a.ID)
		if got := readVersion(t, db, a.ID); got != v2 {
			t.Errorf("%s: %+v, want %+v unchanged", q, got, v2)
		}
	}

	exec(t, db, "UPDATE aliases SET version = 99, passcode = NULL WHERE id = ?", a.ID)
	if got := readVersion(t, db, a.ID); got.version != v2.version+1 {
		t.Errorf("after a change by hand that also sets the version: version %d, want %d", got.version, v2.version+1)
	}
	got, err := s.Alias(t.Context(), a.ID)
	if err != nil || got.Name != "by hand" || got.Passcode != "" || got.Version != v2.version+1 {
		t.Errorf("Alias after changes by hand = %+v, %v", got, err)
	}
}

// TestSchemaByHand checks the constraints that guard rows written in SQL.
func TestSchemaByHand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "linkgate.db")
	s := open(t, path)
	org := newOrg(t, s)
	db := byHand(t, path)
	const insert = "INSERT INTO aliases (id, org_id, type, expired_at) VALUES (?, ?, ?, ?)"
	exp := time.Now().Add(time.Hour).UnixMicro()
	for _, tt := range []struct {
		name string
		args []any
	}{
		{"empty id", []any{"", org.ID, "live", exp}},
		{"65-character id", []any{strings.Repeat("a", 65), org.ID, "live", exp}},
		{"id with a dot", []any{"a.b", org.ID, "live", exp}},
		{"id with a space", []any{"a b", org.ID, "live", exp}},
		{"id with a caret", []any{"a^b", org.ID, "live", exp}},
		{"NULL id", []any{nil, org.ID, "live", exp}},
		{"unknown type", []any{"goodid", org.ID, "radio", exp}},
		{"unknown organization", []any{"goodid", "org_nosuch", "live", exp}},
		{"expiry as text", []any{"goodid", org.ID, "live", "tomorrow"}},
		{"no expiry", []any{"goodid", org.ID, "live", nil}},
	} {
		if _, err := db.ExecContext(t.Context(), insert, tt.args...); err == nil {
			t.Errorf("insert with %s succeeded", tt.name)
		}
	}

	// A row inserted by hand gets the defaults and is an alias like another.
	id := "Hand_Made-" + strings.Repeat("x", 54)
	exec(t, db, insert, id, org.ID, "conference", exp)
	a, err := s.Alias(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != 1 || time.Since(a.InsertedAt).Abs() > time.Minute || !a.UpdatedAt.Equal(a.InsertedAt) || a.ExpiredAt.UnixMicro() != exp {
		t.Errorf("alias inserted by hand = %+v", a)
	}
}

func TestDeletingAnOrganizationCascades(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "linkgate.db")
	s := open(t, path)
	org, other := newOrg(t, s), newOrg(t, s)
	a, kept := newAlias(t, s, org), newAlias(t, s, other)
	_, hash := alias.NewOrgToken()
	if _, err := s.CreateToken(ctx, org.ID, "", hash); err != nil {
		t.Fatal(err)
	}
	exec(t, byHand(t, path), "DELETE FROM organizations WHERE id = ?", org.ID)
	if _, err := s.Alias(ctx, a.ID); !errors.Is(err, alias.ErrNotFound) {
		t.Errorf("alias of a deleted organization: %v, want ErrNotFound", err)
	}
	if _, err := s.OrgByToken(ctx, hash); !errors.Is(err, alias.ErrNotFound) {
		t.Errorf("token of a deleted organization: %v, want ErrNotFound", err)
	}
	if _, err := s.Alias(ctx, kept.ID); err != nil {
		t.Errorf("another organization's alias: %v", err)
	}
}

// TestEqualInsertionTimes pages through aliases that share an insertion
// time, which the conformance suite can only hope to produce.
func TestEqualInsertionTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "linkgate.db")
	s := open(t, path)
	org := newOrg(t, s)
	db := byHand(t, path)
	at := time.Now().UnixMicro()
	want := []string{"tie0", "tie1", "tie2", "tie3"}
	for _, id := range []string{"tie2", "tie0", "tie3", "tie1"} {
		exec(t, db, "INSERT INTO aliases (id, org_id, type, expired_at, inserted_at, updated_at) VALUES (?, ?, 'live', ?, ?, ?)",
			id, org.ID, at+3600e6, at, at)
	}
	var got []string
	q := alias.ListQuery{Limit: 1}
	for range len(want) + 1 {
		page, err := s.Aliases(t.Context(), org.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page[0].ID)
		q.After = &alias.Cursor{InsertedAt: page[0].InsertedAt, ID: page[0].ID}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages of one over equal insertion times: %v, want %v", got, want)
	}
}

// TestDataVersionSeesOtherWriters is what lets a SQLite node notice changes
// made by the linkgate commands or another process on the same file.
func TestDataVersionSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "linkgate.db")
	node, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	cli, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := t.Context()
	if err := node.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := node.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := node.DataVersion(ctx); again != before {
		t.Fatalf("data_version moved from %d to %d with no write", before, again)
	}
	if _, err := cli.CreateOrg(ctx, "from another process"); err != nil {
		t.Fatal(err)
	}
	after, err := node.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatal("a commit by another connection left data_version unchanged")
	}
	if _, err := node.CreateOrg(ctx, "from this process"); err != nil {
		t.Fatal(err)
	}
	if own, _ := node.DataVersion(ctx); own == after {
		t.Fatal("a commit by the store's own writer left data_version unchanged")
	}
}
