package pgstore_test

import (
	"testing"

	"github.com/linkgate/linkgate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
