"""Termination settlement (民法典 第566条) on the real store: events, postings, receivables.

Figures worked by hand, in fen (WAN = 1万元 = 1,000,000 fen). Each contract:
300,000.00 yuan in three installments of 100,000.00 yuan (10 WAN each), due
2024-03-01, 2024-06-01, 2024-09-01; in force 2024-02-01; installment 1 paid
2024-03-01; terminated 2024-07-15.

- Contract A ends with nothing kept: installment 3 (due after the end) is
  cancelled. Books: cash 10 WAN; receivable 30 − 10 paid − 10 cancelled = 10 WAN;
  transfer income −30 + 10 reversed = −20 WAN. Receivables as of 2024-10-01
  (after installment 3's date): one item, installment 2, 10 WAN, overdue.
- Contract B keeps liquidated damages of 20,000.00 yuan (2 WAN) due 2024-08-15:
  receivable 10 + 2 = 12 WAN; transfer income −30 + 10 − 2 = −22 WAN. A payment
  of 12 WAN + 1 fen is refused; 12 WAN settles installment 2 and the damages.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from domain.contract import TechnologyContract
from domain.contract_state import ContractStatus
from domain.enums import ContractKind, LicenceType
from domain.errors import DomainError
from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import contract as con
from ledger.postings import account_balances, trial_balance
from ledger.postings_check import check_books
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from projections.queries import receivables
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.test_command_flow import ids

D = date.fromisoformat
WAN = 10_000 * 100  # 1万元 in fen
INSTALMENT = 10 * WAN  # 100,000.00 yuan
DAMAGES = 2 * WAN  # 20,000.00 yuan


@pytest.fixture
async def ledger(fresh_dsn: str):
    opened = await connect_ledger(fresh_dsn, Settings(snapshot_interval=5))
    yield opened
    await opened.close()


def terms(p: dict[str, UUID]) -> dict[str, object]:
    return {
        "kind": ContractKind.licence, "title": "正极材料专利普通许可", "seller_ids": [p["university"]],
        "buyer_id": p["firm"], "achievement_ids": [p["achievement"]],
        "contract_value_fen": 3 * INSTALMENT, "transaction_value_fen": 3 * INSTALMENT,
        "licence": {"licence_type": LicenceType.non_exclusive, "territory": "CN"},
        "payment_terms": {"fixed_price_fen": 3 * INSTALMENT, "installments": [
            {"amount_fen": INSTALMENT, "due_on": "2024-03-01"},
            {"amount_fen": INSTALMENT, "due_on": "2024-06-01"},
            {"amount_fen": INSTALMENT, "due_on": "2024-09-01"},
        ]},
    }


async def first_paid(ledger: Ledger, p: dict[str, UUID]) -> UUID:
    bus = ledger.bus
    cid = UUID((await bus.handle(con.DraftContract.model_validate(
        {"terms": terms(p), "drafted_on": "2024-01-10"}))).result["id"])
    await bus.handle(con.SignContract(contract_id=cid, on=D("2024-01-20")))
    await bus.handle(con.TakeEffect(contract_id=cid, on=D("2024-02-01")))
    await bus.handle(con.RecordPayment(contract_id=cid, payment_id="BANK-1", amount_fen=INSTALMENT,
                                       received_on=D("2024-03-01")))
    return cid


async def refused(ledger: Ledger, cmd: con.RecordPayment) -> tuple[str, str]:
    """The rule and field the payment breaks; nothing is written."""
    head = await ledger.store.head()
    postings = await ledger.store.pool.fetchval("SELECT count(*) FROM postings")
    with pytest.raises(DomainError) as info:
        await ledger.bus.handle(cmd)
    assert await ledger.store.head() == head
    assert await ledger.store.pool.fetchval("SELECT count(*) FROM postings") == postings
    return info.value.rule.name, info.value.field


async def project(ledger: Ledger) -> int:
    """Every projection up to the log; the position reached."""
    runner = ProjectionRunner(ledger.store, default_mapper(), all_projections())
    await runner.setup()
    head = await runner.catch_up()
    assert runner.failures() == {}
    return head


async def test_termination_cancels_the_future_installment_everywhere(ledger: Ledger) -> None:
    p = await ids(ledger)
    bus = ledger.bus
    a = await first_paid(ledger, p)
    ended = await bus.handle(con.EndContract(contract_id=a, end="terminate", on=D("2024-07-15"),
                                             reason="licensee in breach"))
    assert ended.result["version"] == 6  # Drafted, Signed, TookEffect, PaymentReceived, Terminated, EndSettled

    contract = await ledger.repository.get(TechnologyContract, a)
    assert contract.status == ContractStatus.terminated
    assert contract.outstanding_fen() == INSTALMENT
    assert [i.item_id for i in contract.overdue_items(D("2024-10-01"))] == ["installment-2"]

    # postings: the cancelled installment's receivable is reversed on the end date, balanced
    balances = await account_balances(ledger.store.pool, p["university"])
    assert balances == {"cash": INSTALMENT, f"receivable:{a}": INSTALMENT,
                        f"transfer_income:{a}": -2 * INSTALMENT}
    assert set((await trial_balance(ledger.store.pool)).values()) == {0}
    cancelled = await ledger.store.pool.fetch(
        "SELECT j.entry_date, p.account, p.amount_fen FROM journal_entries j JOIN postings p "
        "USING (position, seq) WHERE j.kind = 'cancelled_on_end' ORDER BY p.line")
    assert [tuple(r) for r in cancelled] == [
        (D("2024-07-15"), f"transfer_income:{a}", INSTALMENT), (D("2024-07-15"), f"receivable:{a}", -INSTALMENT)]

    # payments: only what remains
    assert await refused(ledger, con.RecordPayment(
        contract_id=a, payment_id="BANK-3", amount_fen=INSTALMENT, received_on=D("2024-09-01"),
        due_item_id="installment-3")) == ("ended_contract_settles_only_what_remains", "due_item_id")
    assert await refused(ledger, con.RecordPayment(
        contract_id=a, payment_id="BANK-X", amount_fen=INSTALMENT + 1, received_on=D("2024-09-01"),
        overpayment="credit")) == ("ended_contract_settles_only_what_remains", "amount_fen")

    # receivables statistic after installment 3's date: installment 2 only
    await project(ledger)
    result = await receivables(ledger.store.pool, as_of=D("2024-10-01"), group_by=["contract"])
    assert [(r["contract"], r["items"], r["outstanding_fen"], r["overdue_fen"]) for r in result["rows"]] == [
        (str(a), 1, INSTALMENT, INSTALMENT)]
    assert result["totals"]["ageing_fen"]["91-180"] == INSTALMENT  # 2024-06-01 → 2024-10-01: 122 days
    row = await ledger.store.pool.fetchrow(
        "SELECT cancelled_fen, outstanding_fen, cancelled_on FROM rcv_items WHERE contract_id = $1 "
        "AND item_id = 'installment-3'", a)
    assert tuple(row) == (INSTALMENT, 0, D("2024-07-15"))

    # what remains is still paid as before
    await bus.handle(con.RecordPayment(contract_id=a, payment_id="BANK-2", amount_fen=INSTALMENT,
                                       received_on=D("2024-10-02")))
    assert (await ledger.repository.get(TechnologyContract, a)).outstanding_fen() == 0
    async with ledger.store.pool.acquire() as conn:  # replaying the log posts the same entries
        assert (await check_books(conn, default_mapper())).ok


async def test_kept_liquidated_damages_are_receivable_and_payable(ledger: Ledger) -> None:
    p = await ids(ledger)
    bus = ledger.bus
    b = await first_paid(ledger, p)
    await bus.handle(con.EndContract.model_validate({
        "contract_id": b, "end": "terminate", "on": "2024-07-15", "reason": "licensee in breach",
        "kept": [{"name": "liquidated-damages", "amount_fen": DAMAGES, "due_on": "2024-08-15"}]}))

    balances = await account_balances(ledger.store.pool, p["university"])
    assert balances[f"receivable:{b}"] == INSTALMENT + DAMAGES
    assert balances[f"transfer_income:{b}"] == -(3 * INSTALMENT - INSTALMENT + DAMAGES)

    await project(ledger)
    result = await receivables(ledger.store.pool, as_of=D("2024-10-01"), group_by=[], contract_id=b)
    assert (result["totals"]["items"], result["totals"]["outstanding_fen"], result["totals"]["overdue_fen"]) == (
        2, INSTALMENT + DAMAGES, INSTALMENT + DAMAGES)

    assert await refused(ledger, con.RecordPayment(
        contract_id=b, payment_id="BANK-X", amount_fen=INSTALMENT + DAMAGES + 1,
        received_on=D("2024-10-01"))) == ("ended_contract_settles_only_what_remains", "amount_fen")
    paid = await bus.handle(con.RecordPayment(contract_id=b, payment_id="BANK-2",
                                              amount_fen=INSTALMENT + DAMAGES, received_on=D("2024-10-01")))
    assert paid.result["outstanding_fen"] == 0
    contract = await ledger.repository.get(TechnologyContract, b)
    assert contract.receipts["BANK-2"] == (INSTALMENT + DAMAGES, D("2024-10-01"))  # allocatable income
    balances = await account_balances(ledger.store.pool, p["university"])
    assert balances.get(f"receivable:{b}", 0) == 0
    assert balances["cash"] == 2 * INSTALMENT + DAMAGES
    await project(ledger)
    result = await receivables(ledger.store.pool, as_of=D("2024-10-01"), group_by=[], contract_id=b)
    assert result["totals"]["outstanding_fen"] == 0


async def test_completion_keeps_nothing(ledger: Ledger) -> None:
    p = await ids(ledger)
    c = await first_paid(ledger, p)
    with pytest.raises(DomainError) as info:
        await ledger.bus.handle(con.EndContract.model_validate({
            "contract_id": c, "end": "complete", "on": "2024-07-15",
            "kept": [{"name": "damages", "amount_fen": DAMAGES, "due_on": "2024-08-15"}]}))
    assert (info.value.rule.name, info.value.field) == ("end_cancels_what_is_not_due", "kept")
