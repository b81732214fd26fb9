"""Institution aggregate: registration, rename, rule pack by date, enterprise size."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from domain import institution as inst
from domain.enums import EnterpriseSize, InstitutionKind, RulePackId
from domain.institution import PROVINCES, Institution
from tests.unit.aggregate_checks import rejected, replay

D0 = date(2020, 1, 1)


def university(**changes: object) -> Institution:
    args: dict[str, object] = {
        "name": "西安交通大学",
        "kind": InstitutionKind.university,
        "region": "610000",
        "city": "610100",
        "public": True,
        "registered_on": D0,
    }
    args.update(changes)
    return Institution.register(**args)  # type: ignore[arg-type]


def test_province_table_has_all_34_province_level_divisions() -> None:
    assert len(PROVINCES) == 34
    assert all(len(code) == 6 and code.endswith("0000") for code in PROVINCES)
    assert PROVINCES["610000"] == "陕西省" and PROVINCES["510000"] == "四川省"


def test_register_records_one_event_and_rebuilds_equal() -> None:
    given = uuid4()
    firm = Institution.register(
        name=" 西安某科技有限公司 ",
        kind=InstitutionKind.enterprise,
        size=EnterpriseSize.small,
        region="610000",
        registered_on=D0,
        id=given,
    )
    firm.rename("西安某新材料有限公司")
    firm.set_size(EnterpriseSize.medium)
    assert firm.id == given and firm.name == "西安某新材料有限公司"
    assert firm.size == EnterpriseSize.medium and not firm.public
    assert firm.rule_pack == RulePackId.national
    copy = replay(firm)
    assert copy == firm and copy.version == 3


def test_rule_pack_is_chosen_by_business_date() -> None:
    pku = university(name="北京大学", region="110000", city=None, rule_pack=RulePackId.national)
    pku.change_rule_pack(RulePackId.beijing, date(2021, 1, 1))
    assert pku.rule_pack_on(date(2019, 6, 1)) == RulePackId.national  # before registration
    assert pku.rule_pack_on(date(2020, 12, 31)) == RulePackId.national
    assert pku.rule_pack_on(date(2021, 1, 1)) == RulePackId.beijing
    assert pku.rule_pack == RulePackId.beijing
    assert replay(pku) == pku


# --- one test per rule -------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   "])
def test_name_required(name: str) -> None:
    rejected(None, inst.INSTITUTION_NAME_REQUIRED, "name", lambda: university(name=name))
    xjtu = university()
    rejected(xjtu, inst.INSTITUTION_NAME_REQUIRED, "name", lambda: xjtu.rename(name))


def test_enterprise_size_matches_kind() -> None:
    rule = inst.ENTERPRISE_SIZE_MATCHES_KIND
    rejected(None, rule, "size", lambda: university(kind=InstitutionKind.enterprise))
    rejected(None, rule, "size", lambda: university(size=EnterpriseSize.large))
    xjtu = university()
    rejected(xjtu, rule, "size", lambda: xjtu.set_size(EnterpriseSize.micro))


@pytest.mark.parametrize("region", ["610100", "990000", "61000", "", "陕西"])
def test_region_is_province(region: str) -> None:
    rule = inst.REGION_IS_PROVINCE
    rejected(None, rule, "region", lambda: university(region=region, city=None))


@pytest.mark.parametrize("city", ["510100", "610000", "6101", "61010x"])
def test_city_within_region(city: str) -> None:
    rejected(None, inst.CITY_WITHIN_REGION, "city", lambda: university(city=city))


def test_rule_pack_matches_region() -> None:
    rule = inst.RULE_PACK_MATCHES_REGION
    rejected(None, rule, "rule_pack", lambda: university(rule_pack=RulePackId.zhejiang))
    xjtu = university()
    rejected(
        xjtu,
        rule,
        "rule_pack",
        lambda: xjtu.change_rule_pack(RulePackId.shanghai, date(2022, 1, 1)),
    )
    zju = university(name="浙江大学", region="330000", city="330100", rule_pack=RulePackId.zhejiang)
    zju.change_rule_pack(RulePackId.national, date(2022, 1, 1))  # national is always allowed


@pytest.mark.parametrize("effective", [D0, date(2019, 12, 31)])
def test_rule_pack_changes_in_date_order(effective: date) -> None:
    xjtu = university()
    rule = inst.RULE_PACK_CHANGES_IN_DATE_ORDER
    field = "effective_from"
    rejected(xjtu, rule, field, lambda: xjtu.change_rule_pack(RulePackId.national, effective))
