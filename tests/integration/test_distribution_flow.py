"""Income distribution through commands on the real store, with hand-computed figures.

Beijing (北京市促进科技成果转化条例 第12条): inventors get at least 70% of net
income. A public university receives 1,000,000.00 with 80,000.00 of
deductions: net 920,000.00, inventors at least 644,000.00.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from domain.equity import EquityHolding
from domain.errors import DomainError
from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import achievement as ach
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.commands import institution as inst
from ledger.postings import account_balances, trial_balance
from ledger.settings import Settings

D = date.fromisoformat
YUAN = 100


@pytest.fixture
async def ledger(fresh_dsn: str):
    opened = await connect_ledger(fresh_dsn, Settings(snapshot_interval=0))
    yield opened
    await opened.close()


async def setup_deal(ledger: Ledger) -> dict[str, UUID]:
    bus = ledger.bus
    uni = UUID((await bus.handle(inst.RegisterInstitution(
        name="北京某大学", kind="university", region="110000", registered_on=D("2015-01-01"),
        public=True, rule_pack="beijing"))).result["id"])
    firm = UUID((await bus.handle(inst.RegisterInstitution(
        name="某科技公司", kind="enterprise", size="small", region="110000",
        registered_on=D("2018-01-01")))).result["id"])
    achievement = UUID((await bus.handle(ach.RegisterAchievement(
        title="高通量测序芯片", ip_type="invention_patent", technology_field="biomedicine",
        owners=[ach.OwnerIn(institution_id=uni, share="100")],
        inventors=[ach.InventorIn(name="张三", share="60"), ach.InventorIn(name="李四", share="40")],
        registered_on=D("2022-01-01"), official_number="ZL202210000002.1", granted_on=D("2021-12-01"),
    ))).result["id"])
    contract = UUID((await bus.handle(con.DraftContract.model_validate({"terms": {
        "kind": "assignment", "title": "专利权转让", "seller_ids": [uni], "buyer_id": firm,
        "achievement_ids": [achievement], "contract_value_fen": 1_000_000 * YUAN,
        "transaction_value_fen": 1_000_000 * YUAN,
        "payment_terms": {"fixed_price_fen": 1_000_000 * YUAN,
                          "installments": [{"amount_fen": 1_000_000 * YUAN, "due_on": "2024-04-01"}]},
    }, "drafted_on": "2024-03-01"}))).result["id"])
    await bus.handle(con.SignContract(contract_id=contract, on=D("2024-03-05")))
    await bus.handle(con.TakeEffect(contract_id=contract, on=D("2024-03-10")))
    return {"uni": uni, "firm": firm, "achievement": achievement, "contract": contract}


async def test_beijing_floor_rejects_a_60_percent_policy(ledger: Ledger) -> None:
    p = await setup_deal(ledger)
    head = await ledger.store.head()
    with pytest.raises(DomainError) as info:
        await ledger.bus.handle(dist.AdoptDistributionPolicy(
            institution_id=p["uni"], version_label="2020", effective_from=D("2020-01-01"),
            cash_split={"inventor_team": 60, "department": 20, "institution": 20},
            equity_split={"inventor_team": 70, "institution": 30}))
    assert (info.value.rule.name, info.value.field) == (
        "distribution_floor_public_institution", "cash_split.inventor_team")
    assert "北京市促进科技成果转化条例" in info.value.detail
    assert await ledger.store.head() == head


async def test_receipt_allocated_adjusted_and_paid_to_the_fen(ledger: Ledger) -> None:
    p = await setup_deal(ledger)
    bus = ledger.bus
    await bus.handle(dist.AdoptDistributionPolicy(
        institution_id=p["uni"], version_label="2020", effective_from=D("2020-01-01"),
        cash_split={"inventor_team": 70, "department": 15, "institution": 15},
        equity_split={"inventor_team": 70, "institution": 30}))
    for subject, ref, category, amount in [
        (p["contract"], "TAX-1", "tax", 50_000), (p["achievement"], "FEE-1", "maintenance", 10_000),
        (p["contract"], "VAL-1", "valuation", 20_000),
    ]:
        # The patent fee is the university's, though the patent is now the buyer's.
        await bus.handle(dist.RecordDeduction(subject_id=subject, reference=ref, category=category,
                                              amount_fen=amount * YUAN, incurred_on=D("2024-03-20"),
                                              description=f"{category} cost", institution_id=p["uni"]))
    await bus.handle(con.RecordPayment(contract_id=p["contract"], payment_id="BANK-7",
                                       amount_fen=1_000_000 * YUAN, received_on=D("2024-04-02")))
    allocated = await bus.handle(dist.AllocateReceipt(contract_id=p["contract"], receipt_id="BANK-7"))
    assert allocated.result["net_fen"] == 920_000 * YUAN
    assert allocated.result["lines"] == {
        "inventor:张三": 386_400 * YUAN, "inventor:李四": 257_600 * YUAN,
        "department": 138_000 * YUAN, "institution": 138_000 * YUAN,
    }
    assert 386_400 + 257_600 >= 644_000
    with pytest.raises(DomainError) as twice:
        await bus.handle(dist.AllocateReceipt(contract_id=p["contract"], receipt_id="BANK-7"))
    assert twice.value.rule.name == "receipt_distributed_once"

    # A late negotiation cost adjusts the allocation with new entries: net 900,000.00.
    late = await bus.handle(dist.RecordDeduction(
        subject_id=p["contract"], reference="NEGO-1", category="negotiation", amount_fen=20_000 * YUAN,
        incurred_on=D("2024-05-01"), description="技术经纪服务费"))
    distribution_id = UUID(late.result["adjusted_distribution_id"])
    assert distribution_id == UUID(allocated.result["id"])

    await bus.handle(dist.PayAward(distribution_id=distribution_id, key="inventor:张三",
                                   amount_fen=300_000 * YUAN, paid_on=D("2024-06-01"), payment_id="AW-1"))
    with pytest.raises(DomainError) as over:
        await bus.handle(dist.PayAward(distribution_id=distribution_id, key="inventor:张三",
                                       amount_fen=78_000 * YUAN + 1, paid_on=D("2024-06-02"), payment_id="AW-2"))
    assert over.value.rule.name == "award_payment_within_unpaid"
    last = await bus.handle(dist.PayAward(distribution_id=distribution_id, key="inventor:张三",
                                          amount_fen=78_000 * YUAN, paid_on=D("2024-06-02"), payment_id="AW-3"))
    assert last.result["unpaid_fen"] == 0

    balances = {k: v for k, v in (await account_balances(ledger.store.pool, p["uni"])).items() if v}
    cid = p["contract"]
    assert balances == {
        "cash": (1_000_000 - 378_000) * YUAN,
        "costs_payable": -(10_000 + 20_000 + 20_000) * YUAN,  # maintenance, valuation, negotiation
        "taxes_payable": -50_000 * YUAN,
        f"distribution:{cid}": (630_000 + 135_000) * YUAN,  # team 70% + department 15% of 900,000
        "distribution_payable:department": -135_000 * YUAN,
        "distribution_payable:inventor:李四": -252_000 * YUAN,  # 40% of 630,000, unpaid
        f"transfer_income:{cid}": -1_000_000 * YUAN,
        "transaction_costs:negotiation": 20_000 * YUAN,
        "transaction_costs:maintenance": 10_000 * YUAN,
        "transaction_costs:tax": 50_000 * YUAN,
        "transaction_costs:valuation": 20_000 * YUAN,
    }
    assert set((await trial_balance(ledger.store.pool)).values()) == {0}


async def adopt_70(ledger: Ledger, uni: UUID) -> None:
    await ledger.bus.handle(dist.AdoptDistributionPolicy(
        institution_id=uni, version_label="2020", effective_from=D("2020-01-01"),
        cash_split={"inventor_team": 70, "department": 15, "institution": 15},
        equity_split={"inventor_team": 80, "institution": 20}))


async def test_self_implementation_award_is_5_percent_of_profit_split_by_shares(ledger: Ledger) -> None:
    from ledger.commands import equity as eq

    p = await setup_deal(ledger)
    await adopt_70(ledger, p["uni"])
    bus = ledger.bus
    other = UUID((await bus.handle(ach.RegisterAchievement(
        title="自用工艺", ip_type="technical_secret", technology_field="advanced_manufacturing",
        owners=[ach.OwnerIn(institution_id=p["uni"], share="100")],
        inventors=[ach.InventorIn(name="王五", share="75"), ach.InventorIn(name="赵六", share="25")],
        registered_on=D("2022-01-01")))).result["id"])
    sid = UUID((await bus.handle(eq.StartSelfImplementation(
        achievement_id=other, institution_id=p["uni"], started_on=D("2023-01-01")))).result["id"])
    await bus.handle(eq.ReportProfit(self_implementation_id=sid, year=2023, profit_fen=-50_000 * YUAN,
                                     reported_on=D("2024-01-15")))
    await bus.handle(eq.ReportProfit(self_implementation_id=sid, year=2024, profit_fen=2_000_000 * YUAN + 1,
                                     reported_on=D("2025-01-15")))
    out = await bus.handle(dist.AllocateSelfImplementationAward(
        self_implementation_id=sid, year=2024, allocated_on=D("2025-02-01")))
    # Beijing Art. 12: at least 5% a year from the first profitable year; rounded up to the fen.
    assert out.result["award_fen"] == 100_000 * YUAN + 1
    assert out.result["lines"] == {"王五": 75_000 * YUAN + 1, "赵六": 25_000 * YUAN}
    with pytest.raises(DomainError) as again:
        await bus.handle(dist.AllocateSelfImplementationAward(
            self_implementation_id=sid, year=2024, allocated_on=D("2025-02-02")))
    assert (again.value.rule.name, again.value.field) == ("self_implementation_award_once_per_year", "year")
    balances = await account_balances(ledger.store.pool, p["uni"])
    assert balances["distribution_payable:inventor:王五"] == -(75_000 * YUAN + 1)


async def test_equity_shares_awarded_by_policy_meet_the_floor(ledger: Ledger) -> None:
    from ledger.commands import equity as eq

    bus = ledger.bus
    p = await setup_deal(ledger)
    await adopt_70(ledger, p["uni"])
    # The patent of setup_deal was assigned away; contribute a fresh achievement of the university's.
    fresh = UUID((await bus.handle(ach.RegisterAchievement(
        title="涂层", ip_type="technical_secret", technology_field="new_materials",
        owners=[ach.OwnerIn(institution_id=p["uni"], share="100")],
        inventors=[ach.InventorIn(name="甲", share="33.33"), ach.InventorIn(name="乙", share="33.33"),
                   ach.InventorIn(name="丙", share="33.34")],
        registered_on=D("2023-01-01")))).result["id"])
    cid = UUID((await bus.handle(con.DraftContract.model_validate({"terms": {
        "kind": "equity_contribution", "title": "作价入股", "seller_ids": [p["uni"]], "buyer_id": p["firm"],
        "achievement_ids": [fresh], "contract_value_fen": 500_000 * YUAN,
        "transaction_value_fen": 500_000 * YUAN}, "drafted_on": "2024-01-01"}))).result["id"])
    await bus.handle(con.SignContract(contract_id=cid, on=D("2024-01-05")))
    await bus.handle(con.TakeEffect(contract_id=cid, on=D("2024-01-10")))
    hid = UUID((await bus.handle(eq.RecordEquityContribution.model_validate({
        "contract_id": cid, "institution_id": p["uni"],
        "company": {"name": "新公司", "unified_social_credit_code": "91320594MA1NPQ8K3T"},
        "valuation": {"amount_fen": 500_000 * YUAN, "method": "income", "assessor": "评估所",
                      "valued_on": "2024-01-02"},
        "registered_capital_fen": 500_000 * YUAN, "shares_received": 1_000_000, "total_shares": 5_000_000,
        "contributed_on": "2024-01-15"}))).result["id"])
    out = await bus.handle(dist.AwardSharesByPolicy(holding_id=hid, awarded_on=D("2024-02-01")))
    assert out.result["awarded"] == {"甲": 266_640, "乙": 266_640, "丙": 266_720}
    assert (out.result["team_percent"], out.result["floor_percent"]) == ("80", "70")
    holding = await ledger.repository.get(EquityHolding, hid)
    assert holding.shares_held == 200_000
