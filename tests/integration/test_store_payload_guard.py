"""Defence in depth: the store refuses events the database or the read side cannot hold (issue 21).

Rule ``payload_storable`` (``ledger/payload_guard.py``): whatever command
produced it, an event whose state holds a NUL character, a lone surrogate,
bytes that are not UTF-8, an integer outside the signed 64-bit range or a
number that is not finite is refused before anything is queued. The whole
commit is refused, the log head does not move, and a valid neighbour still
commits. Over HTTP it is a 422 naming the rule and the field, never a 500.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from api.problems import problem_for
from ledger.bus import MessageBus
from ledger.payload_guard import INT64_MAX, INT64_MIN, check_state, find_in_value
from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.store import Commit, EventStore, UnstorablePayload
from ledger.unit_of_work import UnitOfWork
from tests.integration.helpers import Counter

TOPIC = "tests.integration.helpers:Counter.Incremented"


@pytest.fixture(scope="module")
async def store(migrated_dsn: str) -> AsyncIterator[EventStore]:
    opened = await EventStore.connect(migrated_dsn, min_size=2, max_size=6)
    yield opened
    await opened.close()


def unit_of_work(store: EventStore) -> UnitOfWork:
    return UnitOfWork(store, Repository(store, default_mapper(), snapshot_interval=0))


async def new_counter(store: EventStore, name: str = "ok") -> uuid.UUID:
    uow = unit_of_work(store)
    counter = Counter(name)
    uow.add(counter)
    await uow.commit()
    return counter.id


def raw(state: bytes, stream_id: uuid.UUID | None = None, version: int = 1) -> StoredEvent:
    return StoredEvent(stream_id or uuid.uuid4(), version, TOPIC, state)


# ---- through the unit of work: events of an aggregate -----------------------------------------------


@pytest.mark.parametrize(("name", "by", "payload", "field", "reason"), [
    ("nul\x00name", 1, "", "name", "NUL"),
    ("ok", 1, "lone \ud800 surrogate", "payload", "lone surrogate"),
    ("ok", 1, "low \udfff alone", "payload", "lone surrogate"),
    ("ok", 2**70, "", "by", "64-bit"),
    ("ok", INT64_MAX + 1, "", "by", "64-bit"),
    ("ok", INT64_MIN - 1, "", "by", "64-bit"),
    ("ok", float("nan"), "", "by", "not finite"),
    ("ok", float("-inf"), "", "by", "not finite"),
])
async def test_unit_of_work_refuses_the_whole_commit(store: EventStore, name: str, by: Any, payload: str,
                                                     field: str, reason: str) -> None:
    existing = await new_counter(store)
    head = await store.head()
    uow = unit_of_work(store)
    # One command touching two aggregates: a valid change and a poisoned one.
    (await uow.get(Counter, existing)).increment(1, payload="valid")
    poisoned = Counter(name) if name != "ok" else Counter("fresh")
    if name == "ok":
        poisoned.increment(by, payload=payload)
    uow.add(poisoned)
    with pytest.raises(UnstorablePayload) as info:
        await uow.commit()
    assert info.value.field == field and reason in info.value.reason
    assert info.value.rule.name == "payload_storable"
    assert info.value.topic.startswith("tests.integration.helpers:Counter.")
    assert await store.head() == head  # nothing of the command written
    assert await store.load(poisoned.id) == []
    assert len(await store.load(existing)) == 1
    # A valid neighbour commits as ever.
    await new_counter(store, "neighbour")
    assert await store.head() == head + 1


async def test_boundaries_of_what_is_stored(store: EventStore) -> None:
    uow = unit_of_work(store)
    counter = Counter("成 \U0001f600 \\u0000 NaN Infinity e999 " + "9" * 40)  # look-alikes, all text
    counter.increment(INT64_MAX, payload="\x01\x1f\n\t")  # control characters other than NUL are text
    counter.increment(INT64_MIN, payload="1234567890123456789012345")
    uow.add(counter)
    head = await store.head()
    await uow.commit()
    assert await store.head() == head + 3
    loaded = await Repository(store, default_mapper(), snapshot_interval=0).get(Counter, counter.id)
    assert loaded.name == counter.name and loaded.count == -1


async def test_refused_through_the_bus_writes_no_idempotency_key_either(store: EventStore) -> None:
    bus = MessageBus(store, Repository(store, default_mapper(), snapshot_interval=0))

    class Start(BaseModel):
        name: str

    async def start(cmd: Start, uow: UnitOfWork) -> dict[str, Any]:
        uow.add(Counter(cmd.name))
        return {}

    head = await store.head()
    with pytest.raises(UnstorablePayload):
        await bus.execute(Start(name="a\x00b"), start, idempotency_key="guard-1")
    assert await store.head() == head
    assert await store.pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'guard-1'") == 0
    await bus.execute(Start(name="ab"), start, idempotency_key="guard-1")  # the key is still free
    assert await store.head() == head + 1


# ---- straight to the store: hand-made states --------------------------------------------------------


@pytest.mark.parametrize(("state", "field", "reason"), [
    (b'{"name":"a\\u0000b"}', "name", "NUL"),
    (b'{"name":"a\x00b"}', "", "not JSON"),  # a raw NUL (or any raw control byte) is not JSON
    (b'{"xs":[{"ok":1},{"deep":"\\ud800"}]}', "xs[1].deep", "lone surrogate"),
    (b'{"v":"\\udc00\\ud800"}', "v", "lone surrogate"),  # a low then a high: no pair
    (b'{"w":{"_type_":"vo:x.Y","_data_":{"inner":"\\u0000"}}}', "w.inner", "NUL"),
    (b'{"k\\u0000":1}', "k\x00", "a key"),
    (b'{"name":"\xff"}', "", "not UTF-8"),
    (b'{"name":"\xed\xa0\x80"}', "", "not UTF-8"),  # a surrogate encoded as if UTF-8
    (b'{"amount":1180591620717411303424}', "amount", "64-bit"),
    (b'{"amount":-9223372036854775809}', "amount", "64-bit"),
    (b'{"amount":NaN}', "amount", "not finite"),
    (b'{"amount":-Infinity}', "amount", "not finite"),
    (b'{"amount":1e999}', "amount", "not finite"),
    (b'{"amount":1E+400}', "amount", "not finite"),
])
async def test_store_refuses_unstorable_states(store: EventStore, state: bytes, field: str, reason: str) -> None:
    head = await store.head()
    good = raw(b'{"name":"fine"}')
    with pytest.raises(UnstorablePayload) as info:
        await store.append(Commit([good, raw(state)]))
    assert (info.value.field, reason in info.value.reason) == (field, True), info.value
    assert await store.head() == head
    assert await store.load(uuid.UUID(str(good.originator_id))) == []
    await store.append(Commit([good]))
    assert await store.head() == head + 1


@pytest.mark.parametrize("state", [
    b'{"name":"a\\\\u0000b"}',  # an escaped backslash, then the letters u0000
    b'{"name":"\\ud83d\\ude00"}',  # a surrogate pair: one character
    b'{"name":"\\u001f\\u0001"}',  # control characters other than NUL
    b'{"amount":9223372036854775807,"low":-9223372036854775808}',
    b'{"id":"12345678901234567890123","note":"NaN Infinity 1e999"}',
    b'{"amount":1.5e+300,"small":1e-400}',
])
async def test_store_keeps_look_alikes(store: EventStore, state: bytes) -> None:
    event = raw(state)
    head = await store.head()
    await store.append(Commit([event]))
    assert await store.head() == head + 1
    assert await store.load(uuid.UUID(str(event.originator_id))) == [event]


async def test_a_refused_command_does_not_hold_up_its_batch(store: EventStore) -> None:
    head = await store.head()
    goods = [raw(b'{"n":%d}' % n) for n in range(6)]
    outcomes = await asyncio.gather(
        *(store.append(Commit([g])) for g in goods[:3]),
        store.append(Commit([raw(b'{"n":"\\u0000"}')])),
        *(store.append(Commit([g])) for g in goods[3:]),
        return_exceptions=True,
    )
    assert [type(o).__name__ for o in outcomes].count("UnstorablePayload") == 1
    assert await store.head() == head + 6


# ---- the API answer ------------------------------------------------------------------------------------


def test_problem_is_a_422_naming_rule_and_field() -> None:
    exc = UnstorablePayload("domain.institution:Institution.Renamed", "name",
                            "it holds a NUL character (U+0000)")
    request = make_mocked_request("POST", "/v1/institutions/x/name")
    problem = problem_for(exc, request)
    assert problem is not None and problem.status == 422
    assert problem.type.endswith("/payload_storable")
    assert problem.extensions["errors"] == [{
        "field": "name", "rule": "payload_storable", "detail": "it holds a NUL character (U+0000)",
        "event": "Institution.Renamed"}]


# ---- the fast scan never lets through what the careful check refuses -----------------------------------

_values = st.recursive(
    st.none() | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.sampled_from([0, INT64_MAX, INT64_MIN, INT64_MAX + 1, INT64_MIN - 1, 10**18, -(10**19)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None, categories=None), max_size=12)  # surrogates and NUL included
    | st.sampled_from(["\\u0000", "NaN", "Infinity", "e999", "E+400", "\x00", "\ud800", "\U0001f600"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(st.characters(codec=None, categories=None), max_size=4), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(value=_values, ascii_only=st.booleans())
def test_fast_scan_agrees_with_the_careful_check(value: Any, ascii_only: bool) -> None:
    state = json.dumps({"v": value}, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    expected = find_in_value({"v": value})
    found = check_state(state)
    if expected is None:
        assert found is None, (state, found)
    else:
        assert found is not None, (state, expected)
        if ascii_only:  # the same finding; raw surrogates make the bytes invalid UTF-8 instead
            assert found == expected, (found, expected)
