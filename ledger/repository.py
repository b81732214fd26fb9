"""Load aggregates from the store: latest snapshot, then the events after it."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import Mapper

from ledger.snapshots import ShapedSnapshot
from ledger.store import EventStore

A = TypeVar("A", bound=Aggregate)


class AggregateNotFound(LookupError):
    """No stream with that id, or it holds another kind of aggregate."""

    def __init__(self, kind: str, aggregate_id: UUID) -> None:
        self.kind = kind
        self.aggregate_id = aggregate_id
        super().__init__(f"{kind} {aggregate_id} not found")


class Repository:
    def __init__(self, store: EventStore, mapper: Mapper[UUID], *, snapshot_interval: int = 100) -> None:
        self.store = store
        self.mapper = mapper
        self.snapshot_interval = snapshot_interval

    async def get(self, cls: type[A], aggregate_id: UUID, *, version: int | None = None) -> A:
        """The aggregate as of ``version`` (latest when ``None``)."""
        aggregate = await self.load(aggregate_id, version=version)
        if aggregate is None or not isinstance(aggregate, cls):
            raise AggregateNotFound(cls.__name__, aggregate_id)
        return aggregate

    async def load(self, aggregate_id: UUID, *, version: int | None = None) -> Aggregate | None:
        """The aggregate of whatever class the stream holds, or ``None`` when the stream is empty."""
        aggregate: Aggregate | None = None
        after = 0
        if self.snapshot_interval:
            snapshot = await self.store.latest_snapshot(aggregate_id, up_to_version=version)
            restorer = self.mapper.to_domain_event(snapshot) if snapshot is not None else None
            # A snapshot of an older shape than its class declares is ignored (ledger/snapshots.py).
            if snapshot is not None and getattr(restorer, "is_current", lambda: True)():
                aggregate = restorer.mutate(None)  # type: ignore[union-attr]
                after = snapshot.originator_version
        for stored in await self.store.load(aggregate_id, after_version=after, up_to_version=version):
            aggregate = self.mapper.to_domain_event(stored).mutate(aggregate)  # type: ignore[attr-defined]
        return aggregate

    def snapshot_due(self, aggregate: Aggregate, first_new_version: int) -> bool:
        """True when this commit crosses a multiple of the snapshot interval."""
        if not self.snapshot_interval:
            return False
        interval = self.snapshot_interval
        return aggregate.version // interval > (first_new_version - 1) // interval

    def take_snapshot(self, aggregate: Aggregate) -> Snapshot:
        return ShapedSnapshot.take(aggregate)
