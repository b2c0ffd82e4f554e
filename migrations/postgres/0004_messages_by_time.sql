-- Retention (message_retention_days) deletes the oldest messages in small
-- batches; this index finds them without reading the table. (Built inside
-- the migration's transaction, so posts wait while it builds: on a large
-- table, create it by hand first with CREATE INDEX CONCURRENTLY
-- IF NOT EXISTS ... and this statement finds it.)
CREATE INDEX IF NOT EXISTS messages_by_time ON messages(at_ms);
