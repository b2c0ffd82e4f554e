-- Bots: accounts that act through the JSON API with a bearer token instead
-- of a session, each kept to a list of rooms; and incoming webhooks, each
-- posting to one room as one bot. Tokens are stored only as their SHA-256
-- digest (hex); the token itself is shown once, when it is made.

-- Whether a message was posted by a bot (its JSON's "bot").
ALTER TABLE messages ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;

-- A bot is an account (its name is a handle like any other, unique with
-- people's) with a row here; its users row has no password, so it can never
-- log in through the form. Revoking keeps the row (and the name).
CREATE TABLE bots (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);

-- The rooms a bot may read and post in.
CREATE TABLE bot_rooms (
    user_id INTEGER NOT NULL REFERENCES bots(user_id) ON DELETE CASCADE,
    room    TEXT NOT NULL,
    PRIMARY KEY (user_id, room)
) WITHOUT ROWID;

CREATE TABLE hooks (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    bot_id        INTEGER NOT NULL REFERENCES bots(user_id) ON DELETE CASCADE,
    room          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);
