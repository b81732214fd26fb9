"""What falls due and what is paid: allocation, overpayment, credit, deferral, write-off."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.contract import RiskKind, TechnologyContract
from domain.contract_money import (
    INSURANCE_WITHIN_OUTSTANDING,
    MILESTONE_KNOWN,
    MINIMUM_ROYALTY_ONCE_PER_YEAR,
    RISK_EVENT_DESCRIBED,
    ROYALTY_TERMS_AGREED,
)
from domain.contract_state import CONTRACT_STATUS_ALLOWS, REPORTED_AMOUNT_NOT_NEGATIVE
from domain.enums import ContractKind
from domain.errors import DomainError
from domain.payment_terms import (
    REPORT_PERIOD_VALID,
    Installment,
    Milestone,
    PaymentTerms,
    RoyaltyBase,
    RoyaltyTerms,
)
from domain.settlement import (
    APPROVAL_RECORDED,
    CREDIT_KNOWN,
    DEFERRAL_MOVES_LATER,
    DUE_ITEM_KNOWN,
    DUE_ITEM_OUTSTANDING,
    NOTHING_TO_SETTLE,
    OVERPAYMENT_REJECTED,
    PAYMENT_ID_UNIQUE,
    PAYMENT_RECEIVED_POSITIVE,
    SETTLES_WHAT_HAD_ARISEN,
    Allocation,
    Overpayment,
    allocate,
)
from tests.unit.contract_support import WAN, assert_rebuilds, assert_rejected, d, drafted, in_force

START = d("2024-02-01")


def three_installments() -> TechnologyContract:
    """30万 in three installments due 2024-03-01, 2024-06-01, 2024-09-01."""
    schedule = (
        Installment(10 * WAN, d("2024-03-01")),
        Installment(10 * WAN, d("2024-06-01")),
        Installment(10 * WAN, d("2024-09-01")),
    )
    return in_force(contract_value_fen=30 * WAN, payment_terms=PaymentTerms(30 * WAN, schedule))


def royalty_licence(**royalty: object) -> TechnologyContract:
    terms = RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.05"), **royalty)  # type: ignore[arg-type]
    return in_force(
        ContractKind.licence,
        contract_value_fen=100 * WAN,
        payment_terms=PaymentTerms(royalty=terms, milestones=(Milestone("launch", 5 * WAN, 30),)),
    )


# --- allocation --------------------------------------------------------------------------


def test_payment_settles_oldest_due_first() -> None:
    contract = three_installments()
    contract.record_payment("BANK-1", 15 * WAN, d("2024-03-02"))
    event = contract.pending_events[-1]
    assert event.allocations == [
        Allocation("installment-1", 10 * WAN),
        Allocation("installment-2", 5 * WAN),
    ]  # type: ignore[attr-defined]
    assert event.credit_fen == 0  # type: ignore[attr-defined]
    assert contract.outstanding_fen() == 15 * WAN
    assert contract.outstanding_fen(as_of=d("2024-06-01")) == 5 * WAN


def test_payer_names_the_item() -> None:
    contract = three_installments()
    contract.record_payment("BANK-1", 10 * WAN, d("2024-03-02"), due_item_id="installment-3")
    assert [i.item_id for i in contract.open_items()] == ["installment-1", "installment-2"]


def test_overpayment_rejected_by_default() -> None:
    contract = three_installments()
    assert_rejected(
        contract,
        OVERPAYMENT_REJECTED,
        "amount_fen",
        lambda: contract.record_payment("BANK-1", 30 * WAN + 1, START),
    )
    assert_rejected(
        contract,
        OVERPAYMENT_REJECTED,
        "amount_fen",
        lambda: contract.record_payment("BANK-1", 11 * WAN, START, due_item_id="installment-1"),
    )


def test_overpayment_held_as_named_credit_then_applied_and_refunded() -> None:
    contract = three_installments()
    contract.record_payment(
        "BANK-1", 25 * WAN, START, due_item_id="installment-1", overpayment=Overpayment.credit
    )
    assert contract.credits == {"BANK-1": 15 * WAN}
    contract.apply_credit("BANK-1", d("2024-05-01"), due_item_id="installment-2")
    assert contract.pending_events[-1].allocations == [Allocation("installment-2", 10 * WAN)]  # type: ignore[attr-defined]
    assert contract.credits == {"BANK-1": 5 * WAN}
    contract.refund_credit("BANK-1", 5 * WAN, d("2024-05-02"), "REFUND-1")
    assert contract.credits == {}
    assert contract.outstanding_fen() == 10 * WAN
    assert_rebuilds(contract)


def test_payment_before_anything_falls_due_is_credit_only_when_asked() -> None:
    contract = drafted()
    contract.sign(d("2024-01-10"))
    assert_rejected(
        contract,
        OVERPAYMENT_REJECTED,
        "amount_fen",
        lambda: contract.record_payment("DEP-1", WAN, d("2024-01-11")),
    )
    contract.record_payment("DEP-1", WAN, d("2024-01-11"), overpayment=Overpayment.credit)
    assert contract.credits == {"DEP-1": WAN}


def test_no_payment_on_a_draft() -> None:
    contract = drafted()
    assert_rejected(
        contract, CONTRACT_STATUS_ALLOWS, "status", lambda: contract.record_payment("P", WAN, START)
    )


def test_payment_positive_and_unique() -> None:
    contract = three_installments()
    assert_rejected(
        contract,
        PAYMENT_RECEIVED_POSITIVE,
        "amount_fen",
        lambda: contract.record_payment("P", 0, START),
    )
    contract.record_payment("P", WAN, START)
    assert_rejected(
        contract, PAYMENT_ID_UNIQUE, "payment_id", lambda: contract.record_payment("P", WAN, START)
    )
    assert_rejected(
        contract, PAYMENT_ID_UNIQUE, "payment_id", lambda: contract.record_payment(" ", WAN, START)
    )


def test_named_item_must_exist_and_be_open() -> None:
    contract = three_installments()
    assert_rejected(
        contract,
        DUE_ITEM_KNOWN,
        "due_item_id",
        lambda: contract.record_payment("P", WAN, START, due_item_id="nope"),
    )
    contract.record_payment("P1", 10 * WAN, START, due_item_id="installment-1")
    assert_rejected(
        contract,
        DUE_ITEM_OUTSTANDING,
        "due_item_id",
        lambda: contract.record_payment("P2", WAN, START, due_item_id="installment-1"),
    )


def test_credit_must_exist_and_cover() -> None:
    contract = three_installments()
    assert_rejected(
        contract, CREDIT_KNOWN, "credit_id", lambda: contract.apply_credit("none", START)
    )
    contract.record_payment("P1", 31 * WAN, START, overpayment=Overpayment.credit)
    assert_rejected(
        contract,
        CREDIT_KNOWN,
        "amount_fen",
        lambda: contract.refund_credit("P1", 2 * WAN, START, "R1"),
    )
    assert_rejected(
        contract, NOTHING_TO_SETTLE, "credit_id", lambda: contract.apply_credit("P1", START)
    )


# --- overdue, deferral, write-off -------------------------------------------------------------


def test_overdue_is_derived_from_the_as_of_date() -> None:
    contract = three_installments()
    assert contract.overdue_items(d("2024-03-01")) == []
    assert [i.item_id for i in contract.overdue_items(d("2024-03-02"))] == ["installment-1"]
    assert [i.item_id for i in contract.overdue_items(d("2024-09-02"))] == [
        "installment-1",
        "installment-2",
        "installment-3",
    ]


def test_deferral_moves_due_dates_with_approval() -> None:
    contract = three_installments()
    contract.defer_due_items(
        {"installment-1": d("2024-04-01")}, "财务处 张三", "疫情影响", d("2024-02-20")
    )
    event = contract.pending_events[-1]
    assert event.deferrals[0].old_due_on == d("2024-03-01")  # type: ignore[attr-defined]
    assert contract.overdue_items(d("2024-03-15")) == []


def test_deferral_needs_approver_and_reason() -> None:
    contract = three_installments()
    moves = {"installment-1": d("2024-04-01")}
    assert_rejected(
        contract,
        APPROVAL_RECORDED,
        "approver",
        lambda: contract.defer_due_items(moves, "", "r", START),
    )
    assert_rejected(
        contract,
        APPROVAL_RECORDED,
        "reason",
        lambda: contract.defer_due_items(moves, "a", " ", START),
    )


def test_deferral_moves_later_on_open_items() -> None:
    contract = three_installments()
    assert_rejected(
        contract,
        DEFERRAL_MOVES_LATER,
        "new_due_dates[installment-2]",
        lambda: contract.defer_due_items(
            {"installment-1": d("2024-04-01"), "installment-2": d("2024-06-01")}, "a", "r", START
        ),
    )
    assert_rejected(
        contract,
        DUE_ITEM_KNOWN,
        "new_due_dates[x]",
        lambda: contract.defer_due_items({"x": d("2024-04-01")}, "a", "r", START),
    )
    assert_rejected(
        contract,
        DUE_ITEM_KNOWN,
        "new_due_dates",
        lambda: contract.defer_due_items({}, "a", "r", START),
    )


def test_write_off_takes_the_outstanding_amount() -> None:
    contract = three_installments()
    contract.record_payment("P1", 4 * WAN, START)
    assert_rejected(
        contract,
        APPROVAL_RECORDED,
        "approver",
        lambda: contract.write_off("installment-1", " ", "bad debt", START),
    )
    contract.write_off("installment-1", "校长办公会", "买方破产", d("2024-12-01"))
    assert contract.pending_events[-1].amount_fen == 6 * WAN  # type: ignore[attr-defined]
    assert_rejected(
        contract,
        DUE_ITEM_OUTSTANDING,
        "due_item_id",
        lambda: contract.write_off("installment-1", "a", "b", d("2024-12-02")),
    )
    assert contract.outstanding_fen() == 20 * WAN


# --- royalties and milestones ---------------------------------------------------------------


def test_royalty_report_makes_royalty_due() -> None:
    contract = royalty_licence()
    contract.report_royalty(d("2024-02-01"), d("2024-04-30"), 1_234_567, d("2024-05-10"))
    item = contract.due_items[-1]
    assert (item.amount_fen, item.due_on) == (61_728, d("2024-05-30"))  # 5% of 12,345.67元, half-up


def test_royalty_needs_royalty_terms() -> None:
    contract = three_installments()
    assert_rejected(
        contract,
        ROYALTY_TERMS_AGREED,
        "payment_terms.royalty",
        lambda: contract.report_royalty(d("2024-02-01"), d("2024-04-30"), WAN, d("2024-05-01")),
    )
    assert_rejected(
        contract,
        ROYALTY_TERMS_AGREED,
        "payment_terms.royalty",
        lambda: contract.top_up_minimum_royalty(1, START),
    )


def test_nothing_falls_due_on_a_contract_that_never_took_effect() -> None:
    contract = drafted(
        ContractKind.licence,
        payment_terms=PaymentTerms(
            royalty=RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.05"))
        ),
    )
    contract.sign(d("2024-01-10"))
    contract.terminate(d("2024-01-20"), "withdrawn")
    assert_rejected(
        contract,
        CONTRACT_STATUS_ALLOWS,
        "status",
        lambda: contract.report_royalty(d("2024-02-01"), d("2024-04-30"), WAN, d("2024-05-01")),
    )
    assert_rejected(
        contract, CONTRACT_STATUS_ALLOWS, "status", lambda: contract.record_default(START, "x")
    )


def test_royalty_base_not_negative() -> None:
    contract = royalty_licence()
    assert_rejected(
        contract,
        REPORTED_AMOUNT_NOT_NEGATIVE,
        "base_fen",
        lambda: contract.report_royalty(d("2024-02-01"), d("2024-04-30"), -1, d("2024-05-01")),
    )


def test_royalty_periods_do_not_overlap_or_precede_the_start() -> None:
    contract = royalty_licence()
    assert_rejected(
        contract,
        REPORT_PERIOD_VALID,
        "period_start",
        lambda: contract.report_royalty(d("2024-01-01"), d("2024-03-31"), WAN, d("2024-04-01")),
    )
    contract.report_royalty(d("2024-02-01"), d("2024-04-30"), WAN, d("2024-05-01"))
    assert_rejected(
        contract,
        REPORT_PERIOD_VALID,
        "period_start",
        lambda: contract.report_royalty(d("2024-04-01"), d("2024-06-30"), WAN, d("2024-07-01")),
    )
    assert_rejected(
        contract,
        REPORT_PERIOD_VALID,
        "period_start",
        lambda: contract.report_royalty(d("2024-06-30"), d("2024-05-01"), WAN, d("2024-07-01")),
    )


def test_minimum_royalty_top_up_once_after_year_end_when_short() -> None:
    contract = royalty_licence(minimum_annual_fen=10 * WAN)
    contract.report_royalty(
        d("2024-02-01"), d("2025-01-31"), 100 * WAN, d("2025-02-05")
    )  # 5万 royalty
    assert_rejected(
        contract,
        MINIMUM_ROYALTY_ONCE_PER_YEAR,
        "contract_year",
        lambda: contract.top_up_minimum_royalty(1, d("2025-01-31")),
    )
    contract.top_up_minimum_royalty(1, d("2025-02-01"))
    item = contract.due_items[-1]
    assert (item.item_id, item.amount_fen, item.due_on) == (
        "minimum-royalty-year-1",
        5 * WAN,
        d("2025-03-02"),
    )
    assert_rejected(
        contract,
        MINIMUM_ROYALTY_ONCE_PER_YEAR,
        "contract_year",
        lambda: contract.top_up_minimum_royalty(1, d("2025-03-01")),
    )


def test_minimum_royalty_year_beyond_any_date_is_refused_not_a_crash() -> None:
    """Found by fuzzing the API (docs/reliability-fuzzing.md): year 10**10 was a 500 (date overflow)."""
    contract = royalty_licence(minimum_annual_fen=10 * WAN)
    for year in (2, 8_270_134_513, 10**16):
        assert_rejected(
            contract,
            MINIMUM_ROYALTY_ONCE_PER_YEAR,
            "contract_year",
            lambda year=year: contract.top_up_minimum_royalty(year, d("2025-02-01")),
        )


def test_minimum_royalty_not_topped_up_when_met() -> None:
    contract = royalty_licence(minimum_annual_fen=WAN)
    contract.report_royalty(d("2024-02-01"), d("2025-01-31"), 100 * WAN, d("2025-02-05"))
    assert_rejected(
        contract,
        MINIMUM_ROYALTY_ONCE_PER_YEAR,
        "contract_year",
        lambda: contract.top_up_minimum_royalty(1, d("2025-02-10")),
    )


def test_minimum_royalty_needs_an_agreed_minimum() -> None:
    contract = royalty_licence()
    assert_rejected(
        contract,
        ROYALTY_TERMS_AGREED,
        "contract_year",
        lambda: contract.top_up_minimum_royalty(1, d("2025-03-01")),
    )


def test_milestone_reached_once_and_known() -> None:
    contract = royalty_licence()
    assert_rejected(
        contract,
        MILESTONE_KNOWN,
        "name",
        lambda: contract.reach_milestone("lunch", d("2024-06-01")),
    )
    contract.reach_milestone("launch", d("2024-06-01"))
    item = contract.due_items[-1]
    assert (item.item_id, item.amount_fen, item.due_on) == (
        "milestone-launch",
        5 * WAN,
        d("2024-07-01"),
    )
    assert_rejected(
        contract,
        MILESTONE_KNOWN,
        "name",
        lambda: contract.reach_milestone("launch", d("2024-06-02")),
    )


def test_deferred_start_holds_back_what_falls_due() -> None:
    royalty = RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.05"), days_to_pay=0)
    terms = PaymentTerms(
        royalty=royalty, milestones=(Milestone("launch", WAN),), payments_start_on=d("2025-01-01")
    )
    contract = in_force(ContractKind.licence, payment_terms=terms)
    contract.reach_milestone("launch", d("2024-06-01"))
    contract.report_royalty(d("2024-02-01"), d("2024-06-30"), WAN, d("2024-07-01"))
    assert {i.due_on for i in contract.due_items} == {d("2025-01-01")}


# --- risk events ---------------------------------------------------------------------------------


def test_risk_events_are_described() -> None:
    contract = three_installments()
    assert_rejected(
        contract, RISK_EVENT_DESCRIBED, "description", lambda: contract.record_default(START, " ")
    )
    assert_rejected(
        contract,
        RISK_EVENT_DESCRIBED,
        "content_ref",
        lambda: contract.record_credit_report("人行征信", START, ""),
    )
    assert_rejected(
        contract,
        RISK_EVENT_DESCRIBED,
        "insurer",
        lambda: contract.record_insurance_compensation("C1", "", WAN, START),
    )
    contract.record_default(d("2024-03-15"), "installment 1 unpaid")
    contract.record_credit_report("人民银行征信中心", d("2024-03-20"), "CR-2024-001")
    assert [r.kind for r in contract.risk_events] == [RiskKind.default, RiskKind.credit_report]


def test_insurance_compensation_settles_and_never_exceeds_what_is_owed() -> None:
    contract = three_installments()
    assert_rejected(
        contract,
        INSURANCE_WITHIN_OUTSTANDING,
        "amount_fen",
        lambda: contract.record_insurance_compensation(
            "C1", "人保财险", 11 * WAN, START, "installment-1"
        ),
    )
    contract.record_insurance_compensation(
        "C1", "人保财险", 10 * WAN, d("2024-04-01"), "installment-1"
    )
    assert contract.pending_events[-1].allocations == [Allocation("installment-1", 10 * WAN)]  # type: ignore[attr-defined]
    assert contract.outstanding_fen() == 20 * WAN
    assert contract.risk_events[-1].kind == RiskKind.insurance_compensation


# --- properties ---------------------------------------------------------------------------------

payments = st.lists(
    st.tuples(
        st.integers(min_value=-5, max_value=40 * WAN),
        st.one_of(
            st.none(), st.sampled_from(["installment-1", "installment-2", "installment-3", "x"])
        ),
        st.sampled_from(list(Overpayment)),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.integers(min_value=1, max_value=20 * WAN), min_size=1, max_size=3),
    paid=payments,
)
def test_allocations_never_exceed_what_is_due_and_nothing_is_absorbed(
    parts: list[int], paid: list[tuple[int, str | None, Overpayment]]
) -> None:
    schedule = tuple(Installment(p, START + timedelta(days=30 * i)) for i, p in enumerate(parts))
    contract = in_force(
        contract_value_fen=sum(parts),
        transaction_value_fen=0,
        payment_terms=PaymentTerms(sum(parts), schedule),
    )
    accepted = 0
    for n, (amount, item, mode) in enumerate(paid):
        outstanding = {i.item_id: i.outstanding_fen for i in contract.open_items()}
        before = len(contract.pending_events)
        try:
            contract.record_payment(f"P{n}", amount, START, due_item_id=item, overpayment=mode)
        except DomainError:
            assert len(contract.pending_events) == before
            continue
        event = contract.pending_events[-1]
        accepted += amount
        allocations = event.allocations  # type: ignore[attr-defined]
        for a in allocations:
            assert 0 < a.amount_fen <= outstanding[a.due_item_id]
        if item is not None:
            assert {a.due_item_id for a in allocations} <= {item}
        assert sum(a.amount_fen for a in allocations) + event.credit_fen == amount  # type: ignore[attr-defined]
        if mode == Overpayment.reject:
            assert event.credit_fen == 0  # type: ignore[attr-defined]
    paid_on_items = sum(i.amount_fen for i in contract.due_items) - contract.outstanding_fen()
    assert paid_on_items + sum(contract.credits.values()) == accepted
    for state in contract.settlement.items.values():
        assert 0 <= state.paid_fen <= state.item.amount_fen


@given(
    open_items=st.lists(st.integers(min_value=0, max_value=10**9), max_size=10),
    amount=st.integers(min_value=0, max_value=10**10),
)
def test_allocate_is_exact(open_items: list[int], amount: int) -> None:
    items = [(f"i{n}", o) for n, o in enumerate(open_items)]
    allocations, rest = allocate(items, amount)
    assert sum(a.amount_fen for a in allocations) + rest == amount
    assert rest == max(0, amount - sum(open_items))
    for a in allocations:
        assert 0 < a.amount_fen <= dict(items)[a.due_item_id]


def test_rebuilt_settlement_equals_original() -> None:
    contract = three_installments()
    contract.record_payment("P1", 12 * WAN, d("2024-03-01"))
    contract.defer_due_items({"installment-2": d("2024-07-01")}, "a", "r", d("2024-05-01"))
    contract.write_off("installment-3", "a", "r", d("2024-10-01"))
    contract.record_payment("P2", 9 * WAN, d("2024-07-01"), overpayment=Overpayment.credit)
    assert contract.credits == {"P2": WAN}
    assert_rebuilds(contract)


# --- money settles what had arisen (settles_what_had_arisen) -----------------------------


def test_money_settles_only_items_that_had_arisen_by_its_day() -> None:
    """The royalty for 2024-Q1 arises on its report (2024-04-10), not before: money received on
    2024-04-01 cannot settle it, named or not; it is an advance, held as credit on request."""
    contract = royalty_licence()
    contract.report_royalty(d("2024-02-01"), d("2024-03-31"), 40 * WAN, d("2024-04-10"))
    item = contract.open_items()[0]
    assert (item.item_id, item.outstanding_fen) == ("royalty-2024-02-01", 2 * WAN)
    assert_rejected(contract, SETTLES_WHAT_HAD_ARISEN, "due_item_id", lambda: contract.record_payment(
        "p-early", 2 * WAN, d("2024-04-01"), due_item_id="royalty-2024-02-01"))
    assert_rejected(contract, OVERPAYMENT_REJECTED, "amount_fen", lambda: contract.record_payment(
        "p-early", 2 * WAN, d("2024-04-01")))
    assert_rejected(contract, SETTLES_WHAT_HAD_ARISEN, "on", lambda: contract.write_off(
        "royalty-2024-02-01", "财务处 王", "无法收回", d("2024-04-09")))
    contract.record_payment("p-early", 2 * WAN, d("2024-04-01"), overpayment=Overpayment.credit)
    assert contract.credits == {"p-early": 2 * WAN}
    assert contract.open_items()[0].outstanding_fen == 2 * WAN
    assert_rejected(contract, SETTLES_WHAT_HAD_ARISEN, "due_item_id", lambda: contract.apply_credit(
        "p-early", d("2024-04-09"), due_item_id="royalty-2024-02-01"))
    contract.apply_credit("p-early", d("2024-04-10"))
    assert contract.open_items() == []
    assert_rebuilds(contract)
