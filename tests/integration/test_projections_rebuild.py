"""Rebuild equals incremental: every projection table, row for row.

The dataset is written command by command while the runner follows it with a
tiny page size (so pages split commands), then every projection is dropped
and rebuilt from the log in one pass with a large page; the tables must be
identical. A projection rebuilt alone must match too.
"""

from __future__ import annotations

import asyncpg
import pytest

from ledger.serialisation import default_mapper
from ledger.store import EventStore
from projections.distribution import PAYMENTS
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.test_statistics_dataset import build


async def snapshot(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, list[tuple[object, ...]]]:
    tables: dict[str, list[tuple[object, ...]]] = {}
    for projection in all_projections():
        for name in projection.tables:
            rows = await conn.fetch(f"SELECT * FROM {name}")
            tables[name] = sorted((tuple(r) for r in rows), key=repr)
    return tables


@pytest.fixture
async def store(fresh_dsn: str):
    s = await EventStore.connect(fresh_dsn)
    yield s
    await s.close()


async def test_rebuild_equals_incremental_for_every_table(store: EventStore) -> None:
    runner = ProjectionRunner(store, default_mapper(), all_projections(), page_size=3)
    await runner.setup()
    await build(store, after_commit=runner.catch_up)
    head = await store.head()
    assert all(runner.position(p.name) == head for p in runner.projections)
    assert runner.failures() == {}
    incremental = await snapshot(store.pool)
    assert sum(len(rows) for rows in incremental.values()) > 100
    assert all(incremental[t] for t in ("ct_contracts", "rcv_items", "tr_achievements", "dist_lines"))
    # The versions the later events replaced (what ``known_at`` reads) are compared too.
    # The versions later events replaced (what ``known_at`` reads) are compared too.
    assert all(incremental[t] for t in ("ct_contracts_history", "ct_achievements_history",
                                        "tr_achievements_history", "dist_lines_history"))

    big = ProjectionRunner(store, default_mapper(), all_projections(), page_size=10_000)
    await big.setup()
    assert await big.rebuild() == head
    assert await snapshot(store.pool) == incremental

    # In worker processes, two of them, the same tables again.
    assert await big.rebuild(jobs=2) == head
    assert await snapshot(store.pool) == incremental
    assert sorted(sorted(w.names) for w in big.last_rebuild_workers) == [
        ["contracts", "distribution"], ["receivables", "transfer"]]
    assert all(big.position(p.name) == head for p in big.projections)

    # One projection rebuilt alone, with another page size, gives the same tables too.
    assert await runner.rebuild(["transfer"]) == head
    assert await snapshot(store.pool) == incremental
    assert await store.position_of("transfer") == head


async def test_one_event_at_a_time_equals_one_page(store: EventStore) -> None:
    await build(store)
    one = ProjectionRunner(store, default_mapper(), all_projections(), page_size=1)
    await one.setup()
    await one.catch_up()
    by_event = await snapshot(store.pool)
    page = ProjectionRunner(store, default_mapper(), all_projections(), page_size=100_000)
    await page.setup()
    await page.rebuild()
    assert await snapshot(store.pool) == by_event


async def test_a_projection_built_by_another_release_is_rebuilt_at_setup(store: EventStore) -> None:
    await build(store)
    runner = ProjectionRunner(store, default_mapper(), all_projections())
    await runner.setup()
    head = await runner.catch_up()
    expected = await snapshot(store.pool)
    deadline = PAYMENTS.column_names.index("deadline_on")
    assert any(r[deadline] is not None for r in expected["dist_payments"])  # the newest column
    # What an older release left behind: dist_payments without its deadline column, and
    # that release's fingerprint.
    await store.pool.execute("ALTER TABLE dist_payments DROP COLUMN deadline_on")
    await store.pool.execute(
        "UPDATE projection_schemas SET fingerprint = 'older' WHERE projection = 'distribution'")
    untouched = await store.pool.fetchval(
        "SELECT recorded_at FROM projection_schemas WHERE projection = 'contracts'")

    upgraded = ProjectionRunner(store, default_mapper(), all_projections())
    await upgraded.setup()
    assert upgraded.position("distribution") == head
    assert await snapshot(store.pool) == expected
    fingerprints = dict(await store.pool.fetch("SELECT projection, fingerprint FROM projection_schemas"))
    assert fingerprints == {p.name: p.fingerprint() for p in all_projections()}
    assert await store.pool.fetchval(
        "SELECT recorded_at FROM projection_schemas WHERE projection = 'contracts'") == untouched
