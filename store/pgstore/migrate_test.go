package pgstore_test

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/store/pgstore"
)

// TestAliasIDsCompareBytewise: list pages order by ID after insertion
// time; the order must not depend on the database's locale, so that it is
// the embedded store's too.
func TestAliasIDsCompareBytewise(t *testing.T) {
	s, err := pgstore.Open(pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var collation string
	if err := s.Pool().QueryRow(ctx, `SELECT coalesce(collation_name, '') FROM information_schema.columns
		WHERE table_name = 'aliases' AND column_name = 'id'`).Scan(&collation); err != nil {
		t.Fatal(err)
	}
	if collation != "C" {
		t.Fatalf("aliases.id has collation %q, want C", collation)
	}
}

// TestApplyMigrationsTellsWhatItApplied: a new database gets every
// migration file, in the order of their numbers; a second call, none.
func TestApplyMigrationsTellsWhatItApplied(t *testing.T) {
	s, err := pgstore.Open(pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	if len(files) == 0 {
		t.Fatal("no migration files")
	}
	applied, err := s.ApplyMigrations(t.Context())
	if err != nil || !slices.Equal(applied, files) {
		t.Fatalf("ApplyMigrations on a new database = %q, %v; want %q", applied, err, files)
	}
	applied, err = s.ApplyMigrations(t.Context())
	if err != nil || applied == nil || len(applied) != 0 {
		t.Fatalf("ApplyMigrations again = %#v, %v; want an empty list", applied, err)
	}
}
