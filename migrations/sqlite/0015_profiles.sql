-- Display names (issue #17): an account's name as people see it, beside its
-- handle (`users.name`, unchanged). NULL means the handle. Each message keeps
-- the display name it was posted under, so history shows it as it was then;
-- messages from before this column read as their handle.
ALTER TABLE users ADD COLUMN display TEXT;
ALTER TABLE messages ADD COLUMN display TEXT;
