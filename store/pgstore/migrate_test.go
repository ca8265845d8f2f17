package pgstore_test

import (
	"context"
	"testing"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/store/pgstore"
	"github.com/linkgate/linkgate/store/storetest"
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
	storetest.AppliesMigrations(t, s, "migrations")
}
