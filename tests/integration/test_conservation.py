"""Conservation over every fen (issue 12, deliverable 6): ``ttledger verify`` checks it.

Figures worked by hand, in fen (WAN = 1万元). The contract of
test_termination_settlement: three installments of 10 WAN due 2024-03-01,
06-01 and 09-01, in force 2024-02-01, installment 1 paid (BANK-1, 10 WAN).
Then BANK-2 pays 25 WAN on 2024-06-01: installments 2 and 3, and 5 WAN held
as credit; 1 WAN of the credit is refunded; BANK-1 is allocated (10 WAN
gross) and 张三 is paid 1 WAN of his award; the contract is terminated on
2024-07-15 (nothing is left to cancel).

cash in 35 WAN = recognised 30 WAN (BANK-1 10 + BANK-2 20) + credit held 4 WAN
+ refunded 1 WAN; allocated 10 WAN; BANK-2 (20 WAN) not yet allocated.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from uuid import UUID

import pytest

from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.conservation import check_conservation
from ledger.settings import Settings
from tests.integration.test_command_flow import ids
from tests.integration.test_termination_settlement import INSTALMENT, first_paid

D = date.fromisoformat
WAN = 10_000 * 100


@pytest.fixture
async def ledger(fresh_dsn: str):
    opened = await connect_ledger(fresh_dsn, Settings(snapshot_interval=3))
    yield opened
    await opened.close()


async def history(ledger: Ledger) -> UUID:
    p = await ids(ledger)
    bus = ledger.bus
    await bus.handle(dist.AdoptDistributionPolicy(
        institution_id=p["university"], version_label="2020", effective_from=D("2020-01-01"),
        cash_split={"inventor_team": 70, "department": 15, "institution": 15},
        equity_split={"inventor_team": 70, "institution": 30}))
    cid = await first_paid(ledger, p)
    await bus.handle(con.RecordPayment(contract_id=cid, payment_id="BANK-2", amount_fen=25 * WAN,
                                       received_on=D("2024-06-01"), overpayment="credit"))
    await bus.handle(con.RefundCredit(contract_id=cid, credit_id="BANK-2", amount_fen=WAN, on=D("2024-06-10"),
                                      reference="REF-1"))
    allocated = await bus.handle(dist.AllocateReceipt(contract_id=cid, receipt_id="BANK-1"))
    await bus.handle(dist.PayAward(distribution_id=UUID(allocated.result["id"]), key="inventor:张三",
                                   amount_fen=WAN, paid_on=D("2024-04-01"), payment_id="AW-1"))
    await bus.handle(con.EndContract(contract_id=cid, end="terminate", on=D("2024-07-15"), reason="违约"))
    return cid


async def test_money_is_conserved_over_a_whole_history(ledger: Ledger) -> None:
    cid = await history(ledger)
    async with ledger.store.pool.acquire() as conn:
        report = await check_conservation(conn, ledger.repository)
    assert report.breaches == []
    assert (report.contracts, report.distributions) == (1, 1)
    assert (report.cash_in_fen, report.recognised_fen, report.allocated_fen) == (35 * WAN, 30 * WAN, INSTALMENT)
    assert report.unallocated == [(cid, "BANK-2", 20 * WAN)]


async def test_a_fen_that_appears_is_found_on_its_contract(ledger: Ledger) -> None:
    cid = await history(ledger)
    async with ledger.store.pool.acquire() as conn:
        # A balanced entry no event explains: one fen of cash "received" as credit on the contract.
        position = await conn.fetchval("SELECT max(position) FROM events WHERE stream_id = $1", cid)
        institution = await conn.fetchval(
            "SELECT institution_id FROM journal_entries WHERE stream_id = $1 LIMIT 1", cid)
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO journal_entries (position, seq, institution_id, currency, entry_date, kind, "
                "description, stream_id) VALUES ($1, 99, $2, 'CNY', '2024-07-15', 'forged', 'x', $3)",
                position, institution, cid)
            await conn.execute(
                "INSERT INTO postings (position, seq, line, account, amount_fen) VALUES "
                "($1, 99, 0, 'cash', 1), ($1, 99, 1, $2, -1)", position, f"customer_credit:{cid}")
        report = await check_conservation(conn, ledger.repository)
    assert [(b.invariant, b.record) for b in report.breaches] == [
        ("cash_conserved", f"contract {cid}"), ("credit_conserved", f"contract {cid}")]
    assert report.breaches[0].detail == (
        f"cash in {35 * WAN + 1} fen ≠ recognised {30 * WAN} + credit held {4 * WAN} + refunded {WAN} "
        "+ paid by the insurer beyond what was due 0")
    result = subprocess.run([sys.executable, "-m", "ledger.cli", "verify"],
                            env={**os.environ, "DATABASE_URL": ledger.store.dsn},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert f"money FAILED (2 breach(es)); the first: cash_conserved on contract {cid}" in result.stdout


async def test_an_ended_contract_owes_nothing_it_did_not_keep(ledger: Ledger) -> None:
    """The invariant sees the state, not the rule: an installment left open after the end is a breach.

    Installment 1 paid, terminated 2024-07-15: installment 2 (due 06-01) stays receivable, installment 3
    (due 09-01) is cancelled. Undo the cancellation, as the code before the fix left it, and the check
    names installment 3 only.
    """
    from domain.contract import TechnologyContract
    from ledger.conservation import ConservationReport, _check_contract

    p = await ids(ledger)
    cid = await first_paid(ledger, p)
    await ledger.bus.handle(con.EndContract(contract_id=cid, end="terminate", on=D("2024-07-15"), reason="违约"))
    contract = await ledger.repository.get(TechnologyContract, cid)
    items = contract.settlement.items
    assert (items["installment-2"].outstanding_fen, items["installment-3"].outstanding_fen) == (INSTALMENT, 0)
    report = ConservationReport()
    _check_contract(contract, (INSTALMENT, 0), {}, report)
    assert report.breaches == []
    items["installment-3"].cancelled_fen = 0
    _check_contract(contract, (INSTALMENT, 0), {}, report)
    assert [(b.invariant, b.detail) for b in report.breaches] == [(
        "ended_contract_owes_only_what_remains",
        f"installment-3 ({INSTALMENT} fen) fell due after the end on 2024-07-15 and was not kept")]
