"""Income distribution of a receipt: allocation, adjustments, award payments, 36-month deadline."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import award as aw
from domain.allocation import DEDUCTION_AMOUNT_POSITIVE, AllocationLine, Deduction, allocate
from domain.award import DeadlineStatus, IncomeDistribution, add_months, tax_relief_deadline
from domain.distribution import DISTRIBUTION_POLICY_IN_FORCE
from domain.enums import RulePackId
from domain.errors import DomainError
from domain.rule_packs import RULE_PACK_IN_FORCE, DeductionCategory
from tests.unit.aggregate_checks import rejected
from tests.unit.distribution_support import (
    AWKWARD_TEAM,
    CONTRACT,
    DEPT,
    ENTERPRISE,
    INSTITUTION,
    TEAM,
    assert_rebuilds,
    pack,
    version,
    yuan,
)

C = DeductionCategory
RECEIVED = date(2024, 1, 31)
ZHANG, LI, WANG = "inventor:张三", "inventor:李四", "inventor:王五"


def deductions() -> list[Deduction]:
    return [
        Deduction(C.tax, yuan("50,000.00")),
        Deduction(C.maintenance, yuan("10,000.00")),
        Deduction(C.valuation, yuan("20,000.00")),
    ]


def distribution(pack_id: RulePackId = RulePackId.beijing, **changes: Any) -> IncomeDistribution:
    args: dict[str, Any] = {
        "contract_id": CONTRACT,
        "receipt_id": "BANK-2024-0131-001",
        "institution_id": INSTITUTION,
        "received_on": RECEIVED,
        "gross_fen": yuan("1,000,000.00"),
        "deductions": deductions(),
        "pack": pack(pack_id, RECEIVED),
        "policy": version(pack_id),
        "inventors": AWKWARD_TEAM,
    }
    args.update(changes)
    return IncomeDistribution.allocate(**args)


# --- the 36-month deadline -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2024, 1, 31), 36, date(2027, 1, 31)),
        (date(2024, 2, 29), 36, date(2027, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 11, 30), 3, date(2024, 2, 29)),
        (date(2023, 12, 15), 1, date(2024, 1, 15)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
    ],
)
def test_add_months_clamps_to_the_month_end(start: date, months: int, end: date) -> None:
    assert add_months(start, months) == end


def test_deadline_is_36_months_after_the_receipt() -> None:
    d = distribution()
    assert d.deadline_on == tax_relief_deadline(RECEIVED) == date(2027, 1, 31)


# --- allocation --------------------------------------------------------------------------


def test_allocation_of_a_receipt_records_lines_that_sum_to_net() -> None:
    d = distribution()
    assert d.id == IncomeDistribution.id_for(CONTRACT, "BANK-2024-0131-001")
    assert d.id != IncomeDistribution.id_for(CONTRACT, "BANK-2024-0131-002")
    assert d.net_income.net_fen == yuan("920,000.00")
    assert d.allocated == {
        ZHANG: yuan("214,645.20"),
        LI: yuan("214,645.20"),
        WANG: yuan("214,709.60"),
        "department": yuan("138,000.00"),
        "institution": yuan("138,000.00"),
    }
    (event,) = assert_rebuilds(d)
    assert type(event).__name__ == "Allocated"
    assert sum(line.amount_fen for line in event.allocation.lines) == event.net_income.net_fen
    assert event.pack.pack_id == "beijing" and event.allocation.policy_version == "v1"


def test_the_same_receipt_gets_the_same_id_so_the_store_refuses_a_second_allocation() -> None:
    first, second = distribution(), distribution(gross_fen=yuan("5.00"), deductions=[])
    assert first.id == second.id and first.version == second.version == 1


def test_an_allocation_given_with_the_receipt_is_checked() -> None:
    net = yuan("920,000.00")
    given_allocation = allocate(net, version(), AWKWARD_TEAM)
    d = distribution(allocation=given_allocation)
    assert d.allocation == given_allocation


def test_adjustment_records_delta_lines_and_never_edits() -> None:
    d = distribution()
    adjustment = d.adjust("ADJ-1", [Deduction(C.negotiation, yuan("20,000.00"))], date(2024, 3, 1))
    assert adjustment.delta_fen == -yuan("20,000.00")
    assert sum(line.amount_fen for line in adjustment.lines) == -yuan("20,000.00")
    assert d.net_income.net_fen == yuan("900,000.00")
    assert d.allocated[ZHANG] == yuan("214,645.20") - 466_620
    ignored = d.adjust("ADJ-2", [Deduction(C.agency, yuan("1,000.00"))], date(2024, 3, 2))
    assert ignored.lines == () and len(d.net_income.ignored) == 1  # agency: not under Beijing
    events = assert_rebuilds(d)
    assert [type(e).__name__ for e in events] == ["Allocated", "Adjusted", "Adjusted"]
    assert events[0].allocation.amount(ZHANG) == yuan("214,645.20")  # the first event unchanged


def test_awards_paid_in_parts_up_to_the_allocation() -> None:
    d = distribution()
    d.pay_award(ZHANG, yuan("100,000.00"), date(2024, 2, 1), "PAY-1")
    d.pay_award(ZHANG, yuan("114,645.20"), date(2024, 3, 1), "PAY-2")
    assert d.unpaid_fen(ZHANG) == 0
    rejected(
        d,
        aw.AWARD_PAYMENT_WITHIN_UNPAID,
        "amount_fen",
        lambda: d.pay_award(ZHANG, 1, date(2024, 3, 2), "PAY-3"),
    )
    events = assert_rebuilds(d)
    paid = events[-1]
    assert (paid.key, paid.beneficiary, paid.inventor, paid.amount_fen) == (
        ZHANG,
        TEAM,
        "张三",
        yuan("114,645.20"),
    )
    assert paid.within_deadline is True and paid.payment_id == "PAY-2"


def test_a_later_deduction_can_leave_a_line_overpaid() -> None:
    d = distribution()
    d.pay_award(ZHANG, yuan("214,645.20"), date(2024, 2, 1), "PAY-1")
    d.adjust("ADJ-1", [Deduction(C.negotiation, yuan("20,000.00"))], date(2024, 3, 1))
    # The excess is raised at once as a named recovery (tests/unit/test_reversals.py), so
    # nothing is left merely overpaid and the line owes nothing more.
    assert d.outstanding_recoveries() == {ZHANG: 466_620}
    assert d.overpaid() == {} and d.unpaid_fen(ZHANG) == 0


def test_deadline_status_per_beneficiary() -> None:
    d = distribution()
    d.pay_award(ZHANG, yuan("214,645.20"), date(2026, 12, 31), "P1")
    d.pay_award(LI, yuan("200,000.00"), date(2027, 1, 31), "P2")  # on the deadline: in time
    d.pay_award(LI, yuan("14,645.20"), date(2027, 2, 1), "P3")  # a day late
    d.pay_award("department", yuan("138,000.00"), date(2024, 6, 30), "P4")
    assert d.deadline_status(date(2027, 1, 31)) == {
        ZHANG: DeadlineStatus.paid_in_time,
        LI: DeadlineStatus.open,
        WANG: DeadlineStatus.open,
        "department": DeadlineStatus.paid_in_time,
        "institution": DeadlineStatus.open,
    }
    assert d.deadline_status(date(2027, 2, 1)) == {
        ZHANG: DeadlineStatus.paid_in_time,
        LI: DeadlineStatus.paid_late,
        WANG: DeadlineStatus.overdue,
        "department": DeadlineStatus.paid_in_time,
        "institution": DeadlineStatus.overdue,
    }


def test_tax_relief_needs_registration_notice_and_payment_within_36_months() -> None:
    d = distribution()
    d.pay_award(ZHANG, yuan("214,645.20"), date(2024, 3, 1), "P1")
    d.pay_award(LI, yuan("200,000.00"), date(2025, 1, 1), "P2")
    d.pay_award(LI, yuan("14,645.20"), date(2027, 3, 1), "P3")  # late part
    d.pay_award("department", yuan("138,000.00"), date(2024, 3, 1), "P4")
    before_notice = d.tax_relief_eligible(date(2024, 3, 1), contract_registered=True)
    assert not before_notice[ZHANG].eligible
    assert before_notice[ZHANG].reasons == ("the recipient has not been publicly noticed (公示)",)
    d.publish_notice("N1", date(2024, 2, 1), date(2024, 2, 15))
    relief = d.tax_relief_eligible(date(2027, 12, 31), contract_registered=True)
    assert relief[ZHANG].eligible and relief[ZHANG].eligible_fen == yuan("214,645.20")
    assert relief[LI].eligible and relief[LI].eligible_fen == yuan("200,000.00")
    assert relief[LI].late_fen == yuan("14,645.20") and relief[LI].unpaid_fen == 0
    assert not relief[WANG].eligible and relief[WANG].unpaid_fen == yuan("214,709.60")
    assert not relief["department"].eligible
    assert relief["department"].reasons == ("department is not an award to individuals",)
    unregistered = d.tax_relief_eligible(date(2027, 12, 31), contract_registered=False)
    assert not unregistered[ZHANG].eligible and unregistered[ZHANG].eligible_fen == 0
    assert "registration certificate" in unregistered[ZHANG].reasons[0]
    assert_rebuilds(d)


def test_no_tax_relief_for_an_enterprise() -> None:
    d = distribution(policy=version(who=ENTERPRISE))
    d.pay_award(ZHANG, yuan("1.00"), date(2024, 3, 1), "P1")
    d.publish_notice("N1", date(2024, 2, 1), date(2024, 2, 15))
    relief = d.tax_relief_eligible(date(2024, 3, 1), contract_registered=True)
    assert relief[ZHANG].reasons == (
        "the institution is not a non-profit research institute or university",
    )


def test_notice_defaults_to_every_line_and_can_name_recipients() -> None:
    d = distribution()
    d.publish_notice("N1", date(2024, 2, 1), date(2024, 2, 1), recipients=[ZHANG])
    d.publish_notice("N2", date(2024, 2, 2), date(2024, 2, 3))
    assert d.notices[0].recipients == (ZHANG,)
    assert set(d.notices[1].recipients) == set(d.allocated)
    assert d.noticed(ZHANG, date(2024, 2, 1)) and not d.noticed(LI, date(2024, 2, 2))
    assert_rebuilds(d)


def test_zhejiang_notice_lasts_at_least_15_days() -> None:
    d = distribution(RulePackId.zhejiang)
    err = rejected(
        d,
        aw.AWARD_NOTICE_MIN_DAYS,
        "ends_on",
        lambda: d.publish_notice("N1", date(2024, 2, 1), date(2024, 2, 14)),
    )
    assert "浙江省促进科技成果转化条例 第39条 requires at least 15" in err.detail
    d.publish_notice("N1", date(2024, 2, 1), date(2024, 2, 15))
    assert d.notices[0].days == 15


# --- one test per rule -------------------------------------------------------------------


def test_income_receipt_identified() -> None:
    rejected(
        None, aw.INCOME_RECEIPT_IDENTIFIED, "receipt_id", lambda: distribution(receipt_id="  ")
    )


def test_rule_pack_in_force_on_the_receipt_date() -> None:
    rejected(
        None,
        RULE_PACK_IN_FORCE,
        "pack",
        lambda: distribution(
            received_on=date(2019, 6, 1), policy=version(effective_from=date(2020, 1, 1))
        ),
    )


def test_policy_in_force_on_the_receipt_date() -> None:
    rejected(
        None,
        DISTRIBUTION_POLICY_IN_FORCE,
        "policy",
        lambda: distribution(policy=version(effective_from=date(2024, 2, 1))),
    )


def test_distribution_pack_matches_policy() -> None:
    rejected(
        None,
        aw.DISTRIBUTION_PACK_MATCHES_POLICY,
        "pack",
        lambda: distribution(policy=version(RulePackId.national)),
    )


def test_income_allocation_consistent() -> None:
    wrong = allocate(yuan("920,000.00"), version(), AWKWARD_TEAM, cumulative_before_fen=1)
    rejected(
        None, aw.INCOME_ALLOCATION_CONSISTENT, "allocation", lambda: distribution(allocation=wrong)
    )


def test_award_reference_unique() -> None:
    rule = aw.AWARD_REFERENCE_UNIQUE
    d = distribution()
    d.pay_award(ZHANG, 1, date(2024, 2, 1), "P1")
    d.adjust("A1", [Deduction(C.tax, 1)], date(2024, 2, 1))
    d.publish_notice("N1", date(2024, 2, 1), date(2024, 2, 2))
    rejected(d, rule, "payment_id", lambda: d.pay_award(ZHANG, 1, date(2024, 2, 1), "P1"))
    rejected(d, rule, "payment_id", lambda: d.pay_award(ZHANG, 1, date(2024, 2, 1), "A1"))
    rejected(d, rule, "payment_id", lambda: d.pay_award(ZHANG, 1, date(2024, 2, 1), " "))
    rejected(
        d, rule, "adjustment_id", lambda: d.adjust("N1", [Deduction(C.tax, 1)], date(2024, 2, 1))
    )
    rejected(
        d, rule, "notice_id", lambda: d.publish_notice("P1", date(2024, 2, 1), date(2024, 2, 2))
    )


def test_award_beneficiary_known() -> None:
    rule = aw.AWARD_BENEFICIARY_KNOWN
    d = distribution()
    rejected(d, rule, "key", lambda: d.pay_award("inventor:赵六", 1, date(2024, 2, 1), "P1"))
    rejected(d, rule, "key", lambda: d.pay_award("tto", 1, date(2024, 2, 1), "P1"))
    rejected(
        d,
        rule,
        "recipients[1]",
        lambda: d.publish_notice("N1", date(2024, 2, 1), date(2024, 2, 2), [ZHANG, "赵六"]),
    )


@pytest.mark.parametrize("amount", [0, -1, True])
def test_award_payment_positive(amount: Any) -> None:
    d = distribution()
    rejected(
        d,
        aw.AWARD_PAYMENT_POSITIVE,
        "amount_fen",
        lambda: d.pay_award(ZHANG, amount, date(2024, 2, 1), "P1"),
    )


def test_award_payment_within_unpaid() -> None:
    d = distribution()
    rejected(
        d,
        aw.AWARD_PAYMENT_WITHIN_UNPAID,
        "amount_fen",
        lambda: d.pay_award(WANG, yuan("214,709.61"), date(2024, 2, 1), "P1"),
    )


def test_award_dates_after_receipt() -> None:
    rule = aw.AWARD_DATES_AFTER_RECEIPT
    d = distribution()
    before = date(2024, 1, 30)
    rejected(d, rule, "paid_on", lambda: d.pay_award(ZHANG, 1, before, "P1"))
    rejected(d, rule, "recorded_on", lambda: d.adjust("A1", [Deduction(C.tax, 1)], before))
    rejected(d, rule, "starts_on", lambda: d.publish_notice("N1", before, RECEIVED))


def test_award_notice_min_days() -> None:
    d = distribution()
    rejected(
        d,
        aw.AWARD_NOTICE_MIN_DAYS,
        "ends_on",
        lambda: d.publish_notice("N1", date(2024, 2, 2), date(2024, 2, 1)),
    )


def test_adjustment_deductions_positive() -> None:
    d = distribution()
    rejected(d, DEDUCTION_AMOUNT_POSITIVE, "deductions", lambda: d.adjust("A1", [], RECEIVED))
    rejected(
        d,
        DEDUCTION_AMOUNT_POSITIVE,
        "deductions[0].amount_fen",
        lambda: d.adjust("A1", [Deduction(C.tax, 0)], RECEIVED),
    )


# --- properties ----------------------------------------------------------------------------

KEYS = [ZHANG, LI, WANG, "department", "institution"]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, yuan("2,000,000.00")),
    st.lists(
        st.tuples(st.sampled_from(KEYS), st.integers(1, yuan("300,000.00")), st.booleans()),
        max_size=25,
    ),
)
def test_payments_never_exceed_allocations(
    gross: int, attempts: list[tuple[str, int, bool]]
) -> None:
    d = distribution(gross_fen=gross, deductions=[])
    for n, (key, amount, adjust) in enumerate(attempts):
        if adjust and n % 5 == 0:
            d.adjust(f"A{n}", [Deduction(C.tax, amount)], RECEIVED)
            continue
        unpaid = d.unpaid_fen(key)
        try:
            d.pay_award(key, amount, RECEIVED, f"P{n}")
        except DomainError as err:
            assert err.rule is aw.AWARD_PAYMENT_WITHIN_UNPAID and amount > unpaid
        else:
            assert amount <= unpaid and d.paid[key] <= d.allocated[key]
    for key in KEYS:
        # only a later deduction can leave a line paid beyond its allocation: the excess is
        # raised as a recovery, so paid less raised is what is allocated and not unpaid
        assert d.paid.get(key, 0) - d.raised.get(key, 0) == d.allocated[key] - d.unpaid_fen(key)
        assert d.unpaid_fen(key) >= 0 and d.overpaid() == {}
    assert sum(line.amount_fen for line in d.allocation.lines) == d.net_income.net_fen
    assert_rebuilds(d)


def test_adjusted_event_lines_are_the_journal_deltas() -> None:
    d = distribution()
    d.adjust("A1", [Deduction(C.valuation, yuan("10,000.00"))], date(2024, 2, 1))
    _, adjusted = assert_rebuilds(d)
    assert adjusted.adjustment.lines == (
        AllocationLine(TEAM, "张三", -233_310),
        AllocationLine(TEAM, "李四", -233_310),
        AllocationLine(TEAM, "王五", -233_380),
        AllocationLine(DEPT, None, -150_000),
        AllocationLine(d.allocation.lines[-1].beneficiary, None, -150_000),
    )
    assert adjusted.adjustment.delta_fen == -yuan("10,000.00")
    assert adjusted.net_income.net_fen == yuan("910,000.00")
