-- People who sign in (ledger/users.py), their browser sessions (ledger/sessions.py), the roles
-- that must use a second factor, and the security audit trail (ledger/security_events.py).
-- docs/decisions/0019-accounts-sessions-and-second-factor.md.

CREATE TABLE users (
    id                  uuid        PRIMARY KEY,
    username            text        NOT NULL
                                    CHECK (length(username) BETWEEN 1 AND 64
                                           AND username !~ '[[:cntrl:]]'),
    display_name        text        NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    role                text        NOT NULL
                                    CHECK (role IN ('admin', 'operator', 'institution', 'regulator')),
    -- What the user acts for: 'all' (admin, regulator) or one institution. A region or a
    -- person can be added later as another kind with its own column.
    scope_kind          text        NOT NULL CHECK (scope_kind IN ('all', 'institution')),
    institution_id      uuid,
    password_hash       text        NOT NULL,
    must_change_password boolean    NOT NULL DEFAULT true,
    totp_secret         text,
    totp_pending_secret text,
    totp_enabled        boolean     NOT NULL DEFAULT false,
    totp_last_step      bigint,
    failed_sign_ins     integer     NOT NULL DEFAULT 0 CHECK (failed_sign_ins >= 0),
    locked_until        timestamptz,
    disabled_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz,
    CONSTRAINT users_scope_matches
        CHECK ((scope_kind = 'institution') = (institution_id IS NOT NULL)),
    -- Rule token_scoped_to_institution, as for tokens: exchanges and institutions act for one institution.
    CONSTRAINT users_scoped_roles_have_institution
        CHECK (role NOT IN ('operator', 'institution') OR scope_kind = 'institution'),
    CONSTRAINT users_totp_enabled_has_secret CHECK (NOT totp_enabled OR totp_secret IS NOT NULL)
);

-- Usernames are unique whatever their case (Unicode lower case: 张三 and ZhangSan alike).
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));

CREATE TABLE sessions (
    id            uuid        PRIMARY KEY,
    -- SHA-256 of the cookie's value: the value itself is never stored.
    digest        bytea       NOT NULL UNIQUE CHECK (length(digest) = 32),
    user_id       uuid        NOT NULL REFERENCES users (id),
    csrf_token    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    ended_at      timestamptz,
    end_reason    text,
    address       text        NOT NULL DEFAULT '',
    user_agent    text        NOT NULL DEFAULT ''
);

CREATE INDEX sessions_open_by_user ON sessions (user_id) WHERE ended_at IS NULL;

-- Roles whose users must sign in with a second factor (administrators always must).
CREATE TABLE totp_required_roles (
    role        text        PRIMARY KEY
                            CHECK (role IN ('admin', 'operator', 'institution', 'regulator')),
    required_at timestamptz NOT NULL DEFAULT now()
);

-- A personal token belongs to a user and carries the user's role and institution.
ALTER TABLE api_tokens ADD COLUMN user_id uuid REFERENCES users (id);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE security_events (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL,
    kind          text        NOT NULL,
    user_id       uuid,
    actor_user_id uuid,
    address       text        NOT NULL DEFAULT '',
    detail        jsonb       NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX security_events_by_user ON security_events (user_id, id);
CREATE INDEX security_events_by_kind ON security_events (kind, id);
