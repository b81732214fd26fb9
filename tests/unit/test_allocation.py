"""Net income and allocation: hand-computed examples per rule pack, tiers, fen-exact properties."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import allocation as al
from domain.achievement import INVENTOR_SHARES_SUM_TO_100
from domain.achievement_values import Inventor
from domain.allocation import (
    AllocationLine,
    BandPortion,
    Deduction,
    allocate,
    allocate_equity,
    net_income,
    reallocate_delta,
    self_implementation_awards,
)
from domain.distribution import (
    DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION,
    SELF_IMPLEMENTATION_YEARS_WITHIN_PACK,
    InventorShare,
    PolicyVersion,
    make_split,
)
from domain.enums import RulePackId
from domain.rule_packs import DeductionCategory
from tests.unit.aggregate_checks import assert_storable, rejected
from tests.unit.distribution_support import (
    AWKWARD_TEAM,
    CASH_70,
    DEPT,
    ENTERPRISE,
    FUND,
    INST,
    TEAM,
    TTO,
    pack,
    version,
    yuan,
)

C = DeductionCategory


def amounts(allocation: al.IncomeAllocation) -> dict[str, int]:
    return allocation.amounts()


# --- hand-computed examples, one per rule pack ----------------------------------------------


def test_beijing_university_1m_with_80k_deductions() -> None:
    """北京 Art. 12: net 920,000.00; inventors at least 644,000.00 (70%)."""
    beijing = pack(RulePackId.beijing)
    net = net_income(
        yuan("1,000,000.00"),
        [
            Deduction(C.tax, yuan("50,000.00"), "增值税及附加"),
            Deduction(C.maintenance, yuan("10,000.00"), "专利年费"),
            Deduction(C.valuation, yuan("20,000.00"), "评估费"),
        ],
        beijing,
    )
    assert net.net_fen == yuan("920,000.00") and net.deductions_fen == yuan("80,000.00")
    assert net.counted_fen(C.valuation) == yuan("20,000.00") and not net.ignored
    assert net.defined_by_source and (net.pack_id, net.pack_version) == ("beijing", "2020-01-01")
    allocation = allocate(net.net_fen, version(RulePackId.beijing), AWKWARD_TEAM)
    assert allocation.team_floor_fen == yuan("644,000.00")
    assert allocation.team_fen == yuan("644,000.00") and not allocation.below_floor
    assert amounts(allocation) == {
        "inventor:张三": yuan("214,645.20"),
        "inventor:李四": yuan("214,645.20"),
        "inventor:王五": yuan("214,709.60"),
        "department": yuan("138,000.00"),
        "institution": yuan("138,000.00"),
    }
    assert (allocation.pack_id, allocation.pack_version, allocation.policy_version) == (
        "beijing",
        "2020-01-01",
        "v1",
    )
    assert_storable(allocation, in_value_object=True)


def test_beijing_ignores_agency_fees() -> None:
    net = net_income(
        yuan("1,000,000.00"),
        [Deduction(C.tax, yuan("80,000.00")), Deduction(C.agency, yuan("5,000.00"), "技术经纪")],
        pack(RulePackId.beijing),
    )
    assert net.net_fen == yuan("920,000.00")
    (ignored,) = net.ignored
    assert ignored.deduction.category == C.agency
    assert "not a deduction under 北京市促进科技成果转化条例 第12条" in ignored.reason
    assert ignored.reason_zh == "中介费用不属于北京市促进科技成果转化条例 第12条规定的扣除项目"


def test_national_50_percent_and_net_income_not_defined_by_the_law() -> None:
    national = pack(RulePackId.national)
    net = net_income(
        yuan("500,000.00"),
        [
            Deduction(C.tax, yuan("30,000.00")),
            Deduction(C.agency, yuan("20,000.00")),
            Deduction(C.other_direct, yuan("10,000.00")),  # not in the ledger's default
        ],
        national,
    )
    assert net.net_fen == yuan("450,000.00") and net.defined_by_source is False
    assert [i.deduction.category for i in net.ignored] == [C.other_direct]
    v = version(RulePackId.national, cash={TEAM: 50, INST: 30, TTO: 20})
    allocation = allocate(net.net_fen, v)
    assert amounts(allocation) == {
        "inventor_team": yuan("225,000.00"),
        "institution": yuan("135,000.00"),
        "tto": yuan("90,000.00"),
    }
    assert allocation.team_floor_fen == yuan("225,000.00")


def test_shanghai_counts_taxes_maintenance_valuation_and_appraisal_only() -> None:
    net = net_income(
        yuan("300,000.00"),
        [
            Deduction(C.tax, yuan("18,000.00")),
            Deduction(C.appraisal, yuan("12,000.00")),
            Deduction(C.negotiation, yuan("5,000.00")),  # not under Shanghai Art. 34
        ],
        pack(RulePackId.shanghai),
    )
    assert net.net_fen == yuan("270,000.00")
    allocation = allocate(net.net_fen, version(RulePackId.shanghai))
    assert amounts(allocation) == {
        "inventor_team": yuan("189,000.00"),
        "department": yuan("40,500.00"),
        "institution": yuan("40,500.00"),
    }


def test_zhejiang_fiscal_rnd_funds_are_not_a_cost() -> None:
    net = net_income(
        yuan("2,000,000.00"),
        [
            Deduction(C.fiscal_rnd_funds, yuan("500,000.00"), "国家自然科学基金"),
            Deduction(C.tax, yuan("120,000.00")),
            Deduction(C.other_direct, yuan("80,000.00")),
        ],
        pack(RulePackId.zhejiang),
    )
    assert net.net_fen == yuan("1,800,000.00")
    (ignored,) = net.ignored
    assert ignored.reason == "fiscal R&D funds are not a cost under Zhejiang Art. 37"
    assert ignored.deduction.amount_fen == yuan("500,000.00")
    allocation = allocate(net.net_fen, version(RulePackId.zhejiang))
    assert allocation.team_fen == yuan("1,260,000.00") == allocation.team_floor_fen
    assert allocation.amount("institution") == yuan("270,000.00")


def test_shandong_with_a_tto_performance_award() -> None:
    net = net_income(
        yuan("800,000.00"),
        [Deduction(C.tax, yuan("48,000.00")), Deduction(C.maintenance, yuan("12,000.00"))],
        pack(RulePackId.shandong),
    )
    assert net.net_fen == yuan("740,000.00") and net.defined_by_source is False
    allocation = allocate(
        net.net_fen, version(RulePackId.shandong, cash={TEAM: 70, TTO: 10, INST: 20})
    )
    assert amounts(allocation) == {
        "inventor_team": yuan("518,000.00"),
        "institution": yuan("148,000.00"),
        "tto": yuan("74,000.00"),  # Art. 36: 10% of net income
    }


def test_enterprise_under_beijing_at_60_percent_is_allocated_and_flagged() -> None:
    v = version(RulePackId.beijing, cash={TEAM: 60, INST: 25, DEPT: 15}, who=ENTERPRISE)
    assert v.below_floor
    allocation = allocate(yuan("920,000.00"), v)
    assert allocation.below_floor and allocation.team_fen == yuan("552,000.00")
    assert allocation.team_fen < allocation.team_floor_fen == yuan("644,000.00")


def test_net_income_is_clamped_at_zero_and_flagged() -> None:
    net = net_income(yuan("10,000.00"), [Deduction(C.tax, yuan("12,000.00"))], pack("beijing"))
    assert net.net_fen == 0 and net.clamped and net.shortfall_fen == yuan("2,000.00")
    allocation = allocate(net.net_fen, version(), AWKWARD_TEAM)
    assert all(line.amount_fen == 0 for line in allocation.lines)
    assert len(allocation.lines) == 5 and allocation.portions == ()


# --- tiers, awkward shares, overrides -------------------------------------------------------


def tiered() -> PolicyVersion:
    """Team 70% of the first 1,000,000.00 yuan under the contract, 80% above."""
    return version(
        cash={TEAM: 70, INST: 30},
        tiers=[(yuan("1,000,000.00"), {TEAM: 80, INST: 20})],
    )


def test_a_receipt_crossing_a_tier_boundary_is_split_across_the_tiers() -> None:
    allocation = allocate(yuan("500,000.00"), tiered(), cumulative_before_fen=yuan("800,000.00"))
    assert allocation.portions == (
        BandPortion(0, 0, yuan("200,000.00"), Decimal(70)),
        BandPortion(1, yuan("1,000,000.00"), yuan("300,000.00"), Decimal(80)),
    )
    # 200,000.00 x 70% + 300,000.00 x 80% ; 200,000.00 x 30% + 300,000.00 x 20%
    assert amounts(allocation) == {
        "inventor_team": yuan("380,000.00"),
        "institution": yuan("120,000.00"),
    }


def test_receipts_wholly_inside_one_tier() -> None:
    below = allocate(yuan("100,000.00"), tiered(), cumulative_before_fen=yuan("900,000.00"))
    assert below.team_fen == yuan("70,000.00") and len(below.portions) == 1
    above = allocate(yuan("100,000.00"), tiered(), cumulative_before_fen=yuan("1,000,000.00"))
    assert above.team_fen == yuan("80,000.00") and above.portions[0].band == 1


def test_awkward_shares_and_100_01_yuan_split_to_the_fen() -> None:
    allocation = allocate(yuan("100.01"), version(cash=CASH_70), AWKWARD_TEAM)
    # exact: team 7000.7, department 1500.15, institution 1500.15 -> the spare fen to the team;
    # team 7001 x 33.33/33.33/33.34 = 2333.4333, 2333.4333, 2334.1334 -> spare fen to the first
    assert amounts(allocation) == {
        "inventor:张三": 2334,
        "inventor:李四": 2333,
        "inventor:王五": 2334,
        "department": 1500,
        "institution": 1500,
    }
    assert sum(amounts(allocation).values()) == 10_001


def test_inventor_overrides_take_their_share_and_the_rest_follows_contributions() -> None:
    v = version(inventor_overrides={"张三": 50})
    team = [("张三", 40), ("李四", 30), ("王五", 30)]
    allocation = allocate(yuan("100,000.00"), v, team)
    assert allocation.amount("inventor:张三") == yuan("35,000.00")  # 50% of 70,000.00
    assert allocation.amount("inventor:李四") == yuan("17,500.00")
    assert allocation.amount("inventor:王五") == yuan("17,500.00")
    # all named: the overrides are relative weights
    both = allocate(
        yuan("100,000.00"),
        version(inventor_overrides={"张三": 60, "李四": 20}),
        [*team[:1], ("李四", 60)],
    )
    assert both.amount("inventor:张三") == yuan("52,500.00")
    assert both.amount("inventor:李四") == yuan("17,500.00")
    # overrides for inventors not in this team change nothing
    other = allocate(yuan("100,000.00"), version(inventor_overrides={"赵六": 50}), team)
    assert other.amount("inventor:张三") == yuan("28,000.00")


def test_achievement_inventors_are_accepted() -> None:
    team = [Inventor("张三", Decimal(60)), Inventor("李四", Decimal(40), person_id="E123")]
    allocation = allocate(yuan("1,000.00"), version(), team)
    assert allocation.inventors == (
        InventorShare("张三", Decimal(60)),
        InventorShare("李四", Decimal(40)),
    )
    assert allocation.amount("inventor:张三") == yuan("420.00")


# --- adjustments ---------------------------------------------------------------------------------


def test_reallocate_delta_gives_new_lines_summing_to_the_change() -> None:
    before = allocate(yuan("920,000.00"), version(), AWKWARD_TEAM)
    adjustment = reallocate_delta(before, yuan("900,000.00"))
    assert adjustment.delta_fen == -yuan("20,000.00")
    assert sum(line.amount_fen for line in adjustment.lines) == -yuan("20,000.00")
    assert adjustment.lines == (
        AllocationLine(TEAM, "张三", -466_620),
        AllocationLine(TEAM, "李四", -466_620),
        AllocationLine(TEAM, "王五", -466_760),
        AllocationLine(DEPT, None, -300_000),
        AllocationLine(INST, None, -300_000),
    )
    revised = adjustment.revised
    assert revised.net_fen == yuan("900,000.00")
    for key, fen in before.amounts().items():
        delta = next((x.amount_fen for x in adjustment.lines if x.key == key), 0)
        assert revised.amount(key) == fen + delta
    assert reallocate_delta(before, before.net_fen).lines == ()


def test_reallocation_keeps_the_tier_position() -> None:
    before = allocate(yuan("500,000.00"), tiered(), cumulative_before_fen=yuan("800,000.00"))
    adjustment = reallocate_delta(before, yuan("400,000.00"))
    # the receipt now ends at 1,200,000.00: the 100,000.00 removed came off the 80% tier
    assert adjustment.lines == (
        AllocationLine(TEAM, None, -yuan("80,000.00")),
        AllocationLine(INST, None, -yuan("20,000.00")),
    )


# --- equity ------------------------------------------------------------------------------


def test_equity_shares_split_to_whole_shares() -> None:
    awards = allocate_equity(1_000_000, version(), AWKWARD_TEAM)
    assert {line.key: line.shares for line in awards.lines} == {
        "inventor:张三": 266_640,
        "inventor:李四": 266_640,
        "inventor:王五": 266_720,
        "institution": 200_000,
    }
    assert awards.team_shares == 800_000 >= awards.floor_shares == 700_000
    assert not awards.below_floor and awards.pack_id == "beijing"
    odd = allocate_equity(7, version(), AWKWARD_TEAM)
    assert sum(line.shares for line in odd.lines) == 7 and odd.team_shares == 6


def test_equity_below_floor_flagged_for_an_enterprise() -> None:
    v = version(equity={TEAM: 60, INST: 40}, who=ENTERPRISE)
    awards = allocate_equity(1000, v)
    assert awards.below_floor and awards.team_shares == 600 < awards.floor_shares == 700


# --- self-implementation -------------------------------------------------------------------


def test_beijing_self_implementation_five_years_from_the_first_profitable_year() -> None:
    reports = {
        2019: -yuan("1,000.00"),
        2020: yuan("1,000,000.00"),
        2021: -yuan("50,000.00"),
        2022: yuan("2,000,000.01"),
        2023: 0,
        2024: yuan("300,000.00"),
        2025: yuan("400,000.00"),  # sixth year: outside the window
    }
    awards = self_implementation_awards(reports, pack(RulePackId.beijing))
    assert awards == {
        2020: yuan("50,000.00"),
        2021: 0,
        2022: yuan("100,000.01"),  # 5% of 2,000,000.01 = 100,000.0005, rounded up to the fen
        2023: 0,
        2024: yuan("15,000.00"),
    }
    assert self_implementation_awards({2020: -1}, pack(RulePackId.beijing)) == {}
    given_start = self_implementation_awards(reports, pack("beijing"), first_profitable_year=2022)
    assert list(given_start) == [2022, 2023, 2024, 2025]
    with_policy = self_implementation_awards(
        reports, pack("beijing"), policy=version(self_implementation_percent=8)
    )
    assert with_policy[2020] == yuan("80,000.00")


def test_national_self_implementation_three_to_five_years_after_production() -> None:
    reports = {
        2019: yuan("100,000.00"),
        2020: yuan("200,000.00"),
        2021: -1,
        2022: yuan("500,000.00"),
    }
    national = pack(RulePackId.national)
    assert self_implementation_awards(reports, national, production_start_year=2019) == {
        2019: yuan("5,000.00"),
        2020: yuan("10,000.00"),
        2021: 0,
    }
    five = self_implementation_awards(reports, national, production_start_year=2019, years=5)
    assert five[2022] == yuan("25,000.00")
    policy = version(RulePackId.national, self_implementation_years=4)
    assert 2022 in self_implementation_awards(
        reports, national, production_start_year=2019, policy=policy
    )


@pytest.mark.parametrize(("pack_id", "years"), [("zhejiang", 5), ("shandong", 3)])
def test_zhejiang_and_shandong_ten_percent(pack_id: str, years: int) -> None:
    reports = {y: yuan("1,000,000.00") for y in range(2022, 2030)}
    awards = self_implementation_awards(reports, pack(pack_id), production_start_year=2022)
    assert awards == {y: yuan("100,000.00") for y in range(2022, 2022 + years)}


# --- one test per rule -------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, True])
def test_deduction_amount_positive(bad: int) -> None:
    rule = al.DEDUCTION_AMOUNT_POSITIVE
    beijing = pack("beijing")
    rejected(
        None,
        rule,
        "deductions[1].amount_fen",
        lambda: net_income(100, [Deduction(C.tax, 1), Deduction(C.tax, bad)], beijing),
    )
    rejected(
        None,
        rule,
        "deductions[0].category",
        lambda: net_income(100, [Deduction("bribe", 1)], beijing),  # type: ignore[arg-type]
    )


def test_income_amount_not_negative() -> None:
    rule = al.INCOME_AMOUNT_NOT_NEGATIVE
    rejected(None, rule, "gross_fen", lambda: net_income(-1, [], pack("beijing")))
    rejected(None, rule, "gross_fen", lambda: net_income(Decimal("1.5"), [], pack("beijing")))  # type: ignore[arg-type]
    rejected(None, rule, "net_fen", lambda: allocate(-1, version()))
    rejected(None, rule, "cumulative_before_fen", lambda: allocate(1, version(), (), -1))
    rejected(None, rule, "shares_count", lambda: allocate_equity(-5, version()))


@pytest.mark.parametrize(
    ("team", "field"),
    [
        ([(" ", 100)], "inventors[0].inventor"),
        ([("张三", 50), ("张三", 50)], "inventors[1].inventor"),
        ([("张三", 0), ("李四", 100)], "inventors[0].percent"),
        ([("张三", 50.0), ("李四", 50)], "inventors[0].percent"),
        ([("张三", "half"), ("李四", 50)], "inventors[0].percent"),
    ],
)
def test_inventor_shares_valid(team: list[Any], field: str) -> None:
    rejected(None, al.INVENTOR_SHARES_VALID, field, lambda: allocate(100, version(), team))


def test_inventor_shares_sum_to_100() -> None:
    rejected(
        None,
        INVENTOR_SHARES_SUM_TO_100,
        "inventors",
        lambda: allocate(100, version(), [("张三", "33.33"), ("李四", "33.33"), ("王五", "33.33")]),
    )


def test_self_implementation_start_given() -> None:
    rejected(
        None,
        al.SELF_IMPLEMENTATION_START_GIVEN,
        "production_start_year",
        lambda: self_implementation_awards({2020: 1}, pack(RulePackId.national)),
    )


def test_self_implementation_years_within_pack_when_computing() -> None:
    rejected(
        None,
        SELF_IMPLEMENTATION_YEARS_WITHIN_PACK,
        "years",
        lambda: self_implementation_awards(
            {2020: 1}, pack(RulePackId.national), production_start_year=2020, years=2
        ),
    )


def test_public_floor_is_checked_again_against_the_receipts_pack() -> None:
    """A public policy adopted under the national 50% floor, judged by Beijing's 70%."""
    v = version(RulePackId.national, cash={TEAM: 60, INST: 40}, equity={TEAM: 60, INST: 40})
    err = rejected(
        None,
        DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION,
        "cash_split.inventor_team",
        lambda: allocate(yuan("1,000.00"), v, pack=pack(RulePackId.beijing)),
    )
    assert err.detail.startswith("北京市促进科技成果转化条例 第12条: inventors ≥ 70%")
    rejected(
        None,
        DISTRIBUTION_FLOOR_PUBLIC_INSTITUTION,
        "equity_split.inventor_team",
        lambda: allocate_equity(100, v, pack=pack(RulePackId.beijing)),
    )


# --- properties --------------------------------------------------------------------------------


@st.composite
def percents(draw: st.DrawFn, parts: int, low_first: int = 0) -> list[Decimal]:
    """``parts`` percentages in hundredths summing to 100, the first at least ``low_first``."""
    first = draw(st.integers(low_first * 100, 10_000))
    others = parts - 1
    cuts = sorted(
        draw(st.lists(st.integers(0, 10_000 - first), min_size=others - 1, max_size=others - 1))
    )
    bounds = [0, *cuts, 10_000 - first]
    rest = [bounds[i + 1] - bounds[i] for i in range(others)]
    return [Decimal(first) / 100, *(Decimal(r) / 100 for r in rest)]


@st.composite
def teams(draw: st.DrawFn) -> list[tuple[str, Decimal]]:
    size = draw(st.integers(1, 5))
    cuts = sorted(draw(st.sets(st.integers(1, 9_999), min_size=size - 1, max_size=size - 1)))
    bounds = [0, *cuts, 10_000]
    return [(f"p{i}", Decimal(bounds[i + 1] - bounds[i]) / 100) for i in range(size)]


BENEFICIARIES = [TEAM, DEPT, INST, TTO, FUND]


@st.composite
def policies(draw: st.DrawFn, compliant: bool) -> PolicyVersion:
    floor = 70 if compliant else 0

    def split() -> dict[Any, Decimal]:
        return dict(zip(BENEFICIARIES, draw(percents(5, floor)), strict=True))

    starts = sorted(draw(st.sets(st.integers(1, 10**12), max_size=3)))
    overrides = draw(
        st.dictionaries(st.sampled_from(["p0", "p1", "p9"]), st.integers(1, 40), max_size=2)
    )
    return version(
        RulePackId.beijing,
        cash=split(),
        equity=split(),
        tiers=[(s, make_split(split(), "t")) for s in starts],
        inventor_overrides=overrides,
        who=None if compliant else ENTERPRISE,
    )


fen = st.integers(0, 10**13)


@settings(max_examples=300, deadline=None)
@given(policies(compliant=False), teams(), fen, fen)
def test_lines_sum_to_net_exactly_and_none_is_negative(
    v: PolicyVersion, team: list[tuple[str, Decimal]], net: int, before: int
) -> None:
    allocation = allocate(net, v, team, before)
    assert sum(line.amount_fen for line in allocation.lines) == net
    assert all(line.amount_fen >= 0 for line in allocation.lines)
    assert sum(p.amount_fen for p in allocation.portions) == net
    assert len({line.key for line in allocation.lines}) == len(allocation.lines)


@settings(max_examples=300, deadline=None)
@given(policies(compliant=True), teams(), fen, fen)
def test_team_gets_at_least_the_floor_when_the_policy_complies(
    v: PolicyVersion, team: list[tuple[str, Decimal]], net: int, before: int
) -> None:
    allocation = allocate(net, v, team, before)
    assert not allocation.below_floor
    assert allocation.team_fen >= allocation.team_floor_fen
    assert allocation.team_fen * 100 >= net * 70 - 99  # within a fen of 70% exactly


@settings(max_examples=200, deadline=None)
@given(policies(compliant=False), teams(), fen, fen, st.integers(0, 100))
def test_deltas_sum_to_the_change_of_net(
    v: PolicyVersion, team: list[tuple[str, Decimal]], net: int, before: int, cut: int
) -> None:
    previous = allocate(net, v, team, before)
    new_net = net * cut // 100
    adjustment = reallocate_delta(previous, new_net)
    assert sum(line.amount_fen for line in adjustment.lines) == new_net - net
    merged = previous.amounts()
    for line in adjustment.lines:
        merged[line.key] = merged.get(line.key, 0) + line.amount_fen
    assert merged == adjustment.revised.amounts()


@settings(max_examples=200, deadline=None)
@given(policies(compliant=True), teams(), st.integers(0, 10**9))
def test_equity_shares_sum_and_meet_the_floor(
    v: PolicyVersion, team: list[tuple[str, Decimal]], shares: int
) -> None:
    awards = allocate_equity(shares, v, team)
    assert sum(line.shares for line in awards.lines) == shares
    assert all(line.shares >= 0 for line in awards.lines)
    assert awards.team_shares >= awards.floor_shares
