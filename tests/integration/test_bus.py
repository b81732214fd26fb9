"""Idempotency keys and conflict retries of the message bus, on the real store."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pydantic import BaseModel

from ledger.bus import IdempotencyKeyReused, MessageBus
from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.store import ConcurrencyConflict, EventStore
from ledger.unit_of_work import UnitOfWork
from tests.integration.helpers import Counter


class StartCounter(BaseModel):
    name: str


class Increment(BaseModel):
    counter_id: uuid.UUID
    by: int


async def start_counter(cmd: StartCounter, uow: UnitOfWork) -> dict[str, object]:
    counter = Counter(cmd.name)
    uow.add(counter)
    return {"counter_id": str(counter.id)}


async def increment(cmd: Increment, uow: UnitOfWork) -> dict[str, object]:
    counter = await uow.get(Counter, cmd.counter_id)
    await asyncio.sleep(0)  # let concurrent commands interleave between load and commit
    counter.increment(cmd.by)
    return {"count": counter.count, "version": counter.version}


@pytest.fixture
async def bus(fresh_dsn: str):
    store = await EventStore.connect(fresh_dsn)
    yield MessageBus(store, Repository(store, default_mapper(), snapshot_interval=0))
    await store.close()


async def test_retry_with_same_key_returns_first_result_and_writes_nothing(bus: MessageBus) -> None:
    first = await bus.execute(StartCounter(name="a"), start_counter, idempotency_key="k-1")
    head = await bus.store.head()
    again = await bus.execute(StartCounter(name="a"), start_counter, idempotency_key="k-1")
    assert again.result == first.result
    assert (again.replayed, first.replayed) == (True, False)
    assert again.position == first.position == 1
    assert await bus.store.head() == head


async def test_same_key_with_other_payload_is_rejected(bus: MessageBus) -> None:
    await bus.execute(StartCounter(name="a"), start_counter, idempotency_key="k-2")
    head = await bus.store.head()
    with pytest.raises(IdempotencyKeyReused) as info:
        await bus.execute(StartCounter(name="b"), start_counter, idempotency_key="k-2")
    assert info.value.key == "k-2"
    assert info.value.rule.name == "idempotency_key_reuse"
    assert await bus.store.head() == head


async def test_concurrent_requests_with_one_key_write_once(bus: MessageBus) -> None:
    outcomes = await asyncio.gather(
        *(bus.execute(StartCounter(name="same"), start_counter, idempotency_key="k-3") for _ in range(8))
    )
    assert len({o.result["counter_id"] for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    assert await bus.store.head() == 1


async def test_conflicts_are_retried_so_no_update_is_lost(bus: MessageBus) -> None:
    created = await bus.execute(StartCounter(name="c"), start_counter)
    cid = uuid.UUID(str(created.result["counter_id"]))
    bus.retries = 20
    await asyncio.gather(*(bus.execute(Increment(counter_id=cid, by=1), increment) for _ in range(10)))
    loaded = await bus.repository.get(Counter, cid)
    assert (loaded.count, loaded.version) == (10, 11)


async def test_pinned_version_reports_the_conflict(bus: MessageBus) -> None:
    created = await bus.execute(StartCounter(name="d"), start_counter)
    cid = uuid.UUID(str(created.result["counter_id"]))
    all_loaded = asyncio.Barrier(5)

    async def increment_after_all_loaded(cmd: Increment, uow: UnitOfWork) -> dict[str, object]:
        counter = await uow.get(Counter, cmd.counter_id)
        await all_loaded.wait()
        counter.increment(cmd.by)
        return {"count": counter.count}

    results = await asyncio.gather(
        *(
            bus.execute(Increment(counter_id=cid, by=1), increment_after_all_loaded, retry_on_conflict=False)
            for _ in range(5)
        ),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(conflicts) == 4
    assert (await bus.repository.get(Counter, cid)).count == 1
