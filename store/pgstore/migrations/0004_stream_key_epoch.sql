-- The credential epoch is what viewers' and hosts' sessions are bound to:
-- it moves with the passcode and the JWT secret only. Publishers' sessions
-- are bound to the stream key's own digest, so a new stream key no longer
-- ends every viewer's session.
CREATE OR REPLACE FUNCTION linkgate_alias_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.passcode, NEW.jwt_secret) IS DISTINCT FROM (OLD.passcode, OLD.jwt_secret)
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
