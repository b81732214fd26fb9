"""Which domain types may appear inside events.

Events hold only: str, int, bool, None, Decimal, date, datetime, UUID, lists
and dicts of those, ``StrEnum`` members and frozen dataclasses (value
objects). The store (ledger/serialisation.py) registers a transcoding for
every class listed here, so a new value object or enum only needs the
``@value_object`` or ``@domain_enum`` decorator to be storable.

Value objects keep sequences as tuples; the transcoding turns JSON lists back
into tuples on the way in, so a value object survives a round trip equal to
itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

VALUE_OBJECTS: list[type] = []
ENUMS: list[type[StrEnum]] = []

T = TypeVar("T", bound=type)
E = TypeVar("E", bound=type[StrEnum])


def value_object(cls: T) -> T:
    """Register a frozen dataclass as storable inside events."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__} must be a frozen dataclass")
    VALUE_OBJECTS.append(cls)
    return cls


def domain_enum(cls: E) -> E:
    """Register a StrEnum as storable inside events."""
    if not issubclass(cls, StrEnum):
        raise TypeError(f"{cls.__name__} must be a StrEnum")
    ENUMS.append(cls)
    return cls
