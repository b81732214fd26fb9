"""Achievement aggregate: registration, register, rights grant, valuation, listing, notice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise
from uuid import UUID, uuid4

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain import achievement as ach
from domain import achievement_values as av
from domain import public_notice as pn
from domain.achievement import Achievement, Inventor, Owner
from domain.enums import IpType, NoticeOutcome, RightsGrantKind, TechnologyField, ValuationMethod
from tests.unit.aggregate_checks import rejected, replay

UNIVERSITY = UUID("00000000-0000-0000-0000-00000000000a")
INSTITUTE = UUID("00000000-0000-0000-0000-00000000000b")
EXCHANGE = UUID("00000000-0000-0000-0000-0000000000e1")
D = date(2024, 3, 1)


def owners(*shares: str) -> list[Owner]:
    ids = [UNIVERSITY, INSTITUTE] + [uuid4() for _ in shares[2:]]
    return [Owner(i, Decimal(s)) for i, s in zip(ids, shares, strict=False)]


def team(*shares: str) -> list[Inventor]:
    return [Inventor(f"发明人{i}", Decimal(s), f"E{i:04d}") for i, s in enumerate(shares)]


def register(**changes: object) -> Achievement:
    args: dict[str, object] = {
        "title": "一种高强度铝合金的制备方法",
        "ip_type": IpType.invention_patent,
        "technology_field": TechnologyField.new_materials,
        "owners": owners("60", "40"),
        "inventors": team("70", "30"),
        "official_number": "ZL202110000001.X",
        "granted_on": date(2023, 5, 9),
        "state_funded": True,
        "registered_on": D,
    }
    args.update(changes)
    return Achievement.register(**args)  # type: ignore[arg-type]


def registered(**changes: object) -> Achievement:
    """A registered achievement whose registration event is already collected."""
    made = register(**changes)
    made.collect_events()
    return made


# --- registration -------------------------------------------------------------------


def test_register_keeps_what_was_given_and_rebuilds_equal() -> None:
    made = register(title="  一种方法 ", official_number=" ZL1 ")
    assert made.title == "一种方法" and made.official_number == "ZL1"
    assert made.owner_ids == [UNIVERSITY, INSTITUTE]
    assert made.service_achievement and made.state_funded
    assert replay(made) == made


def test_pending_patent_is_granted_later() -> None:
    made = register(granted_on=None, official_number="CN202410000002.3")
    made.record_grant(date(2025, 1, 7), "ZL202410000002.3")
    assert made.granted_on == date(2025, 1, 7) and made.official_number == "ZL202410000002.3"
    assert replay(made) == made


def test_technical_secret_has_neither_number_nor_grant() -> None:
    made = register(ip_type=IpType.technical_secret, official_number=None, granted_on=None)
    assert made.official_number is None and made.granted_on is None


# --- share properties ---------------------------------------------------------------


def hundredths_summing_to_100() -> st.SearchStrategy[list[Decimal]]:
    """1..6 positive shares with two decimals that sum to exactly 100."""

    def split(cuts: list[int]) -> list[Decimal]:
        points = [0, *sorted(set(cuts)), 10000]
        return [Decimal(b - a) / 100 for a, b in pairwise(points)]

    return st.lists(st.integers(1, 9999), max_size=5).map(split)


shares_in_range = st.lists(
    st.integers(1, 10000).map(lambda n: Decimal(n) / 100), min_size=1, max_size=6
)


@given(hundredths_summing_to_100(), hundredths_summing_to_100())
def test_accepted_registrations_sum_to_100(
    owner_shares: list[Decimal], team_shares: list[Decimal]
) -> None:
    made = register(
        owners=[Owner(uuid4(), s) for s in owner_shares],
        inventors=[Inventor(f"p{i}", s) for i, s in enumerate(team_shares)],
    )
    assert sum(o.share for o in made.owners) == 100
    assert sum(p.share for p in made.inventors) == 100


@given(shares_in_range)
def test_owner_shares_not_summing_to_100_are_rejected(shares: list[Decimal]) -> None:
    assume(sum(shares) != 100)
    given_owners = [Owner(uuid4(), s) for s in shares]
    rejected(None, ach.OWNER_SHARES_SUM_TO_100, "owners", lambda: register(owners=given_owners))


@given(shares_in_range)
def test_inventor_shares_not_summing_to_100_are_rejected(shares: list[Decimal]) -> None:
    assume(sum(shares) != 100)
    given_team = [Inventor(f"p{i}", s) for i, s in enumerate(shares)]
    rejected(
        None, ach.INVENTOR_SHARES_SUM_TO_100, "inventors", lambda: register(inventors=given_team)
    )


# --- one test per rule: registration --------------------------------------------------


def test_owner_shares_sum_to_100() -> None:
    rejected(
        None, ach.OWNER_SHARES_SUM_TO_100, "owners", lambda: register(owners=owners("60", "39.99"))
    )
    rejected(None, ach.OWNER_SHARES_SUM_TO_100, "owners", lambda: register(owners=[]))


def test_inventor_shares_sum_to_100() -> None:
    rule = ach.INVENTOR_SHARES_SUM_TO_100
    rejected(None, rule, "inventors", lambda: register(inventors=team("70", "30.01")))


@pytest.mark.parametrize("bad", ["0", "-10", "100.01", "NaN", "Infinity"])
def test_share_in_range(bad: str) -> None:
    rule = av.ACHIEVEMENT_SHARE_IN_RANGE
    bad_owners = [Owner(UNIVERSITY, Decimal("100")), Owner(INSTITUTE, Decimal(bad))]
    rejected(None, rule, "owners[1].share", lambda: register(owners=bad_owners))
    bad_team = [Inventor("甲", Decimal("100")), Inventor("乙", Decimal(bad))]
    rejected(None, rule, "inventors[1].share", lambda: register(inventors=bad_team))


def test_owners_distinct() -> None:
    twice = [Owner(UNIVERSITY, Decimal(50)), Owner(UNIVERSITY, Decimal(50))]
    rejected(None, ach.OWNERS_DISTINCT, "owners[1].institution_id", lambda: register(owners=twice))


def test_text_required() -> None:
    rule = av.ACHIEVEMENT_TEXT_REQUIRED
    rejected(None, rule, "title", lambda: register(title=" "))
    nameless = [Inventor("甲", Decimal(50)), Inventor("", Decimal(50))]
    rejected(None, rule, "inventors[1].name", lambda: register(inventors=nameless))


@pytest.mark.parametrize(
    ("ip_type", "number"),
    [
        (IpType.invention_patent, None),
        (IpType.software_copyright, "  "),
        (IpType.plant_variety, None),
        (IpType.technical_secret, "JM-001"),
    ],
)
def test_official_number_matches_ip_type(ip_type: IpType, number: str | None) -> None:
    rule = ach.OFFICIAL_NUMBER_MATCHES_IP_TYPE
    rejected(
        None,
        rule,
        "official_number",
        lambda: register(ip_type=ip_type, official_number=number, granted_on=None),
    )


def test_grant_date_matches_ip_type() -> None:
    rule = ach.GRANT_DATE_MATCHES_IP_TYPE
    rejected(
        None,
        rule,
        "granted_on",
        lambda: register(ip_type=IpType.technical_secret, official_number=None),
    )
    secret = registered(ip_type=IpType.technical_secret, official_number=None, granted_on=None)
    rejected(secret, rule, "granted_on", lambda: secret.record_grant(D, "ZL1"))


def test_grant_recorded_once() -> None:
    made = registered()
    rejected(made, ach.GRANT_RECORDED_ONCE, "granted_on", lambda: made.record_grant(D, "ZL2"))


def test_lapse_once_and_no_listing_after_lapse() -> None:
    made = registered()
    made.record_lapse(date(2024, 6, 1), "未缴年费")
    rejected(made, ach.ACHIEVEMENT_LAPSED, "on", lambda: made.record_lapse(date(2024, 7, 1), "x"))
    rejected(
        made,
        ach.ACHIEVEMENT_LAPSED,
        "listed_on",
        lambda: made.list_on_exchange(EXCHANGE, "GP-1", date(2024, 6, 1)),
    )
    made.list_on_exchange(EXCHANGE, "GP-0", date(2024, 5, 31))  # before the lapse it was live


# --- separate asset register ----------------------------------------------------------


def test_separate_register_history() -> None:
    made = register()
    made.enter_separate_register(date(2024, 4, 1))
    assert made.in_separate_register() and made.in_separate_register(date(2024, 4, 1))
    made.exit_separate_register(date(2024, 9, 1), "转让完成")
    assert not made.in_separate_register()
    assert made.in_separate_register(date(2024, 8, 31)) and not made.in_separate_register(
        date(2024, 9, 1)
    )
    made.enter_separate_register(date(2025, 1, 1))  # re-entry after an exit is a new spell
    assert len(made.register_spells) == 2
    assert replay(made) == made


def test_separate_register_service_only() -> None:
    made = registered(service_achievement=False)
    rule = ach.SEPARATE_REGISTER_SERVICE_ONLY
    rejected(made, rule, "on", lambda: made.enter_separate_register(D))


def test_separate_register_not_entered_twice() -> None:
    made = registered()
    made.enter_separate_register(D)
    rule = ach.SEPARATE_REGISTER_NOT_ENTERED_TWICE
    rejected(made, rule, "on", lambda: made.enter_separate_register(D))


def test_separate_register_exit_needs_entry() -> None:
    made = registered()
    rule = ach.SEPARATE_REGISTER_EXIT_NEEDS_ENTRY
    rejected(made, rule, "on", lambda: made.exit_separate_register(D, "x"))


def test_dates_in_order_for_register_exit() -> None:
    made = registered()
    made.enter_separate_register(D)
    rule = av.ACHIEVEMENT_DATES_IN_ORDER
    rejected(made, rule, "on", lambda: made.exit_separate_register(date(2024, 2, 29), "x"))


# --- rights grant -----------------------------------------------------------------


def test_rights_grant_by_share_and_use_right() -> None:
    made = register()
    made.grant_rights(
        RightsGrantKind.ownership_by_share,
        D,
        inventor_shares=[Decimal("49"), Decimal("21")],
        retained_share=Decimal("30"),
    )
    assert made.rights_grant is not None and made.rights_grant.retained_share == Decimal(30)
    assert replay(made) == made
    other = register()
    other.grant_rights(
        RightsGrantKind.long_term_use_right,
        D,
        use_right_start=D,
        use_right_end=date(2034, 3, 1),
    )
    assert other.rights_grant is not None and other.rights_grant.use_right_end == date(2034, 3, 1)


def test_rights_grant_service_only() -> None:
    made = registered(service_achievement=False)
    rule = ach.RIGHTS_GRANT_SERVICE_ONLY
    rejected(made, rule, "kind", lambda: made.grant_rights(RightsGrantKind.joint_ownership, D))


def test_rights_granted_once() -> None:
    made = registered()
    made.grant_rights(RightsGrantKind.joint_ownership, D)
    rule = ach.RIGHTS_GRANTED_ONCE
    rejected(made, rule, "kind", lambda: made.grant_rights(RightsGrantKind.joint_ownership, D))


@pytest.mark.parametrize(
    ("kind", "extra", "field"),
    [
        (RightsGrantKind.ownership_by_share, {"retained_share": Decimal(100)}, "inventor_shares"),
        (
            RightsGrantKind.ownership_by_share,
            {"inventor_shares": [Decimal(50), Decimal(50)]},
            "retained_share",
        ),
        (
            RightsGrantKind.ownership_by_share,
            {"inventor_shares": [Decimal(70)], "retained_share": Decimal(30)},
            "inventor_shares",
        ),
        (RightsGrantKind.joint_ownership, {"retained_share": Decimal(30)}, "retained_share"),
        (RightsGrantKind.joint_ownership, {"use_right_start": D}, "use_right_start"),
        (RightsGrantKind.long_term_use_right, {"use_right_start": D}, "use_right_end"),
        (RightsGrantKind.long_term_use_right, {"use_right_end": D}, "use_right_start"),
    ],
)
def test_rights_grant_terms_match_kind(
    kind: RightsGrantKind, extra: dict[str, object], field: str
) -> None:
    made = registered()
    rule = ach.RIGHTS_GRANT_TERMS_MATCH_KIND
    rejected(made, rule, field, lambda: made.grant_rights(kind, D, **extra))  # type: ignore[arg-type]


def test_rights_grant_shares_sum_to_100() -> None:
    made = registered()
    rejected(
        made,
        ach.RIGHTS_GRANT_SHARES_SUM_TO_100,
        "inventor_shares",
        lambda: made.grant_rights(
            RightsGrantKind.ownership_by_share,
            D,
            inventor_shares=[Decimal(50), Decimal(20)],
            retained_share=Decimal("29.99"),
        ),
    )
    rejected(
        made,
        av.ACHIEVEMENT_SHARE_IN_RANGE,
        "inventor_shares[1]",
        lambda: made.grant_rights(
            RightsGrantKind.ownership_by_share,
            D,
            inventor_shares=[Decimal(100), Decimal(-10)],
            retained_share=Decimal(0),
        ),
    )


def test_dates_in_order_for_use_right() -> None:
    made = registered()
    rejected(
        made,
        av.ACHIEVEMENT_DATES_IN_ORDER,
        "use_right_end",
        lambda: made.grant_rights(
            RightsGrantKind.long_term_use_right, D, use_right_start=D, use_right_end=D
        ),
    )


# --- valuation, listing, proof of concept --------------------------------------------


def test_valuations_keep_history() -> None:
    made = register()
    made.record_valuation(
        ValuationMethod.income, 50_000_000, date(2024, 4, 1), assessor="某评估公司"
    )
    made.record_valuation(ValuationMethod.agreed, 45_000_000, date(2024, 5, 1))
    assert [v.amount_fen for v in made.valuations] == [50_000_000, 45_000_000]
    assert made.latest_valuation(date(2024, 4, 30)) == made.valuations[0]
    assert made.latest_valuation() == made.valuations[1]
    assert replay(made) == made


def test_valuation_assessor_required() -> None:
    made = registered()
    rule = ach.VALUATION_ASSESSOR_REQUIRED
    rejected(
        made,
        rule,
        "assessor",
        lambda: made.record_valuation(ValuationMethod.cost, 100, D, assessor=" "),
    )


@pytest.mark.parametrize("amount", [0, -1, True])
def test_amount_positive(amount: int) -> None:
    made = registered()
    rule = av.ACHIEVEMENT_AMOUNT_POSITIVE
    rejected(
        made, rule, "amount_fen", lambda: made.record_valuation(ValuationMethod.agreed, amount, D)
    )
    rejected(
        made, rule, "asking_price_fen", lambda: made.list_on_exchange(EXCHANGE, "GP-1", D, amount)
    )
    rejected(
        made, rule, "amount_fen", lambda: made.record_proof_of_concept("基金", amount, "样机", D)
    )
    rejected(made, rule, "agreed_price_fen", lambda: made.publish_notice(D, D, amount))


@pytest.mark.parametrize("currency", ["cny", "RMB1", "", "元元元"])
def test_currency_code(currency: str) -> None:
    made = registered()
    rule = av.ACHIEVEMENT_CURRENCY_CODE
    rejected(
        made,
        rule,
        "currency",
        lambda: made.record_valuation(ValuationMethod.agreed, 1, D, currency=currency),
    )


def test_listing_not_duplicated() -> None:
    made = registered()
    other_exchange = uuid4()
    made.list_on_exchange(EXCHANGE, "GP-1", D, 1_000_000)
    made.list_on_exchange(other_exchange, "GP-1", D)  # joint listing: same aggregate
    rule = ach.LISTING_NOT_DUPLICATED
    rejected(made, rule, "listing_number", lambda: made.list_on_exchange(EXCHANGE, "GP-2", D))
    made.delist(EXCHANGE, date(2024, 6, 1))
    rejected(made, rule, "listing_number", lambda: made.list_on_exchange(EXCHANGE, " GP-1 ", D))
    made.list_on_exchange(EXCHANGE, "GP-3", date(2024, 7, 1))  # relisting under a new number
    assert [x.listing_number for x in made.listings_in_force()] == ["GP-1", "GP-3"]


def test_listing_in_force_to_delist() -> None:
    made = registered()
    rule = ach.LISTING_IN_FORCE_TO_DELIST
    rejected(made, rule, "exchange_id", lambda: made.delist(EXCHANGE, D))


def test_dates_in_order_for_delisting() -> None:
    made = registered()
    made.list_on_exchange(EXCHANGE, "GP-1", D)
    rule = av.ACHIEVEMENT_DATES_IN_ORDER
    rejected(made, rule, "on", lambda: made.delist(EXCHANGE, date(2024, 2, 1)))


def test_proof_of_concept_history_and_text() -> None:
    made = register()
    made.record_proof_of_concept("西安市概念验证基金", 50_000_000, "中试", D, outcome="通过")
    assert made.proofs_of_concept[0].outcome == "通过"
    rule = av.ACHIEVEMENT_TEXT_REQUIRED
    rejected(made, rule, "funder", lambda: made.record_proof_of_concept(" ", 1, "中试", D))
    assert replay(made) == made


# --- public notice ------------------------------------------------------------------


def noticed(outcome: NoticeOutcome | None = None, objections: int = 0) -> Achievement:
    made = registered()
    made.publish_notice(date(2024, 4, 1), date(2024, 4, 15), 30_000_000)
    for n in range(objections):
        made.record_objection(f"异议人{n}", "价格过低", date(2024, 4, 10))
    if outcome is not None:
        made.conclude_notice(outcome, date(2024, 4, 16))
    return made


@pytest.mark.parametrize(
    ("outcome", "objections", "satisfied"),
    [
        (NoticeOutcome.no_objection, 0, True),
        (NoticeOutcome.objection_rejected, 1, True),
        (NoticeOutcome.objection_upheld, 2, False),
    ],
)
def test_agreed_price_notice_satisfied(
    outcome: NoticeOutcome, objections: int, satisfied: bool
) -> None:
    made = noticed(outcome, objections)
    assert not made.agreed_price_notice_satisfied(date(2024, 4, 15))  # not yet concluded
    assert made.agreed_price_notice_satisfied(date(2024, 4, 16)) is satisfied


def test_agreed_price_notice_required() -> None:
    rule = pn.AGREED_PRICE_NOTICE_REQUIRED
    open_one = noticed()
    field = "achievement_ids[0]"
    on = date(2024, 5, 1)
    rejected(
        open_one, rule, field, lambda: open_one.check_transferable_at_agreed_price(True, on, field)
    )
    open_one.check_transferable_at_agreed_price(False, on, field)  # private owners need no notice
    upheld = noticed(NoticeOutcome.objection_upheld, 1)
    rejected(
        upheld, rule, field, lambda: upheld.check_transferable_at_agreed_price(True, on, field)
    )
    noticed(NoticeOutcome.no_objection).check_transferable_at_agreed_price(True, on, field)


def test_notice_one_at_a_time() -> None:
    made = noticed()
    rule = pn.NOTICE_ONE_AT_A_TIME
    rejected(
        made, rule, "starts_on", lambda: made.publish_notice(date(2024, 5, 1), date(2024, 5, 15), 1)
    )


def test_notice_open() -> None:
    made = registered()
    rule = pn.NOTICE_OPEN
    rejected(made, rule, "raised_on", lambda: made.record_objection("甲", "x", D))
    rejected(made, rule, "on", lambda: made.conclude_notice(NoticeOutcome.no_objection, D))


@pytest.mark.parametrize("raised", [date(2024, 3, 31), date(2024, 4, 16)])
def test_notice_objection_within_period(raised: date) -> None:
    made = noticed()
    rule = pn.NOTICE_OBJECTION_WITHIN_PERIOD
    rejected(made, rule, "raised_on", lambda: made.record_objection("甲", "x", raised))


def test_notice_concluded_after_period() -> None:
    made = noticed()
    rule = pn.NOTICE_CONCLUDED_AFTER_PERIOD
    rejected(
        made,
        rule,
        "on",
        lambda: made.conclude_notice(NoticeOutcome.no_objection, date(2024, 4, 14)),
    )


@pytest.mark.parametrize(
    ("outcome", "objections"),
    [
        (NoticeOutcome.no_objection, 1),
        (NoticeOutcome.objection_upheld, 0),
        (NoticeOutcome.objection_rejected, 0),
    ],
)
def test_notice_outcome_matches_objections(outcome: NoticeOutcome, objections: int) -> None:
    made = noticed(objections=objections)
    rule = pn.NOTICE_OUTCOME_MATCHES_OBJECTIONS
    rejected(made, rule, "outcome", lambda: made.conclude_notice(outcome, date(2024, 4, 16)))


def test_dates_in_order_for_notice() -> None:
    made = registered()
    rule = av.ACHIEVEMENT_DATES_IN_ORDER
    rejected(
        made, rule, "ends_on", lambda: made.publish_notice(date(2024, 4, 2), date(2024, 4, 1), 1)
    )


def test_later_upheld_notice_overrides_earlier_clean_one() -> None:
    made = noticed(NoticeOutcome.no_objection)
    made.publish_notice(date(2024, 6, 1), date(2024, 6, 15), 20_000_000)
    made.record_objection("乙", "低于评估值", date(2024, 6, 2))
    made.conclude_notice(NoticeOutcome.objection_upheld, date(2024, 6, 20))
    assert made.agreed_price_notice_satisfied(date(2024, 6, 19))
    assert not made.agreed_price_notice_satisfied(date(2024, 6, 20))
