"""The domain routes over HTTP on the real database: every command and query, end to end.

One app serves the whole module (the world of ``api_support.build_world``
plus the flows here); the last test checks from the app's own request
metrics that every route of the registry answered with success at least once.
Errors are checked to write nothing (the log head does not move).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import uuid
from typing import Any

from api.metrics import METRICS
from api.routing import ROUTES
from ledger.bootstrap import Ledger
from ledger.store import GENESIS_HASH
from ledger.tokens import Role, TokenService
from tests.integration.api_support import (
    WAN,
    Api,
    World,
    licence_terms,
    patent,
    problem,
    registration,
    serve,
    ufpl_terms,
)


async def due_item(api: Api, contract_id: str, kind: str) -> dict[str, Any]:
    view = await api.read(f"/v1/contracts/{contract_id}")
    return next(i for i in view["due_items"] if i["kind"] == kind)


# ---- institutions -------------------------------------------------------------------------------


async def test_institution_registers_itself_and_changes_with_if_match(api: Api, world: World,
                                                                      ledger: Ledger) -> None:
    new_id = uuid.uuid4()
    _, api.tokens["newcomer"] = await TokenService(ledger.store.pool).create(
        Role.INSTITUTION, institution_id=new_id, name="newcomer")
    body = {"id": str(new_id), "name": "浙江示范大学", "kind": "university", "region": "330000", "public": True,
            "rule_pack": "zhejiang", "registered_on": "2015-01-01"}
    other = {**body, "id": str(uuid.uuid4())}
    doc = await problem(await api.post("/v1/institutions", other, who="newcomer"), 403)
    assert doc["type"].endswith("/institution-scope")

    response = await api.post("/v1/institutions", body, who="newcomer")
    assert response.status == 201, await response.text()
    created = await response.json()
    assert response.headers["Location"] == f"/v1/institutions/{new_id}"
    assert response.headers["ETag"] == '"1"' and created["version"] == 1
    assert response.headers["X-Log-Position"] == str(created["position"]) == str(await api.head())

    path = f"/v1/institutions/{new_id}"
    renamed = await api.ok(f"{path}/name", {"name": "浙江示范大学（新）"}, who="newcomer", **{"If-Match": '"1"'})
    assert renamed["version"] == 2
    head = await api.head()
    stale = await api.post(f"{path}/name", {"name": "又一个名字"}, who="newcomer", **{"If-Match": '"1"'})
    doc = await problem(stale, 409)
    assert (doc["expected_version"], doc["current_version"]) == (1, 2)
    assert doc["stream_id"] == str(new_id) and stale.headers["ETag"] == '"2"'
    assert await api.head() == head  # nothing written

    response = await api.get(path, who="newcomer")
    view = await response.json()
    assert response.status == 200 and response.headers["ETag"] == '"2"'
    assert view["name"] == "浙江示范大学（新）" and view["rule_pack"] == "zhejiang"
    await api.ok(f"/v1/institutions/{world['U2']}/rule-pack", {"rule_pack": "national",
                                                               "effective_from": "2026-01-01"}, who="stranger")
    await api.ok(f"/v1/institutions/{world['F']}/size", {"size": "medium"}, who="buyer")
    assert (await api.read(f"/v1/institutions/{world['F']}", who="buyer"))["size"] == "medium"
    assert [p["rule_pack"] for p in (await api.read(f"/v1/institutions/{world['U2']}"))["rule_packs"]] == [
        "shanghai", "national"]


# ---- achievements ---------------------------------------------------------------------------------


async def test_achievement_lifecycle(api: Api, world: World) -> None:
    body = patent("一种高效锂电池正极材料", world["U"], "CN202310000001.X")
    del body["granted_on"]  # a pending application
    created = await api.ok("/v1/achievements", body, who="owner", status=201)
    world.ids["A1"] = uuid.UUID(created["id"])
    a = f"/v1/achievements/{created['id']}"
    await api.ok(f"{a}/grant", {"granted_on": "2023-01-10", "number": "ZL202310000001.X"}, who="owner")
    await api.ok(f"{a}/invention-bonuses", {"amount_fen": 4000 * 100, "paid_on": "2023-03-01",
                                            "payment_id": "BONUS-1"}, who="owner")
    await api.ok(f"{a}/separate-register/entry", {"on": "2023-02-01"}, who="owner")
    await api.ok(f"{a}/separate-register/exit", {"on": "2023-03-01", "reason": "转入专项管理"}, who="owner")
    await api.ok(f"{a}/valuations", {"method": "market", "amount_fen": 200 * WAN, "valued_on": "2022-09-01",
                                     "assessor": "中联资产评估集团"}, who="owner")
    await api.ok(f"{a}/proofs-of-concept", {"funder": "北京市科委", "amount_fen": 50 * WAN, "stage": "样机",
                                            "funded_on": "2022-10-01"}, who="owner")
    await api.ok(f"{a}/notices", {"starts_on": "2023-02-01", "ends_on": "2023-02-20",
                                  "agreed_price_fen": 180 * WAN}, who="owner")
    await api.ok(f"{a}/notices/objections", {"objector": "王五", "reason": "价格过低", "raised_on": "2023-02-05"},
                 who="owner")
    await api.ok(f"{a}/notices/conclusion", {"outcome": "objection_rejected", "on": "2023-02-21"}, who="owner")
    # The exchange lists on itself; the owner lists jointly on another exchange, which delists it.
    await api.ok(f"{a}/listings", {"exchange_id": world["X"], "listing_number": "CTEX-2023-0201",
                                   "listed_on": "2023-03-01", "asking_price_fen": 200 * WAN}, who="exchange")
    await api.ok(f"{a}/listings", {"exchange_id": world["Y"], "listing_number": "STEX-2023-0001",
                                   "listed_on": "2023-03-02"}, who="owner")
    doc = await problem(await api.post(f"{a}/delistings", {"exchange_id": world["X"], "on": "2023-06-01"},
                                       who="other_exchange"), 403)
    assert doc["type"].endswith("/institution-scope")
    await api.ok(f"{a}/delistings", {"exchange_id": world["Y"], "on": "2023-06-01"}, who="other_exchange")

    # Rights granted to the inventors of another achievement, which then lapses.
    other = await api.ok("/v1/achievements", patent("抗旱水稻育种方法", world["U"], "ZL202210000007.X"),
                         who="owner", status=201)
    b = f"/v1/achievements/{other['id']}"
    await api.ok(f"{b}/rights-grant", {"kind": "ownership_by_share", "granted_on": "2023-01-01",
                                       "inventor_shares": ["30", "30"], "retained_share": "40"}, who="owner")
    await api.ok(f"{b}/lapse", {"on": "2024-01-01", "reason": "未缴年费"}, who="owner")

    view = await api.read(a, who="owner")
    assert view["granted_on"] == "2023-01-10" and view["official_number"] == "ZL202310000001.X"
    assert [i["name"] for i in view["inventors"]] == ["张三", "李四"]
    assert view["inventors"][0]["person_id"] == "110101199001011234"
    assert [lst["exchange_id"] for lst in view["listings"]] == [world["X"], world["Y"]]
    assert view["listings"][1]["delisted_on"] == "2023-06-01"
    assert view["notices"][0]["objections"][0]["objector"] == "王五"
    assert view["in_separate_register"] is False and len(view["register_spells"]) == 1
    lapsed = await api.read(b)
    assert lapsed["lapsed_on"] == "2024-01-01" and lapsed["rights_grant"]["retained_share"] == "40"

    seen = await api.read(a, who="regulator")
    assert seen["inventors"] == [{"name": None, "share": "60", "person_id": None},
                                 {"name": None, "share": "40", "person_id": None}]
    assert seen["inventor_count"] == 2 and seen["notices"][0]["objections"][0]["objector"] == "(redacted)"
    text = json.dumps(seen, ensure_ascii=False)
    assert "张三" not in text and "李四" not in text and "王五" not in text and "1101011990" not in text
    assert (await api.read(a, who="exchange"))["id"] == created["id"]  # listed on its exchange


# ---- contracts -------------------------------------------------------------------------------------


async def test_assignment_drafted_by_the_exchange_to_completion(api: Api, world: World) -> None:
    terms = {"kind": "assignment", "title": "正极材料专利权转让", "seller_ids": [world["U"]],
             "buyer_id": world["F"], "achievement_ids": [world["A1"]], "contract_value_fen": 100 * WAN,
             "transaction_value_fen": 100 * WAN,
             "payment_terms": {"fixed_price_fen": 100 * WAN, "installments": [
                 {"amount_fen": 40 * WAN, "due_on": "2023-08-01"}, {"amount_fen": 60 * WAN, "due_on": "2024-02-01"}]}}
    created = await api.ok("/v1/contracts", {"terms": terms, "drafted_on": "2023-07-01"}, who="exchange",
                           status=201)
    world.ids["C1"] = uuid.UUID(created["id"])
    c = f"/v1/contracts/{created['id']}"
    amended = await api.ok(f"{c}/terms", {"terms": {**terms, "title": "正极材料专利权转让合同"},
                                          "amended_on": "2023-07-05"}, who="owner", **{"If-Match": '"1"'})
    assert amended["version"] == 2
    await api.ok(f"{c}/signature", {"on": "2023-07-10"}, who="exchange")
    await api.ok(f"{c}/registration", {"registration": {**registration(90 * WAN, "2023-07-20"),
                                                        "approved_category": "assignment"}}, who="owner")
    await api.ok(f"{c}/correction-requests", {"requested_on": "2023-07-25", "reason": "技术交易额核定有误"},
                 who="owner")
    await api.ok(f"{c}/registration-corrections", {
        "registration": {**registration(100 * WAN, "2023-07-20"), "approved_category": "assignment"},
        "corrected_on": "2023-08-01", "reason": "补正：技术交易额核定有误"}, who="owner")
    await api.ok(f"{c}/effect", {"on": "2023-07-15"}, who="owner")
    paid = await api.ok(f"{c}/payments", {"payment_id": "A-P1", "amount_fen": 40 * WAN,
                                          "received_on": "2023-08-01"}, who="owner")
    assert paid["outstanding_fen"] == 60 * WAN
    await api.ok(f"{c}/payments", {"payment_id": "A-P2", "amount_fen": 60 * WAN, "received_on": "2024-02-01",
                                   "payer": "北京微纳传感科技有限公司"}, who="owner")
    ended = await api.ok(f"{c}/end", {"end": "complete", "on": "2024-03-01"}, who="owner")
    view = await api.read(c)
    assert view["status"] == "completed" and view["version"] == ended["version"]
    assert view["registered_value_fen"] == 100 * WAN and len(view["registration_history"]) == 2
    assert view["outstanding_fen"] == 0 and [r["receipt_id"] for r in view["receipts"]] == ["A-P1", "A-P2"]
    # Ownership moved to the buyer: the seller still sees its former achievement but no longer changes it.
    a = f"/v1/achievements/{world['A1']}"
    assert (await api.read(a, who="owner"))["owners"] == [{"institution_id": world["F"], "share": "100"}]
    doc = await problem(await api.post(f"{a}/valuations", {"method": "agreed", "amount_fen": WAN,
                                                           "valued_on": "2024-04-01"}, who="owner"), 403)
    assert doc["type"].endswith("/institution-scope")


async def test_licence_money_from_milestone_to_write_off(api: Api, world: World) -> None:
    c = f"/v1/contracts/{world['C']}"
    await api.ok(f"{c}/milestones", {"name": "量产", "on": "2024-06-01"}, who="owner")
    milestone = await due_item(api, world["C"], "milestone")
    await api.ok(f"{c}/deferrals", {"new_due_dates": {milestone["item_id"]: "2024-12-01"}, "approver": "技术转移中心主任",
                                    "reason": "买方产线延期投产", "decided_on": "2024-06-05"}, who="owner")
    credit = await api.ok(f"{c}/payments", {"payment_id": "P2", "amount_fen": 9 * WAN, "received_on": "2024-12-01",
                                            "due_item_id": milestone["item_id"], "overpayment": "credit"},
                          who="owner")
    assert credit["outstanding_fen"] == 0
    await api.ok(f"{c}/credit-refunds", {"credit_id": "P2", "amount_fen": WAN, "on": "2024-12-05",
                                         "reference": "REF-1"}, who="owner")
    # The licensee (buyer) reports its sales itself; the minimum annual royalty is topped up.
    doc = await problem(await api.post(f"{c}/payments", {"payment_id": "X", "amount_fen": 1,
                                                         "received_on": "2025-01-01"}, who="buyer"), 403)
    assert doc["type"].endswith("/institution-scope")
    reported = await api.ok(f"{c}/royalty-reports", {"period_start": "2024-02-01", "period_end": "2025-01-31",
                                                     "base_fen": 100 * WAN, "reported_on": "2025-02-10"},
                            who="buyer")
    assert reported["outstanding_fen"] == 3 * WAN
    topped = await api.ok(f"{c}/minimum-royalty-top-ups", {"contract_year": 1, "on": "2025-02-15"}, who="owner")
    assert topped["outstanding_fen"] == 10 * WAN

    before = await api.read(f"{c}?as_of=2025-03-01")
    after = await api.read(f"{c}?as_of=2025-04-01")
    assert (before["outstanding_due_fen"], before["overdue_fen"]) == (0, 0)
    assert (after["outstanding_due_fen"], after["overdue_fen"]) == (10 * WAN, 10 * WAN)
    assert [i["kind"] for i in after["overdue_items"]] == ["royalty", "minimum_royalty"]
    assert after["credits"] == [{"credit_id": "P2", "amount_fen": 3 * WAN}]
    assert next(i for i in after["due_items"] if i["kind"] == "milestone")["originally_due_on"] == "2024-06-01"

    applied = await api.ok(f"{c}/credit-applications", {"credit_id": "P2", "on": "2025-03-01"}, who="owner")
    assert applied["outstanding_fen"] == 7 * WAN
    assert applied["receipt_id"] == "credit-1"  # the credit applied is income, allocatable once
    await api.ok(f"{c}/defaults", {"on": "2025-03-10", "description": "最低提成逾期未付"}, who="owner")
    await api.ok(f"{c}/credit-reports", {"agency": "人民银行征信中心", "reported_on": "2025-03-12",
                                         "content_ref": "CR-2025-001"}, who="owner")
    await api.ok(f"{c}/payments", {"payment_id": "P3", "amount_fen": 4 * WAN, "received_on": "2025-03-20"},
                 who="owner")
    await api.ok(f"{c}/insurance-compensations", {"claim_id": "PICC-1", "insurer": "中国人保财险",
                                                  "amount_fen": WAN, "paid_on": "2025-03-25"}, who="owner")
    minimum = await due_item(api, world["C"], "minimum_royalty")
    written = await api.ok(f"{c}/write-offs", {"due_item_id": minimum["item_id"], "approver": "财务处处长",
                                               "reason": "协商减免", "on": "2025-04-01"}, who="owner")
    assert written["outstanding_fen"] == 0
    view = await api.read(c, who="buyer")
    assert view["outstanding_fen"] == 0 and view["credits"] == []
    assert {"receipt_id": "credit-1", "amount_fen": 3 * WAN, "received_on": "2025-03-01",
            "credit_id": "P2"} in view["receipts"]
    assert [r["kind"] for r in view["risk_events"]] == ["default", "credit_report", "insurance_compensation"]
    assert view["milestones_reached"] == {"量产": "2024-06-01"} and len(view["royalty_reports"]) == 1

    journal = await api.read(f"{c}/journal", who="owner")
    kinds = [e["kind"] for e in journal["entries"]]
    assert kinds[0] == "fallen_due" and "payment_received" in kinds and "written_off" in kinds
    for entry in journal["entries"]:
        assert sum(p["amount_fen"] for p in entry["postings"]) == 0
        assert entry["institution_id"] == world["U"]


async def test_use_first_pay_later_trial_to_paid(api: Api, world: World) -> None:
    made = await api.ok("/v1/achievements", patent("固态锂电池电解质", world["U"], "ZL202210000003.X"),
                        who="owner", status=201)
    terms = ufpl_terms(world, made["id"], "先使用后付费许可：固态电解质")
    created = await api.ok("/v1/contracts", {"terms": terms, "drafted_on": "2024-01-10"}, status=201)
    c = f"/v1/contracts/{created['id']}"
    await api.ok(f"{c}/signature", {"on": "2024-01-20"})
    await api.ok(f"{c}/paid-terms", {"payment_terms": {"fixed_price_fen": 20 * WAN, "installments": [
        {"amount_fen": 20 * WAN, "days_after_start": 30}]}, "agreed_on": "2024-01-25"})
    await api.ok(f"{c}/effect", {"on": "2024-02-01"})
    await api.ok(f"{c}/licensee-revenue", {"period_start": "2024-02-01", "period_end": "2024-06-30",
                                           "revenue_fen": 100 * WAN, "reported_on": "2024-07-05"})
    converted = await api.ok(f"{c}/conversion", {"on": "2024-07-10"})
    assert converted["outstanding_fen"] == 20 * WAN
    view = await api.read(c)
    assert view["ufpl_stage"] == "paid" and view["due_items"][0]["due_on"] == "2024-08-09"


# ---- equity and self-implementation ------------------------------------------------------------------


async def test_equity_holding_awards_dividends_and_sale(api: Api, world: World) -> None:
    h = f"/v1/equity-holdings/{world['H']}"
    by_policy = await api.ok(f"{h}/policy-awards", {"awarded_on": "2023-10-01"}, who="owner")
    assert by_policy["awarded"] == {"张三": 2_880_000, "李四": 1_920_000}
    await api.ok(f"{h}/share-awards", {"inventor": "张三", "shares": 100_000, "awarded_on": "2023-10-02"},
                 who="owner")
    await api.ok(f"{h}/dividends", {"dividend_id": "DIV-2024", "amount_fen": 18 * WAN, "received_on": "2024-06-30"},
                 who="owner")
    decision = {"decision_makers": ["校长办公会"], "basis": "资产评估报告", "decided_on": "2024-07-01"}
    await api.ok(f"{h}/contribution-decision", {"decision": {**decision, "decided_on": "2023-09-01"}}, who="owner")
    await api.ok(f"{h}/revaluations", {"new_value_fen": 130 * WAN, "decision": decision}, who="owner")
    await api.ok(f"{h}/impairments", {"amount_fen": 10 * WAN, "decision": {**decision, "decided_on": "2024-08-01"}},
                 who="owner")
    await api.ok(f"{h}/dilutions", {"new_total_shares": 40_000_000, "on": "2024-09-01", "reason": "A 轮融资"},
                 who="owner")
    sold = await api.ok(f"{h}/sales", {"sale_id": "SALE-1", "shares": 100_000, "proceeds_fen": 16 * WAN,
                                       "buyer": "苏州产业投资基金", "sold_on": "2025-05-20"}, who="owner")
    assert sold["shares_held"] == 6_000_000 - 4_800_000 - 100_000 - 100_000
    view = await api.read(h, who="owner")
    assert {a["inventor"] for a in view["awards"]} == {"张三", "李四"}
    assert view["dividends_fen"] == 18 * WAN and view["cashed_in_fen"] == 16 * WAN
    seen = await api.read(h, who="regulator")
    assert [a["inventor"] for a in seen["awards"]] == ["#1", "#2", "#1"]


async def test_self_implementation_profit_and_award(api: Api, world: World) -> None:
    s = f"/v1/self-implementations/{world['S']}"
    await api.ok(f"{s}/profits", {"year": 2023, "profit_fen": 100 * WAN, "reported_on": "2024-03-01"}, who="owner")
    await api.ok(f"{s}/profit-corrections", {"year": 2023, "profit_fen": 120 * WAN, "corrected_on": "2024-04-01",
                                             "reason": "审计调整"}, who="owner")
    awarded = await api.ok(f"{s}/awards", {"year": 2023, "allocated_on": "2024-05-01"}, who="owner")
    assert awarded["award_fen"] > 0 and list(awarded["lines"]) == ["王明"]
    paid = await api.ok(f"{s}/award-payments", {"year": 2023, "inventor": "王明", "amount_fen": 1000,
                                                "paid_on": "2024-06-01", "payment_id": "SI-PAY-1"}, who="owner")
    assert paid["unpaid_fen"] == awarded["award_fen"] - 1000
    await api.ok(f"{s}/stop", {"on": "2025-01-01", "reason": "转为对外许可"}, who="owner")
    view = await api.read(s, who="owner")
    assert view["profit_by_year"] == {"2023": 120 * WAN} and view["stopped_on"] == "2025-01-01"
    assert (await api.read(s, who="regulator"))["awards"][0]["lines"][0]["inventor"] == "#1"
    assert view["awards"][0]["paid_fen"] == 1000 and view["awards"][0]["payments"][0]["inventor"] == "王明"
    assert (await api.read(s, who="regulator"))["awards"][0]["payments"][0]["payment_id"].startswith("p-")


# ---- distribution ---------------------------------------------------------------------------------


async def test_distribution_deductions_awards_and_notice(api: Api, world: World) -> None:
    d = f"/v1/distributions/{world['D']}"
    before = await api.read(d, who="owner")
    assert before["net_fen"] == 10 * WAN
    # A deduction after the allocation adjusts it; one on the achievement waits for the next receipt.
    late = await api.ok("/v1/deductions", {"subject_id": world["C"], "reference": "TAX-1", "category": "tax",
                                           "amount_fen": WAN, "incurred_on": "2024-03-10",
                                           "description": "增值税及附加"}, who="owner")
    assert late["adjusted_distribution_id"] == world["D"]
    await api.ok("/v1/deductions", {"subject_id": world["A"], "reference": "FEE-1", "category": "maintenance",
                                    "amount_fen": 12_000 * 100, "incurred_on": "2024-01-10",
                                    "description": "专利年费"}, who="owner")
    view = await api.read(d, who="owner")
    assert view["net_fen"] == 9 * WAN and view["adjustments"] == ["deduction:TAX-1"]
    lines = {line["key"]: line for line in view["lines"]}
    assert set(lines) == {"inventor:张三", "inventor:李四", "department", "institution"}
    zhang = lines["inventor:张三"]["allocated_fen"]
    await api.ok(f"{d}/notices", {"notice_id": "N-1", "starts_on": "2024-04-01", "ends_on": "2024-04-20"},
                 who="owner")
    paid = await api.ok(f"{d}/payments", {"key": "inventor:张三", "amount_fen": zhang, "paid_on": "2024-06-30",
                                          "payment_id": "AW-1"}, who="owner")
    assert paid["unpaid_fen"] == 0
    view = await api.read(f"{d}?as_of=2024-07-01", who="owner")
    lines = {line["key"]: line for line in view["lines"]}
    assert lines["inventor:张三"]["deadline_status"] == "paid_in_time"
    assert lines["inventor:李四"]["deadline_status"] == "open"
    assert view["paid_fen"] == zhang and view["as_of"] == "2024-07-01"
    late_view = await api.read(f"{d}?as_of=2027-04-01", who="owner")
    assert {line["key"]: line["deadline_status"] for line in late_view["lines"]}["inventor:李四"] == "overdue"

    seen = await api.read(d, who="regulator")
    assert [line["key"] for line in seen["lines"]][:2] == ["inventor:#1", "inventor:#2"]
    assert seen["payments"][0]["key"] == "inventor:#1" and seen["inventor_count"] == 2
    text = json.dumps(seen, ensure_ascii=False)
    assert "张三" not in text and "李四" not in text

    policy = await api.read(f"/v1/institutions/{world['U']}/policy", who="regulator")
    assert re.fullmatch(r"p-[0-9a-f]{8}", policy["versions"][0]["version_label"])  # typed: pseudonymised
    adopted = await api.ok(f"/v1/institutions/{world['U']}/policy", {
        "version_label": "2026版", "effective_from": "2026-01-01",
        "cash_split": {"inventor_team": 80, "institution": 20},
        "equity_split": {"inventor_team": 80, "institution": 20}}, who="owner",
        **{"If-Match": f'"{policy["version"]}"'})
    assert adopted["below_floor"] is False and adopted["version"] == policy["version"] + 1


async def test_reversal_recovery_repayment_and_offset(api: Api, world: World) -> None:
    """After 张三 was paid in full, a late deduction leaves him overpaid: a named recovery, repaid in part,
    the rest offset against his award from the next receipt (P2), then the deduction is reversed."""
    d = f"/v1/distributions/{world['D']}"
    late = await api.ok("/v1/deductions", {"subject_id": world["C"], "reference": "TAX-2", "category": "tax",
                                           "amount_fen": WAN, "incurred_on": "2024-07-10",
                                           "description": "补缴税款"}, who="owner")
    assert late["adjusted_distribution_id"] == world["D"]
    view = await api.read(d, who="owner")
    owed = {line["key"]: line["recovery_outstanding_fen"] for line in view["lines"]}["inventor:张三"]
    assert owed > 0
    version = view["version"]
    repaid = await api.ok(f"{d}/recoveries/repayments", {"key": "inventor:张三", "amount_fen": 100,
                                                          "repaid_on": "2024-08-01", "reference": "RP-1"},
                          who="owner", **{"If-Match": f'"{version}"'})
    assert repaid["version"] == version + 1
    second = await api.ok("/v1/distributions", {"contract_id": world["C"], "receipt_id": "P2"}, who="owner",
                          status=201)
    await api.ok(f"{d}/recoveries/offsets", {"key": "inventor:张三", "against_distribution_id": second["id"],
                                             "amount_fen": owed - 100, "offset_on": "2024-12-10",
                                             "offset_id": "OFF-1"}, who="owner")
    after = await api.read(d, who="owner")
    assert {line["key"]: line["recovery_outstanding_fen"] for line in after["lines"]}["inventor:张三"] == 0
    reversed_ = await api.ok("/v1/deductions/reversals", {"subject_id": world["C"], "reference": "TAX-2",
                                                          "reversed_on": "2024-12-20", "reason": "税款已退回"},
                             who="owner")
    assert reversed_["adjusted_distribution_id"] == world["D"]
    assert (await api.read(d, who="owner"))["net_fen"] == view["net_fen"] + WAN


# ---- the books --------------------------------------------------------------------------------------


async def test_balances_trial_balance_and_regulator_view(api: Api, world: World) -> None:
    mine = await api.read(f"/v1/institutions/{world['U']}/balances", who="owner")
    accounts = {b["account"]: b["balance_fen"] for b in mine["balances"]}
    assert mine["total_fen"] == 0 and accounts["cash"] > 0
    assert "distribution_payable:inventor:李四" in accounts
    earlier = await api.read(f"/v1/institutions/{world['U']}/balances?as_of=2023-12-31", who="owner")
    assert earlier["balances"] != mine["balances"]
    seen = await api.read(f"/v1/institutions/{world['U']}/balances", who="regulator")
    merged = {b["account"]: b["balance_fen"] for b in seen["balances"]}
    assert "distribution_payable:inventor:*" in merged and seen["inventor_accounts"] == 3  # with 王明
    assert not any("李四" in a or "张三" in a for a in merged) and seen["total_fen"] == 0
    trial = await api.read("/v1/trial-balance", who="regulator")
    assert trial["balanced"] is True and trial["lines"]
    assert (await api.read("/v1/trial-balance?up_to_position=5"))["up_to_position"] == 5


# ---- errors write nothing -----------------------------------------------------------------------------


async def test_validation_errors_name_body_fields(api: Api, world: World) -> None:
    head = await api.head()
    c = f"/v1/contracts/{world['C']}"
    body = {"payment_id": "V-1", "amount_fen": "lots", "overpayment": "keep", "contract_id": world["C"]}
    doc = await problem(await api.post(f"{c}/payments", body, who="owner"), 422)
    assert {(e["field"], e["rule"]) for e in doc["errors"]} == {
        ("amount_fen", "money_whole_fen"),
        ("received_on", "validation.missing"),
        ("overpayment", "validation.enum"),
        ("contract_id", "validation.extra_forbidden"),  # the path names the contract, not the body
    }
    terms = licence_terms(world) | {"seller_ids": ["not-a-uuid"]}
    terms["payment_terms"]["milestones"][0]["amount_fen"] = None
    doc = await problem(await api.post("/v1/contracts", {"terms": terms}, who="owner"), 422)
    assert {(e["field"], e["rule"]) for e in doc["errors"]} == {
        ("terms.seller_ids[0]", "validation.uuid_parsing"),
        ("terms.payment_terms.milestones[0].amount_fen", "money_whole_fen"),
        ("drafted_on", "validation.missing"),
    }
    doc = await problem(await api.get("/v1/contracts/not-a-uuid?as_of=someday"), 422)
    assert {(e["field"], e["in"]) for e in doc["errors"]} == {("contract_id", "path"), ("as_of", "query")}
    # Domain rules: 422 with the rule and the body's field name.
    doc = await problem(await api.post(f"{c}/payments", {"payment_id": "P1", "amount_fen": WAN,
                                                         "received_on": "2025-05-01"}, who="owner"), 422)
    assert doc["errors"][0]["rule"] == "payment_id_unique" and doc["errors"][0]["field"] == "payment_id"
    doc = await problem(await api.post("/v1/contracts", {"terms": licence_terms(world) | {
        "transaction_value_fen": 101 * WAN}, "drafted_on": "2024-01-01"}, who="owner"), 422)
    assert doc["errors"][0]["field"] == "terms.transaction_value_fen"
    doc = await problem(await api.post("/v1/distributions", {"contract_id": str(uuid.uuid4()),
                                                             "receipt_id": "P1"}, who="owner"), 422)
    assert (doc["errors"][0]["field"], doc["errors"][0]["rule"]) == ("contract_id", "referenced_record_exists")
    # Malformed requests: 400.
    for raw, ctype, kind in ((b'{"payment_id": ', "application/json", "malformed-json"),
                             (b"payment_id=1", "application/x-www-form-urlencoded", "content-type"),
                             (b"", "application/json", "body-required")):
        response = await api.client.post(f"{c}/payments", data=raw,
                                          headers=api.headers("owner", **{"Content-Type": ctype}))
        assert (await problem(response, 400))["type"].endswith("/" + kind)
    bad_key = await api.post(f"{c}/payments", {}, who="owner", **{"Idempotency-Key": "é" * 3})
    assert (await problem(bad_key, 400))["type"].endswith("/invalid-header")
    # Missing records: 404, for a path id; whatever the role.
    doc = await problem(await api.post(f"/v1/contracts/{uuid.uuid4()}/signature", {"on": "2024-01-01"}), 404)
    assert doc["aggregate"] == "TechnologyContract"
    await problem(await api.get(f"/v1/distributions/{uuid.uuid4()}"), 404)
    assert await api.head() == head


async def test_idempotent_retries_replay_and_refuse_reuse(api: Api, world: World) -> None:
    c = f"/v1/contracts/{world['C']}"
    key = {"Idempotency-Key": f"pay-{uuid.uuid4()}"}
    body = {"payment_id": "IDEM-1", "amount_fen": 1, "received_on": "2025-06-01", "overpayment": "credit"}
    first = await api.post(f"{c}/payments", body, who="owner", **key)
    assert first.status == 200, await first.text()
    head = await api.head()
    again = await api.post(f"{c}/payments", body, who="owner", **key)
    assert again.status == 200 and await again.json() == await first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.headers["X-Log-Position"] == first.headers["X-Log-Position"]
    assert await api.head() == head
    doc = await problem(await api.post(f"{c}/payments", {**body, "amount_fen": 2}, who="owner", **key), 409)
    assert doc["type"].endswith("/idempotency_key_reuse") and doc["errors"][0]["field"] == "Idempotency-Key"
    # Keys are per tenant: an admin using the same key starts afresh (and hits the rule, not the key).
    doc = await problem(await api.post(f"{c}/payments", body, **key), 422)
    assert doc["errors"][0]["rule"] == "payment_id_unique"
    # A creation replays its 201 and Location.
    create_key = {"Idempotency-Key": f"create-{uuid.uuid4()}"}
    made = await api.post("/v1/achievements", patent("重放测试", world["U"], "ZL202210000099.X"), who="owner",
                          **create_key)
    replayed = await api.post("/v1/achievements", patent("重放测试", world["U"], "ZL202210000099.X"), who="owner",
                              **create_key)
    assert (made.status, replayed.status) == (201, 201)
    assert made.headers["Location"] == replayed.headers["Location"] and await made.json() == await replayed.json()
    assert await api.head() == head + 1


async def test_if_match_on_contract_changes(api: Api, world: World) -> None:
    c = f"/v1/contracts/{world['C']}"
    response = await api.get(c, who="owner")
    version = (await response.json())["version"]
    assert response.headers["ETag"] == f'"{version}"'
    head = await api.head()
    stale = await api.post(f"{c}/defaults", {"on": "2025-06-01", "description": "再次逾期"}, who="owner",
                           **{"If-Match": f'"{version - 1}"'})
    doc = await problem(stale, 409)
    assert doc["current_version"] == version and doc["expected_version"] == version - 1
    assert stale.headers["ETag"] == f'"{version}"' and await api.head() == head
    ok = await api.post(f"{c}/defaults", {"on": "2025-06-01", "description": "再次逾期"}, who="owner",
                        **{"If-Match": f'"{version}"'})
    assert ok.status == 200 and ok.headers["ETag"] == f'"{version + 1}"'


# ---- read your writes ---------------------------------------------------------------------------------


async def test_min_position_waits_for_the_projections(api: Api, world: World, ledger: Ledger) -> None:
    made = await api.ok("/v1/contracts", {"terms": {
        "kind": "consulting", "title": "技术咨询", "seller_ids": [world["U"]], "buyer_id": world["G"],
        "contract_value_fen": 12 * WAN, "transaction_value_fen": 12 * WAN,
        "payment_terms": {"fixed_price_fen": 12 * WAN, "installments": [{"amount_fen": 12 * WAN,
                                                                           "due_on": "2031-08-01"}]}},
        "drafted_on": "2031-06-01"}, who="owner", status=201)
    signed = await api.ok(f"/v1/contracts/{made['id']}/signature", {"on": "2031-06-05"}, who="owner")
    url = f"/v1/statistics/contracts?from=2031-01-01&to=2031-12-31&group_by=kind&min_position={signed['position']}"
    response = await api.get(url, who="regulator")
    stats = await response.json()
    assert response.status == 200, stats
    assert int(response.headers["X-Projection-Position"]) >= signed["position"] <= stats["projection_position"]
    assert stats["groups"] == [{"key": "consulting", "contracts": 1, "contract_value_fen": 12 * WAN,
                                "transaction_value_fen": 12 * WAN, "registered_value_fen": 0}]
    assert stats["definition"]["date_basis"].startswith("签订日期")  # Chinese by default (issue 15)
    assert stats["definition"] == stats["definition_zh"]
    assert stats["definition_en"]["date_basis"].startswith("signing date")
    response = await api.get(url + "&lang=en", who="regulator")
    assert response.headers["Content-Language"] == "en"
    assert (await response.json())["definition"]["date_basis"].startswith("signing date")
    # A position the log has not reached: 503 with Retry-After, after the (short) wait.
    async with serve(ledger, read_wait_timeout=0.3) as client:
        short = Api(client, api.tokens)
        future = await api.head() + 1000
        for path in (f"/v1/statistics/contracts?min_position={future}",
                     f"/v1/contracts/{world['C']}?min_position={future}"):
            response = await short.get(path)
            doc = await problem(response, 503)
            assert doc["type"].endswith("/position-not-reached") and doc["min_position"] == future
            assert response.headers["Retry-After"] == "1"


async def test_statistics_and_reports_carry_their_definitions(api: Api, world: World, ledger: Ledger) -> None:
    head = await api.head()
    routes = {
        "/v1/statistics/contract-value?group_by=kind,period&seller_region=110000": "yoy",
        "/v1/statistics/transfer-rate?group_by=institution": "formula",
        "/v1/statistics/transfer-rate?formula=local_transfer_rate": "formula",
        "/v1/statistics/ufpl-funnel?group_by=period": "definition",
        "/v1/statistics/receivables?as_of=2026-01-01&group_by=institution,bucket": "definition",
        "/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=inventor": "definition",
        "/v1/statistics/restatement?as_of=2026-01-01&from_known_at=1": "definition",
        f"/v1/reports/annual?year=2024&institution_id={world['U']}": "definition",
        "/v1/reports/autm?year=2024": "definition",
        f"/v1/institutions/{world['U']}/achievements?format=json": "definition",
    }
    for url, key in routes.items():
        response = await api.get(f"{url}&min_position={head}", who="regulator")
        body = await response.json()
        assert response.status == 200, (url, body)
        assert key in json.dumps(body), url
        assert int(response.headers["X-Projection-Position"]) >= head
    formulas = await (await api.get("/v1/statistics/transfer-rate/formulas", who="regulator")).json()
    assert {"transferred_over_registered", "local_transfer_rate"} <= {f["name"] for f in formulas["formulas"]}
    # The regulator's audit never names an inventor; the admin's does.
    audit_url = "/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=inventor"
    regulator_view = await (await api.get(audit_url, who="regulator")).text()
    assert "张三" not in regulator_view and "110101199001011234" not in regulator_view
    assert "张三" in await (await api.get(audit_url, who="admin")).text()
    csv = await api.get("/v1/reports/autm?year=2024&format=csv", who="regulator")
    assert csv.status == 200 and csv.headers["Content-Type"].startswith("text/csv")
    # Bad arguments are 422 naming the field, never a 500.
    doc = await problem(await api.get("/v1/statistics/transfer-rate?formula=nonsense", who="regulator"), 422)
    assert doc["errors"][0]["field"] == "formula"
    doc = await problem(await api.get("/v1/reports/annual?year=2024", who="regulator"), 422)
    assert doc["errors"][0]["field"] == "institution_id"
    assert await api.head() == head


# ---- the event feed -------------------------------------------------------------------------------------


def verify_chain(events: list[dict[str, Any]], prev_hash: str) -> str:
    """The snippet of docs/api.md, written out here (not ``chain_hash``): recompute each hash and check the links."""
    for e in events:
        assert e["prev_hash"] == prev_hash
        state = base64.b64decode(e["state_base64"])
        h = hashlib.sha256()
        h.update(bytes.fromhex(e["prev_hash"]))
        h.update(e["position"].to_bytes(8, "big"))
        h.update(uuid.UUID(e["stream_id"]).bytes)
        h.update(e["version"].to_bytes(8, "big"))
        h.update(e["topic"].encode("utf-8") + b"\x00")
        h.update(state)
        if e["metadata_base64"] is not None:
            metadata = base64.b64decode(e["metadata_base64"])
            h.update(b"\x00metadata\x00" + len(metadata).to_bytes(8, "big") + metadata)
            assert json.loads(metadata) == e["recorded_by"]
        assert h.hexdigest() == e["hash"]
        assert json.loads(state) == e["state"]
        prev_hash = e["hash"]
    return prev_hash


async def test_a_company_formed_years_before_its_contribution_is_not_a_start_up(api: Api, world: World) -> None:
    """F (北京微纳传感科技有限公司) was established in 2018 and received U's equity contribution H in 2023:
    an AUTM start-up is a company formed around the institution's licence or contribution, so F is a
    start-up of neither year (counting equity holdings by contribution year made it one of 2023)."""
    head = await api.head()
    for year in (2018, 2023):
        report = await api.read(f"/v1/reports/autm?year={year}&institution_id={world['U']}&min_position={head}",
                                who="owner")
        assert report["startups_formed"] == 0, year
    assert "established" in report["definition_en"]["formula"]
    assert "设立" in report["definition"]["formula"]  # 统计口径 in Chinese by default


async def test_imports_answer(api: Api, world: World) -> None:
    """tests/integration/test_import_api.py covers imports in depth."""
    template = await api.get("/v1/imports/templates/payments.xlsx", who="owner")
    assert template.status == 200
    response = await api.client.post("/v1/imports?kind=payments", data=await template.read(),
                                     headers=api.headers("owner"))
    job = await response.json()
    assert response.status == 202, job
    for _ in range(400):
        job = await api.read(f"/v1/imports/{job['id']}", who="owner")
        if job["state"] != "running":
            break
        await asyncio.sleep(0.025)
    assert job["state"] == "done" and job["dry_run"] is True
    report = await api.get(f"/v1/imports/{job['id']}/report.xlsx", who="owner")
    assert report.status == 200


async def test_record_history_names_who_recorded(api: Api, world: World) -> None:
    """tests/integration/test_event_actor.py covers actors in depth."""
    history = await api.read(f"/v1/records/{world['C']}/history", who="owner")
    assert history["kind"] == "TechnologyContract" and history["events"][0]["event"] == "Drafted"
    assert history["events"][0]["recorded_by"]["name"] == "test owner"


async def test_event_feed_pages_carry_the_hash_chain(api: Api, world: World) -> None:
    head = await api.head()
    after, prev, seen = 0, GENESIS_HASH.hex(), 0
    while True:
        page = await api.read(f"/v1/events?after={after}&limit=25")
        assert page["head"] >= head
        positions = [e["position"] for e in page["events"]]
        assert positions == list(range(after + 1, after + 1 + len(positions)))
        prev = verify_chain(page["events"], prev)
        seen += len(positions)
        after = page["next_after"]
        if not page["has_more"]:
            break
    assert seen >= head
    first = (await api.read("/v1/events?limit=1"))["events"][0]
    assert first["topic"].endswith("Institution.Registered") and first["state"]["name"] == "北京示范大学"
    await problem(await api.get("/v1/events", who="regulator"), 403)
    doc = await problem(await api.get("/v1/events?limit=5000"), 422)
    assert doc["errors"][0]["field"] == "limit"


async def read_sse(response: Any, count: int) -> list[tuple[str | None, str, dict[str, Any] | None]]:
    """``count`` frames of an event stream: (id, event or comment, data)."""
    frames: list[tuple[str | None, str, dict[str, Any] | None]] = []
    frame: dict[str, str] = {}
    while len(frames) < count:
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith(":"):
            frames.append((None, line, None))
        elif line == "":
            if "data" in frame:
                frames.append((frame.get("id"), frame.get("event", "message"), json.loads(frame["data"])))
            frame = {}
        else:
            name, _, value = line.partition(": ")
            frame[name] = value
    return frames


async def test_event_stream_follows_the_log(api: Api, world: World) -> None:
    head = await api.head()
    response = await api.get(f"/v1/events/stream?after={head - 2}")
    assert response.status == 200 and response.content_type == "text/event-stream"
    try:
        old = await read_sse(response, 2)
        assert [f[0] for f in old] == [str(head - 1), str(head)]
        assert old[0][1] == "ledger-event" and old[1][2] is not None and old[1][2]["position"] == head
        written = await api.ok(f"/v1/contracts/{world['C']}/credit-reports", {
            "agency": "百行征信", "reported_on": "2025-07-01", "content_ref": "CR-LIVE"}, who="owner")
        live = [f for f in await read_sse(response, 2) if f[0] is not None]  # a keep-alive may come first
        if not live:
            live = [f for f in await read_sse(response, 1) if f[0] is not None]
        assert live[0][0] == str(written["position"]) and live[0][2] is not None
        assert live[0][2]["state"]["content_ref"] == "CR-LIVE"
        verify_chain([old[1][2], live[0][2]], old[1][2]["prev_hash"])
        heartbeat = await read_sse(response, 1)
        assert heartbeat[0][1] == ": keep-alive"
    finally:
        response.close()
    # Reconnecting with Last-Event-ID resumes after it (the query's `after` is overridden).
    resumed = await api.get("/v1/events/stream?after=0", **{"Last-Event-ID": str(head)})
    try:
        frames = [f for f in await read_sse(resumed, 2) if f[0] is not None]
        assert frames[0][0] == str(head + 1)
    finally:
        resumed.close()
    bad = await api.get("/v1/events/stream", **{"Last-Event-ID": "yesterday"})
    await problem(bad, 400)


# ---- operations ---------------------------------------------------------------------------------------


async def test_metrics_and_readiness(api: Api, world: World) -> None:
    response = await api.client.get("/metrics")
    text = await response.text()
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert ('ttledger_http_request_duration_seconds_bucket{le="0.005",method="POST",'
            'route="/v1/contracts/{contract_id}/payments",status="200"}') in text
    assert 'route="/v1/contracts/{contract_id}",status="200"' in text
    assert "ttledger_events_appended_total" in text and "ttledger_projection_lag_events" in text
    assert "ttledger_tokens_cached" in text and 'ttledger_projection_position{projection="contracts"}' in text
    assert (await api.read("/healthz", who=None))["status"] == "ok"  # type: ignore[arg-type]
    assert (await api.read("/v1/whoami", who="exchange"))["institution_id"] == world["X"]
    ready = await api.read("/readyz", who=None)  # type: ignore[arg-type]
    assert ready["status"] == "ready" and ready["projection_lag"] >= 0
    assert {p["name"] for p in ready["projections"]} >= {"contracts"}
    assert ready["log_head"] - ready["projection_lag"] == ready["projection_position"]


async def test_regulator_sees_registered_contracts_only(api: Api, world: World) -> None:
    draft = await api.ok("/v1/contracts", {"terms": licence_terms(world, "A4") | {"kind": "assignment",
                                                                                  "licence": None},
                                           "drafted_on": "2024-05-01"}, who="owner", status=201)
    await problem(await api.get(f"/v1/contracts/{draft['id']}", who="regulator"), 404)
    await problem(await api.get(f"/v1/contracts/{draft['id']}/journal", who="regulator"), 404)
    assert (await api.read(f"/v1/contracts/{world['C']}", who="regulator"))["registration"] is not None


async def test_every_route_refuses_bad_input_by_field_and_writes_nothing(api: Api, world: World) -> None:
    """Table-driven over the registry: malformed JSON is 400; each missing or unknown body field, a
    malformed path id and an out-of-range query value are 422 naming the exact field and rule."""
    app = api.client.app
    assert app is not None
    head = await api.head()
    checked = 0
    for spec in app[ROUTES].routes:
        if spec.roles is None or spec.path.startswith("/v1/events/stream"):
            continue
        url = spec.path
        for name in spec.path_names:
            url = url.replace("{" + name + "}", "not-a-uuid")
        if spec.body is not None:
            sent = url.replace("not-a-uuid", str(uuid.uuid4()))
            response = await api.client.post(sent, data=b'{"a": ', headers=api.headers(
                "admin", **{"Content-Type": "application/json"}))
            assert (await problem(response, 400))["type"].endswith("/malformed-json"), spec.path
            doc = await problem(await api.post(sent, {"no_such_field": 1}), 422)
            found = {(e["field"], e["rule"]) for e in doc["errors"]}
            required = {(n, "validation.missing") for n, f in spec.body.model_fields.items() if f.is_required()}
            assert found == required | {("no_such_field", "validation.extra_forbidden")}, spec.path
            assert all(e["in"] == "body" for e in doc["errors"])
        if spec.path_names:
            doc = await problem(await api.client.request(spec.method, url, json={}, headers=api.headers("admin")),
                                422)
            assert {(e["field"], e["in"]) for e in doc["errors"] if e["in"] == "path"} == {
                (n, "path") for n in spec.path_names}, spec.path
        if spec.query is not None and "min_position" in spec.query.model_fields:
            good = url.replace("not-a-uuid", str(uuid.uuid4()))
            doc = await problem(await api.get(f"{good}?min_position=-1"), 422)
            assert ("min_position", "validation.greater_than_equal", "query") in {
                (e["field"], e["rule"], e["in"]) for e in doc["errors"]}, spec.path
        checked += 1
    assert checked >= 65
    assert await api.head() == head


async def test_work_queues_answer(api: Api, world: World) -> None:
    """The owner's queues name the licence C's open due items and the command that clears them
    (tests/integration/test_queues.py works the queues out by hand)."""
    doc = await api.read(f"/v1/queues?as_of=2030-01-01&kind=payment_overdue&min_position={await api.head()}",
                         who="owner")
    [group] = doc["queues"]
    assert group["queue"] == "payment_overdue" and group["title"] == "应收款逾期 / payment overdue"
    assert all(i["record"] == {"kind": "contract", "id": i["record"]["id"],
                               "link": f"/v1/contracts/{i['record']['id']}"} for i in group["items"])
    assert all(i["clears"][0]["operation_id"] == "record_payment" for i in group["items"])


async def test_lists_answer(api: Api, world: World) -> None:
    """The lists find the world's records (tests/integration/test_lists.py covers filters, pages, tenancy)."""
    head = await api.head()
    institutions = await api.read(f"/v1/institutions?q=示范大学&min_position={head}")
    assert {world["U"], world["U2"]} <= {i["id"] for i in institutions["items"]}
    assert all("示范大学" in i["name"] for i in institutions["items"])
    achievements = await api.read(f"/v1/achievements?q=传感器&min_position={head}", who="owner")
    assert world["A"] in [i["id"] for i in achievements["items"]]
    contracts = await api.read(f"/v1/contracts?q=传感器&min_position={head}", who="regulator")
    assert world["C"] in [i["id"] for i in contracts["items"]]
    assert all(i["registered_on"] is not None for i in contracts["items"]) and contracts["as_of_position"] >= head
    # The record lists (tests/integration/test_record_lists.py works them out by hand).
    for path, who in (("due-items", "owner"), ("receipts", "owner"), ("registrations", "regulator"),
                      ("listings", "exchange"), ("equity-holdings", "owner"), ("self-implementations", "owner"),
                      ("distributions", "regulator"), ("distribution-lines", "owner"), ("award-payments", "owner"),
                      ("tokens", "admin")):
        wait = "" if path == "tokens" else f"&min_position={head}"  # tokens are not a projection
        page = await api.read(f"/v1/{path}?limit=200{wait}", who=who)
        assert page["items"] and page["as_of_position"] >= head, path


async def test_people_sign_in_and_administer(api: Api, world: World) -> None:
    """Every route of api/routes/accounts.py once with success (tests/integration/test_sign_in.py goes deep)."""
    import pyotp

    created = await api.ok("/v1/users", {"username": f"routes-{uuid.uuid4().hex[:6]}", "display_name": "路由测试",
                                         "role": "institution", "institution_id": world["U"]}, status=201)
    user_id, username = created["user"]["id"], created["user"]["username"]
    assert next(u for u in (await api.read("/v1/users"))["items"] if u["id"] == user_id)["must_change_password"]

    async def call(method: str, path: str, body: Any = None, status: int = 200) -> Any:
        api.client.session.cookie_jar.clear()
        response = await api.client.request(method, path, json=body, headers=browser)
        text = await response.text()
        assert response.status == status, (path, response.status, text)
        cookie = response.cookies.get("ttl_session")
        if cookie is not None and cookie.value:
            browser["Cookie"] = f"ttl_session={cookie.value}"
        doc = json.loads(text) if text else None
        if isinstance(doc, dict) and doc.get("csrf_token"):
            browser["X-CSRF-Token"] = doc["csrf_token"]
        return doc

    browser: dict[str, str] = {}
    await call("POST", "/v1/session", {"username": username, "password": created["temporary_password"]}, 201)
    assert (await call("GET", "/v1/session"))["next_step"] == "change_password"
    await call("POST", "/v1/session/password", {"current_password": created["temporary_password"],
                                                "new_password": "Routes-2025-changed"})
    enrolment = await call("POST", "/v1/session/totp", None, 201)
    await call("POST", "/v1/session/totp/confirmation", {"code": pyotp.TOTP(enrolment["secret"]).now()})
    token = await call("POST", "/v1/tokens", {"name": "routes"}, 201)
    assert await call("POST", f"/v1/tokens/{token['id']}/revocation", None, 200) == {"id": token["id"], "revoked": True}
    assert (await call("POST", f"/v1/tokens/{token['id']}/revocation", None, 200))["revoked"] is False
    await call("DELETE", "/v1/session", None, 204)
    await api.ok(f"/v1/users/{user_id}/disable", {})
    await api.ok(f"/v1/users/{user_id}/enable", {})
    reset = await api.ok(f"/v1/users/{user_id}/password-reset", {})
    assert reset["temporary_password"] and reset["user"]["must_change_password"] is True
    kinds = [e["kind"] for e in (await api.read(f"/v1/security-events?user={user_id}"))["items"]]
    assert kinds[:4] == ["password_reset", "user_enabled", "user_disabled", "sign_out"]


async def test_every_route_answered_with_success(api: Api, world: World) -> None:
    """The module's requests reached every declared route with a 2xx (from the app's own metrics)."""
    app = api.client.app
    assert app is not None
    for _ in range(50):  # a closed event stream is counted when its handler notices, within a heartbeat
        succeeded = {(method, route) for method, route, status in app[METRICS]._children if 200 <= status < 300}
        missing = [(m, p) for m, p, _ in app[ROUTES].table() if (m, p) not in succeeded]
        if not missing:
            break
        await asyncio.sleep(0.1)
    assert missing == [], [k for k in app[METRICS]._children if "stream" in k[1]]
