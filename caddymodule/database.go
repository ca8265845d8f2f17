package caddymodule

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/linkgate/linkgate/node"
)

// sqlitePrefix marks a SQLite database in the database option.
const sqlitePrefix = "sqlite:"

// defaultDatabase is the SQLite file an app without a database option
// uses: under Caddy's data directory, so it survives restarts and needs
// nothing installed.
func defaultDatabase() node.Database {
	return node.Database{DSN: filepath.Join(caddy.AppDataDir(), "linkgate", "linkgate.db")}
}

// resolveDatabase replaces the placeholders of the database option and
// checks that linkgate can use the result.
func resolveDatabase(option string) (node.Database, error) {
	value := strings.TrimSpace(caddy.NewReplacer().ReplaceKnown(option, ""))
	switch {
	case option == "":
		return defaultDatabase(), nil
	case value == "":
		// A placeholder that resolved to nothing is a missing variable,
		// not a wish for the default.
		return node.Database{}, errors.New("linkgate: the database option is empty once its placeholders are resolved")
	case strings.HasPrefix(value, "postgres://"), strings.HasPrefix(value, "postgresql://"):
		return node.Database{Postgres: true, DSN: value}, nil
	case strings.HasPrefix(value, sqlitePrefix):
		path := strings.TrimPrefix(strings.TrimPrefix(value, sqlitePrefix), "//")
		if path == "" {
			return node.Database{}, errors.New("linkgate: sqlite: needs a file path, as in sqlite:/var/lib/linkgate/linkgate.db")
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return node.Database{}, err
		}
		return node.Database{DSN: abs}, nil
	}
	return node.Database{}, errors.New("linkgate: the database option must be a postgres:// or postgresql:// URL, or sqlite:PATH")
}
