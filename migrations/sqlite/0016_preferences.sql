-- Settings (issue #18): the page's language, theme, clock and send key,
-- beside the notification level in the same row. NULL means "not chosen":
-- the browser's choice, then the default, applies. `notify` stays NOT NULL;
-- a row made for another setting carries the default level.
ALTER TABLE user_settings ADD COLUMN language TEXT;
ALTER TABLE user_settings ADD COLUMN theme TEXT;
ALTER TABLE user_settings ADD COLUMN clock TEXT;
ALTER TABLE user_settings ADD COLUMN send_key TEXT;
