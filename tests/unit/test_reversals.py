"""Reversals of deductions and recoveries of overpaid awards, with figures worked by hand.

A Beijing public university (北京市促进科技成果转化条例 第12条, team at least 70%) under a
70 / 15 / 15 policy; the team is 张三 60% and 李四 40%. A receipt of 1,000,000.00 with
deductions of tax 50,000.00, patent fees 10,000.00 and valuation 20,000.00 nets 920,000.00:
张三 386,400.00, 李四 257,600.00, department 138,000.00, institution 138,000.00.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain import award as aw
from domain import income as inc
from domain.allocation import AllocationLine, Deduction
from domain.award import IncomeDistribution, Recovery
from domain.enums import RulePackId
from domain.errors import DomainError
from domain.income import IncomeBook
from domain.rule_packs import DeductionCategory
from tests.unit.aggregate_checks import rejected
from tests.unit.distribution_support import (
    CONTRACT,
    DEPT,
    INST,
    INSTITUTION,
    TEAM,
    assert_rebuilds,
    pack,
    version,
    yuan,
)

C = DeductionCategory
RECEIVED = date(2024, 4, 2)
ZHANG, LI = "inventor:张三", "inventor:李四"
TEAM_60_40 = [("张三", Decimal(60)), ("李四", Decimal(40))]
TAX = Deduction(C.tax, yuan("50,000.00"), "增值税", "TAX-1")
FEE = Deduction(C.maintenance, yuan("10,000.00"), "专利年费", "FEE-1")
VAL = Deduction(C.valuation, yuan("20,000.00"), "评估费", "VAL-1")


def distribution(deductions: list[Deduction] | None = None, **changes: Any) -> IncomeDistribution:
    args: dict[str, Any] = {
        "contract_id": CONTRACT,
        "receipt_id": "BANK-7",
        "institution_id": INSTITUTION,
        "received_on": RECEIVED,
        "gross_fen": yuan("1,000,000.00"),
        "deductions": [TAX, FEE, VAL] if deductions is None else deductions,
        "pack": pack(RulePackId.beijing, RECEIVED),
        "policy": version(RulePackId.beijing),
        "inventors": TEAM_60_40,
    }
    args.update(changes)
    return IncomeDistribution.allocate(**args)


def test_reversing_a_used_deduction_grows_the_lines_by_its_amount() -> None:
    d = distribution()
    assert d.allocated == {ZHANG: yuan("386,400.00"), LI: yuan("257,600.00"),
                           "department": yuan("138,000.00"), "institution": yuan("138,000.00")}
    adjustment = d.reverse_deduction("reversal:VAL-1", VAL, date(2024, 5, 10), "评估费记错合同")
    # Net 940,000.00: team 658,000.00 = 394,800.00 + 263,200.00; 141,000.00 each for the others.
    assert adjustment.delta_fen == yuan("20,000.00")
    assert adjustment.lines == (
        AllocationLine(TEAM, "张三", yuan("8,400.00")),
        AllocationLine(TEAM, "李四", yuan("5,600.00")),
        AllocationLine(DEPT, None, yuan("3,000.00")),
        AllocationLine(INST, None, yuan("3,000.00")),
    )
    assert d.net_income.net_fen == yuan("940,000.00")
    assert d.deductions == (TAX, FEE)
    assert d.adjustments == ("reversal:VAL-1",)
    _, reversed_ = assert_rebuilds(d)
    assert type(reversed_).__name__ == "DeductionReversed" and reversed_.deduction == VAL


def test_a_reversal_splits_an_awkward_amount_by_largest_remainder() -> None:
    """A negotiation cost of 100.01 reversed: net 919,899.99 -> 920,000.00, +10,001 fen.

    Before: team 70% of 91,989,999 fen = 64,392,999.3 -> 64,392,999; department and
    institution 13,798,499.85 each take the 2 fen left -> 13,798,500. The team splits
    38,635,799.4 / 25,757,199.6 -> 38,635,799 and 25,757,200 (李四 takes the fen).
    After: 38,640,000 / 25,760,000 / 13,800,000 / 13,800,000.
    """
    nego = Deduction(C.negotiation, yuan("100.01"), "技术经纪", "NEGO-1")
    d = distribution([TAX, FEE, VAL, nego])
    assert d.allocated == {ZHANG: 38_635_799, LI: 25_757_200, "department": 13_798_500,
                           "institution": 13_798_500}
    adjustment = d.reverse_deduction("reversal:NEGO-1", nego, date(2024, 5, 10), "重复记录")
    assert {line.key: line.amount_fen for line in adjustment.lines} == {
        ZHANG: 4_201, LI: 2_800, "department": 1_500, "institution": 1_500}
    assert sum(line.amount_fen for line in adjustment.lines) == 10_001
    assert sum(d.allocated.values()) == d.net_income.net_fen == yuan("920,000.00")


def test_a_late_deduction_after_payment_raises_a_recovery_of_the_excess() -> None:
    d = distribution()
    d.pay_award(ZHANG, yuan("386,400.00"), date(2024, 6, 1), "AW-1")
    # Negotiation 20,000.00 later: net 900,000.00, 张三 60% of 630,000.00 = 378,000.00.
    d.adjust("deduction:NEGO-1", [Deduction(C.negotiation, yuan("20,000.00"), "", "NEGO-1")],
             date(2024, 7, 1))
    assert d.allocated[ZHANG] == yuan("378,000.00")
    assert d.recoveries == (Recovery("deduction:NEGO-1:inventor:张三", ZHANG, TEAM, "张三",
                                     yuan("8,400.00"), date(2024, 7, 1), "deduction:NEGO-1"),)
    assert d.outstanding_recoveries() == {ZHANG: yuan("8,400.00")}
    # rule recovery_raised_when_overpaid: never a negative unpaid amount
    assert aw.RECOVERY_RAISED_WHEN_OVERPAID.name == "recovery_raised_when_overpaid"
    assert d.overpaid() == {} and d.unpaid_fen(ZHANG) == 0
    assert d.unpaid_fen(LI) == yuan("252,000.00")

    # Paying back clears it, in parts, never beyond what is owed.
    rejected(d, aw.RECOVERY_OUTSTANDING, "amount_fen",
             lambda: d.repay_recovery(ZHANG, yuan("8,400.01"), date(2024, 7, 10), "RET-0"))
    rejected(d, aw.RECOVERY_OUTSTANDING, "repaid_on",
             lambda: d.repay_recovery(ZHANG, 1, date(2024, 6, 30), "RET-0"))
    rejected(d, aw.RECOVERY_OUTSTANDING, "key",
             lambda: d.repay_recovery(LI, 1, date(2024, 7, 10), "RET-0"))
    d.repay_recovery(ZHANG, yuan("3,000.00"), date(2024, 7, 10), "RET-1")
    assert d.recovery_outstanding_fen(ZHANG) == yuan("5,400.00")
    rejected(d, aw.AWARD_REFERENCE_UNIQUE, "reference",
             lambda: d.repay_recovery(ZHANG, 1, date(2024, 7, 11), "RET-1"))
    d.repay_recovery(ZHANG, yuan("5,400.00"), date(2024, 7, 11), "RET-2")
    assert d.outstanding_recoveries() == {}
    assert d.unpaid_fen(ZHANG) == 0
    events = assert_rebuilds(d)
    assert [type(e).__name__ for e in events[2:]] == [
        "Adjusted", "RecoveryRaised", "RecoveryRepaid", "RecoveryRepaid"]


def test_a_recovery_is_offset_against_a_later_award_to_the_same_person() -> None:
    first = distribution()
    first.pay_award(ZHANG, yuan("386,400.00"), date(2024, 6, 1), "AW-1")
    first.adjust("deduction:NEGO-1", [Deduction(C.negotiation, yuan("20,000.00"), "", "NEGO-1")],
                 date(2024, 7, 1))
    # A second receipt of 100,000.00, no deductions: team 70,000.00, 张三 42,000.00.
    later = distribution([], receipt_id="BANK-8", received_on=date(2024, 8, 1),
                         gross_fen=yuan("100,000.00"))
    assert later.allocated[ZHANG] == yuan("42,000.00")
    other = distribution([], receipt_id="BANK-9", institution_id=CONTRACT)
    rejected(first, aw.RECOVERY_OFFSET_SAME_BENEFICIARY, "against_distribution_id",
             lambda: first.offset_recovery(ZHANG, 1, date(2024, 8, 2), "OFF-1", other))
    rejected(first, aw.RECOVERY_OFFSET_SAME_BENEFICIARY, "offset_on",
             lambda: first.offset_recovery(ZHANG, 1, date(2024, 7, 31), "OFF-1", later))
    first.offset_recovery(ZHANG, yuan("8,400.00"), date(2024, 8, 2), "OFF-1", later)
    assert first.outstanding_recoveries() == {}
    assert later.paid[ZHANG] == yuan("8,400.00")
    assert later.unpaid_fen(ZHANG) == yuan("33,600.00")  # 42,000.00 - 8,400.00 withheld
    assert later.payments[-1].payment_id == "OFF-1" and later.payments[-1].within_deadline
    later_events = assert_rebuilds(later)
    assert type(later_events[-1]).__name__ == "AwardOffset"
    assert later_events[-1].recovery_distribution_id == first.id
    first_events = assert_rebuilds(first)
    assert type(first_events[-1]).__name__ == "RecoveryOffset"


def test_reversing_the_late_deduction_settles_the_recovery_it_raised() -> None:
    d = distribution()
    d.pay_award(ZHANG, yuan("386,400.00"), date(2024, 6, 1), "AW-1")
    nego = Deduction(C.negotiation, yuan("20,000.00"), "", "NEGO-1")
    d.adjust("deduction:NEGO-1", [nego], date(2024, 7, 1))
    d.reverse_deduction("reversal:NEGO-1", nego, date(2024, 7, 5), "不属于本合同")
    assert d.allocated[ZHANG] == yuan("386,400.00")
    assert d.outstanding_recoveries() == {} and d.unpaid_fen(ZHANG) == 0
    assert d.paid[ZHANG] == yuan("386,400.00") + yuan("8,400.00")  # cash, and the offset
    assert d.raised[ZHANG] == yuan("8,400.00")
    events = assert_rebuilds(d)
    assert [type(e).__name__ for e in events[-3:]] == ["DeductionReversed", "AwardOffset", "RecoveryOffset"]


def test_a_distribution_reverses_only_a_deduction_it_used() -> None:
    d = distribution()
    other = Deduction(C.valuation, yuan("20,000.00"), "评估费", "VAL-2")
    rejected(d, inc.DEDUCTION_REVERSAL_NAMES_DEDUCTION, "reference",
             lambda: d.reverse_deduction("reversal:VAL-2", other, date(2024, 5, 1), "x"))


def test_an_income_book_reverses_a_deduction_once() -> None:
    book = IncomeBook.open(CONTRACT, "contract", INSTITUTION)
    book.record_deduction("VAL-1", C.valuation, yuan("20,000.00"), date(2024, 3, 20), "评估费")
    book.record_deduction("TAX-1", C.tax, yuan("50,000.00"), date(2024, 3, 20), "增值税")
    rejected(book, inc.DEDUCTION_REVERSAL_NAMES_DEDUCTION, "reference",
             lambda: book.reverse_deduction("VAL-9", date(2024, 5, 1), "x"))
    rejected(book, inc.DEDUCTION_REVERSED_ONCE, "reason",
             lambda: book.reverse_deduction("VAL-1", date(2024, 5, 1), "  "))
    rejected(book, inc.DEDUCTION_REVERSED_ONCE, "reversed_on",
             lambda: book.reverse_deduction("VAL-1", date(2024, 3, 19), "x"))
    book.reverse_deduction("VAL-1", date(2024, 5, 1), "记错合同")
    assert [d.reference for d in book.unused()] == ["TAX-1"]  # unused: it just stops counting
    with pytest.raises(DomainError) as twice:
        book.reverse_deduction("VAL-1", date(2024, 5, 2), "again")
    assert twice.value.rule is inc.DEDUCTION_REVERSED_ONCE
    events = assert_rebuilds(book)
    assert events[-1].distribution_id is None
