package pgstore_test

import (
	"testing"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/store/pgstore"
	"github.com/linkgate/linkgate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) alias.Store {
		s, err := pgstore.Open(pgtest.DB(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	})
}
