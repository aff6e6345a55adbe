-- name: lock
-- Serialise migration runners across replicas (released at the end of the transaction).
SELECT pg_advisory_xact_lock(5741528270001);

-- name: create_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: applied
SELECT version FROM schema_migrations ORDER BY version;

-- name: record
-- $1 = version, $2 = name
INSERT INTO schema_migrations (version, name) VALUES ($1, $2);
