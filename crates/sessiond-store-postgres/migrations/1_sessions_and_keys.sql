-- 1: sessions and keys. Ids compare byte for byte (`COLLATE "C"`), as in the other stores, and
-- ordering ties on the handle sort the same way everywhere. `{s}` is the quoted schema name.
CREATE TABLE {s}.sessions (
    handle              TEXT COLLATE "C" PRIMARY KEY,
    app_id              TEXT COLLATE "C" NOT NULL,
    tenant_id           TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL,
    recipe_user_id      TEXT COLLATE "C" NOT NULL,
    public_data         TEXT NOT NULL,
    private_data        TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    last_active_at      BIGINT NOT NULL,
    rotated_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    generation          BIGINT NOT NULL,
    refresh_hash        BYTEA NOT NULL,
    access_hash         BYTEA,
    flags               BIGINT NOT NULL,
    version             BIGINT NOT NULL,
    client_ip           TEXT,
    user_agent          TEXT
) WITH (fillfactor = 90);
CREATE INDEX sessions_by_user ON {s}.sessions (app_id, user_id, created_at);
-- Only account-linked sessions need their own recipe-user index; the others are found
-- through sessions_by_user (recipe_user_id = user_id).
CREATE INDEX sessions_by_linked_recipe_user ON {s}.sessions (app_id, recipe_user_id, created_at)
    WHERE recipe_user_id <> user_id;
CREATE INDEX sessions_by_expiry ON {s}.sessions (expires_at);
CREATE TABLE {s}.keys (
    kid        TEXT COLLATE "C" PRIMARY KEY,
    kind       TEXT COLLATE "C" NOT NULL,
    alg        TEXT NOT NULL,
    material   BYTEA NOT NULL,
    sealed     BOOLEAN NOT NULL,
    public_jwk TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX keys_by_kind ON {s}.keys (kind, created_at, kid);
