-- Alias IDs compare byte by byte, whatever the database's locale: list
-- pages (ordered by inserted_at, then id) come out the same as on the
-- embedded store, and the keyset comparison uses the index either way.
ALTER TABLE aliases ALTER COLUMN id TYPE text COLLATE "C";
