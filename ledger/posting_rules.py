"""Which journal entries each money event posts.

One function per event class, keyed by the event's qualified name, so a
reader can follow a payment from ``TechnologyContract.PaymentReceived`` to
its postings in one place. Every entry is dated by the business date the
event carries (decision 9) and booked to the institution that receives the
money: the contract's lead seller (the first of ``seller_ids``), or the
holding's institution for equity.

Events with no money (signing, registration, deferral: the amount does not
change, only its date) post nothing. A due item is debited to the receivable on
the day it arose (domain/arising.py), the same day the receivables statistic
counts it from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.arising import arose_on
from ledger.postings import JournalEntry, Posting, transfer

Rule = Callable[[Any, Any], list[JournalEntry]]
POSTING_RULES: dict[str, Rule] = {}


def posts(*qualnames: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for name in qualnames:
            POSTING_RULES[name] = fn
        return fn

    return register


def entries_for(aggregate: Aggregate, event: Any) -> list[JournalEntry]:
    rule = POSTING_RULES.get(type(event).__qualname__)
    return rule(aggregate, event) if rule is not None else []


# --- technology contracts -------------------------------------------------------------


def _payee(contract: Any) -> UUID:
    return UUID(str(contract.terms.seller_ids[0]))


def _currency(contract: Any) -> str:
    return str(contract.terms.currency)


def _fallen_due(contract: Any, items: list[Any], on: Any, why: str) -> list[JournalEntry]:
    cid = contract.id
    return [
        entry
        for item in items
        for entry in transfer(
            _payee(contract), _currency(contract), on, "fallen_due",
            f"{why}: {item.label} ({item.item_id})",
            f"receivable:{cid}", f"transfer_income:{cid}", item.amount_fen,
        )
    ]


@posts("TechnologyContract.TookEffect")
def _took_effect(contract: Any, e: Any) -> list[JournalEntry]:
    return _fallen_due(contract, list(e.due_items), e.effective_on, "contract took effect")


@posts("TechnologyContract.ConvertedToPaid")
def _converted(contract: Any, e: Any) -> list[JournalEntry]:
    return _fallen_due(contract, list(e.due_items), e.converted_on, "use-first-pay-later converted")


@posts("TechnologyContract.RoyaltyReported")
def _royalty(contract: Any, e: Any) -> list[JournalEntry]:
    items = [e.due_item] if e.due_item is not None else []
    return _fallen_due(contract, items, arose_on(e, items[0].due_on) if items else None, "royalty reported")


@posts("TechnologyContract.MinimumRoyaltyToppedUp")
def _minimum(contract: Any, e: Any) -> list[JournalEntry]:
    return _fallen_due(contract, [e.due_item], arose_on(e, e.due_item.due_on),
                       f"minimum royalty, year {e.contract_year}")


@posts("TechnologyContract.MilestoneReached")
def _milestone(contract: Any, e: Any) -> list[JournalEntry]:
    items = [e.due_item] if e.due_item is not None else []
    return _fallen_due(contract, items, e.reached_on, f"milestone {e.name}")


@posts("TechnologyContract.EndSettled")
def _end_settled(contract: Any, e: Any) -> list[JournalEntry]:
    """民法典 第566条: the end reverses what it cancelled (posted as receivable when the
    contract took effect) and recognises what it kept, both dated the end."""
    cid = contract.id
    entries = [
        entry
        for c in e.cancelled
        for entry in transfer(
            _payee(contract), _currency(contract), e.ended_on, "cancelled_on_end",
            f"contract ended {e.ended_on}: {c.due_item_id} (due {c.due_on}) cancelled",
            f"transfer_income:{cid}", f"receivable:{cid}", c.amount_fen,
        )
    ]
    return entries + _fallen_due(contract, list(e.kept), e.ended_on, "kept by the contract's end")


def _received(contract: Any, on: Any, amount: int, allocated: int, rest_account: str,
              kind: str, why: str) -> list[JournalEntry]:
    cid = contract.id
    lines = [Posting("cash", amount)]
    if allocated:
        lines.append(Posting(f"receivable:{cid}", -allocated))
    if amount - allocated:
        lines.append(Posting(rest_account, -(amount - allocated)))
    return [JournalEntry(_payee(contract), _currency(contract), on, kind, why, tuple(lines))]


@posts("TechnologyContract.PaymentReceived")
def _payment(contract: Any, e: Any) -> list[JournalEntry]:
    allocated = sum(a.amount_fen for a in e.allocations)
    return _received(contract, e.received_on, e.amount_fen, allocated, f"customer_credit:{contract.id}",
                     "payment_received", f"payment {e.payment_id}")


@posts("TechnologyContract.InsuranceCompensationPaid")
def _insurance(contract: Any, e: Any) -> list[JournalEntry]:
    allocated = sum(a.amount_fen for a in e.allocations)
    return _received(contract, e.paid_on, e.amount_fen, allocated, f"insurance_recoveries:{contract.id}",
                     "insurance_compensation", f"先行赔付 by {e.insurer}, claim {e.claim_id}")


@posts("TechnologyContract.CreditApplied")
def _credit_applied(contract: Any, e: Any) -> list[JournalEntry]:
    cid = contract.id
    # Since receipts of applied credits exist the event names its receipt; an older event does
    # not, and its entry is reproduced as it was written.
    receipt = getattr(e, "receipt_id", None)
    why = f"credit {e.credit_id} applied" + (f", income receipt {receipt}" if receipt else "")
    return transfer(_payee(contract), _currency(contract), e.applied_on, "credit_applied",
                    why, f"customer_credit:{cid}", f"receivable:{cid}",
                    sum(a.amount_fen for a in e.allocations))


@posts("TechnologyContract.CreditRefunded")
def _credit_refunded(contract: Any, e: Any) -> list[JournalEntry]:
    return transfer(_payee(contract), _currency(contract), e.refunded_on, "credit_refunded",
                    f"credit {e.credit_id} refunded ({e.reference})", f"customer_credit:{contract.id}",
                    "cash", e.amount_fen)


@posts("TechnologyContract.WrittenOff")
def _written_off(contract: Any, e: Any) -> list[JournalEntry]:
    cid = contract.id
    return transfer(_payee(contract), _currency(contract), e.written_off_on, "written_off",
                    f"write-off of {e.due_item_id} approved by {e.approver}: {e.reason}",
                    f"write_offs:{cid}", f"receivable:{cid}", e.amount_fen)


# --- equity contributions -------------------------------------------------------------


def _holding(h: Any, on: Any, kind: str, why: str, debit: str, credit: str, amount: int) -> list[JournalEntry]:
    return transfer(UUID(str(h.institution_id)), "CNY", on, kind, why, debit, credit, amount)


@posts("EquityHolding.ContributionRecorded")
def _contributed(h: Any, e: Any) -> list[JournalEntry]:
    return _holding(h, e.contributed_on, "equity_contributed",
                    f"作价投资 into {e.company.name}: {e.shares_received} shares",
                    f"equity_held:{h.id}", f"transfer_income:{e.contract_id}", e.valuation.amount_fen)


@posts("EquityHolding.DividendReceived")
def _dividend(h: Any, e: Any) -> list[JournalEntry]:
    return _holding(h, e.received_on, "dividend_received", f"dividend {e.dividend_id}",
                    "cash", f"dividend_income:{h.id}", e.amount_fen)


@posts("EquityHolding.HoldingRevalued")
def _revalued(h: Any, e: Any) -> list[JournalEntry]:
    change = e.new_value_fen - e.old_value_fen
    why = f"revaluation decided by {', '.join(e.decision.decision_makers)}: {e.decision.basis}"
    if change >= 0:
        return _holding(h, e.decision.decided_on, "revalued", why,
                        f"equity_held:{h.id}", f"revaluation:{h.id}", change)
    return _holding(h, e.decision.decided_on, "revalued", why,
                    f"revaluation:{h.id}", f"equity_held:{h.id}", -change)


@posts("EquityHolding.HoldingImpaired")
def _impaired(h: Any, e: Any) -> list[JournalEntry]:
    return _holding(h, e.decision.decided_on, "impaired",
                    f"impairment decided by {', '.join(e.decision.decision_makers)}: {e.decision.basis}",
                    f"revaluation:{h.id}", f"equity_held:{h.id}", e.amount_fen)


@posts("EquityHolding.SharesAwarded")
def _shares_awarded(h: Any, e: Any) -> list[JournalEntry]:
    return _holding(h, e.award.awarded_on, "shares_awarded",
                    f"{e.award.shares} shares awarded to inventor {e.award.inventor}",
                    f"distribution:{h.contract_id}", f"equity_held:{h.id}",
                    e.carrying_value_derecognised_fen)


@posts("EquityHolding.SharesSold")
def _shares_sold(h: Any, e: Any) -> list[JournalEntry]:
    gain = e.proceeds_fen - e.carrying_value_derecognised_fen
    lines = [Posting("cash", e.proceeds_fen), Posting(f"equity_held:{h.id}", -e.carrying_value_derecognised_fen)]
    if gain:
        lines.append(Posting(f"revaluation:{h.id}", -gain))
    lines = [p for p in lines if p.amount_fen]
    if not lines:
        return []
    return [JournalEntry(UUID(str(h.institution_id)), "CNY", e.sold_on, "shares_sold",
                         f"{e.shares} shares sold to {e.buyer} (cashed-in equity)", tuple(lines))]


# --- income distribution ----------------------------------------------------------------


@posts("IncomeBook.DeductionRecorded")
def _deduction(book: Any, e: Any) -> list[JournalEntry]:
    d = e.deduction
    payable = "taxes_payable" if d.category == "tax" else "costs_payable"
    return transfer(UUID(str(book.institution_id)), "CNY", d.incurred_on, "deduction_recorded",
                    f"{d.category} {d.reference}: {d.description}",
                    f"transaction_costs:{d.category}", payable, d.amount_fen)


def _award_lines(dist: Any, lines: Any, on: Any, kind: str, why: str) -> list[JournalEntry]:
    """Awards owed to each beneficiary other than the institution itself (it keeps its share)."""
    entries: list[JournalEntry] = []
    for line in lines:
        if str(line.beneficiary) == "institution" or line.amount_fen == 0:
            continue
        debit, credit = f"distribution:{dist.contract_id}", f"distribution_payable:{line.key}"
        amount = line.amount_fen
        if amount < 0:
            debit, credit, amount = credit, debit, -amount
        entries += transfer(UUID(str(dist.institution_id)), "CNY", on, kind, f"{why}: {line.key}",
                            debit, credit, amount)
    return entries


@posts("IncomeDistribution.Allocated")
def _allocated(dist: Any, e: Any) -> list[JournalEntry]:
    return _award_lines(dist, e.allocation.lines, e.received_on, "award_allocated",
                        f"收益分配 of receipt {e.receipt_id}")


@posts("IncomeDistribution.Adjusted")
def _adjusted(dist: Any, e: Any) -> list[JournalEntry]:
    return _award_lines(dist, e.adjustment.lines, e.recorded_on, "award_adjusted",
                        f"adjustment {e.adjustment_id} after a late deduction")


@posts("IncomeDistribution.AwardPaid")
def _award_paid(dist: Any, e: Any) -> list[JournalEntry]:
    return transfer(UUID(str(dist.institution_id)), "CNY", e.paid_on, "award_paid",
                    f"award paid to {e.key} ({e.payment_id})", f"distribution_payable:{e.key}",
                    "cash", e.amount_fen)


@posts("SelfImplementation.AwardAllocated")
def _self_award(impl: Any, e: Any) -> list[JournalEntry]:
    a = e.award
    return [entry for name, fen in a.lines
            for entry in transfer(UUID(str(impl.institution_id)), "CNY", a.allocated_on, "award_allocated",
                                  f"self-implementation award {a.year}: {a.percent}% of operating profit",
                                  f"distribution:self:{impl.id}", f"distribution_payable:inventor:{name}", fen)]


@posts("SelfImplementation.AwardPaid")
def _self_award_paid(impl: Any, e: Any) -> list[JournalEntry]:
    """A self-implementation award paid (in part): the inventor's payable is settled in cash."""
    p = e.payment
    return transfer(UUID(str(impl.institution_id)), "CNY", p.paid_on, "award_paid",
                    f"self-implementation award {p.year} paid to inventor:{p.inventor} ({p.payment_id})",
                    f"distribution_payable:inventor:{p.inventor}", "cash", p.amount_fen)


@posts("Achievement.InventionBonusPaid")
def _invention_bonus_paid(achievement: Any, e: Any) -> list[JournalEntry]:
    """专利法实施细则 第93条: the inventors' bonus for a granted patent is an expense of its owner."""
    p = e.payment
    return transfer(UUID(str(achievement.owners[0].institution_id)), "CNY", p.paid_on, "invention_bonus_paid",
                    f"invention bonus {p.payment_id} for patent {achievement.official_number}",
                    f"invention_bonus:{achievement.id}", "cash", p.amount_fen)


# --- reversals and recoveries -------------------------------------------------------------


@posts("IncomeBook.DeductionReversed")
def _deduction_reversed(book: Any, e: Any) -> list[JournalEntry]:
    """The reversing entry of ``DeductionRecorded``, dated the reversal."""
    d = e.deduction
    payable = "taxes_payable" if d.category == "tax" else "costs_payable"
    return transfer(UUID(str(book.institution_id)), "CNY", e.reversed_on, "deduction_reversed",
                    f"reversal of {d.category} {d.reference}: {e.reason}",
                    payable, f"transaction_costs:{d.category}", d.amount_fen)


@posts("IncomeDistribution.DeductionReversed")
def _distribution_deduction_reversed(dist: Any, e: Any) -> list[JournalEntry]:
    return _award_lines(dist, e.adjustment.lines, e.recorded_on, "award_adjusted",
                        f"adjustment {e.adjustment_id} after deduction {e.deduction.reference} was reversed")


@posts("IncomeDistribution.RecoveryRaised")
def _recovery_raised(dist: Any, e: Any) -> list[JournalEntry]:
    """The overpaid part of an award becomes a receivable from the beneficiary."""
    r = e.recovery
    return transfer(UUID(str(dist.institution_id)), "CNY", r.raised_on, "recovery_raised",
                    f"award to {r.key} overpaid after {r.adjustment_id}: to recover",
                    f"award_recoverable:{r.key}", f"distribution_payable:{r.key}", r.amount_fen)


@posts("IncomeDistribution.RecoveryRepaid")
def _recovery_repaid(dist: Any, e: Any) -> list[JournalEntry]:
    return transfer(UUID(str(dist.institution_id)), "CNY", e.repaid_on, "recovery_repaid",
                    f"overpaid award repaid by {e.key} ({e.reference})", "cash",
                    f"award_recoverable:{e.key}", e.amount_fen)


@posts("IncomeDistribution.AwardOffset")
def _award_offset(dist: Any, e: Any) -> list[JournalEntry]:
    """An award settled by withholding a recovery from the same beneficiary; no cash moves.
    (The matching ``RecoveryOffset`` of the overpaid distribution posts nothing.)"""
    return transfer(UUID(str(dist.institution_id)), "CNY", e.offset_on, "recovery_offset",
                    f"award to {e.key} offset against its recovery ({e.offset_id})",
                    f"distribution_payable:{e.key}", f"award_recoverable:{e.key}", e.amount_fen)
