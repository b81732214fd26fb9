"""TechnologyContract: terms, lifecycle and registration (认定登记)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.contract import (
    CONTRACT_EXPIRES_AT_TERM_END,
    CONTRACT_REGISTERED_ONCE,
    CONTRACT_SETTLED_TO_COMPLETE,
    CORRECTION_REQUEST_OPEN_ONCE,
    ContractStatus,
    TechnologyContract,
)
from domain.contract_state import (
    CONTRACT_DATES_IN_ORDER,
    CONTRACT_END_REASON_REQUIRED,
    CONTRACT_STATUS_ALLOWS,
)
from domain.contract_terms import (
    CONTRACT_ACHIEVEMENTS_MATCH_KIND,
    CONTRACT_PARTIES_VALID,
    CONTRACT_TITLE_REQUIRED,
    CONTRACT_VALUE_NOT_NEGATIVE,
    CURRENCY_CODE_VALID,
    FIXED_PAYMENTS_WITHIN_CONTRACT_VALUE,
    LICENCE_TERMS_MATCH_KIND,
    LICENCE_TERMS_VALID,
    REGISTERED_VALUE_WITHIN_CONTRACT_VALUE,
    REGISTRATION_VALID,
    TRANSACTION_VALUE_WITHIN_CONTRACT_VALUE,
    UFPL_TERMS_MATCH_KIND,
    LicenceTerms,
    Registration,
)
from domain.enums import ContractKind, LicenceType
from domain.payment_terms import PaymentTerms
from tests.unit.contract_support import (
    ACHIEVEMENT,
    ACHIEVEMENT_2,
    BUYER,
    CO_SELLER,
    SELLER,
    WAN,
    assert_rebuilds,
    assert_rejected,
    d,
    drafted,
    event_names,
    in_force,
    make_terms,
    signed,
)


def draft(kind: ContractKind = ContractKind.assignment, **changes: object) -> TechnologyContract:
    return TechnologyContract.draft(terms=make_terms(kind, **changes), drafted_on=d("2024-01-02"))


def registration(**changes: object) -> Registration:
    base = Registration(
        "上海市技术合同登记处",
        "2024310000000123",
        ContractKind.assignment,
        8 * WAN,
        d("2024-01-20"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- terms -----------------------------------------------------------------------------


def test_title_required() -> None:
    assert_rejected(None, CONTRACT_TITLE_REQUIRED, "title", lambda: draft(title=" "))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seller_ids": ()}, "seller_ids"),
        ({"seller_ids": (SELLER, SELLER)}, "seller_ids"),
        ({"seller_ids": (SELLER, BUYER)}, "buyer_id"),
    ],
)
def test_parties(changes: dict[str, object], field: str) -> None:
    assert_rejected(None, CONTRACT_PARTIES_VALID, field, lambda: draft(**changes))


@pytest.mark.parametrize(
    "kind", [ContractKind.development, ContractKind.consulting, ContractKind.service]
)
def test_service_kinds_cover_no_achievement(kind: ContractKind) -> None:
    assert_rejected(
        None,
        CONTRACT_ACHIEVEMENTS_MATCH_KIND,
        "achievement_ids",
        lambda: draft(kind, achievement_ids=(ACHIEVEMENT,)),
    )


@pytest.mark.parametrize(
    "kind",
    [
        ContractKind.assignment,
        ContractKind.licence,
        ContractKind.ufpl_licence,
        ContractKind.equity_contribution,
    ],
)
def test_rights_kinds_cover_an_achievement(kind: ContractKind) -> None:
    assert_rejected(
        None,
        CONTRACT_ACHIEVEMENTS_MATCH_KIND,
        "achievement_ids",
        lambda: draft(kind, achievement_ids=()),
    )


def test_achievements_listed_once() -> None:
    assert_rejected(
        None,
        CONTRACT_ACHIEVEMENTS_MATCH_KIND,
        "achievement_ids",
        lambda: draft(achievement_ids=(ACHIEVEMENT, ACHIEVEMENT)),
    )


def test_pool_of_several_achievements_and_sellers() -> None:
    contract = draft(
        ContractKind.licence,
        seller_ids=(SELLER, CO_SELLER),
        achievement_ids=(ACHIEVEMENT, ACHIEVEMENT_2),
    )
    assert contract.terms.achievement_ids == (ACHIEVEMENT, ACHIEVEMENT_2)


def test_contract_value_not_negative() -> None:
    assert_rejected(
        None,
        CONTRACT_VALUE_NOT_NEGATIVE,
        "contract_value_fen",
        lambda: draft(contract_value_fen=-1),
    )


def test_transaction_value_never_above_contract_value() -> None:
    assert_rejected(
        None,
        TRANSACTION_VALUE_WITHIN_CONTRACT_VALUE,
        "transaction_value_fen",
        lambda: draft(transaction_value_fen=10 * WAN + 1),
    )


def test_fixed_payments_within_contract_value() -> None:
    assert_rejected(
        None,
        FIXED_PAYMENTS_WITHIN_CONTRACT_VALUE,
        "payment_terms",
        lambda: draft(payment_terms=PaymentTerms.lump_sum(11 * WAN)),
    )


def test_currency_code() -> None:
    assert_rejected(None, CURRENCY_CODE_VALID, "currency", lambda: draft(currency="rmb"))


def test_licence_silent_on_type_is_non_exclusive() -> None:
    contract = draft(ContractKind.licence, licence=None)
    assert contract.terms.licence == LicenceTerms(LicenceType.non_exclusive, False, "CN")


def test_licence_terms_only_on_licences() -> None:
    assert_rejected(
        None, LICENCE_TERMS_MATCH_KIND, "licence", lambda: draft(licence=LicenceTerms())
    )


def test_licence_term_ends_after_it_starts() -> None:
    terms = LicenceTerms(LicenceType.exclusive, True, "CN", d("2025-01-01"), d("2024-12-31"))
    assert_rejected(
        None,
        LICENCE_TERMS_VALID,
        "licence.term_end",
        lambda: draft(ContractKind.licence, licence=terms),
    )


def test_licence_names_a_territory() -> None:
    terms = LicenceTerms(territory=" ")
    assert_rejected(
        None,
        LICENCE_TERMS_VALID,
        "licence.territory",
        lambda: draft(ContractKind.licence, licence=terms),
    )


def test_trial_terms_only_on_ufpl() -> None:
    ufpl = make_terms(ContractKind.ufpl_licence).ufpl
    assert_rejected(
        None, UFPL_TERMS_MATCH_KIND, "ufpl", lambda: draft(ContractKind.licence, ufpl=ufpl)
    )
    assert_rejected(
        None, UFPL_TERMS_MATCH_KIND, "ufpl", lambda: draft(ContractKind.ufpl_licence, ufpl=None)
    )


def test_amend_only_while_drafted_and_records_the_new_terms() -> None:
    contract = drafted()
    contract.amend_terms(make_terms(contract_value_fen=12 * WAN), d("2024-01-05"))
    assert contract.contract_value_fen == 12 * WAN
    assert_rejected(
        contract,
        CONTRACT_TITLE_REQUIRED,
        "title",
        lambda: contract.amend_terms(make_terms(title=""), d("2024-01-05")),
    )
    contract.sign(d("2024-01-10"))
    assert_rejected(
        contract,
        CONTRACT_STATUS_ALLOWS,
        "status",
        lambda: contract.amend_terms(make_terms(), d("2024-01-11")),
    )
    assert event_names(assert_rebuilds(contract)) == ["Drafted", "TermsAmended", "Signed"]


# --- lifecycle ------------------------------------------------------------------------------


def test_status_rule_names_the_current_status() -> None:
    contract = drafted()
    err = assert_rejected(
        contract, CONTRACT_STATUS_ALLOWS, "status", lambda: contract.take_effect(d("2024-02-01"))
    )
    assert "drafted" in err.detail
    contract.sign(d("2024-01-10"))
    assert_rejected(
        contract, CONTRACT_STATUS_ALLOWS, "status", lambda: contract.sign(d("2024-01-11"))
    )
    assert_rejected(
        contract, CONTRACT_STATUS_ALLOWS, "status", lambda: contract.complete(d("2024-01-11"))
    )
    assert_rejected(
        contract, CONTRACT_STATUS_ALLOWS, "status", lambda: contract.expire(d("2024-01-11"))
    )


def test_ended_contracts_do_not_move() -> None:
    contract = in_force()
    contract.terminate(d("2024-03-01"), "buyer breached")
    err = assert_rejected(
        contract,
        CONTRACT_STATUS_ALLOWS,
        "status",
        lambda: contract.terminate(d("2024-03-02"), "again"),
    )
    assert "terminated" in err.detail


def test_dates_in_order() -> None:
    contract = drafted()
    assert_rejected(contract, CONTRACT_DATES_IN_ORDER, "on", lambda: contract.sign(d("2024-01-01")))
    contract.sign(d("2024-01-10"))
    assert_rejected(
        contract, CONTRACT_DATES_IN_ORDER, "on", lambda: contract.take_effect(d("2024-01-09"))
    )
    contract.take_effect(d("2024-02-01"))
    assert_rejected(
        contract, CONTRACT_DATES_IN_ORDER, "on", lambda: contract.terminate(d("2024-01-31"), "x")
    )


def test_takes_effect_within_the_licence_term() -> None:
    lic = LicenceTerms(term_start=d("2024-01-01"), term_end=d("2024-01-31"))
    contract = signed(ContractKind.licence, licence=lic)
    assert_rejected(
        contract, CONTRACT_DATES_IN_ORDER, "on", lambda: contract.take_effect(d("2024-02-01"))
    )


def test_completion_needs_everything_settled() -> None:
    contract = in_force()
    assert_rejected(
        contract, CONTRACT_SETTLED_TO_COMPLETE, "on", lambda: contract.complete(d("2024-06-01"))
    )


def test_termination_states_its_reason() -> None:
    contract = in_force()
    assert_rejected(
        contract,
        CONTRACT_END_REASON_REQUIRED,
        "reason",
        lambda: contract.terminate(d("2024-06-01"), ""),
    )


def test_terminated_before_taking_effect() -> None:
    contract = signed()
    contract.terminate(d("2024-01-20"), "parties withdrew")
    assert contract.status == ContractStatus.terminated
    assert contract.due_items == []


def test_expiry_not_before_term_end() -> None:
    lic = LicenceTerms(term_start=d("2024-02-01"), term_end=d("2026-01-31"))
    contract = in_force(ContractKind.licence, licence=lic)
    assert_rejected(
        contract, CONTRACT_EXPIRES_AT_TERM_END, "on", lambda: contract.expire(d("2026-01-30"))
    )
    contract.expire(d("2026-01-31"))
    assert contract.status == ContractStatus.expired


# --- registration ------------------------------------------------------------------------------


def test_register_after_signing_before_or_after_effect() -> None:
    before = signed()
    before.register(registration())
    before.take_effect(d("2024-02-01"))
    after = in_force()
    after.register(registration(registered_on=d("2024-03-01")))
    assert before.status == after.status == ContractStatus.in_force
    assert before.registered_value_fen == after.registered_value_fen == 8 * WAN


def test_register_needs_signature_and_not_an_ended_contract() -> None:
    contract = drafted()
    assert_rejected(
        contract, CONTRACT_STATUS_ALLOWS, "status", lambda: contract.register(registration())
    )
    ended = in_force()
    ended.terminate(d("2024-03-01"), "breach")
    assert_rejected(ended, CONTRACT_STATUS_ALLOWS, "status", lambda: ended.register(registration()))


def test_registration_dated_after_signing() -> None:
    contract = signed()
    assert_rejected(
        contract,
        CONTRACT_DATES_IN_ORDER,
        "registration.registered_on",
        lambda: contract.register(registration(registered_on=d("2024-01-09"))),
    )


def test_registration_fields() -> None:
    contract = signed()
    assert_rejected(
        contract,
        REGISTRATION_VALID,
        "registration.registry",
        lambda: contract.register(registration(registry="")),
    )
    assert_rejected(
        contract,
        REGISTRATION_VALID,
        "registration.approved_category",
        lambda: contract.register(registration(approved_category=ContractKind.ufpl_licence)),
    )


def test_registered_value_within_contract_value() -> None:
    contract = signed()
    assert_rejected(
        contract,
        REGISTERED_VALUE_WITHIN_CONTRACT_VALUE,
        "registration.approved_transaction_value_fen",
        lambda: contract.register(registration(approved_transaction_value_fen=10 * WAN + 1)),
    )


def test_registered_once_then_corrected_keeping_history() -> None:
    contract = signed()
    first = registration()
    contract.register(first)
    assert_rejected(
        contract, CONTRACT_REGISTERED_ONCE, "registration", lambda: contract.register(first)
    )
    fixed = registration(approved_transaction_value_fen=7 * WAN)
    assert_rejected(
        contract,
        CONTRACT_REGISTERED_ONCE,
        "reason",
        lambda: contract.correct_registration(fixed, d("2024-02-01"), " "),
    )
    contract.correct_registration(fixed, d("2024-02-01"), "补正: 技术交易额核减")
    assert contract.registered_value_fen == 7 * WAN
    assert contract.registration_history == (first, fixed)
    assert contract.transaction_value_fen == 8 * WAN  # the contract's own figure stays
    assert event_names(assert_rebuilds(contract))[-2:] == ["Registered", "RegistrationCorrected"]


def test_correction_needs_a_registration() -> None:
    contract = signed()
    assert_rejected(
        contract,
        CONTRACT_REGISTERED_ONCE,
        "registration",
        lambda: contract.correct_registration(registration(), d("2024-02-01"), "fix"),
    )


def test_a_correction_request_waits_for_the_registration_or_correction_that_answers_it() -> None:
    """补正: requested before registration (the application) or after it; one open at a time."""
    contract = signed()
    assert_rejected(contract, CORRECTION_REQUEST_OPEN_ONCE, "reason",
                    lambda: contract.request_registration_correction(d("2024-01-18"), " "))
    assert_rejected(contract, CONTRACT_DATES_IN_ORDER, "requested_on",
                    lambda: contract.request_registration_correction(d("2023-01-01"), "材料不全"))
    contract.request_registration_correction(d("2024-01-18"), "技术交易额证明材料不全")
    assert contract.correction_requested == (d("2024-01-18"), "技术交易额证明材料不全")
    assert_rejected(contract, CORRECTION_REQUEST_OPEN_ONCE, "requested_on",
                    lambda: contract.request_registration_correction(d("2024-01-19"), "再次"))
    contract.register(registration())  # the registration answers the application's request
    assert contract.correction_requested is None
    contract.request_registration_correction(d("2024-01-25"), "登记类别有误")
    fixed = registration(approved_transaction_value_fen=7 * WAN)
    contract.correct_registration(fixed, d("2024-02-01"), "补正: 技术交易额核减")
    assert contract.correction_requested is None
    assert event_names(assert_rebuilds(contract))[-4:] == [
        "RegistrationCorrectionRequested", "Registered", "RegistrationCorrectionRequested",
        "RegistrationCorrected"]


def test_an_unregistered_draft_has_no_correction_to_request() -> None:
    contract = drafted()
    assert_rejected(contract, CONTRACT_STATUS_ALLOWS, "status",
                    lambda: contract.request_registration_correction(d("2024-01-18"), "材料不全"))
