package pgstore

import (
	"context"
	"embed"
	"fmt"
	"path"

	"github.com/jackc/pgx/v5"

	"github.com/linkgate/linkgate/store/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serializes migrations across
// every node starting at once ("linkgate" in ASCII).
const migrationLock = 0x6c696e6b67617465

// Migrate applies the embedded migrations that the database lacks, in one
// transaction under an advisory lock: nodes starting together wait for the
// first, then find nothing left to do.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.ApplyMigrations(ctx)
	return err
}

// ApplyMigrations implements alias.Store: Migrate, telling what it applied.
func (s *Store) ApplyMigrations(ctx context.Context) ([]string, error) {
	applied := []string{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return fmt.Errorf("locking migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS linkgate_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("creating the migrations table: %w", err)
		}
		rows, _ := tx.Query(ctx, "SELECT version::bigint FROM linkgate_migrations")
		have, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("reading applied migrations: %w", err)
		}
		pending, err := migrate.Pending(migrations, "migrations", have)
		if err != nil {
			return err
		}
		for _, m := range pending {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("applying %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO linkgate_migrations (version) VALUES ($1)", m.Version); err != nil {
				return fmt.Errorf("recording %s: %w", m.Name, err)
			}
			applied = append(applied, path.Base(m.Name))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}
