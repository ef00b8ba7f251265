-- 1: sessions (one b-tree keyed by handle; handles are time-ordered so inserts append) and keys.
CREATE TABLE sessions (
    handle              TEXT PRIMARY KEY NOT NULL,
    app_id              TEXT NOT NULL,
    tenant_id           TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    recipe_user_id      TEXT NOT NULL,
    public_data         TEXT NOT NULL,
    private_data        TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    last_active_at      INTEGER NOT NULL,
    rotated_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    generation          INTEGER NOT NULL,
    refresh_hash        BLOB NOT NULL,
    access_hash         BLOB,
    flags               INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    client_ip           TEXT,
    user_agent          TEXT
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (app_id, user_id, created_at);
-- Only account-linked sessions need their own recipe-user index; the others are found
-- through sessions_by_user (recipe_user_id = user_id).
CREATE INDEX sessions_by_linked_recipe_user ON sessions (app_id, recipe_user_id, created_at)
    WHERE recipe_user_id <> user_id;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE TABLE keys (
    kid        TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    alg        TEXT NOT NULL,
    material   BLOB NOT NULL,
    sealed     INTEGER NOT NULL,
    public_jwk TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX keys_by_kind ON keys (kind, created_at);
