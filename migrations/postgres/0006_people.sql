-- Read positions, direct messages, blocks and per-account settings.

-- How far each account has read each room (only ever moves forward).
CREATE TABLE read_positions (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room    TEXT NOT NULL,
    id      BIGINT NOT NULL,
    PRIMARY KEY (user_id, room)
);

-- A direct-message room and its fixed members, by account (a name freed by
-- a deleted account and taken again must not inherit the conversation).
CREATE TABLE dm_members (
    room    TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (room, user_id)
);
CREATE INDEX dm_members_by_user ON dm_members(user_id);

-- Who blocked whom: a blocked account cannot start a DM with the blocker.
CREATE TABLE blocks (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, blocked_id)
);

CREATE TABLE user_settings (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    notify  TEXT NOT NULL
);
