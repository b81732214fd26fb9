"""How domain events become bytes: eventsourcing's mapper and JSON transcoder.

The stored form is the library's ``StoredEvent`` (decision 1), so
eventsourcing's own tools can read what ttledger writes. The transcoder knows
every type the domain allows inside events (domain/serialisable.py).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    Transcoding,
    UUIDAsHex,
)

import domain
from domain.serialisable import ENUMS, VALUE_OBJECTS


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class EnumAsValue(Transcoding):
    """One transcoding per ``StrEnum``: stored as its value, named by its class."""

    def __init__(self, enum_cls: type[StrEnum]) -> None:
        self.type = enum_cls
        self.name = _enum_name(enum_cls)

    def encode(self, obj: StrEnum) -> str:
        return obj.value

    def decode(self, data: str) -> StrEnum:
        return self.type(data)


def tag_enums(value: Any) -> Any:
    """Mark enum members for the transcoder.

    A ``StrEnum`` member *is* a ``str``, so the JSON encoder writes it as a
    plain string and never asks a transcoding: it would come back as ``str``.
    Tagging it first keeps its class through a round trip.
    """
    if isinstance(value, StrEnum):
        return {"_type_": _enum_name(type(value)), "_data_": value.value}
    if isinstance(value, dict):
        return {k: tag_enums(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [tag_enums(v) for v in value]
    return value


def _enum_name(enum_cls: type[StrEnum]) -> str:
    return f"enum:{enum_cls.__module__}.{enum_cls.__qualname__}"


class LedgerTranscoder(JSONTranscoder):
    def encode(self, obj: Any) -> bytes:
        return super().encode(tag_enums(obj))


def _tuples(value: Any) -> Any:
    """JSON has no tuples; value objects use them, so lists come back as tuples."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


class ValueObjectAsDict(Transcoding):
    """One transcoding per frozen dataclass registered with ``@value_object``."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = f"vo:{cls.__module__}.{cls.__qualname__}"
        self._fields = [f.name for f in dataclasses.fields(cls)]

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: tag_enums(getattr(obj, name)) for name in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**{k: _tuples(v) for k, v in data.items()})


def load_domain_modules() -> None:
    """Import every domain module so that all value objects and enums are registered."""
    for info in pkgutil.walk_packages(domain.__path__, prefix="domain."):
        importlib.import_module(info.name)


def build_transcoder() -> JSONTranscoder:
    load_domain_modules()
    transcoder = LedgerTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    for enum_cls in ENUMS:
        transcoder.register(EnumAsValue(enum_cls))
    for vo_cls in VALUE_OBJECTS:
        transcoder.register(ValueObjectAsDict(vo_cls))
    from ledger.snapshots import ShapedAsDict

    transcoder.register(ShapedAsDict())
    return transcoder


@cache
def default_mapper() -> Mapper[UUID]:
    """The one mapper of the process; building it imports the whole domain once."""
    return Mapper(transcoder=build_transcoder())


__all__ = ["DateAsISO", "EnumAsValue", "ValueObjectAsDict", "build_transcoder", "default_mapper"]
