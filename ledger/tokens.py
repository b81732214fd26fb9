"""API tokens: creation, listing, revocation and verification.

A token is ``ttl_`` followed by 32 random bytes in URL-safe base64 (43
characters). It is printed once, when created, and stored only as an
argon2id hash (argon2-cffi's ``PasswordHasher``, a deliberately slow hash
whose ``verify`` compares in constant time). The first 8 characters after
``ttl_`` are stored in clear as ``prefix`` so that verification looks up the
one candidate row instead of trying every hash.

Verifying with argon2 costs tens of milliseconds and 64 MiB of memory, too
much to pay on every request, so :class:`TokenService` remembers successful
verifications in process memory for ``cache_ttl`` seconds (60 by default),
keyed by the SHA-256 of the token. This is safe because:

* the cache holds only digests of tokens that already verified, never a
  token, and a 256-bit random token cannot be recovered from its digest;
* failures are never cached, so a guess always pays the full argon2 cost
  (and the API rate-limits failures per client address);
* revocation through :meth:`TokenService.revoke` drops the token from this
  process's cache at once; a revocation made elsewhere (the CLI, another
  API process) takes effect here within ``cache_ttl`` seconds at most.

Used by the API (``api/auth.py``) and by the ``ttledger token`` command.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias, TypeVar

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "ttl_"
_TOKEN_SHAPE = re.compile(r"^ttl_[A-Za-z0-9_-]{43}$")
PREFIX_LENGTH = 8

_T = TypeVar("_T")
Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection"


class Role(StrEnum):
    """Who a token speaks for (docs/api.md, "Roles")."""

    ADMIN = "admin"
    """Runs the ledger: every route."""
    OPERATOR = "operator"
    """A technology exchange (技术交易市场); ``institution_id`` is the exchange."""
    INSTITUTION = "institution"
    """A university, research institute or company acting for itself."""
    REGULATOR = "regulator"
    """Reads everything, writes nothing."""


SCOPED_ROLES = frozenset({Role.OPERATOR, Role.INSTITUTION})
"""Roles whose tokens must name the institution they act for."""


class TokenError(ValueError):
    """A token cannot be created as asked (e.g. a scoped role without an institution)."""


@dataclass(frozen=True)
class Principal:
    """Who made a request: the verified token's identity, never the token itself."""

    token_id: uuid.UUID
    """The API token, or for a browser session the session's id."""
    role: Role
    institution_id: uuid.UUID | None = None
    name: str = ""
    """The token's name, or the signed-in user's display name."""
    user_id: uuid.UUID | None = None
    """The person (``users``): set for a session and for a user's personal token."""
    via: str = "token"
    """How the request authenticated: ``token`` (``Authorization: Bearer``) or ``session`` (cookie)."""


@dataclass(frozen=True)
class ApiToken:
    """A stored token as listed (no hash, no plaintext)."""

    id: uuid.UUID
    name: str
    role: Role
    institution_id: uuid.UUID | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    user_id: uuid.UUID | None = None
    """The user a personal token belongs to (``None``: a machine token made by an administrator)."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def principal(self) -> Principal:
        return Principal(self.id, self.role, self.institution_id, self.name, user_id=self.user_id)


_ARGON2_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")
"""argon2 runs off the event loop, at most two at a time: each check takes
~0.2 s of CPU and 64 MiB, so a flood of bad tokens from many addresses is
bounded in memory (and the API rate-limits failures per address)."""


async def _off_loop(fn: Callable[..., _T], *args: Any) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_ARGON2_THREADS, fn, *args)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def looks_like_token(value: str) -> bool:
    """True when ``value`` has the shape of a ttledger token (not that it is valid)."""
    return bool(_TOKEN_SHAPE.match(value))


def token_prefix(token: str) -> str:
    return token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + PREFIX_LENGTH]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _row_token(row: asyncpg.Record) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        institution_id=row["institution_id"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        user_id=row["user_id"],
    )


_COLUMNS = "id, name, role, institution_id, prefix, created_at, revoked_at, user_id"


class TokenService:
    """Create, list, revoke and verify tokens stored in ``api_tokens``."""

    def __init__(
        self,
        db: Executor,
        *,
        cache_ttl: float = 60.0,
        cache_size: int = 10_000,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._hasher = hasher or PasswordHasher()
        self._cache_ttl = cache_ttl
        self._cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._verifying: dict[bytes, asyncio.Future[Principal | None]] = {}
        self._dummy_hash: str | None = None

    # ---- administration -------------------------------------------------

    async def create(
        self, role: Role | str, *, institution_id: uuid.UUID | None = None, name: str = "",
        user_id: uuid.UUID | None = None,
    ) -> tuple[ApiToken, str]:
        """Store a new token; return it with its plaintext (shown once, never again).

        ``user_id`` makes a personal token: it speaks for that user, who must be active
        (``api/auth.py`` checks on every request), and ends when the user is disabled.
        """
        try:
            role = Role(role)
        except ValueError:
            raise TokenError(
                f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}"
            ) from None
        if role in SCOPED_ROLES and institution_id is None:
            raise TokenError(f"a token with role {role.value} must name its institution (--institution ID)")
        token = new_token()
        hashed = await _off_loop(self._hasher.hash, token)
        row = await self._db.fetchrow(
            f"INSERT INTO api_tokens (id, name, role, institution_id, hash, prefix, user_id) "
            f"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
            uuid.uuid4(), name, role.value, institution_id, hashed, token_prefix(token), user_id,
        )
        assert row is not None
        return _row_token(row), token

    async def list_tokens(self, *, include_revoked: bool = True) -> list[ApiToken]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        rows = await self._db.fetch(f"SELECT {_COLUMNS} FROM api_tokens{where} ORDER BY created_at, id")
        return [_row_token(r) for r in rows]

    async def revoke(self, token_id: uuid.UUID) -> bool:
        """Revoke an active token; False if there is no active token with that id."""
        done = await self._db.fetchval(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id",
            token_id,
        )
        self.forget(token_id)
        return done is not None

    def forget(self, token_id: uuid.UUID) -> None:
        """Drop every cached verification of ``token_id`` (after a revocation)."""
        for key in [k for k, (p, _) in self._cache.items() if p.token_id == token_id]:
            del self._cache[key]

    # ---- verification ---------------------------------------------------

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; ``None`` otherwise.

        Database errors propagate (the API answers 503, not 401). Concurrent
        requests with the same token that is not cached share one verification
        (a burst of requests from a new client would otherwise each pay the
        argon2 cost, queued behind each other on the two argon2 threads).
        """
        digest = _digest(token)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None:
            known, expires = cached
            if now < expires:
                return known
            del self._cache[digest]
        if not looks_like_token(token):
            return None
        pending = self._verifying.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        task = asyncio.ensure_future(self._verify_token(token, digest, now))
        self._verifying[digest] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._verifying.pop(digest, None)
            else:  # this caller was cancelled: the others still wait on the task
                task.add_done_callback(lambda _: self._verifying.pop(digest, None))

    async def _verify_token(self, token: str, digest: bytes, now: float) -> Principal | None:
        rows = await self._db.fetch(
            "SELECT id, name, role, institution_id, hash, user_id FROM api_tokens "
            "WHERE prefix = $1 AND revoked_at IS NULL",
            token_prefix(token),
        )
        principal = None
        if not rows:
            # Pay the same cost as a real check, so timing does not tell
            # whether a prefix exists.
            await _off_loop(self._verify, await self._dummy(), token)
        for row in rows:
            if await _off_loop(self._verify, row["hash"], token):
                principal = Principal(row["id"], Role(row["role"]), row["institution_id"], row["name"],
                                      user_id=row["user_id"], via="token")
                await self._maybe_rehash(row["id"], row["hash"], token)
                break
        if principal is not None and self._cache_ttl > 0:
            self._cache[digest] = (principal, now + self._cache_ttl)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return principal

    def _verify(self, hashed: str, token: str) -> bool:
        try:
            return bool(self._hasher.verify(hashed, token))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await _off_loop(self._hasher.hash, new_token())
        return self._dummy_hash

    async def _maybe_rehash(self, token_id: uuid.UUID, hashed: str, token: str) -> None:
        """Upgrade a hash made with older argon2 parameters (on successful verification)."""
        if self._hasher.check_needs_rehash(hashed):
            fresh = await _off_loop(self._hasher.hash, token)
            await self._db.execute("UPDATE api_tokens SET hash = $2 WHERE id = $1", token_id, fresh)

    def cache_info(self) -> dict[str, Any]:
        return {"entries": len(self._cache), "ttl_seconds": self._cache_ttl}
