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
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import structlog
from eventsourcing.persistence import Mapper

from ledger.connectivity import is_connection_failure
from ledger.store import EventStore, LogEntry, TrackingConflict

log = structlog.get_logger(__name__)

MAX_RETRY_SECONDS = 5.0
"""The longest wait between two attempts to follow the log while the database is away."""


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
    @property
    def tables(self) -> Sequence[str]: ...

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
    last_rebuild_workers: list[Any] = field(default_factory=list)

    def projection(self, name: str) -> Projection:
        for p in self.projections:
            if p.name == name:
                return p
        raise KeyError(f"no projection named {name!r}; known: {[p.name for p in self.projections]}")

    async def setup(self) -> None:
        """Create tables that do not exist yet and load each projection's position.

        A projection whose table definitions changed since its tables were built
        (see ``TableProjection.fingerprint``) is rebuilt from the log first.
        """
        stale: list[str] = []
        async with self.store.pool.acquire() as conn:
            for p in self.projections:
                async with conn.transaction():
                    fingerprint = _fingerprint(p)
                    stored = await conn.fetchval(
                        "SELECT fingerprint FROM projection_schemas WHERE projection = $1", p.name)
                    applied = await conn.fetchval(
                        "SELECT position FROM tracking WHERE subscriber = $1", p.name)
                    if fingerprint is not None and stored != fingerprint and (stored or applied):
                        stale.append(p.name)  # built by another release: rebuilt below
                        continue
                    await p.create_tables(conn)
                    await _record_fingerprint(conn, p)
        for p in self.projections:
            self._states[p.name] = _State(position=await self.store.position_of(p.name))
        if stale:
            log.warning("projection_schema_changed", projections=stale,
                        action="rebuilding from the log", log_head=await self.store.head())
            await self.rebuild(stale)

    def position(self, name: str) -> int:
        return self._states[name].position

    def lowest_position(self) -> int:
        live = [s.position for s in self._states.values()]
        return min(live) if live else 0

    def failures(self) -> dict[str, ProjectionFailed]:
        return {n: s.failed for n, s in self._states.items() if s.failed is not None}

    def _decode(self, page: Sequence[LogEntry], wanted: set[str] | None) -> dict[int, Envelope]:
        decoded: dict[int, Envelope] = {}
        # A mapper may decode log entries directly (projections.decoding.FastMapper).
        decode_entry = getattr(self.mapper, "decode_entry", None)
        for entry in page:
            if wanted is None or entry.topic in wanted:
                event = (decode_entry(entry) if decode_entry is not None
                         else self.mapper.to_domain_event(entry.stored_event()))
                decoded[entry.position] = Envelope(entry, event)
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
        work = []
        for p in behind:
            state = self._states[p.name]
            mine = [decoded[e.position] for e in page
                    if e.position > state.position and (p.topics is None or e.topic in p.topics)]
            work.append(self._apply_to(p, state, mine, page[-1].position))
        # Projections are independent (own tables, own position): apply them side by side
        # on their own connections, so one's database round trips overlap another's Python.
        outcomes = await asyncio.gather(*work, return_exceptions=True)
        async with self._advanced:
            self._advanced.notify_all()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _apply_to(self, p: Projection, state: _State, events: list[Envelope], to_position: int) -> None:
        try:
            async with self.store.tracking(p.name, state.position, to_position) as conn:
                await p.apply(conn, events)
        except TrackingConflict as conflict:
            # Another runner (another process) moved this projection first. Nothing was
            # written here; take its position and let the caller read on from there.
            log.info("projection_moved_elsewhere", projection=p.name, ours=state.position,
                     theirs=conflict.actual)
            state.position = conflict.actual
            raise
        except Exception as page_error:
            if is_connection_failure(page_error):
                raise  # the database went away: nothing was applied; the caller retries when it is back
            # Find the event that fails: apply one at a time up to it, then stop there.
            for envelope in events:
                try:
                    async with self.store.tracking(p.name, state.position, envelope.position) as conn:
                        await p.apply(conn, [envelope])
                except Exception as exc:
                    if is_connection_failure(exc):
                        raise  # an outage is not a failing event: never stop a projection for it
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

    async def _read(self, after: int, limit: int) -> list[LogEntry]:
        """``EventStore.read`` without the per-column copies (asyncpg already gives bytes)."""
        rows = await self.store.pool.fetch(
            "SELECT position, stream_id, version, topic, state, recorded_at, prev_hash, hash "
            "FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after, limit,
        )
        return [LogEntry(*row) for row in rows]

    async def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply everything up to the current head; return the head reached."""
        head = await self.store.head()
        after = self.lowest_position()
        ahead = asyncio.ensure_future(self._read(after, self.page_size)) if after < head else None
        try:
            while ahead is not None:
                page = await ahead
                ahead = None
                if not page:
                    break
                after = page[-1].position
                if after < head:
                    ahead = asyncio.ensure_future(self._read(after, self.page_size))
                await self._apply_page(page)
                if progress is not None:
                    progress(after, head)
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead
        return head

    async def _hand_out(self, page: Sequence[LogEntry],
                        queues: dict[str, asyncio.Queue[tuple[list[Envelope], int] | None]],
                        workers: Sequence[asyncio.Task[None]]) -> None:
        end = page[-1].position
        wanted: set[str] | None = set()
        takers = [p for p in self.projections if self._states[p.name].failed is None]
        for p in takers:
            if p.topics is None:
                wanted = None
                break
            assert wanted is not None
            wanted |= p.topics
        decoded = self._decode(page, wanted)
        for p in takers:
            mine = [decoded[e.position] for e in page if p.topics is None or e.topic in p.topics]
            await self._put(queues[p.name], (mine, end), workers)

    @staticmethod
    async def _put(queue: asyncio.Queue[Any], item: Any, workers: Sequence[asyncio.Task[None]]) -> None:
        """Put, waiting for room, unless a worker dies meanwhile: then raise its error."""
        put = asyncio.ensure_future(queue.put(item))
        try:
            while not put.done():
                running = {w for w in workers if not w.done()}
                await asyncio.wait({put, *running}, return_when=asyncio.FIRST_COMPLETED)
                for worker in workers:
                    if worker.done() and not worker.cancelled() and worker.exception() is not None:
                        raise worker.exception()  # type: ignore[misc]
        finally:
            if not put.done():
                put.cancel()

    async def _consume(self, p: Projection,
                       queue: asyncio.Queue[tuple[list[Envelope], int] | None]) -> None:
        state = self._states[p.name]
        while True:
            item = await queue.get()
            if item is None:
                return
            events, end = item
            if state.failed is not None or state.position >= end:
                continue
            mine = [e for e in events if e.position > state.position]
            await self._apply_to(p, state, mine, end)
            async with self._advanced:
                self._advanced.notify_all()

    async def run_forever(self) -> None:
        """Follow the log, waking on NOTIFY (with a polling fallback).

        A failure to read or apply (the database restarting) is retried with a
        backoff doubling from ``poll_interval`` up to ``MAX_RETRY_SECONDS``;
        following resumes at the positions the projections recorded.
        """
        failures, last_failure = 0, 0.0
        while True:
            try:
                async for page in self.store.follow(self.lowest_position(), batch=self.page_size,
                                                    poll_interval=self.poll_interval):
                    await self._apply_page(page)
                    if failures:
                        log.info("projection_runner_recovered", after_failures=failures,
                                 position=self.lowest_position())
                        failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database restarts, transient failures: back off, resume
                if time.monotonic() - last_failure > 60:  # an outage long ago: start the backoff afresh
                    failures = 0
                failures, last_failure = failures + 1, time.monotonic()
                delay = min(self.poll_interval * 2 ** min(failures - 1, 8), MAX_RETRY_SECONDS)
                log.warning("projection_runner_retrying", error=repr(exc)[:300], attempt=failures,
                            retry_in_s=round(delay, 2))
                await asyncio.sleep(delay)

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

    def start_at(self, name: str, position: int) -> None:
        """Follow ``name`` from ``position`` (its tracked position, read by the caller)."""
        self._states[name] = _State(position=position)

    async def rebuild(self, names: Sequence[str] | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      jobs: int = 1) -> int:
        """Drop and recreate the named projections (all by default) and replay the log.

        With ``jobs`` > 1 and projections of the registry, the replay runs in up
        to ``jobs`` worker processes (projections/parallel.py); the tables are the
        same either way.
        """
        chosen = [self.projection(n) for n in names] if names else list(self.projections)
        async with self.store.pool.acquire() as conn, conn.transaction():
            for p in chosen:
                for table in p.tables:
                    await conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
                await p.create_tables(conn)
                # A projection may leave its secondary indexes out while it replays the
                # log (bulk writes are faster without them); create_tables restores them.
                drop_indexes = getattr(p, "drop_indexes", None)
                if drop_indexes is not None:
                    await drop_indexes(conn)
                await conn.execute("DELETE FROM tracking WHERE subscriber = $1", p.name)
                await _record_fingerprint(conn, p)
        for p in chosen:
            self._states[p.name] = _State()
        if jobs > 1 and len(chosen) > 1 and _from_registry(chosen):
            head = await self._replay_in_workers(chosen, progress, jobs)
        else:
            runner = ProjectionRunner(self.store, self.mapper, chosen, page_size=self.page_size)
            runner._states = {p.name: self._states[p.name] for p in chosen}
            with batch_gc():
                head = await runner.catch_up(progress)
        async with self.store.pool.acquire() as conn:
            for p in chosen:
                if getattr(p, "drop_indexes", None) is not None:
                    async with conn.transaction():
                        await p.create_tables(conn)
                if p.tables:
                    await conn.execute(f"ANALYZE {', '.join(p.tables)}")
        return head

    async def _replay_in_workers(self, chosen: Sequence[Projection],
                                 progress: Callable[[int, int], None] | None, jobs: int) -> int:
        from projections.parallel import catch_up_in_workers, plan

        groups = plan({p.name: float(getattr(p, "rebuild_cost", 1.0)) for p in chosen}, jobs)
        head = await self.store.head()
        log.info("rebuild_in_workers", groups=[list(g) for g in groups], log_head=head)
        results = await catch_up_in_workers(self.store.dsn, groups, self.page_size, head, progress)
        self.last_rebuild_workers = results
        for result in results:
            for name in result.names:
                state = self._states[name] = _State(position=await self.store.position_of(name))
                failed = result.failures.get(name)
                if failed is not None:
                    position, topic, error = failed
                    state.failed = ProjectionFailed(name, position, topic, RuntimeError(error))
        return min(r.head for r in results)


def _from_registry(chosen: Sequence[Projection]) -> bool:
    """Whether worker processes can build the same projections by name (registry.all_projections)."""
    from projections.registry import all_projections

    known = {p.name: type(p) for p in all_projections()}
    return all(known.get(p.name) is type(p) for p in chosen)


def _fingerprint(p: Projection) -> str | None:
    make = getattr(p, "fingerprint", None)
    return make() if callable(make) else None


async def _record_fingerprint(conn: asyncpg.Connection, p: Projection) -> None:
    fingerprint = _fingerprint(p)
    if fingerprint is not None:
        await conn.execute(
            "INSERT INTO projection_schemas (projection, fingerprint) VALUES ($1, $2) "
            "ON CONFLICT (projection) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, recorded_at = now() "
            "WHERE projection_schemas.fingerprint <> EXCLUDED.fingerprint",
            p.name, fingerprint)


@contextlib.contextmanager
def batch_gc() -> Iterator[None]:
    """Fewer cyclic-GC passes while a rebuild streams the log.

    A replay allocates millions of short-lived objects; with the default
    thresholds the collector keeps rescanning everything the process holds
    (a third of a rebuild's time, measured). Objects alive before the rebuild
    are frozen out of the scans and collections run every 100,000 allocations
    instead of 700; both are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
