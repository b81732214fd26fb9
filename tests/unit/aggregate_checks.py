"""Assertions shared by the aggregate unit tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from domain.errors import DomainError, Rule
from domain.serialisable import ENUMS, VALUE_OBJECTS
from ledger.serialisation import default_mapper

A = TypeVar("A", bound=Aggregate)


def rejected(
    aggregate: Aggregate | None, broken: Rule, field: str, command: Callable[[], object]
) -> DomainError:
    """``command`` breaks exactly ``broken`` at ``field`` and records nothing."""
    version = aggregate.version if aggregate is not None else None
    pending = len(aggregate.pending_events) if aggregate is not None else None
    with pytest.raises(DomainError) as raised:
        command()
    assert raised.value.rule is broken, raised.value
    assert raised.value.field == field, raised.value
    if aggregate is not None:
        assert aggregate.version == version
        assert len(aggregate.pending_events) == pending
    return raised.value


def replay(aggregate: A) -> A:
    """Rebuild ``aggregate`` from its pending events (collecting them).

    The events are replayed twice: as they are, and after a round trip through
    the store's mapper and transcoder; both copies must agree.
    """
    mapper = default_mapper()
    copy: Any = None
    stored_copy: Any = None
    for recorded in aggregate.collect_events():
        assert_storable(recorded)
        copy = recorded.mutate(copy)
        decoded = mapper.to_domain_event(mapper.to_stored_event(recorded))
        assert decoded == recorded
        stored_copy = decoded.mutate(stored_copy)
    assert copy is not None
    assert stored_copy == copy
    from tests.unit.contract_support import assert_snapshot_restores

    assert_snapshot_restores(copy)
    return copy  # type: ignore[no-any-return]


def assert_storable(value: object, *, in_value_object: bool = False) -> None:
    """Only the types the store can transcode appear in an event (domain/serialisable.py)."""
    if value is None or isinstance(value, str | int | bool | Decimal | date | datetime | UUID):
        if isinstance(value, StrEnum):
            assert type(value) in ENUMS, f"unregistered enum {type(value).__name__}"
        return
    if isinstance(value, list) or (in_value_object and isinstance(value, tuple)):
        for item in value:
            assert_storable(item, in_value_object=in_value_object)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            assert_storable(item, in_value_object=in_value_object)
        return
    if is_dataclass(value) and type(value) in VALUE_OBJECTS:
        for f in fields(value):
            assert_storable(getattr(value, f.name), in_value_object=True)
        return
    if hasattr(value, "originator_id"):  # the event itself
        for item in vars(value).values():
            assert_storable(item)
        return
    raise AssertionError(f"not storable in an event: {value!r}")
