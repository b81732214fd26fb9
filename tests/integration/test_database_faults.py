"""Database faults: PostgreSQL stopped and started again under load.

``ttledger serve`` runs as a subprocess on an embedded PostgreSQL of this
module's own (the session's server is shared by every other test and must
not go away). While clients record payments and allocations (each with an
``Idempotency-Key``) and read records, the books and statistics, the test
stops PostgreSQL with ``pg_ctl stop -m fast`` (sessions terminated, as in a
planned restart) or ``-m immediate`` (no shutdown checkpoint: crash
recovery on the next start, as after a power cut), keeps it down for a
moment and starts it again on the same data directory and socket.

While it is down every API answer that needs the database is ``503``
problem+json with ``Retry-After`` (never a 500), and nothing is written.
Afterwards the server recovers by itself: ``/readyz`` is 200 again, the
projection runner reconnects and its lag returns to 0, and nothing
acknowledged is lost (the same end checks as the crash test).

A second test lets the application own the embedded server and restarts
PostgreSQL under it; the application's last clean stop still shuts the
restarted server down. ``--run-slow`` runs more outages on more load.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.bootstrap import Ledger, connect_ledger
from ledger.bus import MessageBus
from ledger.database import Database, dsn_for_database, ensure_database
from ledger.embedded import EmbeddedPostgres
from ledger.migrate import migrate
from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from ledger.store import EventStore
from ledger.tokens import Role, TokenService
from tests.integration.api_support import serve
from tests.integration.fault_support import (
    PROBLEM_JSON,
    Deals,
    PgControl,
    ServeProcess,
    Workload,
    assert_intact,
    assert_no_server_errors,
    assert_projections_equal_rebuild,
    plan_jobs,
    report,
    run_verify,
    seed_from_env,
    serve_env,
    setup_deals,
    until_answered,
    wait_caught_up,
)

SEED = 20260611
PRICE_FEN = 500_000_00


# ---- PostgreSQL under the test's control ---------------------------------------------------------


@pytest.fixture(scope="module")
def own_server() -> Iterator[tuple[str, PgControl]]:
    """An embedded PostgreSQL for this module alone: (server DSN, its pg_ctl)."""
    root = Path(tempfile.mkdtemp(prefix="ttledger-faults-"))
    server = EmbeddedPostgres(root).start()
    control = PgControl(root / "pgdata")
    try:
        yield server.uri("postgres"), control
    finally:
        if not control.running():
            control.start()  # a failed test may leave it stopped; stop it the ordinary way
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def faults_dsn(own_server: tuple[str, PgControl]) -> AsyncIterator[str]:
    server_dsn, _ = own_server
    name = f"t_faults_{uuid.uuid4().hex[:10]}"
    await ensure_database(server_dsn, name)
    dsn = dsn_for_database(server_dsn, name)
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield dsn


# ---- what clients see ------------------------------------------------------------------------------


def assert_unavailable(status: int, headers: Any, body: str, what: str) -> None:
    """A 503 problem+json saying the database is unavailable, with a positive Retry-After."""
    assert status == 503, f"{what}: {status} {body[:500]}"
    assert headers.get("Content-Type", "").startswith(PROBLEM_JSON), (what, headers)
    assert int(headers["Retry-After"]) > 0, (what, headers)
    doc = json.loads(body)
    assert doc["status"] == 503 and doc["type"].endswith("/database-unavailable"), (what, doc)
    assert doc["request_id"] == headers["X-Request-Id"]


@dataclass
class Readers:
    """Clients reading records, books, statistics and readiness in a loop; every answer counted."""

    base_url: str
    token: str
    deals: Deals
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def paths(self) -> list[tuple[str, str]]:
        """(label, path): a record, the books, a contract's journal, statistics (projections), readiness."""
        c = self.deals.contracts[0]
        return [("contract", f"/v1/contracts/{c}"), ("balances", f"/v1/institutions/{self.deals.university}/balances"),
                ("journal", f"/v1/contracts/{c}/journal"), ("statistics", "/v1/statistics/contracts?group_by=kind"),
                ("readyz", "/readyz")]

    async def run(self, clients: int) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            await asyncio.gather(*(self._reader(session, n) for n in range(clients)))

    async def _reader(self, session: aiohttp.ClientSession, n: int) -> None:
        paths = self.paths()
        i = n
        while not self.stop.is_set():
            label, path = paths[i % len(paths)]
            i += 1
            async with session.get(self.base_url + path,
                                   headers={"Authorization": f"Bearer {self.token}"}) as response:
                body = await response.text()
                self.statuses[(label, response.status)] += 1
                if response.status != 200:
                    assert_unavailable(response.status, response.headers, body, f"GET {path}")
            await asyncio.sleep(0.02)


async def probe_while_down(base_url: str, token: str, deals: Deals, n: int) -> dict[str, int]:
    """Every kind of request while the database is down: 503 with Retry-After; liveness still 200."""
    auth = {"Authorization": f"Bearer {token}"}
    contract = deals.contracts[0]
    seen: dict[str, int] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(f"{base_url}/v1/contracts/{contract}/payments",
                                json={"payment_id": f"probe-{n}", "amount_fen": 1, "received_on": "2024-04-02"},
                                headers={**auth, "Idempotency-Key": f"probe-{n}"}) as r:
            assert_unavailable(r.status, r.headers, await r.text(), "POST payment")
            seen["command"] = r.status
        async with session.post(f"{base_url}/v1/institutions", json={
                "name": "探针大学", "kind": "university", "region": "110000", "public": True,
                "rule_pack": "beijing", "registered_on": "2015-01-01"}, headers=auth) as r:
            assert_unavailable(r.status, r.headers, await r.text(), "POST institution")
        for path in (f"/v1/contracts/{contract}", f"/v1/institutions/{deals.university}/balances",
                     "/v1/statistics/contracts", "/readyz"):
            # no-cache: statistics kept from before the outage would be answered without the database
            # (api/response_cache.py; right, as the projections have not moved), so ask afresh.
            async with session.get(base_url + path, headers={**auth, "Cache-Control": "no-cache"}) as r:
                assert_unavailable(r.status, r.headers, await r.text(), f"GET {path}")
                seen[path] = r.status
        async with session.get(f"{base_url}/healthz") as r:
            assert r.status == 200  # liveness: the process is fine, only the database is away
    return seen


async def wait_ready(base_url: str, timeout: float = 60) -> float:
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while time.monotonic() - started < timeout:
            try:
                async with session.get(f"{base_url}/readyz") as r:
                    if r.status == 200:
                        return time.monotonic() - started
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("/readyz did not come back")


# ---- the runs ------------------------------------------------------------------------------------


async def test_an_embedded_server_that_is_gone_answers_503_not_500(tmp_path: Path) -> None:
    """The embedded server listens on a socket only; when it is down the socket file is gone.

    asyncpg reports that as ``FileNotFoundError``, which must read as "database
    unavailable" (503), on reads, writes, token checks and readiness alike.
    """
    dsn = f"postgresql://postgres:@/ttledger?host={tmp_path}"
    store = await EventStore.connect(dsn, min_size=0)
    repository = Repository(store, default_mapper())
    down = Ledger(Database(dsn), store, repository, MessageBus(store, repository))
    token = "ttl_" + "A" * 43
    try:
        async with serve(down) as client:
            for method, path, body in [
                ("GET", "/readyz", None),
                ("GET", f"/v1/contracts/{uuid.uuid4()}", None),
                ("POST", "/v1/institutions", {"name": "北京示范大学", "kind": "university", "region": "110000",
                                              "public": True, "rule_pack": "beijing",
                                              "registered_on": "2015-01-01"}),
            ]:
                response = await client.request(method, path, json=body,
                                                headers={"Authorization": f"Bearer {token}"})
                assert_unavailable(response.status, response.headers, await response.text(), f"{method} {path}")
            assert (await client.get("/healthz")).status == 200
    finally:
        await store.close()


async def outage_run(server: ServeProcess, pg: PgControl, dsn: str, *, modes: list[str], contracts: int,
                     payments_per_contract: int, clients: int, down_s: float, seed: int,
                     name: str) -> dict[str, Any]:
    """Load the running ``server``, stop and start PostgreSQL once per mode, check everything held.

    ``dsn`` is where the test itself reaches the database the server uses.
    """
    rng = random.Random(seed)
    env = server.env
    started = time.monotonic()
    setup: Ledger = await connect_ledger(dsn, Settings())
    try:
        deals = await setup_deals(setup, contracts, PRICE_FEN)
        _, token = await TokenService(setup.store.pool).create(Role.ADMIN, name="faults test")
    finally:
        await setup.close()  # the test's own connections would die with the database too

    workload = Workload(server.base_url, token, plan_jobs(rng, deals, payments_per_contract, f"F{seed}"),
                        retry_pause=0.1)
    readers = Readers(server.base_url, token, deals)
    load = asyncio.create_task(workload.run(clients))
    reading = asyncio.create_task(readers.run(2))
    total = len(workload.requests())
    points = sorted(rng.sample(range(total // 10, total * 8 // 10), len(modes)))
    outages = []
    try:
        for n, (mode, point) in enumerate(zip(modes, points, strict=True)):
            await until_answered(workload, point, load)
            if reading.done():
                reading.result()
            down_at = time.monotonic()
            await asyncio.to_thread(pg.stop, mode)
            stopped_s = time.monotonic() - down_at
            await probe_while_down(server.base_url, token, deals, n)
            await asyncio.sleep(down_s)
            await asyncio.to_thread(pg.start)
            up_at = time.monotonic()
            ready_s = await wait_ready(server.base_url)
            outages.append({"mode": mode, "after_answers": point, "down_s": round(up_at - down_at, 2),
                            "stop_s": round(stopped_s, 2), "ready_after_start_s": round(ready_s, 2)})
        load_seconds = await load
        readers.stop.set()
        await reading
    except BaseException:
        load.cancel()
        reading.cancel()
        server.ensure_stopped()
        if "DATABASE_URL" in server.env and not pg.running():
            pg.start()  # the module's server: the fixture stops it the ordinary way
        raise
    caught_up_at = time.monotonic()
    ready = await wait_caught_up(server.base_url, timeout=30)
    lag_zero_s = time.monotonic() - caught_up_at

    figures = workload.figures()
    assert figures["acknowledged"] == figures["commands"]
    assert figures["answers_503"] > 0, "no command met an outage"
    for _, headers, doc in workload.unavailable_answers:
        assert int(headers["Retry-After"]) > 0 and doc["type"].endswith("/database-unavailable"), doc
    read_503 = sum(n for (_, status), n in readers.statuses.items() if status == 503)
    assert read_503 > 0, "no read met an outage"
    assert_no_server_errors(server, workload)
    events = server.log_events()
    retrying = [e for e in events if e.get("event") == "projection_runner_retrying"]
    assert retrying, "the projection runner never noticed the outage"
    assert ready["projections"] and all(p["failed_at"] is None for p in ready["projections"])
    assert ready["projection_lag"] == 0 and ready["projection_position"] == ready["log_head"]
    log_text = "".join(p.read_text(errors="replace") for p in server.log_paths())
    assert dsn not in log_text  # the DSN is never logged

    check = await connect_ledger(dsn, Settings())
    try:
        intact = await assert_intact(check, workload.jobs)
        rows = await assert_projections_equal_rebuild(check)
    finally:
        await check.close()
    verified = run_verify({**env, "DATABASE_URL": dsn})
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert server.terminate() == 0, server.log_tail()
    out = {
        "seed": seed, "outages": outages, "clients": clients, "readers": 2, "contracts": contracts,
        "load_s": round(load_seconds, 1), "total_s": round(time.monotonic() - started, 1),
        "lag_zero_after_load_s": round(lag_zero_s, 2), "log_head": ready["log_head"],
        "projection_rows": rows, "runner_retries_logged": len(retrying),
        "reads": {f"{route} {status}": n for (route, status), n in sorted(readers.statuses.items())},
        **figures, **intact,
    }
    report(name, out)
    return out


async def test_postgres_restarts_under_load_answer_503_and_lose_nothing(
    tmp_path: Path, own_server: tuple[str, PgControl], faults_dsn: str
) -> None:
    _, pg = own_server
    server = ServeProcess(serve_env(tmp_path, dsn=faults_dsn), tmp_path / "logs")
    await server.start()
    figures = await outage_run(server, pg, faults_dsn, modes=["fast", "immediate", "fast"], contracts=3,
                               payments_per_contract=20, clients=6, down_s=1.0, seed=seed_from_env(SEED),
                               name="database_faults")
    assert [o["mode"] for o in figures["outages"]] == ["fast", "immediate", "fast"]
    assert figures["payments"] == 60


async def test_postgres_restarted_under_a_server_that_owns_it(tmp_path: Path) -> None:
    """The application started the embedded server; PostgreSQL is restarted under it (-m immediate).

    The application's handle on the server follows the restart, so its last
    clean stop shuts the new postmaster down (ledger/embedded.py).
    """
    server = ServeProcess(serve_env(tmp_path, dsn=None), tmp_path / "logs")
    await server.start()
    pgdata = tmp_path / "data" / "pgdata"
    pg = PgControl(pgdata)
    dsn = dsn_for_database(f"postgresql://postgres:@/postgres?host={pg.socket_dir}", "ttledger")
    figures = await outage_run(server, pg, dsn, modes=["immediate"], contracts=2, payments_per_contract=10,
                               clients=4, down_s=1.2, seed=seed_from_env(SEED + 1),
                               name="database_faults_embedded")
    assert figures["outages"][0]["mode"] == "immediate"
    assert not pgdata.joinpath("postmaster.pid").exists(), "the restarted server outlived the application"


@pytest.mark.slow
async def test_postgres_restarts_many_times_under_heavier_load(
    tmp_path: Path, own_server: tuple[str, PgControl], faults_dsn: str
) -> None:
    _, pg = own_server
    server = ServeProcess(serve_env(tmp_path, dsn=faults_dsn), tmp_path / "logs")
    await server.start()
    modes = ["fast", "immediate"] * 6
    figures = await outage_run(server, pg, faults_dsn, modes=modes, contracts=6, payments_per_contract=80,
                               clients=12, down_s=2.0, seed=seed_from_env(SEED + 2), name="database_faults_slow")
    assert len(figures["outages"]) == 12 and figures["payments"] == 480
