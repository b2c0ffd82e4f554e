-- Display names (issue #17): an account's name as people see it, beside its
-- handle (`users.name`, unchanged). NULL means the handle. Each message keeps
-- the display name it was posted under, so history shows it as it was then;
-- messages from before this column read as their handle.
ALTER TABLE users ADD COLUMN display TEXT;
ALTER TABLE messages ADD COLUMN display TEXT;

-- Avatars: each account's uploaded picture, already squared and made small
-- (128 × 128 PNG, a few kilobytes) when it was uploaded, so it is kept here
-- rather than in the files directory: every instance reads it from the
-- database, and it goes with the account. `version` changes with each upload
-- (the answer's ETag). Accounts without a row get a picture drawn from
-- their handle.
CREATE TABLE avatars (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    image        BLOB NOT NULL
);
