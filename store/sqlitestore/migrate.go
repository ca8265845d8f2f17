package sqlitestore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"path"

	"github.com/linkgate/linkgate/store/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded migrations that the database lacks, in one
// transaction. The transaction begins IMMEDIATE, holding the file's write
// lock from its start, so it is the lock that serializes migrations: stores
// opening the same file together (in this process or another) wait for the
// first, then find nothing left to do.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.ApplyMigrations(ctx)
	return err
}

// ApplyMigrations implements alias.Store: Migrate, telling what it applied.
func (s *Store) ApplyMigrations(ctx context.Context) ([]string, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("locking migrations: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS linkgate_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return nil, fmt.Errorf("creating the migrations table: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM linkgate_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	var have []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading applied migrations: %w", err)
		}
		have = append(have, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	pending, err := migrate.Pending(migrations, "migrations", have)
	if err != nil {
		return nil, err
	}
	applied := []string{}
	for _, m := range pending {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("applying %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO linkgate_migrations (version, applied_at) VALUES (?, ?)", m.Version, now()); err != nil {
			return nil, fmt.Errorf("recording %s: %w", m.Name, err)
		}
		applied = append(applied, path.Base(m.Name))
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return applied, nil
}
