// Package sqlitestore keeps linkgate's organizations, tokens and aliases in
// an SQLite file through modernc.org/sqlite, a pure-Go driver, so the
// embedded default store needs no cgo and no server. It behaves as
// store/pgstore does, except that there is no cross-node invalidation: the
// file belongs to one host.
package sqlitestore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/linkgate/linkgate/alias"
)

// Store is an alias.Store on an SQLite file.
//
// It holds two handles on the file. Every write goes through writer, which
// has exactly one connection: concurrent writes of this process queue for it
// in database/sql, in order and cancellable by their context, instead of
// racing for SQLite's write lock and sleeping in its busy handler. Reads go
// through readers, a pool of read-only connections that WAL mode lets run
// alongside the writer and each other. busy_timeout is still needed: other
// processes (a second Caddy on the same file, the sqlite3 shell) take the
// same lock, and it makes them wait their turn rather than fail with
// "database is locked". Write transactions start with BEGIN IMMEDIATE
// (_txlock=immediate), taking the write lock before they read, so one can
// never hold a snapshot that another process's commit has made stale, which
// SQLite answers with SQLITE_BUSY at once, busy_timeout or not.
type Store struct {
	writer  *sql.DB
	readers *sql.DB

	// watch is the connection DataVersion asks, kept for good: SQLite's
	// data_version compares commits with the asking connection's last look.
	watchMu sync.Mutex
	watch   *sql.Conn
}

// pragmas configure every connection. busy_timeout comes first so that the
// switch to WAL, which needs a lock, waits for it too. synchronous NORMAL is
// durable against a crash of the process, and loses at most the last
// commits on a power cut.
var pragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"foreign_keys(ON)",
	"synchronous(NORMAL)",
}

// Open opens the SQLite database at path, creating the file (mode 0600,
// readable by this user only: it holds stream keys and secrets) and its
// missing parent directories (0700) if needed, and switches it to WAL mode.
// The schema is left to Migrate.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: no database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlitestore: creating the database directory: %w", err)
	}
	// SQLite would create the file with 0644 less the umask; its -wal and
	// -shm files copy the database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	f.Close()

	writer, err := sql.Open("sqlite", dsn(abs, "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	// Connecting now reports a file that is no database at once, and puts
	// it in WAL mode before any reader, which could not, opens it.
	if err := writer.Ping(); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: opening %s: %w", abs, err)
	}

	// query_only makes a write sent to the wrong handle fail loudly
	// instead of racing the writer for the lock. modernc.org/sqlite runs
	// Go code for SQLite's C, so more readers than CPUs would only queue
	// in the scheduler instead of here.
	readers, err := sql.Open("sqlite", dsn(abs, "_pragma=query_only(ON)"))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	readers.SetMaxOpenConns(n)
	readers.SetMaxIdleConns(n)
	return &Store{writer: writer, readers: readers}, nil
}

// dsn is the driver's name for the database file at abs: a file: URI, so
// that a path holding '?' or '#' stays a path, with the pragmas and extra
// parameters.
func dsn(abs string, extra ...string) string {
	params := make([]string, 0, len(pragmas)+len(extra))
	for _, p := range pragmas {
		params = append(params, "_pragma="+url.QueryEscape(p))
	}
	params = append(params, extra...)
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: strings.Join(params, "&")}
	return u.String()
}

// Close closes every connection to the database file. The last connection
// to close checkpoints the write-ahead log into the file.
func (s *Store) Close() error {
	s.watchMu.Lock()
	var watchErr error
	if s.watch != nil {
		watchErr = s.watch.Close()
		s.watch = nil
	}
	s.watchMu.Unlock()
	return errors.Join(watchErr, s.readers.Close(), s.writer.Close())
}

// DataVersion returns a number that changes whenever a commit to the
// database was made by another connection than the one asking: this
// process's writer or any other process, such as the linkgate commands.
// A node polls it to learn of changes, SQLite having no notifications.
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.watch == nil {
		c, err := s.readers.Conn(ctx)
		if err != nil {
			return 0, err
		}
		s.watch = c
	}
	var v int64
	if err := s.watch.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		s.watch.Close()
		s.watch = nil
		return 0, err
	}
	return v, nil
}

// now stamps rows in microseconds, the precision PostgreSQL keeps and list
// cursors carry.
func now() int64 { return time.Now().UnixMicro() }

func timeOf(micros int64) time.Time { return time.UnixMicro(micros).UTC() }

const aliasColumns = `id, org_id, type, coalesce(name, ''), coalesce(passcode, ''),
	coalesce(jwt_secret, ''), coalesce(stream_key, ''), expired_at, inserted_at, updated_at, version,
	auth_epoch, coalesce(previous_jwt_secret, ''), coalesce(previous_until, 0), previous_epoch`

func scanAlias(row interface{ Scan(...any) error }) (alias.Alias, error) {
	var a alias.Alias
	var expiredAt, insertedAt, updatedAt, previousUntil, previousEpoch int64
	var previousSecret string
	err := row.Scan(&a.ID, &a.OrgID, &a.Type, &a.Name, &a.Passcode, &a.JWTSecret, &a.StreamKey,
		&expiredAt, &insertedAt, &updatedAt, &a.Version,
		&a.AuthEpoch, &previousSecret, &previousUntil, &previousEpoch)
	if errors.Is(err, sql.ErrNoRows) {
		return a, alias.ErrNotFound
	}
	a.ExpiredAt, a.InsertedAt, a.UpdatedAt = timeOf(expiredAt), timeOf(insertedAt), timeOf(updatedAt)
	a.Previous = alias.NewRotation(previousSecret, timeOf(previousUntil), previousEpoch)
	return a, err
}

// querier is what the read pool, the writer and a transaction all offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// withRevocations reads the revocations in force on a, as the gate needs
// them with the alias.
func (s *Store) withRevocations(ctx context.Context, a alias.Alias, err error) (alias.Alias, error) {
	if err != nil {
		return a, err
	}
	a.Revocations, err = revocations(ctx, s.readers, a.ID)
	return a, err
}

func revocations(ctx context.Context, db querier, aliasID string) ([]alias.Revocation, error) {
	rows, err := db.QueryContext(ctx, `SELECT kind, value, coalesce(before, 0), created_at, expires_at FROM revocations
		WHERE alias_id = ? AND expires_at > ? ORDER BY created_at, kind, value`, aliasID, now())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var in []alias.Revocation
	for rows.Next() {
		var r alias.Revocation
		var before, created, expires int64
		if err := rows.Scan(&r.Kind, &r.Value, &before, &created, &expires); err != nil {
			return nil, err
		}
		r.CreatedAt, r.ExpiresAt = timeOf(created), timeOf(expires)
		if before != 0 {
			r.Before = timeOf(before)
		}
		in = append(in, r)
	}
	return in, rows.Err()
}

// Alias implements alias.Store, with the revocations in force.
func (s *Store) Alias(ctx context.Context, id string) (alias.Alias, error) {
	a, err := scanAlias(s.readers.QueryRowContext(ctx, "SELECT "+aliasColumns+" FROM aliases WHERE id = ?", id))
	return s.withRevocations(ctx, a, err)
}

// AliasByStreamKey implements alias.Store, with the revocations in force.
func (s *Store) AliasByStreamKey(ctx context.Context, key string) (alias.Alias, error) {
	a, err := scanAlias(s.readers.QueryRowContext(ctx, "SELECT "+aliasColumns+" FROM aliases WHERE stream_key = ?", key))
	return s.withRevocations(ctx, a, err)
}

// Aliases implements alias.Store. The conditions are only added when
// they apply, so that SQLite seeks the index (org_id, inserted_at, id) to
// the cursor instead of scanning the organization's list from its start.
func (s *Store) Aliases(ctx context.Context, orgID string, q alias.ListQuery) ([]alias.Alias, error) {
	query := "SELECT " + aliasColumns + " FROM aliases WHERE org_id = ?"
	args := []any{orgID}
	if q.Type != "" {
		query += " AND type = ?"
		args = append(args, string(q.Type))
	}
	if q.After != nil {
		query += " AND (inserted_at, id) > (?, ?)"
		args = append(args, q.After.InsertedAt.UnixMicro(), q.After.ID)
	}
	query += " ORDER BY inserted_at, id LIMIT ?"
	args = append(args, q.Limit)
	rows, err := s.readers.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	aliases := []alias.Alias{}
	for rows.Next() {
		a, err := scanAlias(rows)
		if err != nil {
			return nil, err
		}
		aliases = append(aliases, a)
	}
	return aliases, rows.Err()
}

// CreateAlias implements alias.Store.
func (s *Store) CreateAlias(ctx context.Context, a alias.Alias) (alias.Alias, error) {
	t := now()
	row := s.writer.QueryRowContext(ctx, `INSERT INTO aliases
		(id, org_id, type, name, passcode, jwt_secret, stream_key, expired_at, inserted_at, updated_at)
		VALUES (?, ?, ?, NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''), ?, ?, ?)
		RETURNING `+aliasColumns,
		a.ID, a.OrgID, string(a.Type), a.Name, a.Passcode, a.JWTSecret, a.StreamKey, a.ExpiredAt.UnixMicro(), t, t)
	created, err := scanAlias(row)
	return created, uniqueViolation(err)
}

// UpdateAlias implements alias.Store. The alias is read and written in
// one transaction, as the new credential epoch and grace period depend on
// the old values; the version moves in a trigger, so an update that
// changes nothing leaves it alone. RETURNING would show the row as the
// UPDATE left it, before the trigger, so the result is read back.
func (s *Store) UpdateAlias(ctx context.Context, orgID, id string, p alias.Patch) (updated alias.Alias, err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return updated, err
	}
	defer tx.Rollback()
	old, err := scanAlias(tx.QueryRowContext(ctx, "SELECT "+aliasColumns+" FROM aliases WHERE id = ? AND org_id = ?", id, orgID))
	if err != nil {
		return updated, err
	}
	a := p.Update(old, time.Now())
	var prev alias.Rotation
	var previousUntil *int64
	if a.Previous != nil {
		prev = *a.Previous
		us := prev.Until.UnixMicro()
		previousUntil = &us
	}
	if _, err := tx.ExecContext(ctx, `UPDATE aliases SET
			type = ?2, name = NULLIF(?3, ''), passcode = NULLIF(?4, ''), jwt_secret = NULLIF(?5, ''),
			stream_key = NULLIF(?6, ''), expired_at = ?7, auth_epoch = ?8,
			previous_jwt_secret = NULLIF(?9, ''), previous_until = ?10, previous_epoch = ?11
		WHERE id = ?1`,
		id, string(a.Type), a.Name, a.Passcode, a.JWTSecret, a.StreamKey, a.ExpiredAt.UnixMicro(), a.AuthEpoch,
		prev.JWTSecret, previousUntil, prev.Epoch); err != nil {
		return updated, uniqueViolation(err)
	}
	if updated, err = scanAlias(tx.QueryRowContext(ctx, "SELECT "+aliasColumns+" FROM aliases WHERE id = ?", id)); err != nil {
		return updated, err
	}
	return updated, tx.Commit()
}

// Revoke implements alias.Catalog. Expired revocations, of any alias, go
// first, so that what is kept stays bounded by time; a revocation of
// everything before a moment replaces an earlier one, and so is never
// refused by the limit: it is what re-keys an alias that reached it. The writer's
// immediate transaction serializes revocations, so the bound holds.
func (s *Store) Revoke(ctx context.Context, orgID, aliasID string, r alias.Revocation, limit int) ([]alias.Revocation, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, "SELECT 1 FROM aliases WHERE id = ? AND org_id = ?", aliasID, orgID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, alias.ErrNotFound
	case err != nil:
		return nil, err
	}
	t := now()
	if _, err := tx.ExecContext(ctx, "DELETE FROM revocations WHERE expires_at <= ?", t); err != nil {
		return nil, err
	}
	var before *int64
	if r.Kind == alias.RevokeBefore {
		us := r.Before.UnixMicro()
		before, r.Value = &us, ""
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO revocations (alias_id, kind, value, before, created_at, expires_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6
		WHERE ?2 = 'before' OR (SELECT count(*) FROM revocations WHERE alias_id = ?1) < ?7
		   OR EXISTS (SELECT 1 FROM revocations WHERE alias_id = ?1 AND kind = ?2 AND value = ?3)
		ON CONFLICT (alias_id, kind, value) DO UPDATE SET
			before = max(coalesce(before, 0), coalesce(excluded.before, 0)),
			expires_at = max(expires_at, excluded.expires_at)`,
		aliasID, string(r.Kind), r.Value, before, t, r.ExpiresAt.UnixMicro(), limit)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, alias.ErrTooManyRevocations
	}
	in, err := revocations(ctx, tx, aliasID)
	if err != nil {
		return nil, err
	}
	return in, tx.Commit()
}

// Revocations implements alias.Catalog.
func (s *Store) Revocations(ctx context.Context, orgID, aliasID string) ([]alias.Revocation, error) {
	var one int
	err := s.readers.QueryRowContext(ctx, "SELECT 1 FROM aliases WHERE id = ? AND org_id = ?", aliasID, orgID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, alias.ErrNotFound
	case err != nil:
		return nil, err
	}
	return revocations(ctx, s.readers, aliasID)
}

// RevocationsInForce implements alias.Store.
func (s *Store) RevocationsInForce(ctx context.Context) (int, error) {
	var n int
	err := s.readers.QueryRowContext(ctx, "SELECT count(*) FROM revocations WHERE expires_at > ?", now()).Scan(&n)
	return n, err
}

// DeleteAlias implements alias.Store.
func (s *Store) DeleteAlias(ctx context.Context, orgID, id string) error {
	res, err := s.writer.ExecContext(ctx, "DELETE FROM aliases WHERE id = ? AND org_id = ?", id, orgID)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return alias.ErrNotFound
	}
	return nil
}

// uniqueViolation turns the unique constraints of aliases into the errors
// the API answers. SQLite names no constraint, only its columns.
func uniqueViolation(err error) error {
	var sqlErr *sqlite.Error
	if !errors.As(err, &sqlErr) {
		return err
	}
	switch {
	case sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY && strings.Contains(sqlErr.Error(), "aliases.id"):
		return alias.ErrIDTaken
	case sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(sqlErr.Error(), "aliases.stream_key"):
		return alias.ErrStreamKeyTaken
	}
	return err
}

// OrgByToken implements alias.Store.
func (s *Store) OrgByToken(ctx context.Context, h alias.TokenHash) (string, error) {
	var orgID string
	err := s.readers.QueryRowContext(ctx, "SELECT org_id FROM org_tokens WHERE token_hash = ? AND revoked_at IS NULL", h[:]).Scan(&orgID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", alias.ErrNotFound
	}
	return orgID, err
}

// CreateOrg implements alias.Store.
func (s *Store) CreateOrg(ctx context.Context, name string) (alias.Org, error) {
	t := now()
	o := alias.Org{ID: alias.NewOrgID(), Name: name, CreatedAt: timeOf(t)}
	_, err := s.writer.ExecContext(ctx, "INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)", o.ID, o.Name, t)
	return o, err
}

const orgColumns = "id, name, created_at"

func scanOrg(row interface{ Scan(...any) error }) (alias.Org, error) {
	var o alias.Org
	var createdAt int64
	err := row.Scan(&o.ID, &o.Name, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return o, alias.ErrNotFound
	}
	o.CreatedAt = timeOf(createdAt)
	return o, err
}

// Org implements alias.Store.
func (s *Store) Org(ctx context.Context, id string) (alias.Org, error) {
	return scanOrg(s.readers.QueryRowContext(ctx, "SELECT "+orgColumns+" FROM organizations WHERE id = ?", id))
}

// Orgs implements alias.Store.
func (s *Store) Orgs(ctx context.Context) ([]alias.Org, error) {
	return s.orgs(ctx, "SELECT "+orgColumns+" FROM organizations ORDER BY created_at, id")
}

// OrgsByName implements alias.Store. SQLite's = compares TEXT bytewise
// (the BINARY collation), as PostgreSQL's does: case counts.
func (s *Store) OrgsByName(ctx context.Context, name string) ([]alias.Org, error) {
	return s.orgs(ctx, "SELECT "+orgColumns+" FROM organizations WHERE name = ? ORDER BY created_at, id", name)
}

func (s *Store) orgs(ctx context.Context, query string, args ...any) ([]alias.Org, error) {
	rows, err := s.readers.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	orgs := []alias.Org{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, err
		}
		orgs = append(orgs, o)
	}
	return orgs, rows.Err()
}

const tokenColumns = "id, org_id, name, created_at, revoked_at"

func scanToken(row interface{ Scan(...any) error }) (alias.TokenInfo, error) {
	var t alias.TokenInfo
	var createdAt int64
	var revokedAt sql.NullInt64
	err := row.Scan(&t.ID, &t.OrgID, &t.Name, &createdAt, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return t, alias.ErrNotFound
	}
	t.CreatedAt = timeOf(createdAt)
	if revokedAt.Valid {
		r := timeOf(revokedAt.Int64)
		t.RevokedAt = &r
	}
	return t, err
}

// CreateToken implements alias.Store.
func (s *Store) CreateToken(ctx context.Context, orgID, name string, h alias.TokenHash) (alias.TokenInfo, error) {
	t, err := scanToken(s.writer.QueryRowContext(ctx, `INSERT INTO org_tokens (id, org_id, name, token_hash, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING `+tokenColumns, alias.NewTokenID(), orgID, name, h[:], now()))
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) && sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return t, alias.ErrNotFound
	}
	return t, err
}

// Tokens implements alias.Store.
func (s *Store) Tokens(ctx context.Context, orgID string) ([]alias.TokenInfo, error) {
	rows, err := s.readers.QueryContext(ctx, "SELECT "+tokenColumns+" FROM org_tokens WHERE org_id = ? ORDER BY created_at, id", orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tokens := []alias.TokenInfo{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, t)
	}
	return tokens, rows.Err()
}

// RevokeToken implements alias.Store.
func (s *Store) RevokeToken(ctx context.Context, tokenID string) (alias.TokenInfo, error) {
	return scanToken(s.writer.QueryRowContext(ctx, `UPDATE org_tokens SET revoked_at = ?
		WHERE id = ? AND revoked_at IS NULL RETURNING `+tokenColumns, now(), tokenID))
}

// SessionKey implements alias.Store. The key exists after the first
// call, so later ones only read; the first is a write transaction, which
// stores started together on one file take in turn, the later finding the
// key of the first.
func (s *Store) SessionKey(ctx context.Context) ([]byte, error) {
	const read = "SELECT key FROM linkgate_keys WHERE name = 'session'"
	var key []byte
	err := s.readers.QueryRowContext(ctx, read).Scan(&key)
	if !errors.Is(err, sql.ErrNoRows) {
		return key, err
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO linkgate_keys (name, key, created_at) VALUES ('session', ?, ?) ON CONFLICT (name) DO NOTHING", fresh, now()); err != nil {
		return nil, err
	}
	if err := tx.QueryRowContext(ctx, read).Scan(&key); err != nil {
		return nil, err
	}
	return key, tx.Commit()
}

var _ alias.Store = (*Store)(nil)
