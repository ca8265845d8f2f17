-- What session cookies and playback tokens are bound to: an epoch that
-- moves when what opens the alias changes (passcode, JWT secret, stream
-- key), so that renaming an alias keeps its viewers. A JWT secret rotated
-- with a grace period keeps the previous secret, and the sessions of the
-- previous epoch, valid until previous_until.
ALTER TABLE aliases
	ADD COLUMN auth_epoch          bigint NOT NULL DEFAULT 1,
	ADD COLUMN previous_jwt_secret text,
	ADD COLUMN previous_until      timestamptz,
	ADD COLUMN previous_epoch      bigint NOT NULL DEFAULT 0;

-- The version moves on every real change; the epoch moves with the
-- credentials, also when they are changed by hand in SQL, unless the
-- update set the epoch itself (linkgate does, to keep a grace period).
CREATE OR REPLACE FUNCTION linkgate_alias_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.passcode, NEW.jwt_secret, NEW.stream_key) IS DISTINCT FROM (OLD.passcode, OLD.jwt_secret, OLD.stream_key)
	   AND NEW.auth_epoch = OLD.auth_epoch THEN
		NEW.auth_epoch := OLD.auth_epoch + 1;
		NEW.previous_jwt_secret := NULL;
		NEW.previous_until := NULL;
		NEW.previous_epoch := 0;
	END IF;
	IF (NEW.id, NEW.org_id, NEW.type, NEW.name, NEW.passcode, NEW.jwt_secret, NEW.stream_key, NEW.expired_at,
	    NEW.auth_epoch, NEW.previous_jwt_secret, NEW.previous_until, NEW.previous_epoch)
	   IS DISTINCT FROM
	   (OLD.id, OLD.org_id, OLD.type, OLD.name, OLD.passcode, OLD.jwt_secret, OLD.stream_key, OLD.expired_at,
	    OLD.auth_epoch, OLD.previous_jwt_secret, OLD.previous_until, OLD.previous_epoch) THEN
		NEW.version := OLD.version + 1;
		NEW.updated_at := clock_timestamp();
	ELSE
		NEW.version := OLD.version;
	END IF;
	RETURN NEW;
END $$;

-- Revocations in force on an alias: a user, a jti, or everything issued
-- before a moment (one row per alias). A revocation is kept until no
-- credential it could match can still be valid.
CREATE TABLE revocations (
	alias_id   text NOT NULL REFERENCES aliases (id) ON DELETE CASCADE,
	kind       text NOT NULL CHECK (kind IN ('user', 'before', 'jti')),
	value      text NOT NULL DEFAULT '',
	before     timestamptz,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (alias_id, kind, value)
);
CREATE INDEX revocations_by_expiry ON revocations (expires_at);

-- A revocation changes who its alias admits: every node drops the alias,
-- and reads it again with its revocations.
CREATE FUNCTION linkgate_notify_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM pg_notify('linkgate_invalidate', 'alias:' || OLD.alias_id);
	ELSE
		PERFORM pg_notify('linkgate_invalidate', 'alias:' || NEW.alias_id);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER revocations_notify AFTER INSERT OR UPDATE OR DELETE ON revocations
	FOR EACH ROW EXECUTE FUNCTION linkgate_notify_revocation();
