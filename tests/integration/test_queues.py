"""Work queues (待办, ``GET /v1/queues``), worked by hand, on the world of ``api_support.build_world``.

Added here for university U (all as of 2025-06-15, horizon 30 days → 2025-07-15):

- licence K of patent A6 (listed on exchange X) to F, signed 2022-06-01, registered, in force
  2022-06-10, four installments of the 250万元 price: 100万 due 2022-07-01 (paid that day),
  50万 due 2025-06-01 (20万 paid 2025-06-05: 30万 outstanding, 14 days overdue), 50万 due
  2025-07-10 (due within the horizon) and 50万 due 2025-09-01 (beyond it: not listed);
- the distribution of K's first receipt (100万 received 2022-07-01, nothing deducted): the team's
  70% is 70万, 张三 60% = 42万 (paid 2022-08-01) and 李四 40% = 28万 (unpaid), whose 36-month
  deadline 2025-07-01 is 16 days ahead;
- patent A7 granted 2025-04-15 (two months before), no bonus paid: the 4,000.00 yuan floor is due by
  2025-07-15 (专利法实施细则 第93条); A6's bonus was paid in 2021;
- public notices (公示) of agreed prices: A7's first (2025-03-01 to 2025-03-16) concluded without
  objection; its second (2025-05-01 to 2025-05-16) drew one objection and is not concluded (ended);
  A6's runs 2025-06-01 to 2025-06-20 (ends in 5 days);
- UFPL licence L of patent A8 to G, signed 2024-12-01 and not registered, trial from 2025-01-01 to
  2025-07-05 (20 days ahead); UFPL licence M of A9 (registered), trial to 2025-12-31 but paid on the
  licensee's first revenue, reported 2025-04-10: its trigger is met, so it awaits conversion. On
  2025-05-20 the registry asked for a correction (补正) of M's registration, not yet made.

From the world: patents A and A4 (granted 2022-05-01, bonus due 2022-08-01, never paid) and A8
(granted 2022-05-01 by default) are overdue; equity contract CE (signed 2023-08-10, 675 days before)
and L (signed 2024-12-01, 196 days before) are signed but not registered; the world's
distribution D (received 2024-03-01) is due by 2027-03-01, outside the horizon. The world's
equity holding H (contributed 2023-09-10) has no decision record (集体决策) yet.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.bootstrap import Ledger
from ledger.serialisation import default_mapper
from projections.queues import READS
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.api_support import (
    WAN,
    Api,
    World,
    licence_terms,
    patent,
    problem,
    registration,
)

AS_OF = "2025-06-15"


@pytest.fixture(scope="module")
async def queue_world(api: Api, world: World) -> dict[str, str]:
    ids: dict[str, str] = {}
    for key, number, extra in (
        ("A6", "ZL202010000006.X", {"registered_on": "2021-01-05", "granted_on": "2021-01-01"}),
        ("A7", "ZL202310000007.X", {"registered_on": "2023-03-01", "granted_on": None}),
        ("A8", "ZL202210000008.X", {}),
        ("A9", "ZL202410000009.X", {"registered_on": "2024-03-01", "granted_on": None}),
    ):
        made = await api.ok("/v1/achievements", patent(f"队列测试 {key}", world["U"], number, **extra),
                            who="owner", status=201)
        ids[key] = made["id"]
    await api.ok(f"/v1/achievements/{ids['A7']}/grant", {"granted_on": "2025-04-15", "number": "ZL7"}, who="owner")
    await api.ok(f"/v1/achievements/{ids['A6']}/invention-bonuses",
                 {"amount_fen": 4_000_00, "paid_on": "2021-02-01", "payment_id": "IB-6"}, who="owner")
    await api.ok(f"/v1/achievements/{ids['A6']}/listings", {
        "exchange_id": world["X"], "listing_number": "CTEX-2022-0006", "listed_on": "2022-01-15"}, who="exchange")
    terms = licence_terms(world, **{
        "achievement_ids": [ids["A6"]], "contract_value_fen": 250 * WAN, "transaction_value_fen": 250 * WAN,
        "licence": {"licence_type": "exclusive", "territory": "CN", "term_start": "2022-06-10",
                    "term_end": "2030-06-09"},
        "payment_terms": {"fixed_price_fen": 250 * WAN, "installments": [
            {"amount_fen": 100 * WAN, "due_on": "2022-07-01"}, {"amount_fen": 50 * WAN, "due_on": "2025-06-01"},
            {"amount_fen": 50 * WAN, "due_on": "2025-07-10"}, {"amount_fen": 50 * WAN, "due_on": "2025-09-01"}]}})
    made = await api.ok("/v1/contracts", {"terms": terms, "drafted_on": "2022-05-20"}, who="owner", status=201)
    k = ids["K"] = made["id"]
    await api.ok(f"/v1/contracts/{k}/signature", {"on": "2022-06-01"}, who="owner")
    await api.ok(f"/v1/contracts/{k}/registration",
                 {"registration": registration(250 * WAN, "2022-06-08", "2022110000000006")}, who="owner")
    await api.ok(f"/v1/contracts/{k}/effect", {"on": "2022-06-10"}, who="owner")
    await api.ok(f"/v1/contracts/{k}/payments", {"payment_id": "K-P1", "amount_fen": 100 * WAN,
                                                 "received_on": "2022-07-01"}, who="owner")
    await api.ok(f"/v1/contracts/{k}/payments", {"payment_id": "K-P2", "amount_fen": 20 * WAN,
                                                 "received_on": "2025-06-05"}, who="owner")
    made = await api.ok("/v1/distributions", {"contract_id": k, "receipt_id": "K-P1"}, who="owner", status=201)
    ids["DK"] = made["id"]
    await api.ok(f"/v1/distributions/{ids['DK']}/payments", {"key": "inventor:张三", "amount_fen": 42 * WAN,
                                                             "paid_on": "2022-08-01", "payment_id": "AW-1"},
                 who="owner")
    a6, a7 = f"/v1/achievements/{ids['A6']}/notices", f"/v1/achievements/{ids['A7']}/notices"
    await api.ok(a7, {"starts_on": "2025-03-01", "ends_on": "2025-03-16", "agreed_price_fen": 20 * WAN}, who="owner")
    await api.ok(f"{a7}/conclusion", {"outcome": "no_objection", "on": "2025-03-17"}, who="owner")
    await api.ok(a7, {"starts_on": "2025-05-01", "ends_on": "2025-05-16", "agreed_price_fen": 25 * WAN}, who="owner")
    await api.ok(f"{a7}/objections", {"objector": "某公司", "reason": "价格偏低", "raised_on": "2025-05-10"},
                 who="owner")
    await api.ok(a6, {"starts_on": "2025-06-01", "ends_on": "2025-06-20", "agreed_price_fen": 30 * WAN}, who="owner")
    ufpl = {"kind": "ufpl_licence", "title": "先用后付 队列测试", "seller_ids": [world["U"]], "buyer_id": world["G"],
            "achievement_ids": [ids["A8"]], "contract_value_fen": 30 * WAN, "transaction_value_fen": 30 * WAN,
            "licence": {"licence_type": "non_exclusive", "term_start": "2025-01-01", "term_end": "2029-12-31"},
            "ufpl": {"trial_scope": "中试线试用", "trial_end_on": "2025-07-05", "triggers": [{"kind": "first_revenue"}]},
            "payment_terms": {"fixed_price_fen": 30 * WAN,
                              "installments": [{"amount_fen": 30 * WAN, "days_after_start": 30}]}}
    made = await api.ok("/v1/contracts", {"terms": ufpl, "drafted_on": "2024-11-20"}, who="owner", status=201)
    ids["L"] = made["id"]
    await api.ok(f"/v1/contracts/{ids['L']}/signature", {"on": "2024-12-01"}, who="owner")
    await api.ok(f"/v1/contracts/{ids['L']}/effect", {"on": "2025-01-01"}, who="owner")
    ufpl = {**ufpl, "title": "先用后付 触发", "achievement_ids": [ids["A9"]],
            "ufpl": {**ufpl["ufpl"], "trial_end_on": "2025-12-31"}}  # type: ignore[dict-item]
    made = await api.ok("/v1/contracts", {"terms": ufpl, "drafted_on": "2024-11-20"}, who="owner", status=201)
    m = ids["M"] = made["id"]
    await api.ok(f"/v1/contracts/{m}/signature", {"on": "2024-12-01"}, who="owner")
    await api.ok(f"/v1/contracts/{m}/registration",
                 {"registration": registration(30 * WAN, "2024-12-10", "2024110000000009")}, who="owner")
    await api.ok(f"/v1/contracts/{m}/effect", {"on": "2025-01-01"}, who="owner")
    await api.ok(f"/v1/contracts/{m}/licensee-revenue", {"period_start": "2025-01-01", "period_end": "2025-03-31",
                                                         "revenue_fen": 5 * WAN, "reported_on": "2025-04-10"})
    await api.ok(f"/v1/contracts/{m}/correction-requests", {"requested_on": "2025-05-20",
                                                            "reason": "技术交易额与发票不符"}, who="owner")
    return ids


async def queues(api: Api, who: str, query: str = "") -> dict[str, list[dict[str, Any]]]:
    doc = await api.read(f"/v1/queues?as_of={AS_OF}&within_days=30&min_position={await api.head()}{query}", who=who)
    assert doc["as_of"] == AS_OF and doc["horizon"] == "2025-07-15"
    return {g["queue"]: g["items"] for g in doc["queues"]}


def ids_of(items: list[dict[str, Any]]) -> list[str]:
    return [i["record"]["id"] for i in items]


async def test_owner_queues_worked_by_hand(api: Api, world: World, queue_world: dict[str, str]) -> None:
    q = queue_world
    got = await queues(api, "owner")
    k = q["K"]
    assert got["payment_overdue"] == [{
        "queue": "payment_overdue", "title": "应收款逾期 / payment overdue", "title_zh": "应收款逾期",
        "title_en": "payment overdue",
        "record": {"kind": "contract", "id": k, "link": f"/v1/contracts/{k}"},
        "dates": {"due_on": "2025-06-01"},
        "amounts": {"amount_fen": 50 * WAN, "outstanding_fen": 30 * WAN},
        "details": {"due_item_id": got["payment_overdue"][0]["details"]["due_item_id"], "due_item_kind": "installment",
                    "label": got["payment_overdue"][0]["details"]["label"], "currency": "CNY",
                    "institution_id": world["U"], "days_overdue": 14},
        "clears": [{"operation_id": "record_payment", "method": "POST", "path": f"/v1/contracts/{k}/payments"}],
    }]
    [due] = got["payment_due"]
    assert (due["record"]["id"], due["dates"], due["amounts"], due["details"]["days_overdue"]) == (
        k, {"due_on": "2025-07-10"}, {"amount_fen": 50 * WAN, "outstanding_fen": 50 * WAN}, 0)

    [award] = got["award_deadline_near"]
    assert award["record"] == {"kind": "distribution", "id": q["DK"], "link": f"/v1/distributions/{q['DK']}"}
    assert award["dates"] == {"received_on": "2022-07-01", "deadline_on": "2025-07-01"}
    assert award["amounts"] == {"allocated_fen": 28 * WAN, "paid_fen": 0, "unpaid_fen": 28 * WAN}
    assert (award["details"]["line"], award["details"]["contract_id"]) == ("inventor:李四", k)
    assert award["clears"] == [{"operation_id": "pay_award", "method": "POST",
                                "path": f"/v1/distributions/{q['DK']}/payments"}]
    assert got["award_deadline_passed"] == []

    [bonus] = got["invention_bonus_due"]
    assert bonus["record"]["id"] == q["A7"] and bonus["title"] == "职务发明奖金待发放 / invention bonus due"
    assert bonus["dates"] == {"granted_on": "2025-04-15", "deadline_on": "2025-07-15"}
    assert bonus["amounts"] == {"floor_fen": 4_000_00, "paid_fen": 0, "short_fen": 4_000_00}
    assert bonus["clears"] == [{"operation_id": "record_invention_bonus", "method": "POST",
                                "path": f"/v1/achievements/{q['A7']}/invention-bonuses"}]
    overdue = got["invention_bonus_overdue"]
    assert sorted(ids_of(overdue)) == sorted([world["A"], world["A4"], q["A8"]])
    assert {i["dates"]["deadline_on"] for i in overdue} == {"2022-08-01"}

    [ended] = got["notice_ended"]
    assert ended["record"] == {"kind": "achievement", "id": q["A7"], "link": f"/v1/achievements/{q['A7']}"}
    assert ended["title"] == "公示期满待办结 / public notice ended, to conclude"
    assert (ended["dates"], ended["amounts"]) == ({"starts_on": "2025-05-01", "ends_on": "2025-05-16"},
                                                  {"agreed_price_fen": 25 * WAN})
    assert (ended["details"]["notice"], ended["details"]["objections"]) == (2, 1)
    assert ended["clears"] == [{"operation_id": "conclude_notice", "method": "POST",
                                "path": f"/v1/achievements/{q['A7']}/notices/conclusion"}]
    [ending] = got["notice_ending"]
    assert (ending["record"]["id"], ending["dates"]["ends_on"], ending["details"]["objections"]) == (
        q["A6"], "2025-06-20", 0)

    pending = got["registration_pending"]
    assert ids_of(pending) == [world["CE"], q["L"]]
    assert [(i["dates"]["signed_on"], i["details"]["days_since_signed"]) for i in pending] == [
        ("2023-08-10", 675), ("2024-12-01", 196)]
    assert pending[0]["clears"][0]["operation_id"] == "register_contract"

    [correction] = got["registration_correction"]
    assert correction["record"] == {"kind": "contract", "id": q["M"], "link": f"/v1/contracts/{q['M']}"}
    assert correction["title"] == "认定登记待补正 / registration awaiting correction (补正)"
    assert correction["dates"] == {"signed_on": "2024-12-01", "registered_on": "2024-12-10",
                                   "correction_requested_on": "2025-05-20"}
    assert (correction["details"]["registration_number"], correction["details"]["days_since_requested"]) == (
        "2024110000000009", 26)
    assert [c["path"] for c in correction["clears"]] == [f"/v1/contracts/{q['M']}/registration",
                                                         f"/v1/contracts/{q['M']}/registration-corrections"]
    [decision] = got["equity_decision_missing"]
    h = str(world["H"])
    assert decision["record"] == {"kind": "equity_holding", "id": h, "link": f"/v1/equity-holdings/{h}"}
    assert (decision["dates"], decision["amounts"]) == ({"contributed_on": "2023-09-10"},
                                                        {"valuation_fen": 600 * WAN})
    assert decision["details"]["company_name"] == "北京微纳传感科技有限公司"
    assert decision["clears"] == [{"operation_id": "record_contribution_decision", "method": "POST",
                                   "path": f"/v1/equity-holdings/{h}/contribution-decision"}]

    [trial] = got["ufpl_trial_ending"]
    assert trial["record"]["id"] == q["L"] and trial["details"]["days_to_trial_end"] == 20
    assert trial["dates"] == {"trial_started_on": "2025-01-01", "trial_end_on": "2025-07-05", "trigger_met_on": None}
    assert [c["operation_id"] for c in trial["clears"]] == ["convert_to_paid", "end_contract"]
    assert got["ufpl_trial_ended"] == []
    [trigger] = got["ufpl_trigger_reached"]
    assert trigger["record"]["id"] == q["M"] and trigger["title_en"] == "UFPL trigger met, not converted or returned"
    assert trigger["dates"] == {"trial_started_on": "2025-01-01", "trial_end_on": "2025-12-31",
                                "trigger_met_on": "2025-04-10"}
    assert trigger["amounts"] == {"contract_value_fen": 30 * WAN, "licensee_revenue_fen": 5 * WAN}
    assert [c["path"] for c in trigger["clears"]] == [f"/v1/contracts/{q['M']}/conversion",
                                                      f"/v1/contracts/{q['M']}/end"]


async def test_later_dates_move_items_between_queues(api: Api, world: World, queue_world: dict[str, str]) -> None:
    q = queue_world
    head = await api.head()
    doc = await api.read(f"/v1/queues?as_of=2025-07-06&within_days=0&min_position={head}"
                         "&kind=award_deadline_passed&kind=ufpl_trial_ended&kind=payment_due", who="owner")
    got = {g["queue"]: g for g in doc["queues"]}
    assert list(got) == ["payment_due", "award_deadline_passed", "ufpl_trial_ended"]  # in QUEUES order
    assert ids_of(got["award_deadline_passed"]["items"]) == [q["DK"]]
    assert ids_of(got["ufpl_trial_ended"]["items"]) == [q["L"]]
    assert got["ufpl_trial_ended"]["items"][0]["details"]["days_to_trial_end"] == -1
    assert got["payment_due"]["items"] == []  # nothing falls due on 2025-07-06 itself
    limited = await api.read(f"/v1/queues?as_of={AS_OF}&kind=invention_bonus_overdue&limit=2&min_position={head}",
                             who="owner")
    [group] = limited["queues"]
    assert (group["count"], group["truncated"]) == (2, True)


async def test_each_role_sees_its_own_items(api: Api, world: World, queue_world: dict[str, str]) -> None:
    q = queue_world
    admin = await queues(api, "admin")
    owner = await queues(api, "owner")
    assert admin == owner  # every record of this world is U's
    for who in ("buyer", "stranger", "other_exchange"):
        assert all(items == [] for items in (await queues(api, who)).values()), who
    exchange = await queues(api, "exchange")
    assert list(exchange) == ["payment_overdue", "payment_due", "registration_pending", "registration_correction",
                              "ufpl_trigger_reached", "ufpl_trial_ended", "ufpl_trial_ending"]  # contract queues only
    assert ids_of(exchange["payment_overdue"]) == ids_of(exchange["payment_due"]) == [q["K"]]  # K covers A6 on X
    assert exchange["registration_pending"] == exchange["ufpl_trial_ending"] == exchange["ufpl_trigger_reached"] == []
    assert exchange["registration_correction"] == []  # M's patent A9 was never listed on X
    doc = await problem(await api.get(f"/v1/queues?as_of={AS_OF}", who="regulator"), 403)
    assert doc["type"].endswith("/role-not-allowed")


@pytest.mark.parametrize(("query", "field"), [
    ("within_days=-1", "within_days"), ("within_days=3661", "within_days"), ("kind=nonsense", "kind[0]"),
    ("as_of=2025-13-01", "as_of"), ("as_of=20250101", "as_of"), ("limit=0", "limit"), ("limit=x", "limit"),
])
async def test_bad_parameters_are_named(api: Api, world: World, query: str, field: str) -> None:
    doc = await problem(await api.get(f"/v1/queues?{query}", who="owner"), 422)
    assert [(e["field"], e["in"]) for e in doc["errors"]] == [(field, "query")], doc


async def test_the_clearing_commands_clear_their_items(api: Api, world: World, queue_world: dict[str, str]) -> None:
    """The correction answers the registry's request; the decision record fills the holding's gap. A second
    request while one is open, and a decision dated after the contribution, are refused and write nothing."""
    m, h = queue_world["M"], world["H"]
    head = await api.head()
    doc = await problem(await api.post(f"/v1/contracts/{m}/correction-requests",
                                       {"requested_on": "2025-05-25", "reason": "再次补正"}, who="owner"), 422)
    assert [(e["rule"], e["field"]) for e in doc["errors"]] == [("correction_request_open_once", "requested_on")]
    decision = {"decided_on": "2023-09-11", "decision_makers": ["校长办公会"], "basis": "2023年第12次校长办公会纪要"}
    doc = await problem(await api.post(f"/v1/equity-holdings/{h}/contribution-decision", {"decision": decision},
                                       who="owner"), 422)
    assert [(e["rule"], e["field"]) for e in doc["errors"]] == [
        ("contribution_decision_recorded_once", "decision.decided_on")]
    assert await api.head() == head
    await api.ok(f"/v1/contracts/{m}/registration-corrections", {
        "registration": registration(30 * WAN, "2024-12-10", "2024110000000009"), "corrected_on": "2025-06-01",
        "reason": "按发票核定技术交易额"}, who="owner")
    await api.ok(f"/v1/equity-holdings/{h}/contribution-decision",
                 {"decision": {**decision, "decided_on": "2023-08-25"}}, who="owner")
    got = await queues(api, "owner")
    assert got["registration_correction"] == got["equity_decision_missing"] == []
    doc = await problem(await api.post(f"/v1/equity-holdings/{h}/contribution-decision",
                                       {"decision": {**decision, "decided_on": "2023-08-26"}}, who="owner"), 422)
    assert [(e["rule"], e["field"]) for e in doc["errors"]] == [("contribution_decision_recorded_once", "decision")]


async def test_queues_are_the_same_after_a_rebuild(api: Api, world: World, queue_world: dict[str, str],
                                                   ledger: Ledger) -> None:
    """The read models behind the queues rebuild to the same answers (another runner rebuilds them)."""
    before = {who: await queues(api, who) for who in ("admin", "exchange")}
    rows_before = await ledger.store.pool.fetch("SELECT * FROM dist_notices ORDER BY achievement_id, seq")
    other = ProjectionRunner(ledger.store, default_mapper(), all_projections())
    await other.setup()
    await other.rebuild(list(READS))
    assert await ledger.store.pool.fetch("SELECT * FROM dist_notices ORDER BY achievement_id, seq") == rows_before
    assert len(rows_before) == 3
    assert {who: await queues(api, who) for who in ("admin", "exchange")} == before
