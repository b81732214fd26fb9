"""The security audit trail: sign-ins, lockouts, password and token changes, user administration.

Each row names the kind, when, the user concerned, the user who acted (an
administrator disabling someone; ``None`` for the CLI or a machine token), the
client address and a small ``detail`` object. Nothing secret is ever written
here: no password, token, session cookie, TOTP secret or code, not even a
username typed at a failed sign-in (it might be a password typed in the wrong box).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

import asyncpg
import structlog

Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection"
log = structlog.get_logger(__name__)


class SecurityEventKind(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    ACCOUNT_LOCKED = "account_locked"
    SIGN_OUT = "sign_out"
    SESSION_EXPIRED = "session_expired"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
    USER_CREATED = "user_created"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    TOTP_ENROLLED = "totp_enrolled"
    TOTP_REQUIREMENT_CHANGED = "totp_requirement_changed"


_SECRET_KEYS = frozenset({"password", "new_password", "current_password", "token", "secret", "code",
                          "totp_code", "totp_secret", "cookie", "session", "csrf_token"})


@dataclass(frozen=True)
class SecurityEvent:
    id: int
    at: datetime
    kind: str
    user_id: uuid.UUID | None
    actor_user_id: uuid.UUID | None
    address: str
    detail: dict[str, Any]


async def record(db: Executor, kind: SecurityEventKind, at: datetime, *, user_id: uuid.UUID | None = None,
                 actor_user_id: uuid.UUID | None = None, address: str = "", **detail: Any) -> None:
    """Append one event (and log it, without its detail's values beyond ids and reasons)."""
    leaked = _SECRET_KEYS & set(detail)
    if leaked:  # a programming error: refuse to write anything that looks like a secret
        raise ValueError(f"security events never hold secrets: {sorted(leaked)}")
    await db.execute(
        "INSERT INTO security_events (at, kind, user_id, actor_user_id, address, detail) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        at, kind.value, user_id, actor_user_id, address[:200], json.dumps(detail, default=str, ensure_ascii=False),
    )
    log.info("security_event", kind=kind.value, user_id=str(user_id) if user_id else None,
             actor_user_id=str(actor_user_id) if actor_user_id else None)


async def list_events(
    db: Executor, *, user_id: uuid.UUID | None = None, kind: str | None = None,
    since: datetime | None = None, until: datetime | None = None, before_id: int | None = None,
    limit: int = 100,
) -> list[SecurityEvent]:
    """Newest first; ``before_id`` continues a page (keyset on the id)."""
    rows = await db.fetch(
        "SELECT id, at, kind, user_id, actor_user_id, address, detail FROM security_events "
        "WHERE ($1::uuid IS NULL OR user_id = $1 OR actor_user_id = $1) AND ($2::text IS NULL OR kind = $2) "
        "AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4) "
        "AND ($5::bigint IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
        user_id, kind, since, until, before_id, limit,
    )
    return [SecurityEvent(r["id"], r["at"], r["kind"], r["user_id"], r["actor_user_id"], r["address"],
                          json.loads(r["detail"]) if isinstance(r["detail"], str) else dict(r["detail"]))
            for r in rows]
