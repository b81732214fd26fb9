"""Tamper evidence: ``verify`` finds altered and missing events (decision 10; issue 7, part 6)."""

from __future__ import annotations

from datetime import date

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


async def test_cli_reports_exactly_the_altered_and_the_deleted_event(fresh_dsn: str) -> None:
    """Issue 7 part 6 on the real domain: one event's bytes changed in place, another row deleted, in SQL.

    ``ttledger verify`` (a subprocess, as an auditor runs it) and ``verify_log``
    report exactly those two positions and nothing else; the books, which no
    tampered event touches, still reproduce; the command exits 1.
    """
    import os
    import subprocess
    import sys

    from ledger.bootstrap import connect_ledger
    from ledger.commands import contract as con
    from ledger.settings import Settings
    from tests.integration.test_distribution_flow import YUAN, setup_deal

    ledger = await connect_ledger(fresh_dsn, Settings(snapshot_interval=0))
    try:
        deal = await setup_deal(ledger)
        await ledger.bus.handle(con.RecordPayment(contract_id=deal["contract"], payment_id="P1",
                                                  amount_fen=400_000 * YUAN, received_on=date(2024, 4, 1)))
        head = await ledger.store.head()
    finally:
        await ledger.close()
    conn = await asyncpg.connect(fresh_dsn)
    try:
        firm = await conn.fetchrow("SELECT position, state FROM events WHERE stream_id = $1 AND version = 1",
                                   deal["firm"])
        achievement = await conn.fetchval("SELECT position FROM events WHERE stream_id = $1 AND version = 1",
                                          deal["achievement"])
        state = bytes(firm["state"])
        offset = state.index(b'"region":"110000"') + len(b'"region":"11000')
        forged = state[:offset] + b"1" + state[offset + 1:]  # one byte: Beijing 110000 -> 110001
        assert len(forged) == len(state) and forged != state
        await conn.execute("UPDATE events SET state = $2 WHERE position = $1", firm["position"], forged)
        await conn.execute("DELETE FROM events WHERE position = $1", achievement)
        report = await verify_log(conn, page=3)
    finally:
        await conn.close()
    expected = [("altered", firm["position"]), ("missing", achievement)]
    assert sorted([(p.kind, p.position) for p in report.problems], key=lambda p: p[1]) == sorted(
        expected, key=lambda p: p[1])
    assert (report.events_checked, report.head) == (head - 1, head)

    env = {**os.environ, "DATABASE_URL": fresh_dsn, "TTLEDGER_LOG_FORMAT": "json"}
    result = subprocess.run([sys.executable, "-m", "ledger.cli", "verify"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert lines[0] == f"ttledger verify: chain FAILED, 2 problem(s) in {head - 1} events:"
    listed = sorted(line for line in lines if line.startswith("  - "))
    assert listed == sorted([
        f"  - altered at position {firm['position']}: content does not match its hash",
        f"  - missing at position {achievement}: no event at position {achievement}",
    ])
    assert any(line.startswith("ttledger verify: books OK") for line in lines), lines
