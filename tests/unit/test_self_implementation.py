"""Self-implementation (自行实施 / 合作实施): yearly operating-profit reports."""

from __future__ import annotations

from decimal import Decimal

from domain.self_implementation import (
    PROFIT_REPORTED_ONCE_PER_YEAR,
    PROFIT_YEAR_IN_RANGE,
    SELF_IMPLEMENTATION_ACTIVE,
    SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR,
    SELF_IMPLEMENTATION_PARTNER_DISTINCT,
    ProfitReport,
    SelfImplementation,
    SelfImplementationAward,
)
from tests.unit.contract_support import (
    ACHIEVEMENT,
    BUYER,
    SELLER,
    WAN,
    assert_rebuilds,
    assert_rejected,
    d,
    event_names,
)


def project() -> SelfImplementation:
    return SelfImplementation.start(
        institution_id=SELLER, achievement_id=ACHIEVEMENT, started_on=d("2022-03-01")
    )


def test_partner_is_another_institution() -> None:
    assert_rejected(
        None,
        SELF_IMPLEMENTATION_PARTNER_DISTINCT,
        "partner_id",
        lambda: SelfImplementation.start(
            institution_id=SELLER,
            achievement_id=ACHIEVEMENT,
            started_on=d("2022-03-01"),
            partner_id=SELLER,
        ),
    )
    cooperative = SelfImplementation.start(
        institution_id=SELLER,
        achievement_id=ACHIEVEMENT,
        started_on=d("2022-03-01"),
        partner_id=BUYER,
    )
    assert cooperative.is_cooperative


def test_one_report_per_year_corrections_replace_it() -> None:
    p = project()
    p.report_profit(2022, -30 * WAN, d("2023-03-31"))
    assert_rejected(
        p,
        PROFIT_REPORTED_ONCE_PER_YEAR,
        "year",
        lambda: p.report_profit(2022, WAN, d("2023-04-01")),
    )
    p.correct_profit(2022, -25 * WAN, d("2023-06-30"), "审计调整")
    assert p.profit_by_year == {2022: -25 * WAN}
    assert p.report_history[0] == ProfitReport(2022, -30 * WAN, d("2023-03-31"))


def test_correction_needs_a_report_and_a_reason() -> None:
    p = project()
    assert_rejected(
        p,
        PROFIT_REPORTED_ONCE_PER_YEAR,
        "year",
        lambda: p.correct_profit(2022, WAN, d("2023-06-30"), "x"),
    )
    p.report_profit(2022, WAN, d("2023-03-31"))
    assert_rejected(
        p,
        PROFIT_REPORTED_ONCE_PER_YEAR,
        "reason",
        lambda: p.correct_profit(2022, WAN, d("2023-06-30"), ""),
    )


def test_years_from_start_to_the_reporting_year() -> None:
    p = project()
    assert_rejected(
        p, PROFIT_YEAR_IN_RANGE, "year", lambda: p.report_profit(2021, WAN, d("2023-01-01"))
    )
    assert_rejected(
        p, PROFIT_YEAR_IN_RANGE, "year", lambda: p.report_profit(2024, WAN, d("2023-12-31"))
    )


def test_stopping() -> None:
    p = project()
    assert_rejected(p, SELF_IMPLEMENTATION_ACTIVE, "on", lambda: p.stop(d("2022-02-28"), "停产"))
    p.stop(d("2024-06-30"), "停产")
    assert_rejected(p, SELF_IMPLEMENTATION_ACTIVE, "on", lambda: p.stop(d("2024-07-01"), "again"))
    assert_rejected(
        p, PROFIT_YEAR_IN_RANGE, "year", lambda: p.report_profit(2025, WAN, d("2026-03-31"))
    )
    p.report_profit(2024, WAN, d("2025-03-31"))


def test_long_run_with_loss_then_profit() -> None:
    p = project()
    p.report_profit(2022, -30 * WAN, d("2023-03-31"))
    p.report_profit(2023, 0, d("2024-03-31"))
    p.report_profit(2024, 120 * WAN, d("2025-03-31"))
    p.report_profit(2025, 150 * WAN, d("2026-03-31"))
    p.correct_profit(2024, 118 * WAN, d("2025-07-01"), "审计调整")
    assert p.first_profitable_year == 2024
    assert p.profit_by_year == {2022: -30 * WAN, 2023: 0, 2024: 118 * WAN, 2025: 150 * WAN}
    names = event_names(assert_rebuilds(p))
    assert names == ["Started", *["ProfitReported"] * 4, "ProfitReportCorrected"]


def award(year: int, fen: int, lines: tuple[tuple[str, int], ...]) -> SelfImplementationAward:
    return SelfImplementationAward(year, 20 * fen, fen, Decimal(5), lines, "beijing", "2020", d("2025-02-01"))


def test_award_once_per_reported_year_and_lines_add_up() -> None:
    project_ = project()
    project_.report_profit(2023, 200 * WAN, d("2024-01-10"))
    project_.allocate_award(award(2023, 10 * WAN, (("王五", 6 * WAN), ("赵六", 4 * WAN))))
    assert [a.year for a in project_.awards] == [2023]
    assert_rejected(project_, SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR, "year",
                    lambda: project_.allocate_award(award(2023, 10 * WAN, (("王五", 10 * WAN),))))
    assert_rejected(project_, SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR, "year",
                    lambda: project_.allocate_award(award(2022, 10 * WAN, (("王五", 10 * WAN),))))
    project_.report_profit(2024, 100 * WAN, d("2025-01-10"))
    assert_rejected(project_, SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR, "lines",
                    lambda: project_.allocate_award(award(2024, 5 * WAN, (("王五", 4 * WAN),))))
    assert_rebuilds(project_)
