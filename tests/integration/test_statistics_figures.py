"""Every statistic on the hand-computed dataset of test_statistics_dataset.py, to the fen.

The worked figures are in that module's docstring; 万 = ``WAN`` = 1,000,000 fen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from ledger.serialisation import default_mapper
from ledger.store import EventStore
from projections.definitions import TRANSFER_RATE_FORMULAS
from projections.queries import (
    StatisticsQueryError,
    contract_value,
    distribution_audit,
    receivables,
    transfer_rate,
    ufpl_funnel,
)
from projections.registry import all_projections
from projections.reports import annual_report, annual_report_csv, autm_report, autm_report_csv
from projections.runner import ProjectionRunner
from tests.integration.test_statistics_dataset import (
    EL,
    EM,
    ES,
    R1,
    SU,
    U1,
    U2,
    WAN,
    X1,
    X2,
    C,
    build,
)

D = date.fromisoformat
HEAD: dict[str, int] = {}


@pytest.fixture(scope="module")
async def store(migrated_dsn: str) -> AsyncIterator[EventStore]:
    s = await EventStore.connect(migrated_dsn)
    await build(s)
    runner = ProjectionRunner(s, default_mapper(), all_projections())
    await runner.setup()
    HEAD["head"] = await runner.catch_up()
    assert runner.failures() == {}
    yield s
    await s.close()


def check_definition(result: dict[str, Any], formula_word: str | None = None) -> None:
    d = result["definition"]
    for key in ("formula", "scope", "date_basis", "status_basis", "currency", "as_of_position"):
        assert d[key] not in (None, ""), key
    assert d["as_of_position"] == HEAD["head"]
    if formula_word:
        assert formula_word in d["formula"]


def by(rows: list[dict[str, Any]], *keys: str) -> dict[Any, dict[str, Any]]:
    return {(r[keys[0]] if len(keys) == 1 else tuple(r[k] for k in keys)): r for r in rows}


# --- contract value -------------------------------------------------------------------------


async def test_contract_value_by_year_counts_signed_contracts_once_with_yoy(store: EventStore) -> None:
    result = await contract_value(store.pool, group_by=["period"])
    rows = by(result["rows"], "period")
    assert set(rows) == {"2023", "2024", "2025"}  # C9 (a draft of 999万) is never counted
    # 2023: C7 (60) and C8 (40, terminated before taking effect: still signed in 2023).
    assert rows["2023"]["count"] == 2 and rows["2023"]["contract_value_fen"] == 100 * WAN
    # 2024: C1..C6; C1 is listed on X1 and X2 (joint listing) and counts once.
    y24 = rows["2024"]
    assert y24["count"] == 6
    assert y24["contract_value_fen"] == 440 * WAN  # 100 + 50 + 30 + 20 + 40 + 200
    assert y24["transaction_value_fen"] == 435 * WAN  # 95 + 50 + 30 + 20 + 40 + 200
    assert y24["registered_count"] == 2
    assert y24["registered_value_fen"] == 140 * WAN  # C1 corrected 80 -> 90, C2 50
    assert y24["cash_received_fen"] == 100 * WAN  # C1 50, C2 20, C3 30
    assert y24["yoy"]["contract_value_fen_percent"] == "340.00"  # (440 - 100) / 100
    assert y24["yoy"]["count_percent"] == "200.00"
    assert rows["2023"]["yoy"]["contract_value_fen_percent"] is None
    assert rows["2025"]["contract_value_fen"] == 15 * WAN  # C10 5 + C11 10
    assert result["totals"]["count"] == 10
    check_definition(result, "contract_value")
    assert "Signed or later" in result["definition"]["status_basis"]
    assert "terminated" in result["definition"]["status_basis"]
    assert "Signing date" in result["definition"]["date_basis"]


async def test_a_jointly_listed_contract_counts_once_and_under_each_exchange(store: EventStore) -> None:
    every = await contract_value(store.pool, date_from=D("2024-01-01"), date_to=D("2024-12-31"))
    on_x1 = await contract_value(store.pool, date_from=D("2024-01-01"), date_to=D("2024-12-31"),
                                 filters={"exchange": X1})
    on_x2 = await contract_value(store.pool, date_from=D("2024-01-01"), date_to=D("2024-12-31"),
                                 filters={"exchange": [X2]})
    on_both = await contract_value(store.pool, date_from=D("2024-01-01"), date_to=D("2024-12-31"),
                                   filters={"exchange": [X1, X2]})
    assert every["totals"]["count"] == 6
    assert (on_x1["totals"]["count"], on_x1["totals"]["contract_value_fen"]) == (2, 130 * WAN)  # C1, C3
    assert (on_x2["totals"]["count"], on_x2["totals"]["contract_value_fen"]) == (2, 140 * WAN)  # C1, C5
    assert (on_both["totals"]["count"], on_both["totals"]["contract_value_fen"]) == (3, 170 * WAN)
    assert "joint listing" in every["definition"]["scope"]


async def test_contract_value_by_registration_date_uses_the_corrected_value(store: EventStore) -> None:
    result = await contract_value(store.pool, group_by=["period", "kind"], date_basis="registered")
    rows = by(result["rows"], "period", "kind")
    assert set(rows) == {("2023", "development"), ("2024", "assignment"), ("2024", "licence"),
                         ("2025", "licence")}
    assert rows[("2024", "assignment")]["registered_value_fen"] == 90 * WAN  # 补正 80 -> 90
    assert rows[("2024", "licence")]["registered_value_fen"] == 50 * WAN
    assert rows[("2025", "licence")]["yoy"]["registered_value_fen_percent"] == "-90.00"  # 5 vs 50
    assert "correction" in result["definition"]["date_basis"]


async def test_contract_value_groups_and_filters(store: EventStore) -> None:
    y2024 = {"date_from": D("2024-01-01"), "date_to": D("2024-12-31")}
    kinds = by((await contract_value(store.pool, group_by=["kind"], **y2024))["rows"], "kind")
    assert {k: (r["count"], r["contract_value_fen"]) for k, r in kinds.items()} == {
        "assignment": (1, 100 * WAN), "licence": (1, 50 * WAN), "ufpl_licence": (3, 90 * WAN),
        "equity_contribution": (1, 200 * WAN)}
    regions = by((await contract_value(store.pool, group_by=["seller_region"], **y2024))["rows"],
                 "seller_region")
    assert {k: r["contract_value_fen"] for k, r in regions.items()} == {"610000": 380 * WAN,
                                                                         "330000": 60 * WAN}
    sizes = by((await contract_value(store.pool, group_by=["buyer_size", "buyer_kind"], **y2024))["rows"],
               "buyer_size")
    assert {k: r["count"] for k, r in sizes.items()} == {"small": 1, "large": 1, "micro": 4}
    fields = by((await contract_value(store.pool, group_by=["field", "ip_type"], **y2024))["rows"],
                "field", "ip_type")
    assert fields[("new_materials", "invention_patent")]["count"] == 2  # C1 (A1) and C4 (A8)
    licences = by((await contract_value(store.pool, group_by=["licence_type"], **y2024))["rows"],
                  "licence_type")
    assert licences["exclusive"]["count"] == 1 and licences["non_exclusive"]["count"] == 3
    assert licences[None]["count"] == 2  # assignment and equity contribution have no licence type
    u1 = await contract_value(store.pool, filters={"seller": U1, "seller_kind": "university"}, **y2024)
    assert (u1["totals"]["count"], u1["totals"]["contract_value_fen"]) == (4, 380 * WAN)
    sellers = by((await contract_value(store.pool, group_by=["seller"], filters={
        "buyer_region": ["610000", "510000"]}, **y2024))["rows"], "seller")
    assert {k: r["count"] for k, r in sellers.items()} == {str(U1): 3, str(U2): 2}
    quarters = by((await contract_value(store.pool, group_by=["period"], period="quarter",
                                        date_from=D("2024-01-01")))["rows"], "period")
    assert quarters["2024-Q1"]["count"] == 3  # C1, C3, C4
    assert "2023-Q4" not in quarters  # fetched only to compute YoY
    assert quarters["2025-Q1"]["yoy"]["contract_value_fen_percent"] == "-90.00"  # 15 vs 150
    local = by((await contract_value(store.pool, group_by=["local"], **y2024))["rows"], "local")
    assert local["true"]["count"] == 2  # C1 and C6 (buyer in the seller's province)


async def test_contract_value_rejects_bad_arguments(store: EventStore) -> None:
    with pytest.raises(StatisticsQueryError) as caught:
        await contract_value(store.pool, group_by=["colour"])
    assert caught.value.field == "group_by"
    with pytest.raises(StatisticsQueryError):
        await contract_value(store.pool, date_basis="effective")
    with pytest.raises(StatisticsQueryError):
        await contract_value(store.pool, filters={"seller": "not-a-uuid"})
    with pytest.raises(StatisticsQueryError):
        await contract_value(store.pool, group_by=["period"], period="week")


# --- transfer rate ----------------------------------------------------------------------------


async def test_transfer_rate_formulas(store: EventStore) -> None:
    expected = {
        # A1..A6 transferred of A1..A8 (A7 only drafted, A8's UFPL trial returned).
        "transferred_over_registered": (6, 8, "0.7500"),
        # Register: A1, A2, A3, A4, A7; transferred A1..A4.
        "transferred_over_separate_register": (4, 5, "0.8000"),
        # Granted invention patents A1, A2, A7, A8 (A5 pending); transferred A1, A2.
        "transferred_over_granted_invention_patents": (2, 4, "0.5000"),
        # Granted patents A1, A2, A3, A7, A8; assigned A1 (assignment), A3 (equity); licensed A2.
        "patents_assigned_plus_licensed_over_granted": (3, 5, "0.6000"),
        # Transferred A1..A6; to a buyer in the owner's province: A1 (ES), A3 (SU).
        "local_transfer_rate": (2, 6, "0.3333"),
    }
    assert set(TRANSFER_RATE_FORMULAS) == set(expected)
    for name, (num, den, ratio) in expected.items():
        result = await transfer_rate(store.pool, formula=name)
        totals = result["totals"]
        assert (totals["numerator"], totals["denominator"], totals["rate"]) == (num, den, ratio), name
        assert result["formula"]["name"] == name
        assert result["definition"]["formula_name"] == name
        assert name in result["definition"]["formula"]
        check_definition(result)


async def test_transfer_rate_by_institution_period_and_as_of(store: EventStore) -> None:
    rows = by((await transfer_rate(store.pool, group_by=["institution"]))["rows"], "institution")
    assert {k: (r["numerator"], r["denominator"]) for k, r in rows.items()} == {
        str(U1): (4, 5), str(U2): (1, 2), str(R1): (1, 1)}
    assert rows[str(U1)]["rate_percent"] == "80.00"
    # As of 2024-06-30 only A1 (2024-04-01) is transferred; A2 follows on 2024-06-15... then A4 on 07-10.
    mid = await transfer_rate(store.pool, as_of=D("2024-06-30"))
    assert (mid["totals"]["numerator"], mid["totals"]["denominator"]) == (2, 8)
    regions = by((await transfer_rate(store.pool, formula="local_transfer_rate",
                                      group_by=["region"]))["rows"], "region")
    assert {k: (r["numerator"], r["denominator"]) for k, r in regions.items()} == {
        "610000": (2, 4), "330000": (0, 1), "110000": (0, 1)}
    years = by((await transfer_rate(store.pool, formula="transferred_over_granted_invention_patents",
                                    group_by=["period"]))["rows"], "period")
    assert {k: (r["numerator"], r["denominator"]) for k, r in years.items()} == {
        "2020": (0, 1), "2021": (0, 1), "2022": (1, 1), "2023": (1, 1)}
    fields = by((await transfer_rate(store.pool, group_by=["field"],
                                     filters={"institution": [U1]}))["rows"], "field")
    assert fields["agriculture"]["numerator"] == 0 and fields["new_materials"]["numerator"] == 1
    with pytest.raises(StatisticsQueryError):
        await transfer_rate(store.pool, formula="made_up")


# --- UFPL funnel ----------------------------------------------------------------------------------


async def test_ufpl_funnel(store: EventStore) -> None:
    result = await ufpl_funnel(store.pool)
    totals = result["totals"]
    # Listed: A1 (X1 and X2: joint, once), A4 (X1), A5 (X2).
    assert totals["listed"] == 3
    assert (totals["signed"], totals["signed_value_fen"]) == (3, 90 * WAN)  # C3, C4, C5
    assert (totals["trials_started"], totals["converted"], totals["returned"], totals["defaulted"]) == (3, 2, 1, 1)
    assert totals["conversion_rate"] == "0.6667"  # 2 / (2 + 1)
    assert totals["licensee_revenue_fen"] == 150 * WAN  # C3 100, C4 0, C5 50
    assert totals["insurance_compensation_fen"] == 25 * WAN
    check_definition(result, "conversion_rate")
    assert "once per achievement" in result["definition"]["listed_definition"]

    rows = by((await ufpl_funnel(store.pool, group_by=["institution"]))["rows"], "institution")
    assert (rows[str(U1)]["listed"], rows[str(U1)]["converted"], rows[str(U1)]["returned"]) == (2, 1, 0)
    assert (rows[str(U2)]["listed"], rows[str(U2)]["converted"], rows[str(U2)]["returned"]) == (1, 1, 1)
    assert rows[str(U2)]["conversion_rate_percent"] == "50.00"
    years = by((await ufpl_funnel(store.pool, group_by=["period"]))["rows"], "period")
    assert years["2023"]["listed"] == 3 and years["2023"]["signed"] == 0
    assert years["2024"]["trials_started"] == 3 and years["2024"]["insurance_compensation_fen"] == 25 * WAN
    only = await ufpl_funnel(store.pool, filters={"region": "330000"})
    assert (only["totals"]["listed"], only["totals"]["signed"]) == (1, 2)


# --- receivables ------------------------------------------------------------------------------------


async def test_receivables_ageing_with_a_deferred_installment(store: EventStore) -> None:
    result = await receivables(store.pool, as_of=D("2025-03-01"), group_by=[])
    totals = result["totals"]
    assert totals["outstanding_fen"] == 75 * WAN  # C1 30 + 20, C5 15, C7 10
    assert totals["overdue_fen"] == 75 * WAN and totals["not_due_fen"] == 0
    assert totals["ageing_fen"] == {
        "0-30": 30 * WAN,  # C1 installment 2, deferred to 2025-02-01: 28 days
        "31-90": 0,
        "91-180": 35 * WAN,  # C1 installment 3 (120 days) and C5 after insurance (142 days)
        "181-365": 0,
        ">365": 10 * WAN,  # C7, due 2023-11-10
    }
    check_definition(result, "outstanding")
    rows = by((await receivables(store.pool, as_of=D("2025-03-01")))["rows"], "institution")
    assert {k: r["outstanding_fen"] for k, r in rows.items()} == {
        str(U1): 50 * WAN, str(U2): 15 * WAN, str(R1): 10 * WAN}
    contracts = by((await receivables(store.pool, as_of=D("2025-03-01"), group_by=["contract"],
                                      institution_id=U1))["rows"], "contract")
    assert contracts[str(C[1])]["items"] == 2
    buckets = by((await receivables(store.pool, as_of=D("2025-03-01"), group_by=["bucket"]))["rows"],
                 "bucket")
    assert {k: r["outstanding_fen"] for k, r in buckets.items()} == {
        "0-30": 30 * WAN, "91-180": 35 * WAN, ">365": 10 * WAN}
    # Before the deferred due date, installment 2 is not yet due.
    early = await receivables(store.pool, as_of=D("2025-01-15"), group_by=[], contract_id=C[1])
    assert early["totals"]["not_due_fen"] == 30 * WAN
    assert early["totals"]["ageing_fen"]["31-90"] == 20 * WAN  # 75 days


# --- distribution audit ---------------------------------------------------------------------------------


async def test_distribution_audit_by_institution(store: EventStore) -> None:
    result = await distribution_audit(store.pool, as_of=D("2025-03-01"))
    rows = by(result["rows"], "institution_id")
    u1 = rows[str(U1)]
    assert u1["receipts"] == 2
    assert u1["received_fen"] == 50 * WAN  # D1 40 + D2 10
    assert u1["deducted_fen"] == 5 * WAN  # D1 3 + D2 2 (one added by the adjustment)
    assert u1["net_fen"] == u1["allocated_fen"] == 45 * WAN  # 37 + 8
    assert u1["team_allocated_fen"] == 31_500_000  # 25.9 + 5.6
    assert u1["team_paid_fen"] == 20_540_000  # 李四 15.54 + 王五 5
    assert u1["team_unpaid_fen"] == 10_960_000
    assert u1["inventors"] == 3
    assert u1["deadline"]["paid_in_time"]["lines"] == 1  # 李四
    assert u1["deadline"]["open"] == {"lines": 2, "unpaid_fen": 10_960_000}  # 王五 5.36, 张三 5.6
    r1 = rows[str(R1)]
    assert r1["deadline"]["open"]["lines"] == 1  # deadline 2026-11-15 not yet passed
    # EL's only receipt (C11, 2025-03-10) did not exist on 2025-03-01: the audit is the state on as_of.
    assert str(EL) not in rows
    assert result["floor_breaches"]["allocations"] == []
    check_definition(result, "unpaid")
    result = await distribution_audit(store.pool, as_of=D("2025-03-31"))
    el = by(result["rows"], "institution_id")[str(EL)]
    assert el["receipts_below_floor"] == 1

    later = by((await distribution_audit(store.pool, as_of=D("2027-01-01"), institution_id=R1))["rows"],
               "institution_id")
    assert later[str(R1)]["deadline"]["overdue"] == {"lines": 1, "unpaid_fen": 35 * WAN}
    paid_late = by((await distribution_audit(store.pool, as_of=D("2027-03-01")))["rows"], "institution_id")
    assert paid_late[str(R1)]["deadline"]["paid_late"]["lines"] == 1

    breaches = result["floor_breaches"]
    assert [(p["institution_id"], p["team_cash_percent"], p["transfer_floor_percent"])
            for p in breaches["policies"]] == [(str(EL), "30", "50")]
    assert breaches["policies"][0]["findings"]
    assert [(a["institution_id"], a["team_fen"], a["net_fen"]) for a in breaches["allocations"]] == [
        (str(EL), 3 * WAN, 10 * WAN)]


async def test_distribution_audit_by_contract_and_inventor(store: EventStore) -> None:
    contracts = by((await distribution_audit(store.pool, as_of=D("2025-03-01"), group_by="contract",
                                             institution_id=U1))["rows"], "contract_id")
    assert contracts[str(C[1])]["net_fen"] == 37 * WAN
    assert contracts[str(C[2])]["net_fen"] == 8 * WAN  # adjusted from 9
    assert contracts[str(C[2])]["team_allocated_fen"] == 5_600_000
    named = await distribution_audit(store.pool, as_of=D("2025-03-01"), group_by="inventor",
                                     institution_id=U1)
    people = by(named["rows"], "inventor")
    assert {k: (r["team_allocated_fen"], r["team_paid_fen"], r["team_unpaid_fen"])
            for k, r in people.items()} == {
        "李四": (15_540_000, 15_540_000, 0),
        "王五": (10_360_000, 5 * WAN, 5_360_000),
        "张三": (5_600_000, 0, 5_600_000),
    }
    anonymous = await distribution_audit(store.pool, as_of=D("2025-03-01"), group_by="inventor",
                                         anonymise=True)
    text = repr(anonymous)
    for name in ("李四", "王五", "张三", "赵六", "钱七"):
        assert name not in text
    counts = by(anonymous["rows"], "institution_id")
    assert (counts[str(U1)]["inventors"], counts[str(U1)]["team_allocated_fen"],
            counts[str(U1)]["team_paid_fen"]) == (3, 31_500_000, 20_540_000)
    assert "counts and amounts" in anonymous["definition"]["scope"]


# --- annual reports -------------------------------------------------------------------------------------


async def test_annual_transformation_report(store: EventStore) -> None:
    report = await annual_report(store.pool, institution_id=U1, year=2024)
    assert report["institution"]["name"] == "西北大学"
    assert report["achievements_transferred"]["by_way"] == {
        "assignment": 1, "licence": 1, "ufpl": 1, "equity": 1}  # A1, A2, A4, A3
    assert report["achievements_transferred"]["total"] == 4
    assert report["achievements_transferred"]["local"] == 2  # A1 to ES, A3 to SU
    contracts = report["contracts"]
    assert contracts["total"]["count"] == 4  # C1, C2, C3, C6
    assert contracts["total"]["contract_value_fen"] == 380 * WAN
    assert contracts["total"]["transaction_value_fen"] == 375 * WAN
    assert contracts["total"]["registered_value_fen"] == 140 * WAN
    assert contracts["by_kind"]["equity_contribution"]["contract_value_fen"] == 200 * WAN
    # Income received in 2024: C1 40 + 10, C2 entry fee 10, C3 30 (the royalty came in 2025).
    assert report["income"]["by_category_fen"] == {
        "running_royalty": 0, "other": 90 * WAN, "cashed_in_equity": 0, "dividend": 0}
    dist = report["distribution"]
    assert (dist["received_fen"], dist["deducted_fen"], dist["net_income_fen"]) == (
        50 * WAN, 5 * WAN, 45 * WAN)
    assert dist["allocated_to_inventors"] == {"persons": 3, "amount_fen": 31_500_000}
    assert dist["cash_awards_paid"] == {"persons": 2, "amount_fen": 20_540_000,
                                        "paid_after_deadline_fen": 0}
    assert dist["share_awards"] == {"persons": 2, "shares": 1_400_000}
    assert report["definition"]["as_of_position"] == HEAD["head"]
    assert "distinct" in report["definition"]["formula"]
    rows = list(csv.reader(io.StringIO(annual_report_csv(report, "en"))))
    assert rows[0] == ["section", "item", "label", "value", "unit"]
    assert ["II. Transformation contracts (assignment, licence, equity investment)", "total.contract_value_fen",
            "total · contract value", str(380 * WAN), "fen"] in rows
    assert ["I. Overall transformation of achievements", "by_way.ufpl", "by way · UFPL", "1", "count"] in rows
    assert any(r[0] == "definition" and r[1] == "formula" for r in rows)
    rows = list(csv.reader(io.StringIO(annual_report_csv(report))))  # Chinese by default
    assert rows[0] == ["部分", "项目代码", "项目", "数值", "单位"]
    assert ["一、科技成果转化总体情况", "by_way.ufpl", "按转化方式·先使用后付费", "1", "计数"] in rows

    r2025 = await annual_report(store.pool, institution_id=U1, year=2025)
    assert r2025["income"]["by_category_fen"] == {
        "running_royalty": 10 * WAN, "other": 0, "cashed_in_equity": 15 * WAN, "dividend": 2 * WAN}


async def test_autm_summary(store: EventStore) -> None:
    report = await autm_report(store.pool, year=2024)
    assert report["licences_and_options_executed"] == {
        "total": 4, "exclusive": 1, "non_exclusive": 3,  # C2 exclusive; C3, C4, C5
        "to_startups": 1,  # C4 to SU, formed by C6's equity contribution
        "to_small_companies": 2,  # C3 and C5 to EM (micro)
        "to_large_companies": 1,  # C2 to EL
        "to_others": 0,
    }
    assert report["licences_containing_equity"] == 1  # C6
    # SU, established 2024-01-15, with U2's UFPL licence C4 (2024-03-01) and U1's contribution C6
    # (2024-09-01); the firms of 2020 licensed in 2024 were not formed around these licences.
    assert report["startups_formed"] == 1
    assert (await autm_report(store.pool, year=2020))["startups_formed"] == 0
    assert (await autm_report(store.pool, year=2024, institution_id=U1))["startups_formed"] == 1
    income = report["licence_income_fen"]
    assert income["running_royalties"] == 0 and income["cashed_in_equity"] == 0
    # C1 50 + C2 10 + C3 30 + C5's insurer 25 (C7, a development contract, is not licence income).
    assert income["other"] == 115 * WAN
    assert income["other_breakdown"]["insurance_compensation"] == 25 * WAN
    check_definition(report, "cashed-in")
    y2025 = await autm_report(store.pool, year=2025, institution_id=U1)
    assert y2025["licence_income_fen"]["running_royalties"] == 10 * WAN
    assert y2025["licence_income_fen"]["cashed_in_equity"] == 15 * WAN
    assert y2025["licence_income_fen"]["other_breakdown"]["dividends"] == 2 * WAN
    assert y2025["licences_and_options_executed"]["total"] == 0  # C10 is R1's
    text = autm_report_csv(report, "en")
    assert "Licence income,running_royalties,running royalties,0,fen" in text
    assert "许可收入,running_royalties,提成收入,0,分" in autm_report_csv(report)


async def test_every_query_names_its_projection_position(store: EventStore) -> None:
    assert {ES, EM, SU}  # the dataset's parties are all used above
    results = [
        await contract_value(store.pool),
        await transfer_rate(store.pool),
        await ufpl_funnel(store.pool),
        await receivables(store.pool, as_of=D("2025-01-01")),
        await distribution_audit(store.pool, as_of=D("2025-01-01")),
        await autm_report(store.pool, year=2024),
    ]
    for result in results:
        check_definition(result)
