-- 3: per-app keys and the session's recent rotation times. Existing keys belong to the default
-- app `public` and existing sessions have no rotation times (an empty list: the grace window
-- then knows only the current generation's). The newest key is looked up per (app, kind), so
-- the index that finds it leads with the app. `ADD COLUMN` with a constant default rewrites no
-- row: old rows read the default.
ALTER TABLE keys ADD COLUMN app_id TEXT NOT NULL DEFAULT 'public';
DROP INDEX keys_by_kind;
CREATE INDEX keys_by_app_kind ON keys (app_id, kind, created_at, kid);
-- Decimal milliseconds separated by commas, oldest first (sessiond_core::model::encode_rotations).
ALTER TABLE sessions ADD COLUMN recent_rotations TEXT NOT NULL DEFAULT '';
