"""Reversals of deductions and recoveries of overpaid awards, through commands on the real store.

The Beijing deal of test_distribution_flow.py: a public university receives 1,000,000.00 with
deductions of tax 50,000.00 (TAX-1), patent fees 10,000.00 (FEE-1, on the achievement) and
valuation 20,000.00 (VAL-1). Net 920,000.00 under a 70 / 15 / 15 policy, team 张三 60 / 李四 40:
张三 386,400.00, 李四 257,600.00, department 138,000.00, institution 138,000.00 (kept).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest

from domain.errors import DomainError
from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import achievement as ach
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.conservation import check_conservation
from ledger.postings import account_balances, trial_balance
from ledger.postings_check import check_books
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from projections.queries import distribution_audit
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.test_distribution_flow import adopt_70, setup_deal

D = date.fromisoformat
YUAN = 100
ZHANG, LI = "inventor:张三", "inventor:李四"


@pytest.fixture
async def ledger(fresh_dsn: str):
    opened = await connect_ledger(fresh_dsn, Settings(snapshot_interval=0))
    yield opened
    await opened.close()


async def allocated_deal(ledger: Ledger) -> dict[str, Any]:
    p: dict[str, Any] = dict(await setup_deal(ledger))
    bus = ledger.bus
    await adopt_70(ledger, p["uni"])
    for subject, ref, category, amount in [
        (p["contract"], "TAX-1", "tax", 50_000), (p["achievement"], "FEE-1", "maintenance", 10_000),
        (p["contract"], "VAL-1", "valuation", 20_000),
    ]:
        await bus.handle(dist.RecordDeduction(subject_id=subject, reference=ref, category=category,
                                              amount_fen=amount * YUAN, incurred_on=D("2024-03-20"),
                                              description=f"{category} cost", institution_id=p["uni"]))
    await bus.handle(con.RecordPayment(contract_id=p["contract"], payment_id="BANK-7",
                                       amount_fen=1_000_000 * YUAN, received_on=D("2024-04-02")))
    allocated = await bus.handle(dist.AllocateReceipt(contract_id=p["contract"], receipt_id="BANK-7"))
    p["distribution"] = UUID(allocated.result["id"])
    return p


async def second_deal(ledger: Ledger, p: dict[str, Any], inventor: str = "李四",
                      number: str = "ZL202210000003.1") -> UUID:
    """Another assignment by the same university, 100,000.00 received on 2024-08-01, no deductions:
    an achievement of one inventor alone (team 70% = 70,000.00, all the inventor's)."""
    bus = ledger.bus
    achievement = UUID((await bus.handle(ach.RegisterAchievement(
        title="低功耗传感器", ip_type="invention_patent", technology_field="biomedicine",
        owners=[ach.OwnerIn(institution_id=p["uni"], share="100")],
        inventors=[ach.InventorIn(name=inventor, share="100")],
        registered_on=D("2022-01-01"), official_number=number, granted_on=D("2021-12-01"),
    ))).result["id"])
    contract = UUID((await bus.handle(con.DraftContract.model_validate({"terms": {
        "kind": "assignment", "title": "专利权转让二", "seller_ids": [p["uni"]], "buyer_id": p["firm"],
        "achievement_ids": [achievement], "contract_value_fen": 100_000 * YUAN,
        "transaction_value_fen": 100_000 * YUAN,
        "payment_terms": {"fixed_price_fen": 100_000 * YUAN,
                          "installments": [{"amount_fen": 100_000 * YUAN, "due_on": "2024-08-01"}]},
    }, "drafted_on": "2024-07-01"}))).result["id"])
    await bus.handle(con.SignContract(contract_id=contract, on=D("2024-07-05")))
    await bus.handle(con.TakeEffect(contract_id=contract, on=D("2024-07-10")))
    await bus.handle(con.RecordPayment(contract_id=contract, payment_id="BANK-8",
                                       amount_fen=100_000 * YUAN, received_on=D("2024-08-01")))
    second = await bus.handle(dist.AllocateReceipt(contract_id=contract, receipt_id="BANK-8"))
    assert second.result["lines"][f"inventor:{inventor}"] == 70_000 * YUAN
    return UUID(second.result["id"])


async def balances(ledger: Ledger, uni: UUID) -> dict[str, int]:
    return {k: v for k, v in (await account_balances(ledger.store.pool, uni)).items() if v}


async def assert_books(ledger: Ledger) -> None:
    async with ledger.store.pool.acquire() as conn:
        books = await check_books(conn, default_mapper())
    assert books.ok, (books.missing[:5], books.unexpected[:5], books.unbalanced_positions[:5])
    assert set((await trial_balance(ledger.store.pool)).values()) == {0}
    async with ledger.store.pool.acquire() as conn:
        money = await check_conservation(conn, ledger.repository)
    assert money.breaches == []


async def test_reversing_a_used_deduction_adjusts_its_distribution_to_the_fen(ledger: Ledger) -> None:
    p = await allocated_deal(ledger)
    bus = ledger.bus
    before = await balances(ledger, p["uni"])
    reversed_ = await bus.handle(dist.ReverseDeduction(
        subject_id=p["contract"], reference="VAL-1", reversed_on=D("2024-05-10"),
        reason="评估费属于另一合同，误记"))
    assert UUID(reversed_.result["adjusted_distribution_id"]) == p["distribution"]
    assert reversed_.result["delta_fen"] == 20_000 * YUAN
    after = await balances(ledger, p["uni"])
    # Net 940,000.00: team 658,000.00 = 394,800.00 + 263,200.00; department 141,000.00.
    changed = {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
               if after.get(k, 0) != before.get(k, 0)}
    cid = p["contract"]
    assert changed == {
        "costs_payable": 20_000 * YUAN, "transaction_costs:valuation": -20_000 * YUAN,  # reversing entry
        f"distribution:{cid}": (8_400 + 5_600 + 3_000) * YUAN,  # the institution keeps its 3,000.00
        "distribution_payable:inventor:张三": -8_400 * YUAN,
        "distribution_payable:inventor:李四": -5_600 * YUAN,
        "distribution_payable:department": -3_000 * YUAN,
    }
    rows = await ledger.store.pool.fetch(
        "SELECT e.kind, e.entry_date FROM journal_entries e WHERE e.kind IN "
        "('deduction_reversed', 'award_adjusted') ORDER BY position, seq")
    assert [(r["kind"], r["entry_date"]) for r in rows] == [
        ("deduction_reversed", D("2024-05-10"))] + [("award_adjusted", D("2024-05-10"))] * 3

    with pytest.raises(DomainError) as twice:
        await bus.handle(dist.ReverseDeduction(subject_id=p["contract"], reference="VAL-1",
                                               reversed_on=D("2024-05-11"), reason="again"))
    assert twice.value.rule.name == "deduction_reversed_once"
    with pytest.raises(DomainError) as unknown:
        await bus.handle(dist.ReverseDeduction(subject_id=p["contract"], reference="VAL-9",
                                               reversed_on=D("2024-05-11"), reason="x"))
    assert unknown.value.rule.name == "deduction_reversal_names_deduction"
    # The achievement's patent fee, used by the same distribution, reverses through its own book.
    fee = await bus.handle(dist.ReverseDeduction(subject_id=p["achievement"], reference="FEE-1",
                                                 institution_id=p["uni"], reversed_on=D("2024-05-12"),
                                                 reason="年费由受让方承担"))
    assert UUID(fee.result["adjusted_distribution_id"]) == p["distribution"]
    assert fee.result["delta_fen"] == 10_000 * YUAN
    await assert_books(ledger)


async def test_an_unused_deduction_reversed_just_stops_counting(ledger: Ledger) -> None:
    p = await setup_deal(ledger)
    bus = ledger.bus
    await adopt_70(ledger, p["uni"])
    for ref, amount in (("TAX-1", 50_000), ("VAL-1", 20_000)):
        await bus.handle(dist.RecordDeduction(subject_id=p["contract"], reference=ref,
                                              category="tax" if ref == "TAX-1" else "valuation",
                                              amount_fen=amount * YUAN, incurred_on=D("2024-03-20"),
                                              description="cost"))
    reversed_ = await bus.handle(dist.ReverseDeduction(subject_id=p["contract"], reference="VAL-1",
                                                       reversed_on=D("2024-03-25"), reason="重复录入"))
    assert reversed_.result.get("adjusted_distribution_id") is None
    assert (await balances(ledger, p["uni"])).get("transaction_costs:valuation", 0) == 0
    await bus.handle(con.RecordPayment(contract_id=p["contract"], payment_id="BANK-7",
                                       amount_fen=1_000_000 * YUAN, received_on=D("2024-04-02")))
    allocated = await bus.handle(dist.AllocateReceipt(contract_id=p["contract"], receipt_id="BANK-7"))
    assert allocated.result["net_fen"] == 950_000 * YUAN  # only the tax counts
    await assert_books(ledger)


async def test_an_overpaid_award_is_recovered_repaid_and_offset(ledger: Ledger) -> None:
    p = await allocated_deal(ledger)
    bus = ledger.bus
    d1 = p["distribution"]
    await bus.handle(dist.PayAward(distribution_id=d1, key=ZHANG, amount_fen=386_400 * YUAN,
                                   paid_on=D("2024-06-01"), payment_id="AW-1"))
    await bus.handle(dist.PayAward(distribution_id=d1, key=LI, amount_fen=257_600 * YUAN,
                                   paid_on=D("2024-06-01"), payment_id="AW-2"))
    # A late negotiation cost of 20,000.00: net 900,000.00, 张三 378,000.00, 李四 252,000.00.
    await bus.handle(dist.RecordDeduction(subject_id=p["contract"], reference="NEGO-1", category="negotiation",
                                          amount_fen=20_000 * YUAN, incurred_on=D("2024-07-01"),
                                          description="技术经纪服务费"))
    b = await balances(ledger, p["uni"])
    assert b["award_recoverable:inventor:张三"] == 8_400 * YUAN
    assert b["award_recoverable:inventor:李四"] == 5_600 * YUAN
    assert "distribution_payable:inventor:张三" not in b and "distribution_payable:inventor:李四" not in b

    with pytest.raises(DomainError) as over:
        await bus.handle(dist.RecordRecovery(distribution_id=d1, key=ZHANG, amount_fen=8_400 * YUAN + 1,
                                             repaid_on=D("2024-07-10"), reference="RET-0"))
    assert over.value.rule.name == "recovery_outstanding"
    paid_back = await bus.handle(dist.RecordRecovery(distribution_id=d1, key=ZHANG, amount_fen=8_400 * YUAN,
                                                     repaid_on=D("2024-07-10"), reference="RET-1"))
    assert paid_back.result["outstanding_fen"] == 0
    assert "award_recoverable:inventor:张三" not in await balances(ledger, p["uni"])

    # A later award to 李四 of 70,000.00 (another contract), from which the 5,600.00 李四 owes
    # is withheld.
    d2 = await second_deal(ledger, p)
    offset = await bus.handle(dist.OffsetRecovery(distribution_id=d1, key=LI, against_distribution_id=d2,
                                                  amount_fen=5_600 * YUAN, offset_on=D("2024-08-05"),
                                                  offset_id="OFF-1"))
    assert offset.result["outstanding_fen"] == 0
    assert offset.result["against_unpaid_fen"] == 64_400 * YUAN
    b = await balances(ledger, p["uni"])
    assert not any(k.startswith("award_recoverable:") for k in b)
    assert b["distribution_payable:inventor:李四"] == -64_400 * YUAN
    # Cash: 1,100,000.00 in, 644,000.00 of awards out, 8,400.00 back.
    assert b["cash"] == (1_100_000 - 644_000 + 8_400) * YUAN
    await assert_books(ledger)

    runner = ProjectionRunner(ledger.store, default_mapper(), all_projections())
    await runner.setup()
    await runner.catch_up()
    assert runner.failures() == {}
    mid = await distribution_audit(ledger.store.pool, as_of=D("2024-07-05"), institution_id=p["uni"])
    assert mid["recoveries"]["outstanding_fen"] == (8_400 + 5_600) * YUAN
    assert {r["key"]: r["outstanding_fen"] for r in mid["recoveries"]["rows"]} == {
        ZHANG: 8_400 * YUAN, LI: 5_600 * YUAN}
    end = await distribution_audit(ledger.store.pool, as_of=D("2024-12-31"), institution_id=p["uni"])
    assert end["recoveries"]["raised_fen"] == 14_000 * YUAN
    assert (end["recoveries"]["repaid_fen"], end["recoveries"]["offset_fen"]) == (8_400 * YUAN, 5_600 * YUAN)
    assert end["recoveries"]["outstanding_fen"] == 0
    regulator = await distribution_audit(ledger.store.pool, as_of=D("2024-07-05"), institution_id=p["uni"],
                                         anonymise=True)
    assert regulator["recoveries"]["rows"] == [{
        "institution_id": str(p["uni"]), "beneficiary": "inventor_team", "beneficiaries": 2,
        "raised_fen": 14_000 * YUAN, "repaid_fen": 0, "offset_fen": 0, "outstanding_fen": 14_000 * YUAN}]
    lines = await ledger.store.pool.fetch(
        "SELECT key, paid_fen FROM dist_lines WHERE distribution_id = $1", d2)
    assert {r["key"]: r["paid_fen"] for r in lines}[LI] == 5_600 * YUAN  # settled by the offset


async def test_reversing_the_late_deduction_settles_its_recovery(ledger: Ledger) -> None:
    p = await allocated_deal(ledger)
    bus = ledger.bus
    d1 = p["distribution"]
    await bus.handle(dist.PayAward(distribution_id=d1, key=ZHANG, amount_fen=386_400 * YUAN,
                                   paid_on=D("2024-06-01"), payment_id="AW-1"))
    await bus.handle(dist.RecordDeduction(subject_id=p["contract"], reference="NEGO-1", category="negotiation",
                                          amount_fen=20_000 * YUAN, incurred_on=D("2024-07-01"),
                                          description="技术经纪服务费"))
    assert (await balances(ledger, p["uni"]))["award_recoverable:inventor:张三"] == 8_400 * YUAN
    await bus.handle(dist.ReverseDeduction(subject_id=p["contract"], reference="NEGO-1",
                                           reversed_on=D("2024-07-05"), reason="经纪费由买方承担"))
    b = await balances(ledger, p["uni"])
    assert "award_recoverable:inventor:张三" not in b and "distribution_payable:inventor:张三" not in b
    assert b["distribution_payable:inventor:李四"] == -257_600 * YUAN  # back to what it was
    await assert_books(ledger)
