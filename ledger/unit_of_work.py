"""Unit of work: what one command loads, changes and writes, atomically.

In the cosmicpython style, a handler takes a command and a unit of work,
loads aggregates through it, calls their command methods and returns. The
bus commits: every pending event of every aggregate the handler touched,
plus the side writes it asked for (postings, idempotency record, snapshots),
go into one transaction of the store.

What a unit of work read, it remembers, misses included: a record read as
absent stays absent for the rest of the command (unless the command itself
creates it), so a check and the handler after it decide on the same state.
A command whose caller compared a version (``If-Match``, see
:meth:`UnitOfWork.expect_version`) commits only if nothing it read has
moved on since: every stream it read, found or absent, is sent to the store
with the version it had, and the store refuses the commit
(``ConcurrencyConflict``) if any of them changed or came into being.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from ledger.actor import current_actor
from ledger.payload_guard import find_in_value
from ledger.posting_rules import entries_for
from ledger.postings import INSERT_ENTRIES, INSERT_POSTINGS, EntryBatch
from ledger.repository import AggregateNotFound, Repository
from ledger.store import (
    BatchedWrite,
    Commit,
    Committed,
    ConcurrencyConflict,
    EventStore,
    SideWrite,
    UnstorablePayload,
    stream_uuid,
)

A = TypeVar("A", bound=Aggregate)


class UnitOfWork:
    def __init__(self, store: EventStore, repository: Repository) -> None:
        self.store = store
        self.repository = repository
        self._seen: dict[UUID, Aggregate] = {}
        self._absent: set[UUID] = set()
        self._read: dict[UUID, int] = {}
        """The version of each stream when this unit of work first read it (0: absent)."""
        self._side_writes: list[SideWrite | BatchedWrite] = []
        self.conditional = False
        """True once a caller pinned a version (:meth:`expect_version`): the commit checks every read."""

    async def get(self, cls: type[A], aggregate_id: UUID) -> A:
        """Load once per unit of work; later calls return the same object.

        A miss is remembered too: asking again for a record read as absent raises
        ``AggregateNotFound`` without reading the store, even if another command
        has created it meanwhile (until this unit of work ``add``s it itself).
        """
        seen = self._seen.get(aggregate_id)
        if seen is None:
            if aggregate_id in self._absent:
                raise AggregateNotFound(cls.__name__, aggregate_id)
            seen = await self.repository.load(aggregate_id)
            if seen is None:
                self._absent.add(aggregate_id)
                self._read.setdefault(aggregate_id, 0)
                raise AggregateNotFound(cls.__name__, aggregate_id)
            self._seen[aggregate_id] = seen
            self._read.setdefault(aggregate_id, seen.version)
        if not isinstance(seen, cls):
            raise AggregateNotFound(cls.__name__, aggregate_id)
        return seen

    def add(self, aggregate: Aggregate) -> None:
        """Track a newly created aggregate so its events are committed."""
        self._absent.discard(aggregate.id)
        self._seen[aggregate.id] = aggregate

    def expect_version(self, stream_id: UUID, version: int) -> None:
        """Condition the commit on ``stream_id`` being at ``version`` (0: absent), as a caller checked.

        From then on the commit is *conditional*: it conflicts
        (``ConcurrencyConflict``, HTTP 409) if that stream or any other stream this
        unit of work read, found or absent, before or after this call, has moved on
        or come into being by the time it is written. Call it right after comparing
        ``If-Match`` with a version read through this unit of work.
        """
        read = self._read.setdefault(stream_id, version)
        if read != version:
            raise ConcurrencyConflict(stream_id, version, read)
        self.conditional = True

    @property
    def reads(self) -> dict[UUID, int]:
        """Every stream read so far, with the version it had when first read (0: absent)."""
        return dict(self._read)

    def also(self, side_write: SideWrite | BatchedWrite) -> None:
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
                stored.append(_to_stored(mapper, event))
            if self.repository.snapshot_due(aggregate, events[0].originator_version):
                snapshot = mapper.to_stored_event(self.repository.take_snapshot(aggregate))
                side_writes.append(EventStore.snapshot_write(snapshot))
        if journal.entries:
            stream_ids = [stream_uuid(e) for e in stored]
            rows: dict[str, Any] = {}

            def entry_rows(positions: Sequence[int]) -> Sequence[tuple[object, ...]]:
                rows["entries"], rows["postings"] = journal.rows(positions, stream_ids)
                return rows["entries"]

            # Merged with the other commits' rows of the same flush: one statement each (ledger/store.py).
            side_writes.insert(0, BatchedWrite(0, INSERT_ENTRIES, entry_rows))
            side_writes.insert(1, BatchedWrite(1, INSERT_POSTINGS, lambda _: rows["postings"]))
        reads = self.reads if self.conditional else {}
        actor = current_actor.get()
        return await self.store.append(Commit(stored, side_writes, actor.metadata(), actor.id, reads))


def _to_stored(mapper: Mapper[UUID], event: Any) -> StoredEvent:
    """The stored form of ``event``; one the transcoder cannot encode is ``UnstorablePayload``.

    The JSON transcoder writes UTF-8, so a lone surrogate in a string fails here,
    before the store's own check (``ledger/payload_guard.py``) could see it.
    """
    try:
        return mapper.to_stored_event(event)
    except UnicodeEncodeError:
        state = {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version")}
        finding = find_in_value(state)
        raise UnstorablePayload(
            get_topic(type(event)), finding.field if finding else "",
            finding.reason if finding else "it holds text that is not valid Unicode",
            stream_id=event.originator_id, version=event.originator_version,
        ) from None
