"""Distribution policy (收益分配办法): one per institution, versioned by effective date.

A policy version says how net income (cash) and shares (equity) are split
between the beneficiaries: the inventor team (成果完成人团队, split among the
inventors by their contribution shares unless the policy overrides them),
the department (院系), the institution (单位), the TTO or technology manager
(技术转移机构/技术经理人) and a transformation fund (转化基金). Cash may be
tiered by the cumulative net income received under a contract (e.g. team 70%
of the first 1,000,000.00 yuan, 80% above): ``cash_split`` applies from 0,
each ``Tier`` from its ``from_fen`` upward.

Floors. The statutory floors of the rule pack (促进科技成果转化法 Art. 45
and the provincial regulations) are compared with the **inventor team's**
share only: for cash in the base split and in every tier, for equity in the
equity split, and for self-implementation with the policy's percentage of
operating profit when it states one. The TTO share is not counted towards
the floor (Shandong Art. 36 lets at least 10% of net income fund the TTO's
performance awards, separately from the inventors' Art. 34 floor). A public
university or research institute whose policy falls below a floor is
rejected (rule ``distribution_floor_public_institution``, quoting the pack's
citation); any other institution's policy is recorded with
``below_floor=True`` and the findings, because the floors bind them only when
they have no rule or agreement of their own.

Events: ``DistributionPolicy.Created(institution_id)``,
``DistributionPolicy.VersionAdopted(version: PolicyVersion, below_floor: bool)``.
No money moves here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.enums import InstitutionKind
from domain.errors import DomainError, require, rule
from domain.rule_packs import RULE_PACK_IN_FORCE, RulePackVersion
from domain.serialisable import domain_enum, value_object

G = "distribution"
HUNDRED = Decimal(100)

DISTRIBUTION_SPLIT_SHARES_VALID = rule(
    "distribution_split_shares_valid",
    "A split names each beneficiary (inventor_team, department, institution, tto, "
    "transformation_fund) at most once, with a percentage that is an exact decimal (never a "
    "float) between 0 and 100.",
    group=G,
)
DISTRIBUTION_SPLIT_SUMS_TO_100 = rule(
    "distribution_split_sums_to_100",
    "Every split of a distribution policy (cash, each cash tier, equity) sums to exactly 100%.",
    group=G,
)
DISTRIBUTION_TIERS_ASCENDING = rule(
    "distribution_tiers_ascending",
    "Cash tiers start at positive cumulative amounts of net income (fen), in strictly ascending "
    "order; the base cash split covers everything below the first tier.",
    group=G,
)
DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION = rule(
    "distribution_floor_public_institution",
    "A public university's or research institute's distribution policy gives the inventor team "
    "at least its rule pack's floor: of net income for cash (base split and every tier), of the "
    "shares for equity, and of operating profit for self-implementation. Other institutions' "
    "policies below a floor are recorded and flagged below_floor.",
    source="促进科技成果转化法 第45条; 北京 第12条; 上海 第34条; 浙江 第37条; 山东 第34条",
    group=G,
)
INVENTOR_OVERRIDES_VALID = rule(
    "inventor_overrides_valid",
    "Inventor overrides name each inventor once (non-blank) with a percentage of the team share "
    "above 0; together they are at most 100.",
    group=G,
)
PUBLIC_RESEARCH_INSTITUTION_KIND = rule(
    "public_research_institution_kind",
    "Only a university or a research institute is flagged as a public research institution.",
    group=G,
)
DISTRIBUTION_POLICY_DATES_INCREASE = rule(
    "distribution_policy_dates_increase",
    "Each new version of an institution's distribution policy takes effect after every earlier "
    "version, so each business date has exactly one version.",
    group=G,
)
DISTRIBUTION_POLICY_LABEL_UNIQUE = rule(
    "distribution_policy_label_unique",
    "A policy version's label is non-blank and not used by an earlier version of the policy.",
    group=G,
)
DISTRIBUTION_POLICY_IN_FORCE = rule(
    "distribution_policy_in_force",
    "A business date is judged by the policy version in force on it; before the first version "
    "there is none.",
    group=G,
)
SELF_IMPLEMENTATION_YEARS_WITHIN_PACK = rule(
    "self_implementation_years_within_pack",
    "The number of years of self-implementation awards lies within the rule pack's minimum and "
    "maximum (e.g. 3 to 5 years nationally).",
    source="促进科技成果转化法 第45条 (三)",
    group=G,
)
MAIN_CONTRIBUTORS_TEXT_CONFIRMED = False
"""国发〔2016〕16号 could not be checked against the original text (DOMAIN.md: "confirm against the
original"), so its check is off unless a policy version turns it on."""
MAIN_CONTRIBUTORS_SOURCE = "国发〔2016〕16号 实施《促进科技成果转化法》若干规定 (text not confirmed)"
MAIN_CONTRIBUTORS_SHARE = rule(
    "main_contributors_share",
    "When a policy version turns the check on (main_contributors_check), it is flagged, never "
    "refused, where the main contributors would receive less than 50% of the total award. The "
    "ledger names no main contributors, so it takes the inventor team (成果完成人) as them and "
    "the total award as every share awarded to people (the team and the TTO / technology "
    "managers), for cash (base split and every tier) and equity. The check is OFF by default: "
    "the wording of 国发〔2016〕16号 could not be confirmed against the original text (DOMAIN.md "
    "asks to confirm it), and an unconfirmed rule must not mark institutions non-compliant.",
    source=MAIN_CONTRIBUTORS_SOURCE,
    group=G,
)


@domain_enum
class BeneficiaryKind(StrEnum):
    """收益分配对象: 成果完成人团队, 院系, 单位, 技术转移机构/技术经理人, 转化基金."""

    inventor_team = "inventor_team"
    department = "department"
    institution = "institution"
    tto = "tto"
    transformation_fund = "transformation_fund"


BENEFICIARY_ORDER: tuple[BeneficiaryKind, ...] = tuple(BeneficiaryKind)
PUBLIC_RESEARCH_KINDS = frozenset({InstitutionKind.university, InstitutionKind.research_institute})

CHINESE_LABELS: dict[StrEnum, str] = {
    BeneficiaryKind.inventor_team: "成果完成人团队",
    BeneficiaryKind.department: "院系",
    BeneficiaryKind.institution: "单位",
    BeneficiaryKind.tto: "技术转移机构/技术经理人",
    BeneficiaryKind.transformation_fund: "转化基金",
}


@value_object
@dataclass(frozen=True)
class BeneficiaryShare:
    beneficiary: BeneficiaryKind
    percent: Decimal


@value_object
@dataclass(frozen=True)
class Split:
    """Percentages by beneficiary, in the canonical beneficiary order; they sum to 100."""

    shares: tuple[BeneficiaryShare, ...]

    def percent(self, beneficiary: BeneficiaryKind) -> Decimal:
        return next((s.percent for s in self.shares if s.beneficiary == beneficiary), Decimal(0))

    @property
    def team_percent(self) -> Decimal:
        return self.percent(BeneficiaryKind.inventor_team)


@value_object
@dataclass(frozen=True)
class Tier:
    """From ``from_fen`` of cumulative net income under a contract upward, ``split`` applies."""

    from_fen: int
    split: Split


@value_object
@dataclass(frozen=True)
class InventorShare:
    """An inventor and a percentage (a contribution share, or an override of the team share)."""

    inventor: str
    percent: Decimal


@value_object
@dataclass(frozen=True)
class FloorFinding:
    """Where a policy gives the inventor team less than its pack's floor."""

    field: str
    floor_percent: Decimal
    given_percent: Decimal
    source: str
    message: str


@value_object
@dataclass(frozen=True)
class PolicyVersion:
    """One version of an institution's distribution policy, as adopted (and checked)."""

    version_label: str
    effective_from: date
    cash_split: Split
    tiers: tuple[Tier, ...]
    equity_split: Split
    inventor_overrides: tuple[InventorShare, ...]
    institution_kind: InstitutionKind
    institution_is_public_research: bool
    pack: RulePackVersion
    self_implementation_percent: Decimal | None = None
    self_implementation_years: int | None = None
    below_floor: bool = False
    floor_findings: tuple[FloorFinding, ...] = ()
    main_contributors_check: bool = False
    contributor_findings: tuple[FloorFinding, ...] = ()  # rule main_contributors_share, when checked

    @property
    def bound_by_floor(self) -> bool:
        """The floors bind this institution's own policy (a public university or institute)."""
        return (
            self.institution_is_public_research and self.institution_kind in PUBLIC_RESEARCH_KINDS
        )

    def cash_bands(self) -> list[tuple[int, int | None, Split]]:
        """(from_fen, to_fen exclusive or None, split) for the base split and each tier."""
        starts = [0, *(t.from_fen for t in self.tiers)]
        splits = [self.cash_split, *(t.split for t in self.tiers)]
        ends: list[int | None] = [*starts[1:], None]
        return list(zip(starts, ends, splits, strict=True))


Percent = Decimal | int | str
SplitInput = Split | Mapping[BeneficiaryKind, Percent] | Mapping[str, Percent]
TierInput = Tier | tuple[int, SplitInput]


def format_percent(value: Decimal) -> str:
    """``Decimal('70.00')`` -> ``'70'``, ``Decimal('33.30')`` -> ``'33.3'``."""
    return format(value.normalize(), "f")


def parse_percent(value: object, field: str) -> Decimal:
    """An exact percentage 0..100 from a Decimal, int or decimal string; never a float."""
    require(
        isinstance(value, Decimal | int | str) and not isinstance(value, bool),
        DISTRIBUTION_SPLIT_SHARES_VALID,
        field,
        f"{value!r}: a percentage is a Decimal, an integer or a decimal string, never a float",
        zh=f"{value!r}：百分比须为 Decimal、整数或小数字符串，不得为浮点数",
    )
    try:
        percent = Decimal(value)  # type: ignore[arg-type]
    except InvalidOperation:
        raise DomainError(
            DISTRIBUTION_SPLIT_SHARES_VALID, field, f"{value!r} is no decimal",
            detail_zh=f"{value!r} 不是小数"
        ) from None
    require(
        percent.is_finite() and 0 <= percent <= HUNDRED,
        DISTRIBUTION_SPLIT_SHARES_VALID,
        field,
        f"{value} is not between 0 and 100",
        zh=f"{value} 不在 0 至 100 之间",
    )
    return percent


def make_split(value: SplitInput, field: str) -> Split:
    """Validate a split given as a mapping (or a ``Split``) and return it in canonical order."""
    items: list[tuple[object, object]]
    if isinstance(value, Split):
        items = [(s.beneficiary, s.percent) for s in value.shares]
    else:
        require(
            isinstance(value, Mapping),
            DISTRIBUTION_SPLIT_SHARES_VALID,
            field,
            "a split is a mapping of beneficiary to percentage",
            zh="分配比例须为受益方到百分比的映射",
        )
        items = list(value.items())
    shares: dict[BeneficiaryKind, Decimal] = {}
    for key, percent in items:
        name = str(key)
        require(
            name in BeneficiaryKind.__members__,
            DISTRIBUTION_SPLIT_SHARES_VALID,
            f"{field}.{name}",
            f"{name!r} is not a beneficiary ({', '.join(BeneficiaryKind)})",
            zh=f"{name!r} 不是受益方（{', '.join(BeneficiaryKind)}）",
        )
        kind = BeneficiaryKind(name)
        require(
            kind not in shares,
            DISTRIBUTION_SPLIT_SHARES_VALID,
            f"{field}.{name}",
            f"{name} appears twice",
            zh=f"{name} 出现两次",
        )
        shares[kind] = parse_percent(percent, f"{field}.{name}")
    total = sum(shares.values(), Decimal(0))
    require(
        total == HUNDRED,
        DISTRIBUTION_SPLIT_SUMS_TO_100,
        field,
        f"the percentages sum to {format_percent(total)}, not 100",
        zh=f"各比例合计为 {format_percent(total)}，不是 100",
    )
    return Split(tuple(BeneficiaryShare(k, shares[k]) for k in BENEFICIARY_ORDER if k in shares))


def make_tiers(tiers: Sequence[TierInput]) -> tuple[Tier, ...]:
    made: list[Tier] = []
    for i, tier in enumerate(tiers):
        from_fen, split = (tier.from_fen, tier.split) if isinstance(tier, Tier) else tier
        previous = made[-1].from_fen if made else 0
        require(
            isinstance(from_fen, int) and not isinstance(from_fen, bool) and from_fen > previous,
            DISTRIBUTION_TIERS_ASCENDING,
            f"tiers[{i}].from_fen",
            f"{from_fen!r} is not above {previous}",
            zh=f"{from_fen!r} 不大于 {previous}",
        )
        made.append(Tier(from_fen, make_split(split, f"tiers[{i}].split")))
    return tuple(made)


def make_overrides(
    overrides: Mapping[str, Decimal | int | str] | None,
) -> tuple[InventorShare, ...]:
    made: list[InventorShare] = []
    seen: set[str] = set()
    for inventor, value in (overrides or {}).items():
        field = f"inventor_overrides.{inventor}"
        name = inventor.strip() if isinstance(inventor, str) else ""
        require(bool(name), INVENTOR_OVERRIDES_VALID, field, "an inventor is named",
                zh="须写明成果完成人")
        require(name not in seen, INVENTOR_OVERRIDES_VALID, field, f"{name} is overridden twice",
                zh=f"{name} 被调整两次")
        seen.add(name)
        try:
            percent = parse_percent(value, field)
        except DomainError as exc:
            raise DomainError(INVENTOR_OVERRIDES_VALID, field, exc.detail,
                              detail_zh=exc.detail_zh) from None
        require(percent > 0, INVENTOR_OVERRIDES_VALID, field, "an override is above 0%",
                zh="调整比例须大于 0%")
        made.append(InventorShare(name, percent))
    total = sum((o.percent for o in made), Decimal(0))
    require(
        total <= HUNDRED,
        INVENTOR_OVERRIDES_VALID,
        "inventor_overrides",
        f"overrides sum to {format_percent(total)}%, more than the team share",
        zh=f"调整比例合计为 {format_percent(total)}%，超过团队份额",
    )
    return tuple(made)


def floor_findings(
    pack: RulePackVersion,
    cash_split: Split,
    tiers: Sequence[Tier],
    equity_split: Split,
    self_implementation_percent: Decimal | None = None,
) -> list[FloorFinding]:
    """Every place where the inventor team gets less than the pack's floor."""
    found: list[FloorFinding] = []

    def check(field: str, floor: Decimal, given: Decimal, of_what: str) -> None:
        if given < floor:
            message = (
                f"{pack.source}: inventors ≥ {format_percent(floor)}% of {of_what}; "
                f"policy gives {format_percent(given)}%"
            )
            found.append(FloorFinding(field, floor, given, pack.source, message))

    net = "net income"
    check("cash_split.inventor_team", pack.transfer_floor_percent, cash_split.team_percent, net)
    for i, tier in enumerate(tiers):
        field = f"tiers[{i}].split.inventor_team"
        check(field, pack.transfer_floor_percent, tier.split.team_percent, net)
    check(
        "equity_split.inventor_team",
        pack.equity_floor_percent,
        equity_split.team_percent,
        "the shares",
    )
    if self_implementation_percent is not None:
        check(
            "self_implementation_percent",
            pack.self_implementation.percent,
            self_implementation_percent,
            "operating profit a year",
        )
    return found


def main_contributor_findings(cash_split: Split, tiers: Sequence[Tier], equity_split: Split) -> list[FloorFinding]:
    """Where the inventor team (taken as the main contributors) gets < 50% of the awards to people."""
    found: list[FloorFinding] = []
    half = Decimal(50)
    splits = [("cash_split", cash_split), *((f"tiers[{i}].split", t.split) for i, t in enumerate(tiers)),
              ("equity_split", equity_split)]
    for field, split in splits:
        people = split.team_percent + split.percent(BeneficiaryKind.tto)
        if people == 0:
            continue
        given = (split.team_percent * HUNDRED / people).quantize(Decimal("0.01"))
        if given < half:
            found.append(FloorFinding(
                f"{field}.inventor_team", half, given, MAIN_CONTRIBUTORS_SOURCE,
                f"{MAIN_CONTRIBUTORS_SHARE.name}: {MAIN_CONTRIBUTORS_SOURCE}: main contributors ≥ 50% "
                "of the total award; the inventor "
                f"team gets {format_percent(given)}% of the awards to people"))
    return found


_FLOOR_OF_ZH = {"equity_split.inventor_team": "股份", "self_implementation_percent": "每年营业利润"}


def _floor_message_zh(finding: FloorFinding) -> str:
    """``FloorFinding.message`` in Chinese (the finding is recorded as it is: no field added to it)."""
    of_what = _FLOOR_OF_ZH.get(finding.field, "净收入")
    return (f"{finding.source}：成果完成人所得不低于{of_what}的 {format_percent(finding.floor_percent)}%；"
            f"政策给予 {format_percent(finding.given_percent)}%")


def raise_first(findings: Sequence[FloorFinding]) -> None:
    if findings:
        first = findings[0]
        raise DomainError(DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION, first.field, first.message,
                          detail_zh=_floor_message_zh(first))


def policy_version(
    *,
    version_label: str,
    effective_from: date,
    cash_split: SplitInput,
    equity_split: SplitInput,
    tiers: Sequence[TierInput] = (),
    inventor_overrides: Mapping[str, Decimal | int | str] | None = None,
    institution_is_public_research: bool,
    institution_kind: InstitutionKind,
    pack: RulePackVersion,
    self_implementation_percent: Decimal | int | str | None = None,
    self_implementation_years: int | None = None,
    main_contributors_check: bool = False,
) -> PolicyVersion:
    """Validate a policy version and return it, with its floor findings (pure; records nothing)."""
    label = version_label.strip()
    require(bool(label), DISTRIBUTION_POLICY_LABEL_UNIQUE, "version_label", "the label is blank",
            zh="标签为空白")
    require(
        not institution_is_public_research or institution_kind in PUBLIC_RESEARCH_KINDS,
        PUBLIC_RESEARCH_INSTITUTION_KIND,
        "institution_is_public_research",
        f"a {institution_kind} is not a public research institution",
        zh=f"{institution_kind} 不是公立科研机构",
    )
    require(
        pack.in_force_on(effective_from),
        RULE_PACK_IN_FORCE,
        "pack",
        f"{pack.source} ({pack.pack_id} {pack.version}) is not in force on {effective_from}",
        zh=f"{pack.source}（{pack.pack_id} {pack.version}）在 {effective_from} 不是有效版本",
    )
    cash = make_split(cash_split, "cash_split")
    made_tiers = make_tiers(tiers)
    equity = make_split(equity_split, "equity_split")
    overrides = make_overrides(inventor_overrides)
    si_percent = (
        parse_percent(self_implementation_percent, "self_implementation_percent")
        if self_implementation_percent is not None
        else None
    )
    if self_implementation_years is not None:
        si = pack.self_implementation
        require(
            si.min_years <= self_implementation_years <= si.max_years,
            SELF_IMPLEMENTATION_YEARS_WITHIN_PACK,
            "self_implementation_years",
            f"{self_implementation_years} years is outside {si.min_years}..{si.max_years} "
            f"({pack.source})",
            zh=f"{self_implementation_years} 年不在 {si.min_years}..{si.max_years} 年的范围内（{pack.source}）",
        )
    findings = floor_findings(pack, cash, made_tiers, equity, si_percent)
    version = PolicyVersion(
        version_label=label,
        effective_from=effective_from,
        cash_split=cash,
        tiers=made_tiers,
        equity_split=equity,
        inventor_overrides=overrides,
        institution_kind=institution_kind,
        institution_is_public_research=institution_is_public_research,
        pack=pack,
        self_implementation_percent=si_percent,
        self_implementation_years=self_implementation_years,
        below_floor=bool(findings),
        floor_findings=tuple(findings),
        main_contributors_check=main_contributors_check,
        contributor_findings=tuple(main_contributor_findings(cash, made_tiers, equity))
        if main_contributors_check else (),
    )
    if version.bound_by_floor:
        raise_first(findings)
    return version


# A fixed namespace: policy ids derive from the institution id (one policy per institution).
POLICY_NAMESPACE = UUID("0b6c1d8e-4f57-5a2c-9d0e-7a51c3e2b910")


def policy_id_for(institution_id: UUID) -> UUID:
    return uuid5(POLICY_NAMESPACE, f"distribution-policy:{institution_id}")


class DistributionPolicy(Aggregate):
    """An institution's income-distribution policy (收益分配办法), versioned by date."""

    @event("Created")
    def __init__(self, id: UUID, institution_id: UUID) -> None:
        self.institution_id = institution_id
        self.versions: tuple[PolicyVersion, ...] = ()

    @classmethod
    def create(cls, institution_id: UUID) -> DistributionPolicy:
        """The institution's policy; its id is derived from the institution's, so there is one."""
        return cls(id=policy_id_for(institution_id), institution_id=institution_id)

    # --- commands ---------------------------------------------------------------------

    def adopt_version(
        self,
        version_label: str,
        effective_from: date,
        cash_split: SplitInput,
        equity_split: SplitInput,
        tiers: Sequence[TierInput] = (),
        inventor_overrides: Mapping[str, Decimal | int | str] | None = None,
        *,
        institution_is_public_research: bool,
        institution_kind: InstitutionKind,
        pack: RulePackVersion,
        self_implementation_percent: Decimal | int | str | None = None,
        self_implementation_years: int | None = None,
        main_contributors_check: bool = False,
    ) -> PolicyVersion:
        """Adopt a new version from ``effective_from`` on; earlier versions stay as they were."""
        label = version_label.strip()
        require(
            all(v.version_label != label for v in self.versions),
            DISTRIBUTION_POLICY_LABEL_UNIQUE,
            "version_label",
            f"{label!r} is already a version of this policy",
            zh=f"{label!r} 已是该政策的一个版本",
        )
        if self.versions:
            last = self.versions[-1].effective_from
            require(
                effective_from > last,
                DISTRIBUTION_POLICY_DATES_INCREASE,
                "effective_from",
                f"{effective_from} is not after {last}",
                zh=f"{effective_from} 不晚于 {last}",
            )
        version = policy_version(
            version_label=version_label,
            effective_from=effective_from,
            cash_split=cash_split,
            equity_split=equity_split,
            tiers=tiers,
            inventor_overrides=inventor_overrides,
            institution_is_public_research=institution_is_public_research,
            institution_kind=institution_kind,
            pack=pack,
            self_implementation_percent=self_implementation_percent,
            self_implementation_years=self_implementation_years,
            main_contributors_check=main_contributors_check,
        )
        self._version_adopted(version=version, below_floor=version.below_floor)
        return version

    # --- queries ----------------------------------------------------------------------

    def policy_in_force(self, on: date) -> PolicyVersion:
        chosen: PolicyVersion | None = None
        for version in self.versions:
            if version.effective_from <= on:
                chosen = version
        if chosen is None:
            raise DomainError(
                DISTRIBUTION_POLICY_IN_FORCE, "on", f"no version of the policy is in force on {on}",
                detail_zh=f"{on} 没有有效的政策版本"
            )
        return chosen

    # --- events -----------------------------------------------------------------------

    @event("VersionAdopted")
    def _version_adopted(self, version: PolicyVersion, below_floor: bool) -> None:
        self.versions = (*self.versions, version)
