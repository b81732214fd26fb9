"""Institution: a university, research institute, enterprise or exchange.

Sellers, buyers, co-owners of achievements and the exchanges that list them
are all institutions. Statistics count by kind, size and region, and the
rule pack an institution follows decides its statutory distribution floors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.enums import EnterpriseSize, InstitutionKind, RulePackId
from domain.errors import require, rule
from domain.serialisable import value_object

# GB/T 2260 province-level divisions (省级行政区划代码), all 34.
PROVINCES: dict[str, str] = {
    "110000": "北京市",
    "120000": "天津市",
    "130000": "河北省",
    "140000": "山西省",
    "150000": "内蒙古自治区",
    "210000": "辽宁省",
    "220000": "吉林省",
    "230000": "黑龙江省",
    "310000": "上海市",
    "320000": "江苏省",
    "330000": "浙江省",
    "340000": "安徽省",
    "350000": "福建省",
    "360000": "江西省",
    "370000": "山东省",
    "410000": "河南省",
    "420000": "湖北省",
    "430000": "湖南省",
    "440000": "广东省",
    "450000": "广西壮族自治区",
    "460000": "海南省",
    "500000": "重庆市",
    "510000": "四川省",
    "520000": "贵州省",
    "530000": "云南省",
    "540000": "西藏自治区",
    "610000": "陕西省",
    "620000": "甘肃省",
    "630000": "青海省",
    "640000": "宁夏回族自治区",
    "650000": "新疆维吾尔自治区",
    "710000": "台湾省",
    "810000": "香港特别行政区",
    "820000": "澳门特别行政区",
}

# A provincial pack binds only institutions of that province (DOMAIN.md:
# "its province's, or the national one").
RULE_PACK_PROVINCE: dict[RulePackId, str] = {
    RulePackId.beijing: "110000",
    RulePackId.shanghai: "310000",
    RulePackId.zhejiang: "330000",
    RulePackId.shandong: "370000",
}

G = "institution"
INSTITUTION_NAME_REQUIRED = rule(
    "institution_name_required", "An institution has a non-blank name.", group=G
)
ENTERPRISE_SIZE_MATCHES_KIND = rule(
    "enterprise_size_matches_kind",
    "An enterprise states its size (large, medium, small, micro); other kinds of institution have none.",
    source="工信部联企业〔2011〕300号 中小企业划型标准规定",
    group=G,
)
REGION_IS_PROVINCE = rule(
    "region_is_province",
    "An institution's region is a province-level code of GB/T 2260 (six digits ending in 0000).",
    source="GB/T 2260 中华人民共和国行政区划代码",
    group=G,
)
CITY_WITHIN_REGION = rule(
    "city_within_region",
    "A city code is a six-digit GB/T 2260 code inside the institution's province, not the province itself.",
    source="GB/T 2260 中华人民共和国行政区划代码",
    group=G,
)
RULE_PACK_MATCHES_REGION = rule(
    "rule_pack_matches_region",
    "An institution follows the national rule pack or the pack of its own province.",
    group=G,
)
RULE_PACK_CHANGES_IN_DATE_ORDER = rule(
    "rule_pack_changes_in_date_order",
    "A rule-pack change takes effect after the registration and after every earlier change, "
    "so that each business date has exactly one pack.",
    group=G,
)


@value_object
@dataclass(frozen=True)
class RulePackPeriod:
    """The pack an institution follows from ``effective_from`` on."""

    rule_pack: RulePackId
    effective_from: date


def is_province_code(code: str) -> bool:
    return code in PROVINCES


def is_city_in_province(city: str, province: str) -> bool:
    return len(city) == 6 and city.isdigit() and city[:2] == province[:2] and city != province


class Institution(Aggregate):
    """An institution of the ledger (机构)."""

    @event("Registered")
    def __init__(
        self,
        id: UUID,  # eventsourcing takes the aggregate id under this name
        name: str,
        kind: InstitutionKind,
        size: EnterpriseSize | None,
        public: bool,
        region: str,
        city: str | None,
        rule_pack: RulePackId,
        registered_on: date,
    ) -> None:
        self.name = name
        self.kind = kind
        self.size = size
        self.public = public
        self.region = region
        self.city = city
        self.registered_on = registered_on
        self.rule_packs: tuple[RulePackPeriod, ...] = (RulePackPeriod(rule_pack, registered_on),)
        # Distribution policies (收益分配办法) attach here in a later issue:
        # versioned by effective date like ``rule_packs``, never edited in place.

    @classmethod
    def register(
        cls,
        *,
        name: str,
        kind: InstitutionKind,
        region: str,
        registered_on: date,
        public: bool = False,
        size: EnterpriseSize | None = None,
        city: str | None = None,
        rule_pack: RulePackId = RulePackId.national,
        id: UUID | None = None,
    ) -> Institution:
        require(bool(name.strip()), INSTITUTION_NAME_REQUIRED, "name", "name is blank",
                zh="名称为空白")
        _check_size(kind, size)
        require(
            is_province_code(region),
            REGION_IS_PROVINCE,
            "region",
            f"{region!r} is not a province code",
            zh=f"{region!r} 不是省级代码",
        )
        if city is not None:
            require(
                is_city_in_province(city, region),
                CITY_WITHIN_REGION,
                "city",
                f"{city!r} is not a code inside province {region}",
                zh=f"{city!r} 不是省份 {region} 内的代码",
            )
        _check_rule_pack(rule_pack, region)
        return cls(
            id=id or uuid4(),
            name=name.strip(),
            kind=kind,
            size=size,
            public=public,
            region=region,
            city=city,
            rule_pack=rule_pack,
            registered_on=registered_on,
        )

    # --- commands -----------------------------------------------------------

    def rename(self, name: str) -> None:
        require(bool(name.strip()), INSTITUTION_NAME_REQUIRED, "name", "name is blank",
                zh="名称为空白")
        self._renamed(name=name.strip())

    def change_rule_pack(self, rule_pack: RulePackId, effective_from: date) -> None:
        _check_rule_pack(rule_pack, self.region)
        last = self.rule_packs[-1].effective_from
        require(
            effective_from > last,
            RULE_PACK_CHANGES_IN_DATE_ORDER,
            "effective_from",
            f"{effective_from} is not after {last}",
            zh=f"{effective_from} 不晚于 {last}",
        )
        self._rule_pack_changed(rule_pack=rule_pack, effective_from=effective_from)

    def set_size(self, size: EnterpriseSize) -> None:
        _check_size(self.kind, size)
        self._size_set(size=size)

    # --- queries ------------------------------------------------------------

    @property
    def rule_pack(self) -> RulePackId:
        """The pack in force for the latest business dates."""
        return self.rule_packs[-1].rule_pack

    def rule_pack_on(self, on: date) -> RulePackId:
        """The pack in force on ``on``; before registration, the first pack.

        An old payment is judged by the pack of its own date (DOMAIN.md).
        """
        chosen = self.rule_packs[0].rule_pack
        for period in self.rule_packs:
            if period.effective_from <= on:
                chosen = period.rule_pack
        return chosen

    # --- events -------------------------------------------------------------

    @event("Renamed")
    def _renamed(self, name: str) -> None:
        self.name = name

    @event("RulePackChanged")
    def _rule_pack_changed(self, rule_pack: RulePackId, effective_from: date) -> None:
        self.rule_packs = (*self.rule_packs, RulePackPeriod(rule_pack, effective_from))

    @event("SizeSet")
    def _size_set(self, size: EnterpriseSize) -> None:
        self.size = size


def _check_size(kind: InstitutionKind, size: EnterpriseSize | None) -> None:
    if kind == InstitutionKind.enterprise:
        require(
            size is not None, ENTERPRISE_SIZE_MATCHES_KIND, "size", "an enterprise states its size",
            zh="企业须载明规模"
        )
    else:
        require(
            size is None, ENTERPRISE_SIZE_MATCHES_KIND, "size", f"a {kind} has no enterprise size",
            zh=f"{kind} 没有企业规模"
        )


def _check_rule_pack(rule_pack: RulePackId, region: str) -> None:
    province = RULE_PACK_PROVINCE.get(rule_pack)
    require(
        province is None or province == region,
        RULE_PACK_MATCHES_REGION,
        "rule_pack",
        f"the {rule_pack} pack binds institutions of {province}, not of {region}",
        zh=f"{rule_pack} 规则包适用于 {province} 的机构，不适用于 {region}",
    )
