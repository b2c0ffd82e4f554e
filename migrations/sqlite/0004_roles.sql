-- Roles: admin, moderator or member (guests have no row).
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member';
