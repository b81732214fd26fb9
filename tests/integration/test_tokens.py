"""API tokens on the real database: hashed at rest, verified, cached briefly, revoked; and the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Literal

import asyncpg
import pytest
from argon2 import PasswordHasher

from ledger.tokens import (
    Principal,
    Role,
    TokenError,
    TokenService,
    looks_like_token,
    token_prefix,
)


class CountingHasher(PasswordHasher):
    """argon2 as usual, counting the (slow) verifications."""

    def __init__(self) -> None:
        super().__init__()
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        return super().verify(hash, password)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pool(migrated_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(migrated_dsn, min_size=1, max_size=2)
    assert pool is not None
    yield pool
    await pool.close()


async def test_created_token_verifies_and_is_stored_only_as_an_argon2_hash(pool: asyncpg.Pool) -> None:
    service = TokenService(pool)
    institution = uuid.uuid4()
    created, token = await service.create(Role.INSTITUTION, institution_id=institution, name="tsinghua tto")
    assert looks_like_token(token) and token.startswith("ttl_") and len(token) == 47
    assert created.prefix == token_prefix(token) == token[4:12]

    row = await pool.fetchrow("SELECT * FROM api_tokens WHERE id = $1", created.id)
    assert row is not None
    assert row["hash"].startswith("$argon2id$")
    everything = await pool.fetchval("SELECT string_agg(t::text, '|') FROM api_tokens t")
    assert token not in everything
    assert token[12:] not in everything  # not even the part after the lookup prefix

    who = await TokenService(pool).authenticate(token)  # a fresh service: no cache
    assert who == Principal(created.id, Role.INSTITUTION, institution, "tsinghua tto")


async def test_wrong_malformed_and_near_miss_tokens_are_refused(pool: asyncpg.Pool) -> None:
    service = TokenService(pool)
    _, token = await service.create(Role.ADMIN)
    near_miss = token[:-1] + ("A" if token[-1] != "A" else "B")  # same prefix, other secret
    assert await service.authenticate(near_miss) is None
    assert await service.authenticate("ttl_" + "x" * 43) is None  # unknown prefix
    assert await service.authenticate("not-a-token") is None
    assert await service.authenticate("") is None
    assert await service.authenticate(token + "x") is None


async def test_successful_checks_are_cached_and_failures_are_not(pool: asyncpg.Pool) -> None:
    hasher, clock = CountingHasher(), Clock()
    service = TokenService(pool, hasher=hasher, clock=clock, cache_ttl=60)
    _, token = await service.create(Role.REGULATOR)
    assert await service.authenticate(token) is not None
    assert await service.authenticate(token) is not None
    assert hasher.verifications == 1  # the second check was served from the cache
    bad = token[:-2] + ("zz" if not token.endswith("zz") else "yy")
    assert await service.authenticate(bad) is None
    assert await service.authenticate(bad) is None
    assert hasher.verifications == 3  # each failure pays argon2 again
    clock.now += 61
    assert await service.authenticate(token) is not None
    assert hasher.verifications == 4  # expired: verified again


async def test_concurrent_requests_with_a_new_token_share_one_verification(pool: asyncpg.Pool) -> None:
    hasher = CountingHasher()
    service = TokenService(pool, hasher=hasher)
    _, token = await service.create(Role.ADMIN, name="burst")
    results = await asyncio.gather(*(service.authenticate(token) for _ in range(20)))
    assert {p.role for p in results if p is not None} == {Role.ADMIN} and None not in results
    assert hasher.verifications == 1
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert await asyncio.gather(*(service.authenticate(wrong) for _ in range(5))) == [None] * 5
    assert hasher.verifications == 2  # failures are shared while in flight, never cached
    assert await service.authenticate(wrong) is None and hasher.verifications == 3


async def test_revocation_is_immediate_in_process_and_within_the_ttl_elsewhere(pool: asyncpg.Pool) -> None:
    clock = Clock()
    api = TokenService(pool, clock=clock, cache_ttl=60)
    cli = TokenService(pool)
    created, token = await cli.create(Role.OPERATOR, institution_id=uuid.uuid4())
    assert await api.authenticate(token) is not None

    assert await cli.revoke(created.id) is True  # revoked by another process (the CLI)
    assert await api.authenticate(token) is not None  # still cached here ...
    clock.now += 60.5
    assert await api.authenticate(token) is None  # ... but not past the TTL
    assert await cli.revoke(created.id) is False  # already revoked

    created2, token2 = await api.create(Role.ADMIN)
    assert await api.authenticate(token2) is not None
    assert await api.revoke(created2.id) is True  # revoked through the same service
    assert await api.authenticate(token2) is None  # at once

    listed = {t.id: t for t in await api.list_tokens()}
    assert not listed[created.id].active and not listed[created2.id].active
    assert created.id not in {t.id for t in await api.list_tokens(include_revoked=False)}


async def test_scoped_roles_need_an_institution(pool: asyncpg.Pool) -> None:
    service = TokenService(pool)
    for role in (Role.OPERATOR, Role.INSTITUTION):
        with pytest.raises(TokenError, match="must name its institution"):
            await service.create(role)
    with pytest.raises(TokenError, match="unknown role"):
        await service.create("superuser")
    # The database holds the same rule, whatever writes to it.
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO api_tokens (id, role, hash, prefix) VALUES ($1, 'institution', 'h', 'abcdefgh')",
            uuid.uuid4(),
        )


# ---- the command line ----------------------------------------------------------


def ttledger(args: list[str], dsn: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, "TTLEDGER_LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_refuses_a_scoped_role_without_institution(migrated_dsn: str) -> None:
    result = ttledger(["token", "create", "--role", "institution"], migrated_dsn)
    assert result.returncode == 2
    assert "--institution ID is required for role institution" in result.stderr
    assert result.stdout == ""
    bad = ttledger(["token", "create", "--role", "operator", "--institution", "nope"], migrated_dsn)
    assert bad.returncode == 2
    assert "not a UUID" in bad.stderr


async def test_cli_creates_lists_and_revokes(migrated_dsn: str, pool: asyncpg.Pool) -> None:
    institution = str(uuid.uuid4())
    created = ttledger(
        ["token", "create", "--role", "institution", "--institution", institution, "--name", "pku"],
        migrated_dsn,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert looks_like_token(token)
    assert "shown this once" in created.stderr
    assert token not in created.stderr

    who = await TokenService(pool).authenticate(token)
    assert who is not None and str(who.institution_id) == institution and who.name == "pku"

    listed = ttledger(["token", "list"], migrated_dsn)
    assert listed.returncode == 0, listed.stderr
    assert str(who.token_id) in listed.stdout and "pku" in listed.stdout
    assert token not in listed.stdout and token[12:] not in listed.stdout

    revoked = ttledger(["token", "revoke", str(who.token_id)], migrated_dsn)
    assert revoked.returncode == 0, revoked.stderr
    assert await TokenService(pool).authenticate(token) is None
    again = ttledger(["token", "revoke", str(who.token_id)], migrated_dsn)
    assert again.returncode == 1
    assert "no active token" in again.stderr
    active = ttledger(["token", "list", "--active"], migrated_dsn)
    assert str(who.token_id) not in active.stdout
