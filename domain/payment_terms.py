"""Payment terms of a technology contract (Civil Code Art. 846), in any combination.

Art. 846 lets the parties pay a lump sum at once, a lump sum in
installments, a royalty (提成) on sales, profit or added value at a fixed,
rising or falling rate, or a royalty plus an upfront entry fee (入门费).
``PaymentTerms`` holds all of them at once, plus milestone payments and a
deferred start (Hunan's 延期起付), so one value object describes every mode.

Terms are what was agreed; what has fallen due and been paid lives in
``domain.settlement``. Dates that depend on when the contract starts to pay
(its effective date, or a UFPL conversion) are relative: ``days_after_start``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from domain.errors import require, rule
from domain.inputs import Days, Fen, Fraction, Label, items
from domain.money import split_largest_remainder
from domain.serialisable import domain_enum, value_object

G = "payment_terms"
CIVIL_CODE_846 = "民法典 第846条"

INSTALLMENTS_SUM_TO_FIXED_PRICE = rule(
    "installments_sum_to_fixed_price",
    "The installments of a fixed price add up to that price exactly, to the fen; "
    "a fixed price with no installments is not a schedule.",
    source=CIVIL_CODE_846,
    group=G,
)
PAYMENT_AMOUNT_POSITIVE = rule(
    "payment_amount_positive",
    "Every agreed installment, entry fee and milestone payment is a positive number of fen; "
    "the fixed price and the minimum annual royalty are not negative.",
    group=G,
)
INSTALLMENT_DUE_DATE_ONE_WAY = rule(
    "installment_due_date_one_way",
    "An installment is due either on a fixed date or a number of days (>= 0) after payments "
    "start, not both.",
    group=G,
)
DUE_DATE_BEFORE_PAYMENT_START = rule(
    "due_date_before_payment_start",
    "With a deferred start (延期起付), no fixed due date falls before the agreed start date.",
    source="湖南 先使用后付费 (里程碑付费、延期起付)",
    group=G,
)
ROYALTY_RATE_IN_RANGE = rule(
    "royalty_rate_in_range",
    "A royalty rate is a fraction between 0 and 1 inclusive (0.05 is 5%).",
    source=CIVIL_CODE_846,
    group=G,
)
ROYALTY_TIERS_ASCENDING = rule(
    "royalty_tiers_ascending",
    "Royalty tiers start at the first contract year (1) or at a base of 0 fen and their "
    "thresholds rise strictly; a fixed rate is exactly one tier at 0.",
    source=CIVIL_CODE_846,
    group=G,
)
REPORT_PERIOD_VALID = rule(
    "report_period_valid",
    "A reported period (royalty base, licensee revenue) starts no later than it ends, lies "
    "within the time the contract pays or runs, and does not overlap an earlier report.",
    group=G,
)
MILESTONE_NAMES_UNIQUE = rule(
    "milestone_names_unique",
    "Milestone names are non-blank and unique within a contract (payment and UFPL trigger "
    "milestones together), so reaching one names it unambiguously.",
    group=G,
)


@domain_enum
class RoyaltyBase(StrEnum):
    """What a royalty is a percentage of (Art. 846: 销售额, 利润, 新增产值)."""

    sales = "sales"
    profit = "profit"
    added_value = "added_value"


@domain_enum
class ReportingPeriod(StrEnum):
    """How often the licensee reports the royalty base."""

    month = "month"
    quarter = "quarter"
    year = "year"


@domain_enum
class RateTiering(StrEnum):
    """Fixed rate, or a rate that rises or falls by contract year or by base amount."""

    fixed = "fixed"
    contract_year = "contract_year"
    base_amount = "base_amount"


@value_object
@dataclass(frozen=True)
class Installment:
    """One scheduled payment: on ``due_on``, or ``days_after_start`` days after payments start."""

    amount_fen: Fen
    due_on: date | None = None
    days_after_start: Days = 0


@value_object
@dataclass(frozen=True)
class RoyaltyTier:
    """From ``threshold`` on, ``rate`` applies.

    ``threshold`` is a contract year (1 = the first twelve months) for
    contract-year tiering, or a cumulative base in fen within the contract
    year for base-amount tiering.
    """

    threshold: Fen
    rate: Fraction


@value_object
@dataclass(frozen=True)
class RoyaltyTerms:
    base: RoyaltyBase
    tiering: RateTiering
    tiers: Annotated[tuple[RoyaltyTier, ...], items(50)]
    reporting_period: ReportingPeriod = ReportingPeriod.quarter
    minimum_annual_fen: Fen = 0
    days_to_pay: Days = 30  # after the end of the reported period

    @classmethod
    def fixed_rate(
        cls,
        base: RoyaltyBase,
        rate: Decimal,
        reporting_period: ReportingPeriod = ReportingPeriod.quarter,
        minimum_annual_fen: int = 0,
        days_to_pay: int = 30,
    ) -> RoyaltyTerms:
        return cls(
            base,
            RateTiering.fixed,
            (RoyaltyTier(0, rate),),
            reporting_period,
            minimum_annual_fen,
            days_to_pay,
        )


@value_object
@dataclass(frozen=True)
class Milestone:
    """A payment that falls due ``days_to_pay`` days after the named milestone is reached."""

    name: Label
    amount_fen: Fen
    days_to_pay: Days = 0


@value_object
@dataclass(frozen=True)
class PaymentTerms:
    """Every Art. 846 mode at once; leave out what the contract does not use.

    ``fixed_price_fen`` is paid by ``installments`` (a lump sum is one
    installment). The entry fee and milestone payments come on top of it.
    """

    fixed_price_fen: Fen = 0
    installments: Annotated[tuple[Installment, ...], items(120)] = ()
    entry_fee: Installment | None = None
    royalty: RoyaltyTerms | None = None
    milestones: Annotated[tuple[Milestone, ...], items(50)] = ()
    payments_start_on: date | None = None

    @classmethod
    def lump_sum(
        cls, amount_fen: int, due_on: date | None = None, days_after_start: int = 0
    ) -> PaymentTerms:
        return cls(amount_fen, (Installment(amount_fen, due_on, days_after_start),))

    @property
    def fixed_total_fen(self) -> int:
        """What the terms promise regardless of royalties: price, entry fee, milestones."""
        entry = self.entry_fee.amount_fen if self.entry_fee else 0
        return self.fixed_price_fen + entry + sum(m.amount_fen for m in self.milestones)

    @property
    def is_empty(self) -> bool:
        return self.fixed_total_fen == 0 and self.royalty is None


def equal_installments(total_fen: int, due_dates: Sequence[date]) -> tuple[Installment, ...]:
    """An equal schedule over ``due_dates``; the odd fen go to the earliest ones."""
    parts = split_largest_remainder(total_fen, [1] * len(due_dates))
    return tuple(Installment(amount, on) for amount, on in zip(parts, due_dates, strict=True))


def check_payment_terms(terms: PaymentTerms, field: str = "payment_terms") -> None:
    """Raise ``DomainError`` for the first broken rule of ``terms``."""
    require(
        terms.fixed_price_fen >= 0,
        PAYMENT_AMOUNT_POSITIVE,
        f"{field}.fixed_price_fen",
        f"{terms.fixed_price_fen} is negative",
        zh=f"{terms.fixed_price_fen} 为负数",
    )
    for i, inst in enumerate(terms.installments):
        _check_installment(inst, terms.payments_start_on, f"{field}.installments[{i}]")
    total = sum(i.amount_fen for i in terms.installments)
    require(
        total == terms.fixed_price_fen,
        INSTALLMENTS_SUM_TO_FIXED_PRICE,
        f"{field}.installments",
        f"installments sum to {total} fen, the fixed price is {terms.fixed_price_fen} fen",
        zh=f"分期款合计 {total} 分，固定价款为 {terms.fixed_price_fen} 分",
    )
    if terms.entry_fee is not None:
        _check_installment(terms.entry_fee, terms.payments_start_on, f"{field}.entry_fee")
    names: set[str] = set()
    for i, m in enumerate(terms.milestones):
        path = f"{field}.milestones[{i}]"
        require(
            bool(m.name.strip()) and m.name not in names,
            MILESTONE_NAMES_UNIQUE,
            f"{path}.name",
            f"milestone name {m.name!r} is blank or repeated",
            zh=f"里程碑名称 {m.name!r} 为空白或重复",
        )
        names.add(m.name)
        require(
            m.amount_fen > 0,
            PAYMENT_AMOUNT_POSITIVE,
            f"{path}.amount_fen",
            f"{m.amount_fen} is not positive",
            zh=f"{m.amount_fen} 不是正数",
        )
        require(
            m.days_to_pay >= 0, INSTALLMENT_DUE_DATE_ONE_WAY, f"{path}.days_to_pay", "negative days",
            zh="天数为负数"
        )
    if terms.royalty is not None:
        check_royalty_terms(terms.royalty, f"{field}.royalty")


def _check_installment(inst: Installment, start_on: date | None, path: str) -> None:
    require(
        inst.amount_fen > 0,
        PAYMENT_AMOUNT_POSITIVE,
        f"{path}.amount_fen",
        f"{inst.amount_fen} is not positive",
        zh=f"{inst.amount_fen} 不是正数",
    )
    require(
        inst.days_after_start >= 0 and (inst.due_on is None or inst.days_after_start == 0),
        INSTALLMENT_DUE_DATE_ONE_WAY,
        f"{path}.days_after_start",
        "give a due date or a non-negative number of days after the start, not both",
        zh="到期日与起付后天数（不得为负）须二选一，不得两者兼有",
    )
    if inst.due_on is not None and start_on is not None:
        require(
            inst.due_on >= start_on,
            DUE_DATE_BEFORE_PAYMENT_START,
            f"{path}.due_on",
            f"{inst.due_on} is before payments start on {start_on}",
            zh=f"{inst.due_on} 早于起付日 {start_on}",
        )


def check_royalty_terms(royalty: RoyaltyTerms, field: str) -> None:
    require(
        royalty.minimum_annual_fen >= 0,
        PAYMENT_AMOUNT_POSITIVE,
        f"{field}.minimum_annual_fen",
        f"{royalty.minimum_annual_fen} is negative",
        zh=f"{royalty.minimum_annual_fen} 为负数",
    )
    require(
        royalty.days_to_pay >= 0,
        INSTALLMENT_DUE_DATE_ONE_WAY,
        f"{field}.days_to_pay",
        "negative days",
        zh="天数为负数",
    )
    first = {RateTiering.fixed: 0, RateTiering.contract_year: 1, RateTiering.base_amount: 0}[
        royalty.tiering
    ]
    tiers = royalty.tiers
    require(
        bool(tiers)
        and tiers[0].threshold == first
        and (royalty.tiering != RateTiering.fixed or len(tiers) == 1),
        ROYALTY_TIERS_ASCENDING,
        f"{field}.tiers",
        f"{royalty.tiering} tiering starts with one tier at {first}",
        zh=f"{royalty.tiering} 提成须从起点为 {first} 的一档开始",
    )
    for i, tier in enumerate(tiers):
        require(
            Decimal(0) <= tier.rate <= Decimal(1),
            ROYALTY_RATE_IN_RANGE,
            f"{field}.tiers[{i}].rate",
            f"{tier.rate} is not between 0 and 1",
            zh=f"{tier.rate} 不在 0 至 1 之间",
        )
        if i:
            require(
                tier.threshold > tiers[i - 1].threshold,
                ROYALTY_TIERS_ASCENDING,
                f"{field}.tiers[{i}].threshold",
                f"{tier.threshold} does not rise above {tiers[i - 1].threshold}",
                zh=f"{tier.threshold} 不高于 {tiers[i - 1].threshold}",
            )


# --- dates --------------------------------------------------------------------


def add_years(start: date, years: int) -> date:
    """The same day ``years`` later; 29 February falls back to the 28th."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def contract_year_of(start: date, on: date) -> int:
    """Contract year of ``on`` (1 = the twelve months from ``start``)."""
    year = 1
    while add_years(start, year) <= on:
        year += 1
    return year


def contract_year_end(start: date, year: int) -> date:
    """Last day of contract year ``year``."""
    return add_years(start, year) - timedelta(days=1)


def check_report_period(
    start: date,
    end: date,
    earliest: date,
    latest: date | None,
    earlier: Sequence[tuple[date, date]],
    field: str = "period_start",
) -> None:
    """A period inside [earliest, latest] that overlaps none of ``earlier``."""
    require(start <= end, REPORT_PERIOD_VALID, field, f"period starts {start}, after its end {end}",
            zh=f"期间开始于 {start}，晚于其结束 {end}")
    require(start >= earliest, REPORT_PERIOD_VALID, field, f"{start} is before {earliest}",
            zh=f"{start} 早于 {earliest}")
    if latest is not None:
        require(end <= latest, REPORT_PERIOD_VALID, "period_end", f"{end} is after {latest}",
                zh=f"{end} 晚于 {latest}")
    for s, e in earlier:
        require(
            end < s or start > e,
            REPORT_PERIOD_VALID,
            field,
            f"{start}..{end} overlaps the reported period {s}..{e}",
            zh=f"{start}..{end} 与已报告的期间 {s}..{e} 重叠",
        )


def installment_due_on(inst: Installment, start_on: date, payments_start_on: date | None) -> date:
    """Due date once payments start; relative dates never fall before a deferred start."""
    due = (
        inst.due_on if inst.due_on is not None else start_on + timedelta(days=inst.days_after_start)
    )
    return max(due, payments_start_on) if payments_start_on else due


# --- royalties ----------------------------------------------------------------


def _round_fen(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _rate_for(tiers: Sequence[RoyaltyTier], level: int) -> Decimal:
    rate = tiers[0].rate
    for tier in tiers:
        if tier.threshold <= level:
            rate = tier.rate
    return rate


def _marginal(tiers: Sequence[RoyaltyTier], cumulative_fen: int) -> Decimal:
    """Royalty on a cumulative base, each slice at its own tier's rate."""
    total = Decimal(0)
    for i, tier in enumerate(tiers):
        if cumulative_fen <= tier.threshold:
            break
        upper = tiers[i + 1].threshold if i + 1 < len(tiers) else cumulative_fen
        total += (min(cumulative_fen, upper) - tier.threshold) * tier.rate
    return total


def royalty_due_fen(
    royalty: RoyaltyTerms, contract_year: int, base_before_fen: int, base_fen: int
) -> int:
    """Royalty on ``base_fen`` reported in ``contract_year``, half-up to the fen.

    Fixed and contract-year rates: rate × base. Base-amount tiers are
    marginal over the base accumulated in the contract year
    (``base_before_fen`` is what earlier reports of that year declared), so a
    year reported monthly owes the same as the same year reported at once.
    """
    if royalty.tiering == RateTiering.base_amount:
        after = _round_fen(_marginal(royalty.tiers, base_before_fen + base_fen))
        return after - _round_fen(_marginal(royalty.tiers, base_before_fen))
    level = contract_year if royalty.tiering == RateTiering.contract_year else 0
    return _round_fen(_rate_for(royalty.tiers, level) * base_fen)


def effective_rate(royalty: RoyaltyTerms, contract_year: int, base_before_fen: int) -> Decimal:
    """Rate of the next fen of base: the rate a report "is at" (for display and events)."""
    level = {
        RateTiering.fixed: 0,
        RateTiering.contract_year: contract_year,
        RateTiering.base_amount: base_before_fen,
    }[royalty.tiering]
    return _rate_for(royalty.tiers, level)
