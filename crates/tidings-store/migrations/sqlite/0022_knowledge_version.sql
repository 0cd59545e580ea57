-- A version of each workspace's knowledge base (issue 14, ADR 0029), raised in the transaction
-- of every change to `ai_knowledge`. The analysis keeps the product names it recognises in a
-- cache per process and reads only this number per job: a change made by any process (several
-- `tidings serve` or `worker` processes on one PostgreSQL) raises it, so every process reads the
-- names again on its next job.
ALTER TABLE workspaces ADD COLUMN knowledge_version BIGINT NOT NULL DEFAULT 0;
