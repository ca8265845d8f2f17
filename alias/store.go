package alias

import (
	"context"
	"errors"
	"time"
)

// Errors a store returns for conditions the API answers as client errors.
// Any other error means the store could not answer: the API turns it into a
// 503 and the gateway fails closed.
var (
	ErrNotFound       = errors.New("not found")
	ErrIDTaken        = errors.New("alias ID already taken")
	ErrStreamKeyTaken = errors.New("stream key already used by another alias")
	// ErrTooManyRevocations: an alias already has as many revocations in
	// force as it may.
	ErrTooManyRevocations = errors.New("too many revocations in force on the alias")
)

// Reader is what deciding access reads: aliases by ID or stream key, and
// the organization an organization token belongs to.
type Reader interface {
	// Alias returns the alias with id, whoever owns it, with the
	// revocations in force, or ErrNotFound.
	Alias(ctx context.Context, id string) (Alias, error)
	// AliasByStreamKey returns the alias whose stream key is key, or
	// ErrNotFound: media servers that know a publisher only by the key it
	// publishes under (nginx-rtmp) need it.
	AliasByStreamKey(ctx context.Context, key string) (Alias, error)
	// OrgByToken returns the organization that holds the unrevoked token
	// with hash h, or ErrNotFound.
	OrgByToken(ctx context.Context, h TokenHash) (string, error)
}

// Catalog is what the alias API reads and writes: an organization's
// aliases.
type Catalog interface {
	Reader
	// Aliases returns the organization's aliases in list order after q.After,
	// at most q.Limit of them.
	Aliases(ctx context.Context, orgID string, q ListQuery) ([]Alias, error)
	// CreateAlias inserts a, whose ID the caller chose; ErrIDTaken if the
	// ID exists, ErrStreamKeyTaken if the stream key does.
	CreateAlias(ctx context.Context, a Alias) (Alias, error)
	// UpdateAlias applies p to the organization's alias id and bumps its
	// version; ErrNotFound if the organization has no such alias,
	// ErrStreamKeyTaken if another alias has the new stream key.
	UpdateAlias(ctx context.Context, orgID, id string, p Patch) (Alias, error)
	// DeleteAlias removes the organization's alias id, or ErrNotFound.
	DeleteAlias(ctx context.Context, orgID, id string) error
	// Revoke records r on the organization's alias and returns the
	// revocations in force; ErrNotFound if the organization has no such
	// alias, ErrTooManyRevocations when limit are in force already (never
	// for RevokeBefore: it replaces the one an alias may have, and is how
	// an alias at the limit is re-keyed).
	// Revoking what is already revoked keeps the later expiry (and the
	// later moment, for RevokeBefore).
	Revoke(ctx context.Context, orgID, aliasID string, r Revocation, limit int) ([]Revocation, error)
	// Revocations returns the revocations in force on the organization's
	// alias, or ErrNotFound.
	Revocations(ctx context.Context, orgID, aliasID string) ([]Revocation, error)
}

// Admin is what the command line administers: organizations, their
// tokens, and the schema.
type Admin interface {
	// CreateOrg creates an organization.
	CreateOrg(ctx context.Context, name string) (Org, error)
	// Org returns the organization with id, or ErrNotFound.
	Org(ctx context.Context, id string) (Org, error)
	// Orgs lists every organization, oldest first.
	Orgs(ctx context.Context) ([]Org, error)
	// OrgsByName lists the organizations whose name is exactly name (case
	// and spaces count), oldest first; none is an empty list. Names need
	// not be unique: the command line refuses a duplicate unless asked.
	OrgsByName(ctx context.Context, name string) ([]Org, error)
	// CreateToken records a token of the organization by its hash; ErrNotFound
	// if the organization does not exist.
	CreateToken(ctx context.Context, orgID, name string, h TokenHash) (TokenInfo, error)
	// Tokens lists the organization's tokens, revoked ones included.
	Tokens(ctx context.Context, orgID string) ([]TokenInfo, error)
	// RevokeToken revokes a token by its ID, or ErrNotFound if there is no
	// unrevoked token with that ID.
	RevokeToken(ctx context.Context, tokenID string) (TokenInfo, error)
	// RevocationsInForce counts the revocations in force on every alias,
	// for metrics.
	RevocationsInForce(ctx context.Context) (int, error)
	// Migrate brings the schema up to date; safe to call from several
	// processes at once.
	Migrate(ctx context.Context) error
	// ApplyMigrations is Migrate that tells which migrations this call
	// applied, by file name in the order applied; none when the schema
	// was up to date.
	ApplyMigrations(ctx context.Context) ([]string, error)
}

// Store is everything a database backend keeps.
type Store interface {
	Catalog
	Admin
	// SessionKey returns the key that signs session cookies, creating it
	// on first use; every node of a deployment gets the same key.
	SessionKey(ctx context.Context) ([]byte, error)
}

// ListQuery selects a page of an organization's aliases.
type ListQuery struct {
	// Type limits the page to one type; empty means both.
	Type  Type
	After *Cursor
	Limit int
}

// Org is an organization: the owner of aliases and tokens.
type Org struct {
	ID        string    `json:"org_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// TokenInfo describes an organization token; the token itself is never kept.
type TokenInfo struct {
	ID        string     `json:"token_id"`
	OrgID     string     `json:"org_id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}
