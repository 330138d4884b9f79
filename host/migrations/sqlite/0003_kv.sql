-- Plugins' key-value entries (the `kv` interface): private to each plugin, shared by
-- every process on this database, kept across restarts.
CREATE TABLE kv (
    plugin     TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      BLOB NOT NULL,
    -- Unix milliseconds; NULL never expires.
    expires_at INTEGER,
    PRIMARY KEY (plugin, key)
);
