package pgstore_test

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/store/pgstore"
)

// embeddedVersions reads the version numbers off the names of the
// migration files.
func embeddedVersions(t *testing.T) []int64 {
	t.Helper()
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, f := range files {
		digits, _, _ := strings.Cut(f.Name(), "_")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			t.Fatalf("migration file %s has no version", f.Name())
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	return versions
}

// TestMigrations: a database never migrated lacks every migration; once
// migrated it has applied them all and lacks none.
func TestMigrations(t *testing.T) {
	s, err := pgstore.Open(pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all := embeddedVersions(t)

	applied, pending, err := s.Migrations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 || !slices.Equal(pending, all) {
		t.Errorf("a new database: applied %v, pending %v; want none and %v", applied, pending, all)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	applied, pending, err = s.Migrations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, all) || len(pending) != 0 {
		t.Errorf("a migrated database: applied %v, pending %v; want %v and none", applied, pending, all)
	}
}
