-- Retention (message_retention_days) deletes the oldest messages in small
-- batches; this index finds them without reading the table.
CREATE INDEX messages_by_time ON messages(at_ms);
