"""The async event store on the real embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict

import asyncpg
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.store import Commit, ConcurrencyConflict, EventStore, TrackingConflict
from ledger.unit_of_work import UnitOfWork
from ledger.verify import verify_log
from tests.integration.helpers import Counter


@pytest.fixture
async def store(fresh_dsn: str):
    s = await EventStore.connect(fresh_dsn, min_size=2, max_size=8)
    yield s
    await s.close()


def repo(store: EventStore, interval: int = 0) -> Repository:
    return Repository(store, default_mapper(), snapshot_interval=interval)


async def new_counter(store: EventStore, name: str = "c", increments: int = 0) -> uuid.UUID:
    uow = UnitOfWork(store, repo(store))
    counter = Counter(name)
    for i in range(increments):
        counter.increment(1, payload=f"p{i}")
    uow.add(counter)
    await uow.commit()
    return counter.id


async def test_append_load_and_positions(store: EventStore) -> None:
    cid = await new_counter(store, increments=2)
    other = await new_counter(store, increments=1)
    loaded = await repo(store).get(Counter, cid)
    assert (loaded.name, loaded.count, loaded.version) == ("c", 2, 3)
    log = await store.read(0)
    assert [e.position for e in log] == [1, 2, 3, 4, 5]
    assert [(e.stream_id, e.version) for e in log] == [(cid, 1), (cid, 2), (cid, 3), (other, 1), (other, 2)]
    assert await store.head() == 5
    assert [e.originator_version for e in await store.load(cid, after_version=1)] == [2, 3]


async def test_stale_write_raises_conflict_naming_stream_and_versions(store: EventStore) -> None:
    cid = await new_counter(store)
    first, second = UnitOfWork(store, repo(store)), UnitOfWork(store, repo(store))
    a = await first.get(Counter, cid)
    b = await second.get(Counter, cid)
    a.increment(5)
    a.increment(5)
    await first.commit()
    head = await store.head()
    b.increment(1)
    with pytest.raises(ConcurrencyConflict) as info:
        await second.commit()
    assert (info.value.stream_id, info.value.expected_version, info.value.actual_version) == (cid, 1, 3)
    assert str(cid) in str(info.value)
    assert await store.head() == head  # nothing written
    assert (await repo(store).get(Counter, cid)).count == 10


async def test_conflicting_writers_exactly_one_wins(store: EventStore) -> None:
    cid = await new_counter(store)
    loaded = asyncio.Barrier(12)

    async def writer(n: int) -> str:
        uow = UnitOfWork(store, repo(store))
        counter = await uow.get(Counter, cid)
        counter.increment(n)
        await loaded.wait()
        try:
            await uow.commit()
        except ConcurrencyConflict:
            return "lost"
        return "won"

    # All 12 load version 1 before anyone commits, then race.
    results = await asyncio.gather(*(writer(n) for n in range(1, 13)))
    assert results.count("won") == 1
    loaded = await repo(store).get(Counter, cid)
    assert loaded.version == 2
    assert loaded.count == results.index("won") + 1


async def test_multi_stream_commit_is_atomic(store: EventStore) -> None:
    a_id = await new_counter(store, "a")
    b_id = await new_counter(store, "b")
    stale = UnitOfWork(store, repo(store))
    a, b = await stale.get(Counter, a_id), await stale.get(Counter, b_id)
    # b moves on behind the stale unit of work's back.
    mover = UnitOfWork(store, repo(store))
    (await mover.get(Counter, b_id)).increment(1)
    await mover.commit()
    head = await store.head()
    a.increment(100)
    b.increment(100)
    with pytest.raises(ConcurrencyConflict) as info:
        await stale.commit()
    assert info.value.stream_id == b_id
    assert await store.head() == head
    assert (await repo(store).get(Counter, a_id)).count == 0  # a's event was not written either


async def test_one_conflict_in_a_batch_fails_only_its_command(store: EventStore) -> None:
    ids = [await new_counter(store, f"n{i}") for i in range(20)]
    mapper = default_mapper()

    def increment_commit(cid: uuid.UUID, version: int) -> Commit:
        event = Counter.Incremented(  # type: ignore[attr-defined]
            originator_id=cid, originator_version=version, timestamp=Counter.Event.create_timestamp(), by=1, payload=""
        )
        return Commit([mapper.to_stored_event(event)])

    # 20 good commands (version 2 each) and 3 that reuse a stream's version 1.
    commits = [increment_commit(cid, 2) for cid in ids] + [increment_commit(ids[i], 1) for i in (3, 7, 11)]
    results = await asyncio.gather(*(store.append(c) for c in commits), return_exceptions=True)
    assert all(not isinstance(r, BaseException) for r in results[:20])
    assert [type(r) for r in results[20:]] == [ConcurrencyConflict] * 3
    assert await store.head() == 20 + 20  # 20 starts, then 20 increments
    positions = sorted(p for r in results[:20] for p in r.positions)  # type: ignore[union-attr]
    assert positions == list(range(21, 41))


async def test_snapshots_taken_at_interval_and_used(store: EventStore) -> None:
    r = repo(store, interval=10)
    cid = await new_counter(store)
    for _ in range(3):
        uow = UnitOfWork(store, r)
        counter = await uow.get(Counter, cid)
        for _ in range(8):
            counter.increment(2)
        await uow.commit()
    rows = await store.pool.fetch("SELECT version FROM snapshots WHERE stream_id = $1 ORDER BY version", cid)
    assert [row["version"] for row in rows] == [17, 25]  # crossed 10 at 17, 20 at 25
    loaded = await r.get(Counter, cid)
    assert (loaded.count, loaded.version) == (48, 25)
    as_of = await r.get(Counter, cid, version=12)
    assert (as_of.count, as_of.version) == (22, 12)


async def test_tracking_is_exactly_once(store: EventStore) -> None:
    await store.pool.execute("CREATE TABLE IF NOT EXISTS seen (position bigint PRIMARY KEY)")
    await new_counter(store, increments=3)
    async with store.tracking("proj", 0, 4) as conn:
        await conn.executemany("INSERT INTO seen VALUES ($1)", [(p,) for p in range(1, 5)])
    assert await store.position_of("proj") == 4
    with pytest.raises(TrackingConflict) as info:
        async with store.tracking("proj", 0, 4) as conn:
            await conn.execute("INSERT INTO seen VALUES (99)")
    assert (info.value.expected, info.value.actual) == (0, 4)
    assert await store.pool.fetchval("SELECT count(*) FROM seen") == 4
    # A failure inside the block rolls back the position as well as the rows.
    with pytest.raises(RuntimeError):
        async with store.tracking("proj", 4, 5) as conn:
            await conn.execute("INSERT INTO seen VALUES (5)")
            raise RuntimeError("projector failed")
    assert await store.position_of("proj") == 4
    assert await store.pool.fetchval("SELECT count(*) FROM seen") == 4


async def test_follow_wakes_on_notify(store: EventStore) -> None:
    await new_counter(store)
    seen: list[int] = []
    loop = asyncio.get_running_loop()

    async def reader() -> float:
        async for page in store.follow(0, poll_interval=30.0):
            seen.extend(e.position for e in page)
            if len(seen) >= 4:
                return loop.time()
        raise AssertionError

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.3)
    started = loop.time()
    await new_counter(store, increments=1)
    await new_counter(store)  # 3 more events: positions 2, 3, 4
    done = await asyncio.wait_for(task, 10)
    assert seen == [1, 2, 3, 4]
    assert done - started < 5.0  # woken by NOTIFY, not the 30 s poll


async def test_tailing_reader_sees_every_event_once_under_16_writers(fresh_dsn: str) -> None:
    """Decision 3: no committed event is skipped or reordered while writers race.

    Four stores (four flushers on separate connections, as four processes
    would be) carry sixteen writer tasks for three seconds.
    """
    stores = [await EventStore.connect(fresh_dsn, min_size=1, max_size=4) for _ in range(4)]
    reader_store = await EventStore.connect(fresh_dsn, min_size=1, max_size=2)
    stop = asyncio.Event()
    written: dict[uuid.UUID, int] = defaultdict(int)

    async def writer(n: int) -> None:
        s = stores[n % 4]
        while not stop.is_set():
            uow = UnitOfWork(s, repo(s))
            counter = Counter(f"w{n}")
            counter.increment(1, payload="x" * 200)
            uow.add(counter)
            await uow.commit()
            written[counter.id] += 2

    seen: list[tuple[int, uuid.UUID, int]] = []

    async def tail() -> None:
        async for page in reader_store.follow(0, batch=500, poll_interval=0.2):
            seen.extend((e.position, e.stream_id, e.version) for e in page)

    reader = asyncio.create_task(tail())
    writers = [asyncio.create_task(writer(n)) for n in range(16)]
    await asyncio.sleep(3.0)
    stop.set()
    await asyncio.gather(*writers)
    # The reader may already be waiting for more when the writers stop: wait (bounded) until it
    # has seen the head, then stop it.
    head = await reader_store.head()
    deadline = asyncio.get_running_loop().time() + 60
    while not seen or seen[-1][0] < head:
        assert asyncio.get_running_loop().time() < deadline, f"the reader stopped at {seen[-1:]} of {head}"
        assert not reader.done(), reader
        await asyncio.sleep(0.05)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    total = sum(written.values())
    assert total > 1000
    assert [p for p, _, _ in seen] == list(range(1, total + 1))  # every position once, in order
    versions: dict[uuid.UUID, list[int]] = defaultdict(list)
    for _, stream, version in seen:
        versions[stream].append(version)
    assert all(v == [1, 2] for v in versions.values())
    assert len(versions) == len(written)
    for s in [*stores, reader_store]:
        await s.close()


async def test_killed_connection_leaves_nothing_half_written(store: EventStore) -> None:
    acknowledged = await new_counter(store, increments=2)
    head = await store.head()

    async def kill_self(conn: asyncpg.Connection, _: object) -> None:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        async with store.pool.acquire() as other:
            await other.execute("SELECT pg_terminate_backend($1)", pid)
        await conn.execute("SELECT 1")  # the server is gone mid-transaction

    mapper = default_mapper()
    doomed = Counter("doomed")
    doomed.increment(7)
    commit = Commit([mapper.to_stored_event(e) for e in doomed.collect_events()], [kill_self])
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError, OSError)):
        await store.append(commit)
    assert await store.head() == head
    assert await store.load(doomed.id) == []
    assert (await repo(store).get(Counter, acknowledged)).count == 2
    # The store carries on with a fresh connection.
    await new_counter(store)
    assert await store.head() == head + 1
    async with store.pool.acquire() as conn:
        assert (await verify_log(conn)).ok


async def test_stored_event_round_trip_keeps_bytes(store: EventStore) -> None:
    sid = uuid.uuid4()
    raw = StoredEvent(sid, 1, "tests.integration.helpers:Counter.Started", b'{"name":"\xe6\x88\x90"}')
    committed = await store.append(Commit([raw]))
    assert committed.positions == (1,)
    assert await store.load(sid) == [raw]
