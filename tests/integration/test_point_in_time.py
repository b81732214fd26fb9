"""Point-in-time truth for receivables: the state on a business date, as known at a log position.

The issue's own case, worked by hand (WAN = 1万元 = 1,000,000 fen): a use-first-pay-later
licence signed and in force on 2025-03-01 converts on 2026-03-01 into three installments of
8, 6 and 6 WAN due 30, 60 and 90 days later (2026-03-31, 2026-04-30, 2026-05-30).

- As of 2025-12-31 nothing is owed: the installments arose at the conversion.
- BANK-1 pays installment 1 (8 WAN) on 2026-04-15. As of 2026-04-10 all 20 WAN are outstanding,
  8 of them 10 days overdue; as of 2026-04-20, 12 WAN, none overdue.
- BANK-2 (6 WAN, dated 2026-04-05, recorded afterwards) settles installment 2: as of
  2026-04-10 the figure becomes 14 WAN, but known at the position before BANK-2 it stays 20 WAN.
- Installment 3 is deferred on 2026-05-10 to 2026-08-31: as of 2026-06-15 it is 6 WAN not due;
  known at the position before the deferral, it is 6 WAN 16 days overdue.
- At every month end the statistic equals the receivable balance of the books.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from api.routes.contracts import contract_view
from domain.contract import TechnologyContract
from domain.contract_state import ContractStatus
from domain.enums import ContractKind, LicenceType
from domain.ufpl import UfplStage
from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import contract as con
from ledger.postings import account_balances
from ledger.receivables_check import reconcile_receivables
from ledger.settings import Settings
from projections.queries import receivables, ufpl_funnel
from tests.integration.test_command_flow import ids
from tests.integration.test_termination_settlement import project

D = date.fromisoformat
WAN = 10_000 * 100


@pytest.fixture
async def ledger(fresh_dsn: str):
    opened = await connect_ledger(fresh_dsn, Settings(snapshot_interval=5))
    yield opened
    await opened.close()


def ufpl_terms(p: dict[str, UUID]) -> dict[str, object]:
    return {
        "kind": ContractKind.ufpl_licence, "title": "正极材料专利先使用后付费许可", "seller_ids": [p["university"]],
        "buyer_id": p["firm"], "achievement_ids": [p["achievement"]],
        "contract_value_fen": 20 * WAN, "transaction_value_fen": 20 * WAN,
        "licence": {"licence_type": LicenceType.non_exclusive, "territory": "CN"},
        "payment_terms": {"fixed_price_fen": 20 * WAN, "installments": [
            {"amount_fen": 8 * WAN, "days_after_start": 30},
            {"amount_fen": 6 * WAN, "days_after_start": 60},
            {"amount_fen": 6 * WAN, "days_after_start": 90},
        ]},
        "ufpl": {"trial_scope": "中试线试用", "trial_end_on": "2026-02-28",
                 "triggers": [{"kind": "date", "on": "2026-03-01"}]},
    }


async def converted(ledger: Ledger) -> tuple[dict[str, UUID], UUID]:
    p = await ids(ledger)
    bus = ledger.bus
    cid = UUID((await bus.handle(con.DraftContract.model_validate(
        {"terms": ufpl_terms(p), "drafted_on": "2025-02-20"}))).result["id"])
    await bus.handle(con.SignContract(contract_id=cid, on=D("2025-03-01")))
    await bus.handle(con.TakeEffect(contract_id=cid, on=D("2025-03-01")))
    await bus.handle(con.ConvertToPaid(contract_id=cid, on=D("2026-03-01")))
    return p, cid


async def owed(ledger: Ledger, cid: UUID, as_of: str, known_at: int | None = None) -> dict[str, Any]:
    result = await receivables(ledger.store.pool, as_of=D(as_of), group_by=[], contract_id=cid,
                               known_at=known_at)
    t = result["totals"]
    return {"outstanding": t["outstanding_fen"], "overdue": t["overdue_fen"], "not_due": t["not_due_fen"],
            "0-30": t["ageing_fen"]["0-30"], "known_at": result["known_at"]}


async def test_receivables_are_the_state_on_the_date_as_known_at_a_position(ledger: Ledger) -> None:
    p, cid = await converted(ledger)
    bus = ledger.bus
    await bus.handle(con.RecordPayment(contract_id=cid, payment_id="BANK-1", amount_fen=8 * WAN,
                                       received_on=D("2026-04-15")))
    before_bank2 = await project(ledger)

    # Nothing was owed at the year end before the conversion (today's code said 20 WAN).
    assert (await owed(ledger, cid, "2025-12-31"))["outstanding"] == 0
    assert (await owed(ledger, cid, "2026-02-28"))["outstanding"] == 0
    # A later payment does not settle the installment on an earlier date (today's code: 12 WAN).
    assert await owed(ledger, cid, "2026-04-10") == {
        "outstanding": 20 * WAN, "overdue": 8 * WAN, "not_due": 12 * WAN, "0-30": 8 * WAN,
        "known_at": before_bank2}
    assert await owed(ledger, cid, "2026-04-20") == {
        "outstanding": 12 * WAN, "overdue": 0, "not_due": 12 * WAN, "0-30": 0, "known_at": before_bank2}

    # The funnel on the year end: signed and in its trial, not yet converted.
    funnel = (await ufpl_funnel(ledger.store.pool, as_of=D("2025-12-31")))["totals"]
    assert (funnel["signed"], funnel["trials_started"], funnel["converted"]) == (1, 1, 0)
    funnel = (await ufpl_funnel(ledger.store.pool, as_of=D("2026-03-01")))["totals"]
    assert (funnel["signed"], funnel["trials_started"], funnel["converted"]) == (1, 1, 1)

    # The contract view says the same on those dates (today's code: installment 1 settled on 04-10).
    contract = await ledger.repository.get(TechnologyContract, cid)
    view = contract_view(contract, D("2026-04-10"))
    assert [(i.item_id, i.outstanding_fen, i.overdue) for i in view.due_items] == [
        ("installment-1", 8 * WAN, True), ("installment-2", 6 * WAN, False), ("installment-3", 6 * WAN, False)]
    assert (view.status, view.ufpl_stage, view.outstanding_fen, view.overdue_fen, view.receipts) == (
        ContractStatus.in_force, UfplStage.paid, 20 * WAN, 8 * WAN, [])
    year_end = contract_view(contract, D("2025-12-31"))
    assert (year_end.due_items, year_end.outstanding_fen, year_end.ufpl_stage) == ([], 0, UfplStage.trial)
    assert contract_view(contract, D("2025-02-25")).status == ContractStatus.drafted
    paid = contract_view(contract, D("2026-04-20"))
    assert [(r.receipt_id, r.amount_fen) for r in paid.receipts] == [("BANK-1", 8 * WAN)]
    assert [i.item_id for i in paid.open_items] == ["installment-2", "installment-3"]

    # A payment dated 2026-04-05 but recorded now restates 2026-04-10, except as known before it.
    await bus.handle(con.RecordPayment(contract_id=cid, payment_id="BANK-2", amount_fen=6 * WAN,
                                       received_on=D("2026-04-05")))
    before_deferral = await project(ledger)
    assert (await owed(ledger, cid, "2026-04-10"))["outstanding"] == 14 * WAN
    assert await owed(ledger, cid, "2026-04-10", known_at=before_bank2) == {
        "outstanding": 20 * WAN, "overdue": 8 * WAN, "not_due": 12 * WAN, "0-30": 8 * WAN,
        "known_at": before_bank2}
    # The books say the same, on the same pair.
    university = p["university"]
    then = await account_balances(ledger.store.pool, university, as_of=D("2026-04-10"), known_at=before_bank2)
    now = await account_balances(ledger.store.pool, university, as_of=D("2026-04-10"))
    assert (then[f"receivable:{cid}"], now[f"receivable:{cid}"]) == (20 * WAN, 14 * WAN)
    assert (then.get("cash", 0), now["cash"]) == (0, 6 * WAN)
    # Before the conversion was recorded, nothing was known to be owed on any date.
    conversion = await ledger.store.pool.fetchval(
        "SELECT min(position) FROM events WHERE stream_id = $1 AND topic LIKE '%ConvertedToPaid'", cid)
    assert (await owed(ledger, cid, "2026-06-30", known_at=conversion - 1))["outstanding"] == 0
    assert (await owed(ledger, cid, "2026-06-30", known_at=conversion))["outstanding"] == 20 * WAN

    # A deferral counts from the day it was decided, and from the position that recorded it.
    await bus.handle(con.DeferDueItems(contract_id=cid, new_due_dates={"installment-3": D("2026-08-31")},
                                       approver="技术转移中心 王主任", reason="买方申请延期",
                                       decided_on=D("2026-05-10")))
    await project(ledger)
    assert await owed(ledger, cid, "2026-06-15", known_at=before_deferral) == {
        "outstanding": 6 * WAN, "overdue": 6 * WAN, "not_due": 0, "0-30": 6 * WAN,
        "known_at": before_deferral}
    after = await owed(ledger, cid, "2026-06-15")
    assert (after["outstanding"], after["overdue"], after["not_due"]) == (6 * WAN, 0, 6 * WAN)
    assert (await owed(ledger, cid, "2026-05-05"))["not_due"] == 12 * WAN - 6 * WAN  # inst. 3 only

    report = await reconcile_receivables(ledger.store.pool)
    assert report.ok, report.differences
    assert (report.month_ends, report.checked) == (2, 2)  # 2026-03-31 and 2026-04-30: the books' range


async def test_a_royalty_is_receivable_from_its_report_in_the_statistic_and_the_books(ledger: Ledger) -> None:
    """Royalty 5% of sales, paid 30 days after the period: 2025-Q4 sales of 40 WAN are reported on
    2026-01-15 (2 WAN, due 2026-01-30). Owed from 2026-01-15, not from the due date and not
    before the report; the journal debits the receivable the same day."""
    p = await ids(ledger)
    bus = ledger.bus
    terms = {
        "kind": ContractKind.licence, "title": "正极材料专利普通许可（提成）", "seller_ids": [p["university"]],
        "buyer_id": p["firm"], "achievement_ids": [p["achievement"]],
        "contract_value_fen": 10 * WAN, "transaction_value_fen": 10 * WAN,
        "licence": {"licence_type": LicenceType.non_exclusive, "territory": "CN"},
        "payment_terms": {"royalty": {"base": "sales", "tiering": "fixed", "tiers": [{"threshold": 0, "rate": "0.05"}],
                                      "days_to_pay": 30}},
    }
    cid = UUID((await bus.handle(con.DraftContract.model_validate(
        {"terms": terms, "drafted_on": "2025-09-20"}))).result["id"])
    await bus.handle(con.SignContract(contract_id=cid, on=D("2025-10-01")))
    await bus.handle(con.TakeEffect(contract_id=cid, on=D("2025-10-01")))
    await bus.handle(con.ReportRoyalty(contract_id=cid, period_start=D("2025-10-01"), period_end=D("2025-12-31"),
                                       base_fen=40 * WAN, reported_on=D("2026-01-15")))
    await project(ledger)
    assert (await owed(ledger, cid, "2026-01-14"))["outstanding"] == 0
    at_report = await owed(ledger, cid, "2026-01-15")
    assert (at_report["outstanding"], at_report["not_due"]) == (2 * WAN, 2 * WAN)
    assert (await owed(ledger, cid, "2026-02-01"))["overdue"] == 2 * WAN
    entry_date = await ledger.store.pool.fetchval(
        "SELECT e.entry_date FROM journal_entries e JOIN postings p USING (position, seq) "
        "WHERE p.account = $1 AND e.kind = 'fallen_due'", f"receivable:{cid}")
    assert entry_date == D("2026-01-15")
    report = await reconcile_receivables(ledger.store.pool)
    assert (report.ok, report.month_ends) == (True, 1)


async def test_verify_reconciles_receivables_at_every_month_end(ledger: Ledger, fresh_dsn: str) -> None:
    """``ttledger verify`` says the statistic equals the books at each month end; a journal entry
    moved to another month (BANK-1 from 2026-04-15 to 2026-05-02) shows as a failure at 04-30,
    with both figures."""
    _, cid = await converted(ledger)
    await ledger.bus.handle(con.RecordPayment(contract_id=cid, payment_id="BANK-1", amount_fen=8 * WAN,
                                              received_on=D("2026-04-15")))
    env = {**os.environ, "DATABASE_URL": fresh_dsn, "TTLEDGER_LOG_FORMAT": "json"}
    result = subprocess.run([sys.executable, "-m", "ledger.cli", "verify"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert ("ttledger verify: receivables OK, the statistic equals the books' receivable balance at 2 month "
            "ends (2 institution-months)") in result.stdout.splitlines()

    await ledger.store.pool.execute(
        "UPDATE journal_entries SET entry_date = '2026-05-02' WHERE kind = 'payment_received'")
    result = subprocess.run([sys.executable, "-m", "ledger.cli", "verify"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    at = lines.index("ttledger verify: receivables FAILED at 1 institution-month(s):")
    p = await ledger.store.pool.fetchval("SELECT institution_id FROM journal_entries LIMIT 1")
    assert lines[at + 1] == (f"  - 2026-04-30 institution {p} CNY: statistic 120000.00 yuan, "
                             "books 200000.00 yuan")
