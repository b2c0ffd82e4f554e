-- Accounts, revocable sessions, rooms with their id counters, and messages.
-- The same tables as migrations/sqlite; times are milliseconds since the
-- Unix epoch (UTC); booleans are 0/1 so both engines read them alike.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
-- "Alice" and "alice" are one account, so nobody can pass for another.
CREATE UNIQUE INDEX users_name_lower ON users (lower(name));

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at_ms   BIGINT NOT NULL,
    last_seen_at_ms BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

-- One row per room that has ever had a message; `last_id` is the room's id
-- counter, bumped (and so row-locked) inside the inserting transaction:
-- two instances posting to one room take turns, and ids commit in order.
CREATE TABLE rooms (
    name       TEXT PRIMARY KEY,
    last_id    BIGINT NOT NULL,
    last_at_ms BIGINT NOT NULL
);

CREATE TABLE messages (
    room      TEXT NOT NULL,
    id        BIGINT NOT NULL,
    user_id   BIGINT REFERENCES users(id) ON DELETE SET NULL,
    user_name TEXT NOT NULL,
    guest     BIGINT NOT NULL,
    text      TEXT NOT NULL,
    at_ms     BIGINT NOT NULL,
    PRIMARY KEY (room, id)
);
CREATE INDEX messages_by_user ON messages(user_id) WHERE user_id IS NOT NULL;
