-- The SQLite twin of store/pgstore/migrations/0003_sessions.sql: the
-- credential epoch, the grace period of a rotated JWT secret, and the
-- revocations in force.
ALTER TABLE aliases ADD COLUMN auth_epoch INTEGER NOT NULL DEFAULT 1;
ALTER TABLE aliases ADD COLUMN previous_jwt_secret TEXT;
ALTER TABLE aliases ADD COLUMN previous_until INTEGER;
ALTER TABLE aliases ADD COLUMN previous_epoch INTEGER NOT NULL DEFAULT 0;

-- The version rule of 0001, over the new columns too.
DROP TRIGGER aliases_version;
CREATE TRIGGER aliases_version AFTER UPDATE ON aliases FOR EACH ROW
BEGIN
	UPDATE aliases
	SET version    = OLD.version + 1,
	    updated_at = max(CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000, OLD.updated_at + 1)
	WHERE id = NEW.id
	  AND (NEW.id, NEW.org_id, NEW.type, NEW.name, NEW.passcode, NEW.jwt_secret, NEW.stream_key, NEW.expired_at,
	       NEW.auth_epoch, NEW.previous_jwt_secret, NEW.previous_until, NEW.previous_epoch)
	      IS NOT
	      (OLD.id, OLD.org_id, OLD.type, OLD.name, OLD.passcode, OLD.jwt_secret, OLD.stream_key, OLD.expired_at,
	       OLD.auth_epoch, OLD.previous_jwt_secret, OLD.previous_until, OLD.previous_epoch);
	UPDATE aliases
	SET version = OLD.version
	WHERE id = NEW.id
	  AND NEW.version IS NOT OLD.version
	  AND (NEW.id, NEW.org_id, NEW.type, NEW.name, NEW.passcode, NEW.jwt_secret, NEW.stream_key, NEW.expired_at,
	       NEW.auth_epoch, NEW.previous_jwt_secret, NEW.previous_until, NEW.previous_epoch)
	      IS
	      (OLD.id, OLD.org_id, OLD.type, OLD.name, OLD.passcode, OLD.jwt_secret, OLD.stream_key, OLD.expired_at,
	       OLD.auth_epoch, OLD.previous_jwt_secret, OLD.previous_until, OLD.previous_epoch);
END;

-- The epoch moves with the credentials, also when they are changed by hand,
-- unless the update set the epoch itself (linkgate does, to keep a grace
-- period).
CREATE TRIGGER aliases_epoch AFTER UPDATE ON aliases FOR EACH ROW
	WHEN (NEW.passcode, NEW.jwt_secret, NEW.stream_key) IS NOT (OLD.passcode, OLD.jwt_secret, OLD.stream_key)
	 AND NEW.auth_epoch = OLD.auth_epoch
BEGIN
	UPDATE aliases
	SET auth_epoch = OLD.auth_epoch + 1, previous_jwt_secret = NULL, previous_until = NULL, previous_epoch = 0
	WHERE id = NEW.id;
END;

CREATE TABLE revocations (
	alias_id   TEXT NOT NULL REFERENCES aliases (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL CHECK (kind IN ('user', 'before', 'jti')),
	value      TEXT NOT NULL DEFAULT '',
	before     INTEGER,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (alias_id, kind, value)
) STRICT;
CREATE INDEX revocations_by_expiry ON revocations (expires_at);
