"""Value objects of an achievement, and the checks they share.

Kept apart from the aggregate so that achievement.py reads as its commands.
The rules here are the plain-input rules that every part of an achievement
(registration, valuations, listings, notices, encumbrances) applies alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from domain.enums import RightsGrantKind, ValuationMethod
from domain.errors import require, rule
from domain.serialisable import value_object

HUNDRED = Decimal(100)

G = "achievement"
ACHIEVEMENT_TEXT_REQUIRED = rule(
    "achievement_text_required",
    "Titles, names, numbers, funders and reasons recorded for an achievement are not blank.",
    group=G,
)
ACHIEVEMENT_SHARE_IN_RANGE = rule(
    "achievement_share_in_range",
    "Each share is a finite percentage from 0 to 100; owners and inventors hold more than 0.",
    group=G,
)
ACHIEVEMENT_DATES_IN_ORDER = rule(
    "achievement_dates_in_order",
    "Nothing ends before it starts: a notice ends on or after its start, a use right and a "
    "licence term end after they start, and exits, delistings and releases are not dated "
    "before what they close.",
    group=G,
)
ACHIEVEMENT_AMOUNT_POSITIVE = rule(
    "achievement_amount_positive",
    "Valuations, asking prices, noticed agreed prices and proof-of-concept funding are positive "
    "amounts of fen.",
    group=G,
)
ACHIEVEMENT_CURRENCY_CODE = rule(
    "achievement_currency_code",
    "Amounts name an ISO 4217 currency code (three capital letters).",
    source="ISO 4217",
    group=G,
)


def check_text(value: str, field: str) -> str:
    """The stripped text, or a ``DomainError`` if it is blank."""
    require(bool(value and value.strip()), ACHIEVEMENT_TEXT_REQUIRED, field, "is blank",
            zh="为空白")
    return value.strip()


def check_share(value: Decimal, field: str, *, zero_allowed: bool = False) -> None:
    ok = isinstance(value, Decimal) and value.is_finite() and value <= HUNDRED
    ok = ok and (value >= 0 if zero_allowed else value > 0)
    require(ok, ACHIEVEMENT_SHARE_IN_RANGE, field, f"{value!r} is not a share in range",
            zh=f"{value!r} 不是有效范围内的份额")


def check_money(amount_fen: int, currency: str, field: str) -> None:
    positive = type(amount_fen) is int and amount_fen > 0  # bool is an int, and not money
    require(positive, ACHIEVEMENT_AMOUNT_POSITIVE, field, f"{amount_fen!r} fen is not positive",
            zh=f"{amount_fen!r} 分不是正数")
    code = len(currency) == 3 and currency.isascii() and currency.isalpha() and currency.isupper()
    require(code, ACHIEVEMENT_CURRENCY_CODE, "currency", f"{currency!r} is not a currency code",
            zh=f"{currency!r} 不是币种代码")


def check_not_before(later: date, earlier: date, field: str, *, strictly: bool = False) -> None:
    ok = later > earlier if strictly else later >= earlier
    require(ok, ACHIEVEMENT_DATES_IN_ORDER, field, f"{later} comes before {earlier}",
            zh=f"{later} 早于 {earlier}")


@value_object
@dataclass(frozen=True)
class Owner:
    """A holder institution (成果权利人) and its co-ownership share in percent."""

    institution_id: UUID
    share: Decimal


@value_object
@dataclass(frozen=True)
class Inventor:
    """A member of the inventor team (成果完成人) and their contribution share in percent."""

    name: str
    share: Decimal
    person_id: str | None = None  # ID-card or employee number where the institution keeps one


@value_object
@dataclass(frozen=True)
class RegisterSpell:
    """A stay in the separate asset register (资产单列管理)."""

    entered_on: date
    exited_on: date | None = None
    exit_reason: str | None = None


@value_object
@dataclass(frozen=True)
class RightsGrant:
    """赋权: ownership (joint or by share) or a long-term use right for the inventors.

    ``inventor_shares`` follows the order of the inventor team. The use-right
    term is stored as granted; policy minimums (Changzhou: 10 years) are
    policies, not enforced here.
    """

    kind: RightsGrantKind
    granted_on: date
    inventor_shares: tuple[Decimal, ...] = ()
    retained_share: Decimal | None = None
    use_right_start: date | None = None
    use_right_end: date | None = None


@value_object
@dataclass(frozen=True)
class Valuation:
    """评估定价: how much the achievement was valued at, by whom and when."""

    method: ValuationMethod
    assessor: str | None
    amount_fen: int
    currency: str
    valued_on: date


@value_object
@dataclass(frozen=True)
class Listing:
    """挂牌 on one exchange; ``asking_price_fen`` is None for a negotiable price (面议)."""

    exchange_id: UUID
    listing_number: str
    asking_price_fen: int | None
    currency: str
    listed_on: date
    delisted_on: date | None = None

    def in_force(self, on: date | None = None) -> bool:
        """Listed now (``on`` None) or on ``on``."""
        if on is None:
            return self.delisted_on is None
        return self.listed_on <= on and (self.delisted_on is None or on < self.delisted_on)


@value_object
@dataclass(frozen=True)
class ProofOfConcept:
    """概念验证 funding: who paid how much for which stage, and what came of it."""

    funder: str
    amount_fen: int
    currency: str
    stage: str
    outcome: str | None
    funded_on: date
