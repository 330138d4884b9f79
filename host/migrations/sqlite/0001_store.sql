-- The cache store's index. Times are unix milliseconds.

-- A blob's recency is the latest access of any track pointing at it (see eviction).
CREATE TABLE blobs (
    hash         TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE tracks (
    source       TEXT NOT NULL,
    id           TEXT NOT NULL,
    hash         TEXT NOT NULL REFERENCES blobs (hash) ON DELETE CASCADE,
    access_count INTEGER NOT NULL DEFAULT 0,
    last_access  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX tracks_hash ON tracks (hash);

-- A lease marks a blob in use; holders renew `expires_at`, so a crashed holder's lapses.
CREATE TABLE leases (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL,
    holder       TEXT NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX leases_hash ON leases (hash, expires_at);
CREATE INDEX leases_holder ON leases (holder);

-- Event claims for exactly-once handling.
CREATE TABLE claims (
    kind         TEXT NOT NULL,
    id           TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);

-- TTL metadata cache (search results, catalogues).
CREATE TABLE meta_cache (
    key          TEXT PRIMARY KEY,
    value        BLOB NOT NULL,
    expires_at   INTEGER NOT NULL
);
