"""Award obligations beside the income distributions: self-implementation awards and invention bonuses.

Part of projection ``distribution`` (projections/distribution.py applies these events with its own):

- ``dist_self_implementations``: each self-implementation's institution and achievement.
- ``dist_self_lines``: one row per (self-implementation, year, inventor) of an award allocated
  from operating profit (Law Art. 45 (3)), with its allocation date and 36-month deadline
  (财税〔2018〕58号, counted from the allocation date: domain/self_implementation.py).
- ``dist_self_payments``: every payment of such an award, with whether it was in time.
- ``dist_invention_bonuses``: one row per patent (invention, utility model, design) of a service
  achievement: its owner, grant date, the statutory floor and the 3-month deadline
  (专利法实施细则 2023 第93条: domain/invention_bonus.py).
- ``dist_invention_bonus_payments``: every bonus payment, and whether its amount was agreed (第92条).
- ``dist_notices``: every public notice (公示) of an achievement's agreed price (Law Art. 18): its
  period, the objections raised and how it was concluded (the work queues read the open ones).

Status as of a date is computed by the queries from the stored dates.
"""

from __future__ import annotations

from typing import Any

from domain.achievement import Achievement
from domain.invention_bonus import INVENTION_BONUS_FLOOR_FEN, bonus_deadline
from domain.self_implementation import SelfImplementation
from projections.base import Appended, Rows, TableSpec, cols, topic
from projections.lookups import text

S = SelfImplementation
A = Achievement

SELF_IMPLEMENTATIONS = TableSpec(
    "dist_self_implementations",
    cols("self_implementation_id uuid, institution_id uuid, achievement_id uuid, partner_id uuid, "
         "started_on date, stopped_on date"),
    ("self_implementation_id",),
    ("(started_on, self_implementation_id)", "(partner_id) WHERE partner_id IS NOT NULL"),
)
SELF_LINES = TableSpec(
    "dist_self_lines",
    cols(
        "self_implementation_id uuid, year integer, inventor text, institution_id uuid, "
        "achievement_id uuid, allocated_fen bigint, allocated_on date, deadline_on date"
    ),
    ("self_implementation_id", "year", "inventor"),
    ("(institution_id, allocated_on)",),
    versioned=True,
)
SELF_PAYMENTS = TableSpec(
    "dist_self_payments",
    cols(
        "self_implementation_id uuid, payment_id text, year integer, inventor text, "
        "institution_id uuid, amount_fen bigint, paid_on date, within_deadline boolean"
    ),
    ("self_implementation_id", "payment_id"),
    ("(self_implementation_id, year, inventor)",),
    versioned=True,
)
BONUSES = TableSpec(
    "dist_invention_bonuses",
    cols(
        "achievement_id uuid, institution_id uuid, ip_type text, service boolean, granted_on date, "
        "deadline_on date, floor_fen bigint"
    ),
    ("achievement_id",),
    ("(institution_id, granted_on)", "(deadline_on) WHERE service"),
    versioned=True,
)
BONUS_PAYMENTS = TableSpec(
    "dist_invention_bonus_payments",
    cols("achievement_id uuid, payment_id text, amount_fen bigint, paid_on date, agreed boolean"),
    ("achievement_id", "payment_id"),
    ("(achievement_id)",),
    versioned=True,
)
NOTICES = TableSpec(
    "dist_notices",
    cols(
        "achievement_id uuid, seq integer, starts_on date, ends_on date, agreed_price_fen bigint, "
        "currency text, objections integer, outcome text, concluded_on date"
    ),
    ("achievement_id", "seq"),
    ("(ends_on) WHERE outcome IS NULL",),
)
SPECS = (SELF_IMPLEMENTATIONS, SELF_LINES, SELF_PAYMENTS, BONUSES, BONUS_PAYMENTS, NOTICES)

T_S_STARTED = topic(S, "Started")
T_S_ALLOCATED = topic(S, "AwardAllocated")
T_S_PAID = topic(S, "AwardPaid")
T_S_STOPPED = topic(S, "Stopped")
T_A_REGISTERED = topic(A, "Registered")
T_A_GRANTED = topic(A, "Granted")
T_A_BONUS = topic(A, "InventionBonusPaid")
T_A_NOTICE = topic(A, "NoticePublished")
T_A_OBJECTION = topic(A, "ObjectionRecorded")
T_A_CONCLUDED = topic(A, "NoticeConcluded")
NOTICE_TOPICS = frozenset({T_A_NOTICE, T_A_OBJECTION, T_A_CONCLUDED})
TOPICS = frozenset({T_S_STARTED, T_S_ALLOCATED, T_S_PAID, T_S_STOPPED, T_A_REGISTERED, T_A_GRANTED, T_A_BONUS, *NOTICE_TOPICS})


class ObligationRows:
    """The rows of a page's obligation events (loaded, applied, flushed with the page)."""

    def __init__(self) -> None:
        self.implementations = Rows(SELF_IMPLEMENTATIONS)
        self.bonuses = Rows(BONUSES)
        self.self_lines = Rows(SELF_LINES)
        self.self_payments = Appended(SELF_PAYMENTS)
        self.bonus_payments = Appended(BONUS_PAYMENTS)
        self.notices = Rows(NOTICES)

    async def load(self, conn: Any, events: Any) -> None:
        await self.implementations.load(conn, {e.event.originator_id for e in events
                                               if e.entry.topic in (T_S_ALLOCATED, T_S_PAID, T_S_STOPPED)})
        await self.bonuses.load(conn, {e.event.originator_id for e in events if e.entry.topic == T_A_GRANTED})
        await self.notices.load(conn, {e.event.originator_id for e in events if e.entry.topic in NOTICE_TOPICS},
                                "achievement_id")

    def apply(self, t: str, e: Any) -> None:
        if t == T_S_STARTED:
            self.implementations.add(SELF_IMPLEMENTATIONS.blank(
                self_implementation_id=e.originator_id, institution_id=e.institution_id,
                achievement_id=e.achievement_id, partner_id=e.partner_id, started_on=e.started_on))
        elif t == T_S_STOPPED:
            row = self.implementations.get(e.originator_id)
            if row is not None:
                row["stopped_on"] = e.stopped_on
                self.implementations.touch(row)
        elif t == T_S_ALLOCATED:
            owner = self.implementations.get(e.originator_id) or {}
            a = e.award
            for inventor, fen in a.lines:
                self.self_lines.add(SELF_LINES.blank(
                    self_implementation_id=e.originator_id, year=a.year, inventor=inventor,
                    institution_id=owner.get("institution_id"), achievement_id=owner.get("achievement_id"),
                    allocated_fen=fen, allocated_on=a.allocated_on, deadline_on=a.deadline_on))
        elif t == T_S_PAID:
            owner = self.implementations.get(e.originator_id) or {}
            p = e.payment
            self.self_payments.add(
                self_implementation_id=e.originator_id, payment_id=p.payment_id, year=p.year,
                inventor=p.inventor, institution_id=owner.get("institution_id"), amount_fen=p.amount_fen,
                paid_on=p.paid_on, within_deadline=bool(p.within_deadline))
        elif t == T_A_REGISTERED:
            if e.ip_type in INVENTION_BONUS_FLOOR_FEN:
                self.bonuses.add(BONUSES.blank(
                    achievement_id=e.originator_id,
                    institution_id=e.owners[0].institution_id if e.owners else None,
                    ip_type=text(e.ip_type), service=bool(e.service_achievement), granted_on=e.granted_on,
                    deadline_on=bonus_deadline(e.granted_on) if e.granted_on else None,
                    floor_fen=INVENTION_BONUS_FLOOR_FEN[e.ip_type]))
        elif t == T_A_GRANTED:
            row = self.bonuses.get(e.originator_id)
            if row is not None:
                row.update(granted_on=e.granted_on, deadline_on=bonus_deadline(e.granted_on))
                self.bonuses.touch(row)
        elif t == T_A_BONUS:
            p = e.payment
            self.bonus_payments.add(achievement_id=e.originator_id, payment_id=p.payment_id,
                                    amount_fen=p.amount_fen, paid_on=p.paid_on, agreed=p.agreed is not None)
        elif t == T_A_NOTICE:
            n = e.notice
            seq = len(self.notices.where(lambda r: r["achievement_id"] == e.originator_id)) + 1
            self.notices.add(NOTICES.blank(
                achievement_id=e.originator_id, seq=seq, starts_on=n.starts_on, ends_on=n.ends_on,
                agreed_price_fen=n.agreed_price_fen, currency=n.currency, objections=0))
        elif t in (T_A_OBJECTION, T_A_CONCLUDED):
            # Both concern the latest notice (domain/achievement.py).
            rows = self.notices.where(lambda r: r["achievement_id"] == e.originator_id)
            if not rows:  # pragma: no cover - the aggregate refuses it without a notice
                return
            last = max(rows, key=lambda r: r["seq"])
            if t == T_A_OBJECTION:
                last["objections"] += 1
            else:
                last.update(outcome=text(e.outcome), concluded_on=e.on)
            self.notices.touch(last)

    async def flush(self, conn: Any) -> None:
        for table in (self.implementations, self.bonuses, self.self_lines, self.notices):
            await table.flush(conn)
        await self.self_payments.flush(conn)
        await self.bonus_payments.flush(conn)
