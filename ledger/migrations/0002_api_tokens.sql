-- API tokens (docs/api.md, "Authentication"). The plaintext token is shown
-- once at creation and never stored: ``hash`` is its argon2id hash, and
-- ``prefix`` (the first 8 characters after ``ttl_``) finds the row to verify
-- against. Revocation sets ``revoked_at``; rows are never deleted, so the
-- audit trail of who held which role survives.
CREATE TABLE api_tokens (
    id             uuid        PRIMARY KEY,
    name           text        NOT NULL DEFAULT '',
    role           text        NOT NULL
                               CHECK (role IN ('admin', 'operator', 'institution', 'regulator')),
    institution_id uuid,
    hash           text        NOT NULL,
    prefix         text        NOT NULL CHECK (length(prefix) = 8),
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    -- Rule token_scoped_to_institution: exchanges and institutions act for one institution.
    CONSTRAINT api_tokens_scoped_roles_have_institution
        CHECK (role NOT IN ('operator', 'institution') OR institution_id IS NOT NULL)
);

CREATE INDEX api_tokens_active_prefix ON api_tokens (prefix) WHERE revoked_at IS NULL;
