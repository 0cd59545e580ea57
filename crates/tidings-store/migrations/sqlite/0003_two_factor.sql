-- Two-factor sign-in (TOTP). users.totp_secret holds the secret encrypted (AES-256-GCM, a key
-- derived from the master key); users.totp_enabled_at says it is in use; recovery_codes hold the
-- SHA-256 of each one-time code.
--
-- The last accepted time step: a code is accepted once, and never one older than the last.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Between the password and the code of a two-factor sign-in: a single-use, short-lived
-- challenge, stored as the SHA-256 of the token the client holds.
CREATE TABLE two_factor_challenges (
    token_hash          TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    failed_attempts     BIGINT NOT NULL DEFAULT 0,
    expires_at          BIGINT NOT NULL,
    used_at             BIGINT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX two_factor_challenges_user ON two_factor_challenges (user_id);
