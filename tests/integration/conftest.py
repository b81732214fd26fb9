"""Fixtures of the HTTP API tests: one ledger, one test server and one world of records per module.

A module that defines a fixture of the same name (``ledger`` in the command-flow tests) uses its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ledger.bootstrap import Ledger, connect_ledger
from ledger.settings import Settings
from tests.integration.api_support import Api, World, build_world, serve


@pytest.fixture(scope="module")
async def ledger(migrated_dsn: str) -> AsyncIterator[Ledger]:
    opened = await connect_ledger(migrated_dsn, Settings())
    yield opened
    await opened.store.close()


@pytest.fixture(scope="module")
async def api(ledger: Ledger) -> AsyncIterator[Api]:
    async with serve(ledger) as client:
        yield Api(client)


@pytest.fixture(scope="module")
async def world(api: Api, ledger: Ledger) -> World:
    return await build_world(api, ledger)
