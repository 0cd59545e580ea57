-- Row-level security is a PostgreSQL feature (see the PostgreSQL migration of the same number).
-- An embedded SQLite database serves one installation, and every query is scoped by workspace
-- in the application; this migration keeps both migration sets at the same version.
SELECT 1;
