-- Full-text search (issue #16): `ILIKE` per word over a GIN trigram index
-- (pg_trgm), so any substring is found in any script, Chinese, Japanese
-- and Korean included; PostgreSQL keeps the index in step with every
-- insert, edit and deletion by itself.
--
-- pg_trgm goes into the schema `public`, named explicitly: the app may run
-- in a schema of its own (its search_path), and an extension created there
-- would be dropped with it (the tests drop theirs with CASCADE). `public`
-- need not be on the search_path: the operator class is named with its
-- schema, and ILIKE is PostgreSQL's own operator. pg_trgm is a trusted
-- extension: a database owner may create it; otherwise an administrator
-- runs this statement once.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- Built inside the migration's transaction, so posts wait while it builds:
-- on a large table, create it by hand first with CREATE INDEX CONCURRENTLY
-- IF NOT EXISTS messages_text_trgm ... and this statement finds it.
CREATE INDEX IF NOT EXISTS messages_text_trgm ON messages USING gin (text public.gin_trgm_ops);

-- One order across every room, in the order messages are stored: "newest
-- first" for search results and the paging cursor of GET /api/search
-- (`before`). Existing messages are numbered by time; new ones take the
-- sequence's next number when inserted (the writer's insert leaves the
-- column to its default).
CREATE SEQUENCE messages_search_seq;
ALTER TABLE messages ADD COLUMN search_seq BIGINT;
UPDATE messages SET search_seq = numbered.n
  FROM (SELECT room, id, row_number() OVER (ORDER BY at_ms, room, id) AS n FROM messages) AS numbered
 WHERE messages.room = numbered.room AND messages.id = numbered.id;
SELECT setval('messages_search_seq', COALESCE((SELECT max(search_seq) FROM messages), 0) + 1, false);
ALTER TABLE messages ALTER COLUMN search_seq SET DEFAULT nextval('messages_search_seq');
ALTER TABLE messages ALTER COLUMN search_seq SET NOT NULL;
ALTER SEQUENCE messages_search_seq OWNED BY messages.search_seq;
CREATE UNIQUE INDEX messages_by_search_seq ON messages (search_seq);
