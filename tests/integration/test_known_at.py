"""As known at (bitemporal ``known_at``): statistics and reports as the ledger knew them at a log position.

The hand-computed dataset of test_statistics_dataset.py is recorded; its log head is P and its
figures are those of test_statistics_figures.py (worked out in the dataset's docstring; 万 =
``WAN`` = 1,000,000 fen). Then, after P, later entries are recorded, some back-dated into 2024:

    A9   U1 invention patent, registered 2022-01-01 (back-dated): one more achievement registered
    C12  U1->ES UFPL licence of A9, 20/20, drafted 2024-03-25, signed 2024-04-01 (back-dated)
    C1   a third payment of 20 on 2024-12-15 (back-dated): installment 3's last 20 (other income)
    D1   王五's remaining award 5.36 paid 2024-09-01 (back-dated, within the deadline)

So, without ``known_at``:

    contract value 2024     count 6 -> 7, value 440 -> 460, transaction 435 -> 455, cash 100 -> 120
    transfer rate           transferred_over_registered 6/8 -> 6/9
    UFPL funnel             signed 3 -> 4, signed value 90 -> 110
    distribution audit      U1 (as of 2025-03-01): team paid 20.54 -> 25.90, unpaid 10.96 -> 5.60,
                            paid in time 1 -> 2 lines, open 2 lines / 10.96 -> 1 line / 5.60 (张三)
    annual report U1 2024   contracts 4 -> 5 (380 -> 400; UFPL licences 1 -> 2), other income
                            90 -> 110, cash awards paid 20.54 -> 25.90
    AUTM 2024               licences 4 -> 5 (non-exclusive 3 -> 4, to small companies 2 -> 3),
                            other income 115 -> 135

and with ``known_at=P`` every figure is what it was at P, also after a rebuild of the projections.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.achievement import Achievement, Inventor, Owner
from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.contract_terms import ContractTerms
from domain.enums import ContractKind, IpType, TechnologyField
from domain.payment_terms import PaymentTerms
from domain.ufpl import UfplTerms, UfplTrigger
from ledger.bootstrap import connect_ledger
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from ledger.store import EventStore
from ledger.tokens import Role, TokenService
from projections.queries import (
    StatisticsQueryError,
    contract_value,
    distribution_audit,
    transfer_rate,
    ufpl_funnel,
)
from projections.registry import all_projections
from projections.reports import annual_report, autm_report
from projections.runner import ProjectionRunner
from tests.integration.api_support import problem, serve
from tests.integration.test_statistics_dataset import ES, U1, WAN, C, Dataset, build, d, ident

A9, C12 = ident("A9"), ident("C12")
AS_OF = date(2025, 3, 1)


async def figures(db: Any, known_at: int | None = None) -> dict[str, dict[str, Any]]:
    """Every statistic and report the tests compare, as known at ``known_at``."""
    return {
        "contract_value": await contract_value(db, group_by=["period"], known_at=known_at),
        "transfer_rate": await transfer_rate(db, known_at=known_at),
        "ufpl_funnel": await ufpl_funnel(db, known_at=known_at),
        "distribution_audit": await distribution_audit(db, as_of=AS_OF, known_at=known_at),
        "annual_report": await annual_report(db, institution_id=U1, year=2024, known_at=known_at),
        "autm_report": await autm_report(db, year=2024, known_at=known_at),
    }


def without_positions(value: Any) -> Any:
    """The figures, without the positions the projections had reached (they move on)."""
    if isinstance(value, dict):
        return {k: without_positions(v) for k, v in value.items() if k not in ("as_of_position", "as_of_positions")}
    if isinstance(value, list):
        return [without_positions(v) for v in value]
    return value


class Ledger:
    store: EventStore
    runner: ProjectionRunner
    p: int  # the log head after the dataset
    head: int  # the log head after the later entries
    at_p: dict[str, dict[str, Any]]  # the figures at P, without known_at
    now: dict[str, dict[str, Any]]  # the figures at the head, without known_at
    history: list[tuple[int, dict[str, dict[str, Any]]]]  # (position, figures) after each commit


@pytest.fixture(scope="module")
async def ledger(migrated_dsn: str) -> AsyncIterator[Ledger]:
    out = Ledger()
    store = out.store = await EventStore.connect(migrated_dsn)
    runner = out.runner = ProjectionRunner(store, default_mapper(), all_projections(), page_size=7)
    await runner.setup()
    out.history = []

    async def after_commit() -> None:
        position = await runner.catch_up()
        out.history.append((position, await figures(store.pool)))

    ds = await build(store, after_commit=after_commit)
    out.p = await runner.catch_up()
    assert runner.failures() == {}
    out.at_p = await figures(store.pool)
    ds.after_commit = None
    await later_entries(ds)
    out.head = await runner.catch_up()
    assert runner.failures() == {}
    out.now = await figures(store.pool)
    yield out
    await store.close()


async def later_entries(ds: Dataset) -> None:
    """Entries recorded after P, back-dated into 2024 (the module's docstring)."""
    a9 = Achievement.register(
        title="成果 A9", ip_type=IpType.invention_patent, technology_field=TechnologyField.agriculture,
        owners=[Owner(U1, Decimal(100))], inventors=[Inventor("周九", Decimal(100))],
        registered_on=d("2022-01-01"), official_number="ZL-A9", granted_on=None, id=A9)
    await ds.commit(a9)
    c12 = TechnologyContract.draft(
        terms=ContractTerms(
            kind=ContractKind.ufpl_licence, title="先使用后付费 A9", seller_ids=(U1,), buyer_id=ES,
            achievement_ids=(A9,), contract_value_fen=20 * WAN, transaction_value_fen=20 * WAN,
            payment_terms=PaymentTerms.lump_sum(20 * WAN, days_after_start=30),
            ufpl=UfplTerms("试用范围", d("2024-12-31"), (UfplTrigger.first_revenue(),))),
        drafted_on=d("2024-03-25"), id=C12)
    c12.sign(d("2024-04-01"))
    await ds.commit(c12)
    await ds.change(TechnologyContract, C[1], lambda c: c.record_payment("C1-P3", 20 * WAN, d("2024-12-15")))
    await ds.change(IncomeDistribution, ds.distributions["D1"],
                    lambda dist: dist.pay_award("inventor:王五", 5_360_000, d("2024-09-01"), "AW-4"))


def year(result: dict[str, Any], label: str) -> dict[str, Any]:
    return next(r for r in result["rows"] if r["period"] == label)


def u1(audit: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in audit["rows"] if r["institution_id"] == str(U1))


def check_at_p(f: dict[str, dict[str, Any]]) -> None:
    """The figures of the dataset at P, worked by hand (test_statistics_figures.py)."""
    y24 = year(f["contract_value"], "2024")
    assert (y24["count"], y24["contract_value_fen"], y24["transaction_value_fen"], y24["cash_received_fen"]) == (
        6, 440 * WAN, 435 * WAN, 100 * WAN)
    totals = f["transfer_rate"]["totals"]
    assert (totals["numerator"], totals["denominator"], totals["rate"]) == (6, 8, "0.7500")
    funnel = f["ufpl_funnel"]["totals"]
    assert (funnel["listed"], funnel["signed"], funnel["signed_value_fen"]) == (3, 3, 90 * WAN)
    assert (funnel["converted"], funnel["returned"], funnel["licensee_revenue_fen"]) == (2, 1, 150 * WAN)
    audit = u1(f["distribution_audit"])
    assert (audit["team_allocated_fen"], audit["team_paid_fen"], audit["team_unpaid_fen"]) == (
        31_500_000, 20_540_000, 10_960_000)
    assert audit["deadline"]["paid_in_time"] == {"lines": 1, "unpaid_fen": 0}
    assert audit["deadline"]["open"] == {"lines": 2, "unpaid_fen": 10_960_000}
    report = f["annual_report"]
    assert (report["contracts"]["total"]["count"], report["contracts"]["total"]["contract_value_fen"]) == (
        4, 380 * WAN)
    assert report["contracts"]["by_kind"]["ufpl_licence"]["count"] == 1
    assert report["income"]["by_category_fen"]["other"] == 90 * WAN
    assert report["distribution"]["cash_awards_paid"] == {"persons": 2, "amount_fen": 20_540_000,
                                                          "paid_after_deadline_fen": 0}
    autm = f["autm_report"]
    executed = autm["licences_and_options_executed"]
    assert (executed["total"], executed["non_exclusive"], executed["to_small_companies"]) == (4, 3, 2)
    assert autm["licence_income_fen"]["other"] == 115 * WAN


async def test_the_later_entries_change_the_figures_without_known_at(ledger: Ledger) -> None:
    check_at_p(ledger.at_p)
    f = ledger.now
    y24 = year(f["contract_value"], "2024")
    assert (y24["count"], y24["contract_value_fen"], y24["transaction_value_fen"], y24["cash_received_fen"]) == (
        7, 460 * WAN, 455 * WAN, 120 * WAN)
    totals = f["transfer_rate"]["totals"]
    assert (totals["numerator"], totals["denominator"], totals["rate"]) == (6, 9, "0.6667")
    funnel = f["ufpl_funnel"]["totals"]
    assert (funnel["listed"], funnel["signed"], funnel["signed_value_fen"]) == (3, 4, 110 * WAN)
    audit = u1(f["distribution_audit"])
    assert (audit["team_allocated_fen"], audit["team_paid_fen"], audit["team_unpaid_fen"]) == (
        31_500_000, 25_900_000, 5_600_000)
    assert audit["deadline"]["paid_in_time"] == {"lines": 2, "unpaid_fen": 0}
    assert audit["deadline"]["open"] == {"lines": 1, "unpaid_fen": 5_600_000}
    report = f["annual_report"]
    assert (report["contracts"]["total"]["count"], report["contracts"]["total"]["contract_value_fen"]) == (
        5, 400 * WAN)
    assert report["contracts"]["by_kind"]["ufpl_licence"]["count"] == 2
    assert report["income"]["by_category_fen"]["other"] == 110 * WAN
    assert report["distribution"]["cash_awards_paid"] == {"persons": 2, "amount_fen": 25_900_000,
                                                          "paid_after_deadline_fen": 0}
    autm = f["autm_report"]
    executed = autm["licences_and_options_executed"]
    assert (executed["total"], executed["non_exclusive"], executed["to_small_companies"]) == (5, 4, 3)
    assert autm["licence_income_fen"]["other"] == 135 * WAN
    # Without known_at, each answer is known at the position the projections reached: the head.
    for name, result in f.items():
        assert result["known_at"] == ledger.head, name
        assert result["definition"]["known_at"] == ledger.head, name


async def test_known_at_p_gives_the_figures_of_p(ledger: Ledger) -> None:
    assert ledger.head > ledger.p
    again = await figures(ledger.store.pool, known_at=ledger.p)
    check_at_p(again)
    assert without_positions(again) == without_positions(ledger.at_p)
    for name, result in again.items():
        assert result["known_at"] == ledger.p, name
        assert result["definition"]["known_at"] == ledger.p, name
        assert result["definition"]["as_of_position"] == ledger.head, name  # what the tables hold
    report = again["annual_report"]
    assert (report["as_of"], report["known_at"]) == ("2024-12-31", ledger.p)
    assert (report["definition"]["as_of"], report["definition"]["known_at"]) == ("2024-12-31", ledger.p)
    # And the figures of today, asked for as known at the head, are today's.
    assert without_positions(await figures(ledger.store.pool, known_at=ledger.head)) == without_positions(ledger.now)


async def test_known_at_every_commit_gives_the_figures_recorded_then(ledger: Ledger) -> None:
    """After each commit of the dataset the figures were taken as they stood; asked again later as
    known at that commit's position, each statistic and report gives them back exactly."""
    assert len(ledger.history) > 20
    for position, then in ledger.history:
        assert without_positions(await figures(ledger.store.pool, known_at=position)) == without_positions(then), (
            position)


async def test_a_rebuild_gives_the_same_figures_known_at_p(ledger: Ledger) -> None:
    rebuilt = ProjectionRunner(ledger.store, default_mapper(), all_projections(), page_size=10_000)
    await rebuilt.setup()
    assert await rebuilt.rebuild() == ledger.head
    again = await figures(ledger.store.pool, known_at=ledger.p)
    check_at_p(again)
    assert without_positions(again) == without_positions(ledger.at_p)
    assert without_positions(await figures(ledger.store.pool)) == without_positions(ledger.now)
    for position, then in ledger.history[::5]:
        assert without_positions(await figures(ledger.store.pool, known_at=position)) == without_positions(then)


async def test_known_at_not_yet_applied_or_not_a_position_is_refused(ledger: Ledger) -> None:
    with pytest.raises(StatisticsQueryError) as caught:
        await contract_value(ledger.store.pool, known_at=ledger.head + 1)
    assert caught.value.field == "known_at"
    assert caught.value.detail_zh == f"所读投影尚未应用到日志位置 {ledger.head + 1}（contracts at {ledger.head}）"
    with pytest.raises(StatisticsQueryError) as caught:
        await annual_report(ledger.store.pool, institution_id=U1, year=2024, known_at=0)
    assert caught.value.field == "known_at"


async def test_the_api_answers_as_known_at_and_refuses_a_position_beyond_the_head(ledger: Ledger) -> None:
    opened = await connect_ledger(ledger.store.dsn, Settings())
    try:
        _, token = await TokenService(opened.store.pool).create(Role.ADMIN, name="known_at test")
        auth = {"Authorization": f"Bearer {token}"}
        async with serve(opened) as client:

            async def read(path: str) -> dict[str, Any]:
                response = await client.get(path, headers=auth)
                text = await response.text()
                assert response.status == 200, (path, text)
                return dict(json.loads(text))

            p, head = ledger.p, ledger.head
            value = await read(f"/v1/statistics/contract-value?group_by=period&known_at={p}")
            assert value["known_at"] == p and value["definition"]["known_at"] == p
            assert year(value, "2024")["contract_value_fen"] == 440 * WAN
            now = await read("/v1/statistics/contract-value?group_by=period")  # the cache keys on known_at
            assert now["known_at"] == head and year(now, "2024")["contract_value_fen"] == 460 * WAN
            old = await read(f"/v1/statistics/contracts?basis=signed&group_by=period&known_at={p}")
            assert old["known_at"] == p
            assert next(g for g in old["groups"] if g["key"] == "2024")["contract_value_fen"] == 440 * WAN
            rate = await read(f"/v1/statistics/transfer-rate?known_at={p}")
            assert (rate["totals"]["numerator"], rate["totals"]["denominator"]) == (6, 8)
            funnel = await read(f"/v1/statistics/ufpl-funnel?known_at={p}")
            assert funnel["totals"]["signed_value_fen"] == 90 * WAN
            audit = await read(f"/v1/statistics/distribution-audit?as_of=2025-03-01&known_at={p}")
            assert u1(audit)["team_paid_fen"] == 20_540_000
            report = await read(f"/v1/reports/annual?year=2024&institution_id={U1}&known_at={p}")
            assert (report["as_of"], report["known_at"]) == ("2024-12-31", p)
            assert report["contracts"]["total"]["contract_value_fen"] == 380 * WAN
            autm = await read(f"/v1/reports/autm?year=2024&known_at={p}")
            assert autm["licence_income_fen"]["other"] == 115 * WAN
            # The books as known at P: C1-P3 (20, 2024-12-15) and AW-4 (5.36, 2024-09-01) came after.
            then = await read(f"/v1/institutions/{U1}/balances?as_of=2024-12-31&known_at={p}")
            now_books = await read(f"/v1/institutions/{U1}/balances?as_of=2024-12-31")
            assert (then["known_at"], now_books["known_at"]) == (p, head)

            def kind(body: dict[str, Any], name: str) -> int:
                return sum(b["balance_fen"] for b in body["balances"] if b["account"].split(":")[0] == name)

            assert kind(now_books, "receivable") - kind(then, "receivable") == -20 * WAN
            assert kind(now_books, "cash") - kind(then, "cash") == 20 * WAN - 5_360_000
            refused = await problem(await client.get(
                f"/v1/institutions/{U1}/balances?known_at={head + 1}", headers=auth), 422)
            assert [e["field"] for e in refused["errors"]] == ["known_at"]

            for path in ("/v1/statistics/contract-value?", "/v1/statistics/contracts?", "/v1/statistics/transfer-rate?",
                         "/v1/statistics/ufpl-funnel?", "/v1/statistics/distribution-audit?as_of=2025-03-01&",
                         "/v1/statistics/receivables?as_of=2025-03-01&", f"/v1/reports/annual?year=2024&institution_id={U1}&",
                         "/v1/reports/autm?year=2024&"):
                response = await client.get(f"{path}known_at={head + 1}", headers=auth)
                refused = await problem(response, 422)
                assert [e["field"] for e in refused["errors"]] == ["known_at"], path
                assert refused["errors"][0]["detail"] == f"日志位置 {head + 1} 超出日志头（{head}）：账本尚未记录到该位置"
                response = await client.get(f"{path}known_at=0", headers=auth)
                assert response.status == 422, path
            english = await problem(await client.get(f"/v1/reports/autm?year=2024&known_at={head + 1}&lang=en",
                                                     headers=auth), 422)
            assert english["errors"][0]["detail"] == (
                f"position {head + 1} is beyond the log head ({head}): nothing is known there yet")
    finally:
        await opened.store.close()


async def test_the_restatement_report_lists_what_changed_2024_between_p_and_the_head(ledger: Ledger) -> None:
    """U1's 2024 as known at P and at the head: C1-P3 (20, dated 2024-12-15) settles the rest of
    C1's installment 3 and 王五's award AW-4 (5.36, dated 2024-09-01) is paid; C12 (20) was signed
    2024-04-01. Receivables −20, cash +20 − 5.36, contracts signed 4 → 5 (380 → 400)."""
    from projections.restatement import restatement

    report = await restatement(ledger.store.pool, as_of=date(2024, 12, 31), from_known_at=ledger.p,
                               to_known_at=ledger.head, institution_id=U1)
    changes = {f["figure"]: (f["before"], f["after"], f["change"]) for f in report["figures"]}
    assert changes["receivables.outstanding_fen"][2] == -20 * WAN
    assert changes["receivables.overdue_fen"][2] == -20 * WAN  # installment 3 was due 2024-11-01
    assert changes["contracts.signed_count"] == (4, 5, 1)
    assert changes["contracts.contract_value_fen"] == (380 * WAN, 400 * WAN, 20 * WAN)
    assert changes["books.cash_fen"][2] == 20 * WAN - 5_360_000
    assert changes["books.receivable_fen"][2] == -20 * WAN
    assert changes["books.transfer_income_fen"][2] == 0
    assert [(e["event"], e["entry_date"], e["kind"], [(p["account"].split(":")[0], p["amount_fen"])
                                                       for p in e["postings"]]) for e in report["entries"]] == [
        ("PaymentReceived", date(2024, 12, 15), "payment_received", [("cash", 20 * WAN), ("receivable", -20 * WAN)]),
        ("AwardPaid", date(2024, 9, 1), "award_paid",
         [("distribution_payable", 5_360_000), ("cash", -5_360_000)]),
    ]
    assert all(ledger.p < e["position"] <= ledger.head for e in report["entries"])
    assert report["contracts"] == [{
        "contract_id": C12,
        "before": dict.fromkeys(("signed_on", "registered_on", "contract_value_fen", "registered_value_fen",
                                 "status")),
        "after": {"signed_on": date(2024, 4, 1), "registered_on": None, "contract_value_fen": 20 * WAN,
                  "registered_value_fen": None, "status": "signed"},
    }]
    # Asked again for the same three arguments, the report is the same; nothing changed at one position.
    again = await restatement(ledger.store.pool, as_of=date(2024, 12, 31), from_known_at=ledger.p,
                              to_known_at=ledger.head, institution_id=U1)
    assert again == report
    with pytest.raises(StatisticsQueryError) as caught:
        await restatement(ledger.store.pool, as_of=date(2024, 12, 31), from_known_at=ledger.head,
                          to_known_at=ledger.p)
    assert caught.value.field == "from_known_at"


async def test_the_restatement_route_in_chinese_and_for_a_regulator(ledger: Ledger) -> None:
    opened = await connect_ledger(ledger.store.dsn, Settings())
    try:
        tokens = TokenService(opened.store.pool)
        _, regulator = await tokens.create(Role.REGULATOR, name="restatement regulator")
        async with serve(opened) as client:
            auth = {"Authorization": f"Bearer {regulator}"}
            url = f"/v1/statistics/restatement?as_of=2024-12-31&from_known_at={ledger.p}&institution_id={U1}"
            response = await client.get(url, headers=auth)
            body = await response.json()
            assert response.status == 200, body
            assert body["to_known_at"] == ledger.head
            figure = next(f for f in body["figures"] if f["figure"] == "contracts.contract_value_fen")
            assert (figure["label"], figure["change"]) == ("本年技术合同成交额（1月1日至 as_of）", 20 * WAN)
            assert body["definition"]["title"].startswith("重述报告")
            assert [e["description"] for e in body["entries"]] == [None, None]  # quotes ids and names
            accounts = [p["account"] for e in body["entries"] for p in e["postings"]]
            assert not any("王五" in a for a in accounts), accounts
            english = await (await client.get(url + "&lang=en", headers=auth)).json()
            assert english["definition"]["title"].startswith("Restatement")
            for bad, field in ((f"from_known_at={ledger.head + 1}", "from_known_at"),
                               (f"from_known_at={ledger.p}&to_known_at={ledger.head + 5}", "to_known_at"),
                               (f"from_known_at={ledger.head}&to_known_at={ledger.p}", "from_known_at"),
                               ("from_known_at=0", "from_known_at")):
                refused = await problem(await client.get(
                    f"/v1/statistics/restatement?as_of=2024-12-31&{bad}", headers=auth), 422)
                assert [e["field"] for e in refused["errors"]] == [field], bad
    finally:
        await opened.close()


async def test_the_register_as_known_at_p_lacks_a9(ledger: Ledger) -> None:
    """A9 was registered (dated 2022-01-01) after P: U1's register has it now, not as known at P."""
    from projections.register import achievement_register

    now = await achievement_register(ledger.store.pool, institution_id=U1)
    then = await achievement_register(ledger.store.pool, institution_id=U1, known_at=ledger.p)
    assert str(A9) in [r["achievement_id"] for r in now["rows"]]
    assert [r for r in now["rows"] if r["achievement_id"] != str(A9)] == then["rows"]
    assert now["totals"]["achievements"] == then["totals"]["achievements"] + 1
    assert (then["known_at"], then["definition"]["known_at"], now["known_at"]) == (ledger.p, ledger.p, ledger.head)
