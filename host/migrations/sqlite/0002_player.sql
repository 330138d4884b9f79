-- Playback: loudness measured once per cached rendition, and each guild's player state.

-- EBU R128 measurements of the download a rendition was made from. Gone with the blob.
CREATE TABLE loudness (
    hash            TEXT PRIMARY KEY REFERENCES blobs (hash) ON DELETE CASCADE,
    integrated_lufs REAL,
    true_peak_db    REAL,
    range_lu        REAL,
    gain_db         REAL NOT NULL,
    duration_ms     INTEGER
);

-- A guild's player (queue, position, settings) as JSON, saved on every change and
-- resumed at startup.
CREATE TABLE players (
    guild_id     INTEGER PRIMARY KEY,
    state        TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
);
