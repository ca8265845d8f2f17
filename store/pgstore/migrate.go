package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
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
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(files)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return fmt.Errorf("locking migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS linkgate_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("creating the migrations table: %w", err)
		}
		rows, _ := tx.Query(ctx, "SELECT version FROM linkgate_migrations")
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("reading applied migrations: %w", err)
		}
		for _, name := range files {
			version, err := migrationVersion(name)
			if err != nil {
				return err
			}
			if slices.Contains(applied, version) {
				continue
			}
			sql, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("applying %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO linkgate_migrations (version) VALUES ($1)", version); err != nil {
				return fmt.Errorf("recording %s: %w", name, err)
			}
		}
		return nil
	})
}

// migrationVersion reads the number that starts a migration's file name.
func migrationVersion(name string) (int32, error) {
	base := strings.TrimPrefix(name, "migrations/")
	digits, _, _ := strings.Cut(base, "_")
	v, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("migration %s does not start with a version number", name)
	}
	return int32(v), nil
}
