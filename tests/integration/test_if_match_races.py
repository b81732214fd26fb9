"""A stale If-Match never writes (issue 21, deliverable 6).

The mechanism, on the store and the unit of work:

* within a unit of work a record read as absent stays absent (no second read
  can find what another command created meanwhile);
* a command whose caller compared a version (``UnitOfWork.expect_version``,
  what ``If-Match`` does) commits only if every stream it read, found or
  absent, is still at the version it read, in the group commit's order.

And over HTTP, for every route that takes ``If-Match``: N requests with the
same expected version, released together, give exactly one success and N−1
``409 stream_version_is_current`` problems, and exactly one command's events
are written. The first adoption of a distribution policy (``If-Match: "0"``
on an institution without one) is raced in several rounds on fresh
institutions: it used to let two requests through.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter as Tally
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse

from api.problems import PROBLEM_CONTENT_TYPE
from api.routes import ALL as ROUTE_REGISTRIES
from domain.distribution import policy_id_for
from ledger.bootstrap import Ledger
from ledger.repository import AggregateNotFound, Repository
from ledger.serialisation import default_mapper
from ledger.store import Commit, ConcurrencyConflict, EventStore
from ledger.unit_of_work import UnitOfWork
from tests.integration.api_support import WAN, Api, World, patent, registration, ufpl_terms
from tests.integration.helpers import Counter

N = 8
"""Requests per race."""
POLICY_N = 16
POLICY_ROUNDS = 4
RACED: set[str] = set()
"""The path templates raced so far; the last test checks that every If-Match route is among them."""


# ---- the mechanism ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def store(migrated_dsn: str) -> AsyncIterator[EventStore]:
    opened = await EventStore.connect(migrated_dsn, min_size=2, max_size=6)
    yield opened
    await opened.close()


class CountingRepository(Repository):
    def __init__(self, store: EventStore) -> None:
        super().__init__(store, default_mapper(), snapshot_interval=0)
        self.loads = 0

    async def load(self, aggregate_id: uuid.UUID, *, version: int | None = None) -> Any:
        self.loads += 1
        return await super().load(aggregate_id, version=version)


def uow_on(store: EventStore) -> UnitOfWork:
    return UnitOfWork(store, CountingRepository(store))


async def committed_counter(store: EventStore, name: str = "c") -> uuid.UUID:
    uow = uow_on(store)
    counter = Counter(name)
    uow.add(counter)
    await uow.commit()
    return counter.id


async def test_a_record_read_as_absent_stays_absent(store: EventStore) -> None:
    later = Counter("created meanwhile")
    uow = uow_on(store)
    with pytest.raises(AggregateNotFound):
        await uow.get(Counter, later.id)
    other = uow_on(store)
    other.add(later)
    await other.commit()  # another command creates it
    repository = uow.repository
    assert isinstance(repository, CountingRepository) and repository.loads == 1
    with pytest.raises(AggregateNotFound):
        await uow.get(Counter, later.id)
    assert repository.loads == 1  # remembered, not read again
    assert uow.reads == {later.id: 0}

    # The command itself may create what it read as absent.
    mine = Counter("mine")
    uow2 = uow_on(store)
    with pytest.raises(AggregateNotFound):
        await uow2.get(Counter, mine.id)
    uow2.add(mine)
    assert await uow2.get(Counter, mine.id) is mine
    await uow2.commit()  # not conditional: nothing else to check
    assert (await Repository(store, default_mapper(), snapshot_interval=0).get(Counter, mine.id)).name == "mine"


async def test_a_record_of_another_kind_is_not_a_miss(store: EventStore) -> None:
    """Asking for the wrong class is "not found" for that class, yet the record stays readable."""
    from domain.institution import Institution

    cid = await committed_counter(store)
    uow = uow_on(store)
    with pytest.raises(AggregateNotFound):
        await uow.get(Institution, cid)
    assert (await uow.get(Counter, cid)).id == cid
    assert uow.reads == {cid: 1}


async def test_conditional_commit_conflicts_when_a_record_read_as_absent_appears(store: EventStore) -> None:
    policy_like = Counter("first version")  # its id is known before it exists, like a policy's
    uow = uow_on(store)
    with pytest.raises(AggregateNotFound):
        await uow.get(Counter, policy_like.id)
    uow.expect_version(policy_like.id, 0)  # If-Match: "0"
    elsewhere = Counter("written elsewhere")
    uow.add(elsewhere)
    rival = uow_on(store)
    rival.add(policy_like)
    await rival.commit()
    head = await store.head()
    with pytest.raises(ConcurrencyConflict) as info:
        await uow.commit()
    assert (info.value.stream_id, info.value.expected_version, info.value.actual_version) == (policy_like.id, 0, 1)
    assert await store.head() == head and await store.load(elsewhere.id) == []


async def test_conditional_commit_conflicts_when_a_record_read_but_not_written_moves_on(store: EventStore) -> None:
    target, other = await committed_counter(store, "target"), await committed_counter(store, "other")

    async def command(conditional: bool) -> UnitOfWork:
        uow = uow_on(store)
        counter = await uow.get(Counter, target)
        await uow.get(Counter, other)  # read, not written
        if conditional:
            uow.expect_version(target, counter.version)
        counter.increment(1)
        return uow

    pinned, free = await command(True), await command(False)
    mover = uow_on(store)
    (await mover.get(Counter, other)).increment(5)
    await mover.commit()
    head = await store.head()
    with pytest.raises(ConcurrencyConflict) as info:
        await pinned.commit()
    assert (info.value.stream_id, info.value.expected_version, info.value.actual_version) == (other, 1, 2)
    assert await store.head() == head
    await free.commit()  # without If-Match, only the streams written are checked (the bus retries those)
    assert await store.head() == head + 1


async def test_expect_version_refuses_a_version_other_than_the_one_read(store: EventStore) -> None:
    cid = await committed_counter(store)
    uow = uow_on(store)
    await uow.get(Counter, cid)
    with pytest.raises(ConcurrencyConflict):
        uow.expect_version(cid, 3)


async def test_reads_are_checked_in_the_group_commits_order(store: EventStore) -> None:
    """One flush: a read is stale only if a command queued *before* it wrote that stream."""
    shared = await committed_counter(store, "shared")
    mapper = default_mapper()

    async def writes_shared(version: int) -> Commit:
        events = await _increment(store, shared)
        return Commit([mapper.to_stored_event(e) for e in events], reads={shared: version})

    def reads_shared(version: int) -> Commit:
        fresh = Counter("reader")
        return Commit([mapper.to_stored_event(e) for e in fresh.collect_events()], reads={shared: version})

    # Reader queued first: it comes first in the log, so what it read is still current. Both commit.
    writes = await writes_shared(1)
    reader, writer = await asyncio.gather(store.append(reads_shared(1)), store.append(writes))
    assert reader.positions[-1] < writer.positions[0]
    # Writer queued first: the reader after it read a version that has moved on.
    head = await store.head()
    writes = await writes_shared(2)
    outcomes = await asyncio.gather(
        store.append(writes),
        store.append(reads_shared(2)),
        store.append(Commit([mapper.to_stored_event(e) for e in Counter("bystander").collect_events()])),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], ConcurrencyConflict) and outcomes[1].stream_id == shared
    assert not isinstance(outcomes[0], BaseException) and not isinstance(outcomes[2], BaseException)
    assert await store.head() == head + 2


async def _increment(store: EventStore, stream_id: uuid.UUID) -> list[Any]:
    """The event of incrementing ``stream_id`` as it stands, not yet written."""
    counter = await Repository(store, default_mapper(), snapshot_interval=0).get(Counter, stream_id)
    counter.increment(1)
    return list(counter.collect_events())


# ---- over HTTP: every route that takes If-Match -----------------------------------------------------


def if_match_routes() -> set[str]:
    return {spec.path for registry in ROUTE_REGISTRIES for spec in registry.routes if spec.if_match}


async def stream_version(ledger: Ledger, stream_id: str | uuid.UUID) -> int:
    value = await ledger.store.pool.fetchval(
        "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $1", uuid.UUID(str(stream_id)))
    return int(value)


async def race(api: Api, ledger: Ledger, template: str, ids: dict[str, str], body: Callable[[int], Any] | Any,
               *, stream: str | uuid.UUID | None = None, n: int = N) -> dict[str, Any]:
    """``n`` requests with ``If-Match`` at the stream's current version, released at once.

    ``stream`` is the record ``If-Match`` compares (by default the one the path names).
    Returns the winner's body, after checking one success, n−1 409 problems, and one
    command's events written (one idempotency key recorded, at the new log head).
    """
    RACED.add(template)
    path = template.format(**ids)
    compared = stream if stream is not None else next(iter(ids.values()))
    version = await stream_version(ledger, compared)
    head = await ledger.store.head()
    tag = f"race-{uuid.uuid4().hex[:12]}"
    go = asyncio.Event()

    async def one(i: int) -> tuple[int, str, str]:
        await go.wait()
        response: ClientResponse = await api.client.post(
            path, json=body(i) if callable(body) else body,
            headers=api.headers("admin", **{"If-Match": f'"{version}"', "Idempotency-Key": f"{tag}-{i}"}))
        return response.status, response.content_type, await response.text()

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await asyncio.sleep(0)
    go.set()
    answers = await asyncio.gather(*tasks)
    statuses = Tally(status for status, _, _ in answers)
    assert statuses == {next(s for s in statuses if 200 <= s < 300): 1, 409: n - 1}, (path, version, answers)
    winner = next(json.loads(text) for status, _, text in answers if status < 300)
    for status, content_type, text in answers:
        if status == 409:
            doc = json.loads(text)
            assert content_type == PROBLEM_CONTENT_TYPE and doc["type"].endswith("/stream_version_is_current"), doc
            assert doc["expected_version"] == version
    # Exactly one command written: each request records its key with its events.
    keys = await ledger.store.pool.fetch(
        "SELECT key, position FROM idempotency_keys WHERE key LIKE $1", f"%|{tag}-%")
    after = await ledger.store.head()
    assert len(keys) == 1 and keys[0]["position"] == after == winner["position"] > head, (keys, head, after)
    assert await stream_version(ledger, compared) > version
    return dict(winner)


async def new_institution(api: Api, **extra: Any) -> str:
    body = {"name": "竞态测试大学", "kind": "university", "region": "110000", "public": True,
            "rule_pack": "beijing", "registered_on": "2015-01-01", **extra}
    return str((await api.ok("/v1/institutions", body, status=201))["id"])


POLICY = {"version_label": "2022版", "effective_from": "2022-01-01",
          "cash_split": {"inventor_team": 70, "department": 15, "institution": 15},
          "equity_split": {"inventor_team": 80, "institution": 20}}


async def test_first_policy_adopted_once_by_sixteen_at_once(api: Api, world: World, ledger: Ledger) -> None:
    template = "/v1/institutions/{institution_id}/policy"
    for _ in range(POLICY_ROUNDS):
        institution = await new_institution(api)
        policy = policy_id_for(uuid.UUID(institution))
        won = await race(api, ledger, template, {"institution_id": institution}, POLICY,
                         stream=policy, n=POLICY_N)
        assert won["version"] == 2 == await stream_version(ledger, policy)  # created, one version adopted
        view = await api.read(f"/v1/institutions/{institution}/policy")
        assert [v["version_label"] for v in view["versions"]] == ["2022版"]
    # And on a policy that exists: a second version, once.
    won = await race(api, ledger, template, {"institution_id": institution},
                     {**POLICY, "version_label": "2026版", "effective_from": "2026-01-01"}, stream=policy)
    assert won["version"] == 3


async def test_institution_routes(api: Api, world: World, ledger: Ledger) -> None:
    institution = await new_institution(api)
    ids = {"institution_id": institution}
    await race(api, ledger, "/v1/institutions/{institution_id}/name", ids, lambda i: {"name": f"竞态测试大学{i}"})
    await race(api, ledger, "/v1/institutions/{institution_id}/rule-pack", ids,
               {"rule_pack": "national", "effective_from": "2026-01-01"})
    enterprise = await new_institution(api, kind="enterprise", size="small", public=False, rule_pack="national")
    await race(api, ledger, "/v1/institutions/{institution_id}/size", {"institution_id": enterprise},
               {"size": "medium"})


async def test_achievement_routes(api: Api, world: World, ledger: Ledger) -> None:
    body = patent("竞态专利", world["U"], "CN202310000009.X")
    del body["granted_on"]
    ids = {"achievement_id": (await api.ok("/v1/achievements", body, who="owner", status=201))["id"]}
    a = "/v1/achievements/{achievement_id}"
    for suffix, step in (
        ("grant", {"granted_on": "2023-01-10", "number": "ZL202310000009.X"}),
        ("invention-bonuses", lambda i: {"amount_fen": 2000 * 100, "paid_on": "2023-02-01",
                                         "payment_id": f"IB-{i}"}),
        ("separate-register/entry", {"on": "2023-02-01"}),
        ("separate-register/exit", {"on": "2023-03-01", "reason": "转入专项管理"}),
        ("valuations", {"method": "market", "amount_fen": 200 * WAN, "valued_on": "2022-09-01",
                        "assessor": "中联资产评估集团"}),
        ("proofs-of-concept", {"funder": "北京市科委", "amount_fen": 50 * WAN, "stage": "样机",
                               "funded_on": "2022-10-01"}),
        ("notices", {"starts_on": "2023-02-01", "ends_on": "2023-02-20", "agreed_price_fen": 180 * WAN}),
        ("notices/objections", {"objector": "王五", "reason": "价格过低", "raised_on": "2023-02-05"}),
        ("notices/conclusion", {"outcome": "objection_rejected", "on": "2023-02-21"}),
        ("listings", {"exchange_id": world["X"], "listing_number": "CTEX-2023-0909", "listed_on": "2023-03-01",
                      "asking_price_fen": 200 * WAN}),
        ("delistings", {"exchange_id": world["X"], "on": "2023-06-01"}),
    ):
        await race(api, ledger, f"{a}/{suffix}", ids, step)
    other = {"achievement_id": (await api.ok("/v1/achievements", patent("竞态专利二", world["U"], "ZL202210000077.X"),
                                             who="owner", status=201))["id"]}
    await race(api, ledger, f"{a}/rights-grant", other, {
        "kind": "ownership_by_share", "granted_on": "2023-01-01", "inventor_shares": ["30", "30"],
        "retained_share": "40"})
    await race(api, ledger, f"{a}/lapse", other, {"on": "2024-01-01", "reason": "未缴年费"})


async def test_contract_routes_from_draft_to_completion(api: Api, world: World, ledger: Ledger) -> None:
    made = await api.ok("/v1/achievements", patent("竞态转让专利", world["U"], "ZL202210000088.X"),
                        who="owner", status=201)
    terms = {"kind": "assignment", "title": "竞态专利权转让", "seller_ids": [world["U"]], "buyer_id": world["F"],
             "achievement_ids": [made["id"]], "contract_value_fen": 100 * WAN, "transaction_value_fen": 100 * WAN,
             "payment_terms": {"fixed_price_fen": 100 * WAN, "installments": [
                 {"amount_fen": 40 * WAN, "due_on": "2023-08-01"}, {"amount_fen": 60 * WAN, "due_on": "2024-02-01"}]}}
    created = await api.ok("/v1/contracts", {"terms": terms, "drafted_on": "2023-07-01"}, who="owner", status=201)
    ids = {"contract_id": created["id"]}
    c = "/v1/contracts/{contract_id}"
    approved = {**registration(90 * WAN, "2023-07-20", "2023110000000099"), "approved_category": "assignment"}
    await race(api, ledger, f"{c}/terms", ids, {"terms": {**terms, "title": "竞态专利权转让合同"},
                                                "amended_on": "2023-07-05"})
    await race(api, ledger, f"{c}/signature", ids, {"on": "2023-07-10"})
    await race(api, ledger, f"{c}/registration", ids, {"registration": approved})
    await race(api, ledger, f"{c}/correction-requests", ids, {"requested_on": "2023-07-25",
                                                              "reason": "技术交易额核定有误"})
    await race(api, ledger, f"{c}/registration-corrections", ids, {
        "registration": {**approved, "approved_transaction_value_fen": 100 * WAN}, "corrected_on": "2023-08-01",
        "reason": "补正：技术交易额核定有误"})
    await race(api, ledger, f"{c}/effect", ids, {"on": "2023-07-15"})
    await race(api, ledger, f"{c}/payments", ids,
               lambda i: {"payment_id": f"RACE-P{i}", "amount_fen": 100 * WAN, "received_on": "2023-08-01"})
    await race(api, ledger, f"{c}/end", ids, {"end": "complete", "on": "2024-03-01"})


async def due_item_id(api: Api, contract_id: str, kind: str) -> str:
    view = await api.read(f"/v1/contracts/{contract_id}")
    return str(next(i for i in view["due_items"] if i["kind"] == kind)["item_id"])


async def test_licence_money_routes(api: Api, world: World, ledger: Ledger) -> None:
    ids = {"contract_id": world["C"]}
    c = "/v1/contracts/{contract_id}"
    await race(api, ledger, f"{c}/milestones", ids, {"name": "量产", "on": "2024-06-01"})
    milestone = await due_item_id(api, world["C"], "milestone")
    await race(api, ledger, f"{c}/deferrals", ids, {
        "new_due_dates": {milestone: "2024-12-01"}, "approver": "技术转移中心主任", "reason": "买方产线延期投产",
        "decided_on": "2024-06-05"})
    await api.ok(f"/v1/contracts/{world['C']}/payments", {
        "payment_id": "P2", "amount_fen": 9 * WAN, "received_on": "2024-12-01", "due_item_id": milestone,
        "overpayment": "credit"})
    await race(api, ledger, f"{c}/credit-refunds", ids,
               lambda i: {"credit_id": "P2", "amount_fen": WAN, "on": "2024-12-05", "reference": f"REF-{i}"})
    await race(api, ledger, f"{c}/royalty-reports", ids, {
        "period_start": "2024-02-01", "period_end": "2025-01-31", "base_fen": 100 * WAN, "reported_on": "2025-02-10"})
    await race(api, ledger, f"{c}/minimum-royalty-top-ups", ids, {"contract_year": 1, "on": "2025-02-15"})
    await race(api, ledger, f"{c}/credit-applications", ids, {"credit_id": "P2", "on": "2025-03-01"})
    await race(api, ledger, f"{c}/defaults", ids, {"on": "2025-03-10", "description": "最低提成逾期未付"})
    await race(api, ledger, f"{c}/credit-reports", ids,
               {"agency": "人民银行征信中心", "reported_on": "2025-03-12", "content_ref": "CR-2025-001"})
    await race(api, ledger, f"{c}/insurance-compensations", ids, lambda i: {
        "claim_id": f"PICC-{i}", "insurer": "中国人保财险", "amount_fen": WAN, "paid_on": "2025-03-25"})
    minimum = await due_item_id(api, world["C"], "minimum_royalty")
    await race(api, ledger, f"{c}/write-offs", ids,
               {"due_item_id": minimum, "approver": "财务处处长", "reason": "协商减免", "on": "2025-04-01"})


async def test_use_first_pay_later_routes(api: Api, world: World, ledger: Ledger) -> None:
    made = await api.ok("/v1/achievements", patent("竞态固态电解质", world["U"], "ZL202210000066.X"),
                        who="owner", status=201)
    terms = ufpl_terms(world, made["id"], "先使用后付费许可：竞态")
    created = await api.ok("/v1/contracts", {"terms": terms, "drafted_on": "2024-01-10"}, status=201)
    ids = {"contract_id": created["id"]}
    c = "/v1/contracts/{contract_id}"
    await api.ok(f"/v1/contracts/{created['id']}/signature", {"on": "2024-01-20"})
    await race(api, ledger, f"{c}/paid-terms", ids, {"payment_terms": {"fixed_price_fen": 20 * WAN, "installments": [
        {"amount_fen": 20 * WAN, "days_after_start": 30}]}, "agreed_on": "2024-01-25"})
    await api.ok(f"/v1/contracts/{created['id']}/effect", {"on": "2024-02-01"})
    await race(api, ledger, f"{c}/licensee-revenue", ids, {
        "period_start": "2024-02-01", "period_end": "2024-06-30", "revenue_fen": 100 * WAN,
        "reported_on": "2024-07-05"})
    await race(api, ledger, f"{c}/conversion", ids, {"on": "2024-07-10"})


async def test_equity_holding_routes(api: Api, world: World, ledger: Ledger) -> None:
    ids = {"holding_id": world["H"]}
    h = "/v1/equity-holdings/{holding_id}"
    decision = {"decision_makers": ["校长办公会"], "basis": "资产评估报告", "decided_on": "2024-07-01"}
    await race(api, ledger, f"{h}/policy-awards", ids, {"awarded_on": "2023-10-01"})
    await race(api, ledger, f"{h}/share-awards", ids, {"inventor": "张三", "shares": 100_000, "awarded_on": "2023-10-02"})
    await race(api, ledger, f"{h}/dividends", ids,
               lambda i: {"dividend_id": f"DIV-{i}", "amount_fen": 18 * WAN, "received_on": "2024-06-30"})
    await race(api, ledger, f"{h}/contribution-decision", ids, {"decision": {**decision, "decided_on": "2023-09-01"}})
    await race(api, ledger, f"{h}/revaluations", ids, {"new_value_fen": 130 * WAN, "decision": decision})
    await race(api, ledger, f"{h}/impairments", ids,
               {"amount_fen": 10 * WAN, "decision": {**decision, "decided_on": "2024-08-01"}})
    await race(api, ledger, f"{h}/dilutions", ids, {"new_total_shares": 40_000_000, "on": "2024-09-01",
                                                    "reason": "A 轮融资"})
    await race(api, ledger, f"{h}/sales", ids, lambda i: {
        "sale_id": f"SALE-{i}", "shares": 100_000, "proceeds_fen": 16 * WAN, "buyer": "苏州产业投资基金",
        "sold_on": "2025-05-20"})


async def test_self_implementation_routes(api: Api, world: World, ledger: Ledger) -> None:
    ids = {"self_implementation_id": world["S"]}
    s = "/v1/self-implementations/{self_implementation_id}"
    await race(api, ledger, f"{s}/profits", ids, {"year": 2023, "profit_fen": 100 * WAN, "reported_on": "2024-03-01"})
    await race(api, ledger, f"{s}/profit-corrections", ids, {
        "year": 2023, "profit_fen": 120 * WAN, "corrected_on": "2024-04-01", "reason": "审计调整"})
    await race(api, ledger, f"{s}/awards", ids, {"year": 2023, "allocated_on": "2024-05-01"})
    await race(api, ledger, f"{s}/award-payments", ids, lambda i: {
        "year": 2023, "inventor": "王明", "amount_fen": 1000, "paid_on": "2024-06-01", "payment_id": f"SP-{i}"})
    await race(api, ledger, f"{s}/stop", ids, {"on": "2025-01-01", "reason": "转为对外许可"})


async def test_distribution_routes(api: Api, world: World, ledger: Ledger) -> None:
    ids = {"distribution_id": world["D"]}
    d = "/v1/distributions/{distribution_id}"
    await race(api, ledger, f"{d}/notices", ids,
               lambda i: {"notice_id": f"N-{i}", "starts_on": "2024-04-01", "ends_on": "2024-04-20"})
    await race(api, ledger, f"{d}/payments", ids, lambda i: {
        "key": "inventor:张三", "amount_fen": 1000, "paid_on": "2024-06-30", "payment_id": f"AW-{i}"})



async def test_recovery_routes(api: Api, world: World, ledger: Ledger) -> None:
    """An overpaid award (paid in full, then a late deduction) is repaid, then offset against a
    later award to the same inventor."""
    from datetime import date

    from domain.award import IncomeDistribution
    from ledger.commands import distribution as dist
    from tests.integration.test_reversals import second_deal

    ids = {"distribution_id": world["D"]}
    d = "/v1/distributions/{distribution_id}"
    zhang = "inventor:张三"
    unpaid = (await ledger.repository.get(IncomeDistribution, uuid.UUID(world["D"]))).unpaid_fen(zhang)
    await ledger.bus.handle(dist.PayAward(distribution_id=uuid.UUID(world["D"]), key=zhang, amount_fen=unpaid,
                                          paid_on=date(2024, 6, 29), payment_id="AW-FULL"))
    late = await ledger.bus.handle(dist.RecordDeduction(
        subject_id=uuid.UUID(world["C"]), reference="LATE-1", category="tax", amount_fen=WAN,
        incurred_on=date(2024, 6, 30), description="补缴税款"))
    assert late.result["adjusted_distribution_id"] == world["D"]
    await race(api, ledger, f"{d}/recoveries/repayments", ids, lambda i: {
        "key": zhang, "amount_fen": 100, "repaid_on": "2024-07-01", "reference": f"RET-{i}"})
    later = await second_deal(ledger, {"uni": world["U"], "firm": world["F"]}, "张三", "ZL202210000099.1")
    await race(api, ledger, f"{d}/recoveries/offsets", ids, lambda i: {
        "key": zhang, "against_distribution_id": str(later), "amount_fen": 100, "offset_on": "2024-08-05",
        "offset_id": f"OFF-{i}"})


def test_every_if_match_route_was_raced() -> None:
    """Runs last: a route that takes If-Match added later must be raced here too."""
    missing = if_match_routes() - RACED
    assert not missing, sorted(missing)
