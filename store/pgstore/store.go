// Package pgstore keeps linkgate's organizations, tokens and aliases in
// PostgreSQL through a pgx connection pool.
package pgstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkgate/linkgate/alias"
)

// Store is an alias.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

// Open makes a pool for the database at dsn. Like pgxpool itself it does
// not connect: the first query does, so opening is safe where no database
// may be touched (caddy validate, config reloads).
func Open(dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx quotes the DSN in some parse errors; never pass it on.
		return nil, errors.New("the PostgreSQL connection string cannot be parsed")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the PostgreSQL pool: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool and every connection in it.
func (s *Store) Close() { s.pool.Close() }

const aliasColumns = `id, org_id, type, coalesce(name, ''), coalesce(passcode, ''),
	coalesce(jwt_secret, ''), coalesce(stream_key, ''), expired_at, inserted_at, updated_at, version,
	auth_epoch, coalesce(previous_jwt_secret, ''), previous_until, previous_epoch`

func scanAlias(row pgx.Row) (alias.Alias, error) {
	var a alias.Alias
	var p previous
	err := row.Scan(aliasFields(&a, &p)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, alias.ErrNotFound
	}
	p.setOn(&a)
	return a, err
}

// previous is where a row's rotation columns are read, to become the
// alias's Rotation when it has one.
type previous struct {
	secret string
	until  *time.Time
	epoch  int64
}

func (p *previous) setOn(a *alias.Alias) {
	var until time.Time
	if p.until != nil {
		until = *p.until
	}
	a.Previous = alias.NewRotation(p.secret, until, p.epoch)
}

// aliasFields are the destinations of aliasColumns, in their order.
func aliasFields(a *alias.Alias, p *previous) []any {
	return []any{&a.ID, &a.OrgID, &a.Type, &a.Name, &a.Passcode, &a.JWTSecret, &a.StreamKey,
		&a.ExpiredAt, &a.InsertedAt, &a.UpdatedAt, &a.Version,
		&a.AuthEpoch, &p.secret, &p.until, &p.epoch}
}

const revocationColumns = "kind, value, before, created_at, expires_at"

func (s *Store) revocations(ctx context.Context, db dbtx, aliasID string) ([]alias.Revocation, error) {
	rows, err := db.Query(ctx, "SELECT "+revocationColumns+` FROM revocations
		WHERE alias_id = $1 AND expires_at > now() ORDER BY created_at, kind, value`, aliasID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (alias.Revocation, error) {
		var r alias.Revocation
		var before *time.Time
		err := row.Scan(&r.Kind, &r.Value, &before, &r.CreatedAt, &r.ExpiresAt)
		if before != nil {
			r.Before = *before
		}
		return r, err
	})
}

// dbtx is what the pool and a transaction both offer.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Alias implements alias.Store, with the revocations in force.
func (s *Store) Alias(ctx context.Context, id string) (alias.Alias, error) {
	return s.aliasWithRevocations(ctx, "aliases.id = $1", id)
}

// AliasByStreamKey implements alias.Store, with the revocations in force.
func (s *Store) AliasByStreamKey(ctx context.Context, key string) (alias.Alias, error) {
	return s.aliasWithRevocations(ctx, "aliases.stream_key = $1", key)
}

// aliasWithRevocations reads the one alias where says, and the
// revocations in force on it, in one query: a node that starts cold asks
// for every alias its viewers name, and a second round trip each would
// double that storm.
func (s *Store) aliasWithRevocations(ctx context.Context, where string, arg any) (alias.Alias, error) {
	var kinds, values []string
	var befores, created, expires []pgtype.Timestamptz
	var a alias.Alias
	var p previous
	err := s.pool.QueryRow(ctx, "SELECT "+aliasColumns+`, r.kinds, r.vals, r.befores, r.created, r.expires
		FROM aliases LEFT JOIN LATERAL (
			SELECT array_agg(kind ORDER BY created_at, kind, value) AS kinds,
			       array_agg(value ORDER BY created_at, kind, value) AS vals,
			       array_agg(before ORDER BY created_at, kind, value) AS befores,
			       array_agg(created_at ORDER BY created_at, kind, value) AS created,
			       array_agg(expires_at ORDER BY created_at, kind, value) AS expires
			FROM revocations WHERE alias_id = aliases.id AND expires_at > now()
		) r ON true
		WHERE `+where, arg).Scan(append(aliasFields(&a, &p), &kinds, &values, &befores, &created, &expires)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, alias.ErrNotFound
	}
	if err != nil {
		return a, err
	}
	p.setOn(&a)
	if n := len(kinds); n > 0 {
		if len(values) != n || len(befores) != n || len(created) != n || len(expires) != n {
			return a, fmt.Errorf("revocations of alias %s read unevenly", a.ID)
		}
		a.Revocations = make([]alias.Revocation, n)
		for i := range n {
			r := &a.Revocations[i]
			r.Kind, r.Value = alias.RevocationKind(kinds[i]), values[i]
			r.CreatedAt, r.ExpiresAt = created[i].Time, expires[i].Time
			if befores[i].Valid {
				r.Before = befores[i].Time
			}
		}
	}
	return a, nil
}

// Aliases implements alias.Store.
func (s *Store) Aliases(ctx context.Context, orgID string, q alias.ListQuery) ([]alias.Alias, error) {
	var afterTime *time.Time
	var afterID string
	if q.After != nil {
		afterTime, afterID = &q.After.InsertedAt, q.After.ID
	}
	rows, err := s.pool.Query(ctx, "SELECT "+aliasColumns+` FROM aliases
		WHERE org_id = $1
		  AND ($2 = '' OR type = $2)
		  AND ($3::timestamptz IS NULL OR (inserted_at, id) > ($3, $4))
		ORDER BY inserted_at, id
		LIMIT $5`, orgID, string(q.Type), afterTime, afterID, q.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (alias.Alias, error) { return scanAlias(row) })
}

// CreateAlias implements alias.Store.
func (s *Store) CreateAlias(ctx context.Context, a alias.Alias) (alias.Alias, error) {
	row := s.pool.QueryRow(ctx, `INSERT INTO aliases (id, org_id, type, name, passcode, jwt_secret, stream_key, expired_at)
		VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''), $8)
		RETURNING `+aliasColumns,
		a.ID, a.OrgID, string(a.Type), a.Name, a.Passcode, a.JWTSecret, a.StreamKey, a.ExpiredAt)
	created, err := scanAlias(row)
	return created, uniqueViolation(err)
}

// UpdateAlias implements alias.Store. The alias is read and written in
// one transaction, as the new credential epoch and grace period depend on
// the old values; the version moves in a trigger, so an update that
// changes nothing leaves it alone.
func (s *Store) UpdateAlias(ctx context.Context, orgID, id string, p alias.Patch) (alias.Alias, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return alias.Alias{}, err
	}
	defer tx.Rollback(ctx)
	old, err := scanAlias(tx.QueryRow(ctx, "SELECT "+aliasColumns+" FROM aliases WHERE id = $1 AND org_id = $2 FOR UPDATE", id, orgID))
	if err != nil {
		return alias.Alias{}, err
	}
	var now time.Time
	if err := tx.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return alias.Alias{}, err
	}
	a := p.Update(old, now)
	var prev alias.Rotation
	var previousUntil *time.Time
	if a.Previous != nil {
		prev, previousUntil = *a.Previous, &a.Previous.Until
	}
	updated, err := scanAlias(tx.QueryRow(ctx, `UPDATE aliases SET
			type = $2, name = NULLIF($3, ''), passcode = NULLIF($4, ''), jwt_secret = NULLIF($5, ''),
			stream_key = NULLIF($6, ''), expired_at = $7, auth_epoch = $8,
			previous_jwt_secret = NULLIF($9, ''), previous_until = $10, previous_epoch = $11
		WHERE id = $1
		RETURNING `+aliasColumns,
		id, string(a.Type), a.Name, a.Passcode, a.JWTSecret, a.StreamKey, a.ExpiredAt, a.AuthEpoch,
		prev.JWTSecret, previousUntil, prev.Epoch))
	if err != nil {
		return alias.Alias{}, uniqueViolation(err)
	}
	return updated, tx.Commit(ctx)
}

// Revoke implements alias.Catalog. Expired revocations, of any alias, go
// first, so that what is kept stays bounded by time; a revocation of
// everything before a moment replaces an earlier one, and so is never
// refused by the limit: it is what re-keys an alias that reached it.
func (s *Store) Revoke(ctx context.Context, orgID, aliasID string, r alias.Revocation, limit int) ([]alias.Revocation, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	// The alias's row lock serializes revocations of one alias, so that
	// the bound below holds under concurrent calls.
	var one int
	err = tx.QueryRow(ctx, "SELECT 1 FROM aliases WHERE id = $1 AND org_id = $2 FOR UPDATE", aliasID, orgID).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, alias.ErrNotFound
	case err != nil:
		return nil, err
	}
	if _, err := tx.Exec(ctx, "DELETE FROM revocations WHERE expires_at <= now()"); err != nil {
		return nil, err
	}
	var before *time.Time
	if r.Kind == alias.RevokeBefore {
		before, r.Value = &r.Before, ""
	}
	tag, err := tx.Exec(ctx, `INSERT INTO revocations (alias_id, kind, value, before, expires_at)
		SELECT $1, $2, $3, $4, $5
		WHERE $2 = 'before' OR (SELECT count(*) FROM revocations WHERE alias_id = $1) < $6
		   OR EXISTS (SELECT 1 FROM revocations WHERE alias_id = $1 AND kind = $2 AND value = $3)
		ON CONFLICT (alias_id, kind, value) DO UPDATE SET
			before = GREATEST(revocations.before, EXCLUDED.before),
			expires_at = GREATEST(revocations.expires_at, EXCLUDED.expires_at)`,
		aliasID, string(r.Kind), r.Value, before, r.ExpiresAt, limit)
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		return nil, alias.ErrTooManyRevocations
	}
	in, err := s.revocations(ctx, tx, aliasID)
	if err != nil {
		return nil, err
	}
	return in, tx.Commit(ctx)
}

// Revocations implements alias.Catalog.
func (s *Store) Revocations(ctx context.Context, orgID, aliasID string) ([]alias.Revocation, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM aliases WHERE id = $1 AND org_id = $2)", aliasID, orgID).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, alias.ErrNotFound
	}
	return s.revocations(ctx, s.pool, aliasID)
}

// RevocationsInForce implements alias.Store.
func (s *Store) RevocationsInForce(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM revocations WHERE expires_at > now()").Scan(&n)
	return n, err
}

// DeleteAlias implements alias.Store.
func (s *Store) DeleteAlias(ctx context.Context, orgID, id string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM aliases WHERE id = $1 AND org_id = $2", id, orgID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return alias.ErrNotFound
	}
	return nil
}

// uniqueViolation turns the unique constraints of aliases into the errors
// the API answers.
func uniqueViolation(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		switch pgErr.ConstraintName {
		case "aliases_pkey":
			return alias.ErrIDTaken
		case "aliases_stream_key_unique":
			return alias.ErrStreamKeyTaken
		}
	}
	return err
}

// OrgByToken implements alias.Store.
func (s *Store) OrgByToken(ctx context.Context, h alias.TokenHash) (string, error) {
	var orgID string
	err := s.pool.QueryRow(ctx, "SELECT org_id FROM org_tokens WHERE token_hash = $1 AND revoked_at IS NULL", h[:]).Scan(&orgID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", alias.ErrNotFound
	}
	return orgID, err
}

// CreateOrg implements alias.Store.
func (s *Store) CreateOrg(ctx context.Context, name string) (alias.Org, error) {
	o := alias.Org{ID: alias.NewOrgID(), Name: name}
	err := s.pool.QueryRow(ctx, "INSERT INTO organizations (id, name) VALUES ($1, $2) RETURNING created_at", o.ID, o.Name).Scan(&o.CreatedAt)
	return o, err
}

const orgColumns = "id, name, created_at"

func scanOrg(row pgx.Row) (alias.Org, error) {
	var o alias.Org
	err := row.Scan(&o.ID, &o.Name, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, alias.ErrNotFound
	}
	return o, err
}

// Org implements alias.Store.
func (s *Store) Org(ctx context.Context, id string) (alias.Org, error) {
	return scanOrg(s.pool.QueryRow(ctx, "SELECT "+orgColumns+" FROM organizations WHERE id = $1", id))
}

// Orgs implements alias.Store.
func (s *Store) Orgs(ctx context.Context) ([]alias.Org, error) {
	return s.orgs(ctx, "SELECT "+orgColumns+" FROM organizations ORDER BY created_at, id")
}

// OrgsByName implements alias.Store.
func (s *Store) OrgsByName(ctx context.Context, name string) ([]alias.Org, error) {
	return s.orgs(ctx, "SELECT "+orgColumns+" FROM organizations WHERE name = $1 ORDER BY created_at, id", name)
}

func (s *Store) orgs(ctx context.Context, query string, args ...any) ([]alias.Org, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	orgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (alias.Org, error) { return scanOrg(row) })
	if orgs == nil && err == nil {
		orgs = []alias.Org{}
	}
	return orgs, err
}

const tokenColumns = "id, org_id, name, created_at, revoked_at"

func scanToken(row pgx.Row) (alias.TokenInfo, error) {
	var t alias.TokenInfo
	err := row.Scan(&t.ID, &t.OrgID, &t.Name, &t.CreatedAt, &t.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, alias.ErrNotFound
	}
	return t, err
}

// CreateToken implements alias.Store.
func (s *Store) CreateToken(ctx context.Context, orgID, name string, h alias.TokenHash) (alias.TokenInfo, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `INSERT INTO org_tokens (id, org_id, name, token_hash)
		VALUES ($1, $2, $3, $4) RETURNING `+tokenColumns, alias.NewTokenID(), orgID, name, h[:]))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return t, alias.ErrNotFound
	}
	return t, err
}

// Tokens implements alias.Store.
func (s *Store) Tokens(ctx context.Context, orgID string) ([]alias.TokenInfo, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+tokenColumns+" FROM org_tokens WHERE org_id = $1 ORDER BY created_at, id", orgID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (alias.TokenInfo, error) { return scanToken(row) })
}

// RevokeToken implements alias.Store.
func (s *Store) RevokeToken(ctx context.Context, tokenID string) (alias.TokenInfo, error) {
	return scanToken(s.pool.QueryRow(ctx, `UPDATE org_tokens SET revoked_at = now()
		WHERE id = $1 AND revoked_at IS NULL RETURNING `+tokenColumns, tokenID))
}

// SessionKey implements alias.Store. Nodes starting together may race
// to create the key; ON CONFLICT lets the first win, and the SELECT, a
// statement of its own, sees whichever did.
func (s *Store) SessionKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	rand.Read(fresh)
	if _, err := s.pool.Exec(ctx, "INSERT INTO linkgate_keys (name, key) VALUES ('session', $1) ON CONFLICT (name) DO NOTHING", fresh); err != nil {
		return nil, err
	}
	var key []byte
	err := s.pool.QueryRow(ctx, "SELECT key FROM linkgate_keys WHERE name = 'session'").Scan(&key)
	return key, err
}

var _ alias.Store = (*Store)(nil)
