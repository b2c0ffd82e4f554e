-- Full-text search (issue #16): an FTS5 index with the trigram tokenizer,
-- so any substring of three or more characters is found in any script
-- (Chinese, Japanese and Korean have no spaces between words), kept in step
-- with `messages` by triggers: the message writer's inserts, edits,
-- deletions (the text becomes '') and retention all go through them, and
-- no Rust code writes the index.
--
-- `messages` is a WITHOUT ROWID table keyed by (room, id), and FTS5 needs an
-- integer row id, so the index's external content is `search_docs`: one row
-- per searchable message with a number of its own. Numbers are handed out
-- in the order messages are stored, so "newest first" is the index's own
-- order and a page ends after LIMIT rows however common a word is; the
-- number is also the paging cursor of GET /api/search (`before`), one
-- order across every room. (No AUTOINCREMENT: it costs every insert a
-- write, and the number of a deleted newest row, taken again, is below no
-- cursor already handed out, so no page repeats or skips a hit.)
--
-- The text is stored with two newlines after it. Terms never contain
-- whitespace, so this finds nothing new, but every occurrence of a one- or
-- two-character term is then the start of some trigram in the index, which
-- lets a search narrow such terms through the index's vocabulary
-- (`search_vocab`) instead of reading every row (src/store/search.rs).
CREATE TABLE search_docs (
    doc  INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    id   INTEGER NOT NULL,
    text TEXT NOT NULL
);
-- Edits and deletions find a message's row by its key; a search kept to
-- one small room reads that room's rows newest first instead of every
-- match of a common word in every room.
CREATE UNIQUE INDEX search_docs_by_message ON search_docs(room, id);
CREATE INDEX search_docs_by_room ON search_docs(room, doc);

CREATE VIRTUAL TABLE message_search USING fts5(
    text,
    content = 'search_docs',
    content_rowid = 'doc',
    tokenize = 'trigram'
);
CREATE VIRTUAL TABLE search_vocab USING fts5vocab('message_search', 'row');

-- The index follows search_docs (the usual external-content triggers).
CREATE TRIGGER search_docs_inserted AFTER INSERT ON search_docs BEGIN
    INSERT INTO message_search (rowid, text) VALUES (new.doc, new.text);
END;
CREATE TRIGGER search_docs_deleted AFTER DELETE ON search_docs BEGIN
    INSERT INTO message_search (message_search, rowid, text) VALUES ('delete', old.doc, old.text);
END;
CREATE TRIGGER search_docs_updated AFTER UPDATE OF text ON search_docs BEGIN
    INSERT INTO message_search (message_search, rowid, text) VALUES ('delete', old.doc, old.text);
    INSERT INTO message_search (rowid, text) VALUES (new.doc, new.text);
END;

-- search_docs follows messages: a new message is searchable, an edit
-- replaces its text (keeping its place in the order), a deletion (the text
-- becomes '' with a tombstone) or retention removes it.
CREATE TRIGGER messages_search_inserted AFTER INSERT ON messages
WHEN new.text <> '' AND new.deleted_by IS NULL BEGIN
    INSERT INTO search_docs (room, id, text) VALUES (new.room, new.id, new.text || char(10, 10));
END;
CREATE TRIGGER messages_search_updated AFTER UPDATE OF text, deleted_by ON messages BEGIN
    DELETE FROM search_docs
     WHERE room = old.room AND id = old.id AND (new.text = '' OR new.deleted_by IS NOT NULL);
    UPDATE search_docs SET text = new.text || char(10, 10)
     WHERE room = old.room AND id = old.id AND new.text <> '' AND new.deleted_by IS NULL;
END;
CREATE TRIGGER messages_search_deleted AFTER DELETE ON messages BEGIN
    DELETE FROM search_docs WHERE room = old.room AND id = old.id;
END;

-- What is already there, oldest first.
INSERT INTO search_docs (room, id, text)
SELECT room, id, text || char(10, 10) FROM messages
 WHERE text <> '' AND deleted_by IS NULL
 ORDER BY at_ms, room, id;
