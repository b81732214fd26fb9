"""Paying self-implementation awards in parts, with the 36-month deadline (财税〔2018〕58号).

Worked by hand: the 2023 award of 100,000.00 yuan (5% of 2,000,000.00 operating profit) is
allocated on 2025-02-01 to 王五 60,000.00 and 赵六 40,000.00. The 36 months run from the
allocation date, so the deadline is 2028-02-01 (a payment on that day is in time).
"""

from __future__ import annotations

from datetime import date

from domain.award import DeadlineStatus
from domain.self_implementation import (
    SELF_IMPLEMENTATION_AWARD_PAYMENT_ID_UNIQUE,
    SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN,
    SELF_IMPLEMENTATION_AWARD_PAYMENT_WITHIN_UNPAID,
    SelfImplementation,
)
from tests.unit.contract_support import WAN, assert_rebuilds, assert_rejected, d, event_names
from tests.unit.test_self_implementation import award, project


def allocated() -> SelfImplementation:
    p = project()
    p.report_profit(2023, 200 * WAN, d("2024-01-10"))
    p.allocate_award(award(2023, 10 * WAN, (("王五", 6 * WAN), ("赵六", 4 * WAN))))
    return p


def test_deadline_runs_36_months_from_the_allocation() -> None:
    p = allocated()
    assert p.awards[0].allocated_on == date(2025, 2, 1)
    assert p.awards[0].deadline_on == date(2028, 2, 1)
    # A late payment is flagged by this rule, never refused (see test_deadline_status_like_cash_awards).
    assert p.awards[0].deadline_rule == "self_implementation_award_deadline"


def test_paid_in_parts_never_more_than_the_line() -> None:
    p = allocated()
    p.pay_award(2023, "王五", 3 * WAN, d("2025-03-01"), "SI-1")  # 30,000.00
    assert p.unpaid_fen(2023, "王五") == 3 * WAN
    assert_rejected(p, SELF_IMPLEMENTATION_AWARD_PAYMENT_WITHIN_UNPAID, "amount_fen",
                    lambda: p.pay_award(2023, "王五", 3 * WAN + 1, d("2025-04-01"), "SI-2"))
    p.pay_award(2023, "王五", 3 * WAN, d("2025-06-01"), "SI-2")
    assert p.unpaid_fen(2023, "王五") == 0
    assert p.paid_fen(2023, "王五") == 6 * WAN
    assert p.paid_fen(2023, "王五", as_of=d("2025-05-31")) == 3 * WAN
    assert_rejected(p, SELF_IMPLEMENTATION_AWARD_PAYMENT_WITHIN_UNPAID, "amount_fen",
                    lambda: p.pay_award(2023, "王五", 1, d("2025-07-01"), "SI-3"))
    assert event_names(assert_rebuilds(p))[-2:] == ["AwardPaid", "AwardPaid"]


def test_duplicate_payment_id_unknown_year_inventor_and_dates_refused() -> None:
    p = allocated()
    p.pay_award(2023, "赵六", 1 * WAN, d("2025-03-01"), "SI-1")
    assert_rejected(p, SELF_IMPLEMENTATION_AWARD_PAYMENT_ID_UNIQUE, "payment_id",
                    lambda: p.pay_award(2023, "王五", 1 * WAN, d("2025-03-02"), "SI-1"))
    assert_rejected(p, SELF_IMPLEMENTATION_AWARD_PAYMENT_ID_UNIQUE, "payment_id",
                    lambda: p.pay_award(2023, "王五", 1 * WAN, d("2025-03-02"), "  "))
    assert_rejected(p, SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN, "year",
                    lambda: p.pay_award(2024, "王五", 1 * WAN, d("2025-03-02"), "SI-2"))
    assert_rejected(p, SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN, "inventor",
                    lambda: p.pay_award(2023, "钱七", 1 * WAN, d("2025-03-02"), "SI-2"))
    assert_rejected(p, SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN, "amount_fen",
                    lambda: p.pay_award(2023, "王五", 0, d("2025-03-02"), "SI-2"))
    assert_rejected(p, SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN, "paid_on",
                    lambda: p.pay_award(2023, "王五", 1 * WAN, d("2025-01-31"), "SI-2"))


def test_deadline_status_like_cash_awards() -> None:
    p = allocated()
    p.pay_award(2023, "王五", 6 * WAN, d("2028-02-01"), "SI-1")  # on the deadline: in time
    p.pay_award(2023, "赵六", 1 * WAN, d("2026-01-01"), "SI-2")
    p.pay_award(2023, "赵六", 3 * WAN, d("2028-02-02"), "SI-3")  # a day late
    assert p.award_payments[0].within_deadline and not p.award_payments[2].within_deadline
    assert p.deadline_status(2023, d("2027-12-31")) == {"王五": DeadlineStatus.open, "赵六": DeadlineStatus.open}
    assert p.deadline_status(2023, d("2028-02-01")) == {
        "王五": DeadlineStatus.paid_in_time, "赵六": DeadlineStatus.open}
    assert p.deadline_status(2023, d("2028-02-02")) == {
        "王五": DeadlineStatus.paid_in_time, "赵六": DeadlineStatus.paid_late}
    q = allocated()
    assert q.deadline_status(2023, d("2028-02-02")) == {
        "王五": DeadlineStatus.overdue, "赵六": DeadlineStatus.overdue}
