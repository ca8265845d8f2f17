package sqlitestore

import (
	"context"
	"fmt"

	"github.com/linkgate/linkgate/store/migrate"
)

// Migrations returns the versions of the migrations the database has
// applied, and of the embedded ones it lacks. A database never migrated
// has applied none.
func (s *Store) Migrations(ctx context.Context) (applied, pending []int64, err error) {
	var tables int
	err = s.readers.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'linkgate_migrations'").Scan(&tables)
	if err != nil {
		return nil, nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	if tables > 0 {
		rows, err := s.readers.QueryContext(ctx, "SELECT version FROM linkgate_migrations ORDER BY version")
		if err != nil {
			return nil, nil, fmt.Errorf("reading applied migrations: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				return nil, nil, fmt.Errorf("reading applied migrations: %w", err)
			}
			applied = append(applied, v)
		}
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("reading applied migrations: %w", err)
		}
	}
	missing, err := migrate.Pending(migrations, "migrations", applied)
	if err != nil {
		return nil, nil, err
	}
	return applied, migrate.Versions(missing), nil
}
