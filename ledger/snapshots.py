"""Snapshots that keep the shape of an aggregate's state through JSON.

eventsourcing's ``Snapshot`` stores ``vars(aggregate)`` as it is. Our
aggregates hold tuples, frozensets, dicts keyed by UUID and small mutable
state objects (a contract's ``Settlement``), none of which JSON keeps. So the
state is wrapped in ``Shaped`` markers on the way in and unwrapped on the way
out: a snapshot restores an aggregate equal to the one it was taken from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Transcoding
from eventsourcing.utils import get_topic, resolve_topic

from domain.serialisable import VALUE_OBJECTS


@dataclass(frozen=True)
class Shaped:
    """A value JSON cannot carry as it is: ``kind`` says how to rebuild ``items``."""

    kind: str  # tuple | set | frozenset | items | state:<topic>
    items: Any


class ShapedAsDict(Transcoding):
    type = Shaped
    name = "shaped"

    def encode(self, obj: Shaped) -> dict[str, Any]:
        from ledger.serialisation import tag_enums

        return {"kind": obj.kind, "items": tag_enums(obj.items)}

    def decode(self, data: dict[str, Any]) -> Shaped:
        return Shaped(data["kind"], data["items"])


def wrap(value: Any) -> Any:
    if isinstance(value, tuple):
        return Shaped("tuple", [wrap(v) for v in value])
    if isinstance(value, frozenset | set):
        return Shaped(type(value).__name__, [wrap(v) for v in value])
    if isinstance(value, list):
        return [wrap(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: wrap(v) for k, v in value.items()}
        return Shaped("items", [[wrap(k), wrap(v)] for k, v in value.items()])
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and type(value) not in VALUE_OBJECTS:
        fields = {f.name: wrap(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return Shaped("state:" + get_topic(type(value)), fields)
    return value


def unwrap(value: Any) -> Any:
    if isinstance(value, Shaped):
        if value.kind == "tuple":
            return tuple(unwrap(v) for v in value.items)
        if value.kind == "set":
            return {unwrap(v) for v in value.items}
        if value.kind == "frozenset":
            return frozenset(unwrap(v) for v in value.items)
        if value.kind == "items":
            return {unwrap(k): unwrap(v) for k, v in value.items}
        cls = resolve_topic(value.kind.removeprefix("state:"))
        return cls(**{k: unwrap(v) for k, v in value.items.items()})
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


# An aggregate class may declare ``snapshot_shape`` (an int, 1 when absent) and raise it when
# replaying its events starts to give state an older snapshot cannot hold (e.g. a receipt
# derived from an event recorded before receipts of that kind existed). A snapshot records
# the shape it was taken with; the repository ignores a snapshot of an older shape and
# replays the stream instead, and the next snapshot taken has the new shape.
SHAPE_KEY = "_snapshot_shape"


def shape_of(cls: type) -> int:
    return int(getattr(cls, "snapshot_shape", 1))


class ShapedSnapshot(Snapshot):
    """A snapshot whose state survives the JSON transcoder unchanged in shape."""

    @classmethod
    def take(cls, aggregate: Any) -> ShapedSnapshot:
        plain = Snapshot.take(aggregate)
        state = {k: wrap(v) for k, v in plain.state.items()}
        if shape_of(type(aggregate)) > 1:
            state[SHAPE_KEY] = shape_of(type(aggregate))
        return cls(
            originator_id=plain.originator_id,
            originator_version=plain.originator_version,
            timestamp=plain.timestamp,
            topic=plain.topic,
            state=state,
        )

    def is_current(self) -> bool:
        """False when the aggregate's class has a newer ``snapshot_shape`` than this snapshot."""
        return int(self.state.get(SHAPE_KEY, 1)) >= shape_of(resolve_topic(self.topic))

    def mutate(self, _: None) -> Any:
        restored = Snapshot(
            originator_id=self.originator_id,
            originator_version=self.originator_version,
            timestamp=self.timestamp,
            topic=self.topic,
            state={k: unwrap(v) for k, v in self.state.items() if k != SHAPE_KEY},
        )
        return restored.mutate(None)
