-- Each message's text as sanitized HTML, rendered once when it is posted or
-- edited (src/rooms/format.rs), '' once it is deleted. Rows from before this
-- migration keep NULL and are rendered when read.
ALTER TABLE messages ADD COLUMN html TEXT;
