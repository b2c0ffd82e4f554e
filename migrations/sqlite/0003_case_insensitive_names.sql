-- Name lookups use lower(name) on every engine; index it.
CREATE UNIQUE INDEX users_name_lower ON users (lower(name));
