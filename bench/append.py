"""Append throughput, tailing-reader completeness and stream load time.

    python bench/append.py [--seconds S] [--writers 1,4,16] [--json]

Starts its own embedded PostgreSQL (default durability: fsync and
synchronous_commit on) in a temporary directory and, for each writer count,
runs the same workload back to back against

* ``unlocked-asyncpg``: the headroom baseline, one plain transaction per
  command into a table with a bigserial id and no lock (its tailing reader
  is expected to miss events: that is the problem the stores solve);
* ``eventsourcing``: the library's ``PostgresApplicationRecorder`` (psycopg,
  ``LOCK TABLE ... IN EXCLUSIVE MODE`` per transaction), N threads;
* ``ttledger``: ``ledger.store.EventStore`` (group commit), N asyncio tasks.

Each command creates a new ``Counter`` aggregate with two events (started,
incremented with a 150-character payload: about 250 bytes of state each),
mapped once by ``default_mapper()``; every command reuses that topic and
state under a fresh aggregate id (the state does not hold the id), so the
benchmark measures the stores, not the mapper. A tailing reader runs during each case and counts what
it sees; ``missed`` is the number of committed events it never saw.

The second part times loading a 10,000-event stream with and without
snapshots. With ``--json`` the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from eventsourcing.persistence import StoredEvent

from ledger.database import dsn_for_database, ensure_database
from ledger.embedded import EmbeddedPostgres
from ledger.logging import configure_logging
from ledger.migrate import migrate
from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.store import Commit, EventStore
from ledger.unit_of_work import UnitOfWork

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = "".join(chr(ord("a") + (i * 7) % 26) for i in range(150))
"""With the JSON envelope, each event's state is about 250 bytes."""
STREAM_EVENTS = 10_000
SNAPSHOT_INTERVAL = 100
LOADS = 7
DRAIN_TIMEOUT = 30.0
READER_IDLE_SLEEP = 0.005


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def counter_class() -> type[Any]:
    """The test suite's tiny aggregate (tests/integration/helpers.py)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.integration.helpers import Counter

    return Counter


# ---- workload ------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Two real stored events (started, incremented), re-issued under fresh ids."""

    topics: tuple[str, str]
    states: tuple[bytes, bytes]

    @classmethod
    def build(cls) -> Workload:
        counter = counter_class()(name="bench-" + PAYLOAD[:96])
        counter.increment(by=1, payload=PAYLOAD)
        mapper = default_mapper()
        stored = [mapper.to_stored_event(e) for e in counter.collect_events()]
        assert [s.originator_version for s in stored] == [1, 2]
        workload = cls((stored[0].topic, stored[1].topic), (stored[0].state, stored[1].state))
        # The state holds no originator id: a fresh id gives an equally valid event.
        fresh = workload.command()
        for event in fresh:
            assert mapper.to_domain_event(event).originator_id == fresh[0].originator_id
        return workload

    def command(self) -> list[StoredEvent]:
        stream_id = uuid.uuid4()
        return [
            StoredEvent(stream_id, 1, self.topics[0], self.states[0]),
            StoredEvent(stream_id, 2, self.topics[1], self.states[1]),
        ]


# ---- results and the tailing reader's bookkeeping ------------------------


@dataclass
class Tail:
    """What a tailing reader saw: ids must strictly increase."""

    seen: int = 0
    last: int = 0
    out_of_order: int = 0

    def see(self, position: int) -> None:
        if position <= self.last:
            self.out_of_order += 1
            return
        self.seen += 1
        self.last = position


@dataclass
class CaseResult:
    case: str
    writers: int
    seconds: float
    commands: int
    events: int
    events_per_s: float
    commands_per_s: float
    p50_ms: float
    p99_ms: float
    rows_in_table: int
    seen_by_reader: int
    missed: int
    out_of_order: int
    python_cpu: float
    """Process CPU seconds per wall second during the case (2 cores: at most ~2)."""


@dataclass
class Measured:
    """What the writers of one case did, before the reader is checked."""

    elapsed: float
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0

    @property
    def commands(self) -> int:
        return len(self.latencies)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def result(case: str, writers: int, measured: Measured, rows: int, tail: Tail) -> CaseResult:
    latencies = sorted(measured.latencies)
    events = 2 * measured.commands
    if rows != events:
        progress(f"  WARNING {case}: {events} events acknowledged but {rows} rows in the table")
    return CaseResult(
        case=case,
        writers=writers,
        seconds=round(measured.elapsed, 3),
        commands=measured.commands,
        events=events,
        events_per_s=round(events / measured.elapsed, 1),
        commands_per_s=round(measured.commands / measured.elapsed, 1),
        p50_ms=round(percentile(latencies, 0.50) * 1000, 2),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        rows_in_table=rows,
        seen_by_reader=tail.seen,
        missed=rows - tail.seen,
        out_of_order=tail.out_of_order,
        python_cpu=round(measured.cpu / measured.elapsed, 2),
    )


# ---- async cases (ttledger, unlocked asyncpg) ----------------------------


async def run_async_writers(
    writers: int, seconds: float, command: Callable[[], Awaitable[object]]
) -> Measured:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def writer() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await command()
            latencies.append(time.perf_counter() - started)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - wall0
    return Measured(elapsed, latencies, time.process_time() - cpu0)


async def drain(tail: Tail, target: int, task: asyncio.Task[None]) -> None:
    """Let the reader catch up with ``target``, then stop it."""
    give_up = time.perf_counter() + DRAIN_TIMEOUT
    while tail.last < target and time.perf_counter() < give_up and not task.done():
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def case_ttledger(dsn: str, writers: int, seconds: float, workload: Workload) -> CaseResult:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    store = await EventStore.connect(dsn, min_size=writers + 2, max_size=writers + 2)
    tail = Tail()

    async def follow() -> None:
        async for page in store.follow(0, poll_interval=0.05):
            for entry in page:
                tail.see(entry.position)

    reader = asyncio.create_task(follow())
    try:
        measured = await run_async_writers(
            writers, seconds, lambda: store.append(Commit(workload.command()))
        )
        await drain(tail, await store.head(), reader)
        rows = int(await store.pool.fetchval("SELECT count(*) FROM events"))
    finally:
        reader.cancel()
        await store.close()
    return result("ttledger", writers, measured, rows, tail)


_BASELINE_TABLE = (
    "CREATE TABLE bench_events ("
    " id bigserial PRIMARY KEY, stream_id uuid NOT NULL, version bigint NOT NULL,"
    " topic text NOT NULL, state bytea NOT NULL, UNIQUE (stream_id, version))"
)
_BASELINE_INSERT = (
    "INSERT INTO bench_events (stream_id, version, topic, state) "
    "SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::bytea[])"
)


async def case_unlocked(dsn: str, writers: int, seconds: float, workload: Workload) -> CaseResult:
    pool = await asyncpg.create_pool(dsn, min_size=writers + 1, max_size=writers + 1)
    assert pool is not None
    await pool.execute(_BASELINE_TABLE)
    tail = Tail()

    async def insert() -> None:
        events = workload.command()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                _BASELINE_INSERT,
                [e.originator_id for e in events],
                [e.originator_version for e in events],
                [e.topic for e in events],
                [e.state for e in events],
            )

    async def poll() -> None:
        while True:
            rows = await pool.fetch(
                "SELECT id, stream_id, version, topic, state FROM bench_events "
                "WHERE id > $1 ORDER BY id LIMIT 1000",
                tail.last,
            )
            for row in rows:
                tail.see(row["id"])
            if not rows:
                await asyncio.sleep(READER_IDLE_SLEEP)

    reader = asyncio.create_task(poll())
    try:
        measured = await run_async_writers(writers, seconds, insert)
        target = int(await pool.fetchval("SELECT coalesce(max(id), 0) FROM bench_events"))
        await drain(tail, target, reader)
        rows = int(await pool.fetchval("SELECT count(*) FROM bench_events"))
    finally:
        reader.cancel()
        await pool.close()
    return result("unlocked-asyncpg", writers, measured, rows, tail)


# ---- eventsourcing (synchronous, threads) --------------------------------


def case_eventsourcing(
    socket_dir: str, port: int, dbname: str, writers: int, seconds: float, workload: Workload
) -> CaseResult:
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    datastore = PostgresDatastore(
        dbname, socket_dir, port, "postgres", "", pool_size=writers + 2
    )
    try:
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        datastore.pool.wait(timeout=30.0)
        tail = Tail()
        latencies: list[list[float]] = [[] for _ in range(writers)]
        errors: list[BaseException] = []
        barrier = threading.Barrier(writers + 1)
        target: list[int] = []  # set once the writers are done
        stop_reader = threading.Event()

        def writer(mine: list[float]) -> None:
            try:
                barrier.wait()
                deadline = time.perf_counter() + seconds
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    recorder.insert_events(workload.command())
                    mine.append(time.perf_counter() - started)
            except BaseException as exc:
                errors.append(exc)

        def reader() -> None:
            try:
                give_up = float("inf")
                while not stop_reader.is_set():
                    page = recorder.select_notifications(start=tail.last + 1, limit=1000)
                    for notification in page:
                        tail.see(notification.id)
                    if target and tail.last >= target[0]:
                        return
                    if target and give_up == float("inf"):
                        give_up = time.perf_counter() + DRAIN_TIMEOUT
                    if time.perf_counter() > give_up:
                        return
                    if not page:
                        time.sleep(READER_IDLE_SLEEP)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(mine,)) for mine in latencies]
        reading = threading.Thread(target=reader)
        reading.start()
        for thread in threads:
            thread.start()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        barrier.wait()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        target.append(recorder.max_notification_id() or 0)
        reading.join(DRAIN_TIMEOUT + 5)
        stop_reader.set()
        reading.join()
        if errors:
            raise errors[0]
        with datastore.transaction() as curs:
            curs.execute("SELECT count(*) AS n FROM stored_events")
            row = curs.fetchone()
            assert row is not None
            rows = int(row["n"])
    finally:
        datastore.close()
    measured = Measured(elapsed, [x for mine in latencies for x in mine], cpu)
    return result("eventsourcing", writers, measured, rows, tail)


# ---- stream load ---------------------------------------------------------


@dataclass
class StreamLoad:
    events: int
    snapshots: int
    ms_without_snapshots: float
    ms_with_snapshots: float
    ms_with_snapshots_99_to_replay: float
    """Loading as of version 9,999: the snapshot at 9,900 plus 99 events."""
    write_seconds: float


async def stream_load(dsn: str) -> StreamLoad:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    counter_cls = counter_class()
    mapper = default_mapper()
    store = await EventStore.connect(dsn, min_size=2, max_size=4)
    try:
        writing = Repository(store, mapper, snapshot_interval=SNAPSHOT_INTERVAL)
        started = time.perf_counter()
        uow = UnitOfWork(store, writing)
        counter = counter_cls(name="long-stream")
        for _ in range(SNAPSHOT_INTERVAL - 1):
            counter.increment(by=1, payload=PAYLOAD)
        uow.add(counter)
        await uow.commit()
        stream_id = counter.id
        while counter.version < STREAM_EVENTS:
            uow = UnitOfWork(store, writing)
            counter = await uow.get(counter_cls, stream_id)
            for _ in range(min(SNAPSHOT_INTERVAL, STREAM_EVENTS - counter.version)):
                counter.increment(by=1, payload=PAYLOAD)
            await uow.commit()
        write_seconds = time.perf_counter() - started
        snapshots = int(
            await store.pool.fetchval("SELECT count(*) FROM snapshots WHERE stream_id = $1", stream_id)
        )

        async def median_ms(interval: int, version: int | None = None) -> float:
            repository = Repository(store, mapper, snapshot_interval=interval)
            expected = version or STREAM_EVENTS
            timings = []
            for _ in range(LOADS + 1):  # the first load warms caches and is dropped
                t0 = time.perf_counter()
                loaded = await repository.get(counter_cls, stream_id, version=version)
                timings.append(time.perf_counter() - t0)
                assert loaded.version == expected and loaded.count == expected - 1, loaded
            return round(statistics.median(timings[1:]) * 1000, 2)

        return StreamLoad(
            events=STREAM_EVENTS,
            snapshots=snapshots,
            ms_without_snapshots=await median_ms(0),
            ms_with_snapshots=await median_ms(SNAPSHOT_INTERVAL),
            ms_with_snapshots_99_to_replay=await median_ms(SNAPSHOT_INTERVAL, STREAM_EVENTS - 1),
            write_seconds=round(write_seconds, 2),
        )
    finally:
        await store.close()


# ---- the server ----------------------------------------------------------


@dataclass
class Server:
    embedded: EmbeddedPostgres
    server_dsn: str
    socket_dir: str
    port: int
    settings: dict[str, str]

    async def fresh_database(self, case: str, writers: int) -> str:
        name = f"bench_{case.replace('-', '_')}_{writers}_{uuid.uuid4().hex[:8]}"
        await ensure_database(self.server_dsn, name)
        return name

    def dsn(self, database: str) -> str:
        return dsn_for_database(self.server_dsn, database)


_SETTINGS = (
    "server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes",
    "commit_delay", "shared_buffers", "max_wal_size",
)


async def server_settings(dsn: str) -> tuple[dict[str, str], int]:
    conn = await asyncpg.connect(dsn)
    try:
        settings = {name: str(await conn.fetchval(f"SHOW {name}")) for name in _SETTINGS}
        port = int(await conn.fetchval("SHOW port"))
    finally:
        await conn.close()
    return settings, port


def start_server(root: Path) -> Server:
    embedded = EmbeddedPostgres(root).start()
    server_dsn = embedded.uri("postgres")
    settings, port = asyncio.run(server_settings(server_dsn))
    assert settings["fsync"] == "on", settings
    assert settings["synchronous_commit"] == "on", settings
    return Server(embedded, server_dsn, str(embedded.socket_dir), port, settings)


def psycopg_description() -> str:
    """psycopg's version and implementation: the pure-Python one is markedly slower."""
    import psycopg

    return f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__} implementation)"


# ---- report --------------------------------------------------------------


CASES = ("unlocked-asyncpg", "eventsourcing", "ttledger")


def run_case(server: Server, case: str, writers: int, seconds: float, workload: Workload) -> CaseResult:
    """One case on a fresh database of the shared server."""
    progress(f"{case} x{writers} ...")
    database = asyncio.run(server.fresh_database(case, writers))
    if case == "eventsourcing":
        outcome = case_eventsourcing(
            server.socket_dir, server.port, database, writers, seconds, workload
        )
    elif case == "ttledger":
        outcome = asyncio.run(case_ttledger(server.dsn(database), writers, seconds, workload))
    else:
        outcome = asyncio.run(case_unlocked(server.dsn(database), writers, seconds, workload))
    progress(
        f"  {outcome.events_per_s:,.0f} events/s, p50 {outcome.p50_ms} ms, "
        f"p99 {outcome.p99_ms} ms, missed {outcome.missed}"
    )
    return outcome


def print_table(results: list[CaseResult]) -> None:
    header = (
        f"{'case':<17} {'writers':>7} {'events/s':>10} {'commands/s':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'missed':>7} {'py cpu':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.case:<17} {r.writers:>7} {r.events_per_s:>10,.0f} {r.commands_per_s:>10,.0f} "
            f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.missed:>7} {r.python_cpu:>6.2f}"
        )


def ratio(results: list[CaseResult], writers: int) -> tuple[float, float, float]:
    by_case = {r.case: r for r in results if r.writers == writers}
    ours, theirs = by_case["ttledger"].events_per_s, by_case["eventsourcing"].events_per_s
    return ours, theirs, round(ours / theirs, 2) if theirs else float("inf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each case")
    parser.add_argument("--writers", default="1,4,16", help="comma-separated writer counts")
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    args = parser.parse_args(argv)
    writer_counts = [int(w) for w in args.writers.split(",") if w.strip()]
    configure_logging(fmt="console", level="warning")

    workload = Workload.build()
    root = Path(tempfile.mkdtemp(prefix="ttledger-bench-"))
    progress(f"starting embedded PostgreSQL in {root}")
    server = start_server(root)
    try:
        print(
            "PostgreSQL "
            + ", ".join(f"{k}={v}" for k, v in server.settings.items())
            + f"; cpus={os.cpu_count()}"
        )
        print(f"clients: asyncpg {asyncpg.__version__}, {psycopg_description()}")
        print(
            f"workload: 1 command = new Counter, 2 events, state "
            f"{len(workload.states[0])} + {len(workload.states[1])} bytes; "
            f"{args.seconds:g} s per case"
        )
        results = [
            run_case(server, case, writers, args.seconds, workload)
            for writers in writer_counts
            for case in CASES
        ]
        progress("stream load ...")
        load = asyncio.run(stream_load(server.dsn(asyncio.run(server.fresh_database("stream", 1)))))
    finally:
        server.embedded.stop()
        shutil.rmtree(root, ignore_errors=True)

    print()
    print_table(results)
    print()
    for writers in writer_counts:
        ours, theirs, r = ratio(results, writers)
        print(f"ttledger / eventsourcing at {writers:>2} writers: {ours:,.0f} / {theirs:,.0f} = {r:.2f}x")
    print()
    print(
        f"stream of {load.events:,} events ({load.snapshots} snapshots), median of {LOADS} loads: "
        f"{load.ms_without_snapshots:.2f} ms without snapshots, "
        f"{load.ms_with_snapshots:.2f} ms with snapshots "
        f"({load.ms_with_snapshots_99_to_replay:.2f} ms as of version {load.events - 1:,}: "
        f"snapshot + 99 events)"
    )

    if args.json:
        top = max(writer_counts)
        ours, theirs, r = ratio(results, top)
        summary = {
            "writers": top,
            "ttledger_events_per_s": ours,
            "eventsourcing_events_per_s": theirs,
            "ratio": r,
            "missed_by_tailing_reader": sum(x.missed for x in results if x.case == "ttledger"),
            "stream_load_ms_with_snapshots": load.ms_with_snapshots,
            "stream_load_ms_without_snapshots": load.ms_without_snapshots,
            "stream_load": asdict(load),
            "seconds_per_case": args.seconds,
            "postgres": server.settings,
            "psycopg": psycopg_description(),
            "cases": [asdict(x) for x in results],
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
