-- Conversations: replies, edits with their earlier versions, reactions, and
-- the room's one ordered sequence of changes. A change (an edit, a deletion,
-- a reaction) takes the next number of the room's counter (rooms.last_id),
-- like a new message, so one resume point covers both.
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
ALTER TABLE messages ADD COLUMN edited_at_ms INTEGER;

CREATE TABLE message_versions (
    room  TEXT NOT NULL,
    id    INTEGER NOT NULL,
    -- When this text was current from (the post, or an earlier edit).
    at_ms INTEGER NOT NULL,
    text  TEXT NOT NULL
);
CREATE INDEX message_versions_by_message ON message_versions(room, id);

CREATE TABLE reactions (
    room  TEXT NOT NULL,
    id    INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    name  TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (room, id, emoji, name)
) WITHOUT ROWID;

CREATE TABLE changes (
    room       TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
-- Retention deletes these by age, like messages (messages_by_time).
CREATE INDEX message_versions_by_time ON message_versions(at_ms);
CREATE INDEX reactions_by_time ON reactions(at_ms);
CREATE INDEX changes_by_time ON changes(at_ms);
