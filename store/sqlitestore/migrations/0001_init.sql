-- The SQLite twin of store/pgstore/migrations/0001_init.sql: the same tables,
-- constraints and version rule. Tables are STRICT, so a column holds only its
-- declared type, as in PostgreSQL. Times are INTEGER Unix microseconds, the
-- precision of PostgreSQL's timestamptz, which list cursors rely on. The
-- defaults below serve rows inserted by hand: SQLite's clock has millisecond
-- precision; linkgate itself stamps its rows in microseconds.

-- Organizations own aliases and hold tokens; a token is kept only as the
-- SHA-256 of its text.
CREATE TABLE organizations (
	id         TEXT NOT NULL PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL DEFAULT (CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000)
) STRICT;

CREATE TABLE org_tokens (
	id         TEXT NOT NULL PRIMARY KEY,
	org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	token_hash BLOB NOT NULL UNIQUE,
	name       TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL DEFAULT (CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000),
	revoked_at INTEGER
) STRICT;
CREATE INDEX org_tokens_by_org ON org_tokens (org_id, created_at);

CREATE TABLE aliases (
	-- The GLOB is PostgreSQL's '^[A-Za-z0-9_-]{1,64}$' without a regexp
	-- function, which plain SQLite lacks.
	id          TEXT NOT NULL PRIMARY KEY
	            CHECK (length(id) BETWEEN 1 AND 64 AND id NOT GLOB '*[^A-Za-z0-9_-]*'),
	org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	type        TEXT NOT NULL CHECK (type IN ('live', 'conference')),
	name        TEXT,
	passcode    TEXT,
	jwt_secret  TEXT,
	-- Unique: a media server may know a publisher by nothing but its key.
	stream_key  TEXT UNIQUE,
	expired_at  INTEGER NOT NULL,
	inserted_at INTEGER NOT NULL DEFAULT (CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000),
	updated_at  INTEGER NOT NULL DEFAULT (CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000),
	version     INTEGER NOT NULL DEFAULT 1
) STRICT;
-- Keyset pagination of an organization's list.
CREATE INDEX aliases_by_org ON aliases (org_id, inserted_at, id);

-- Keys every node shares, such as the one that signs session cookies.
CREATE TABLE linkgate_keys (
	name       TEXT NOT NULL PRIMARY KEY,
	key        BLOB NOT NULL,
	created_at INTEGER NOT NULL DEFAULT (CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000)
) STRICT;

-- The version moves on every real change, also one made by hand in SQL, so
-- that anything issued against an older version (a session cookie, a cached
-- token) stops working; an update that changes nothing keeps version and
-- updated_at, and the version cannot be set by hand. SQLite's BEFORE
-- triggers cannot rewrite NEW, so this AFTER trigger corrects the row it
-- follows; recursive triggers are off by default, so its own UPDATEs do not
-- fire it again. updated_at never goes back: the clock here has millisecond
-- precision, the insert stamp microseconds.
CREATE TRIGGER aliases_version AFTER UPDATE ON aliases FOR EACH ROW
BEGIN
	UPDATE aliases
	SET version    = OLD.version + 1,
	    updated_at = max(CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000, OLD.updated_at + 1)
	WHERE id = NEW.id
	  AND (NEW.id, NEW.org_id, NEW.type, NEW.name, NEW.passcode, NEW.jwt_secret, NEW.stream_key, NEW.expired_at)
	      IS NOT
	      (OLD.id, OLD.org_id, OLD.type, OLD.name, OLD.passcode, OLD.jwt_secret, OLD.stream_key, OLD.expired_at);
	UPDATE aliases
	SET version = OLD.version
	WHERE id = NEW.id
	  AND NEW.version IS NOT OLD.version
	  AND (NEW.id, NEW.org_id, NEW.type, NEW.name, NEW.passcode, NEW.jwt_secret, NEW.stream_key, NEW.expired_at)
	      IS
	      (OLD.id, OLD.org_id, OLD.type, OLD.name, OLD.passcode, OLD.jwt_secret, OLD.stream_key, OLD.expired_at);
END;
