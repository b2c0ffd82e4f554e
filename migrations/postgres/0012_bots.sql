-- Bots and incoming webhooks: the same tables as migrations/sqlite
-- (0014_bots.sql). Tokens are stored only as their SHA-256 digest (hex).

-- Whether a message was posted by a bot (its JSON's "bot"; 0/1 like guest).
ALTER TABLE messages ADD COLUMN bot BIGINT NOT NULL DEFAULT 0;

-- A bot is an account with a row here; its users row has no password, so
-- it can never log in through the form. Revoking keeps the row (and name).
CREATE TABLE bots (
    user_id       BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);

-- The rooms a bot may read and post in.
CREATE TABLE bot_rooms (
    user_id BIGINT NOT NULL REFERENCES bots(user_id) ON DELETE CASCADE,
    room    TEXT NOT NULL,
    PRIMARY KEY (user_id, room)
);

CREATE TABLE hooks (
    id            BIGSERIAL PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    bot_id        BIGINT NOT NULL REFERENCES bots(user_id) ON DELETE CASCADE,
    room          TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
