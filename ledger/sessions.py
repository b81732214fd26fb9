"""Browser sessions, kept server-side in PostgreSQL (``sessions``).

The cookie holds 32 random bytes (URL-safe base64); the table holds only their
SHA-256, so a copy of the database does not hand out sessions. Each session has
its own CSRF token (sent by the page in ``X-CSRF-Token``), the address and user
agent it started from, and ends:

* when the user signs out (``DELETE /v1/session``);
* after ``idle`` without a request (30 minutes by default) or ``absolute``
  after it started (12 hours), whichever comes first;
* when the user is disabled, or an administrator resets the password, or the
  user changes it (the other sessions; the one that changed it gets a new id).

A session's id (the cookie value) is made anew at every sign-in and on a
password change (:meth:`SessionService.rotate`): a value the browser held
before is never promoted to a signed-in session.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeAlias

import asyncpg

from ledger.security_events import SecurityEventKind as K
from ledger.security_events import record
from ledger.users import USER_COLUMNS, Clock, User, user_from_row, utc_now

Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection"
SessionState = Literal["open", "unknown", "ended", "expired"]
COOKIE_BYTES = 32


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


@dataclass(frozen=True)
class Session:
    id: uuid.UUID
    """The row's id: what the logs and the principal name (never the cookie's value)."""
    user: User
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


class SessionService:
    def __init__(self, db: Executor, *, idle: timedelta = timedelta(minutes=30),
                 absolute: timedelta = timedelta(hours=12), clock: Clock = utc_now,
                 touch_every: timedelta = timedelta(seconds=30)) -> None:
        self._db = db
        self.db = db
        """Where sessions (and the security events they cause) are written."""
        self.idle = idle
        self.absolute = absolute
        self.clock = clock
        self.touch_every = touch_every

    async def start(self, user: User, *, address: str = "", user_agent: str = "",
                    replacing: str | None = None) -> tuple[str, Session]:
        """A new session for ``user``; its cookie value (shown once) and the session.

        ``replacing``: the cookie the browser sent, whose session (if any) ends here.
        """
        now = self.clock()
        if replacing:
            await self._db.execute(
                "UPDATE sessions SET ended_at = $2, end_reason = 'replaced' WHERE digest = $1 AND ended_at IS NULL",
                _digest(replacing), now)
        value = secrets.token_urlsafe(COOKIE_BYTES)
        session_id = uuid.uuid4()
        csrf = secrets.token_urlsafe(32)
        await self._db.execute(
            "INSERT INTO sessions (id, digest, user_id, csrf_token, created_at, last_seen_at, address, user_agent) "
            "VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
            session_id, _digest(value), user.id, csrf, now, address[:200], user_agent[:500])
        await record(self._db, K.SIGN_IN, now, user_id=user.id, address=address)
        return value, Session(session_id, user, csrf, now, now)

    async def lookup(self, value: str) -> tuple[SessionState, Session | None]:
        """The open session of a cookie value, ending it here if it expired or its user was disabled."""
        if not value or len(value) > 100:
            return "unknown", None
        row = await self._db.fetchrow(
            f"SELECT s.id AS session_id, s.csrf_token, s.created_at AS session_created_at, s.last_seen_at, "
            f"s.ended_at, {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.digest = $1",
            _digest(value))
        if row is None:
            return "unknown", None
        if row["ended_at"] is not None:
            return "ended", None
        session = Session(row["session_id"], user_from_row(row), row["csrf_token"], row["session_created_at"],
                          row["last_seen_at"])
        now = self.clock()
        if not session.user.active:
            await self.end(session.id, "user_disabled")
            return "ended", None
        reason = ("absolute" if now - session.created_at >= self.absolute
                  else "idle" if now - session.last_seen_at >= self.idle else None)
        if reason is not None:
            if await self.end(session.id, reason):
                await record(self._db, K.SESSION_EXPIRED, now, user_id=session.user.id, reason=reason)
            return "expired", None
        if now - session.last_seen_at >= self.touch_every:
            await self._db.execute("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
                                   session.id, now)
        return "open", session

    async def rotate(self, session_id: uuid.UUID) -> tuple[str, str]:
        """A new cookie value and CSRF token for the same session (after a password change)."""
        value = secrets.token_urlsafe(COOKIE_BYTES)
        csrf = secrets.token_urlsafe(32)
        await self._db.execute("UPDATE sessions SET digest = $2, csrf_token = $3, last_seen_at = $4 WHERE id = $1",
                               session_id, _digest(value), csrf, self.clock())
        return value, csrf

    async def end(self, session_id: uuid.UUID, reason: str) -> bool:
        done = await self._db.fetchval(
            "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL RETURNING id",
            session_id, self.clock(), reason)
        return done is not None

    async def end_all(self, user_id: uuid.UUID, reason: str, *, keep: uuid.UUID | None = None) -> int:
        rows = await self._db.fetch(
            "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE user_id = $1 AND ended_at IS NULL "
            "AND ($4::uuid IS NULL OR id <> $4) RETURNING id", user_id, self.clock(), reason, keep)
        return len(rows)

    async def open_count(self, user_id: uuid.UUID) -> int:
        return int(await self._db.fetchval(
            "SELECT count(*) FROM sessions WHERE user_id = $1 AND ended_at IS NULL", user_id) or 0)


__all__ = ["Session", "SessionService", "SessionState"]
