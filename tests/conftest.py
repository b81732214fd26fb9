"""Shared fixtures: one embedded PostgreSQL per test session, one database per module.

Tests use the real server (decision 5): no mocks, no fake store. Set
``TTLEDGER_TEST_DATABASE_URL`` to run them against another server instead.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ledger.database import dsn_for_database, ensure_database
from ledger.embedded import EmbeddedPostgres


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the heavier variants too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="heavier variant: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """DSN of the maintenance database on the session's server."""
    external = os.environ.get("TTLEDGER_TEST_DATABASE_URL")
    if external:
        yield external
        return
    root = Path(tempfile.mkdtemp(prefix="ttledger-test-"))
    server = EmbeddedPostgres(root).start()
    try:
        yield server.uri("postgres")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _module_db_name(request: pytest.FixtureRequest) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", request.module.__name__.rsplit(".", 1)[-1].lower())
    return f"t_{base[:40]}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def module_dsn(server_dsn: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for this test module (no schema yet)."""
    name = _module_db_name(request)
    asyncio.run(ensure_database(server_dsn, name))
    return dsn_for_database(server_dsn, name)


@pytest.fixture(scope="module")
def migrated_dsn(module_dsn: str) -> str:
    """A fresh database for this module with the ledger's migrations applied."""
    import asyncpg

    from ledger.migrate import migrate

    async def run() -> None:
        conn = await asyncpg.connect(module_dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(run())
    return module_dsn


@pytest.fixture
async def fresh_dsn(server_dsn: str) -> AsyncIterator[str]:
    """A fresh migrated database for one test, for tests that need an empty log."""
    import asyncpg

    from ledger.migrate import migrate

    name = f"t_fn_{uuid.uuid4().hex[:12]}"
    await ensure_database(server_dsn, name)
    dsn = dsn_for_database(server_dsn, name)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield dsn
