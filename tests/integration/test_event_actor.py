"""Every event names who recorded it (ledger/actor.py), under the hash chain, and lists filter by it.

Over the world of api_support: each command is sent with a token, and the events it writes must
name exactly that token (its id, role and institution) and the request's id; the demo's events
name the system. The actor is covered by the hash: changing it, dropping it or adding one to an
event from before actors shows in ``ttledger verify``; events without one still verify. A
regulator reads who recorded as a role and an institution, never a person.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from typing import Any

import pytest

from domain.enums import InstitutionKind
from domain.institution import Institution
from ledger.actor import Actor, current_actor
from ledger.bootstrap import Ledger
from ledger.serialisation import default_mapper
from ledger.store import Commit
from ledger.verify import verify_log
from tests.integration.api_support import WAN, Api, World, problem


async def token_ids(ledger: Ledger) -> dict[str, uuid.UUID]:
    """The id of each principal's token, by principal (api_support.make_tokens names them ``test <who>``)."""
    rows = await ledger.store.pool.fetch("SELECT id, name FROM api_tokens WHERE name LIKE 'test %'")
    return {r["name"].removeprefix("test "): r["id"] for r in rows}


async def actors_at(ledger: Ledger, first: int, last: int) -> list[dict[str, Any] | None]:
    rows = await ledger.store.pool.fetch(
        "SELECT metadata, actor_id FROM events WHERE position BETWEEN $1 AND $2 ORDER BY position", first, last)
    out = []
    for r in rows:
        doc = None if r["metadata"] is None else json.loads(bytes(r["metadata"]))
        assert (doc and doc["actor"].get("id")) == (str(r["actor_id"]) if r["actor_id"] else None)
        out.append(doc)
    return out


async def test_each_event_names_the_token_and_request_that_recorded_it(api: Api, world: World,
                                                                       ledger: Ledger) -> None:
    ids = await token_ids(ledger)
    owner_token = ids["owner"]
    head = await api.head()
    response = await api.post(f"/v1/contracts/{world['C']}/payments",
                              {"payment_id": "ACT-1", "amount_fen": WAN, "received_on": "2024-04-01",
                               "overpayment": "credit"}, who="owner",
                              **{"X-Request-Id": "req-actor-0001"})
    assert response.status == 200, await response.text()
    [doc] = await actors_at(ledger, head + 1, await api.head())
    assert doc == {"v": 1, "request_id": "req-actor-0001", "actor": {
        "kind": "token", "id": str(owner_token), "token_id": str(owner_token), "role": "institution",
        "institution_id": str(world["U"]), "via": "token"}}
    # An admin's command, several events in one commit: every one names the admin's token.
    head = await api.head()
    made = await api.ok("/v1/achievements", {
        "title": "录入人测试成果", "ip_type": "technical_secret", "technology_field": "biomedicine",
        "owners": [{"institution_id": world["U"], "share": "100"}], "inventors": [{"name": "赵六", "share": "100"}],
        "registered_on": "2024-01-01"}, who="admin", status=201)
    docs = await actors_at(ledger, head + 1, await api.head())
    assert docs and all(d is not None and d["actor"]["role"] == "admin" and d["actor"]["kind"] == "token"
                        and "institution_id" not in d["actor"] for d in docs)
    history = await api.read(f"/v1/records/{made['id']}/history", who="admin")
    [entry] = history["events"]
    assert (history["kind"], entry["event"], entry["version"]) == ("Achievement", "Registered", 1)
    by = entry["recorded_by"]
    assert (by["kind"], by["role"], by["name"], by["label"], by["id"]) == (
        "token", "admin", "test admin", "test admin", str(ids["admin"]))


async def test_concurrent_commands_keep_their_own_actors(api: Api, world: World, ledger: Ledger) -> None:
    """Group commit writes many requests' commits in one transaction: each keeps its sender."""
    ids = await token_ids(ledger)
    head = await api.head()
    senders = ["owner", "admin"] * 8

    async def pay(i: int, who: str) -> None:
        response = await api.post(f"/v1/contracts/{world['C']}/payments",
                                  {"payment_id": f"RACE-{i}", "amount_fen": 1, "received_on": "2024-04-02",
                                   "overpayment": "credit"}, who=who, **{"X-Request-Id": f"race-{i:04d}"})
        assert response.status in (200, 409), await response.text()

    await asyncio.gather(*(pay(i, who) for i, who in enumerate(senders)))
    rows = await ledger.store.pool.fetch("SELECT state, metadata FROM events WHERE position > $1", head)
    assert rows
    for row in rows:
        claim = json.loads(bytes(row["state"]))["payment_id"]
        i = int(claim.split("-")[1])
        actor = Actor.from_metadata(bytes(row["metadata"]))
        assert actor is not None and actor.request_id == f"race-{i:04d}"
        assert actor.id == ids[senders[i]]


async def test_the_actor_is_under_the_hash_chain(api: Api, world: World, ledger: Ledger) -> None:
    pool = ledger.store.pool
    async with pool.acquire() as conn:
        assert (await verify_log(conn)).ok
    # An event without an actor (as recorded before actors were) is stored and verifies.
    mapper = default_mapper()

    legacy = Institution.register(name="旧日志机构", kind=InstitutionKind.university, region="110000",
                                  registered_on=date(2018, 1, 1))
    committed = await ledger.store.append(Commit([mapper.to_stored_event(e) for e in legacy.collect_events()]))
    [position] = committed.positions
    assert await pool.fetchval("SELECT metadata IS NULL AND actor_id IS NULL FROM events WHERE position = $1",
                               position)
    async with pool.acquire() as conn:
        assert (await verify_log(conn)).ok
    signed = await pool.fetchval("SELECT max(position) FROM events WHERE metadata IS NOT NULL")
    original = await pool.fetchrow("SELECT metadata, actor_id FROM events WHERE position = $1", signed)
    other = Actor("token", id=uuid.uuid4(), role="admin")
    tampering = [
        ("UPDATE events SET metadata = $2, actor_id = $3 WHERE position = $1", (other.metadata(), other.id),
         "altered"),
        ("UPDATE events SET metadata = NULL, actor_id = NULL WHERE position = $1", (), "altered"),
        ("UPDATE events SET actor_id = $2 WHERE position = $1", (other.id,), "actor_mismatch"),
    ]
    for statement, args, kind in tampering:
        async with pool.acquire() as conn:
            try:
                await conn.execute(statement, signed, *args)
                report = await verify_log(conn)
                assert [(p.kind, p.position) for p in report.problems][:1] == [(kind, signed)], report
            finally:
                await conn.execute("UPDATE events SET metadata = $2, actor_id = $3 WHERE position = $1",
                                   signed, original["metadata"], original["actor_id"])
    # An actor slipped onto the event from before actors breaks its hash too.
    async with pool.acquire() as conn:
        await conn.execute("UPDATE events SET metadata = $2, actor_id = $3 WHERE position = $1", position,
                           other.metadata(), other.id)
        report = await verify_log(conn)
        assert [(p.kind, p.position) for p in report.problems] == [("altered", position)]
        await conn.execute("UPDATE events SET metadata = NULL, actor_id = NULL WHERE position = $1", position)
        assert (await verify_log(conn)).ok


async def test_system_work_names_the_system(ledger: Ledger) -> None:
    token = current_actor.set(Actor.system("cli:test"))
    try:
        from ledger.commands import institution as inst

        outcome = await ledger.bus.handle(inst.RegisterInstitution.model_validate({
            "name": "系统录入机构", "kind": "enterprise", "size": "small", "region": "110000",
            "registered_on": "2019-01-01"}))
    finally:
        current_actor.reset(token)
    row = await ledger.store.pool.fetchrow("SELECT metadata, actor_id FROM events WHERE position = $1",
                                           outcome.position)
    assert json.loads(bytes(row["metadata"])) == {"v": 1, "actor": {"kind": "system", "name": "cli:test"}}
    assert row["actor_id"] is None


async def test_the_regulator_reads_role_and_institution_never_the_person(api: Api, world: World) -> None:
    c = world["C"]
    mine = await api.read(f"/v1/records/{c}/history", who="owner")
    seen = await api.read(f"/v1/records/{c}/history", who="regulator")
    assert [e["event"] for e in mine["events"]] == [e["event"] for e in seen["events"]]
    assert mine["events"][0]["event"] == "Drafted" and mine["kind"] == "TechnologyContract"
    for entry in seen["events"]:
        by = entry["recorded_by"]
        assert by["id"] is None and by["token_id"] is None and by["name"] is None and by["request_id"] is None
        assert by["role"] in ("institution", "admin", "operator")
    drafted = seen["events"][0]["recorded_by"]
    assert (drafted["role"], drafted["institution_id"], drafted["institution_name"]) == (
        "institution", str(world["U"]), "北京示范大学")
    assert drafted["label"] == "institution · 北京示范大学"
    assert mine["events"][0]["recorded_by"]["id"] is not None
    # Out of view is missing; a regulator cannot filter lists by who recorded.
    await problem(await api.get(f"/v1/records/{c}/history", who="stranger"), 404)
    await problem(await api.get(f"/v1/records/{uuid.uuid4()}/history", who="admin"), 404)
    actor = mine["events"][0]["recorded_by"]["id"]
    doc = await problem(await api.get(f"/v1/contracts?recorded_by={actor}", who="regulator"), 422)
    assert [e["field"] for e in doc["errors"]] == ["recorded_by"]


async def test_lists_filter_by_who_recorded(api: Api, world: World, ledger: Ledger) -> None:
    ids = await token_ids(ledger)
    exchange, owner = ids["exchange"], ids["owner"]
    head = await api.head()
    by_exchange = await api.read(f"/v1/contracts?recorded_by={exchange}&limit=200&min_position={head}")
    by_owner = await api.read(f"/v1/contracts?recorded_by={owner}&limit=200&min_position={head}")
    expected_exchange = {str(r["stream_id"]) for r in await ledger.store.pool.fetch(
        "SELECT DISTINCT stream_id FROM events WHERE actor_id = $1 AND topic LIKE '%TechnologyContract%'", exchange)}
    expected_owner = {str(r["stream_id"]) for r in await ledger.store.pool.fetch(
        "SELECT DISTINCT stream_id FROM events WHERE actor_id = $1 AND topic LIKE '%TechnologyContract%'", owner)}
    assert {i["id"] for i in by_exchange["items"]} == expected_exchange
    assert {i["id"] for i in by_owner["items"]} == expected_owner and str(world["C"]) in expected_owner
    receipts = await api.read(f"/v1/receipts?recorded_by={owner}&limit=200&min_position={head}", who="owner")
    assert receipts["items"] and all(r["contract_id"] for r in receipts["items"])
    nobody = await api.read(f"/v1/receipts?recorded_by={uuid.uuid4()}&min_position={head}", who="owner")
    assert nobody["items"] == []


@pytest.fixture(autouse=True)
def _no_leak() -> None:
    """The actor is per request: nothing here leaves one set for the next test."""
    assert current_actor.get() == Actor.system("ttledger")

