"""Settlement (结算) of a contract: what has fallen due, what was paid, what is held.

``Settlement`` is the mutable state an aggregate keeps; it never decides
anything on its own. The aggregate validates a command with the ``plan_*``
and ``check_*`` helpers here, records an event carrying the result (the
allocation, the deferral), and the event body applies it with ``apply_*``.
So the allocation a reader sees in the event is exactly what changed.

Overdue is derived from due dates and an "as of" date the caller gives;
nothing here reads a clock or stores "overdue".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from domain.errors import require, rule
from domain.payment_terms import Milestone, PaymentTerms, installment_due_on
from domain.serialisable import domain_enum, value_object

G = "settlement"

OVERPAYMENT_REJECTED = rule(
    "overpayment_rejected",
    "A payment larger than what it can settle is rejected unless the payer asked to hold the "
    "excess as a named credit; the ledger never absorbs money silently.",
    group=G,
)
PAYMENT_RECEIVED_POSITIVE = rule(
    "payment_received_positive",
    "A payment, refund or compensation received or paid is a positive number of fen.",
    group=G,
)
PAYMENT_ID_UNIQUE = rule(
    "payment_id_unique",
    "A payment reference (and a credit or claim id) is used once per contract, so a retried "
    "command cannot record the same money twice.",
    group=G,
)
DUE_ITEM_KNOWN = rule(
    "due_item_known",
    "A command naming a due item names one that exists on this contract.",
    group=G,
)
DUE_ITEM_OUTSTANDING = rule(
    "due_item_outstanding",
    "Deferring, writing off or paying a named due item needs an amount still outstanding on it.",
    group=G,
)
SETTLES_WHAT_HAD_ARISEN = rule(
    "settles_what_had_arisen",
    "Money settles a due item only from the day the item arose (effective date, conversion, "
    "royalty report, top-up, milestone reached, end): money received earlier is an advance "
    "(预收), held as credit when the payer asks, so the books never show a receivable paid "
    "before it existed.",
    source="企业会计准则第14号——收入",
    group=G,
)
DEFERRAL_MOVES_LATER = rule(
    "deferral_moves_later",
    "A deferral (延期支付) moves a due item to a date after its current due date.",
    source="民法典 第846条",
    group=G,
)
APPROVAL_RECORDED = rule(
    "approval_recorded",
    "A deferral or a write-off names its approver and its reason (both non-blank).",
    group=G,
)
CREDIT_KNOWN = rule(
    "credit_known",
    "Applying or refunding a credit names a credit held on this contract with enough left.",
    group=G,
)
NOTHING_TO_SETTLE = rule(
    "nothing_to_settle",
    "Applying a credit needs an outstanding due item to apply it to.",
    group=G,
)
ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS = rule(
    "ended_contract_settles_only_what_remains",
    "Once a contract has ended (terminated, expired, completed), a payment settles only what "
    "remains owed: items that fell due by the end and items the ending kept. Items cancelled "
    "by the ending cannot be paid, and no excess is held as credit.",
    source="民法典 第566条",
    group=G,
)
END_CANCELS_WHAT_IS_NOT_DUE = rule(
    "end_cancels_what_is_not_due",
    "Ending a contract cancels what is still outstanding on installments, entry fees and "
    "milestone payments due after the end date; items due on or before it stay receivable, "
    "as do royalties and minimum-royalty top-ups (owed for use before the end). A termination "
    "or expiry may keep amounts still owed (agreed compensation, liquidated damages) as named "
    "items, each with a new name, a positive amount and a due date on or after the end; a "
    "completion or a licence return keeps none.",
    source="民法典 第566条",
    group=G,
)


@domain_enum
class DueKind(StrEnum):
    installment = "installment"
    entry_fee = "entry_fee"
    royalty = "royalty"
    minimum_royalty = "minimum_royalty"
    milestone = "milestone"
    compensation = "compensation"  # kept by an ending: agreed compensation, liquidated damages


@domain_enum
class Overpayment(StrEnum):
    """What to do with the part of a payment nothing is due for."""

    reject = "reject"
    credit = "credit"


@value_object
@dataclass(frozen=True)
class DueItem:
    """An amount that fell due (应收): the receivable the ledger posts."""

    item_id: str
    kind: DueKind
    amount_fen: int
    due_on: date
    label: str


@value_object
@dataclass(frozen=True)
class Allocation:
    """``amount_fen`` of a payment (or credit) settles due item ``due_item_id``."""

    due_item_id: str
    amount_fen: int


@value_object
@dataclass(frozen=True)
class Deferral:
    due_item_id: str
    old_due_on: date
    new_due_on: date


@value_object
@dataclass(frozen=True)
class Cancellation:
    """An ending cancels ``amount_fen`` still outstanding on ``due_item_id``, due ``due_on``."""

    due_item_id: str
    amount_fen: int
    due_on: date


@dataclass(frozen=True)
class KeptItem:
    """Input: an amount an ending names as still owed (agreed compensation, liquidated damages)."""

    name: str
    amount_fen: int
    due_on: date


# Items owed for use already made before the end: an ending never cancels them.
USE_CHARGES = frozenset({DueKind.royalty, DueKind.minimum_royalty})


@dataclass(frozen=True)
class Movement:
    """One dated change to a due item: ``paid``, ``written_off``, ``cancelled`` (an amount) or
    ``deferred`` (a new due date), on the business date the event carries."""

    on: date
    kind: str
    amount_fen: int = 0
    due_on: date | None = None


@dataclass
class DueState:
    """A due item and what has happened to it since, with the dates (``movements``)."""

    item: DueItem
    due_on: date
    arose_on: date | None = None  # domain/arising.py: money settles it from this day
    paid_fen: int = 0
    written_off_fen: int = 0
    cancelled_fen: int = 0  # cancelled by the contract's end (民法典 第566条)
    movements: list[Movement] = field(default_factory=list)

    @property
    def outstanding_fen(self) -> int:
        return self.item.amount_fen - self.paid_fen - self.written_off_fen - self.cancelled_fen

    def on(self, day: date) -> DueState | None:
        """This item as it stood on business date ``day``: None before it arose; what was paid,
        written off and cancelled by then, and the due date of the deferrals decided by then."""
        if self.arose_on is not None and self.arose_on > day:
            return None
        then = DueState(self.item, self.item.due_on, self.arose_on)
        for m in self.movements:
            if m.on > day:
                continue
            if m.kind == "paid":
                then.paid_fen += m.amount_fen
            elif m.kind == "written_off":
                then.written_off_fen += m.amount_fen
            elif m.kind == "cancelled":
                then.cancelled_fen += m.amount_fen
            elif m.kind == "deferred" and m.due_on is not None:
                then.due_on = m.due_on
        then.movements = [m for m in self.movements if m.on <= day]
        return then


@dataclass(frozen=True)
class OpenItem:
    """Query result: a due item with its current due date and outstanding amount."""

    item_id: str
    kind: DueKind
    label: str
    due_on: date
    amount_fen: int
    outstanding_fen: int


def allocate(
    open_items: Iterable[tuple[str, int]], amount_fen: int
) -> tuple[list[Allocation], int]:
    """Settle ``open_items`` (id, outstanding) in the order given; return the rest.

    Each allocation is positive and at most the item's outstanding amount,
    and allocations plus the rest equal ``amount_fen``.
    """
    allocations: list[Allocation] = []
    left = amount_fen
    for item_id, outstanding in open_items:
        if left == 0:
            break
        take = min(left, outstanding)
        if take > 0:
            allocations.append(Allocation(item_id, take))
            left -= take
    return allocations, left


@dataclass
class Settlement:
    items: dict[str, DueState] = field(default_factory=dict)
    credits: dict[str, int] = field(default_factory=dict)  # credit id -> fen still held
    references: set[str] = field(default_factory=set)  # payment, credit and claim ids used

    # --- queries ------------------------------------------------------------

    def open_states(self, as_of: date | None = None, arisen_by: date | None = None) -> list[DueState]:
        """Outstanding items, oldest due date first (ties: the order they fell due); with
        ``arisen_by``, only items that had arisen by that day."""
        states = [s for s in self.items.values() if s.outstanding_fen > 0]
        if as_of is not None:
            states = [s for s in states if s.due_on <= as_of]
        if arisen_by is not None:
            states = [s for s in states if s.arose_on is None or s.arose_on <= arisen_by]
        return sorted(states, key=lambda s: s.due_on)  # sort is stable

    def outstanding_fen(self, as_of: date | None = None) -> int:
        return sum(s.outstanding_fen for s in self.open_states(as_of))

    def overdue(self, as_of: date) -> list[OpenItem]:
        return [view(s) for s in self.open_states() if s.due_on < as_of]

    def open_items(self) -> list[OpenItem]:
        return [view(s) for s in self.open_states()]

    @property
    def credit_fen(self) -> int:
        return sum(self.credits.values())

    # --- checks and plans (no mutation) -----------------------------------------

    def state(self, item_id: str, field_path: str) -> DueState:
        require(item_id in self.items, DUE_ITEM_KNOWN, field_path, f"no due item {item_id!r}",
                zh=f"没有到期款项 {item_id!r}")
        return self.items[item_id]

    def check_new_reference(self, reference: str, field_path: str) -> None:
        require(
            bool(reference.strip()) and reference not in self.references,
            PAYMENT_ID_UNIQUE,
            field_path,
            f"reference {reference!r} is blank or already used",
            zh=f"编号 {reference!r} 为空白或已使用",
        )

    def plan(
        self, amount_fen: int, due_item_id: str | None, field_path: str, on: date
    ) -> tuple[list[Allocation], int]:
        """Allocate money of day ``on`` to the named item only, else to all open items that had
        arisen by ``on``, oldest due date first."""
        if due_item_id is not None:
            state = self.state(due_item_id, field_path)
            require(
                state.outstanding_fen > 0,
                DUE_ITEM_OUTSTANDING,
                field_path,
                f"{due_item_id!r} is settled",
                zh=f"{due_item_id!r} 已结清",
            )
            self.check_arisen(state, on, field_path)
            targets = [state]
        else:
            targets = self.open_states(arisen_by=on)
        return allocate(((s.item.item_id, s.outstanding_fen) for s in targets), amount_fen)

    def check_arisen(self, state: DueState, on: date, field_path: str) -> None:
        require(
            state.arose_on is None or state.arose_on <= on,
            SETTLES_WHAT_HAD_ARISEN,
            field_path,
            f"{state.item.item_id!r} arose on {state.arose_on}, after {on}",
            zh=f"{state.item.item_id!r} 于 {state.arose_on} 形成，晚于 {on}",
        )

    def plan_end(self, on: date) -> list[Cancellation]:
        """What an end on ``on`` cancels: the outstanding rest of items not yet due, use
        charges (royalties) excepted."""
        return [
            Cancellation(s.item.item_id, s.outstanding_fen, s.due_on)
            for s in self.open_states()
            if s.due_on > on and s.item.kind not in USE_CHARGES
        ]

    def plan_kept(self, kept: Iterable[KeptItem], on: date) -> list[DueItem]:
        """The due items an ending keeps, checked: new names, positive amounts, due from the end."""
        items: list[DueItem] = []
        names: set[str] = set()
        for n, k in enumerate(kept):
            path = f"kept[{n}]"
            name = k.name.strip()
            require(
                bool(name) and name not in self.items and name not in names,
                END_CANCELS_WHAT_IS_NOT_DUE,
                f"{path}.name",
                f"{k.name!r} is blank or already names a due item",
                zh=f"{k.name!r} 为空白或已是某一到期款项的名称",
            )
            require(
                k.amount_fen > 0,
                END_CANCELS_WHAT_IS_NOT_DUE,
                f"{path}.amount_fen",
                f"{k.amount_fen} is not positive",
                zh=f"{k.amount_fen} 不是正数",
            )
            require(
                k.due_on >= on,
                END_CANCELS_WHAT_IS_NOT_DUE,
                f"{path}.due_on",
                f"{k.due_on} is before the end on {on}",
                zh=f"{k.due_on} 早于终止日 {on}",
            )
            names.add(name)
            items.append(
                DueItem(name, DueKind.compensation, k.amount_fen, k.due_on, f"终止后仍应付 kept: {name}")
            )
        return items

    # --- mutations (called from event bodies only) -------------------------------

    def add(self, items: Iterable[DueItem], arose_on: date) -> None:
        for item in items:
            self.items[item.item_id] = DueState(item, item.due_on, arose_on)

    def apply_allocations(self, allocations: Iterable[Allocation], on: date) -> None:
        for a in allocations:
            state = self.items[a.due_item_id]
            state.paid_fen += a.amount_fen
            state.movements.append(Movement(on, "paid", a.amount_fen))

    def apply_deferrals(self, deferrals: Iterable[Deferral], on: date) -> None:
        for d in deferrals:
            state = self.items[d.due_item_id]
            state.due_on = d.new_due_on
            state.movements.append(Movement(on, "deferred", due_on=d.new_due_on))

    def write_off(self, item_id: str, amount_fen: int, on: date) -> None:
        state = self.items[item_id]
        state.written_off_fen += amount_fen
        state.movements.append(Movement(on, "written_off", amount_fen))

    def cancel(self, cancellations: Iterable[Cancellation], on: date) -> None:
        for c in cancellations:
            state = self.items[c.due_item_id]
            state.cancelled_fen += c.amount_fen
            state.movements.append(Movement(on, "cancelled", c.amount_fen))

    def on(self, day: date) -> list[DueState]:
        """Every item as it stood on business date ``day`` (those that had arisen by then)."""
        return [then for s in self.items.values() if (then := s.on(day)) is not None]


def view(state: DueState) -> OpenItem:
    return OpenItem(
        state.item.item_id,
        state.item.kind,
        state.item.label,
        state.due_on,
        state.item.amount_fen,
        state.outstanding_fen,
    )


def check_approval(approver: str, reason: str) -> None:
    require(bool(approver.strip()), APPROVAL_RECORDED, "approver", "approver is blank",
            zh="审批人为空白")
    require(bool(reason.strip()), APPROVAL_RECORDED, "reason", "reason is blank", zh="理由为空白")


def check_positive(amount_fen: int, field_path: str = "amount_fen") -> None:
    require(amount_fen > 0, PAYMENT_RECEIVED_POSITIVE, field_path, f"{amount_fen} is not positive",
            zh=f"{amount_fen} 不是正数")


# --- due items from the terms ---------------------------------------------------------


def scheduled_items(terms: PaymentTerms, start_on: date) -> list[DueItem]:
    """The entry fee and installments, materialised when payments start on ``start_on``."""
    items: list[DueItem] = []
    if terms.entry_fee is not None:
        due = installment_due_on(terms.entry_fee, start_on, terms.payments_start_on)
        items.append(
            DueItem(
                "entry-fee", DueKind.entry_fee, terms.entry_fee.amount_fen, due, "入门费 entry fee"
            )
        )
    count = len(terms.installments)
    for n, inst in enumerate(terms.installments, start=1):
        due = installment_due_on(inst, start_on, terms.payments_start_on)
        label = "一次总付 lump sum" if count == 1 else f"分期 installment {n}/{count}"
        items.append(DueItem(f"installment-{n}", DueKind.installment, inst.amount_fen, due, label))
    return items


def milestone_item(
    milestone: Milestone, reached_on: date, payments_start_on: date | None
) -> DueItem:
    due = reached_on + timedelta(days=milestone.days_to_pay)
    if payments_start_on is not None:
        due = max(due, payments_start_on)
    return DueItem(
        f"milestone-{milestone.name}",
        DueKind.milestone,
        milestone.amount_fen,
        due,
        f"里程碑 {milestone.name}",
    )
