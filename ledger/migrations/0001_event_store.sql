-- The event log. ``position`` is the global order: contiguous, assigned by the
-- writer that holds the row lock on ``log_head`` (see docs/decisions/0002).
CREATE TABLE events (
    position     bigint      PRIMARY KEY,
    stream_id    uuid        NOT NULL,
    version      bigint      NOT NULL CHECK (version >= 1),
    topic        text        NOT NULL,
    state        bytea       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    prev_hash    bytea       NOT NULL,
    hash         bytea       NOT NULL,
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, version)
);

-- One row: the last position and the last hash of the chain. Writers lock it
-- for the length of their transaction, which orders commits.
CREATE TABLE log_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position  bigint  NOT NULL,
    hash      bytea   NOT NULL
);
INSERT INTO log_head (singleton, position, hash) VALUES (true, 0, '\x'::bytea || decode(repeat('00', 32), 'hex'));

CREATE TABLE snapshots (
    stream_id uuid   NOT NULL,
    version   bigint NOT NULL,
    topic     text   NOT NULL,
    state     bytea  NOT NULL,
    PRIMARY KEY (stream_id, version)
);

-- Positions of subscribers (projections, feeds), written in the same
-- transaction as the subscriber's own tables.
CREATE TABLE tracking (
    subscriber text   PRIMARY KEY,
    position   bigint NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Idempotency keys: the first result of a command, returned to retries.
CREATE TABLE idempotency_keys (
    key          text        PRIMARY KEY,
    request_hash bytea       NOT NULL,
    result       jsonb       NOT NULL,
    position     bigint,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
