"""Patent invention bonus (专利法实施细则 2023 第92–94条): an obligation per granted patent.

When a service invention (职务发明创造) is granted a patent, the unit granted the patent owes
its inventors or designers a bonus (奖金). Art. 92 lets the unit agree the amount with them or
set it in its own lawful rules; when nothing is agreed, Art. 93 requires at least 4,000 yuan
for an invention patent and at least 1,500 yuan for a utility model or a design, paid within
3 months of the announcement of the grant. (Art. 94 is the remuneration, 报酬, from
exploitation; the ledger's distribution covers it.)

The ledger tracks the obligation on the achievement: it arises on the grant date (the ledger
takes the grant date it holds as the announcement date), its floor follows the IP type, and
its deadline is the grant date plus 3 calendar months (month end clamped). Bonus payments are
recorded with their date; an agreed bonus (Art. 92) is recorded with a note of the agreement
or rule and is then not judged by the statutory floor. A late or small payment is recorded
and flagged in the distribution audit, never refused: the ledger records what happened.

Status as of a date (``BonusStatus``): ``due`` (deadline not passed, floor not yet paid),
``met`` (floor paid by the deadline), ``met_late`` (floor paid, but after the deadline),
``overdue`` (deadline passed, floor not paid), ``agreed`` (Art. 92: an agreed bonus recorded).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.enums import IpType
from domain.errors import rule
from domain.serialisable import domain_enum, value_object

G = "invention_bonus"
SOURCE = "专利法实施细则（2023） 第92–94条"
INVENTION_BONUS_MONTHS = 3
INVENTION_BONUS_FLOOR_FEN: dict[IpType, int] = {
    IpType.invention_patent: 400_000,  # 4,000.00 yuan
    IpType.utility_model: 150_000,  # 1,500.00 yuan
    IpType.design: 150_000,
}

INVENTION_BONUS_OBLIGATION = rule(
    "invention_bonus_obligation",
    "A granted patent of a service achievement owes its inventors a bonus: when nothing is "
    "agreed, at least 4,000 yuan for an invention patent and 1,500 yuan for a utility model or a "
    "design, within 3 months of the grant (the ledger's grant date). The obligation arises at "
    "the grant; the distribution audit shows it as due, met, met late, overdue or agreed "
    "(Art. 92: the unit's agreement or own rule decides the amount). It flags, it never refuses.",
    source="专利法实施细则（2023） 第92条、第93条",
    group=G,
)
INVENTION_BONUS_PAYMENT_VALID = rule(
    "invention_bonus_payment_valid",
    "An invention bonus is paid for a granted patent (invention, utility model or design) of a "
    "service achievement, as a positive number of fen, on or after the grant, under a payment id "
    "not used before for this achievement.",
    source="专利法实施细则（2023） 第93条",
    group=G,
)


@domain_enum
class BonusStatus(StrEnum):
    """发明人奖金义务状态: 待付（期限内）, 按期足额, 逾期足额, 逾期未足额, 另有约定."""

    due = "due"
    met = "met"
    met_late = "met_late"
    overdue = "overdue"
    agreed = "agreed"


@value_object
@dataclass(frozen=True)
class InventionBonusPayment:
    payment_id: str
    amount_fen: int
    paid_on: date
    agreed: str | None = None  # the agreement or rule (Art. 92) when the amount was agreed


def bonus_deadline(granted_on: date) -> date:
    """The grant date plus 3 calendar months; a day past the month's end becomes its last day."""
    index = granted_on.year * 12 + (granted_on.month - 1) + INVENTION_BONUS_MONTHS
    year, month = divmod(index, 12)
    return date(year, month + 1, min(granted_on.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class InventionBonusObligation:
    """Query result: one granted patent's bonus obligation as of a date."""

    ip_type: IpType
    granted_on: date
    floor_fen: int
    deadline_on: date
    paid_fen: int  # paid by as_of
    paid_in_time_fen: int  # paid by the deadline (and by as_of)
    status: BonusStatus

    @property
    def rule(self) -> str:
        """The rule this obligation is judged by (flagged in the audit, never refused)."""
        return INVENTION_BONUS_OBLIGATION.name

    @property
    def short_fen(self) -> int:
        """What is missing to the statutory floor (0 when met or agreed)."""
        if self.status is BonusStatus.agreed:
            return 0
        return max(self.floor_fen - self.paid_fen, 0)


def owes_bonus(ip_type: IpType, service_achievement: bool, granted_on: date | None) -> bool:
    return service_achievement and granted_on is not None and ip_type in INVENTION_BONUS_FLOOR_FEN


def obligation(ip_type: IpType, granted_on: date, payments: Sequence[InventionBonusPayment],
               as_of: date) -> InventionBonusObligation:
    """The obligation of a patent granted on ``granted_on``, judged as of ``as_of``."""
    floor = INVENTION_BONUS_FLOOR_FEN[ip_type]
    deadline = bonus_deadline(granted_on)
    known = [p for p in payments if p.paid_on <= as_of]
    paid = sum(p.amount_fen for p in known)
    in_time = sum(p.amount_fen for p in known if p.paid_on <= deadline)
    if any(p.agreed for p in known):
        status = BonusStatus.agreed
    elif in_time >= floor:
        status = BonusStatus.met
    elif paid >= floor:
        status = BonusStatus.met_late
    elif as_of > deadline:
        status = BonusStatus.overdue
    else:
        status = BonusStatus.due
    return InventionBonusObligation(ip_type, granted_on, floor, deadline, paid, in_time, status)
