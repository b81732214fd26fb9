"""Distribution policy: splits, tiers, floors by rule pack, versions by date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain import distribution as dist
from domain.distribution import (
    BeneficiaryKind,
    DistributionPolicy,
    FloorFinding,
    Tier,
    policy_id_for,
)
from domain.enums import InstitutionKind, RulePackId
from domain.rule_packs import RULE_PACK_IN_FORCE
from tests.unit.aggregate_checks import rejected
from tests.unit.distribution_support import (
    CASH_70,
    DEPT,
    ENTERPRISE,
    EQUITY_80,
    INST,
    INSTITUTION,
    PUBLIC_UNIVERSITY,
    TEAM,
    TTO,
    assert_rebuilds,
    pack,
    policy,
    version,
    yuan,
)

CASH_60 = {TEAM: 60, INST: 25, DEPT: 15}
BEIJING_60 = "北京市促进科技成果转化条例 第12条: inventors ≥ 70% of net income; policy gives 60%"


def adopt(p: DistributionPolicy, **changes: Any) -> Any:
    args: dict[str, Any] = {
        "version_label": "2024",
        "effective_from": date(2024, 1, 1),
        "cash_split": CASH_70,
        "equity_split": EQUITY_80,
        "pack": pack(RulePackId.beijing),
        **PUBLIC_UNIVERSITY,
    }
    args.update(changes)
    return p.adopt_version(**args)


def test_one_policy_per_institution_with_versions_by_date() -> None:
    p = policy()
    assert p.id == policy_id_for(INSTITUTION) == DistributionPolicy.create(INSTITUTION).id
    second = adopt(p, cash_split={TEAM: 75, INST: 15, DEPT: 10})
    assert p.policy_in_force(date(2023, 12, 31)).version_label == "2023"
    assert p.policy_in_force(date(2024, 1, 1)) == second
    assert second.cash_split.team_percent == 75 and second.equity_split.percent(INST) == 20
    assert second.cash_split.percent(TTO) == 0
    assert not second.below_floor and second.bound_by_floor
    events = assert_rebuilds(p)
    assert [type(e).__name__ for e in events] == ["Created", "VersionAdopted", "VersionAdopted"]


def test_splits_accept_strings_and_codes_and_keep_canonical_order() -> None:
    v = version(cash={"tto": "10", "institution": "20", "inventor_team": "70.00"})
    assert [s.beneficiary for s in v.cash_split.shares] == [TEAM, INST, TTO]
    assert v.cash_split.team_percent == Decimal("70.00")


def test_tiers_are_full_splits_from_ascending_amounts() -> None:
    v = version(
        cash={TEAM: 70, INST: 30},
        tiers=[(yuan("1,000,000.00"), {TEAM: 80, INST: 20}), Tier(yuan("5,000,000.00"), v80())],
    )
    assert [t.from_fen for t in v.tiers] == [100_000_000, 500_000_000]
    bands = v.cash_bands()
    assert [(start, end) for start, end, _ in bands] == [
        (0, 100_000_000),
        (100_000_000, 500_000_000),
        (500_000_000, None),
    ]


def v80() -> Any:
    return dist.make_split({TEAM: 85, INST: 15}, "x")


# --- floors --------------------------------------------------------------------------------


def test_beijing_public_university_at_60_percent_is_rejected_quoting_the_rule() -> None:
    p = policy()
    err = rejected(
        p,
        dist.DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION,
        "cash_split.inventor_team",
        lambda: adopt(p, cash_split=CASH_60),
    )
    assert err.detail == BEIJING_60


@pytest.mark.parametrize(
    "who",
    [
        ENTERPRISE,
        {"institution_is_public_research": False, "institution_kind": InstitutionKind.university},
    ],
)
def test_enterprise_or_non_public_below_floor_is_recorded_and_flagged(who: dict[str, Any]) -> None:
    p = DistributionPolicy.create(INSTITUTION)
    v = adopt(p, cash_split=CASH_60, equity_split={TEAM: 50, INST: 50}, **who)
    assert v.below_floor and not v.bound_by_floor
    assert v.floor_findings == (
        FloorFinding(
            "cash_split.inventor_team",
            Decimal(70),
            Decimal(60),
            "北京市促进科技成果转化条例 第12条",
            BEIJING_60,
        ),
        FloorFinding(
            "equity_split.inventor_team",
            Decimal(70),
            Decimal(50),
            "北京市促进科技成果转化条例 第12条",
            "北京市促进科技成果转化条例 第12条: inventors ≥ 70% of the shares; policy gives 50%",
        ),
    )
    events = assert_rebuilds(p)
    assert events[-1].below_floor is True and events[-1].version.floor_findings == v.floor_findings


@pytest.mark.parametrize(
    ("pack_id", "floor"),
    [
        (RulePackId.national, 50),
        (RulePackId.beijing, 70),
        (RulePackId.shanghai, 70),
        (RulePackId.zhejiang, 70),
        (RulePackId.shandong, 70),
    ],
)
def test_each_pack_floor_is_met_exactly_and_missed_by_a_hundredth(
    pack_id: RulePackId, floor: int
) -> None:
    at = Decimal(floor)
    ok = version(pack_id, cash={TEAM: at, INST: 100 - at}, equity={TEAM: at, INST: 100 - at})
    assert not ok.below_floor
    under = at - Decimal("0.01")
    err = rejected(
        None,
        dist.DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION,
        "cash_split.inventor_team",
        lambda: version(pack_id, cash={TEAM: under, INST: 100 - under}),
    )
    assert err.detail.startswith(pack(pack_id).source)
    assert f"inventors ≥ {floor}% of net income; policy gives {under}%" in err.detail


def test_floor_applies_to_every_tier_equity_and_self_implementation() -> None:
    rule = dist.DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION
    rejected(
        None,
        rule,
        "tiers[1].split.inventor_team",
        lambda: version(tiers=[(100, CASH_70), (200, {TEAM: 65, INST: 35})]),
    )
    rejected(None, rule, "equity_split.inventor_team", lambda: version(equity={TEAM: 60, INST: 40}))
    err = rejected(
        None,
        rule,
        "self_implementation_percent",
        lambda: version(RulePackId.zhejiang, self_implementation_percent=Decimal("9.99")),
    )
    assert "≥ 10% of operating profit a year; policy gives 9.99%" in err.detail
    ok = version(RulePackId.zhejiang, self_implementation_percent=12, self_implementation_years=5)
    assert ok.self_implementation_percent == 12


def test_shandong_tto_share_is_separate_from_the_team_floor() -> None:
    """Art. 36 TTO awards do not count towards the Art. 34 floor: team alone must reach 70%."""
    v = version(RulePackId.shandong, cash={TEAM: 70, TTO: 10, INST: 20})
    assert v.cash_split.percent(TTO) == 10 and v.pack.tto_award_percent == 10
    rejected(
        None,
        dist.DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION,
        "cash_split.inventor_team",
        lambda: version(RulePackId.shandong, cash={TEAM: 60, TTO: 10, INST: 30}),
    )


# --- one test per rule ---------------------------------------------------------------------


def test_distribution_split_sums_to_100() -> None:
    rule = dist.DISTRIBUTION_SPLIT_SUMS_TO_100
    p = policy()
    rejected(p, rule, "cash_split", lambda: adopt(p, cash_split={TEAM: 70, INST: 20}))
    rejected(p, rule, "equity_split", lambda: adopt(p, equity_split={TEAM: 80, INST: 21}))
    rejected(p, rule, "tiers[0].split", lambda: adopt(p, tiers=[(100, {TEAM: 90})]))


@pytest.mark.parametrize(
    ("split", "field"),
    [
        ({"inventors": 70, INST: 30}, "cash_split.inventors"),
        ({TEAM: 70.0, INST: 30}, "cash_split.inventor_team"),  # a float
        ({TEAM: True, INST: 99}, "cash_split.inventor_team"),
        ({TEAM: 110, INST: -10}, "cash_split.inventor_team"),
        ({TEAM: "70%", INST: 30}, "cash_split.inventor_team"),
        (
            dist.Split(
                (
                    dist.BeneficiaryShare(TEAM, Decimal(70)),
                    dist.BeneficiaryShare(INST, Decimal(15)),
                    dist.BeneficiaryShare(INST, Decimal(15)),
                )
            ),
            "cash_split.institution",
        ),  # twice
    ],
)
def test_distribution_split_shares_valid(split: Any, field: str) -> None:
    p = policy()
    rejected(p, dist.DISTRIBUTION_SPLIT_SHARES_VALID, field, lambda: adopt(p, cash_split=split))


def test_distribution_split_shares_valid_mapping_required() -> None:
    p = policy()
    rejected(
        p,
        dist.DISTRIBUTION_SPLIT_SHARES_VALID,
        "equity_split",
        lambda: adopt(p, equity_split=[(TEAM, 100)]),
    )


def test_distribution_tiers_ascending() -> None:
    rule = dist.DISTRIBUTION_TIERS_ASCENDING
    p = policy()
    rejected(p, rule, "tiers[0].from_fen", lambda: adopt(p, tiers=[(0, CASH_70)]))
    rejected(p, rule, "tiers[1].from_fen", lambda: adopt(p, tiers=[(200, CASH_70), (200, CASH_70)]))
    rejected(p, rule, "tiers[1].from_fen", lambda: adopt(p, tiers=[(200, CASH_70), (100, CASH_70)]))


def test_inventor_overrides_valid() -> None:
    rule = dist.INVENTOR_OVERRIDES_VALID
    p = policy()
    rejected(p, rule, "inventor_overrides. ", lambda: adopt(p, inventor_overrides={" ": 10}))
    rejected(p, rule, "inventor_overrides.张三", lambda: adopt(p, inventor_overrides={"张三": 0}))
    rejected(p, rule, "inventor_overrides.张三", lambda: adopt(p, inventor_overrides={"张三": 1.5}))
    rejected(
        p,
        rule,
        "inventor_overrides.张三 ",
        lambda: adopt(p, inventor_overrides={"张三": 10, "张三 ": 10}),
    )
    rejected(
        p,
        rule,
        "inventor_overrides",
        lambda: adopt(p, inventor_overrides={"张三": 60, "李四": 41}),
    )
    v = adopt(p, inventor_overrides={"张三": 60, "李四": 40})
    assert [(o.inventor, o.percent) for o in v.inventor_overrides] == [("张三", 60), ("李四", 40)]


def test_public_research_institution_kind() -> None:
    p = policy()
    rejected(
        p,
        dist.PUBLIC_RESEARCH_INSTITUTION_KIND,
        "institution_is_public_research",
        lambda: adopt(
            p, institution_is_public_research=True, institution_kind=InstitutionKind.enterprise
        ),
    )
    institute = adopt(p, institution_kind=InstitutionKind.research_institute)
    assert institute.bound_by_floor


def test_distribution_policy_dates_increase() -> None:
    p = policy()
    rejected(
        p,
        dist.DISTRIBUTION_POLICY_DATES_INCREASE,
        "effective_from",
        lambda: adopt(p, effective_from=date(2023, 1, 1)),
    )


def test_distribution_policy_label_unique() -> None:
    p = policy()
    rule = dist.DISTRIBUTION_POLICY_LABEL_UNIQUE
    rejected(p, rule, "version_label", lambda: adopt(p, version_label="2023"))
    rejected(p, rule, "version_label", lambda: adopt(p, version_label="  "))


def test_distribution_policy_in_force() -> None:
    p = policy()
    rejected(
        p,
        dist.DISTRIBUTION_POLICY_IN_FORCE,
        "on",
        lambda: p.policy_in_force(date(2022, 12, 31)),
    )
    rejected(
        None,
        dist.DISTRIBUTION_POLICY_IN_FORCE,
        "on",
        lambda: DistributionPolicy.create(INSTITUTION).policy_in_force(date(2024, 1, 1)),
    )


def test_self_implementation_years_within_pack() -> None:
    rule = dist.SELF_IMPLEMENTATION_YEARS_WITHIN_PACK
    p = policy()
    rejected(p, rule, "self_implementation_years", lambda: adopt(p, self_implementation_years=4))
    rejected(
        None,
        rule,
        "self_implementation_years",
        lambda: version(RulePackId.national, self_implementation_years=6),
    )
    assert version(RulePackId.national, self_implementation_years=4).self_implementation_years == 4


def test_policy_pack_must_be_in_force_when_the_version_takes_effect() -> None:
    p = DistributionPolicy.create(INSTITUTION)
    rejected(
        p,
        RULE_PACK_IN_FORCE,
        "pack",
        lambda: adopt(p, effective_from=date(2019, 6, 1)),  # Beijing pack from 2020-01-01
    )


def test_beneficiary_codes_are_stable() -> None:
    assert [b.value for b in BeneficiaryKind] == [
        "inventor_team",
        "department",
        "institution",
        "tto",
        "transformation_fund",
    ]
    assert set(dist.CHINESE_LABELS) == set(BeneficiaryKind)
