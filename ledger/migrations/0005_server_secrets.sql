-- Secrets the server makes for itself, so that it needs no configuration and
-- keeps them across restarts. ``pseudonym_key``: the key of the pseudonyms a
-- regulator's token sees in place of typed identifiers (api/redaction.py,
-- docs/decisions/0014-regulator-redaction.md), unless TTLEDGER_PSEUDONYM_KEY
-- is set. Created on first use; never changed by the server.
CREATE TABLE server_secrets (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL CHECK (length(value) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
