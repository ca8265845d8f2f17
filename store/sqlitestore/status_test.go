package sqlitestore_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/linkgate/linkgate/store/sqlitestore"
)

// TestMigrations: a database never migrated lacks every migration; once
// migrated it has applied them all and lacks none.
func TestMigrations(t *testing.T) {
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var all []int64
	for _, f := range files {
		digits, _, _ := strings.Cut(f.Name(), "_")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			t.Fatalf("migration file %s has no version", f.Name())
		}
		all = append(all, v)
	}
	slices.Sort(all)

	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "linkgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
