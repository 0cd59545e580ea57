-- The file a task works through (a CSV import), kept while the task runs so an import that a
-- restart interrupted resumes after its last stored batch; cleared when the task finishes.
ALTER TABLE tasks ADD COLUMN input TEXT;
