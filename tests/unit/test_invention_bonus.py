"""Patent invention bonus (专利法实施细则 2023 第92–94条) and the main-contributors check (国发〔2016〕16号).

Worked by hand: an invention patent granted on 2024-11-30 owes at least 4,000.00 yuan
(400,000 fen) by 2025-02-28 (3 months, month end clamped); a utility model 1,500.00.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.achievement import Achievement, Inventor, Owner
from domain.distribution import MAIN_CONTRIBUTORS_SHARE, main_contributor_findings, make_split
from domain.enums import IpType, TechnologyField
from domain.invention_bonus import (
    INVENTION_BONUS_OBLIGATION,
    INVENTION_BONUS_PAYMENT_VALID,
    BonusStatus,
    bonus_deadline,
)
from tests.unit.contract_support import SELLER, assert_rebuilds, assert_rejected, d


def patent(ip_type: IpType = IpType.invention_patent, service: bool = True,
           granted_on: date | None = None) -> Achievement:
    return Achievement.register(
        title="一种电池", ip_type=ip_type, technology_field=TechnologyField.new_materials,
        owners=[Owner(SELLER, Decimal(100))], inventors=[Inventor("张三", Decimal(100))],
        registered_on=d("2024-01-05"), official_number="ZL202410000001.X", granted_on=granted_on,
        service_achievement=service)


def test_deadline_is_three_months_from_grant_month_end_clamped() -> None:
    assert bonus_deadline(d("2024-11-30")) == d("2025-02-28")
    assert bonus_deadline(d("2024-03-15")) == d("2024-06-15")


def test_obligation_arises_at_grant_and_follows_the_floor() -> None:
    a = patent()
    assert a.invention_bonus(d("2025-01-01")) is None  # pending application: no obligation
    a.record_grant(d("2024-11-30"), "ZL202410000001.X")
    assert a.invention_bonus(d("2024-11-29")) is None
    o = a.invention_bonus(d("2024-12-01"))
    assert o is not None and o.floor_fen == 400_000 and o.deadline_on == d("2025-02-28")
    assert o.status is BonusStatus.due and o.short_fen == 400_000 and o.rule == INVENTION_BONUS_OBLIGATION.name
    a.record_invention_bonus(250_000, d("2025-01-10"), "BONUS-1")
    a.record_invention_bonus(150_000, d("2025-02-28"), "BONUS-2")  # on the deadline
    assert a.invention_bonus(d("2025-02-27")).status is BonusStatus.due  # type: ignore[union-attr]
    assert a.invention_bonus(d("2025-02-27")).short_fen == 150_000  # type: ignore[union-attr]
    assert a.invention_bonus(d("2025-03-01")).status is BonusStatus.met  # type: ignore[union-attr]
    assert_rebuilds(a)


def test_late_short_and_agreed_bonuses() -> None:
    um = patent(IpType.utility_model, granted_on=d("2024-03-15"))
    assert um.invention_bonus(d("2024-06-16")).status is BonusStatus.overdue  # type: ignore[union-attr]
    um.record_invention_bonus(100_000, d("2024-06-10"), "B-1")  # 1,000.00 in time: short 500.00
    late = um.invention_bonus(d("2024-06-16"))
    assert late is not None and late.status is BonusStatus.overdue and late.short_fen == 50_000
    um.record_invention_bonus(50_000, d("2024-07-01"), "B-2")
    assert um.invention_bonus(d("2024-07-01")).status is BonusStatus.met_late  # type: ignore[union-attr]
    design = patent(IpType.design, granted_on=d("2024-03-15"))
    design.record_invention_bonus(80_000, d("2024-04-01"), "B-1", agreed="校规第12条: 800元")
    agreed = design.invention_bonus(d("2024-12-31"))
    assert agreed is not None and agreed.status is BonusStatus.agreed and agreed.short_fen == 0
    assert design.invention_bonuses[0].agreed == "校规第12条: 800元"


def test_payments_refused_when_nothing_is_owed_or_repeated() -> None:
    a = patent(granted_on=d("2024-03-15"))
    a.record_invention_bonus(400_000, d("2024-04-01"), "B-1")
    assert_rejected(a, INVENTION_BONUS_PAYMENT_VALID, "payment_id",
                    lambda: a.record_invention_bonus(1, d("2024-04-02"), "B-1"))
    assert_rejected(a, INVENTION_BONUS_PAYMENT_VALID, "amount_fen",
                    lambda: a.record_invention_bonus(0, d("2024-04-02"), "B-2"))
    assert_rejected(a, INVENTION_BONUS_PAYMENT_VALID, "paid_on",
                    lambda: a.record_invention_bonus(1, d("2024-03-14"), "B-2"))
    pending = patent()
    assert_rejected(pending, INVENTION_BONUS_PAYMENT_VALID, "achievement_id",
                    lambda: pending.record_invention_bonus(1, d("2024-04-02"), "B-1"))
    private = patent(service=False, granted_on=d("2024-03-15"))
    assert_rejected(private, INVENTION_BONUS_PAYMENT_VALID, "achievement_id",
                    lambda: private.record_invention_bonus(1, d("2024-04-02"), "B-1"))
    assert private.invention_bonus(d("2025-01-01")) is None


def test_main_contributors_check_flags_team_under_half_of_awards_to_people() -> None:
    # team 30 / tto 40 of net income: the team gets 30/70 = 42.86% of the awards to people.
    cash = make_split({"inventor_team": 30, "tto": 40, "institution": 30}, "cash_split")
    equity = make_split({"inventor_team": 70, "institution": 30}, "equity_split")
    found = main_contributor_findings(cash, (), equity)
    assert [(f.field, f.given_percent) for f in found] == [("cash_split.inventor_team", Decimal("42.86"))]
    assert found[0].message.startswith(MAIN_CONTRIBUTORS_SHARE.name) and "国发〔2016〕16号" in found[0].message
    assert main_contributor_findings(equity, (), equity) == []


def test_main_contributors_check_is_off_by_default_and_flags_when_on() -> None:
    from domain.distribution import MAIN_CONTRIBUTORS_TEXT_CONFIRMED
    from tests.unit.distribution_support import assert_rebuilds as rebuilds
    from tests.unit.distribution_support import policy, version

    # Beijing floor 70% for the team; TTO 20%: 70/(70+20) = 77.78% of awards to people.
    cash = {"inventor_team": 70, "tto": 20, "institution": 10}
    assert not MAIN_CONTRIBUTORS_TEXT_CONFIRMED
    off = version(cash=cash)
    assert not off.main_contributors_check and off.contributor_findings == ()
    on = version(cash=cash, main_contributors_check=True)
    assert on.main_contributors_check and on.contributor_findings == ()
    # Equity 50 team / 50 tto: exactly half of the awards to people, not below it.
    flagged = version("national", cash=cash, equity={"inventor_team": 50, "tto": 50},
                      who={"institution_is_public_research": False,
                           "institution_kind": off.institution_kind}, main_contributors_check=True)
    assert [f.field for f in flagged.contributor_findings] == []  # 50/100 = 50%: not below half
    p = policy(cash_split=cash, main_contributors_check=True)
    assert p.versions[-1].main_contributors_check
    rebuilds(p)
