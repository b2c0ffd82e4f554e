-- Sign-up modes, invites and password-reset links (issue #17).
-- Codes and tokens are stored only as their SHA-256 (hex); times in ms.

-- Server-wide values changed at run time (the registration mode), by key.
CREATE TABLE site_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE invites (
    id            INTEGER PRIMARY KEY,
    code_hash     TEXT NOT NULL UNIQUE,
    created_by    TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    uses          INTEGER NOT NULL,
    used          INTEGER NOT NULL DEFAULT 0,
    revoked_at_ms INTEGER,
    -- The members-only rooms its registrations join, space separated.
    rooms         TEXT NOT NULL DEFAULT ''
);

CREATE TABLE reset_tokens (
    token_hash    TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms    INTEGER
);
CREATE INDEX reset_tokens_by_user ON reset_tokens(user_id);
