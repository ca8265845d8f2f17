-- The SQLite twin of store/pgstore/migrations/0004_stream_key_epoch.sql:
-- the credential epoch moves with the passcode and the JWT secret only;
-- publishers' sessions are bound to the stream key's own digest.
DROP TRIGGER aliases_epoch;
CREATE TRIGGER aliases_epoch AFTER UPDATE ON aliases FOR EACH ROW
	WHEN (NEW.passcode, NEW.jwt_secret) IS NOT (OLD.passcode, OLD.jwt_secret)
	 AND NEW.auth_epoch = OLD.auth_epoch
BEGIN
	UPDATE aliases
	SET auth_epoch = OLD.auth_epoch + 1, previous_jwt_secret = NULL, previous_until = NULL, previous_epoch = 0
	WHERE id = NEW.id;
END;
