"""The projection runner: exactly once, stops at a failing event, rebuild equals incremental."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.store import EventStore
from ledger.unit_of_work import UnitOfWork
from projections.runner import Envelope, ProjectionRunner
from tests.integration.helpers import Counter


class CountTotals:
    """Sum of increments per counter name; fails on a payload of 'boom' when armed."""

    name = "count_totals"
    tables = ("count_totals",)
    topics = frozenset({"tests.integration.helpers:Counter.Started", "tests.integration.helpers:Counter.Incremented"})

    def __init__(self) -> None:
        self.armed = False

    async def create_tables(self, conn: asyncpg.Connection) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS count_totals (counter_id uuid PRIMARY KEY, name text, total bigint, events bigint)"
        )

    async def apply(self, conn: asyncpg.Connection, events: Sequence[Envelope]) -> None:
        for e in events:
            if e.topic.endswith("Started"):
                await conn.execute(
                    "INSERT INTO count_totals VALUES ($1, $2, 0, 1)", e.event.originator_id, e.event.name
                )
            else:
                if self.armed and e.event.payload == "boom":
                    raise ValueError("cannot project a boom")
                await conn.execute(
                    "UPDATE count_totals SET total = total + $2, events = events + 1 WHERE counter_id = $1",
                    e.event.originator_id, e.event.by,
                )


async def write(store: EventStore, name: str, increments: Sequence[tuple[int, str]]) -> None:
    uow = UnitOfWork(store, Repository(store, default_mapper(), snapshot_interval=0))
    counter = Counter(name)
    for by, payload in increments:
        counter.increment(by, payload=payload)
    uow.add(counter)
    await uow.commit()


async def table(store: EventStore) -> list[tuple[object, ...]]:
    rows = await store.pool.fetch("SELECT name, total, events FROM count_totals ORDER BY name")
    return [tuple(r) for r in rows]


@pytest.fixture
async def store(fresh_dsn: str):
    s = await EventStore.connect(fresh_dsn)
    yield s
    await s.close()


async def test_follow_applies_each_event_once_and_rebuild_matches(store: EventStore) -> None:
    projection = CountTotals()
    runner = ProjectionRunner(store, default_mapper(), [projection], page_size=7, poll_interval=0.1)
    await runner.setup()
    for i in range(10):
        await write(store, f"c{i:02}", [(i, ""), (1, "")])
    task = asyncio.create_task(runner.run_forever())
    try:
        for i in range(10, 20):
            await write(store, f"c{i:02}", [(i, "")])
        assert await runner.wait_for(await store.head(), timeout=10)
    finally:
        task.cancel()
    incremental = await table(store)
    assert incremental[0] == ("c00", 1, 3)
    assert incremental[19] == ("c19", 19, 2)
    assert sum(r[1] for r in incremental) == sum(range(20)) + 10  # type: ignore[misc]
    assert await store.position_of("count_totals") == 50
    assert await runner.rebuild() == 50
    assert await table(store) == incremental


async def test_failing_event_stops_the_projection_at_that_event(store: EventStore) -> None:
    projection = CountTotals()
    projection.armed = True
    runner = ProjectionRunner(store, default_mapper(), [projection], page_size=100)
    await runner.setup()
    await write(store, "a", [(1, ""), (2, "")])  # positions 1-3
    await write(store, "b", [(5, ""), (7, "boom"), (9, "")])  # positions 4-7; boom is 6
    await runner.catch_up()
    failure = runner.failures()["count_totals"]
    assert (failure.position, failure.topic) == (6, "tests.integration.helpers:Counter.Incremented")
    assert await store.position_of("count_totals") == 5  # applied up to the event before
    assert await table(store) == [("a", 3, 3), ("b", 5, 2)]
    # Fix the projector and restart: it resumes at the failed event, skipping nothing.
    projection.armed = False
    resumed = ProjectionRunner(store, default_mapper(), [projection])
    await resumed.setup()
    await resumed.catch_up()
    assert await table(store) == [("a", 3, 3), ("b", 21, 4)]


async def test_wait_for_times_out_when_behind(store: EventStore) -> None:
    runner = ProjectionRunner(store, default_mapper(), [CountTotals()])
    await runner.setup()
    await write(store, "x", [])
    assert await runner.wait_for(1, timeout=0.2) is False
    await runner.catch_up()
    assert await runner.wait_for(1, timeout=0.2) is True


async def test_two_runners_on_one_database_apply_each_event_once(store: EventStore) -> None:
    """An API process and ``ttledger project`` may both run: neither fails, nothing is applied twice."""
    from ledger.store import TrackingConflict

    first = ProjectionRunner(store, default_mapper(), [CountTotals()])
    second = ProjectionRunner(store, default_mapper(), [CountTotals()])
    await first.setup()
    await second.setup()
    await write(store, "x", [(2, ""), (3, "")])
    await first.catch_up()
    with pytest.raises(TrackingConflict):
        await second.catch_up()  # it read position 0 at setup; the first runner is at 3 now
    assert second.failures() == {}
    assert second.position("count_totals") == 3
    await write(store, "y", [(4, "")])
    await second.catch_up()
    with pytest.raises(TrackingConflict):
        await first.catch_up()  # now the first one is behind: it takes the second's position
    assert first.position("count_totals") == second.position("count_totals") == 5
    assert await table(store) == [("x", 5, 3), ("y", 4, 2)]
    assert second.failures() == {} and first.failures() == {}
