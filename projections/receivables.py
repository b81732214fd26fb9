"""Projection ``receivables``: every due item of every contract, as it stands and as it stood.

``rcv_items`` holds one row per due item (应收): its amount, the day it arose
(``fell_due_on``, domain/arising.py: the same day the journal debits the
receivable) and the log position that created it, its original and current due
date (deferrals applied), what was paid (payments, credits applied, insurance
compensation), written off, and cancelled by the contract's end (民法典 第566条:
not yet due when it ended).

``rcv_movements`` keeps every change to an item as a dated, signed movement
with the log position that recorded it: ``arose`` (+amount), ``paid``,
``credited``, ``insurance``, ``written_off``, ``cancelled`` (−amount) and
``deferred`` (no amount; its new due date). The outstanding amount of an item on
business date D, as the ledger knew it at position P, is the sum of its
movements dated on or before D and recorded at or before P
(projections/queries.py ``receivables``); the books' receivable balance on D is
the same sum, because each movement carries the date its journal entry has. ``rcv_ufpl_triggers`` holds, per
use-first-pay-later licence, its agreed triggers and when each kind was met (the earliest agreed
date, the first licensee revenue reported, the earliest trigger milestone reached), so that the
work queues find the trials whose payment should have started (projections/queues.py). Ageing
is not stored: the queries compute days overdue from the ``as_of`` date they
are given, so one table answers for any date.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from domain.arising import arose_on
from domain.contract import TechnologyContract
from projections.base import Appended, Row, Rows, TableProjection, TableSpec, cols, topic
from projections.lookups import text
from projections.runner import Envelope

C = TechnologyContract

CONTRACTS = TableSpec(
    "rcv_contracts",
    cols("contract_id uuid, seller_id uuid, buyer_id uuid, kind text, currency text, status text"),
    ("contract_id",),
)
ITEMS = TableSpec(
    "rcv_items",
    cols(
        "contract_id uuid, item_id text, institution_id uuid, buyer_id uuid, contract_kind text, "
        "currency text, kind text, label text, amount_fen bigint, fell_due_on date, "
        "original_due_on date, due_on date, deferrals integer, paid_fen bigint, "
        "insurance_fen bigint, written_off_fen bigint, cancelled_fen bigint, outstanding_fen bigint, "
        "last_paid_on date, cancelled_on date, arose_position bigint, last_moved_on date, "
        "last_moved_position bigint"
    ),
    ("contract_id", "item_id"),
    (
        "(institution_id, due_on) WHERE outstanding_fen > 0",
        "(due_on) WHERE outstanding_fen > 0",
    ),
)

MOVEMENTS = TableSpec(
    "rcv_movements",
    cols(
        "position bigint, contract_id uuid, item_id text, kind text, institution_id uuid, currency text, "
        "on_date date, amount_fen bigint, due_on date"
    ),
    ("position", "contract_id", "item_id", "kind"),
    # "What happened after (D, P)": movements dated after D or recorded after P.
    ("(on_date)", "(contract_id, item_id)"),
)

UFPL_TRIGGERS = TableSpec(
    "rcv_ufpl_triggers",
    cols(
        "contract_id uuid, date_trigger_on date, revenue_trigger boolean, milestone_triggers text[], "
        "first_revenue_on date, milestone_met_on date"
    ),
    ("contract_id",),
)

T_DRAFTED = topic(C, "Drafted")
T_AMENDED = topic(C, "TermsAmended")
T_SIGNED = topic(C, "Signed")
T_TOOK_EFFECT = topic(C, "TookEffect")
T_COMPLETED = topic(C, "Completed")
T_TERMINATED = topic(C, "Terminated")
T_EXPIRED = topic(C, "Expired")
T_RETURNED = topic(C, "LicenceReturned")
T_CONVERTED = topic(C, "ConvertedToPaid")
T_ROYALTY = topic(C, "RoyaltyReported")
T_MINIMUM = topic(C, "MinimumRoyaltyToppedUp")
T_MILESTONE = topic(C, "MilestoneReached")
T_PAYMENT = topic(C, "PaymentReceived")
T_CREDIT_APPLIED = topic(C, "CreditApplied")
T_INSURANCE = topic(C, "InsuranceCompensationPaid")
T_DEFERRED = topic(C, "DueItemsDeferred")
T_WRITTEN_OFF = topic(C, "WrittenOff")
T_END_SETTLED = topic(C, "EndSettled")
T_REVENUE = topic(C, "LicenseeRevenueReported")

STATUS = {
    T_SIGNED: "signed",
    T_TOOK_EFFECT: "in_force",
    T_COMPLETED: "completed",
    T_TERMINATED: "terminated",
    T_EXPIRED: "expired",
    T_RETURNED: "terminated",
}
ITEM_EVENTS = frozenset(
    {T_PAYMENT, T_CREDIT_APPLIED, T_INSURANCE, T_DEFERRED, T_WRITTEN_OFF, T_END_SETTLED}
)


class ReceivablesProjection(TableProjection):
    name = "receivables"
    rebuild_cost = 1.3  # CPU of a lone rebuild, relative (bench/stats.py's dataset)
    specs = (CONTRACTS, ITEMS, UFPL_TRIGGERS, MOVEMENTS)
    topics = frozenset(
        {
            T_DRAFTED, T_AMENDED, T_SIGNED, T_TOOK_EFFECT, T_COMPLETED, T_TERMINATED, T_EXPIRED,
            T_RETURNED, T_CONVERTED, T_ROYALTY, T_MINIMUM, T_MILESTONE, T_REVENUE, *ITEM_EVENTS,
        }
    )

    async def apply_page(self, conn: asyncpg.Connection, events: Sequence[Envelope]) -> None:
        contracts = Rows(CONTRACTS)
        items = Rows(ITEMS)
        triggers = Rows(UFPL_TRIGGERS)
        self.movements = movements = Appended(MOVEMENTS)
        ids = {e.event.originator_id for e in events}
        await contracts.load(conn, ids)
        await triggers.load(conn, {e.event.originator_id for e in events
                                   if e.entry.topic in (T_AMENDED, T_MILESTONE, T_REVENUE)})
        await items.load(
            conn, {e.event.originator_id for e in events if e.entry.topic in ITEM_EVENTS}, "contract_id"
        )
        for envelope in events:
            t, e = envelope.entry.topic, envelope.event
            if t in (T_DRAFTED, T_AMENDED):
                terms = e.terms
                row = contracts.get(e.originator_id) or CONTRACTS.blank(
                    contract_id=e.originator_id, status="drafted"
                )
                row.update(seller_id=terms.seller_ids[0], buyer_id=terms.buyer_id,
                           kind=text(terms.kind), currency=terms.currency)
                contracts.add(row)
                _ufpl_terms(triggers, e.originator_id, terms.ufpl)
                continue
            if t in (T_MILESTONE, T_REVENUE):
                _trigger_met(triggers, t, e)
            contract = contracts.get(e.originator_id)
            if contract is None:  # pragma: no cover - never before its draft
                continue
            if t in STATUS:
                contracts.touch(contract)
                contract["status"] = STATUS[t]
            at = envelope.position
            if t in (T_TOOK_EFFECT, T_CONVERTED, T_END_SETTLED):
                if t == T_END_SETTLED:  # 民法典 第566条: cancelled when not yet due, or kept
                    for cancellation in e.cancelled:
                        row = self._item(items, contract, cancellation.due_item_id)
                        row["cancelled_fen"] += cancellation.amount_fen
                        row["outstanding_fen"] -= cancellation.amount_fen
                        row["cancelled_on"] = e.ended_on
                        self._moved(row, "cancelled", e.ended_on, -cancellation.amount_fen, at)
                due = e.kept if t == T_END_SETTLED else e.due_items
                self._fall_due(items, contract, due, e, at)
            elif t in (T_ROYALTY, T_MINIMUM, T_MILESTONE):
                self._fall_due(items, contract, [e.due_item], e, at)
            elif t == T_PAYMENT:
                self._settle(items, contract, e.allocations, e.received_on, "paid", at)
            elif t == T_CREDIT_APPLIED:
                self._settle(items, contract, e.allocations, e.applied_on, "credited", at)
            elif t == T_INSURANCE:
                self._settle(items, contract, e.allocations, e.paid_on, "insurance", at)
            elif t == T_DEFERRED:
                for deferral in e.deferrals:
                    row = self._item(items, contract, deferral.due_item_id)
                    row["due_on"] = deferral.new_due_on
                    row["deferrals"] += 1
                    self._moved(row, "deferred", e.decided_on, 0, at, due_on=deferral.new_due_on)
            elif t == T_WRITTEN_OFF:
                row = self._item(items, contract, e.due_item_id)
                row["written_off_fen"] += e.amount_fen
                row["outstanding_fen"] -= e.amount_fen
                self._moved(row, "written_off", e.written_off_on, -e.amount_fen, at)
        await contracts.flush(conn)
        await items.flush(conn)
        await triggers.flush(conn)
        await movements.flush(conn)

    def _moved(self, row: Row, kind: str, on: Any, amount_fen: int, at: int, due_on: Any = None) -> None:
        if kind != "arose":  # the latest business date and position of any change since it arose
            last = row["last_moved_on"]
            row["last_moved_on"] = on if last is None else max(last, on)
            row["last_moved_position"] = at
        self.movements.add(position=at, contract_id=row["contract_id"], item_id=row["item_id"], kind=kind,
                           institution_id=row["institution_id"], currency=row["currency"], on_date=on,
                           amount_fen=amount_fen, due_on=due_on)

    @staticmethod
    def _item(items: Rows, contract: Row, item_id: str) -> Row:
        row = items.get(contract["contract_id"], item_id)
        if row is None:
            raise LookupError(f"contract {contract['contract_id']} has no due item {item_id!r}")
        return items.touch(row)

    def _fall_due(self, items: Rows, contract: Row, due_items: Sequence[Any], e: Any, at: int) -> None:
        for item in due_items:
            if item is None:
                continue
            on = arose_on(e, item.due_on)
            row = items.add(
                ITEMS.blank(
                    contract_id=contract["contract_id"],
                    item_id=item.item_id,
                    institution_id=contract["seller_id"],
                    buyer_id=contract["buyer_id"],
                    contract_kind=contract["kind"],
                    currency=contract["currency"],
                    kind=text(item.kind),
                    label=item.label,
                    amount_fen=item.amount_fen,
                    fell_due_on=on,
                    original_due_on=item.due_on,
                    due_on=item.due_on,
                    deferrals=0,
                    paid_fen=0,
                    insurance_fen=0,
                    written_off_fen=0,
                    cancelled_fen=0,
                    outstanding_fen=item.amount_fen,
                    arose_position=at,
                )
            )
            self._moved(row, "arose", on, item.amount_fen, at, due_on=item.due_on)

    def _settle(
        self, items: Rows, contract: Row, allocations: Sequence[Any], on: Any, kind: str, at: int
    ) -> None:
        for allocation in allocations:
            row = self._item(items, contract, allocation.due_item_id)
            row["paid_fen"] += allocation.amount_fen
            row["outstanding_fen"] -= allocation.amount_fen
            if kind == "insurance":
                row["insurance_fen"] += allocation.amount_fen
            self._moved(row, kind, on, -allocation.amount_fen, at)
            last = row["last_paid_on"]
            row["last_paid_on"] = on if last is None else max(last, on)


def _ufpl_terms(triggers: Rows, contract_id: Any, ufpl: Any) -> None:
    """A UFPL licence's agreed triggers (drafted, or amended while a draft)."""
    row = triggers.get(contract_id)
    if ufpl is None:
        if row is not None:  # amended into another kind: no trigger any more
            triggers.touch(row).update(date_trigger_on=None, revenue_trigger=False, milestone_triggers=[])
        return
    dates = [t.on for t in ufpl.triggers if text(t.kind) == "date" and t.on is not None]
    if row is None:
        row = triggers.add(UFPL_TRIGGERS.blank(contract_id=contract_id))
    triggers.touch(row).update(
        date_trigger_on=min(dates, default=None),
        revenue_trigger=any(text(t.kind) == "first_revenue" for t in ufpl.triggers),
        milestone_triggers=[t.milestone for t in ufpl.triggers if text(t.kind) == "milestone" and t.milestone],
    )


def _trigger_met(triggers: Rows, t: str, e: Any) -> None:
    """A licensee's first revenue, or a trigger milestone reached (domain/ufpl.py ``trigger_met_on``)."""
    row = triggers.get(e.originator_id)
    if row is None:
        return
    if t == T_REVENUE:
        if e.report.revenue_fen > 0:
            first = row["first_revenue_on"]
            row["first_revenue_on"] = e.report.reported_on if first is None else min(first, e.report.reported_on)
            triggers.touch(row)
    elif e.name in (row["milestone_triggers"] or ()):
        met = row["milestone_met_on"]
        row["milestone_met_on"] = e.reached_on if met is None else min(met, e.reached_on)
        triggers.touch(row)
