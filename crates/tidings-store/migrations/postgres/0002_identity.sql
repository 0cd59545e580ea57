-- Identity: workspaces (tenants), people, their memberships, sign-in sessions, API keys,
-- the audit log and the per-workspace data keys that encrypt stored credentials.
CREATE TABLE workspaces (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    slug                TEXT NOT NULL UNIQUE,
    plan                TEXT NOT NULL,
    require_two_factor  BOOLEAN NOT NULL DEFAULT FALSE,
    settings            TEXT NOT NULL DEFAULT '{}',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    email               TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    email_verified_at   BIGINT,
    totp_secret         BYTEA,
    totp_enabled_at     BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE memberships (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role                TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'agent', 'viewer')),
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invites (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email               TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'agent', 'viewer')),
    token_hash          TEXT NOT NULL UNIQUE,
    invited_by          TEXT NOT NULL,
    expires_at          BIGINT NOT NULL,
    accepted_at         BIGINT,
    revoked_at          BIGINT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX invites_workspace ON invites (workspace_id);

-- A session is one family of refresh tokens: each refresh spends a token and issues the next.
CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    ip                  TEXT,
    user_agent          TEXT,
    created_at          BIGINT NOT NULL,
    revoked_at          BIGINT,
    revoked_reason      TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash          TEXT PRIMARY KEY NOT NULL,
    session_id          TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at          BIGINT NOT NULL,
    used_at             BIGINT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Single-use tokens sent by email: address verification and password reset.
CREATE TABLE email_tokens (
    token_hash          TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose             TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    expires_at          BIGINT NOT NULL,
    used_at             BIGINT,
    created_at          BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash           TEXT NOT NULL,
    used_at             BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    prefix              TEXT NOT NULL,
    key_hash            TEXT NOT NULL UNIQUE,
    role                TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'agent', 'viewer')),
    created_by          TEXT NOT NULL,
    last_used_at        BIGINT,
    revoked_at          BIGINT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

-- Append-only; each entry's hash covers the previous entry's hash, per workspace.
CREATE TABLE audit_logs (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL,
    seq                 BIGINT NOT NULL,
    actor_type          TEXT NOT NULL,
    actor_id            TEXT,
    actor_role          TEXT,
    ip                  TEXT,
    action              TEXT NOT NULL,
    resource_type       TEXT NOT NULL,
    resource_id         TEXT,
    metadata            TEXT NOT NULL,
    result              TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    prev_hash           TEXT NOT NULL,
    hash                TEXT NOT NULL,
    UNIQUE (workspace_id, seq)
);
CREATE INDEX audit_logs_time ON audit_logs (workspace_id, created_at);

-- Each workspace's data key, wrapped (AES-256-GCM) by the master key named by master_key_id.
CREATE TABLE workspace_keys (
    workspace_id        TEXT PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    wrapped_key         BYTEA NOT NULL,
    master_key_id       TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    rotated_at          BIGINT
);

-- Credentials Tidings stores for a workspace (platform tokens, webhook secrets, SMTP passwords),
-- encrypted with the workspace's data key.
CREATE TABLE secrets (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    ciphertext          BYTEA NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
