-- 3: per-app keys and the session's recent rotation times. Existing keys belong to the default
-- app `public`, existing sessions have no rotation times (an empty list). The newest key is
-- looked up per (app, kind), so its index leads with the app. Both columns have a constant
-- default, so adding them rewrites no row (PostgreSQL 11+) and holds the table's lock only
-- briefly. Rotation times are a BIGINT[]: the server checks every element is a 64-bit integer
-- and the driver decodes it as is, with no text form to parse.
ALTER TABLE {s}.keys ADD COLUMN app_id TEXT COLLATE "C" NOT NULL DEFAULT 'public';
DROP INDEX {s}.keys_by_kind;
CREATE INDEX keys_by_app_kind ON {s}.keys (app_id, kind, created_at, kid);
ALTER TABLE {s}.sessions ADD COLUMN recent_rotations BIGINT[] NOT NULL DEFAULT '{}';
