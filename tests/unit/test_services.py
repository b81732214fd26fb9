"""Domain services: a contract and its achievements change together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from domain.achievement import Achievement
from domain.contract import ContractStatus, TechnologyContract
from domain.contract_terms import LicenceTerms
from domain.enums import ContractKind, LicenceType, ValuationMethod
from domain.equity import Company, EquityValuation
from domain.errors import DomainError, Rule
from domain.payment_terms import PaymentTerms
from domain.services import (
    ACHIEVEMENTS_PROVIDED,
    EQUITY_HOLDING_MATCHES_CONTRACT,
    SELF_IMPLEMENTER_OWNS_ACHIEVEMENT,
    ContractEnd,
    end_contract,
    open_equity_holding,
    start_self_implementation,
    take_effect,
)
from tests.unit.contract_support import (
    ACHIEVEMENT,
    ACHIEVEMENT_2,
    BUYER,
    CO_SELLER,
    SELLER,
    WAN,
    achievement,
    d,
    foreign_rule,
    signed,
)

ON = d("2024-02-01")
EXCLUSIVE = LicenceTerms(LicenceType.exclusive, False, "CN", d("2024-02-01"), d("2029-01-31"))


def pool(**changes: object) -> tuple[TechnologyContract, dict[UUID, Achievement]]:
    contract = signed(
        ContractKind.licence,
        achievement_ids=(ACHIEVEMENT, ACHIEVEMENT_2),
        licence=EXCLUSIVE,
        **changes,
    )
    found = {ACHIEVEMENT: achievement(ACHIEVEMENT), ACHIEVEMENT_2: achievement(ACHIEVEMENT_2)}
    return contract, found


def assert_nothing_recorded(
    aggregates: list[TechnologyContract | Achievement],
    broken: Rule,
    field: str,
    command: Callable[[], object],
) -> None:
    before = [(a.version, len(a.pending_events)) for a in aggregates]
    with pytest.raises(DomainError) as caught:
        command()
    assert caught.value.rule is broken, caught.value
    assert caught.value.field == field
    assert [(a.version, len(a.pending_events)) for a in aggregates] == before


def test_take_effect_encumbers_every_achievement() -> None:
    contract, found = pool()
    take_effect(contract, found, owners_public=False, on=ON)
    assert contract.status == ContractStatus.in_force
    for a in found.values():
        assert [e.contract_id for e in a.licences_in_force(ON)] == [contract.id]


def test_every_covered_achievement_is_provided() -> None:
    contract, found = pool()
    del found[ACHIEVEMENT_2]
    assert_nothing_recorded(
        [contract, *found.values()],
        ACHIEVEMENTS_PROVIDED,
        "achievement_ids[1]",
        lambda: take_effect(contract, found, owners_public=False, on=ON),
    )


def test_a_conflict_on_the_second_achievement_records_nothing_on_the_first() -> None:
    contract, found = pool()
    earlier = signed(ContractKind.licence, achievement_ids=(ACHIEVEMENT_2,), licence=EXCLUSIVE)
    take_effect(earlier, {ACHIEVEMENT_2: found[ACHIEVEMENT_2]}, owners_public=False, on=ON)
    assert_nothing_recorded(
        [contract, *found.values()],
        foreign_rule("licence_conflict"),
        "achievement_ids[1]",
        lambda: take_effect(contract, found, owners_public=False, on=ON),
    )


def test_agreed_price_needs_the_public_notice_of_a_public_owner() -> None:
    contract, found = pool(agreed_price=True)
    assert_nothing_recorded(
        [contract, *found.values()],
        foreign_rule("agreed_price_notice_required"),
        "achievement_ids[0]",
        lambda: take_effect(contract, found, owners_public=True, on=ON),
    )
    take_effect(contract, found, owners_public=False, on=ON)  # a private owner needs no notice


def test_a_contract_rejection_records_nothing_on_achievements() -> None:
    contract, found = pool()
    assert_nothing_recorded(
        [contract, *found.values()],
        foreign_rule("contract_dates_in_order"),
        "on",
        lambda: take_effect(contract, found, owners_public=False, on=d("2024-01-01")),
    )


def test_pool_with_several_sellers_names_each_owner() -> None:
    contract = signed(
        ContractKind.assignment,
        seller_ids=(SELLER, CO_SELLER),
        achievement_ids=(ACHIEVEMENT, ACHIEVEMENT_2),
    )
    found = {
        ACHIEVEMENT: achievement(ACHIEVEMENT, SELLER),
        ACHIEVEMENT_2: achievement(ACHIEVEMENT_2, CO_SELLER),
    }
    take_effect(contract, found, owners_public=False, on=ON)
    assert all(a.owner_ids == [BUYER] for a in found.values())


def test_licence_ends_free_the_achievements() -> None:
    contract, found = pool()
    take_effect(contract, found, owners_public=False, on=ON)
    end_contract(contract, found, ContractEnd.terminate, d("2024-06-01"), "licensee breached")
    assert contract.status == ContractStatus.terminated
    assert all(a.licences_in_force(d("2024-06-02")) == [] for a in found.values())


def test_end_rejection_records_nothing() -> None:
    contract, found = pool(
        payment_terms=PaymentTerms.lump_sum(WAN), contract_value_fen=WAN, transaction_value_fen=0
    )
    take_effect(contract, found, owners_public=False, on=ON)
    before = [(a.version, len(a.pending_events)) for a in [contract, *found.values()]]
    with pytest.raises(DomainError) as caught:
        end_contract(contract, found, ContractEnd.complete, d("2024-06-01"))
    assert caught.value.rule.name == "contract_settled_to_complete"
    assert [(a.version, len(a.pending_events)) for a in [contract, *found.values()]] == before


def test_completed_assignment_keeps_the_assignee_as_owner() -> None:
    contract = signed(
        ContractKind.assignment, payment_terms=PaymentTerms(), transaction_value_fen=0
    )
    found = {ACHIEVEMENT: achievement()}
    take_effect(contract, found, owners_public=False, on=ON)
    end_contract(contract, found, ContractEnd.complete, d("2024-03-01"))
    assert found[ACHIEVEMENT].owner_ids == [BUYER]


def test_terminated_assignment_restores_the_former_owner() -> None:
    contract = signed(ContractKind.assignment)
    found = {ACHIEVEMENT: achievement()}
    take_effect(contract, found, owners_public=False, on=ON)
    end_contract(contract, found, ContractEnd.terminate, d("2024-03-01"), "解除合同")
    assert found[ACHIEVEMENT].owner_ids == [SELLER]


def test_contract_that_never_took_effect_releases_nothing() -> None:
    contract = signed(ContractKind.licence)
    end_contract(contract, {}, ContractEnd.terminate, d("2024-01-20"), "withdrawn")
    assert contract.status == ContractStatus.terminated


# --- equity and self-implementation ------------------------------------------------------------

COMPANY = Company("西安某某新材料有限公司", "91350100M000100Y43")
VALUATION = EquityValuation(10 * WAN, ValuationMethod.income, "某某资产评估公司", d("2024-01-05"))


def holding_args() -> dict[str, object]:
    return {
        "institution_id": SELLER,
        "company": COMPANY,
        "valuation": VALUATION,
        "registered_capital_fen": 10 * WAN,
        "shares_received": 100_000,
        "total_shares": 400_000,
        "contributed_on": d("2024-02-01"),
    }


def test_equity_holding_comes_from_an_equity_contribution_in_force() -> None:
    licence = signed(ContractKind.licence)
    with pytest.raises(DomainError) as caught:
        open_equity_holding(licence, **holding_args())  # type: ignore[arg-type]
    assert (caught.value.rule, caught.value.field) == (
        EQUITY_HOLDING_MATCHES_CONTRACT,
        "contract_id",
    )
    contract = signed(
        ContractKind.equity_contribution, buyer_id=uuid4(), payment_terms=PaymentTerms()
    )
    take_effect(contract, {ACHIEVEMENT: achievement()}, owners_public=False, on=ON)
    with pytest.raises(DomainError) as caught:
        open_equity_holding(contract, **{**holding_args(), "institution_id": BUYER})  # type: ignore[arg-type]
    assert (caught.value.rule, caught.value.field) == (
        EQUITY_HOLDING_MATCHES_CONTRACT,
        "institution_id",
    )
    holding = open_equity_holding(contract, **holding_args())  # type: ignore[arg-type]
    assert holding.contract_id == contract.id
    assert holding.achievement_ids == (ACHIEVEMENT,)


def test_only_an_owner_implements_itself() -> None:
    owned = achievement()
    with pytest.raises(DomainError) as caught:
        start_self_implementation(owned, BUYER, d("2024-01-01"))
    assert (caught.value.rule, caught.value.field) == (
        SELF_IMPLEMENTER_OWNS_ACHIEVEMENT,
        "institution_id",
    )
    project = start_self_implementation(owned, SELLER, d("2024-01-01"), partner_id=BUYER)
    assert project.is_cooperative
