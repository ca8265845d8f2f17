-- Organizations own aliases and hold tokens; a token is kept only as the
-- SHA-256 of its text.
CREATE TABLE organizations (
	id         text PRIMARY KEY,
	name       text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE org_tokens (
	id         text PRIMARY KEY,
	org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	token_hash bytea NOT NULL CONSTRAINT org_tokens_hash_unique UNIQUE,
	name       text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now(),
	revoked_at timestamptz
);
CREATE INDEX org_tokens_by_org ON org_tokens (org_id, created_at);

CREATE TABLE aliases (
	id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
	org_id      text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	type        text NOT NULL CHECK (type IN ('live', 'conference')),
	name        text,
	passcode    text,
	jwt_secret  text,
	-- Unique: a media server may know a publisher by nothing but its key.
	stream_key  text CONSTRAINT aliases_stream_key_unique UNIQUE,
	expired_at  timestamptz NOT NULL,
	inserted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	version     bigint NOT NULL DEFAULT 1
);
-- Keyset pagination of an organization's list.
CREATE INDEX aliases_by_org ON aliases (org_id, inserted_at, id);

-- Keys every node shares, such as the one that signs session cookies.
CREATE TABLE linkgate_keys (
	name       text PRIMARY KEY,
	key        bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- The version moves on every real change, also one made by hand in SQL, so
-- that anything issued against an older version (a session cookie, a cached
-- token) stops working.
CREATE FUNCTION linkgate_alias_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.id, NEW.org_id, NEW.type, NEW.name, NEW.passcode, NEW.jwt_secret, NEW.stream_key, NEW.expired_at)
	   IS DISTINCT FROM
	   (OLD.id, OLD.org_id, OLD.type, OLD.name, OLD.passcode, OLD.jwt_secret, OLD.stream_key, OLD.expired_at) THEN
		NEW.version := OLD.version + 1;
		NEW.updated_at := clock_timestamp();
	ELSE
		NEW.version := OLD.version;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER aliases_version BEFORE UPDATE ON aliases
	FOR EACH ROW EXECUTE FUNCTION linkgate_alias_version();

-- Every change to an alias or a token, through linkgate or by hand, tells
-- every node's cache which entry to drop: "alias:<id>" or "token:<hash hex>".
-- Inserts too: a node may remember that the ID did not exist.
CREATE FUNCTION linkgate_notify_alias() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN
		PERFORM pg_notify('linkgate_invalidate', 'alias:' || OLD.id);
	END IF;
	IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.id <> OLD.id) THEN
		PERFORM pg_notify('linkgate_invalidate', 'alias:' || NEW.id);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER aliases_notify AFTER INSERT OR UPDATE OR DELETE ON aliases
	FOR EACH ROW EXECUTE FUNCTION linkgate_notify_alias();

CREATE FUNCTION linkgate_notify_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN
		PERFORM pg_notify('linkgate_invalidate', 'token:' || encode(OLD.token_hash, 'hex'));
	END IF;
	IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.token_hash <> OLD.token_hash) THEN
		PERFORM pg_notify('linkgate_invalidate', 'token:' || encode(NEW.token_hash, 'hex'));
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER org_tokens_notify AFTER INSERT OR UPDATE OR DELETE ON org_tokens
	FOR EACH ROW EXECUTE FUNCTION linkgate_notify_token();
