"""Every recognised income is a receipt allocatable once: an applied credit too (issue 12).

Figures worked by hand, in fen (WAN = 1万元 = 1,000,000 fen). The contract:
300,000.00 yuan in three installments of 100,000.00 (10 WAN), due 2024-03-01,
2024-06-01 and 2024-09-01, in force 2024-02-01.

- BANK-1 pays 150,000.00 on 2024-03-01 naming installment 1, the excess held as
  credit: receipt BANK-1 is 100,000.00 (what it settled); 50,000.00 is held.
- The credit is applied on 2024-06-01 to installment 2: receipt ``credit-1``,
  50,000.00, dated 2024-06-01 (its award deadline 2027-06-01).
- Receipts 100,000.00 + 50,000.00 = 150,000.00 = cash 150,000.00 − credit held 0
  − refunded 0.
- Allocated under Beijing's pack (team ≥ 70%) with a 70/15/15 policy and
  inventors 60/40, the credit's 50,000.00 gives 张三 21,000.00, 李四 14,000.00,
  department 7,500.00 and institution 7,500.00.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import StoredEvent

from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.contract_money import CREDIT_APPLIED_IS_INCOME
from domain.enums import RulePackId
from domain.payment_terms import Installment, Milestone, PaymentTerms
from domain.settlement import PAYMENT_ID_UNIQUE, Overpayment
from ledger.snapshots import SHAPE_KEY, ShapedSnapshot
from tests.unit.contract_support import (
    WAN,
    assert_rebuilds,
    assert_rejected,
    d,
    in_force,
    store_mapper,
)
from tests.unit.distribution_support import CONTRACT, INSTITUTION, pack, version

INSTALMENT = 10 * WAN  # 100,000.00 yuan
CREDIT = 5 * WAN  # 50,000.00 yuan


def contract() -> TechnologyContract:
    schedule = (
        Installment(INSTALMENT, d("2024-03-01")),
        Installment(INSTALMENT, d("2024-06-01")),
        Installment(INSTALMENT, d("2024-09-01")),
    )
    return in_force(contract_value_fen=3 * INSTALMENT, payment_terms=PaymentTerms(3 * INSTALMENT, schedule))


def overpaid() -> TechnologyContract:
    c = contract()
    c.record_payment("BANK-1", INSTALMENT + CREDIT, d("2024-03-01"), due_item_id="installment-1",
                     overpayment=Overpayment.credit)
    return c


def cash_in_of(events: list[Any]) -> int:
    """Cash the contract brought in, from its events: payments and claims, less refunds."""
    signs = {"PaymentReceived": 1, "InsuranceCompensationPaid": 1, "CreditRefunded": -1}
    return sum(signs[type(e).__name__] * e.amount_fen for e in events if type(e).__name__ in signs)


def test_applied_credit_is_a_receipt_dated_when_applied() -> None:
    c = overpaid()
    assert c.receipts == {"BANK-1": (INSTALMENT, d("2024-03-01"))}
    assert c.credits == {"BANK-1": CREDIT}
    receipt_id = c.apply_credit("BANK-1", d("2024-06-01"), due_item_id="installment-2")
    assert receipt_id == "credit-1"
    assert c.receipts == {"BANK-1": (INSTALMENT, d("2024-03-01")), "credit-1": (CREDIT, d("2024-06-01"))}
    assert c.credit_receipts == {"credit-1": "BANK-1"}
    assert c.credits == {}
    assert c.outstanding_fen() == INSTALMENT + CREDIT  # half of installment 2, all of 3
    assert c.pending_events[-1].receipt_id == "credit-1"  # type: ignore[attr-defined]
    # Receipts = cash in − credit held − refunded: 150,000.00 − 0 − 0.
    assert sum(a for a, _ in c.receipts.values()) == INSTALMENT + CREDIT
    events = assert_rebuilds(c)
    assert sum(a for a, _ in c.receipts.values()) == cash_in_of(events) - sum(c.credits.values())


def test_credit_applied_in_parts_gives_one_receipt_per_application() -> None:
    c = overpaid()  # 50,000.00 held
    c.record_payment("BANK-2", 8 * WAN, d("2024-05-01"), due_item_id="installment-2")  # 20,000.00 left
    assert c.apply_credit("BANK-1", d("2024-06-01"), due_item_id="installment-2") == "credit-1"
    assert c.credits == {"BANK-1": 3 * WAN}  # installment 2 took 20,000.00 of the 50,000.00
    assert c.apply_credit("BANK-1", d("2024-09-01")) == "credit-2"  # installment 3 takes the 30,000.00
    assert c.credits == {}
    assert c.receipts["credit-1"] == (2 * WAN, d("2024-06-01"))
    assert c.receipts["credit-2"] == (3 * WAN, d("2024-09-01"))
    assert c.credit_receipts == {"credit-1": "BANK-1", "credit-2": "BANK-1"}
    events = assert_rebuilds(c)
    # 150,000 + 80,000 in: 230,000.00 income in receipts (100,000 + 80,000 + 20,000 + 30,000).
    assert sum(a for a, _ in c.receipts.values()) == cash_in_of(events) == 23 * WAN


def test_a_refunded_credit_is_never_income() -> None:
    c = contract()
    c.record_payment("BANK-1", INSTALMENT, d("2024-03-01"))
    c.record_payment("BANK-2", 3 * WAN, d("2024-05-20"), due_item_id="installment-2")  # 70,000.00 left
    c.record_payment("BANK-3", INSTALMENT, d("2024-05-25"), due_item_id="installment-2",
                     overpayment=Overpayment.credit)  # settles the 70,000.00, 30,000.00 held
    assert c.receipts["BANK-3"] == (7 * WAN, d("2024-05-25"))
    c.record_payment("BANK-4", 8 * WAN, d("2024-06-10"), due_item_id="installment-3")  # 20,000.00 left
    assert c.apply_credit("BANK-3", d("2024-07-01")) == "credit-1"  # 20,000.00 of the 30,000.00
    assert c.receipts["credit-1"] == (2 * WAN, d("2024-07-01"))
    c.refund_credit("BANK-3", WAN, d("2024-07-02"), "REFUND-1")  # the 10,000.00 left goes back
    assert set(c.receipts) == {"BANK-1", "BANK-2", "BANK-3", "BANK-4", "credit-1"}
    events = assert_rebuilds(c)
    # 100,000 + 30,000 + 100,000 + 80,000 in, 10,000.00 refunded: 300,000.00 income in receipts.
    assert cash_in_of(events) == 30 * WAN
    assert sum(a for a, _ in c.receipts.values()) == 30 * WAN


def test_receipt_ids_never_collide_with_references() -> None:
    c = contract()
    # A client named a payment credit-1 and a refund credit-2: the credit's receipt skips both.
    c.record_payment("credit-1", INSTALMENT + CREDIT, d("2024-03-01"), due_item_id="installment-1",
                     overpayment=Overpayment.credit)
    c.refund_credit("credit-1", WAN, d("2024-03-02"), "credit-2")
    assert c.apply_credit("credit-1", d("2024-06-01")) == "credit-3"
    assert c.receipts["credit-3"] == (4 * WAN, d("2024-06-01"))
    # Once taken, the receipt id is a reference no payment may reuse.
    assert_rejected(c, PAYMENT_ID_UNIQUE, "payment_id",
                    lambda: c.record_payment("credit-3", WAN, d("2024-06-02")))


def test_credit_applied_no_earlier_than_received() -> None:
    c = overpaid()
    assert_rejected(c, CREDIT_APPLIED_IS_INCOME, "on",
                    lambda: c.apply_credit("BANK-1", d("2024-02-29")))
    c.apply_credit("BANK-1", d("2024-03-01"))  # the same day is fine


def test_milestone_and_insurance_money_are_receipts_too() -> None:
    c = in_force(contract_value_fen=10 * WAN,
                 payment_terms=PaymentTerms(milestones=(Milestone("launch", 10 * WAN, 30),)))
    c.reach_milestone("launch", d("2024-06-01"))
    c.record_payment("BANK-M", 4 * WAN, d("2024-07-01"))
    c.record_insurance_compensation("CLAIM-1", "人保财险", 6 * WAN, d("2024-08-01"))
    assert c.receipts == {"BANK-M": (4 * WAN, d("2024-07-01")), "CLAIM-1": (6 * WAN, d("2024-08-01"))}


def test_the_credit_receipt_is_allocated_like_a_payment() -> None:
    c = overpaid()
    c.apply_credit("BANK-1", d("2024-06-01"), due_item_id="installment-2")
    gross, on = c.receipts["credit-1"]
    distribution = IncomeDistribution.allocate(
        contract_id=CONTRACT, receipt_id="credit-1", institution_id=INSTITUTION, received_on=on,
        gross_fen=gross, deductions=[], pack=pack(RulePackId.beijing, on), policy=version(RulePackId.beijing),
        inventors=[("张三", Decimal(60)), ("李四", Decimal(40))],
    )
    assert distribution.deadline_on == date(2027, 6, 1)  # 36 months from the application
    assert {line.key: line.amount_fen for line in distribution.allocation.lines} == {
        "inventor:张三": 2_100_000, "inventor:李四": 1_400_000, "department": 750_000, "institution": 750_000,
    }


def legacy(stored: list[StoredEvent]) -> list[StoredEvent]:
    """The log as the code before receipts of applied credits wrote it: no ``receipt_id``."""
    out = []
    for s in stored:
        if s.topic.endswith("CreditApplied"):
            state = json.loads(s.state)
            del state["receipt_id"]
            s = StoredEvent(s.originator_id, s.originator_version, s.topic, json.dumps(state).encode())
        out.append(s)
    return out


def test_an_old_log_replays_its_applied_credits_as_receipts() -> None:
    c = overpaid()
    c.apply_credit("BANK-1", d("2024-06-01"), due_item_id="installment-2")
    mapper = store_mapper()
    stored = [mapper.to_stored_event(e) for e in c.collect_events()]
    replayed: Any = None
    for s in legacy(stored):
        replayed = mapper.to_domain_event(s).mutate(replayed)
    assert replayed == c
    assert replayed.receipts["credit-1"] == (CREDIT, d("2024-06-01"))


def test_a_snapshot_of_the_older_shape_is_not_used() -> None:
    c = overpaid()
    c.collect_events()
    mapper = store_mapper()
    current = mapper.to_domain_event(mapper.to_stored_event(ShapedSnapshot.take(c)))
    assert current.is_current()  # type: ignore[attr-defined]
    assert current.mutate(None) == c  # type: ignore[attr-defined]
    old = ShapedSnapshot.take(c)
    del old.state[SHAPE_KEY]  # as taken before contracts declared snapshot_shape 2
    assert not mapper.to_domain_event(mapper.to_stored_event(old)).is_current()  # type: ignore[attr-defined]
