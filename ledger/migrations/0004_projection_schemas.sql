-- The shape of each projection's tables when they were built. A projection whose
-- table definitions have changed since (a new release) is rebuilt from the log at
-- start-up instead of being applied to tables of the old shape.
CREATE TABLE projection_schemas (
    projection text PRIMARY KEY,
    fingerprint text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
