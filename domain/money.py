"""Exact money: integer fen in events, Decimal yuan at the edges.

Never a float. Splits use the largest-remainder rule so that parts always
add up to the whole, to the fen (ARCHITECTURE.md decision 6).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100
CENT = Decimal("0.01")
DEFAULT_CURRENCY = "CNY"


def yuan_to_fen(amount: Decimal | str | int) -> int:
    """Convert a yuan amount with at most two decimals to integer fen.

    Raises ``ValueError`` for more precision than a fen, rather than rounding
    silently: a payment of 0.005 yuan is a typing error, not a rounding case.
    """
    if isinstance(amount, float):  # pragma: no cover - guarded by type hints too
        raise TypeError("money is never a float")
    try:
        value = Decimal(amount)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    if value != value.quantize(CENT):
        raise ValueError(f"more precision than a fen: {amount!r}")
    return int(value * FEN_PER_YUAN)


def fen_to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(CENT)


def format_yuan(fen: int) -> str:
    """Render fen as a yuan string with two decimals, e.g. ``1234567`` -> ``12345.67``."""
    return f"{fen_to_yuan(fen):.2f}"


def percent_of(fen: int, percent: Decimal) -> int:
    """``percent`` % of ``fen``, rounded half-up to the fen (for single figures, not splits)."""
    return int((Decimal(fen) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def split_largest_remainder(total: int, weights: Sequence[Decimal | int]) -> list[int]:
    """Split ``total`` (integer minor units) in proportion to ``weights``, exactly.

    Each part gets the floor of its exact share; the units left over go one
    each to the parts with the largest remainders, ties to the earlier part,
    so the result is deterministic and ``sum(result) == total``.
    """
    if not weights:
        raise ValueError("nothing to split between")
    exact = [Decimal(w) for w in weights]
    if any(w < 0 for w in exact):
        raise ValueError("weights must not be negative")
    weight_sum = sum(exact)
    if weight_sum == 0:
        raise ValueError("weights sum to zero")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares = [Decimal(magnitude) * w / weight_sum for w in exact]
    floors = [int(s) for s in shares]  # int() truncates towards zero; shares are >= 0
    left = magnitude - sum(floors)
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [sign * part for part in floors]
