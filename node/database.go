package node

import (
	"context"
	"io"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/store/pgstore"
	"github.com/linkgate/linkgate/store/sqlitestore"
)

// Database is where a node keeps its aliases.
type Database struct {
	// Postgres is true for a PostgreSQL URL, false for a SQLite file.
	Postgres bool
	// DSN is the PostgreSQL URL or the absolute path of the SQLite file.
	// It may hold a password: it is never logged.
	DSN string
}

// Backend is a store, how to ask it for its migrations, and how to close
// it.
type Backend interface {
	alias.Store
	io.Closer
	// Migrations returns the versions of the migrations the database has
	// applied and of those this binary has and it lacks.
	Migrations(ctx context.Context) (applied, pending []int64, err error)
}

// Open connects to the database. For PostgreSQL it only makes the pool;
// SQLite opens (and creates) the file.
func (d Database) Open() (Backend, error) {
	if d.Postgres {
		s, err := pgstore.Open(d.DSN)
		if err != nil {
			return nil, err
		}
		return pgBackend{s}, nil
	}
	return sqlitestore.Open(d.DSN)
}

// pgBackend gives pgstore's Close the io.Closer shape.
type pgBackend struct{ *pgstore.Store }

func (b pgBackend) Close() error {
	b.Store.Close()
	return nil
}

// changeWatcher is a store that can tell, by polling, that another
// process changed the database: SQLite, which has no notifications.
type changeWatcher interface {
	DataVersion(ctx context.Context) (int64, error)
}
