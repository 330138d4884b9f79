-- Plugins' timers (the `timers` interface): kept across restarts, fired by one
-- process. A process claims a due timer by setting `claimed_until` (a lease: if it
-- dies while the plugin runs, another process fires the timer after the lease) and
-- deletes it when the call is over.
CREATE TABLE timers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin        TEXT NOT NULL,
    -- Unix milliseconds.
    due_at        INTEGER NOT NULL,
    payload       BLOB NOT NULL,
    guild_id      INTEGER,
    claimed_until INTEGER
);
CREATE INDEX timers_due ON timers (due_at);
CREATE INDEX timers_plugin ON timers (plugin);
