-- Activity (issue #20): a daily rollup of who wrote how much, so the
-- admins' activity page reads a few hundred rows a day at most instead of
-- counting messages. See migrations/sqlite/0017_activity.sql for what each
-- table holds (the same here); this file differs only in how the rollup
-- is kept.
--
-- The writer inserts a batch in one statement, so a statement-level
-- trigger adds each batch's counts with one upsert per table (grouped per
-- day and room, and per day and person), instead of one per message. Rows
-- are upserted in key order: two instances' batches that both add the same
-- new people then wait for each other in one order, never in a cycle. (The
-- room rows, locked first by the writer in name order, already keep two
-- batches of one room apart.)
CREATE TABLE activity_rooms (
    day     BIGINT NOT NULL,
    room    TEXT NOT NULL,
    members BIGINT NOT NULL DEFAULT 0,
    guests  BIGINT NOT NULL DEFAULT 0,
    bots    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, room)
);

CREATE TABLE activity_people (
    day    BIGINT NOT NULL,
    person TEXT NOT NULL,
    guest  BIGINT NOT NULL,
    PRIMARY KEY (day, person)
);

CREATE FUNCTION messages_count_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_rooms (day, room, members, guests, bots)
    SELECT at_ms / 86400000 AS day, CASE WHEN left(room, 3) = 'dm-' THEN 'dm-' ELSE room END AS key,
           count(*) FILTER (WHERE bot = 0 AND guest = 0), count(*) FILTER (WHERE bot = 0 AND guest <> 0),
           count(*) FILTER (WHERE bot <> 0)
      FROM added GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (day, room) DO UPDATE SET members = activity_rooms.members + excluded.members,
        guests = activity_rooms.guests + excluded.guests, bots = activity_rooms.bots + excluded.bots;
    INSERT INTO activity_people (day, person, guest)
    SELECT DISTINCT at_ms / 86400000,
           CASE WHEN guest <> 0 OR user_id IS NULL THEN 'g' || user_name ELSE 'u' || user_id END,
           CASE WHEN guest <> 0 THEN 1 ELSE 0 END
      FROM added WHERE bot = 0 ORDER BY 1, 2
    ON CONFLICT (day, person) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_count_activity AFTER INSERT ON messages
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION messages_count_activity();

-- What was written before this migration: one pass over the messages, once.
INSERT INTO activity_rooms (day, room, members, guests, bots)
SELECT at_ms / 86400000, CASE WHEN left(room, 3) = 'dm-' THEN 'dm-' ELSE room END,
       count(*) FILTER (WHERE bot = 0 AND guest = 0), count(*) FILTER (WHERE bot = 0 AND guest <> 0),
       count(*) FILTER (WHERE bot <> 0)
  FROM messages GROUP BY 1, 2;
INSERT INTO activity_people (day, person, guest)
SELECT DISTINCT at_ms / 86400000,
       CASE WHEN guest <> 0 OR user_id IS NULL THEN 'g' || user_name ELSE 'u' || user_id END,
       CASE WHEN guest <> 0 THEN 1 ELSE 0 END
  FROM messages WHERE bot = 0;
