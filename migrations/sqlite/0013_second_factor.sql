-- Second factors: a TOTP secret per account (encrypted with a key derived
-- from secret_key), its one-time recovery codes (hashed), passkeys, and the
-- WebAuthn ceremonies in progress. Times are milliseconds since the epoch.

-- One row per account that has started or finished enrolling TOTP.
-- `confirmed` is 0 until a first code has proved the authenticator has the
-- secret; only a confirmed row asks for a code at login. `last_step` is the
-- newest 30-second time step whose code was accepted: a code of that step
-- or an older one is never accepted again.
CREATE TABLE totp (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret        TEXT NOT NULL,
    confirmed     INTEGER NOT NULL DEFAULT 0,
    last_step     INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);

-- Recovery codes, SHA-256 of 80 random bits each; `used_at_ms` set once.
CREATE TABLE recovery_codes (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at_ms INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- The WebAuthn user handle of an account (random, never its id or name).
CREATE TABLE passkey_users (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    handle  TEXT NOT NULL UNIQUE
);

-- Registered passkeys: the credential id (base64url) and webauthn-rs's
-- record of the credential (public key, counter), as JSON.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    used_at_ms    INTEGER
);
CREATE INDEX passkeys_by_user ON passkeys(user_id);

-- A registration or a login with a passkey in progress: its challenge
-- state, taken (deleted) by the one request that finishes it.
CREATE TABLE passkey_ceremonies (
    id         TEXT PRIMARY KEY,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies(expires_ms);
