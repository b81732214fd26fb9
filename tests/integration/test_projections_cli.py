"""``ttledger project`` and ``ttledger rebuild`` as a user runs them (subprocesses)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import asyncpg

from ledger.store import EventStore
from projections.queries import contract_value
from projections.registry import projection_names
from tests.integration.test_statistics_dataset import WAN, build


def env_for(dsn: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": dsn, "TTLEDGER_LOG_FORMAT": "json"}


async def positions(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT subscriber, position FROM tracking")
        return {r["subscriber"]: r["position"] for r in rows}
    finally:
        await conn.close()


async def test_project_follows_the_log_until_sigterm_and_rebuild_replays_it(fresh_dsn: str) -> None:
    store = await EventStore.connect(fresh_dsn)
    try:
        await build(store)
        head = await store.head()
    finally:
        await store.close()
    project = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "project"], env=env_for(fresh_dsn),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            at = await positions(fresh_dsn)
            if all(at.get(name) == head for name in projection_names()):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"projections did not reach {head}: {await positions(fresh_dsn)}")
        project.send_signal(signal.SIGTERM)
        _, err = project.communicate(timeout=30)
    finally:
        if project.poll() is None:
            project.kill()
    assert project.returncode == 0, err
    assert f"stopped at position {head}" in err

    pool = await asyncpg.create_pool(fresh_dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        before = await contract_value(pool, group_by=["period"])
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "ledger.cli", "rebuild", "contracts"],
            env=env_for(fresh_dsn), capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert f"contracts rebuilt up to position {head}" in result.stdout
        assert "events" in result.stderr  # the progress line: done/total, rate, time left
        after = await contract_value(pool, group_by=["period"])
        assert after["rows"] == before["rows"]
        assert after["totals"]["contract_value_fen"] == 555 * WAN
    finally:
        await pool.close()

    unknown = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "ledger.cli", "rebuild", "nonsense"],
        env=env_for(fresh_dsn), capture_output=True, text=True, timeout=60,
    )
    assert unknown.returncode == 2
    assert "known: contracts, receivables, transfer, distribution" in unknown.stderr
