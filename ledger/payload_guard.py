"""What the store refuses to write: payloads the database or the read side cannot hold.

Rule ``payload_storable`` (issue 21, defence in depth). Inputs are checked at
the edge (``domain/inputs.py``), but the log must stay readable whatever a
future command puts in an event, because one poisoned event stops every
projection that reads it. An event's state (the JSON bytes of the
transcoder) is refused when it holds

* a NUL character (U+0000), raw or escaped as ``\\u0000``: PostgreSQL
  ``text`` and ``jsonb`` cannot store it;
* a lone surrogate (``\\ud800``–``\\udfff`` not forming a pair), or bytes
  that are not UTF-8, or anything else that is not JSON;
* an integer outside the signed 64-bit range (projections keep amounts in
  ``bigint`` columns);
* a number that is not finite (``NaN``, ``Infinity``, or a literal such as
  ``1e999`` that overflows a float).

The append path is benchmarked (``bench/append.py``), so the check is a fast
scan of the bytes for anything *suspect* (a ``\\u`` escape, a control byte, a
run of 19 digits, ``NaN``/``Infinity``, a three-digit positive exponent,
non-UTF-8 bytes), about a microsecond for a typical event; only a suspect
event is decoded and walked, to tell a real finding (with the field's path)
from a harmless look-alike such as an escaped backslash followed by ``u0000``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_CONTROL = bytes(range(32))
_DIGIT = b"0"
_MARK = 0


def _table(marked: bytes, *, digits: bool) -> bytes:
    """A ``bytes.translate`` table: ``marked`` bytes → NUL; with ``digits``, digits → ``0`` and ``E``, ``+`` → ``e``."""
    table = bytearray(range(256))  # only byte 0, itself marked, maps to 0 unless marked
    for byte in marked:
        table[byte] = _MARK
    if digits:
        for byte in b"0123456789":
            table[byte] = _DIGIT[0]
        table[ord("E")] = table[ord("+")] = ord("e")
    return bytes(table)


# One pass marks every byte that may start trouble (control bytes, a backslash for \u escapes,
# N and I for NaN and Infinity) and folds numbers, so that a few substring tests find the rest.
_SCAN = _table(_CONTROL + b"\\NI", digits=True)
_CONTROL_ONLY = _table(_CONTROL, digits=False)
_LONG_NUMBER = _DIGIT * 19  # 2**63 has 19 digits: anything shorter fits in a bigint
_BIG_EXPONENT = b"e000"  # e+309, E309, ...: overflows a float


@dataclass(frozen=True)
class Finding:
    """Why a payload cannot be stored, and where (``owners[1].name``; empty for the whole state)."""

    field: str
    reason: str


def is_suspect(state: bytes) -> bool:
    """A cheap test that is true for every unstorable state (and for a few harmless ones)."""
    if not state.isascii():
        try:
            state.decode("utf-8")
        except UnicodeDecodeError:
            return True
    scanned = state.translate(_SCAN)
    if _LONG_NUMBER in scanned or _BIG_EXPONENT in scanned:
        return True
    if b"\x00" not in scanned:
        return False
    # A marked byte: a backslash (an escaped quote is harmless), N or I (CNY is harmless), or a control byte.
    return (
        b"\\u" in state or b"NaN" in state or b"Infinity" in state
        or b"\x00" in state.translate(_CONTROL_ONLY)
    )


def check_state(state: bytes) -> Finding | None:
    """The reason ``state`` (an event's JSON bytes) cannot be stored, or ``None``."""
    if not is_suspect(state):
        return None
    try:
        text = state.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Finding("", f"the stored form is not UTF-8 (byte {exc.start})")
    try:
        decoded = json.loads(text)
    except ValueError:
        return Finding("", "the stored form is not JSON")
    return find_in_value(decoded)


def check_text(text: str) -> str | None:
    """Why a string cannot be stored in PostgreSQL ``text``, or ``None``."""
    if text.isascii():
        return "it holds a NUL character (U+0000)" if "\x00" in text else None
    if "\x00" in text:
        return "it holds a NUL character (U+0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"it holds a lone surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start}"
    return None


def find_in_value(value: Any, path: str = "") -> Finding | None:
    """The first unstorable value in a decoded payload or an event's attributes, with its path.

    Walks dicts (keys too), lists, tuples and dataclasses; a transcoding's
    ``{"_type_": ..., "_data_": ...}`` wrapper adds nothing to the path.
    """
    if isinstance(value, str):
        reason = check_text(value)
        return Finding(path, reason) if reason else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return None
        return Finding(path, "an integer outside the signed 64-bit range")
    if isinstance(value, float):
        return None if math.isfinite(value) else Finding(path, "a number that is not finite")
    if isinstance(value, Mapping):
        if set(value) == {"_type_", "_data_"}:
            return find_in_value(value["_type_"], path) or find_in_value(value["_data_"], path)
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (reason := check_text(key)):
                return Finding(where, f"a key: {reason}")
            found = find_in_value(item, where)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_in_value(item, f"{path}[{index}]")
            if found:
                return found
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return find_in_value({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, path)
    return None


__all__ = ["INT64_MAX", "INT64_MIN", "Finding", "check_state", "check_text", "find_in_value", "is_suspect"]
