"""An applied credit is income the inventors share (issue 12), on the real store.

Figures worked by hand, in fen (WAN = 1万元 = 1,000,000 fen). A Beijing public
university licenses a patent (inventors 张三 60%, 李四 40%) for 300,000.00 yuan in
three installments of 100,000.00, due 2024-03-01, 2024-06-01, 2024-09-01; in
force 2024-02-01. Its policy: team 70%, department 15%, institution 15%
(北京市促进科技成果转化条例 第12条: team at least 70%). No deductions.

1. BANK-1 pays 150,000.00 on 2024-03-01 for installment 1, the excess held as
   credit: receipt BANK-1 is 100,000.00; credit BANK-1 holds 50,000.00.
   Postings: Dr cash 150,000.00 / Cr receivable 100,000.00, Cr customer_credit 50,000.00.
2. BANK-1 is allocated: 张三 42,000.00, 李四 28,000.00, department 15,000.00,
   institution 15,000.00.
3. The credit is applied on 2024-06-01 to installment 2: receipt ``credit-1``,
   50,000.00, dated 2024-06-01 (award deadline 2027-06-01). Postings:
   Dr customer_credit / Cr receivable 50,000.00.
4. credit-1 is allocated once: 张三 21,000.00, 李四 14,000.00, department 7,500.00,
   institution 7,500.00. A second allocation is refused (receipt_distributed_once).
5. Gross allocated 100,000.00 + 50,000.00 = 150,000.00 = cash 150,000.00 − credit
   held 0 − refunded 0. Inventors: 张三 63,000.00, 李四 42,000.00.

Before the fix the credit had no receipt: AllocateReceipt("credit-1") was refused
and the audit showed 100,000.00 of the 150,000.00 received.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from api.routes.contracts import contract_view
from domain.contract import TechnologyContract
from domain.enums import ContractKind, LicenceType
from domain.errors import DomainError
from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.conservation import check_conservation
from ledger.postings import account_balances, trial_balance
from ledger.postings_check import check_books
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from ledger.snapshots import SHAPE_KEY, ShapedSnapshot
from projections.queries import distribution_audit
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.test_command_flow import ids

D = date.fromisoformat
WAN = 10_000 * 100  # 1万元 in fen
INSTALMENT = 10 * WAN  # 100,000.00 yuan
CREDIT = 5 * WAN  # 50,000.00 yuan
YUAN = 100


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


async def project(ledger: Ledger) -> None:
    runner = ProjectionRunner(ledger.store, default_mapper(), all_projections())
    await runner.setup()
    await runner.catch_up()
    assert runner.failures() == {}


async def test_applied_credit_is_allocated_once_and_counted_in_gross_income(ledger: Ledger) -> None:
    p = await ids(ledger)
    bus = ledger.bus
    uni = p["university"]
    await bus.handle(dist.AdoptDistributionPolicy(
        institution_id=uni, version_label="2020", effective_from=D("2020-01-01"),
        cash_split={"inventor_team": 70, "department": 15, "institution": 15},
        equity_split={"inventor_team": 70, "institution": 30}))
    cid = UUID((await bus.handle(con.DraftContract.model_validate(
        {"terms": terms(p), "drafted_on": "2024-01-10"}))).result["id"])
    await bus.handle(con.SignContract(contract_id=cid, on=D("2024-01-20")))
    await bus.handle(con.TakeEffect(contract_id=cid, on=D("2024-02-01")))

    # 1-2. 150,000.00 on the 100,000.00 installment: 100,000.00 is income now, 50,000.00 held.
    await bus.handle(con.RecordPayment(contract_id=cid, payment_id="BANK-1", amount_fen=INSTALMENT + CREDIT,
                                       received_on=D("2024-03-01"), due_item_id="installment-1",
                                       overpayment="credit"))
    first = await bus.handle(dist.AllocateReceipt(contract_id=cid, receipt_id="BANK-1"))
    assert first.result["net_fen"] == 100_000 * YUAN
    assert first.result["lines"] == {"inventor:张三": 42_000 * YUAN, "inventor:李四": 28_000 * YUAN,
                                     "department": 15_000 * YUAN, "institution": 15_000 * YUAN}

    # 3. The credit applied to installment 2 becomes receipt credit-1, dated the application.
    applied = await bus.handle(con.ApplyCredit(contract_id=cid, credit_id="BANK-1", on=D("2024-06-01"),
                                               due_item_id="installment-2"))
    assert applied.result["receipt_id"] == "credit-1"
    assert applied.result["outstanding_fen"] == INSTALMENT + CREDIT  # half of installment 2, all of 3
    contract = await ledger.repository.get(TechnologyContract, cid)
    assert contract.receipts == {"BANK-1": (INSTALMENT, D("2024-03-01")), "credit-1": (CREDIT, D("2024-06-01"))}
    view = contract_view(contract, D("2024-06-02"))
    assert [(r.receipt_id, r.amount_fen, r.received_on, r.credit_id) for r in view.receipts] == [
        ("BANK-1", INSTALMENT, D("2024-03-01"), None), ("credit-1", CREDIT, D("2024-06-01"), "BANK-1")]
    assert view.credits == []

    # 4. Allocated exactly once.
    second = await bus.handle(dist.AllocateReceipt(contract_id=cid, receipt_id="credit-1"))
    assert second.result["net_fen"] == 50_000 * YUAN
    assert second.result["lines"] == {"inventor:张三": 21_000 * YUAN, "inventor:李四": 14_000 * YUAN,
                                      "department": 7_500 * YUAN, "institution": 7_500 * YUAN}
    head = await ledger.store.head()
    with pytest.raises(DomainError) as twice:
        await bus.handle(dist.AllocateReceipt(contract_id=cid, receipt_id="credit-1"))
    assert (twice.value.rule.name, twice.value.field) == ("receipt_distributed_once", "receipt_id")
    assert await ledger.store.head() == head

    # Postings: the credit's application and both allocations, balanced.
    balances = {k: v for k, v in (await account_balances(ledger.store.pool, uni)).items() if v}
    assert balances == {
        "cash": 150_000 * YUAN,
        f"receivable:{cid}": 150_000 * YUAN,  # 300,000 − 100,000 paid − 50,000 from the credit
        f"transfer_income:{cid}": -300_000 * YUAN,
        f"distribution:{cid}": (85_000 + 42_500) * YUAN,  # team and department of both receipts
        "distribution_payable:inventor:张三": -63_000 * YUAN,
        "distribution_payable:inventor:李四": -42_000 * YUAN,
        "distribution_payable:department": -22_500 * YUAN,
    }
    assert set((await trial_balance(ledger.store.pool)).values()) == {0}
    entry = await ledger.store.pool.fetch(
        "SELECT j.entry_date, j.description, p.account, p.amount_fen FROM journal_entries j JOIN postings p "
        "USING (position, seq) WHERE j.kind = 'credit_applied' ORDER BY p.line")
    assert [tuple(r) for r in entry] == [
        (D("2024-06-01"), "credit BANK-1 applied, income receipt credit-1", f"customer_credit:{cid}", CREDIT),
        (D("2024-06-01"), "credit BANK-1 applied, income receipt credit-1", f"receivable:{cid}", -CREDIT)]
    async with ledger.store.pool.acquire() as conn:
        assert (await check_books(conn, default_mapper())).ok
        money = await check_conservation(conn, ledger.repository)
    # Cash in 150,000.00 = receipts BANK-1 100,000.00 + credit-1 50,000.00, both allocated, none held.
    assert money.breaches == [] and money.unallocated == []
    assert (money.cash_in_fen, money.recognised_fen, money.allocated_fen) == (150_000_00, 150_000_00, 150_000_00)

    # 5. The distribution audit: gross 150,000.00, the cash the contract brought in.
    await project(ledger)
    audit = await distribution_audit(ledger.store.pool, as_of=D("2024-12-31"), group_by="contract",
                                     contract_id=cid)
    totals = audit["totals"]
    assert (totals["receipts"], totals["received_fen"], totals["net_fen"]) == (2, 150_000 * YUAN, 150_000 * YUAN)
    assert totals["team_allocated_fen"] == 105_000 * YUAN  # 63,000 + 42,000
    rows = await ledger.store.pool.fetch(
        "SELECT receipt_id, received_on, deadline_on, gross_fen FROM dist_receipts WHERE contract_id = $1 "
        "ORDER BY received_on", cid)
    assert [tuple(r) for r in rows] == [("BANK-1", D("2024-03-01"), D("2027-03-01"), INSTALMENT),
                                        ("credit-1", D("2024-06-01"), D("2027-06-01"), CREDIT)]
    lines = await ledger.store.pool.fetch(
        "SELECT inventor, sum(allocated_fen) FROM dist_lines WHERE contract_id = $1 AND inventor IS NOT NULL "
        "GROUP BY inventor ORDER BY 2 DESC", cid)
    assert [tuple(r) for r in lines] == [("张三", 63_000 * YUAN), ("李四", 42_000 * YUAN)]


async def test_a_snapshot_taken_before_credit_receipts_is_replayed_past(ledger: Ledger) -> None:
    """A snapshot of the older shape lacks receipts derived on replay: the repository ignores it."""
    p = await ids(ledger)
    bus = ledger.bus
    cid = UUID((await bus.handle(con.DraftContract.model_validate(
        {"terms": terms(p), "drafted_on": "2024-01-10"}))).result["id"])
    await bus.handle(con.SignContract(contract_id=cid, on=D("2024-01-20")))
    await bus.handle(con.TakeEffect(contract_id=cid, on=D("2024-02-01")))
    await bus.handle(con.RecordPayment(contract_id=cid, payment_id="BANK-1", amount_fen=INSTALMENT + CREDIT,
                                       received_on=D("2024-03-01"), overpayment="credit",
                                       due_item_id="installment-1"))
    await bus.handle(con.ApplyCredit(contract_id=cid, credit_id="BANK-1", on=D("2024-06-01")))
    contract = await ledger.repository.get(TechnologyContract, cid)
    # What the code before this change would have snapshotted: no credit receipt, no shape.
    old = ShapedSnapshot.take(contract)
    del old.state[SHAPE_KEY]
    old.state["receipts"] = {"BANK-1": old.state["receipts"]["BANK-1"]}
    old.state["credit_receipts"] = {}
    stored = default_mapper().to_stored_event(old)
    # The ApplyCredit commit (version 5) took a snapshot of the new shape; put the old one in its place.
    replaced = await ledger.store.pool.execute(
        "UPDATE snapshots SET state = $3 WHERE stream_id = $1 AND version = $2",
        stored.originator_id, stored.originator_version, stored.state)
    assert replaced == "UPDATE 1"
    loaded = await ledger.repository.get(TechnologyContract, cid)
    assert loaded.receipts["credit-1"] == (CREDIT, D("2024-06-01"))
    assert loaded == contract
