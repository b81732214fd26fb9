"""Payment terms (Civil Code Art. 846): rules, schedules and royalty arithmetic."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.contract import TechnologyContract
from domain.enums import ContractKind
from domain.payment_terms import (
    DUE_DATE_BEFORE_PAYMENT_START,
    INSTALLMENT_DUE_DATE_ONE_WAY,
    INSTALLMENTS_SUM_TO_FIXED_PRICE,
    MILESTONE_NAMES_UNIQUE,
    PAYMENT_AMOUNT_POSITIVE,
    ROYALTY_RATE_IN_RANGE,
    ROYALTY_TIERS_ASCENDING,
    Installment,
    Milestone,
    PaymentTerms,
    RateTiering,
    RoyaltyBase,
    RoyaltyTerms,
    RoyaltyTier,
    add_years,
    check_payment_terms,
    contract_year_end,
    contract_year_of,
    equal_installments,
    royalty_due_fen,
)
from domain.settlement import scheduled_items
from tests.unit.contract_support import WAN, assert_rejected, d, make_terms

ROYALTY = RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.05"))


def draft(terms: PaymentTerms, contract_value: int = 100 * WAN) -> TechnologyContract:
    return TechnologyContract.draft(
        terms=make_terms(
            ContractKind.licence,
            payment_terms=terms,
            contract_value_fen=contract_value,
            transaction_value_fen=0,
        ),
        drafted_on=d("2024-01-02"),
    )


# --- rules ---------------------------------------------------------------------------


def test_installments_must_sum_to_the_fixed_price() -> None:
    terms = PaymentTerms(10 * WAN, (Installment(5 * WAN), Installment(5 * WAN - 1)))
    assert_rejected(
        None, INSTALLMENTS_SUM_TO_FIXED_PRICE, "payment_terms.installments", lambda: draft(terms)
    )


def test_fixed_price_without_installments_is_not_a_schedule() -> None:
    assert_rejected(
        None,
        INSTALLMENTS_SUM_TO_FIXED_PRICE,
        "payment_terms.installments",
        lambda: draft(PaymentTerms(10 * WAN)),
    )


def test_installment_amounts_are_positive() -> None:
    terms = PaymentTerms(10 * WAN, (Installment(10 * WAN + 1), Installment(-1)))
    assert_rejected(
        None,
        PAYMENT_AMOUNT_POSITIVE,
        "payment_terms.installments[1].amount_fen",
        lambda: draft(terms),
    )


def test_milestone_amounts_are_positive() -> None:
    terms = PaymentTerms(milestones=(Milestone("launch", 0),))
    assert_rejected(
        None,
        PAYMENT_AMOUNT_POSITIVE,
        "payment_terms.milestones[0].amount_fen",
        lambda: draft(terms),
    )


def test_installment_has_one_kind_of_due_date() -> None:
    terms = PaymentTerms.lump_sum(WAN, due_on=d("2024-05-01"), days_after_start=10)
    assert_rejected(
        None,
        INSTALLMENT_DUE_DATE_ONE_WAY,
        "payment_terms.installments[0].days_after_start",
        lambda: draft(terms),
    )


def test_fixed_due_date_not_before_deferred_start() -> None:
    terms = replace(
        PaymentTerms.lump_sum(WAN, due_on=d("2024-05-01")), payments_start_on=d("2024-06-01")
    )
    assert_rejected(
        None,
        DUE_DATE_BEFORE_PAYMENT_START,
        "payment_terms.installments[0].due_on",
        lambda: draft(terms),
    )


def test_royalty_rate_is_a_fraction() -> None:
    terms = PaymentTerms(royalty=RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal(5)))
    assert_rejected(
        None, ROYALTY_RATE_IN_RANGE, "payment_terms.royalty.tiers[0].rate", lambda: draft(terms)
    )


def test_royalty_tiers_rise() -> None:
    tiers = (
        RoyaltyTier(1, Decimal("0.05")),
        RoyaltyTier(3, Decimal("0.04")),
        RoyaltyTier(3, Decimal("0.03")),
    )
    terms = PaymentTerms(royalty=RoyaltyTerms(RoyaltyBase.profit, RateTiering.contract_year, tiers))
    assert_rejected(
        None,
        ROYALTY_TIERS_ASCENDING,
        "payment_terms.royalty.tiers[2].threshold",
        lambda: draft(terms),
    )


def test_royalty_tiers_start_at_the_first_year() -> None:
    tiers = (RoyaltyTier(2, Decimal("0.05")),)
    terms = PaymentTerms(royalty=RoyaltyTerms(RoyaltyBase.profit, RateTiering.contract_year, tiers))
    assert_rejected(
        None, ROYALTY_TIERS_ASCENDING, "payment_terms.royalty.tiers", lambda: draft(terms)
    )


def test_milestone_names_are_unique() -> None:
    terms = PaymentTerms(milestones=(Milestone("launch", WAN), Milestone("launch", WAN)))
    assert_rejected(
        None, MILESTONE_NAMES_UNIQUE, "payment_terms.milestones[1].name", lambda: draft(terms)
    )


def test_all_modes_combine() -> None:
    terms = PaymentTerms(
        fixed_price_fen=30 * WAN,
        installments=equal_installments(
            30 * WAN, [d("2024-03-01"), d("2024-09-01"), d("2025-03-01")]
        ),
        entry_fee=Installment(5 * WAN, days_after_start=15),
        royalty=ROYALTY,
        milestones=(Milestone("first sales", 10 * WAN, days_to_pay=30),),
    )
    check_payment_terms(terms)
    assert terms.fixed_total_fen == 45 * WAN
    assert draft(terms).terms.payment_terms == terms


# --- schedules ---------------------------------------------------------------------------


@given(
    total=st.integers(min_value=1, max_value=10**14),
    count=st.integers(min_value=1, max_value=60),
)
def test_equal_schedule_sums_exactly_to_the_price(total: int, count: int) -> None:
    dates = [date(2024, 1, 1) + timedelta(days=30 * i) for i in range(count)]
    schedule = equal_installments(total, dates)
    assert sum(i.amount_fen for i in schedule) == total
    assert max(i.amount_fen for i in schedule) - min(i.amount_fen for i in schedule) <= 1
    # The odd fen go to the earliest installments.
    assert [i.amount_fen for i in schedule] == sorted(
        (i.amount_fen for i in schedule), reverse=True
    )
    if total >= count:
        check_payment_terms(PaymentTerms(total, schedule))


@given(
    parts=st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=20),
    delta=st.integers(min_value=-5, max_value=5),
)
def test_schedules_that_do_not_sum_exactly_are_rejected(parts: list[int], delta: int) -> None:
    terms = PaymentTerms(sum(parts) + delta, tuple(Installment(p) for p in parts))
    try:
        check_payment_terms(terms)
        accepted = True
    except Exception:
        accepted = False
    assert accepted == (delta == 0)


def test_schedule_materialises_relative_and_fixed_dates_after_deferred_start() -> None:
    terms = PaymentTerms(
        fixed_price_fen=3 * WAN,
        installments=(
            Installment(WAN),
            Installment(WAN, days_after_start=90),
            Installment(WAN, d("2025-01-01")),
        ),
        entry_fee=Installment(WAN, days_after_start=10),
        payments_start_on=d("2024-03-01"),
    )
    items = scheduled_items(terms, d("2024-02-01"))
    assert [(i.item_id, i.due_on, i.amount_fen) for i in items] == [
        ("entry-fee", d("2024-03-01"), WAN),  # 2024-02-11 deferred to the agreed start
        ("installment-1", d("2024-03-01"), WAN),
        ("installment-2", d("2024-05-01"), WAN),
        ("installment-3", d("2025-01-01"), WAN),
    ]


# --- royalties -----------------------------------------------------------------------------


def test_fixed_royalty_rounds_half_up_to_the_fen() -> None:
    royalty = RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.05"))
    assert royalty_due_fen(royalty, 1, 0, 10) == 1  # 0.5 fen rounds up
    assert royalty_due_fen(royalty, 1, 0, 9) == 0  # 0.45 fen rounds down
    assert royalty_due_fen(royalty, 1, 0, 100 * WAN) == 5 * WAN


def test_contract_year_tiers_rise_or_fall_by_year() -> None:
    tiers = (
        RoyaltyTier(1, Decimal("0.03")),
        RoyaltyTier(3, Decimal("0.05")),
        RoyaltyTier(5, Decimal("0.02")),
    )
    royalty = RoyaltyTerms(RoyaltyBase.sales, RateTiering.contract_year, tiers)
    assert [royalty_due_fen(royalty, y, 0, 100 * WAN) for y in (1, 2, 3, 4, 5, 9)] == [
        3 * WAN,
        3 * WAN,
        5 * WAN,
        5 * WAN,
        2 * WAN,
        2 * WAN,
    ]


def test_base_amount_tiers_are_marginal_over_the_year() -> None:
    tiers = (RoyaltyTier(0, Decimal("0.05")), RoyaltyTier(100 * WAN, Decimal("0.03")))
    royalty = RoyaltyTerms(RoyaltyBase.sales, RateTiering.base_amount, tiers)
    # 150万 in one report: 5% of 100万 + 3% of 50万.
    assert royalty_due_fen(royalty, 1, 0, 150 * WAN) == 5 * WAN + WAN + WAN // 2
    # The same base reported in three parts owes the same.
    parts = [
        royalty_due_fen(royalty, 1, 0, 80 * WAN),
        royalty_due_fen(royalty, 1, 80 * WAN, 40 * WAN),
    ]
    parts.append(royalty_due_fen(royalty, 1, 120 * WAN, 30 * WAN))
    assert sum(parts) == 6 * WAN + WAN // 2


@given(
    bases=st.lists(st.integers(min_value=0, max_value=10**11), min_size=1, max_size=12),
    rate1=st.decimals(min_value=0, max_value=1, places=4),
    rate2=st.decimals(min_value=0, max_value=1, places=4),
    threshold=st.integers(min_value=1, max_value=10**11),
)
def test_base_amount_tiers_do_not_depend_on_how_the_year_is_split(
    bases: list[int], rate1: Decimal, rate2: Decimal, threshold: int
) -> None:
    royalty = RoyaltyTerms(
        RoyaltyBase.sales,
        RateTiering.base_amount,
        (RoyaltyTier(0, rate1), RoyaltyTier(threshold, rate2)),
    )
    before = 0
    total = 0
    for base in bases:
        part = royalty_due_fen(royalty, 1, before, base)
        assert part >= 0
        total += part
        before += base
    assert total == royalty_due_fen(royalty, 1, 0, before)


def test_contract_years() -> None:
    start = d("2024-02-29")
    assert add_years(start, 1) == d("2025-02-28")
    assert contract_year_of(d("2024-02-01"), d("2024-02-01")) == 1
    assert contract_year_of(d("2024-02-01"), d("2025-01-31")) == 1
    assert contract_year_of(d("2024-02-01"), d("2025-02-01")) == 2
    assert contract_year_end(d("2024-02-01"), 1) == d("2025-01-31")
