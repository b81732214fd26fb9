"""Use-first-pay-later (先使用后付费): trial, triggers, conversion, return."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.contract import ContractStatus, TechnologyContract
from domain.contract_state import CONTRACT_DATES_IN_ORDER
from domain.contract_ufpl import CONTRACT_KIND_ALLOWS
from domain.enums import ContractKind
from domain.payment_terms import (
    MILESTONE_NAMES_UNIQUE,
    Installment,
    Milestone,
    PaymentTerms,
    RoyaltyBase,
    RoyaltyTerms,
)
from domain.settlement import ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS, Overpayment
from domain.ufpl import (
    UFPL_NO_PAYMENT_DURING_TRIAL,
    UFPL_STAGE_ALLOWS,
    UFPL_TRIAL_TERMS_COMPLETE,
    UFPL_TRIGGER_MET,
    TriggerKind,
    UfplStage,
    UfplTerms,
    UfplTrigger,
    first_trigger_met,
)
from tests.unit.contract_support import (
    WAN,
    assert_rebuilds,
    assert_rejected,
    d,
    in_force,
    make_terms,
    signed,
)

TRIAL_END = d("2025-01-31")
PAID = PaymentTerms(
    fixed_price_fen=6 * WAN,
    installments=(
        Installment(3 * WAN, days_after_start=30),
        Installment(3 * WAN, days_after_start=210),
    ),
    royalty=RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.03")),
    milestones=(Milestone("first sales", WAN),),
)


def ufpl(*triggers: UfplTrigger, payment_terms: PaymentTerms = PAID) -> TechnologyContract:
    terms = UfplTerms("试产线验证", TRIAL_END, triggers or (UfplTrigger.first_revenue(),))
    return in_force(ContractKind.ufpl_licence, ufpl=terms, payment_terms=payment_terms)


def draft_ufpl(terms: UfplTerms, payment_terms: PaymentTerms = PAID) -> TechnologyContract:
    return TechnologyContract.draft(
        terms=make_terms(ContractKind.ufpl_licence, ufpl=terms, payment_terms=payment_terms),
        drafted_on=d("2024-01-02"),
    )


# --- terms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        (UfplTerms(" ", TRIAL_END, (UfplTrigger.first_revenue(),)), "ufpl.trial_scope"),
        (UfplTerms("scope", TRIAL_END, ()), "ufpl.triggers"),
        (UfplTerms("scope", TRIAL_END, (UfplTrigger(TriggerKind.date),)), "ufpl.triggers[0]"),
        (
            UfplTerms("scope", TRIAL_END, (UfplTrigger(TriggerKind.milestone, milestone=" "),)),
            "ufpl.triggers[0]",
        ),
        (
            UfplTerms(
                "scope", TRIAL_END, (UfplTrigger.first_revenue(), UfplTrigger.first_revenue())
            ),
            "ufpl.triggers[1]",
        ),
    ],
)
def test_trial_terms_complete(terms: UfplTerms, field: str) -> None:
    assert_rejected(None, UFPL_TRIAL_TERMS_COMPLETE, field, lambda: draft_ufpl(terms))


def test_trigger_milestone_names_do_not_clash_with_payment_milestones() -> None:
    terms = UfplTerms("scope", TRIAL_END, (UfplTrigger.at_milestone("first sales"),))
    assert_rejected(
        None, MILESTONE_NAMES_UNIQUE, "ufpl.triggers[0].milestone", lambda: draft_ufpl(terms)
    )


def test_no_fixed_due_date_inside_the_trial() -> None:
    terms = UfplTerms("scope", TRIAL_END, (UfplTrigger.first_revenue(),))
    paid = PaymentTerms.lump_sum(WAN, due_on=d("2024-12-31"))
    assert_rejected(
        None,
        UFPL_NO_PAYMENT_DURING_TRIAL,
        "payment_terms.installments[0].due_on",
        lambda: draft_ufpl(terms, paid),
    )


def test_takes_effect_before_the_trial_ends() -> None:
    contract = signed(ContractKind.ufpl_licence)
    assert_rejected(
        contract, CONTRACT_DATES_IN_ORDER, "on", lambda: contract.take_effect(d("2025-06-30"))
    )


# --- the trial ------------------------------------------------------------------------------


def test_trial_starts_on_effect_with_nothing_due() -> None:
    contract = ufpl()
    assert contract.ufpl_stage == UfplStage.trial
    assert contract.due_items == []


def test_nothing_falls_due_during_the_trial() -> None:
    contract = ufpl()
    assert_rejected(
        contract,
        UFPL_NO_PAYMENT_DURING_TRIAL,
        "period_start",
        lambda: contract.report_royalty(d("2024-02-01"), d("2024-04-30"), WAN, d("2024-05-01")),
    )
    assert_rejected(
        contract,
        UFPL_NO_PAYMENT_DURING_TRIAL,
        "name",
        lambda: contract.reach_milestone("first sales", d("2024-05-01")),
    )


def test_conversion_needs_a_met_trigger() -> None:
    contract = ufpl(UfplTrigger.on_date(d("2024-12-01")), UfplTrigger.first_revenue())
    assert_rejected(
        contract, UFPL_TRIGGER_MET, "on", lambda: contract.convert_to_paid(d("2024-11-30"))
    )
    contract.report_licensee_revenue(d("2024-02-01"), d("2024-04-30"), 0, d("2024-05-05"))
    assert_rejected(
        contract, UFPL_TRIGGER_MET, "on", lambda: contract.convert_to_paid(d("2024-05-05"))
    )


def test_first_trigger_met_wins() -> None:
    contract = ufpl(UfplTrigger.on_date(d("2024-12-01")), UfplTrigger.first_revenue())
    contract.report_licensee_revenue(d("2024-02-01"), d("2024-07-31"), 50 * WAN, d("2024-08-05"))
    contract.convert_to_paid(d("2024-12-15"))
    trigger, met_on, converted_on = contract.conversion  # type: ignore[misc]
    assert (trigger.kind, met_on, converted_on) == (
        TriggerKind.first_revenue,
        d("2024-08-05"),
        d("2024-12-15"),
    )


def test_milestone_trigger() -> None:
    contract = ufpl(UfplTrigger.at_milestone("中试验证通过"))
    contract.reach_milestone("中试验证通过", d("2024-06-01"))
    contract.convert_to_paid(d("2024-06-10"))
    assert contract.ufpl_stage == UfplStage.paid
    assert [(i.item_id, i.due_on) for i in contract.due_items] == [
        ("installment-1", d("2024-07-10")),
        ("installment-2", d("2025-01-06")),
    ]


def test_first_trigger_met_picks_the_earliest_then_the_first_agreed() -> None:
    terms = UfplTerms(
        "s",
        TRIAL_END,
        (
            UfplTrigger.on_date(d("2024-06-01")),
            UfplTrigger.at_milestone("m"),
            UfplTrigger.first_revenue(),
        ),
    )
    assert first_trigger_met(terms, d("2024-05-01"), {"m": d("2024-05-01")}, d("2024-07-01")) == (
        UfplTrigger.at_milestone("m"),
        d("2024-05-01"),
    )
    assert first_trigger_met(terms, None, {}, d("2024-05-31")) is None


def test_conversion_and_return_only_from_the_trial() -> None:
    contract = ufpl(UfplTrigger.on_date(d("2024-06-01")))
    contract.convert_to_paid(d("2024-06-01"))
    assert_rejected(
        contract, UFPL_STAGE_ALLOWS, "status", lambda: contract.convert_to_paid(d("2024-06-02"))
    )
    assert_rejected(
        contract,
        UFPL_STAGE_ALLOWS,
        "status",
        lambda: contract.return_licence(d("2024-06-02"), "no"),
    )
    assert_rejected(
        contract,
        UFPL_STAGE_ALLOWS,
        "status",
        lambda: contract.renegotiate_paid_terms(PAID, d("2024-06-02")),
    )


def test_not_completed_during_the_trial() -> None:
    contract = ufpl()
    assert_rejected(
        contract, UFPL_STAGE_ALLOWS, "status", lambda: contract.complete(d("2024-06-01"))
    )


def test_conversion_rejects_a_fixed_date_already_past() -> None:
    paid = PaymentTerms.lump_sum(WAN, due_on=d("2025-03-01"))
    contract = ufpl(UfplTrigger.on_date(d("2025-01-01")), payment_terms=paid)
    assert_rejected(
        contract,
        UFPL_NO_PAYMENT_DURING_TRIAL,
        "due_items[0].due_on",
        lambda: contract.convert_to_paid(d("2025-04-01")),
    )


def test_trial_overdue() -> None:
    contract = ufpl()
    assert not contract.trial_overdue(TRIAL_END)
    assert contract.trial_overdue(d("2025-02-01"))


# --- other kinds ----------------------------------------------------------------------------


def test_ufpl_commands_only_on_ufpl_licences() -> None:
    contract = in_force(ContractKind.licence)
    assert_rejected(
        contract, CONTRACT_KIND_ALLOWS, "kind", lambda: contract.convert_to_paid(d("2024-06-01"))
    )
    assert_rejected(
        contract,
        CONTRACT_KIND_ALLOWS,
        "kind",
        lambda: contract.return_licence(d("2024-06-01"), "x"),
    )
    assert_rejected(
        contract,
        CONTRACT_KIND_ALLOWS,
        "kind",
        lambda: contract.report_licensee_revenue(
            d("2024-02-01"), d("2024-03-01"), WAN, d("2024-03-02")
        ),
    )


def test_returned_licence_is_terminated_without_fee() -> None:
    contract = ufpl()
    contract.return_licence(d("2024-10-01"), "技术不适配产线")
    assert (contract.status, contract.ufpl_stage) == (ContractStatus.terminated, UfplStage.returned)
    assert contract.outstanding_fen() == 0
    assert_rebuilds(contract)


@pytest.mark.parametrize("overpayment", [Overpayment.reject, Overpayment.credit])
def test_a_returned_licence_takes_no_payment_even_as_credit(overpayment: Overpayment) -> None:
    """Ended means ended (issue 23): nothing is owed on a returned licence, so a payment settles nothing,
    and a credit held on an ended contract would be money the ledger keeps for nothing."""
    contract = ufpl()
    contract.return_licence(d("2024-10-01"), "技术不适配产线")
    assert_rejected(contract, ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS, "amount_fen",
                    lambda: contract.record_payment("LATE-1", WAN, d("2024-10-05"), overpayment=overpayment))
