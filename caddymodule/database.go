package caddymodule

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/store/pgstore"
	"github.com/linkgate/linkgate/store/sqlitestore"
)

// database is where a linkgate app keeps its aliases, as the database
// option names it once its placeholders are resolved.
type database struct {
	// postgres is true for a PostgreSQL URL, false for a SQLite file.
	postgres bool
	// dsn is the PostgreSQL URL or the absolute path of the SQLite file.
	dsn string
}

// sqlitePrefix marks a SQLite database in the database option.
const sqlitePrefix = "sqlite:"

// defaultDatabase is the SQLite file an app without a database option
// uses: under Caddy's data directory, so it survives restarts and needs
// nothing installed.
func defaultDatabase() database {
	return database{dsn: filepath.Join(caddy.AppDataDir(), "linkgate", "linkgate.db")}
}

// resolveDatabase replaces the placeholders of the database option and
// checks that linkgate can use the result.
func resolveDatabase(option string) (database, error) {
	value := strings.TrimSpace(caddy.NewReplacer().ReplaceKnown(option, ""))
	switch {
	case option == "":
		return defaultDatabase(), nil
	case value == "":
		// A placeholder that resolved to nothing is a missing variable,
		// not a wish for the default.
		return database{}, errors.New("linkgate: the database option is empty once its placeholders are resolved")
	case strings.HasPrefix(value, "postgres://"), strings.HasPrefix(value, "postgresql://"):
		return database{postgres: true, dsn: value}, nil
	case strings.HasPrefix(value, sqlitePrefix):
		path := strings.TrimPrefix(strings.TrimPrefix(value, sqlitePrefix), "//")
		if path == "" {
			return database{}, errors.New("linkgate: sqlite: needs a file path, as in sqlite:/var/lib/linkgate/linkgate.db")
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return database{}, err
		}
		return database{dsn: abs}, nil
	}
	return database{}, errors.New("linkgate: the database option must be a postgres:// or postgresql:// URL, or sqlite:PATH")
}

// backend is a store and how to close it.
type backend interface {
	aliasapi.Store
	io.Closer
}

// open connects to the database. For PostgreSQL it only makes the pool;
// SQLite opens the file.
func (d database) open() (backend, error) {
	if d.postgres {
		s, err := pgstore.Open(d.dsn)
		if err != nil {
			return nil, err
		}
		return pgBackend{s}, nil
	}
	return sqlitestore.Open(d.dsn)
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
