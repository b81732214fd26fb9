"""A faster decoder for the read side: the same domain events, built with less Python.

``ledger.serialisation.default_mapper()`` decodes with eventsourcing's
``JSONTranscoder``: an ``object_hook`` that looks every typed dict up through
several method calls and builds each value object with its frozen-dataclass
``__init__`` (one ``object.__setattr__`` per field). A rebuild decodes every
event of the log, so that cost dominates it.

``fast_mapper()`` decodes the same bytes into equal objects of the same
types (the tests compare both on every event of a dataset): one hook with a
direct table from type name to constructor, enum members looked up by value,
and value objects built with ``object.__new__`` and a ``__dict__`` update,
which is exactly what their ``__init__`` would leave (the domain's value
objects are plain frozen dataclasses without ``__post_init__`` or slots;
``fast_mapper`` checks that and falls back to the class itself otherwise).
Encoding is unchanged (it is the write side's).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Mapper, Transcoding
from eventsourcing.utils import resolve_topic

from ledger.serialisation import EnumAsValue, ValueObjectAsDict, build_transcoder


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _value_object(cls: type) -> Callable[[dict[str, Any]], Any]:
    plain = (
        dataclasses.is_dataclass(cls)
        and not hasattr(cls, "__post_init__")
        and not hasattr(cls, "__slots__")
    )
    new = object.__new__
    if not plain:  # pragma: no cover - every domain value object is plain today
        return lambda data: cls(**{k: _tuples(v) for k, v in data.items()})
    fields = frozenset(f.name for f in dataclasses.fields(cls))
    setattr_ = object.__setattr__

    def build(data: dict[str, Any]) -> Any:
        if data.keys() != fields:  # an older or newer shape: let __init__ apply defaults or fail
            return cls(**{k: _tuples(v) for k, v in data.items()})
        obj: Any = new(cls)
        for key, value in data.items():
            if value.__class__ is list:
                data[key] = tuple(_tuples(v) for v in value)
        # The parsed dict is fresh and ours: it becomes the object's attributes as it is.
        setattr_(obj, "__dict__", data)
        return obj

    return build


def _constructor(transcoding: Transcoding) -> Callable[[Any], Any]:
    name = transcoding.name
    if name == "uuid_hex":
        return UUID
    if name == "decimal_str":
        return Decimal
    if name == "date_iso":
        return date.fromisoformat
    if name == "datetime_iso":
        return datetime.fromisoformat
    if isinstance(transcoding, EnumAsValue):
        members: dict[Any, Any] = transcoding.type._value2member_map_  # type: ignore[attr-defined]
        return members.__getitem__
    if isinstance(transcoding, ValueObjectAsDict):
        return _value_object(transcoding.type)
    return transcoding.decode


_ESCAPES = re.compile(
    r"(\\\\)"  # an escaped backslash: kept, so that "\\u0000" (a backslash, then text) stays text
    r"|(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"  # a surrogate pair: kept
    r"|\\u0000|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"  # NUL, or a lone surrogate
)


def scrub_unstorable(text: str) -> str:
    """JSON text with every escaped NUL and lone surrogate replaced by U+FFFD.

    The store refuses such payloads (``ledger/payload_guard.py``), but a log
    written before it may hold them, and PostgreSQL text cannot: a projection
    would stop on the event for good. Read as U+FFFD, the event is applied
    (the name shows the replacement character) and the log stays as written,
    so its hashes still verify.
    """
    return _ESCAPES.sub(lambda m: m.group(0) if m.lastindex else "\\ufffd", text)


class FastJSONTranscoder(JSONTranscoder):
    """``JSONTranscoder`` with the same encoding and a faster, equivalent decoding."""

    def __init__(self, base: JSONTranscoder) -> None:
        super().__init__()
        self._base = base
        for transcoding in base.names.values():
            self.register(transcoding)
        table = {name: _constructor(t) for name, t in self.names.items()}

        def hook(d: dict[str, Any]) -> Any:
            if len(d) == 2 and "_type_" in d and "_data_" in d:
                return table[d["_type_"]](d["_data_"])
            return d

        self._loads = json.JSONDecoder(object_hook=hook).decode

    def encode(self, obj: Any) -> bytes:
        return self._base.encode(obj)

    def decode(self, data: bytes) -> Any:
        return self._loads(data.decode("utf8"))


class FastMapper(Mapper[UUID]):
    """``Mapper`` with the fast transcoder, and ``decode_entry`` for the projection runner.

    ``decode_entry`` does what ``to_domain_event(entry.stored_event())`` does for
    the store's events (no cipher, no compressor, no class versions to upcast)
    without building the intermediate ``StoredEvent``; anything else takes the
    library's path.
    """

    def __init__(self, transcoder: FastJSONTranscoder) -> None:
        super().__init__(transcoder=transcoder)
        self._loads = transcoder._loads
        self._classes: dict[str, type] = {}

    def decode_entry(self, entry: Any) -> Any:
        cls = self._classes.get(entry.topic)
        if cls is None:
            resolved = resolve_topic(entry.topic)
            if getattr(resolved, "class_version", 1) != 1 or self.cipher or self.compressor:
                return self.to_domain_event(entry.stored_event())
            cls = self._classes[entry.topic] = resolved
        text = entry.state.decode("utf8")
        if "\\u" in text:  # rare: JSON escapes appear only for control characters and surrogates
            text = scrub_unstorable(text)
        state = self._loads(text)
        if "class_version" in state:
            return self.to_domain_event(entry.stored_event())
        state["originator_id"] = entry.stream_id
        state["originator_version"] = entry.version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event


@cache
def fast_mapper() -> FastMapper:
    """The read side's mapper: decodes like ``default_mapper()``, faster."""
    return FastMapper(FastJSONTranscoder(build_transcoder()))

