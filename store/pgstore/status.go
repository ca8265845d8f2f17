package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/linkgate/linkgate/store/migrate"
)

// undefinedTable is PostgreSQL's SQLSTATE for a table that does not exist.
const undefinedTable = "42P01"

// Migrations returns the versions of the migrations the database has
// applied, and of the embedded ones it lacks, in one round trip: a node
// asks it every second to learn that the database answers and that its
// schema is the one this binary needs. A database never migrated has
// applied none.
func (s *Store) Migrations(ctx context.Context) (applied, pending []int64, err error) {
	rows, _ := s.pool.Query(ctx, "SELECT version::bigint FROM linkgate_migrations ORDER BY version")
	applied, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == undefinedTable:
		applied = nil
	case err != nil:
		return nil, nil, fmt.Errorf("reading applied migrations: %w", withoutConfig(err))
	}
	missing, err := migrate.Pending(migrations, "migrations", applied)
	if err != nil {
		return nil, nil, err
	}
	return applied, migrate.Versions(missing), nil
}
