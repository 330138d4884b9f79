-- Each guild's settings (`/settings`): what its managers changed from the operator's
-- defaults, as JSON. As SQLite's 0006.
CREATE TABLE guild_settings (
    guild_id     BIGINT PRIMARY KEY,
    settings     TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);
