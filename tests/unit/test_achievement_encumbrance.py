"""Encumbrances of an achievement by contracts, and the long life-cycle scenario."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from domain import achievement as ach
from domain import achievement_values as av
from domain import encumbrance as enc
from domain.achievement import Achievement
from domain.encumbrance import periods_overlap, territories_overlap
from domain.enums import ContractKind, LicenceType, NoticeOutcome, ValuationMethod
from tests.unit.aggregate_checks import rejected, replay
from tests.unit.test_achievement import EXCHANGE, INSTITUTE, UNIVERSITY, register, registered

BUYER = UUID("00000000-0000-0000-0000-0000000000b1")
COMPANY = UUID("00000000-0000-0000-0000-0000000000c1")
Y2024 = date(2024, 1, 1)
Y2025 = date(2025, 1, 1)
Y2026 = date(2026, 1, 1)
FIELD = "achievement_ids[0]"


def licence(
    made: Achievement,
    licence_type: LicenceType | None,
    territory: str = "CN",
    start: date = Y2024,
    end: date | None = date(2028, 12, 31),
    contract: UUID | None = None,
    kind: ContractKind = ContractKind.licence,
    seller: UUID | None = None,
) -> UUID:
    contract = contract or uuid4()
    made.encumber(
        contract, kind, licence_type, territory, start, end, None, start, FIELD, seller_id=seller
    )
    return contract


def assign(
    made: Achievement,
    to: UUID,
    on: date = Y2025,
    seller: UUID | None = None,
    kind: ContractKind = ContractKind.assignment,
) -> UUID:
    contract = uuid4()
    made.encumber(contract, kind, None, "", on, None, to, on, FIELD, seller_id=seller)
    return contract


def test_overlap_helpers() -> None:
    assert territories_overlap("CN", "Beijing") and territories_overlap("", "上海")
    assert territories_overlap(" beijing ", "BEIJING") and not territories_overlap(
        "110000", "310000"
    )
    assert periods_overlap(Y2024, None, Y2026, Y2026)
    assert not periods_overlap(Y2024, date(2024, 12, 31), Y2025, None)
    assert periods_overlap(Y2024, Y2025, Y2025, None)  # terms are closed ranges


# --- licences ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "new"),
    [
        (LicenceType.exclusive, LicenceType.non_exclusive),
        (LicenceType.exclusive, LicenceType.exclusive),
        (LicenceType.sole, None),  # silent means non-exclusive
        (LicenceType.non_exclusive, LicenceType.exclusive),
        (LicenceType.non_exclusive, LicenceType.sole),
    ],
)
def test_licence_conflict(held: LicenceType, new: LicenceType | None) -> None:
    made = registered()
    licence(made, held, "Shaanxi")
    made.collect_events()
    rejected(made, enc.LICENCE_CONFLICT, FIELD, lambda: licence(made, new, "CN", start=Y2026))


def test_licences_that_do_not_overlap_are_accepted() -> None:
    made = register()
    licence(made, LicenceType.exclusive, "Shaanxi", end=date(2024, 12, 31))
    licence(made, LicenceType.exclusive, "Shaanxi", start=Y2025)  # after the first term
    licence(made, LicenceType.exclusive, "Sichuan")  # another territory
    licence(made, LicenceType.non_exclusive, "Hunan")
    licence(made, LicenceType.non_exclusive, "Hunan")  # non-exclusive licences coexist
    licence(made, None, "Hunan", kind=ContractKind.ufpl_licence)
    assert len(made.licences_in_force(date(2025, 6, 1))) == 5
    assert made.encumbrances[-1].licence_type == LicenceType.non_exclusive
    assert replay(made) == made


def test_release_frees_the_achievement_for_a_new_licence() -> None:
    made = register()
    ufpl = licence(made, LicenceType.exclusive, kind=ContractKind.ufpl_licence)
    made.release(ufpl, date(2025, 3, 1))  # returned without fee
    licence(made, LicenceType.exclusive, "Shaanxi", start=date(2025, 3, 1))
    # A term reaching into the time the released licence still bound is a clash.
    rejected(
        made,
        enc.LICENCE_CONFLICT,
        FIELD,
        lambda: licence(
            made, LicenceType.exclusive, "Sichuan", start=date(2025, 2, 1), end=date(2025, 2, 28)
        ),
    )
    assert replay(made) == made


def test_encumbrance_contract_once() -> None:
    made = registered()
    contract = licence(made, LicenceType.non_exclusive)
    made.collect_events()
    rule = enc.ENCUMBRANCE_CONTRACT_ONCE
    rejected(made, rule, FIELD, lambda: licence(made, LicenceType.non_exclusive, contract=contract))


@pytest.mark.parametrize(
    ("kind", "licence_type", "assignee"),
    [
        (ContractKind.assignment, LicenceType.exclusive, BUYER),
        (ContractKind.assignment, None, None),
        (ContractKind.equity_contribution, None, None),
        (ContractKind.licence, None, BUYER),
        (ContractKind.development, None, BUYER),
    ],
)
def test_encumbrance_terms_match_kind(
    kind: ContractKind, licence_type: LicenceType | None, assignee: UUID | None
) -> None:
    made = registered()
    rule = enc.ENCUMBRANCE_TERMS_MATCH_KIND
    rejected(
        made,
        rule,
        FIELD,
        lambda: made.encumber(uuid4(), kind, licence_type, "", Y2024, None, assignee, Y2024, FIELD),
    )


def test_dates_in_order_for_licence_term() -> None:
    made = registered()
    rejected(
        made,
        av.ACHIEVEMENT_DATES_IN_ORDER,
        FIELD,
        lambda: licence(made, LicenceType.exclusive, start=Y2025, end=Y2025),
    )


def test_service_contracts_are_recorded_but_clash_with_nothing() -> None:
    made = register()
    licence(made, LicenceType.exclusive)
    made.encumber(uuid4(), ContractKind.service, None, "", Y2024, None, None, Y2024)
    assert not made.is_transferred(date(2023, 12, 31)) and made.is_transferred(Y2024)


# --- ownership -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ContractKind.assignment, ContractKind.equity_contribution])
def test_assignment_moves_ownership_and_blocks_the_former_owner(kind: ContractKind) -> None:
    made = registered()
    assign(made, COMPANY, kind=kind)
    assert made.owner_ids == [COMPANY] and made.is_assigned_away()
    assert not made.is_assigned_away(date(2024, 12, 31)) and made.is_assigned_away(Y2025)
    made.collect_events()
    rule = enc.ACHIEVEMENT_ASSIGNED_AWAY
    rejected(made, rule, FIELD, lambda: licence(made, LicenceType.non_exclusive))
    rejected(made, rule, FIELD, lambda: assign(made, BUYER))
    rejected(made, rule, FIELD, lambda: assign(made, BUYER, seller=UNIVERSITY))
    rejected(made, rule, FIELD, lambda: licence(made, None, seller=INSTITUTE))
    rejected(
        made,
        ach.RIGHTS_GRANTED_ONCE,
        "kind",
        lambda: made.grant_rights(ach.RightsGrantKind.joint_ownership, Y2026),
    )
    licence(made, LicenceType.exclusive, start=Y2026, seller=COMPANY)  # the new owner may


def test_seller_is_owner() -> None:
    made = registered()
    rejected(made, enc.SELLER_IS_OWNER, FIELD, lambda: assign(made, COMPANY, seller=BUYER))
    assign(made, COMPANY, seller=INSTITUTE)  # either co-owner (their consent is the ledger's job)


def test_release_of_assignment_restores_owners() -> None:
    made = register()
    first = assign(made, COMPANY)
    second = assign(made, BUYER, on=Y2026, seller=COMPANY)
    assert made.owner_ids == [BUYER]
    made.collect_events()
    rule = enc.OWNERSHIP_RELEASED_LAST_FIRST
    rejected(made, rule, "contract_id", lambda: made.release(first, Y2026))
    made.release(second, date(2026, 6, 1))
    assert made.owner_ids == [COMPANY]
    made.release(first, date(2026, 7, 1))
    assert made.owner_ids == [UNIVERSITY, INSTITUTE] and not made.is_assigned_away()
    assert made.is_transferred(date(2026, 8, 1))  # counted although rescinded since


def test_encumbrance_in_force_to_release() -> None:
    made = registered()
    contract = licence(made, LicenceType.sole)
    made.release(contract, Y2025)
    made.collect_events()
    rule = enc.ENCUMBRANCE_IN_FORCE_TO_RELEASE
    rejected(made, rule, "contract_id", lambda: made.release(contract, Y2026))
    rejected(made, rule, "contract_id", lambda: made.release(uuid4(), Y2026))


def test_dates_in_order_for_release() -> None:
    made = registered()
    contract = licence(made, LicenceType.sole, start=Y2025)
    made.collect_events()
    rejected(made, av.ACHIEVEMENT_DATES_IN_ORDER, "on", lambda: made.release(contract, Y2024))


def test_lapsed_achievement_is_not_licensed() -> None:
    made = registered()
    made.record_lapse(Y2025, "保护期届满")
    made.collect_events()
    rejected(made, ach.ACHIEVEMENT_LAPSED, FIELD, lambda: licence(made, None, start=Y2025))


# --- the long scenario -------------------------------------------------------------------


def test_life_of_an_achievement() -> None:
    """register → separate register → valuation → listing → joint listing → notice →
    licence → conflicting licence rejected → release → relicence."""
    made = register()
    made.enter_separate_register(date(2024, 3, 2))
    made.record_valuation(
        ValuationMethod.income, 80_000_000, date(2024, 3, 10), assessor="陕西某资产评估有限公司"
    )
    made.list_on_exchange(EXCHANGE, "XJ-2024-001", date(2024, 3, 15), asking_price_fen=90_000_000)
    shanghai = uuid4()
    made.list_on_exchange(shanghai, "SH-2024-777", date(2024, 3, 20), asking_price_fen=90_000_000)
    assert len(made.listings_in_force(date(2024, 3, 20))) == 2  # one achievement, two listings
    made.publish_notice(date(2024, 4, 1), date(2024, 4, 15), 8500_0000)
    made.record_objection("某研究员", "价格低于评估值", date(2024, 4, 3))
    made.conclude_notice(NoticeOutcome.objection_rejected, date(2024, 4, 16))
    made.check_transferable_at_agreed_price(True, date(2024, 5, 1), FIELD)

    first = licence(
        made,
        LicenceType.exclusive,
        "CN",
        start=date(2024, 5, 1),
        end=date(2029, 4, 30),
        seller=UNIVERSITY,
    )
    made.delist(EXCHANGE, date(2024, 5, 1))
    made.delist(shanghai, date(2024, 5, 1))
    made.collect_events()
    rejected(
        made,
        enc.LICENCE_CONFLICT,
        FIELD,
        lambda: licence(made, LicenceType.non_exclusive, "Zhejiang", start=date(2025, 1, 1)),
    )
    made.release(first, date(2025, 6, 30))
    licence(made, LicenceType.non_exclusive, "Zhejiang", start=date(2025, 7, 1))
    assert [e.contract_id for e in made.licences_in_force(date(2025, 7, 1))] != [first]
    assert made.is_transferred(date(2024, 5, 1)) and not made.is_transferred(date(2024, 4, 30))
    assert made.first_transferred_on() == date(2024, 5, 1)
    assert made.in_separate_register() and made.latest_valuation() is not None


def test_long_history_rebuilds_equal() -> None:
    made = register()
    made.enter_separate_register(date(2024, 3, 2))
    made.record_valuation(ValuationMethod.market, 100_000, date(2024, 3, 3), assessor="评估所")
    made.list_on_exchange(EXCHANGE, "L1", date(2024, 3, 4))
    made.publish_notice(date(2024, 3, 5), date(2024, 3, 20), 100_000)
    made.conclude_notice(NoticeOutcome.no_objection, date(2024, 3, 21))
    made.record_proof_of_concept("基金", 500_000, "样机", date(2024, 3, 22))
    contract = assign(made, COMPANY, on=date(2024, 4, 1), kind=ContractKind.equity_contribution)
    made.release(contract, date(2024, 5, 1))
    made.record_lapse(date(2030, 1, 1), "放弃")
    copy = replay(made)
    assert copy == made and copy.version == 10
