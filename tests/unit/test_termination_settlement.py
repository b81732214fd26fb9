"""Termination settlement (民法典 第566条): what an ending does to each open item.

Figures worked by hand, in fen (1 yuan = 100 fen; WAN = 1万元 = 1,000,000 fen).
The contract: 300,000.00 yuan in three installments of 100,000.00 yuan
(10,000,000 fen each), due 2024-03-01, 2024-06-01 and 2024-09-01; in force
from 2024-02-01. Installment 1 is paid on 2024-03-01. The contract is
terminated on 2024-07-15:

- installment 2 (due 2024-06-01, before the end) stays receivable: 10,000,000;
- installment 3 (due 2024-09-01, after the end) is cancelled: 10,000,000;
- outstanding after the end: 10,000,000 (30,000,000 − 10,000,000 paid
  − 10,000,000 cancelled); on 2024-10-01 only installment 2 is overdue.

With liquidated damages of 20,000.00 yuan (2,000,000 fen) due 2024-08-15 kept
by the termination, the outstanding is 12,000,000, and a payment of exactly
12,000,000 settles both; 12,000,001 is refused.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.contract import TechnologyContract
from domain.contract_state import ContractStatus
from domain.enums import ContractKind
from domain.payment_terms import Installment, PaymentTerms
from domain.services import ContractEnd, end_contract
from domain.settlement import (
    DUE_ITEM_OUTSTANDING,
    END_CANCELS_WHAT_IS_NOT_DUE,
    ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS,
    Allocation,
    Cancellation,
    DueKind,
    KeptItem,
    Overpayment,
)
from tests.unit.contract_support import (
    WAN,
    assert_rebuilds,
    assert_rejected,
    d,
    event_names,
    in_force,
    make_terms,
)

INSTALMENT = 10 * WAN  # 100,000.00 yuan
DAMAGES = 2 * WAN  # 20,000.00 yuan


def three_installments(kind: ContractKind = ContractKind.assignment, **changes: object) -> TechnologyContract:
    schedule = (
        Installment(INSTALMENT, d("2024-03-01")),
        Installment(INSTALMENT, d("2024-06-01")),
        Installment(INSTALMENT, d("2024-09-01")),
    )
    return in_force(
        kind, contract_value_fen=3 * INSTALMENT, payment_terms=PaymentTerms(3 * INSTALMENT, schedule),
        **changes,
    )


def first_paid() -> TechnologyContract:
    contract = three_installments()
    contract.record_payment("p-1", INSTALMENT, d("2024-03-01"))
    return contract


def test_termination_cancels_what_is_not_yet_due_and_keeps_what_fell_due() -> None:
    """The defect: before the fix, installment 3 stayed open, showed as overdue, and took money."""
    contract = first_paid()
    contract.terminate(d("2024-07-15"), "buyer in breach")

    assert contract.status == ContractStatus.terminated
    assert contract.outstanding_fen() == INSTALMENT  # 30,000,000 − 10,000,000 − 10,000,000
    assert [i.item_id for i in contract.open_items()] == ["installment-2"]
    assert [i.item_id for i in contract.overdue_items(d("2024-10-01"))] == ["installment-2"]
    state = contract.settlement.items["installment-3"]
    assert (state.paid_fen, state.cancelled_fen, state.outstanding_fen) == (0, INSTALMENT, 0)

    events = assert_rebuilds(contract)[-2:]
    assert event_names(events) == ["Terminated", "EndSettled"]
    assert list(events[1].cancelled) == [Cancellation("installment-3", INSTALMENT, d("2024-09-01"))]
    assert list(events[1].kept) == []

    # a payment on the cancelled item, or beyond what remains, is refused by the new rule
    assert_rejected(contract, ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS, "due_item_id",
                    lambda: contract.record_payment("p-3", INSTALMENT, d("2024-09-01"), "installment-3"))
    assert_rejected(contract, ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS, "amount_fen",
                    lambda: contract.record_payment("p-x", INSTALMENT + 1, d("2024-09-01")))
    assert_rejected(contract, ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS, "amount_fen",
                    lambda: contract.record_payment("p-x", INSTALMENT + 1, d("2024-09-01"),
                                                    overpayment=Overpayment.credit))
    # what remains can still be paid (or deferred, or written off)
    contract.record_payment("p-2", INSTALMENT, d("2024-09-02"))
    assert contract.outstanding_fen() == 0
    assert_rejected(contract, DUE_ITEM_OUTSTANDING, "due_item_id",
                    lambda: contract.write_off("installment-3", "cfo", "cancelled anyway", d("2024-10-01")))


def test_kept_liquidated_damages_are_receivable_and_payable() -> None:
    contract = first_paid()
    contract.terminate(d("2024-07-15"), "buyer in breach",
                       [KeptItem("liquidated-damages", DAMAGES, d("2024-08-15"))])

    assert contract.outstanding_fen() == INSTALMENT + DAMAGES  # 12,000,000
    damages = contract.settlement.items["liquidated-damages"].item
    assert (damages.kind, damages.amount_fen, damages.due_on) == (DueKind.compensation, DAMAGES, d("2024-08-15"))
    assert [i.item_id for i in contract.overdue_items(d("2024-10-01"))] == ["installment-2", "liquidated-damages"]

    assert_rejected(contract, ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS, "amount_fen",
                    lambda: contract.record_payment("p-x", INSTALMENT + DAMAGES + 1, d("2024-10-01")))
    contract.record_payment("p-2", INSTALMENT + DAMAGES, d("2024-10-01"))
    events = assert_rebuilds(contract)[-3:]
    assert event_names(events) == ["Terminated", "EndSettled", "PaymentReceived"]
    assert list(events[2].allocations) == [
        Allocation("installment-2", INSTALMENT), Allocation("liquidated-damages", DAMAGES)
    ]
    assert contract.receipts["p-2"] == (INSTALMENT + DAMAGES, d("2024-10-01"))
    assert contract.outstanding_fen() == 0


def test_a_partly_prepaid_item_cancels_only_its_rest() -> None:
    contract = first_paid()
    contract.record_payment("p-3", 3 * WAN, d("2024-07-01"), "installment-3")  # 30,000.00 yuan early
    contract.terminate(d("2024-07-15"), "mutual agreement")
    state = contract.settlement.items["installment-3"]
    assert (state.paid_fen, state.cancelled_fen, state.outstanding_fen) == (3 * WAN, 7 * WAN, 0)
    assert contract.outstanding_fen() == INSTALMENT


@pytest.mark.parametrize(
    ("kept", "field"),
    [
        ([KeptItem("installment-2", DAMAGES, d("2024-08-15"))], "kept[0].name"),
        ([KeptItem("x", DAMAGES, d("2024-08-15")), KeptItem("x", 1, d("2024-08-15"))], "kept[1].name"),
        ([KeptItem("  ", DAMAGES, d("2024-08-15"))], "kept[0].name"),
        ([KeptItem("damages", 0, d("2024-08-15"))], "kept[0].amount_fen"),
        ([KeptItem("damages", DAMAGES, d("2024-07-14"))], "kept[0].due_on"),
    ],
)
def test_kept_items_are_checked_before_anything_is_recorded(kept: list[KeptItem], field: str) -> None:
    contract = first_paid()
    assert_rejected(contract, END_CANCELS_WHAT_IS_NOT_DUE, field,
                    lambda: contract.terminate(d("2024-07-15"), "breach", kept))


def test_completion_and_licence_return_keep_nothing() -> None:
    contract = first_paid()
    contract.record_payment("p-rest", 2 * INSTALMENT, d("2024-07-01"))
    assert_rejected(contract, END_CANCELS_WHAT_IS_NOT_DUE, "kept",
                    lambda: end_contract(contract, {}, ContractEnd.complete, d("2024-07-15"), "",
                                         [KeptItem("damages", DAMAGES, d("2024-08-15"))]))
    end_contract(contract, {}, ContractEnd.complete, d("2024-07-15"))
    assert event_names(contract.collect_events())[-1] == "Completed"  # nothing to settle


def test_expiry_follows_the_same_logic() -> None:
    licence = make_terms(ContractKind.licence).licence
    assert licence is not None
    contract = three_installments(ContractKind.licence, licence=replace(licence, term_end=d("2024-07-31")))
    contract.expire(d("2024-07-31"))
    assert contract.outstanding_fen() == 2 * INSTALMENT  # installments 1 and 2 fell due, 3 cancelled
    assert contract.settlement.items["installment-3"].cancelled_fen == INSTALMENT
    assert_rejected(contract, ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS, "amount_fen",
                    lambda: contract.record_payment("p-x", 3 * INSTALMENT, d("2024-08-01")))
    contract.record_payment("p-1", 2 * INSTALMENT, d("2024-08-01"))
    assert contract.outstanding_fen() == 0


def test_royalties_owed_for_use_before_the_end_are_not_cancelled() -> None:
    from decimal import Decimal

    from domain.payment_terms import RoyaltyBase, RoyaltyTerms

    terms = RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.05"))
    contract = in_force(ContractKind.licence, contract_value_fen=100 * WAN,
                        payment_terms=PaymentTerms(royalty=terms))
    contract.report_royalty(d("2024-02-01"), d("2024-06-30"), 100 * WAN, d("2024-07-05"))
    due = contract.open_items()
    assert len(due) == 1 and due[0].kind == DueKind.royalty and due[0].due_on > d("2024-07-15")
    contract.terminate(d("2024-07-15"), "licensee stopped")
    assert contract.outstanding_fen() == 5 * WAN  # 5% of 1,000,000.00 yuan sales
    assert event_names(contract.collect_events())[-1] == "Terminated"
