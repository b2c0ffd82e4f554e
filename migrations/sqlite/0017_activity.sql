-- Activity (issue #20): a daily rollup of who wrote how much, so the
-- admins' activity page reads a few hundred rows a day at most instead of
-- counting messages. Kept by a trigger on `messages`, inside the message
-- writer's own transaction, so the counts cannot drift from what was
-- stored: every post, bot post and seeded or imported row is counted once.
-- Edits, deletions and retention do not uncount: the page says how much
-- was written on a day, not how much is left of it.
--
-- A day is a UTC day, numbered from 1970-01-01 (at_ms / 86400000).
--
-- `activity_rooms`: messages per day and room, split by who wrote them.
-- Every direct conversation is counted under the one key 'dm-' (the DM
-- rooms' prefix), so the rollup keeps no trace of which DMs exist: the
-- page can show how much was said in DMs, never between whom.
CREATE TABLE activity_rooms (
    day     INTEGER NOT NULL,
    room    TEXT NOT NULL,
    members INTEGER NOT NULL DEFAULT 0,
    guests  INTEGER NOT NULL DEFAULT 0,
    bots    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, room)
) WITHOUT ROWID;

-- `activity_people`: who wrote at least one message on a day (bots are not
-- people): 'u' and the account's id for a member, 'g' and the name for a
-- guest (guests have no id). Housekeeping deletes rows past the message
-- retention period, as it deletes the messages that named them.
CREATE TABLE activity_people (
    day    INTEGER NOT NULL,
    person TEXT NOT NULL,
    guest  INTEGER NOT NULL,
    PRIMARY KEY (day, person)
) WITHOUT ROWID;

CREATE TRIGGER messages_count_activity AFTER INSERT ON messages BEGIN
    INSERT INTO activity_rooms (day, room, members, guests, bots)
    VALUES (NEW.at_ms / 86400000,
            CASE WHEN substr(NEW.room, 1, 3) = 'dm-' THEN 'dm-' ELSE NEW.room END,
            NEW.bot = 0 AND NEW.guest = 0, NEW.bot = 0 AND NEW.guest <> 0, NEW.bot <> 0)
    ON CONFLICT (day, room) DO UPDATE SET members = members + excluded.members,
        guests = guests + excluded.guests, bots = bots + excluded.bots;
    INSERT INTO activity_people (day, person, guest)
    SELECT NEW.at_ms / 86400000,
           CASE WHEN NEW.guest <> 0 OR NEW.user_id IS NULL THEN 'g' || NEW.user_name ELSE 'u' || NEW.user_id END,
           NEW.guest <> 0
     WHERE NEW.bot = 0
    ON CONFLICT (day, person) DO NOTHING;
END;

-- What was written before this migration: one pass over the messages, once.
INSERT INTO activity_rooms (day, room, members, guests, bots)
SELECT at_ms / 86400000, CASE WHEN substr(room, 1, 3) = 'dm-' THEN 'dm-' ELSE room END,
       sum(bot = 0 AND guest = 0), sum(bot = 0 AND guest <> 0), sum(bot <> 0)
  FROM messages GROUP BY 1, 2;
INSERT INTO activity_people (day, person, guest)
SELECT DISTINCT at_ms / 86400000,
       CASE WHEN guest <> 0 OR user_id IS NULL THEN 'g' || user_name ELSE 'u' || user_id END, guest <> 0
  FROM messages WHERE bot = 0;
