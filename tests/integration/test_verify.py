"""Tamper evidence: ``verify`` finds altered and missing events (decision 10)."""

from __future__ import annotations

import asyncpg

from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.store import EventStore
from ledger.unit_of_work import UnitOfWork
from ledger.verify import verify_log
from tests.integration.helpers import Counter


async def fill(dsn: str, counters: int = 5, increments: int = 3) -> None:
    store = await EventStore.connect(dsn)
    for i in range(counters):
        uow = UnitOfWork(store, Repository(store, default_mapper(), snapshot_interval=0))
        counter = Counter(f"c{i}")
        for _ in range(increments):
            counter.increment(1)
        uow.add(counter)
        await uow.commit()
    await store.close()


async def test_intact_log_verifies(fresh_dsn: str) -> None:
    await fill(fresh_dsn)
    conn = await asyncpg.connect(fresh_dsn)
    report = await verify_log(conn, page=7)
    await conn.close()
    assert report.ok
    assert (report.events_checked, report.head) == (20, 20)


async def test_altered_and_deleted_events_are_both_reported(fresh_dsn: str) -> None:
    await fill(fresh_dsn)
    conn = await asyncpg.connect(fresh_dsn)
    await conn.execute("UPDATE events SET state = state || '\\x20'::bytea WHERE position = 6")
    await conn.execute("DELETE FROM events WHERE position = 13")
    report = await verify_log(conn, page=4)
    await conn.close()
    assert [(p.kind, p.position) for p in report.problems] == [("altered", 6), ("missing", 13)]


async def test_rewritten_chain_and_truncated_tail_are_reported(fresh_dsn: str) -> None:
    await fill(fresh_dsn)
    conn = await asyncpg.connect(fresh_dsn)
    await conn.execute("UPDATE events SET prev_hash = hash WHERE position = 9")
    await conn.execute("DELETE FROM events WHERE position = 20")
    report = await verify_log(conn)
    await conn.close()
    kinds = [(p.kind, p.position) for p in report.problems]
    assert kinds == [("chain_broken", 9), ("altered", 9), ("missing", 20)]
