-- The durable work queue. Times are integer milliseconds since the Unix epoch (UTC).
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY NOT NULL,
    queue         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    workspace_id  TEXT,
    priority      INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL CHECK (state IN ('ready', 'running', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_at        BIGINT NOT NULL,
    unique_key    TEXT,
    locked_by     TEXT,
    lease_until   BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    dead_at       BIGINT
);
-- A duplicate (queue, unique_key) is refused while the first job exists; NULL keys never clash.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (queue, unique_key);
CREATE INDEX jobs_claim ON jobs (queue, state, priority DESC, run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_until);
CREATE INDEX jobs_locked_by ON jobs (locked_by);

-- Recurring schedules: one row per schedule, advanced by compare-and-swap on next_run_at so
-- that each tick fires exactly once however many workers are running.
CREATE TABLE schedules (
    name          TEXT PRIMARY KEY NOT NULL,
    cron          TEXT NOT NULL,
    queue         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    next_run_at   BIGINT NOT NULL,
    last_run_at   BIGINT,
    updated_at    BIGINT NOT NULL
);
