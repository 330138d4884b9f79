-- Each guild's settings (`/settings`): what its managers changed from the operator's
-- defaults, as JSON.
CREATE TABLE guild_settings (
    guild_id     INTEGER PRIMARY KEY,
    settings     TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
);
