"""Unit of work: what one command loads, changes and writes, atomically.

In the cosmicpython style, a handler takes a command and a unit of work,
loads aggregates through it, calls their command methods and returns. The
bus commits: every pending event of every aggregate the handler touched,
plus the side writes it asked for (postings, idempotency record, snapshots),
go into one transaction of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

import asyncpg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from ledger.posting_rules import entries_for
from ledger.postings import EntryBatch, write_entries
from ledger.repository import AggregateNotFound, Repository
from ledger.store import Commit, Committed, EventStore, SideWrite, stream_uuid

A = TypeVar("A", bound=Aggregate)


class UnitOfWork:
    def __init__(self, store: EventStore, repository: Repository) -> None:
        self.store = store
        self.repository = repository
        self._seen: dict[UUID, Aggregate] = {}
        self._side_writes: list[SideWrite] = []

    async def get(self, cls: type[A], aggregate_id: UUID) -> A:
        """Load once per unit of work; later calls return the same object."""
        seen = self._seen.get(aggregate_id)
        if seen is not None:
            if not isinstance(seen, cls):
                raise AggregateNotFound(cls.__name__, aggregate_id)
            return seen
        aggregate = await self.repository.get(cls, aggregate_id)
        self._seen[aggregate_id] = aggregate
        return aggregate

    def add(self, aggregate: Aggregate) -> None:
        """Track a newly created aggregate so its events are committed."""
        self._seen[aggregate.id] = aggregate

    def also(self, side_write: SideWrite) -> None:
        """Write these rows in the same transaction as the events."""
        self._side_writes.append(side_write)

    @property
    def aggregates(self) -> list[Aggregate]:
        return list(self._seen.values())

    def pending_events(self) -> list[object]:
        return [e for a in self._seen.values() for e in a.pending_events]

    async def commit(self) -> Committed:
        """Write every pending event with its journal entries, in one transaction."""
        mapper = self.repository.mapper
        stored: list[StoredEvent] = []
        journal = EntryBatch()
        side_writes = list(self._side_writes)
        for aggregate in self._seen.values():
            events = aggregate.collect_events()
            if not events:
                continue
            for event in events:
                journal.add(len(stored), entries_for(aggregate, event))
                stored.append(mapper.to_stored_event(event))
            if self.repository.snapshot_due(aggregate, events[0].originator_version):
                snapshot = mapper.to_stored_event(self.repository.take_snapshot(aggregate))
                side_writes.append(EventStore.snapshot_write(snapshot))
        if journal.entries:
            stream_ids = [stream_uuid(e) for e in stored]

            async def post(conn: asyncpg.Connection, positions: Sequence[int]) -> None:
                await write_entries(conn, *journal.rows(positions, stream_ids))

            side_writes.insert(0, post)
        return await self.store.append(Commit(stored, side_writes))
