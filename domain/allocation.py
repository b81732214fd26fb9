"""Net income (净收入) and its allocation (收益分配): pure functions over value objects.

- ``net_income`` applies a rule pack's definition of net income to the gross
  income of one receipt and its deductions. Deductions of categories the pack
  does not count are kept, as ignored, with the reason (e.g. fiscal R&D funds
  under Zhejiang Art. 37). Net income never goes below 0: when deductions
  exceed the income it is clamped at 0 and ``clamped`` says so.
- ``allocate`` splits one receipt's net income between the beneficiaries of a
  policy version, and the inventor team's part between the inventors, exactly
  to the fen. Cash tiers apply to the cumulative net income received under
  the contract: a receipt that crosses a tier boundary is apportioned across
  the tiers. The exact (rational) amount of each beneficiary is the sum over
  the tiers of tier part x percentage; one largest-remainder split of the net
  income over these exact amounts gives the lines, then one largest-remainder
  split of the team's amount by contribution shares (or overrides) gives the
  inventors' lines. So the lines sum to the net income exactly, none is
  negative, and each line is its exact share rounded down or up by less than
  a fen. In particular the team receives at least its floor rounded down to
  the fen (``team_floor_fen``) whenever the policy meets the floor.
- ``reallocate_delta`` answers a deduction recorded after an allocation: new
  delta lines (nothing edited) that sum to new net - old net.
- ``allocate_equity`` splits a number of shares in the same way (integers).
- ``self_implementation_awards`` computes the yearly awards from operating
  profit for the years a pack prescribes.

Inventor overrides (policy): an overridden inventor's weight in the team is
the override percentage; the inventors not named share what is left
(100 - overrides) in proportion to their contribution shares. When every
inventor of a team is named, the overrides are used as relative weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from domain.achievement import INVENTOR_SHARES_SUM_TO_100  # the same invariant, one rule
from domain.achievement_values import Inventor
from domain.distribution import (
    BENEFICIARY_ORDER,
    DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION,
    SELF_IMPLEMENTATION_YEARS_WITHIN_PACK,
    BeneficiaryKind,
    InventorShare,
    PolicyVersion,
    Split,
    format_percent,
)
from domain.errors import DomainError, require, rule
from domain.money import split_largest_remainder
from domain.rule_packs import (
    CHINESE_LABELS as DEDUCTION_LABELS,
)
from domain.rule_packs import (
    DeductionCategory,
    RulePackVersion,
    SelfImplementationStart,
)
from domain.serialisable import value_object

G = "distribution"
HUNDRED = Decimal(100)
TEAM = BeneficiaryKind.inventor_team

DEDUCTION_AMOUNT_POSITIVE = rule(
    "deduction_amount_positive",
    "A deduction has a known category and a positive amount of fen; an adjustment adds at "
    "least one deduction.",
    group=G,
)
INCOME_AMOUNT_NOT_NEGATIVE = rule(
    "income_amount_not_negative",
    "Gross income, net income to allocate, the cumulative net income before a receipt and a "
    "number of shares to allocate are whole numbers (fen, shares) and not negative.",
    group=G,
)
INVENTOR_SHARES_VALID = rule(
    "inventor_shares_valid",
    "The inventors of a team are named once each (non-blank), each with a contribution share "
    "above 0 given as an exact decimal.",
    group=G,
)
SELF_IMPLEMENTATION_START_GIVEN = rule(
    "self_implementation_start_given",
    "Self-implementation awards counted from production start need the production start year.",
    source="促进科技成果转化法 第45条 (三)",
    group=G,
)


# --- net income ----------------------------------------------------------------------------


@value_object
@dataclass(frozen=True)
class Deduction:
    """A cost claimed against one receipt's income."""

    category: DeductionCategory
    amount_fen: int
    description: str = ""
    reference: str | None = None


@value_object
@dataclass(frozen=True)
class CategoryTotal:
    category: DeductionCategory
    amount_fen: int


@value_object
@dataclass(frozen=True)
class IgnoredDeduction:
    """A deduction the pack does not count, and why (English and Chinese)."""

    deduction: Deduction
    reason: str
    reason_zh: str


@value_object
@dataclass(frozen=True)
class NetIncome:
    """Gross income, the deductions counted (by category) and ignored, and the net."""

    gross_fen: int
    counted: tuple[CategoryTotal, ...]
    ignored: tuple[IgnoredDeduction, ...]
    deductions_fen: int  # counted deductions, before clamping
    net_fen: int
    clamped: bool  # deductions exceeded the income; net_fen is 0
    pack_id: str
    pack_version: str
    defined_by_source: bool  # False: the source leaves net income undefined (ledger default)

    @property
    def shortfall_fen(self) -> int:
        """How far the counted deductions exceed the income (0 unless clamped)."""
        return max(0, self.deductions_fen - self.gross_fen)

    def counted_fen(self, category: DeductionCategory) -> int:
        return next((c.amount_fen for c in self.counted if c.category == category), 0)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_deductions(deductions: Sequence[Deduction], field: str = "deductions") -> None:
    for i, d in enumerate(deductions):
        require(
            isinstance(d, Deduction) and isinstance(d.category, DeductionCategory),
            DEDUCTION_AMOUNT_POSITIVE,
            f"{field}[{i}].category",
            f"{d!r} is not a deduction of a known category",
            zh=f"{d!r} 不是已知类别的扣除项",
        )
        require(
            _whole(d.amount_fen) and d.amount_fen > 0,
            DEDUCTION_AMOUNT_POSITIVE,
            f"{field}[{i}].amount_fen",
            f"{d.amount_fen!r} is not a positive number of fen",
            zh=f"{d.amount_fen!r} 不是正的金额（分）",
        )


def net_income(gross_fen: int, deductions: Sequence[Deduction], pack: RulePackVersion) -> NetIncome:
    """Net income of one receipt under ``pack``'s definition (clamped at 0, flagged)."""
    require(
        _whole(gross_fen) and gross_fen >= 0,
        INCOME_AMOUNT_NOT_NEGATIVE,
        "gross_fen",
        f"{gross_fen!r} is not a non-negative number of fen",
        zh=f"{gross_fen!r} 不是非负的金额（分）",
    )
    check_deductions(deductions)
    definition = pack.net_income
    totals: dict[DeductionCategory, int] = {}
    ignored: list[IgnoredDeduction] = []
    counted_names = ", ".join(definition.counted)
    for d in deductions:
        if definition.counts(d.category):
            totals[d.category] = totals.get(d.category, 0) + d.amount_fen
            continue
        excluded = definition.exclusion(d.category)
        if excluded is not None:
            ignored.append(IgnoredDeduction(d, excluded.reason_en, excluded.reason_zh))
        else:
            ignored.append(
                IgnoredDeduction(
                    d,
                    f"{d.category} is not a deduction under {pack.source} "
                    f"(counted: {counted_names})",
                    f"{DEDUCTION_LABELS[d.category]}不属于{pack.source}规定的扣除项目",
                )
            )
    counted = tuple(CategoryTotal(c, totals[c]) for c in DeductionCategory if c in totals)
    deductions_fen = sum(totals.values())
    net = gross_fen - deductions_fen
    return NetIncome(
        gross_fen=gross_fen,
        counted=counted,
        ignored=tuple(ignored),
        deductions_fen=deductions_fen,
        net_fen=max(net, 0),
        clamped=net < 0,
        pack_id=pack.pack_id,
        pack_version=pack.version,
        defined_by_source=pack.net_income_defined_by_source,
    )


# --- allocation ----------------------------------------------------------------------------


@value_object
@dataclass(frozen=True)
class AllocationLine:
    """``amount_fen`` of a receipt's net income to one beneficiary (one inventor of the team).

    ``key`` names the line in payments: ``inventor:<name>`` for an inventor,
    else the beneficiary code (``inventor_team`` when no inventors are given).
    """

    beneficiary: BeneficiaryKind
    inventor: str | None
    amount_fen: int

    @property
    def key(self) -> str:
        return line_key(self.beneficiary, self.inventor)


def line_key(beneficiary: BeneficiaryKind, inventor: str | None) -> str:
    return f"inventor:{inventor}" if inventor is not None else str(beneficiary)


@value_object
@dataclass(frozen=True)
class BandPortion:
    """The part of a receipt that fell in one cash band (0 = base split, i = tier i-1)."""

    band: int
    starts_at_fen: int  # the band's lower bound of cumulative net income
    amount_fen: int
    team_percent: Decimal


@value_object
@dataclass(frozen=True)
class IncomeAllocation:
    """One receipt's net income split by a policy version (lines sum to ``net_fen``)."""

    net_fen: int
    cumulative_before_fen: int
    lines: tuple[AllocationLine, ...]
    portions: tuple[BandPortion, ...]
    inventors: tuple[InventorShare, ...]
    policy: PolicyVersion
    policy_version: str
    pack_id: str  # the pack that judged the floor (the receipt date's), stamped
    pack_version: str
    floor_percent: Decimal
    below_floor: bool

    @property
    def team_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines if line.beneficiary == TEAM)

    @property
    def team_floor_fen(self) -> int:
        """The floor in whole fen: net x floor%, rounded down."""
        return _percent_floor(self.net_fen, self.floor_percent)

    def amounts(self) -> dict[str, int]:
        return {line.key: line.amount_fen for line in self.lines}

    def amount(self, key: str) -> int:
        return self.amounts().get(key, 0)


Allocation = IncomeAllocation  # the name the issue uses


@value_object
@dataclass(frozen=True)
class AllocationAdjustment:
    """Delta lines (new entries) taking an allocation from ``previous_net_fen`` to ``net_fen``."""

    previous_net_fen: int
    net_fen: int
    delta_fen: int
    lines: tuple[AllocationLine, ...]  # amount_fen is a delta, may be negative; no zero lines
    revised: IncomeAllocation


def _percent_floor(amount: int, percent: Decimal) -> int:
    return int((Decimal(amount) * percent / HUNDRED).to_integral_value(rounding=ROUND_FLOOR))


def _split(total: int, weights: Sequence[Decimal]) -> list[int]:
    """Largest remainder at a precision that keeps products of fen and percentages exact."""
    if total == 0 or not any(weights):
        return [0] * len(weights)
    with localcontext() as ctx:
        ctx.prec = 60
        return split_largest_remainder(total, weights)


TeamInput = Sequence[InventorShare | Inventor | tuple[str, Decimal | int | str]]


def make_inventors(inventors: TeamInput) -> tuple[InventorShare, ...]:
    """Validate a team: names once each, shares above 0 summing to exactly 100.

    Accepts ``InventorShare``, the achievement's ``Inventor`` (name, share) or
    ``(name, share)`` pairs; an inventor's line is keyed by the name.
    """
    made: list[InventorShare] = []
    seen: set[str] = set()
    for i, item in enumerate(inventors):
        name: object
        share: object
        if isinstance(item, InventorShare):
            name, share = item.inventor, item.percent
        elif isinstance(item, Inventor):
            name, share = item.name, item.share
        else:
            name, share = item
        field = f"inventors[{i}]"
        require(
            isinstance(name, str) and bool(name.strip()),
            INVENTOR_SHARES_VALID,
            f"{field}.inventor",
            "an inventor is named",
            zh="须写明成果完成人",
        )
        assert isinstance(name, str)
        name = name.strip()
        require(name not in seen, INVENTOR_SHARES_VALID, f"{field}.inventor", f"{name} twice",
                zh=f"{name} 出现两次")
        seen.add(name)
        require(
            isinstance(share, Decimal | int | str) and not isinstance(share, bool),
            INVENTOR_SHARES_VALID,
            f"{field}.percent",
            f"{share!r}: a share is an exact decimal, never a float",
            zh=f"{share!r}：份额须为精确小数，不得为浮点数",
        )
        try:
            percent = Decimal(share)
        except ArithmeticError:
            raise DomainError(INVENTOR_SHARES_VALID, f"{field}.percent", f"{share!r}",
                              detail_zh=f"{share!r} 不是小数") from None
        require(
            percent.is_finite() and 0 < percent <= HUNDRED,
            INVENTOR_SHARES_VALID,
            f"{field}.percent",
            f"{share} is not above 0 and at most 100",
            zh=f"{share} 不在大于 0 且不超过 100 的范围内",
        )
        made.append(InventorShare(name, percent))
    if made:
        total = sum((m.percent for m in made), Decimal(0))
        require(
            total == HUNDRED,
            INVENTOR_SHARES_SUM_TO_100,
            "inventors",
            f"contribution shares sum to {format_percent(total)}, not 100",
            zh=f"贡献份额合计为 {format_percent(total)}，不是 100",
        )
    return tuple(made)


def inventor_weights(
    team: Sequence[InventorShare], overrides: Sequence[InventorShare]
) -> list[Decimal]:
    """Each inventor's weight in the team share (see the module docstring), exact."""
    named = {o.inventor: o.percent for o in overrides}
    present = [m for m in team if m.inventor in named]
    if not present:
        return [m.percent for m in team]
    rest = HUNDRED - sum((named[m.inventor] for m in present), Decimal(0))
    unnamed_total = sum((m.percent for m in team if m.inventor not in named), Decimal(0))
    if unnamed_total == 0:
        return [named[m.inventor] for m in team]
    # Scaled by unnamed_total so that no division (and no rounding) is needed.
    return [
        named[m.inventor] * unnamed_total if m.inventor in named else rest * m.percent for m in team
    ]


def _lines(
    amounts: Mapping[BeneficiaryKind, int],
    beneficiaries: Sequence[BeneficiaryKind],
    team: Sequence[InventorShare],
    overrides: Sequence[InventorShare],
) -> list[tuple[BeneficiaryKind, str | None, int]]:
    out: list[tuple[BeneficiaryKind, str | None, int]] = []
    for b in beneficiaries:
        if b == TEAM and team:
            parts = _split(amounts[b], inventor_weights(team, overrides))
            out.extend((b, m.inventor, part) for m, part in zip(team, parts, strict=True))
        else:
            out.append((b, None, amounts[b]))
    return out


def _band_field(band: int) -> str:
    return "cash_split.inventor_team" if band == 0 else f"tiers[{band - 1}].split.inventor_team"


_OF_ZH = {"net income": "净收入", "the shares": "股份"}


def _floor_error(pack_source: str, floor: Decimal, given: Decimal, field: str, of: str) -> None:
    raise DomainError(
        DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION,
        field,
        f"{pack_source}: inventors ≥ {format_percent(floor)}% of {of}; "
        f"policy gives {format_percent(given)}%",
        detail_zh=f"{pack_source}：成果完成人所得不低于{_OF_ZH.get(of, of)}的 {format_percent(floor)}%；"
        f"政策给予 {format_percent(given)}%",
    )


def _beneficiaries(splits: Sequence[Split]) -> list[BeneficiaryKind]:
    """Beneficiaries with a share above 0 in any of ``splits``, in canonical order."""
    return [b for b in BENEFICIARY_ORDER if any(s.percent(b) > 0 for s in splits)]


def _allocate(
    net_fen: int,
    policy: PolicyVersion,
    team: tuple[InventorShare, ...],
    cumulative_before_fen: int,
    floor_percent: Decimal,
    pack_id: str,
    pack_version: str,
    pack_source: str,
) -> IncomeAllocation:
    require(
        _whole(net_fen) and net_fen >= 0,
        INCOME_AMOUNT_NOT_NEGATIVE,
        "net_fen",
        f"{net_fen!r} is not a non-negative number of fen",
        zh=f"{net_fen!r} 不是非负的金额（分）",
    )
    require(
        _whole(cumulative_before_fen) and cumulative_before_fen >= 0,
        INCOME_AMOUNT_NOT_NEGATIVE,
        "cumulative_before_fen",
        f"{cumulative_before_fen!r} is not a non-negative number of fen",
        zh=f"{cumulative_before_fen!r} 不是非负的金额（分）",
    )
    bands = policy.cash_bands()
    end = cumulative_before_fen + net_fen
    portions: list[BandPortion] = []
    used: list[Split] = []
    for index, (start, stop, split) in enumerate(bands):
        low = max(start, cumulative_before_fen)
        high = end if stop is None else min(stop, end)
        if high > low:
            portions.append(BandPortion(index, start, high - low, split.team_percent))
            used.append(split)
    below = any(p.team_percent < floor_percent for p in portions)
    if below and policy.bound_by_floor:
        first = next(p for p in portions if p.team_percent < floor_percent)
        _floor_error(
            pack_source, floor_percent, first.team_percent, _band_field(first.band), "net income"
        )
    exact = {
        b: sum(
            (Decimal(p.amount_fen) * s.percent(b) for p, s in zip(portions, used, strict=True)),
            Decimal(0),
        )
        for b in BENEFICIARY_ORDER
    }
    parts = _split(net_fen, [exact[b] for b in BENEFICIARY_ORDER])
    amounts = dict(zip(BENEFICIARY_ORDER, parts, strict=True))
    beneficiaries = _beneficiaries([s for _, _, s in bands])
    lines = _lines(amounts, beneficiaries, team, policy.inventor_overrides)
    return IncomeAllocation(
        net_fen=net_fen,
        cumulative_before_fen=cumulative_before_fen,
        lines=tuple(AllocationLine(b, i, a) for b, i, a in lines),
        portions=tuple(portions),
        inventors=team,
        policy=policy,
        policy_version=policy.version_label,
        pack_id=pack_id,
        pack_version=pack_version,
        floor_percent=floor_percent,
        below_floor=below,
    )


def allocate(
    net_fen: int,
    policy: PolicyVersion,
    inventors: TeamInput = (),
    cumulative_before_fen: int = 0,
    *,
    pack: RulePackVersion | None = None,
) -> IncomeAllocation:
    """Split one receipt's net income by ``policy`` (tiers by cumulative net income).

    ``cumulative_before_fen`` is the net income already allocated under the
    same contract before this receipt. ``pack`` is the rule pack in force on
    the receipt's date (default: the pack the policy was adopted under); its
    transfer floor judges the team's share: a public research institution's
    policy below it is rejected, any other is allocated with ``below_floor``.
    With no ``inventors`` the team gets one line (``inventor_team``).
    """
    judged = pack or policy.pack
    return _allocate(
        net_fen,
        policy,
        make_inventors(inventors),
        cumulative_before_fen,
        judged.transfer_floor_percent,
        judged.pack_id,
        judged.version,
        judged.source,
    )


def reallocate_delta(previous: IncomeAllocation, new_net_fen: int) -> AllocationAdjustment:
    """Delta lines from ``previous`` to a new net income (same policy, team, tiers position)."""
    revised = _allocate(
        new_net_fen,
        previous.policy,
        previous.inventors,
        previous.cumulative_before_fen,
        previous.floor_percent,
        previous.pack_id,
        previous.pack_version,
        previous.policy.pack.source,
    )
    before = previous.amounts()
    after = revised.amounts()
    deltas: list[AllocationLine] = []
    seen: set[str] = set()
    for line in (*revised.lines, *previous.lines):
        if line.key in seen:
            continue
        seen.add(line.key)
        delta = after.get(line.key, 0) - before.get(line.key, 0)
        if delta:
            deltas.append(AllocationLine(line.beneficiary, line.inventor, delta))
    return AllocationAdjustment(
        previous_net_fen=previous.net_fen,
        net_fen=new_net_fen,
        delta_fen=new_net_fen - previous.net_fen,
        lines=tuple(deltas),
        revised=revised,
    )


# --- equity --------------------------------------------------------------------------------


@value_object
@dataclass(frozen=True)
class EquityLine:
    beneficiary: BeneficiaryKind
    inventor: str | None
    shares: int

    @property
    def key(self) -> str:
        return line_key(self.beneficiary, self.inventor)


@value_object
@dataclass(frozen=True)
class EquityAllocation:
    """Shares from an equity contribution split by a policy's equity split (integers)."""

    shares_count: int
    lines: tuple[EquityLine, ...]
    inventors: tuple[InventorShare, ...]
    policy_version: str
    pack_id: str
    pack_version: str
    floor_percent: Decimal
    team_percent: Decimal
    below_floor: bool

    @property
    def team_shares(self) -> int:
        return sum(line.shares for line in self.lines if line.beneficiary == TEAM)

    @property
    def floor_shares(self) -> int:
        return _percent_floor(self.shares_count, self.floor_percent)


def allocate_equity(
    shares_count: int,
    policy: PolicyVersion,
    inventors: TeamInput = (),
    *,
    pack: RulePackVersion | None = None,
) -> EquityAllocation:
    """Split ``shares_count`` shares by the equity split; checked against the equity floor."""
    require(
        _whole(shares_count) and shares_count >= 0,
        INCOME_AMOUNT_NOT_NEGATIVE,
        "shares_count",
        f"{shares_count!r} is not a non-negative number of shares",
        zh=f"{shares_count!r} 不是非负的股数",
    )
    judged = pack or policy.pack
    team = make_inventors(inventors)
    split = policy.equity_split
    floor = judged.equity_floor_percent
    below = split.team_percent < floor
    if below and policy.bound_by_floor:
        _floor_error(
            judged.source, floor, split.team_percent, "equity_split.inventor_team", "the shares"
        )
    parts = _split(shares_count, [split.percent(b) for b in BENEFICIARY_ORDER])
    amounts = dict(zip(BENEFICIARY_ORDER, parts, strict=True))
    lines = _lines(amounts, _beneficiaries([split]), team, policy.inventor_overrides)
    return EquityAllocation(
        shares_count=shares_count,
        lines=tuple(EquityLine(b, i, n) for b, i, n in lines),
        inventors=team,
        policy_version=policy.version_label,
        pack_id=judged.pack_id,
        pack_version=judged.version,
        floor_percent=floor,
        team_percent=split.team_percent,
        below_floor=below,
    )


# --- self-implementation -------------------------------------------------------------------


def self_implementation_awards(
    profit_reports: Mapping[int, int],
    pack: RulePackVersion,
    *,
    production_start_year: int | None = None,
    first_profitable_year: int | None = None,
    policy: PolicyVersion | None = None,
    years: int | None = None,
) -> dict[int, int]:
    """Award (fen) for each reported year inside the pack's window of years.

    The percentage is the policy's when it states one, else the pack's floor;
    the number of years is ``years``, else the policy's, else the pack's
    minimum (always within the pack's min..max). The window starts at the
    production start year or the first profitable year, as the pack says
    (the first profitable year defaults to the first year with a profit in
    the reports; with none there is nothing yet). A loss year inside the
    window gets 0 and still counts as one of the years. Awards are rounded
    up to the fen, so that they are never below the percentage.
    """
    si = pack.self_implementation
    percent = si.percent
    count = years
    if policy is not None:
        if policy.self_implementation_percent is not None:
            percent = policy.self_implementation_percent
        if count is None:
            count = policy.self_implementation_years
    if count is None:
        count = si.min_years
    require(
        si.min_years <= count <= si.max_years,
        SELF_IMPLEMENTATION_YEARS_WITHIN_PACK,
        "years",
        f"{count} years is outside {si.min_years}..{si.max_years} ({pack.source})",
        zh=f"{count} 年不在 {si.min_years}..{si.max_years} 年的范围内（{pack.source}）",
    )
    if si.counted_from == SelfImplementationStart.production_start:
        require(
            production_start_year is not None,
            SELF_IMPLEMENTATION_START_GIVEN,
            "production_start_year",
            f"{pack.source} counts the years from production start",
            zh=f"{pack.source} 自投产起计算年数",
        )
        start = production_start_year
    else:
        start = first_profitable_year
        if start is None:
            start = next((y for y, p in sorted(profit_reports.items()) if p > 0), None)
        if start is None:
            return {}
    assert start is not None
    window = range(start, start + count)
    return {
        year: _percent_ceiling(profit, percent) if profit > 0 else 0
        for year, profit in sorted(profit_reports.items())
        if year in window
    }


def _percent_ceiling(amount: int, percent: Decimal) -> int:
    return int((Decimal(amount) * percent / HUNDRED).to_integral_value(rounding=ROUND_CEILING))
