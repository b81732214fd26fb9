"""Rule packs (规则包): statutory distribution floors as versioned data, not code branches.

Each jurisdiction's floors for awards to inventors (促进科技成果转化法 Art. 45
and the provincial regulations) live in ``domain/rule_packs.json``, shipped
in the package and read once at import with ``importlib.resources``. A
version of a pack has its effective dates, the floors (transfer/licence
share of net income, equity share of shares, self-implementation share of
operating profit and its years), the definition of net income as data (which
deduction categories count, which are excluded and why), the public-notice
requirement and its source citation. Adding a province, or a new text of a
regulation, is adding an entry to the data: ``load_packs`` accepts any
mapping of the same shape (see the unit tests).

Decision: ``RulePackVersion`` is a frozen dataclass registered with
``@value_object``, and the whole version is stamped on the events that
apply it (``DistributionPolicy.VersionAdopted`` inside the policy version,
``IncomeDistribution.Allocated``). An event thus keeps the floors and the
net-income definition that judged it even if the data file is corrected
later: an old payment is judged by the rule of its own date, and the audit
trail shows exactly which figures were used. Derived values (``NetIncome``,
``IncomeAllocation``) carry only the stamp ``(pack_id, pack_version)``.

``pack_id`` is a plain string (the value of ``RulePackId`` for the shipped
packs) so that a new province is data only; ``region`` is its GB/T 2260
province code (``None`` for the national pack).

Versions of one pack are ordered by ``effective_from``; a version is in
force from ``effective_from`` to ``effective_to`` (inclusive) when given,
else to the day before the next version starts, else open-ended.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib.resources import files
from itertools import pairwise
from typing import Any

from domain.enums import RulePackId
from domain.errors import DomainError, require, rule
from domain.serialisable import domain_enum, value_object

G = "distribution"

RULE_PACK_IN_FORCE = rule(
    "rule_pack_in_force",
    "A business date is judged by a version of the chosen rule pack that is in force on that "
    "date; a date before the first version (or in a gap) has no pack and is rejected.",
    group=G,
)
RULE_PACK_DATA_VALID = rule(
    "rule_pack_data_valid",
    "Rule-pack data names a pack id and version once each, ISO dates, percentages as exact "
    "decimals between 0 and 100 (never floats), known deduction categories, 1 <= min years "
    "<= max years, and a minimum notice period when a notice is required.",
    group=G,
)
RULE_PACK_VERSIONS_DO_NOT_OVERLAP = rule(
    "rule_pack_versions_do_not_overlap",
    "The versions of one rule pack start on increasing dates and each ends before the next "
    "starts, so every business date has at most one version.",
    group=G,
)


@domain_enum
class DeductionCategory(StrEnum):
    """扣除项目: what may be deducted from income to reach net income (净收入)."""

    tax = "tax"  # 本次交易的税费
    maintenance = "maintenance"  # 维护该科技成果的费用 (专利年费等)
    valuation = "valuation"  # 评估费用
    appraisal = "appraisal"  # 鉴定费用
    negotiation = "negotiation"  # 谈判费用
    agency = "agency"  # 中介/代理费用
    fiscal_rnd_funds = "fiscal_rnd_funds"  # 财政研发资金投入 (never a cost in Zhejiang)
    other_direct = "other_direct"  # 其他直接成本


@domain_enum
class SelfImplementationStart(StrEnum):
    """自行实施奖励起算: years counted from production start or the first profitable year."""

    production_start = "production_start"
    first_profitable_year = "first_profitable_year"


CHINESE_LABELS: dict[StrEnum, str] = {
    DeductionCategory.tax: "税费",
    DeductionCategory.maintenance: "维护费用",
    DeductionCategory.valuation: "评估费用",
    DeductionCategory.appraisal: "鉴定费用",
    DeductionCategory.negotiation: "谈判费用",
    DeductionCategory.agency: "中介费用",
    DeductionCategory.fiscal_rnd_funds: "财政研发资金",
    DeductionCategory.other_direct: "其他直接成本",
    SelfImplementationStart.production_start: "投产后起算",
    SelfImplementationStart.first_profitable_year: "首个盈利年度起算",
}


@value_object
@dataclass(frozen=True)
class SelfImplementationRule:
    """Self-implementation (自行实施): ``percent`` of operating profit a year for the years."""

    percent: Decimal
    min_years: int
    max_years: int
    counted_from: SelfImplementationStart


@value_object
@dataclass(frozen=True)
class ExcludedDeduction:
    """A category the source says is not a cost, with the reason to show."""

    category: DeductionCategory
    reason_zh: str
    reason_en: str


@value_object
@dataclass(frozen=True)
class NetIncomeDefinition:
    """净收入口径: which deduction categories count (others are ignored, with a reason)."""

    counted: tuple[DeductionCategory, ...]
    excluded: tuple[ExcludedDeduction, ...]
    defined_by_source: bool
    description_zh: str
    description_en: str

    def counts(self, category: DeductionCategory) -> bool:
        return category in self.counted

    def exclusion(self, category: DeductionCategory) -> ExcludedDeduction | None:
        return next((e for e in self.excluded if e.category == category), None)


@value_object
@dataclass(frozen=True)
class NoticeRequirement:
    """公示: whether awards must be noticed within the institution, and for how many days."""

    required: bool
    min_days: int
    source: str | None


@value_object
@dataclass(frozen=True)
class RulePackRef:
    """The stamp of a pack version on derived values: (pack id, version label)."""

    pack_id: str
    version: str


@value_object
@dataclass(frozen=True)
class RulePackVersion:
    """One version of one jurisdiction's distribution rules."""

    pack_id: str
    version: str
    effective_from: date
    effective_to: date | None
    region: str | None
    name_zh: str
    name_en: str
    source: str  # citation quoted in error messages, e.g. "北京市促进科技成果转化条例 第12条"
    source_en: str
    transfer_floor_percent: Decimal  # transfer or licence: share of net income
    equity_floor_percent: Decimal  # equity contribution: share of the shares
    self_implementation: SelfImplementationRule
    net_income: NetIncomeDefinition
    notice: NoticeRequirement
    tto_award_percent: Decimal | None = None  # Shandong Art. 36 (separate from the floor)
    tto_award_source: str | None = None
    notes: str = ""

    @property
    def ref(self) -> RulePackRef:
        return RulePackRef(self.pack_id, self.version)

    @property
    def net_income_defined_by_source(self) -> bool:
        """False when the source leaves net income undefined and the ledger's default applies."""
        return self.net_income.defined_by_source

    def in_force_on(self, on: date) -> bool:
        """Within this version's own dates (a later version may still supersede it)."""
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


class RulePackRegistry:
    """All loaded versions, by pack id, oldest first. Immutable once built."""

    def __init__(self, versions: Iterable[RulePackVersion]) -> None:
        by_pack: dict[str, list[RulePackVersion]] = {}
        for v in versions:
            by_pack.setdefault(v.pack_id, []).append(v)
        for pack_id, found in by_pack.items():
            found.sort(key=lambda v: v.effective_from)
            _check_order(pack_id, found)
        self._by_pack: dict[str, tuple[RulePackVersion, ...]] = {
            k: tuple(v) for k, v in sorted(by_pack.items())
        }

    def pack_ids(self) -> tuple[str, ...]:
        return tuple(self._by_pack)

    def versions(self, pack_id: RulePackId | str) -> tuple[RulePackVersion, ...]:
        return self._by_pack.get(str(pack_id), ())

    def all(self) -> tuple[RulePackVersion, ...]:
        return tuple(v for versions in self._by_pack.values() for v in versions)

    def in_force(self, pack_id: RulePackId | str, on: date) -> RulePackVersion:
        """The version of ``pack_id`` in force on ``on`` (rule ``rule_pack_in_force``)."""
        versions = self.versions(pack_id)
        require(bool(versions), RULE_PACK_IN_FORCE, "pack_id", f"no rule pack {pack_id!r}",
                zh=f"没有规则包 {pack_id!r}")
        for i, v in enumerate(versions):
            nxt = versions[i + 1].effective_from if i + 1 < len(versions) else None
            if v.in_force_on(on) and (nxt is None or on < nxt):
                return v
        raise DomainError(
            RULE_PACK_IN_FORCE,
            "on",
            f"no version of the {pack_id} pack is in force on {on} "
            f"(versions: {', '.join(f'{v.version} from {v.effective_from}' for v in versions)})",
            detail_zh=f"{on} 没有有效的 {pack_id} 规则包版本（版本：{'，'.join(f'{v.version} 自 {v.effective_from} 起' for v in versions)}）",
        )

    def get(self, pack_id: RulePackId | str, version: str) -> RulePackVersion:
        for v in self.versions(pack_id):
            if v.version == version:
                return v
        raise DomainError(
            RULE_PACK_IN_FORCE, "version", f"no version {version!r} of the {pack_id} pack",
            detail_zh=f"{pack_id} 规则包没有版本 {version!r}"
        )


def _check_order(pack_id: str, versions: Sequence[RulePackVersion]) -> None:
    for before, after in pairwise(versions):
        require(
            after.effective_from > before.effective_from,
            RULE_PACK_VERSIONS_DO_NOT_OVERLAP,
            f"{pack_id}.effective_from",
            f"versions {before.version!r} and {after.version!r} start on the same day",
            zh=f"版本 {before.version!r} 与 {after.version!r} 在同一天开始",
        )
        require(
            before.effective_to is None or before.effective_to < after.effective_from,
            RULE_PACK_VERSIONS_DO_NOT_OVERLAP,
            f"{pack_id}.effective_to",
            f"version {before.version!r} runs to {before.effective_to}, after "
            f"{after.version!r} starts on {after.effective_from}",
            zh=f"版本 {before.version!r} 持续到 {before.effective_to}，晚于 {after.version!r} 的开始日 {after.effective_from}",
        )


# --- loading ---------------------------------------------------------------------------


def load_packs(data: Mapping[str, Any], base: RulePackRegistry | None = None) -> RulePackRegistry:
    """Build a registry from rule-pack data (the JSON file's shape), on top of ``base``.

    Every error is a ``DomainError`` of rule ``rule_pack_data_valid`` (or
    ``rule_pack_versions_do_not_overlap``) whose field is the path into the
    data, e.g. ``packs[2].transfer_floor_percent``.
    """
    _expect(data.get("format") == 1, "format", "format must be 1", "format 须为 1")
    packs = data.get("packs")
    _expect(isinstance(packs, list), "packs", "packs must be a list", "packs 须为列表")
    assert isinstance(packs, list)
    parsed = [_parse_version(p, f"packs[{i}]") for i, p in enumerate(packs)]
    existing = base.all() if base is not None else ()
    seen: set[tuple[str, str]] = set()
    for i, v in enumerate((*existing, *parsed)):
        key = (v.pack_id, v.version)
        field = f"packs[{i - len(existing)}].version" if i >= len(existing) else "base"
        _expect(key not in seen, field, f"pack {v.pack_id!r} version {v.version!r} twice",
                f"规则包 {v.pack_id!r} 的版本 {v.version!r} 出现两次")
        seen.add(key)
    return RulePackRegistry((*existing, *parsed))


def _expect(condition: bool, field: str, detail: str, zh: str) -> None:
    require(condition, RULE_PACK_DATA_VALID, field, detail, zh=zh)


def _text(raw: Mapping[str, Any], key: str, path: str, *, optional: bool = False) -> str:
    value = raw.get(key)
    if optional and value is None:
        return ""
    _expect(isinstance(value, str) and bool(value.strip()), f"{path}.{key}", "a non-blank string",
            "须为非空白的字符串")
    assert isinstance(value, str)
    return value.strip()


def _maybe_text(raw: Mapping[str, Any], key: str, path: str) -> str | None:
    return _text(raw, key, path) if raw.get(key) is not None else None


def _date(raw: Mapping[str, Any], key: str, path: str) -> date:
    value = raw.get(key)
    if isinstance(value, date):
        return value
    _expect(isinstance(value, str), f"{path}.{key}", "an ISO date string", "须为 ISO 日期字符串")
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DomainError(
            RULE_PACK_DATA_VALID, f"{path}.{key}", f"{value!r} is no ISO date",
            detail_zh=f"{value!r} 不是 ISO 日期"
        ) from None


def _percent(raw: Mapping[str, Any], key: str, path: str) -> Decimal:
    value = raw.get(key)
    _expect(
        not isinstance(value, float | bool) and isinstance(value, str | int | Decimal),
        f"{path}.{key}",
        f"{value!r}: a percentage is a decimal string or an integer, never a float",
        f"{value!r}：百分比须为小数字符串或整数，不得为浮点数",
    )
    assert isinstance(value, str | int | Decimal)
    try:
        percent = Decimal(value)
    except InvalidOperation:
        raise DomainError(
            RULE_PACK_DATA_VALID, f"{path}.{key}", f"{value!r} is no decimal",
            detail_zh=f"{value!r} 不是小数"
        ) from None
    _expect(
        percent.is_finite() and 0 <= percent <= 100, f"{path}.{key}", f"{value} is not in 0..100",
        f"{value} 不在 0..100 之内"
    )
    return percent


def _int(raw: Mapping[str, Any], key: str, path: str, low: int) -> int:
    value = raw.get(key)
    _expect(
        isinstance(value, int) and not isinstance(value, bool) and value >= low,
        f"{path}.{key}",
        f"{value!r} is not an integer >= {low}",
        f"{value!r} 不是 >= {low} 的整数",
    )
    assert isinstance(value, int)
    return value


def _mapping(raw: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = raw.get(key)
    _expect(isinstance(value, Mapping), f"{path}.{key}", "an object", "须为对象")
    assert isinstance(value, Mapping)
    return value


def _category(value: object, path: str) -> DeductionCategory:
    _expect(value in DeductionCategory.__members__, path, f"{value!r} is no deduction category",
            f"{value!r} 不是扣除类别")
    return DeductionCategory(str(value))


def _parse_version(raw: object, path: str) -> RulePackVersion:
    _expect(isinstance(raw, Mapping), path, "a pack version is an object", "规则包版本须为对象")
    assert isinstance(raw, Mapping)
    pack_id = _text(raw, "pack_id", path)
    _expect(
        pack_id.replace("_", "").isalnum() and pack_id == pack_id.lower(),
        f"{path}.pack_id",
        f"{pack_id!r} is not a snake-case code",
        f"{pack_id!r} 不是小写下划线形式的代码",
    )
    effective_from = _date(raw, "effective_from", path)
    effective_to = _date(raw, "effective_to", path) if raw.get("effective_to") is not None else None
    _expect(
        effective_to is None or effective_to >= effective_from,
        f"{path}.effective_to",
        f"{effective_to} is before {effective_from}",
        f"{effective_to} 早于 {effective_from}",
    )
    region = raw.get("region")
    _expect(
        region is None or (isinstance(region, str) and len(region) == 6 and region.isdigit()),
        f"{path}.region",
        f"{region!r} is not a six-digit GB/T 2260 code",
        f"{region!r} 不是六位 GB/T 2260 代码",
    )

    si_path = f"{path}.self_implementation"
    si = _mapping(raw, "self_implementation", path)
    min_years = _int(si, "min_years", si_path, 1)
    max_years = _int(si, "max_years", si_path, 1)
    _expect(max_years >= min_years, f"{si_path}.max_years", f"{max_years} < {min_years}",
            f"最多年数 {max_years} 小于最少年数 {min_years}")
    counted_from = si.get("counted_from")
    _expect(
        counted_from in SelfImplementationStart.__members__,
        f"{si_path}.counted_from",
        f"{counted_from!r} is neither production_start nor first_profitable_year",
        f"{counted_from!r} 既不是 production_start（投产）也不是 first_profitable_year（首个盈利年度）",
    )

    ni_path = f"{path}.net_income"
    ni = _mapping(raw, "net_income", path)
    counted_raw = ni.get("counted")
    _expect(isinstance(counted_raw, list), f"{ni_path}.counted", "a list of categories",
            "须为类别列表")
    assert isinstance(counted_raw, list)
    counted = tuple(_category(c, f"{ni_path}.counted[{i}]") for i, c in enumerate(counted_raw))
    _expect(len(set(counted)) == len(counted), f"{ni_path}.counted", "a category twice",
            "同一类别出现两次")
    excluded_raw = ni.get("excluded", [])
    _expect(isinstance(excluded_raw, list), f"{ni_path}.excluded", "a list", "须为列表")
    excluded: list[ExcludedDeduction] = []
    for i, e in enumerate(excluded_raw):
        e_path = f"{ni_path}.excluded[{i}]"
        _expect(isinstance(e, Mapping), e_path, "an object", "须为对象")
        assert isinstance(e, Mapping)
        category = _category(e.get("category"), f"{e_path}.category")
        _expect(category not in counted, f"{e_path}.category", f"{category} is also counted",
                f"{category} 同时被计入")
        excluded.append(
            ExcludedDeduction(
                category, _text(e, "reason_zh", e_path), _text(e, "reason_en", e_path)
            )
        )
    defined = ni.get("defined_by_source")
    _expect(isinstance(defined, bool), f"{ni_path}.defined_by_source", "true or false",
            "须为 true 或 false")

    n_path = f"{path}.notice"
    notice = _mapping(raw, "notice", path)
    required = notice.get("required")
    _expect(isinstance(required, bool), f"{n_path}.required", "true or false", "须为 true 或 false")
    min_days = _int(notice, "min_days", n_path, 1 if required else 0)

    tto = raw.get("tto_award_percent")
    return RulePackVersion(
        pack_id=pack_id,
        version=_text(raw, "version", path),
        effective_from=effective_from,
        effective_to=effective_to,
        region=region,
        name_zh=_text(raw, "name_zh", path),
        name_en=_text(raw, "name_en", path),
        source=_text(raw, "source", path),
        source_en=_text(raw, "source_en", path),
        transfer_floor_percent=_percent(raw, "transfer_floor_percent", path),
        equity_floor_percent=_percent(raw, "equity_floor_percent", path),
        self_implementation=SelfImplementationRule(
            percent=_percent(si, "percent", si_path),
            min_years=min_years,
            max_years=max_years,
            counted_from=SelfImplementationStart(str(counted_from)),
        ),
        net_income=NetIncomeDefinition(
            counted=counted,
            excluded=tuple(excluded),
            defined_by_source=bool(defined),
            description_zh=_text(ni, "description_zh", ni_path),
            description_en=_text(ni, "description_en", ni_path),
        ),
        notice=NoticeRequirement(
            required=bool(required), min_days=min_days, source=_maybe_text(notice, "source", n_path)
        ),
        tto_award_percent=_percent(raw, "tto_award_percent", path) if tto is not None else None,
        tto_award_source=_maybe_text(raw, "tto_award_source", path),
        notes=_text(raw, "notes", path, optional=True) if raw.get("notes") else "",
    )


def _load_shipped() -> RulePackRegistry:
    text = files("domain").joinpath("rule_packs.json").read_text(encoding="utf-8")
    return load_packs(json.loads(text, parse_float=Decimal))


PACKS: RulePackRegistry = _load_shipped()


def pack_in_force(
    pack_id: RulePackId | str, on: date, registry: RulePackRegistry | None = None
) -> RulePackVersion:
    """The version of ``pack_id`` in force on business date ``on``."""
    return (registry or PACKS).in_force(pack_id, on)


def all_packs(registry: RulePackRegistry | None = None) -> tuple[RulePackVersion, ...]:
    """Every loaded version of every pack, by pack id then date."""
    return (registry or PACKS).all()


__all__ = [
    "PACKS",
    "RULE_PACK_DATA_VALID",
    "RULE_PACK_IN_FORCE",
    "RULE_PACK_VERSIONS_DO_NOT_OVERLAP",
    "DeductionCategory",
    "ExcludedDeduction",
    "NetIncomeDefinition",
    "NoticeRequirement",
    "RulePackRef",
    "RulePackRegistry",
    "RulePackVersion",
    "SelfImplementationRule",
    "SelfImplementationStart",
    "all_packs",
    "load_packs",
    "pack_in_force",
]
