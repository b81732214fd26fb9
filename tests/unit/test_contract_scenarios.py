"""One long scenario per contract kind, from drafting to its end, rebuilt from its events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.contract import ContractStatus, RiskKind
from domain.contract_terms import LicenceTerms, Registration
from domain.enums import ContractKind, LicenceType, ValuationMethod
from domain.equity import Company, DecisionRecord, EquityValuation
from domain.payment_terms import (
    Installment,
    Milestone,
    PaymentTerms,
    RateTiering,
    RoyaltyBase,
    RoyaltyTerms,
    RoyaltyTier,
    equal_installments,
)
from domain.services import ContractEnd, end_contract, open_equity_holding, take_effect
from domain.settlement import Allocation, DueKind, Overpayment
from domain.ufpl import UfplStage, UfplTerms, UfplTrigger
from tests.unit.contract_support import (
    ACHIEVEMENT,
    BUYER,
    SELLER,
    WAN,
    achievement,
    assert_rebuilds,
    d,
    drafted,
    event_names,
    make_terms,
)


def test_assignment_with_installments_deferral_and_write_off() -> None:
    schedule = equal_installments(
        100 * WAN + 1, [d("2024-03-01"), d("2024-09-01"), d("2025-03-01")]
    )
    contract = drafted(
        ContractKind.assignment,
        contract_value_fen=100 * WAN + 1,
        transaction_value_fen=90 * WAN,
        agreed_price=True,
        payment_terms=PaymentTerms(100 * WAN + 1, schedule),
    )
    assert [i.amount_fen for i in schedule] == [33_333_334, 33_333_334, 33_333_333]
    contract.sign(d("2024-01-15"))
    contract.register(
        Registration(
            "陕西省技术合同登记处",
            "2024610000000001",
            ContractKind.assignment,
            90 * WAN,
            d("2024-01-25"),
        )
    )
    found = {ACHIEVEMENT: achievement()}
    take_effect(contract, found, owners_public=False, on=d("2024-02-01"))
    assert found[ACHIEVEMENT].owner_ids == [BUYER]

    contract.record_payment("BANK-240301", 33_333_334, d("2024-03-01"), payer="买方公司")
    contract.defer_due_items(
        {"installment-2": d("2024-12-01")}, "技术转移中心 主任", "买方申请延期支付", d("2024-08-20")
    )
    assert contract.overdue_items(d("2024-10-01")) == []
    contract.record_payment("BANK-241201", 20 * WAN, d("2024-12-01"))
    assert [i.item_id for i in contract.overdue_items(d("2024-12-02"))] == ["installment-2"]
    contract.write_off("installment-2", "校长办公会", "协商减免尾款", d("2025-01-10"))
    contract.record_payment(
        "BANK-250301", 34 * WAN, d("2025-03-01"), overpayment=Overpayment.credit
    )
    assert contract.credits == {"BANK-250301": 666_667}
    contract.refund_credit("BANK-250301", 666_667, d("2025-03-05"), "REFUND-250305")
    end_contract(contract, found, ContractEnd.complete, d("2025-03-10"))

    assert contract.status == ContractStatus.completed
    assert contract.outstanding_fen() == 0 and contract.credits == {}
    assert found[ACHIEVEMENT].owner_ids == [BUYER]  # the assignee keeps it
    events = assert_rebuilds(contract)
    assert event_names(events) == [
        "Drafted",
        "Signed",
        "Registered",
        "TookEffect",
        "PaymentReceived",
        "DueItemsDeferred",
        "PaymentReceived",
        "WrittenOff",
        "PaymentReceived",
        "CreditRefunded",
        "Completed",
    ]
    assert events[7].amount_fen == 13_333_334  # the write-off
    assert_rebuilds(found[ACHIEVEMENT])


def test_licence_with_entry_fee_tiered_royalty_and_minimum() -> None:
    royalty = RoyaltyTerms(
        RoyaltyBase.sales,
        RateTiering.contract_year,
        (RoyaltyTier(1, Decimal("0.05")), RoyaltyTier(2, Decimal("0.03"))),
        minimum_annual_fen=20 * WAN,
        days_to_pay=30,
    )
    lic = LicenceTerms(LicenceType.exclusive, True, "CN", d("2024-02-01"), d("2026-01-31"))
    contract = drafted(
        ContractKind.licence,
        contract_value_fen=80 * WAN,
        transaction_value_fen=80 * WAN,
        licence=lic,
        payment_terms=PaymentTerms(
            entry_fee=Installment(10 * WAN, days_after_start=15), royalty=royalty
        ),
    )
    contract.sign(d("2024-01-20"))
    found = {ACHIEVEMENT: achievement()}
    take_effect(contract, found, owners_public=True, on=d("2024-02-01"))
    assert [(i.item_id, i.due_on) for i in contract.due_items] == [("entry-fee", d("2024-02-16"))]
    contract.register(
        Registration(
            "北京技术市场管理办公室",
            "2024110000000777",
            ContractKind.licence,
            75 * WAN,
            d("2024-03-01"),
        )
    )
    contract.record_payment("E1", 10 * WAN, d("2024-02-16"))

    # Year 1 (5%): two reports, 300万 of sales -> 15万 royalty; minimum 20万 -> 5万 top-up.
    contract.report_royalty(d("2024-02-01"), d("2024-07-31"), 100 * WAN, d("2024-08-10"))
    contract.report_royalty(d("2024-08-01"), d("2025-01-31"), 200 * WAN, d("2025-02-10"))
    contract.top_up_minimum_royalty(1, d("2025-02-15"))
    # Year 2 (3%): 1000万 of sales -> 30万, above the minimum.
    contract.report_royalty(d("2025-02-01"), d("2026-01-31"), 1000 * WAN, d("2026-02-05"))
    assert [(i.kind, i.amount_fen) for i in contract.due_items][1:] == [
        (DueKind.royalty, 5 * WAN),
        (DueKind.royalty, 10 * WAN),
        (DueKind.minimum_royalty, 5 * WAN),
        (DueKind.royalty, 30 * WAN),
    ]
    contract.record_payment("R1", 20 * WAN, d("2025-03-01"))
    contract.record_payment("R2", 30 * WAN, d("2026-03-01"))
    assert contract.outstanding_fen() == 0
    end_contract(contract, found, ContractEnd.expire, d("2026-03-01"))
    assert contract.status == ContractStatus.expired
    assert found[ACHIEVEMENT].encumbrances[0].released_on == d("2026-03-01")
    assert "MinimumRoyaltyToppedUp" in event_names(assert_rebuilds(contract))


def test_ufpl_licence_that_converts() -> None:
    trial = UfplTerms(
        "在甲方中试线内试用",
        d("2025-01-31"),
        (
            UfplTrigger.on_date(d("2025-01-31")),
            UfplTrigger.first_revenue(),
            UfplTrigger.at_milestone("首批销售"),
        ),
    )
    contract = drafted(
        ContractKind.ufpl_licence,
        contract_value_fen=50 * WAN,
        transaction_value_fen=50 * WAN,
        ufpl=trial,
        payment_terms=PaymentTerms(
            royalty=RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.04"))
        ),
    )
    contract.sign(d("2024-01-20"))
    found = {ACHIEVEMENT: achievement()}
    take_effect(contract, found, owners_public=False, on=d("2024-02-01"))
    assert contract.ufpl_stage == UfplStage.trial

    contract.report_licensee_revenue(d("2024-02-01"), d("2024-04-30"), 0, d("2024-05-05"))
    contract.report_licensee_revenue(d("2024-05-01"), d("2024-07-31"), 40 * WAN, d("2024-08-05"))
    renegotiated = PaymentTerms(
        fixed_price_fen=12 * WAN,
        installments=(
            Installment(6 * WAN, days_after_start=30),
            Installment(6 * WAN, days_after_start=180),
        ),
        royalty=RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.02")),
    )
    contract.renegotiate_paid_terms(renegotiated, d("2024-08-20"))
    contract.convert_to_paid(d("2024-09-01"))
    assert contract.conversion == (UfplTrigger.first_revenue(), d("2024-08-05"), d("2024-09-01"))
    assert [(i.item_id, i.due_on) for i in contract.due_items] == [
        ("installment-1", d("2024-10-01")),
        ("installment-2", d("2025-02-28")),
    ]
    contract.report_licensee_revenue(d("2024-08-01"), d("2024-12-31"), 150 * WAN, d("2025-01-10"))
    contract.report_royalty(d("2024-09-01"), d("2024-12-31"), 100 * WAN, d("2025-01-10"))
    assert contract.licensee_revenue_fen == 190 * WAN

    contract.record_payment("P1", 6 * WAN, d("2024-10-01"))
    contract.record_default(d("2025-03-15"), "第二期及提成逾期未付")
    contract.record_insurance_compensation(
        "CLAIM-7", "中国人保", 6 * WAN, d("2025-04-01"), "installment-2"
    )
    contract.record_credit_report("人民银行征信中心", d("2025-04-10"), "CR-2025-0410")
    contract.record_payment("P2", 2 * WAN, d("2025-04-20"))
    assert contract.outstanding_fen() == 0
    assert [r.kind for r in contract.risk_events] == [
        RiskKind.default,
        RiskKind.insurance_compensation,
        RiskKind.credit_report,
    ]
    end_contract(contract, found, ContractEnd.complete, d("2025-05-01"))
    assert contract.status == ContractStatus.completed
    assert found[ACHIEVEMENT].licences_in_force(d("2025-05-02")) == []
    names = event_names(assert_rebuilds(contract))
    assert "PaidTermsRenegotiated" in names and "ConvertedToPaid" in names
    assert contract.paid_terms_history[-1] == renegotiated


def test_ufpl_licence_that_is_returned() -> None:
    contract = drafted(ContractKind.ufpl_licence)
    contract.sign(d("2024-01-20"))
    found = {ACHIEVEMENT: achievement()}
    take_effect(contract, found, owners_public=False, on=d("2024-02-01"))
    contract.report_licensee_revenue(d("2024-02-01"), d("2024-12-31"), 0, d("2025-01-05"))
    end_contract(
        contract, found, ContractEnd.return_licence, d("2025-01-20"), "试用后不再使用, 退还许可"
    )
    assert (contract.status, contract.ufpl_stage) == (ContractStatus.terminated, UfplStage.returned)
    assert contract.due_items == []
    assert found[ACHIEVEMENT].licences_in_force(d("2025-01-21")) == []
    assert event_names(assert_rebuilds(contract)) == [
        "Drafted",
        "Signed",
        "TookEffect",
        "LicenseeRevenueReported",
        "LicenceReturned",
    ]
    assert_rebuilds(found[ACHIEVEMENT])


def test_equity_contribution_with_dividends_impairment_dilution_and_sale() -> None:
    company_id = BUYER
    contract = drafted(
        ContractKind.equity_contribution,
        buyer_id=company_id,
        contract_value_fen=500 * WAN,
        transaction_value_fen=500 * WAN,
        payment_terms=PaymentTerms(),
    )
    contract.sign(d("2024-01-20"))
    found = {ACHIEVEMENT: achievement()}
    take_effect(contract, found, owners_public=False, on=d("2024-02-01"))
    end_contract(contract, found, ContractEnd.complete, d("2024-03-01"))
    assert found[ACHIEVEMENT].owner_ids == [company_id]

    holding = open_equity_holding(
        contract,
        institution_id=SELLER,
        company=Company("西安某某新材料有限公司", "91350100M000100Y43"),
        valuation=EquityValuation(
            500 * WAN, ValuationMethod.income, "某某资产评估有限公司", d("2024-01-05")
        ),
        registered_capital_fen=400 * WAN,
        shares_received=4_000_000,
        total_shares=10_000_000,
        contributed_on=d("2024-03-01"),
    )
    holding.award_shares("李四", 1_920_000, d("2024-04-01"))
    holding.award_shares("王五", 1_280_000, d("2024-04-01"))
    assert holding.shares_held == 800_000
    assert holding.carrying_value_fen == 100 * WAN
    holding.receive_dividend("DIV-2024", 8 * WAN, d("2025-05-01"))
    holding.impair(
        40 * WAN, DecisionRecord(("校长办公会",), "被投企业亏损, 评估减值", d("2025-06-01"))
    )
    holding.record_dilution(20_000_000, d("2025-07-01"), "A轮融资")
    assert holding.holding_percent == Decimal(4)
    holding.revalue(90 * WAN, DecisionRecord(("校长办公会", "国资处"), "A轮估值", d("2025-07-15")))
    holding.sell_shares("SALE-1", 400_000, 120 * WAN, "某产业基金", d("2025-09-01"))
    assert (holding.shares_held, holding.cashed_in_fen, holding.carrying_value_fen) == (
        400_000,
        120 * WAN,
        45 * WAN,
    )
    names = event_names(assert_rebuilds(holding))
    assert names == [
        "ContributionRecorded",
        "SharesAwarded",
        "SharesAwarded",
        "DividendReceived",
        "HoldingImpaired",
        "Diluted",
        "HoldingRevalued",
        "SharesSold",
    ]
    assert_rebuilds(contract)


@pytest.mark.parametrize(
    "kind", [ContractKind.development, ContractKind.consulting, ContractKind.service]
)
def test_development_consulting_service(kind: ContractKind) -> None:
    terms = PaymentTerms(
        fixed_price_fen=20 * WAN,
        installments=(
            Installment(10 * WAN, days_after_start=0),
            Installment(10 * WAN, d("2024-12-31")),
        ),
        milestones=(Milestone("验收", 5 * WAN, 10),),
    )
    contract = drafted(
        kind, contract_value_fen=25 * WAN, transaction_value_fen=20 * WAN, payment_terms=terms
    )
    assert contract.terms == make_terms(
        kind, contract_value_fen=25 * WAN, transaction_value_fen=20 * WAN, payment_terms=terms
    )
    contract.sign(d("2024-01-20"))
    take_effect(contract, {}, owners_public=True, on=d("2024-02-01"))
    contract.register(
        Registration("上海市技术合同登记处", "2024310000009999", kind, 20 * WAN, d("2024-02-10"))
    )
    contract.record_payment("P1", 10 * WAN, d("2024-02-01"))
    contract.reach_milestone("验收", d("2024-11-20"))
    contract.record_payment("P2", 15 * WAN, d("2024-12-31"))
    assert contract.pending_events[-1].allocations == [  # type: ignore[attr-defined]
        Allocation("milestone-验收", 5 * WAN),
        Allocation("installment-2", 10 * WAN),
    ]
    contract.complete(d("2025-01-05"))
    assert contract.status == ContractStatus.completed
    assert contract.registered_value_fen == 20 * WAN
    assert_rebuilds(contract)
