-- Files attached to messages (POST /rooms/<room>/attachments). The bytes are
-- in the files directory under `id` (and `id`'s thumbnail for images); a row
-- is written in the transaction that stores its message, and deleted with
-- the message (by a deletion or by retention), after which the files go.
CREATE TABLE attachments (
    -- 128 random bits, URL-safe base64: the only key a URL holds.
    id            TEXT PRIMARY KEY,
    room          TEXT NOT NULL,
    message_id    BIGINT NOT NULL,
    -- Who uploaded it, for the per-account quota: the account (NULL for
    -- guests, and once the account is deleted) and the name.
    owner_id      BIGINT REFERENCES users(id) ON DELETE SET NULL,
    owner_name    TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- Sniffed from the bytes, never the client's word.
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    -- Images only.
    width         BIGINT,
    height        BIGINT,
    -- The message's time: retention deletes these by it, like messages.
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX attachments_by_message ON attachments(room, message_id);
CREATE INDEX attachments_by_owner ON attachments(owner_id, owner_name);
CREATE INDEX attachments_by_time ON attachments(created_at_ms);
