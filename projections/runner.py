"""Follow the global log and keep every projection's tables up to date.

Each projection applies a page of events and records its new position in one
transaction (``EventStore.tracking``), so every event is applied exactly once
(ARCHITECTURE.md decision 8). A projection that fails on an event stops at
that event, with a log entry naming it; it never skips it. Rebuild drops a
projection's tables and replays the log from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import structlog
from eventsourcing.persistence import Mapper

from ledger.store import EventStore, LogEntry

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Envelope:
    """An event with its place in the log: what projections receive."""

    entry: LogEntry
    event: Any

    @property
    def position(self) -> int:
        return self.entry.position

    @property
    def topic(self) -> str:
        return self.entry.topic


class Projection(Protocol):
    """A read model: its tables, how to create them and how to apply events.

    ``topics`` lets the runner skip decoding events the projection ignores;
    ``None`` means every event.
    """

    name: str
    tables: Sequence[str]
    topics: frozenset[str] | None

    async def create_tables(self, conn: asyncpg.Connection) -> None: ...

    async def apply(self, conn: asyncpg.Connection, events: Sequence[Envelope]) -> None: ...


class ProjectionFailed(RuntimeError):
    def __init__(self, name: str, position: int, topic: str, cause: BaseException) -> None:
        self.name, self.position, self.topic, self.cause = name, position, topic, cause
        super().__init__(f"projection {name!r} failed at position {position} ({topic}): {cause!r}")


@dataclass
class _State:
    position: int = 0
    failed: ProjectionFailed | None = None
    applied: int = 0


@dataclass
class ProjectionRunner:
    store: EventStore
    mapper: Mapper[UUID]
    projections: Sequence[Projection]
    page_size: int = 2000
    poll_interval: float = 1.0
    _states: dict[str, _State] = field(default_factory=dict)
    _advanced: asyncio.Condition = field(default_factory=asyncio.Condition)

    def projection(self, name: str) -> Projection:
        for p in self.projections:
            if p.name == name:
                return p
        raise KeyError(f"no projection named {name!r}; known: {[p.name for p in self.projections]}")

    async def setup(self) -> None:
        """Create tables that do not exist yet and load each projection's position."""
        async with self.store.pool.acquire() as conn:
            for p in self.projections:
                async with conn.transaction():
                    await p.create_tables(conn)
        for p in self.projections:
            self._states[p.name] = _State(position=await self.store.position_of(p.name))

    def position(self, name: str) -> int:
        return self._states[name].position

    def lowest_position(self) -> int:
        live = [s.position for s in self._states.values()]
        return min(live) if live else 0

    def failures(self) -> dict[str, ProjectionFailed]:
        return {n: s.failed for n, s in self._states.items() if s.failed is not None}

    def _decode(self, page: Sequence[LogEntry], wanted: set[str] | None) -> dict[int, Envelope]:
        decoded: dict[int, Envelope] = {}
        for entry in page:
            if wanted is None or entry.topic in wanted:
                decoded[entry.position] = Envelope(entry, self.mapper.to_domain_event(entry.stored_event()))
        return decoded

    async def _apply_page(self, page: Sequence[LogEntry]) -> None:
        """Apply one page of the log to every projection still behind it."""
        behind = [p for p in self.projections
                  if self._states[p.name].failed is None and self._states[p.name].position < page[-1].position]
        if not behind:
            return
        wanted: set[str] | None = set()
        for p in behind:
            if p.topics is None:
                wanted = None
                break
            assert wanted is not None
            wanted |= p.topics
        decoded = self._decode(page, wanted)
        for p in behind:
            state = self._states[p.name]
            mine = [decoded[e.position] for e in page
                    if e.position > state.position and (p.topics is None or e.topic in p.topics)]
            await self._apply_to(p, state, mine, page[-1].position)
        async with self._advanced:
            self._advanced.notify_all()

    async def _apply_to(self, p: Projection, state: _State, events: list[Envelope], to_position: int) -> None:
        try:
            async with self.store.tracking(p.name, state.position, to_position) as conn:
                await p.apply(conn, events)
        except Exception:
            # Find the event that fails: apply one at a time up to it, then stop there.
            for envelope in events:
                try:
                    async with self.store.tracking(p.name, state.position, envelope.position) as conn:
                        await p.apply(conn, [envelope])
                except Exception as exc:
                    state.failed = ProjectionFailed(p.name, envelope.position, envelope.topic, exc)
                    log.error("projection_stopped", projection=p.name, position=envelope.position,
                              topic=envelope.topic, stream_id=str(envelope.entry.stream_id),
                              error=repr(exc))
                    return
                state.position = envelope.position
                state.applied += 1
            # Every event applied alone: the page failed for a transient reason; retry later.
            raise
        state.position = to_position
        state.applied += len(events)

    async def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply everything up to the current head; return the head reached."""
        head = await self.store.head()
        after = self.lowest_position()
        while after < head:
            page = await self.store.read(after, self.page_size)
            if not page:
                break
            await self._apply_page(page)
            after = page[-1].position
            if progress is not None:
                progress(after, head)
        return head

    async def run_forever(self) -> None:
        """Follow the log, waking on NOTIFY (with a polling fallback)."""
        while True:
            try:
                async for page in self.store.follow(self.lowest_position(), batch=self.page_size,
                                                    poll_interval=self.poll_interval):
                    await self._apply_page(page)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database restarts, transient failures: back off, resume
                log.warning("projection_runner_retrying", error=repr(exc))
                await asyncio.sleep(self.poll_interval)

    async def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until every projection has applied ``position`` (read-your-writes)."""
        deadline = time.monotonic() + timeout
        async with self._advanced:
            while self.lowest_position() < position:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._advanced.wait(), left)
        return True

    async def rebuild(self, names: Sequence[str] | None = None,
                      progress: Callable[[int, int], None] | None = None) -> int:
        """Drop and recreate the named projections (all by default) and replay the log."""
        chosen = [self.projection(n) for n in names] if names else list(self.projections)
        async with self.store.pool.acquire() as conn, conn.transaction():
            for p in chosen:
                for table in p.tables:
                    await conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
                await p.create_tables(conn)
                await conn.execute("DELETE FROM tracking WHERE subscriber = $1", p.name)
        for p in chosen:
            self._states[p.name] = _State()
        runner = ProjectionRunner(self.store, self.mapper, chosen, page_size=self.page_size)
        runner._states = {p.name: self._states[p.name] for p in chosen}
        return await runner.catch_up(progress)
