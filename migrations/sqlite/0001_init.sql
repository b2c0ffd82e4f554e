-- Accounts, revocable sessions, rooms with their id counters, and messages.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    -- NOCASE: "Alice" and "alice" are one account, so nobody can pass for another.
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at_ms   INTEGER NOT NULL,
    last_seen_at_ms INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

-- One row per room that has ever had a message; `last_id` is the room's id
-- counter, bumped inside the inserting transaction.
CREATE TABLE rooms (
    name       TEXT PRIMARY KEY,
    last_id    INTEGER NOT NULL,
    last_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE messages (
    room      TEXT NOT NULL,
    id        INTEGER NOT NULL,
    user_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    user_name TEXT NOT NULL,
    guest     INTEGER NOT NULL,
    text      TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    PRIMARY KEY (room, id)
) WITHOUT ROWID;
