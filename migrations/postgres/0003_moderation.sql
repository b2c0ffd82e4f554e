-- Moderation: tombstones, room locks and allow lists, mutes, bans, audit.
-- Names are stored lowercase (names are case-insensitive).
ALTER TABLE messages ADD COLUMN deleted_by TEXT;
ALTER TABLE messages ADD COLUMN deleted_at_ms BIGINT;
ALTER TABLE rooms ADD COLUMN locked BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN members_only BIGINT NOT NULL DEFAULT 0;
CREATE TABLE room_members (room TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (room, name));
CREATE TABLE mutes (room TEXT NOT NULL, name TEXT NOT NULL, until_ms BIGINT NOT NULL, PRIMARY KEY (room, name));
CREATE TABLE bans (name TEXT PRIMARY KEY, by_name TEXT NOT NULL, at_ms BIGINT NOT NULL);
CREATE TABLE audit (
    id     BIGSERIAL PRIMARY KEY,
    at_ms  BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    room   TEXT,
    detail TEXT
);
