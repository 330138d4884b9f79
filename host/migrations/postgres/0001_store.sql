-- The whole store on PostgreSQL: the same tables as the SQLite migrations 0001-0005,
-- in PostgreSQL's types. Times are unix milliseconds.

-- A blob's recency is the latest access of any track pointing at it (see eviction).
CREATE TABLE blobs (
    hash         TEXT PRIMARY KEY,
    size         BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE tracks (
    source       TEXT NOT NULL,
    id           TEXT NOT NULL,
    hash         TEXT NOT NULL REFERENCES blobs (hash) ON DELETE CASCADE,
    access_count BIGINT NOT NULL DEFAULT 0,
    last_access  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX tracks_hash ON tracks (hash);

-- A lease marks a blob in use; holders renew `expires_at`, so a crashed holder's lapses.
CREATE TABLE leases (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL,
    holder       TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX leases_hash ON leases (hash, expires_at);
CREATE INDEX leases_holder ON leases (holder);

-- Event claims for exactly-once handling.
CREATE TABLE claims (
    kind         TEXT NOT NULL,
    id           TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);

-- TTL metadata cache (search results, catalogues).
CREATE TABLE meta_cache (
    key          TEXT PRIMARY KEY,
    value        BYTEA NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX meta_cache_expires ON meta_cache (expires_at);

-- EBU R128 measurements of the download a rendition was made from. Gone with the blob.
CREATE TABLE loudness (
    hash            TEXT PRIMARY KEY REFERENCES blobs (hash) ON DELETE CASCADE,
    integrated_lufs DOUBLE PRECISION,
    true_peak_db    DOUBLE PRECISION,
    range_lu        DOUBLE PRECISION,
    gain_db         DOUBLE PRECISION NOT NULL,
    duration_ms     BIGINT
);

-- A guild's player (queue, position, settings) as JSON.
CREATE TABLE players (
    guild_id     BIGINT PRIMARY KEY,
    state        TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Plugins' key-value entries; NULL `expires_at` never expires.
CREATE TABLE kv (
    plugin     TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      BYTEA NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (plugin, key)
);

-- Plugins' timers; `claimed_until` is the firing process's lease.
CREATE TABLE timers (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plugin        TEXT NOT NULL,
    due_at        BIGINT NOT NULL,
    payload       BYTEA NOT NULL,
    guild_id      BIGINT,
    claimed_until BIGINT
);
CREATE INDEX timers_due ON timers (due_at);
CREATE INDEX timers_plugin ON timers (plugin);
