"""A regulator's answers hold no inventor's name and no identifier, reference or note a recorder typed.

Issue 21, deliverable 4. On the shared world (api_support.py) this module
records everything a recorder can type, each typed value carrying a person's
name (``zhangsan``, ``lisi``, ``wangwu`` in pinyin, since ids are ASCII;
张三, 李四, 王五 in names and notes): payments, receipts, credits, claims,
milestones, deductions, notices, award payments, objections, valuations,
decisions, reasons and a policy below its floor. Then every route a
regulator's token may read, JSON and downloads, is read as the regulator and
must name none of them, while an admin's answers still do. Typed ids become
``p-`` and 8 hex digits, the same within an answer (api/redaction.py).
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from api.redaction import REDACTED
from api.routing import ROUTES
from ledger.tokens import Role
from tests.integration.api_support import WAN, Api, World, licence_terms, patent, registration

PSEUDONYM = re.compile(r"p-[0-9a-f]{8}")
SECRETS = ("zhangsan", "lisi", "wangwu", "张三", "李四", "王五", "110101199001011234")
"""Text that names a person; every typed value of the scenario holds one."""


def clean(text: str, where: str) -> None:
    found = [s for s in SECRETS if s in text]
    assert found == [], f"{where} shows {found}"


def pseudonym(value: Any) -> str:
    assert isinstance(value, str) and PSEUDONYM.fullmatch(value), value
    return value


@pytest.fixture(scope="module")
async def scenario(api: Api, world: World) -> dict[str, str]:
    """Typed text everywhere a recorder can type it; returns the ids of the records."""
    ids: dict[str, str] = {}
    # An achievement with an assessor, a funder, a notice with an objection, a register exit.
    made = await api.ok("/v1/achievements", patent("柔性压力传感器", world["U"], "ZL202310000099.X"),
                        who="owner", status=201)
    ids["A2"] = made["id"]
    a = f"/v1/achievements/{made['id']}"
    await api.ok(f"{a}/separate-register/entry", {"on": "2023-02-01"}, who="owner")
    await api.ok(f"{a}/separate-register/exit", {"on": "2023-03-01", "reason": "zhangsan 申请转出"}, who="owner")
    await api.ok(f"{a}/valuations", {"method": "market", "amount_fen": 200 * WAN, "valued_on": "2022-09-01",
                                     "assessor": "李四资产评估事务所"}, who="owner")
    await api.ok(f"{a}/proofs-of-concept", {"funder": "zhangsan 天使投资", "amount_fen": 50 * WAN,
                                            "stage": "lisi 样机", "outcome": "wangwu 验证通过",
                                            "funded_on": "2022-10-01"}, who="owner")
    await api.ok(f"{a}/notices", {"starts_on": "2023-02-01", "ends_on": "2023-02-20",
                                  "agreed_price_fen": 180 * WAN}, who="owner")
    await api.ok(f"{a}/notices/objections", {"objector": "王五", "reason": "lisi 认为价格过低",
                                             "raised_on": "2023-02-05"}, who="owner")
    # A licence of it with a milestone named by the recorder; payments, a credit, risk events.
    terms = licence_terms(world, title="柔性压力传感器专利许可")
    terms["payment_terms"]["milestones"] = [{"name": "验收zhangsan", "amount_fen": 5 * WAN}]
    del terms["payment_terms"]["royalty"]
    terms["payment_terms"].update(fixed_price_fen=20 * WAN, installments=[{"amount_fen": 20 * WAN,
                                                                           "due_on": "2025-01-01"}])
    made = await api.ok("/v1/contracts", {"terms": {**terms, "achievement_ids": [ids["A2"]]},
                                          "drafted_on": "2024-01-05"}, who="owner", status=201)
    ids["C2"] = made["id"]
    c = f"/v1/contracts/{made['id']}"
    await api.ok(f"{c}/signature", {"on": "2024-01-15"}, who="owner")
    await api.ok(f"{c}/registration", {"registration": registration(90 * WAN, number="2024110000000099")},
                 who="owner")
    await api.ok(f"{c}/effect", {"on": "2024-02-01"}, who="owner")
    await api.ok(f"{c}/payments", {"payment_id": "PAY-zhangsan-1", "amount_fen": 10 * WAN,
                                   "received_on": "2024-03-01", "payer": "李四"}, who="owner")
    await api.ok(f"{c}/milestones", {"name": "验收zhangsan", "on": "2024-06-01"}, who="owner")
    await api.ok(f"{c}/payments", {"payment_id": "PAY-lisi-2", "amount_fen": 8 * WAN, "received_on": "2024-07-01",
                                   "due_item_id": "milestone-验收zhangsan", "overpayment": "credit"}, who="owner")
    await api.ok(f"{c}/credit-refunds", {"credit_id": "PAY-lisi-2", "amount_fen": WAN, "on": "2024-07-05",
                                         "reference": "REF-wangwu"}, who="owner")
    await api.ok(f"{c}/defaults", {"on": "2025-03-10", "description": "zhangsan 未按期付款"}, who="owner")
    await api.ok(f"{c}/credit-reports", {"agency": "lisi 征信", "reported_on": "2025-03-12",
                                         "content_ref": "CR-wangwu"}, who="owner")
    await api.ok(f"{c}/insurance-compensations", {"claim_id": "CLAIM-lisi", "insurer": "王五保险代理",
                                                  "amount_fen": WAN, "paid_on": "2025-03-25"}, who="owner")
    # Its first receipt distributed: a late deduction, a notice, an award payment naming its inventor.
    made = await api.ok("/v1/distributions", {"contract_id": ids["C2"], "receipt_id": "PAY-zhangsan-1"},
                        who="owner", status=201)
    ids["D2"] = made["id"]
    d = f"/v1/distributions/{made['id']}"
    await api.ok("/v1/deductions", {"subject_id": ids["C2"], "reference": "TAX-lisi", "category": "tax",
                                    "amount_fen": WAN, "incurred_on": "2024-03-10",
                                    "description": "王五 的差旅费"}, who="owner")
    await api.ok(f"{d}/notices", {"notice_id": "N-wangwu", "starts_on": "2024-04-01", "ends_on": "2024-04-20"},
                 who="owner")
    lines = (await api.read(d, who="owner"))["lines"]
    zhang = next(line for line in lines if line["key"] == "inventor:张三")
    await api.ok(f"{d}/payments", {"key": "inventor:张三", "amount_fen": zhang["allocated_fen"],
                                   "paid_on": "2024-06-30", "payment_id": "AW-1-inventor:zhangsan"}, who="owner")
    # The equity holding's decisions, the self-implementation's reasons.
    h = f"/v1/equity-holdings/{world['H']}"
    await api.ok(f"{h}/policy-awards", {"awarded_on": "2023-10-01"}, who="owner")
    await api.ok(f"{h}/revaluations", {"new_value_fen": 130 * WAN, "decision": {
        "decision_makers": ["张三", "wangwu"], "basis": "lisi 评估报告", "decided_on": "2024-07-01"}}, who="owner")
    s = f"/v1/self-implementations/{world['S']}"
    await api.ok(f"{s}/profits", {"year": 2023, "profit_fen": 100 * WAN, "reported_on": "2024-03-01"}, who="owner")
    await api.ok(f"{s}/profit-corrections", {"year": 2023, "profit_fen": 120 * WAN, "corrected_on": "2024-04-01",
                                             "reason": "zhangsan 审计调整"}, who="owner")
    await api.ok(f"{s}/awards", {"year": 2023, "allocated_on": "2024-05-01"}, who="owner")
    await api.ok(f"{s}/stop", {"on": "2025-01-01", "reason": "lisi 离职"}, who="owner")
    # F (an enterprise) adopts a policy below the national floor and allocates under it: two breaches.
    await api.ok(f"/v1/institutions/{world['F']}/policy", {
        "version_label": "V-wangwu", "effective_from": "2022-01-01",
        "cash_split": {"inventor_team": 30, "institution": 70},
        "equity_split": {"inventor_team": 80, "institution": 20},
        "inventor_overrides": {"王五": 100}}, who="buyer")
    made = await api.ok("/v1/achievements", {
        "title": "海水淡化膜", "ip_type": "invention_patent", "technology_field": "new_materials",
        "owners": [{"institution_id": world["F"], "share": "100"}], "inventors": [{"name": "王五", "share": "100"}],
        "registered_on": "2022-06-01", "official_number": "ZL202210000098.X", "granted_on": "2022-05-01"},
        who="buyer", status=201)
    terms = licence_terms(world, title="海水淡化膜专利许可")
    terms.update(seller_ids=[world["F"]], buyer_id=world["G"], achievement_ids=[made["id"]])
    made = await api.ok("/v1/contracts", {"terms": terms, "drafted_on": "2024-01-05"}, who="buyer", status=201)
    ids["C3"] = made["id"]
    c = f"/v1/contracts/{made['id']}"
    await api.ok(f"{c}/signature", {"on": "2024-01-15"}, who="buyer")
    await api.ok(f"{c}/registration", {"registration": registration(90 * WAN, number="2024310000000098")},
                 who="buyer")
    await api.ok(f"{c}/effect", {"on": "2024-02-01"}, who="buyer")
    await api.ok(f"{c}/payments", {"payment_id": "RC-wangwu", "amount_fen": 10 * WAN, "received_on": "2024-03-01"},
                 who="buyer")
    made = await api.ok("/v1/distributions", {"contract_id": ids["C3"], "receipt_id": "RC-wangwu"},
                        who="buyer", status=201)
    ids["D3"] = made["id"]
    # Every statistic includes all of it.
    ids["head"] = str(await api.head())
    return ids


def regulator_urls(world: World, ids: dict[str, str]) -> dict[str, list[str]]:
    """A URL for every route a regulator may read, by its declared path."""
    head = ids["head"]
    u, u2 = world["U"], world["F"]
    return {
        "/v1/whoami": ["/v1/whoami"],
        "/v1/institutions/{institution_id}": [f"/v1/institutions/{u}", f"/v1/institutions/{u2}"],
        "/v1/achievements/{achievement_id}": [f"/v1/achievements/{ids['A2']}", f"/v1/achievements/{world['A']}"],
        "/v1/contracts/{contract_id}": [f"/v1/contracts/{ids['C2']}", f"/v1/contracts/{ids['C3']}"],
        "/v1/equity-holdings/{holding_id}": [f"/v1/equity-holdings/{world['H']}"],
        "/v1/self-implementations/{self_implementation_id}": [f"/v1/self-implementations/{world['S']}"],
        "/v1/institutions/{institution_id}/policy": [f"/v1/institutions/{u}/policy",
                                                     f"/v1/institutions/{u2}/policy"],
        "/v1/distributions/{distribution_id}": [f"/v1/distributions/{ids['D2']}", f"/v1/distributions/{ids['D3']}",
                                                f"/v1/distributions/{world['D']}"],
        "/v1/institutions/{institution_id}/balances": [f"/v1/institutions/{u}/balances",
                                                       f"/v1/institutions/{u2}/balances"],
        "/v1/trial-balance": ["/v1/trial-balance"],
        "/v1/contracts/{contract_id}/journal": [f"/v1/contracts/{ids['C2']}/journal"],
        "/v1/statistics/contracts": [f"/v1/statistics/contracts?group_by=kind&min_position={head}"],
        "/v1/statistics/contract-value": [
            f"/v1/statistics/contract-value?group_by=kind,seller,buyer,period&min_position={head}"],
        "/v1/statistics/transfer-rate": [
            f"/v1/statistics/transfer-rate?group_by=institution,region,field&min_position={head}"],
        "/v1/statistics/transfer-rate/formulas": ["/v1/statistics/transfer-rate/formulas"],
        "/v1/statistics/ufpl-funnel": [f"/v1/statistics/ufpl-funnel?group_by=period&min_position={head}"],
        "/v1/statistics/receivables": [
            f"/v1/statistics/receivables?as_of=2026-01-01&group_by=institution,contract,buyer,bucket"
            f"&min_position={head}"],
        "/v1/statistics/restatement": [
            f"/v1/statistics/restatement?as_of=2026-01-01&from_known_at=1&min_position={head}"],
        "/v1/statistics/distribution-audit": [
            f"/v1/statistics/distribution-audit?as_of=2026-01-01&group_by={by}&min_position={head}"
            for by in ("institution", "contract", "inventor")],
        "/v1/reports/annual": [f"/v1/reports/annual?year=2024&institution_id={i}&min_position={head}"
                               for i in (u, u2)],
        "/v1/reports/autm": [f"/v1/reports/autm?year=2024&min_position={head}"],
        "/v1/institutions/{institution_id}/achievements": [
            f"/v1/institutions/{i}/achievements?format=json&min_position={head}" for i in (u, u2)],
        "/v1/institutions": [f"/v1/institutions?limit=200&min_position={head}"],
        "/v1/achievements": [f"/v1/achievements?limit=200&min_position={head}"],
        "/v1/contracts": [f"/v1/contracts?limit=200&min_position={head}",
                          f"/v1/contracts?limit=1&sort=title&min_position={head}"],
        **{f"/v1/{name}": [f"/v1/{name}?limit=200&min_position={head}", f"/v1/{name}?limit=1&min_position={head}"]
           for name in ("due-items", "receipts", "registrations", "listings", "equity-holdings",
                        "self-implementations", "distributions", "distribution-lines", "award-payments")},
        "/v1/session": ["/v1/session"],  # the caller's own sign-in, as /v1/whoami
        "/v1/records/{record_id}/history": [f"/v1/records/{ids['C2']}/history", f"/v1/records/{world['D']}/history",
                                            f"/v1/records/{world['A']}/history"],
    }


@pytest.fixture
def unclassified(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """What the redaction met without a classification (it drops it; here it also fails the test)."""
    import api.redaction as redaction

    seen: list[tuple[str, dict[str, Any]]] = []

    class Spy:
        def warning(self, event: str, **kw: Any) -> None:
            seen.append((event, kw))

    monkeypatch.setattr(redaction, "log", Spy())
    return seen


async def test_every_regulator_answer_is_free_of_names_and_typed_ids(
        api: Api, world: World, scenario: dict[str, str], unclassified: list[Any]) -> None:
    urls = regulator_urls(world, scenario)
    declared = {s.path for s in api.client.app[ROUTES].routes
                if s.roles and Role.REGULATOR in s.roles and s.method == "GET"}  # its own account: test_sign_in
    assert set(urls) == declared, "a route a regulator reads is not exercised here"
    admin_text = ""
    for path, targets in urls.items():
        for url in targets:
            seen = await api.get(url, who="regulator")
            text = await seen.text()
            assert seen.status == 200, (url, text)
            clean(text, url)
            if path not in ("/v1/whoami", "/v1/session"):
                admin_text += await (await api.get(url, who="admin")).text()
    assert unclassified == []
    # The check has teeth: an admin reads every one of those names.
    assert [s for s in SECRETS if s not in admin_text] == []


async def test_regulator_downloads_are_free_of_names_and_typed_ids(
        api: Api, world: World, scenario: dict[str, str], unclassified: list[Any]) -> None:
    from openpyxl import load_workbook

    urls = regulator_urls(world, scenario)
    routes = [s for s in api.client.app[ROUTES].routes if s.roles and Role.REGULATOR in s.roles and s.media_types]
    assert len(routes) >= 8
    admin_text = ""
    for spec in routes:
        for url in urls[spec.path]:
            base = url.replace("format=json&", "")
            for fmt in ("csv", "xlsx"):
                tables = ["rows", "floor_breach_policies", "floor_breach_allocations", "recoveries",
                          "self_implementation_awards", "invention_bonuses"] if "audit" in url else [None]
                for table in tables:
                    target = f"{base}&format={fmt}" + (f"&table={table}" if table and fmt == "csv" else "")
                    texts = []
                    for who in ("regulator", "admin"):
                        response = await api.get(target, who=who)
                        body = await response.read()
                        assert response.status == 200, (target, body[:300])
                        if fmt == "csv":
                            texts.append(body.decode("utf-8"))
                        else:
                            book = load_workbook(io.BytesIO(body))
                            texts.append("\n".join(str(cell) for sheet in book for row in sheet.iter_rows(
                                values_only=True) for cell in row if cell is not None))
                    clean(texts[0], target)
                    admin_text += texts[1]
    assert unclassified == []
    # The floor breaches name the receipt and the policy version: pseudonymised for the regulator.
    assert "RC-wangwu" in admin_text and "V-wangwu" in admin_text
    audit = "/v1/statistics/distribution-audit?as_of=2026-01-01&format=csv&table=floor_breach_allocations"
    rows = (await (await api.get(audit, who="regulator")).text()).splitlines()
    shown = {r.split(",")[3] for r in rows[1:] if r.count(",") > 5}
    assert shown and all(PSEUDONYM.fullmatch(s) for s in shown)


async def test_distribution_view_pseudonymises_typed_ids_stably(
        api: Api, scenario: dict[str, str]) -> None:
    d = f"/v1/distributions/{scenario['D2']}"
    mine = await api.read(d, who="owner")
    seen = await api.read(d, who="regulator")
    # The owner (and every other role) sees the real values.
    assert mine["receipt_id"] == "PAY-zhangsan-1" and mine["adjustments"] == ["deduction:TAX-lisi"]
    assert [p["payment_id"] for p in mine["payments"]] == ["AW-1-inventor:zhangsan"]
    assert mine["notices"][0]["notice_id"] == "N-wangwu"
    assert (await api.read(d, who="admin"))["payments"] == mine["payments"]
    # The regulator: p-xxxxxxxx for typed ids, #n for the team, nothing of the notes.
    pseudonym(seen["receipt_id"])
    payment = seen["payments"][0]
    assert pseudonym(payment["payment_id"]) != seen["receipt_id"] and payment["key"] == "inventor:#1"
    assert payment["amount_fen"] == mine["payments"][0]["amount_fen"]
    reference = pseudonym(seen["deductions"][0]["reference"])
    assert seen["adjustments"] == [f"deduction:{reference}"]  # the same reference, the same pseudonym
    assert seen["deductions"][0]["description"] == REDACTED
    assert seen["deductions"][0]["amount_fen"] == WAN and seen["deductions"][0]["category"] == "tax"
    notice = seen["notices"][0]
    pseudonym(notice["notice_id"])
    assert all(r in ("inventor:#1", "inventor:#2", "department", "institution") for r in notice["recipients"])
    assert pseudonym(seen["policy_version"]) != "2022版"
    assert {line["key"] for line in seen["lines"]} == {"inventor:#1", "inventor:#2", "department", "institution"}
    # Figures are untouched.
    for name in ("gross_fen", "net_fen", "allocated_fen", "paid_fen", "unpaid_fen", "inventor_count",
                 "deadline_on", "received_on", "contract_id", "institution_id", "pack_id"):
        assert seen[name] == mine[name], name
    # Stable: the same answer again, and as of another date, gives the same pseudonyms.
    again = await api.read(d, who="regulator")
    later = await api.read(f"{d}?as_of=2027-01-01", who="regulator")
    for other in (again, later):
        assert other["receipt_id"] == seen["receipt_id"] and other["payments"] == seen["payments"]
        assert other["adjustments"] == seen["adjustments"]
    # Another answer pseudonymises the same receipt differently: answers cannot be joined on it.
    contract = await api.read(f"/v1/contracts/{scenario['C2']}", who="regulator")
    assert seen["receipt_id"] not in {r["receipt_id"] for r in contract["receipts"]}


async def test_contract_view_keeps_matching_ids_matched(api: Api, scenario: dict[str, str]) -> None:
    c = f"/v1/contracts/{scenario['C2']}"
    mine = await api.read(c, who="owner")
    seen = await api.read(c, who="regulator")
    assert [r["receipt_id"] for r in mine["receipts"]] == ["PAY-zhangsan-1", "PAY-lisi-2", "CLAIM-lisi"]
    receipts = [pseudonym(r["receipt_id"]) for r in seen["receipts"]]
    assert len(set(receipts)) == 3
    assert [r["amount_fen"] for r in seen["receipts"]] == [r["amount_fen"] for r in mine["receipts"]]
    # The credit is held under the payment that made it: the same pseudonym as that receipt.
    assert [c["credit_id"] for c in mine["credits"]] == ["PAY-lisi-2"]
    assert [c["credit_id"] for c in seen["credits"]] == [receipts[1]]
    # The milestone: named in the terms, reached, and a due item, under one pseudonym.
    name = pseudonym(seen["terms"]["payment_terms"]["milestones"][0]["name"])
    assert seen["milestones_reached"] == {name: "2024-06-01"}
    item = next(i for i in seen["due_items"] if i["kind"] == "milestone")
    assert (item["item_id"], item["label"]) == (f"milestone-{name}", f"里程碑 {name}")
    assert next(i for i in seen["due_items"] if i["kind"] == "entry_fee")["item_id"] == "entry-fee"
    # Risk events keep kind, date and amount; who and what were typed.
    assert [(r["kind"], r["on"], r["amount_fen"]) for r in seen["risk_events"]] == [
        (r["kind"], r["on"], r["amount_fen"]) for r in mine["risk_events"]]
    assert seen["risk_events"][0]["party"] == "licensee"
    assert all(PSEUDONYM.fullmatch(r["party"]) for r in seen["risk_events"][1:])
    assert {r["text"] for r in seen["risk_events"]} == {REDACTED}
    # Public: title, registration, parties, values.
    for name in ("title", "registration", "seller_ids", "buyer_id", "contract_value_fen", "outstanding_fen"):
        assert seen[name] == mine[name], name
    journal = await api.read(f"{c}/journal", who="regulator")
    assert {e["description"] for e in journal["entries"]} == {REDACTED}
    assert "payment_received" in {e["kind"] for e in journal["entries"]}
    assert "PAY-zhangsan-1" in json.dumps(await api.read(f"{c}/journal", who="owner"))


async def test_records_drop_reasons_and_pseudonymise_people(api: Api, world: World,
                                                           scenario: dict[str, str]) -> None:
    achievement = await api.read(f"/v1/achievements/{scenario['A2']}", who="regulator")
    assert pseudonym(achievement["valuations"][0]["assessor"])
    proof = achievement["proofs_of_concept"][0]
    assert pseudonym(proof["funder"]) and proof["stage"] == REDACTED and proof["outcome"] is None
    assert proof["amount_fen"] == 50 * WAN
    assert achievement["notices"][0]["objections"][0] == {"objector": REDACTED, "reason": REDACTED,
                                                          "raised_on": "2023-02-05"}
    assert achievement["register_spells"][0]["exit_reason"] is None
    assert achievement["title"] == "柔性压力传感器" and achievement["official_number"] == "ZL202310000099.X"
    assert [i["name"] for i in achievement["inventors"]] == [None, None]

    holding = await api.read(f"/v1/equity-holdings/{world['H']}", who="regulator")
    decision = holding["decisions"][0]
    makers = [pseudonym(m) for m in decision["decision_makers"]]
    assert len(set(makers)) == 2 and decision["basis"] == REDACTED
    assert {a["inventor"] for a in holding["awards"]} == {"#1", "#2"}
    assert holding["company"]["name"] == "北京微纳传感科技有限公司"

    implementation = await api.read(f"/v1/self-implementations/{world['S']}", who="regulator")
    assert implementation["stop_reason"] is None and implementation["stopped_on"] == "2025-01-01"
    assert [r["correction_reason"] for r in implementation["report_history"]] == [None, None]
    assert implementation["profit_by_year"] == {"2023": 120 * WAN}

    policy = await api.read(f"/v1/institutions/{world['F']}/policy", who="regulator")
    version = policy["versions"][0]
    assert pseudonym(version["version_label"]) and version["inventor_overrides"][0]["inventor"] == "#1"
    assert version["below_floor"] is True and version["floor_findings"]
    mine = await api.read(f"/v1/institutions/{world['F']}/policy", who="buyer")
    assert mine["versions"][0]["version_label"] == "V-wangwu"

    institution = await api.read(f"/v1/institutions/{world['U']}", who="regulator")
    assert institution["name"] == "北京示范大学"  # an organisation: public
    balances = await api.read(f"/v1/institutions/{world['U']}/balances", who="regulator")
    assert "distribution_payable:inventor:*" in {b["account"] for b in balances["balances"]}


async def test_audit_floor_breaches_pseudonymise_receipts_and_labels(
        api: Api, world: World, scenario: dict[str, str]) -> None:
    url = f"/v1/statistics/distribution-audit?as_of=2026-01-01&institution_id={world['F']}"
    seen = await api.read(url, who="regulator")
    mine = await api.read(url, who="buyer")
    [allocation] = seen["floor_breaches"]["allocations"]
    assert mine["floor_breaches"]["allocations"][0]["receipt_id"] == "RC-wangwu"
    pseudonym(allocation["receipt_id"])
    assert allocation["distribution_id"] == scenario["D3"]
    assert allocation["team_short_fen"] == mine["floor_breaches"]["allocations"][0]["team_short_fen"] > 0
    [policy] = seen["floor_breaches"]["policies"]
    assert pseudonym(policy["version_label"]) and policy["findings"] == mine["floor_breaches"]["policies"][0][
        "findings"]
    assert seen["rows"] == mine["rows"] and seen["totals"] == mine["totals"]
    # The JSON and the CSV of one answer agree on the pseudonym.
    csv = await (await api.get(url.replace("?", "?format=csv&table=floor_breach_allocations&"),
                               who="regulator")).text()
    assert allocation["receipt_id"] in csv


async def test_the_pseudonym_key_is_made_once_and_kept(api: Api, ledger: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp import web

    from api.redaction import pseudonym_key, stored_key
    from api.state import LEDGER, SETTINGS
    from ledger.settings import Settings

    rows = await ledger.store.pool.fetch("SELECT name, value FROM server_secrets")
    assert [(r["name"], len(r["value"])) for r in rows] == [("pseudonym_key", 32)]
    assert await stored_key(ledger.store.pool) == bytes(rows[0]["value"])  # a second server finds the same
    monkeypatch.delenv("TTLEDGER_PSEUDONYM_KEY", raising=False)
    app = web.Application()
    app[SETTINGS], app[LEDGER] = Settings(), ledger
    assert await pseudonym_key(app) == bytes(rows[0]["value"])
    configured = web.Application()
    configured[SETTINGS], configured[LEDGER] = Settings(pseudonym_key="a-configured-key-0123"), ledger
    assert await pseudonym_key(configured) == b"a-configured-key-0123"
