"""Rule packs: shipped data matches DOMAIN.md, versions by date, new packs are data only."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from importlib.resources import files
from typing import Any

import pytest

from domain import rule_packs as rp
from domain.allocation import Deduction, allocate, net_income
from domain.distribution import DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION, policy_version
from domain.enums import InstitutionKind, RulePackId
from domain.rule_packs import (
    DeductionCategory,
    SelfImplementationStart,
    all_packs,
    load_packs,
    pack_in_force,
)
from tests.unit.aggregate_checks import assert_storable, rejected
from tests.unit.distribution_support import CASH_70, EQUITY_80, store_mapper, yuan

C = DeductionCategory
START = SelfImplementationStart


def shipped_data() -> dict[str, Any]:
    text = files("domain").joinpath("rule_packs.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return data


# pack, in force from, transfer floor, equity floor, SI %, SI min, SI max, SI start, citation
TABLE = [
    ("national", "2015-10-01", 50, 50, 5, 3, 5, START.production_start, "促进科技成果转化法 第45条"),
    ("beijing", "2020-01-01", 70, 70, 5, 5, 5, START.first_profitable_year, "北京市促进科技成果转化条例 第12条"),
    ("shanghai", "2017-06-01", 70, 70, 5, 5, 5, START.first_profitable_year, "上海市促进科技成果转化条例 第34条"),
    ("zhejiang", "2021-09-30", 70, 70, 10, 5, 5, START.production_start, "浙江省促进科技成果转化条例 第37条"),
    ("shandong", "2018-01-01", 70, 70, 10, 3, 5, START.production_start, "山东省促进科技成果转化条例 第34条"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("pack_id", "start", "transfer", "equity", "si", "si_min", "si_max", "si_from", "source"), TABLE
)
def test_shipped_packs_carry_the_domain_table(
    pack_id: str,
    start: str,
    transfer: int,
    equity: int,
    si: int,
    si_min: int,
    si_max: int,
    si_from: SelfImplementationStart,
    source: str,
) -> None:
    p = pack_in_force(RulePackId(pack_id), date(2024, 6, 1))
    assert p.effective_from == date.fromisoformat(start) and p.effective_to is None
    assert p.transfer_floor_percent == transfer and p.equity_floor_percent == equity
    assert p.self_implementation.percent == si
    assert (p.self_implementation.min_years, p.self_implementation.max_years) == (si_min, si_max)
    assert p.self_implementation.counted_from == si_from
    assert p.source == source and p.ref == rp.RulePackRef(pack_id, p.version)
    assert pack_in_force(pack_id, date.fromisoformat(start)) == p  # first day in force


def test_every_shipped_enum_pack_is_loaded() -> None:
    assert {p.pack_id for p in all_packs()} == {m.value for m in RulePackId}


def test_net_income_definitions_as_data() -> None:
    national = pack_in_force(RulePackId.national, date(2024, 1, 1))
    assert national.net_income_defined_by_source is False  # "not defined in the law"
    assert set(national.net_income.counted) == {
        C.tax,
        C.maintenance,
        C.valuation,
        C.appraisal,
        C.negotiation,
        C.agency,
    }
    assert "does not define" in national.net_income.description_en
    beijing = pack_in_force(RulePackId.beijing, date(2024, 1, 1))
    assert beijing.net_income_defined_by_source is True
    assert set(beijing.net_income.counted) == {
        C.tax,
        C.maintenance,
        C.valuation,
        C.appraisal,
        C.negotiation,
    }
    shanghai = pack_in_force(RulePackId.shanghai, date(2024, 1, 1))
    assert set(shanghai.net_income.counted) == {C.tax, C.maintenance, C.valuation, C.appraisal}
    zhejiang = pack_in_force(RulePackId.zhejiang, date(2024, 1, 1))
    assert C.fiscal_rnd_funds not in zhejiang.net_income.counted
    excluded = zhejiang.net_income.exclusion(C.fiscal_rnd_funds)
    assert excluded is not None and "Zhejiang Art. 37" in excluded.reason_en
    shandong = pack_in_force(RulePackId.shandong, date(2024, 1, 1))
    assert shandong.net_income.counted == national.net_income.counted
    assert shandong.net_income_defined_by_source is False


def test_notice_and_tto_award_provisions() -> None:
    zhejiang = pack_in_force(RulePackId.zhejiang, date(2024, 1, 1))
    assert zhejiang.notice.required and zhejiang.notice.min_days == 15
    assert zhejiang.notice.source == "浙江省促进科技成果转化条例 第39条"
    shandong = pack_in_force(RulePackId.shandong, date(2024, 1, 1))
    assert shandong.tto_award_percent == 10
    assert shandong.tto_award_source == "山东省促进科技成果转化条例 第36条"
    for p in all_packs():
        if p.pack_id != "zhejiang":
            assert not p.notice.required


def test_pack_versions_are_value_objects_that_survive_the_store() -> None:
    mapper = store_mapper()
    for p in all_packs():
        assert_storable(p, in_value_object=True)
        encoded = mapper.transcoder.encode({"pack": p})
        assert mapper.transcoder.decode(encoded) == {"pack": p}


# --- versions by date ---------------------------------------------------------------------


def test_a_new_version_judges_dates_from_its_start_and_the_old_one_before() -> None:
    data = copy.deepcopy(shipped_data())
    beijing = next(p for p in data["packs"] if p["pack_id"] == "beijing")
    newer = {**copy.deepcopy(beijing), "version": "2030-01-01", "effective_from": "2030-01-01"}
    newer["transfer_floor_percent"] = "75"
    data["packs"].append(newer)
    registry = load_packs(data)
    assert pack_in_force("beijing", date(2029, 12, 31), registry).transfer_floor_percent == 70
    assert pack_in_force("beijing", date(2030, 1, 1), registry).transfer_floor_percent == 75
    assert [v.version for v in registry.versions("beijing")] == ["2020-01-01", "2030-01-01"]
    assert registry.get("beijing", "2020-01-01").transfer_floor_percent == 70


def test_effective_to_closes_a_version() -> None:
    data = copy.deepcopy(shipped_data())
    national = next(p for p in data["packs"] if p["pack_id"] == "national")
    national["effective_to"] = "2030-12-31"
    registry = load_packs(data)
    assert pack_in_force("national", date(2030, 12, 31), registry).version == "2015-10-01"
    rejected(
        None,
        rp.RULE_PACK_IN_FORCE,
        "on",
        lambda: pack_in_force("national", date(2031, 1, 1), registry),
    )


# --- adding a province is data only -----------------------------------------------------------

SICHUAN: dict[str, Any] = {
    "format": 1,
    "packs": [
        {
            "pack_id": "sichuan",
            "version": "2024-01-01",
            "effective_from": "2024-01-01",
            "effective_to": None,
            "region": "510000",
            "name_zh": "四川省促进科技成果转化条例（示例数据）",
            "name_en": "Sichuan regulation (test data)",
            "source": "四川省促进科技成果转化条例 第X条",
            "source_en": "Sichuan regulation, Art. X (test data)",
            "transfer_floor_percent": "80",
            "equity_floor_percent": "75",
            "self_implementation": {
                "percent": "7.5",
                "min_years": 4,
                "max_years": 4,
                "counted_from": "first_profitable_year",
            },
            "net_income": {
                "defined_by_source": True,
                "counted": ["tax", "agency"],
                "excluded": [],
                "description_zh": "收入扣除税费和中介费用。",
                "description_en": "Income minus taxes and agency fees.",
            },
            "notice": {"required": True, "min_days": 10, "source": "第Y条"},
            "tto_award_percent": None,
            "tto_award_source": None,
        }
    ],
}


def test_a_pack_loaded_from_extra_data_works_without_code_changes() -> None:
    registry = load_packs(SICHUAN, base=rp.PACKS)
    assert set(registry.pack_ids()) == {"sichuan", *RulePackId}
    sichuan = pack_in_force("sichuan", date(2024, 6, 1), registry)
    assert sichuan.region == "510000" and sichuan.self_implementation.percent == Decimal("7.5")
    net = net_income(
        yuan("100,000.00"),
        [Deduction(C.tax, yuan("6,000.00")), Deduction(C.maintenance, yuan("1,000.00"))],
        sichuan,
    )
    assert net.net_fen == yuan("94,000.00") and len(net.ignored) == 1  # maintenance not counted
    policy = policy_version(
        version_label="sc-1",
        effective_from=date(2024, 1, 1),
        cash_split={"inventor_team": 80, "institution": 20},
        equity_split={"inventor_team": 75, "institution": 25},
        institution_is_public_research=True,
        institution_kind=InstitutionKind.university,
        pack=sichuan,
    )
    allocation = allocate(net.net_fen, policy)
    assert allocation.pack_id == "sichuan" and allocation.team_fen == yuan("75,200.00")
    # the new pack's floor binds like any other: 70% is below Sichuan's 80%
    rejected(
        None,
        DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION,
        "cash_split.inventor_team",
        lambda: policy_version(
            version_label="sc-2",
            effective_from=date(2024, 1, 1),
            cash_split=CASH_70,
            equity_split=EQUITY_80,
            institution_is_public_research=True,
            institution_kind=InstitutionKind.university,
            pack=sichuan,
        ),
    )


# --- one test per rule ------------------------------------------------------------------


def test_rule_pack_in_force() -> None:
    rejected(
        None,
        rp.RULE_PACK_IN_FORCE,
        "on",
        lambda: pack_in_force(RulePackId.beijing, date(2019, 12, 31)),
    )
    rejected(
        None, rp.RULE_PACK_IN_FORCE, "pack_id", lambda: pack_in_force("atlantis", date(2024, 1, 1))
    )
    rejected(
        None, rp.RULE_PACK_IN_FORCE, "version", lambda: rp.PACKS.get(RulePackId.beijing, "1999")
    )


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(SICHUAN)
    target: Any = data["packs"][0]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["transfer_floor_percent"], 70.0, "packs[0].transfer_floor_percent"),  # a float
        (["transfer_floor_percent"], "101", "packs[0].transfer_floor_percent"),
        (["transfer_floor_percent"], "seventy", "packs[0].transfer_floor_percent"),
        (["effective_from"], "2024-13-01", "packs[0].effective_from"),
        (["effective_to"], "2023-12-31", "packs[0].effective_to"),
        (["pack_id"], "Si Chuan", "packs[0].pack_id"),
        (["region"], "51", "packs[0].region"),
        (["net_income", "counted"], ["tax", "bribes"], "packs[0].net_income.counted[1]"),
        (["net_income", "counted"], ["tax", "tax"], "packs[0].net_income.counted"),
        (
            ["net_income", "excluded"],
            [{"category": "tax", "reason_zh": "x", "reason_en": "x"}],
            "packs[0].net_income.excluded[0].category",
        ),
        (["self_implementation", "max_years"], 3, "packs[0].self_implementation.max_years"),
        (["self_implementation", "min_years"], 0, "packs[0].self_implementation.min_years"),
        (
            ["self_implementation", "counted_from"],
            "never",
            "packs[0].self_implementation.counted_from",
        ),
        (["notice", "min_days"], 0, "packs[0].notice.min_days"),  # required, so at least 1
        (["source"], " ", "packs[0].source"),
    ],
)
def test_rule_pack_data_valid(path: list[Any], value: Any, field: str) -> None:
    data = _broken(path, value)
    rejected(None, rp.RULE_PACK_DATA_VALID, field, lambda: load_packs(data))


def test_rule_pack_data_valid_whole_file() -> None:
    rejected(
        None, rp.RULE_PACK_DATA_VALID, "format", lambda: load_packs({"format": 2, "packs": []})
    )
    rejected(None, rp.RULE_PACK_DATA_VALID, "packs", lambda: load_packs({"format": 1}))
    twice = {"format": 1, "packs": [SICHUAN["packs"][0], SICHUAN["packs"][0]]}
    rejected(None, rp.RULE_PACK_DATA_VALID, "packs[1].version", lambda: load_packs(twice))
    rejected(
        None,
        rp.RULE_PACK_DATA_VALID,
        "packs[0].version",
        lambda: load_packs(SICHUAN, base=load_packs(SICHUAN)),
    )


def test_rule_pack_versions_do_not_overlap() -> None:
    first = {**SICHUAN["packs"][0], "effective_to": "2025-06-30"}
    second = {**SICHUAN["packs"][0], "version": "2025-01-01", "effective_from": "2025-01-01"}
    rejected(
        None,
        rp.RULE_PACK_VERSIONS_DO_NOT_OVERLAP,
        "sichuan.effective_to",
        lambda: load_packs({"format": 1, "packs": [first, second]}),
    )
    same_day = {**SICHUAN["packs"][0], "version": "again"}
    rejected(
        None,
        rp.RULE_PACK_VERSIONS_DO_NOT_OVERLAP,
        "sichuan.effective_from",
        lambda: load_packs({"format": 1, "packs": [SICHUAN["packs"][0], same_day]}),
    )
    ok = {**first, "effective_to": "2024-12-31"}
    registry = load_packs({"format": 1, "packs": [ok, second]})
    assert pack_in_force("sichuan", date(2025, 1, 1), registry).version == "2025-01-01"
