"""Follow the global log and keep every projection's tables up to date.

Each projection applies a page of events and records its new position in one
transaction (``EventStore.tracking``), so every event is applied exactly once
(ARCHITECTURE.md decision 8). A projection that fails on an event stops at
that event, with a log entry naming it; it never skips it, and the other
projections go on. Rebuild drops a projection's tables and replays the log from
the start.

A stopped projection comes back by itself once it can go on: while following
the log (``run_forever``) the runner looks at the tracked position of every
projection it keeps off the log, every ``recheck_interval`` seconds. A
projection rebuilt by another process (``ttledger rebuild NAME``, which holds
an advisory lock while it replays) is resumed from the position that rebuild
reached, once the rebuild is over and has gone past the failing event. While
another process rebuilds a projection, this runner stays off it.
docs/reliability.md ("When a projection stops") tells the whole story.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
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
    """A projection stopped on the event at ``position``; it applied everything before it.

    ``error`` (the exception's class name) and ``message`` (its first line, with
    quoted text blanked out: it may quote the event's content) are what the API
    shows; ``cause`` itself, which may hold personal data, goes to the log only.
    """

    def __init__(self, name: str, position: int, topic: str, cause: BaseException, *,
                 error: str | None = None, message: str | None = None) -> None:
        self.name, self.position, self.topic, self.cause = name, position, topic, cause
        self.error = error or type(cause).__name__
        self.message = short_message(str(cause)) if message is None else message
        super().__init__(f"projection {name!r} failed at position {position} ({topic}): {cause!r}")

    @classmethod
    def reported(cls, name: str, position: int, topic: str, error: str) -> ProjectionFailed:
        """From a worker process's report, ``repr(cause)`` (projections/parallel.py)."""
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_.]*)\((.*)$", error, re.DOTALL)  # the repr may be cut short
        if match is None:
            return cls(name, position, topic, RuntimeError(error), error="Exception", message=short_message(error))
        text = match[2].removesuffix(")")
        with contextlib.suppress(ValueError, SyntaxError):
            literal = ast.literal_eval(text)  # Class('message'): the message itself
            if isinstance(literal, str):
                text = literal
        return cls(name, position, topic, RuntimeError(error), error=match[1].rsplit(".", 1)[-1],
                   message=short_message(text))


_KEPT_QUOTE = re.compile(r"^['\"][A-Z0-9_]{2,12}['\"]$")  # an encoding or type name: "UTF8"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
MESSAGE_LENGTH = 160


def short_message(text: str) -> str:
    """The first line of an error's text, shortened, its quoted values replaced by ``'…'``.

    Database and Python errors quote the value they choked on (``invalid input
    syntax for type uuid: "…"``, ``KeyError: '…'``); that value comes from an
    event and may be a person's name, so it never leaves the log. Everything
    from the first quote mark to the last of its kind goes (an apostrophe
    cannot unbalance it), but for a lone upper-case word such as ``"UTF8"``.
    """
    first = _CONTROL.sub(" ", text.strip().split("\n", 1)[0]).strip()
    spans: list[tuple[int, int]] = []
    for mark in "'\"":
        start, end = first.find(mark), first.rfind(mark)
        if start != -1:
            spans.append((start, len(first) if end == start else end + 1))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    parts, at = [], 0
    for start, end in merged:
        quoted = first[start:end]
        parts += [first[at:start], quoted if _KEPT_QUOTE.match(quoted) else "'…'"]
        at = end
    shown = ("".join(parts) + first[at:]).strip()
    return shown if len(shown) <= MESSAGE_LENGTH else shown[: MESSAGE_LENGTH - 1] + "…"


REBUILD_LOCK_CLASS = 0x74746C72
"""First key of the advisory lock a rebuild holds per projection (the second is ``hashtext(name)``)."""


class RebuildInProgress(RuntimeError):
    """Another process is rebuilding this projection (it holds the rebuild lock)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"projection {name!r} is being rebuilt by another process; wait for it to finish")


@dataclass
class _State:
    position: int = 0
    failed: ProjectionFailed | None = None
    applied: int = 0
    rebuilding: bool = False
    """Another process is rebuilding the projection: this runner stays off it meanwhile."""

    @property
    def live(self) -> bool:
        return self.failed is None and not self.rebuilding


@dataclass
class ProjectionRunner:
    store: EventStore
    mapper: Mapper[UUID]
    projections: Sequence[Projection]
    page_size: int = 2000
    poll_interval: float = 1.0
    recheck_interval: float = 2.0
    """Seconds between looks at the tracked positions of projections kept off the log."""
    _states: dict[str, _State] = field(default_factory=dict)
    _advanced: asyncio.Condition = field(default_factory=asyncio.Condition)
    last_rebuild_workers: list[Any] = field(default_factory=list)
    _following: bool = False
    _rechecked: float = 0.0
    _outages: int = 0

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
        rebuilding = await self._rebuilding_elsewhere([p.name for p in self.projections])
        for p in self.projections:
            self._states[p.name] = _State(position=await self.store.position_of(p.name),
                                          rebuilding=p.name in rebuilding)
        if rebuilding:
            log.warning("projection_rebuilding_elsewhere", projections=sorted(rebuilding),
                        action="kept off the log until that rebuild is over")
        if stale:
            log.warning("projection_schema_changed", projections=stale,
                        action="rebuilding from the log", log_head=await self.store.head())
            await self.rebuild(stale)

    def position(self, name: str) -> int:
        return self._states[name].position

    def lowest_position(self, names: Iterable[str] | None = None) -> int:
        """The lowest position of the named projections (all by default), stopped ones included."""
        if names is None:
            positions = [s.position for s in self._states.values()]
        else:
            positions = [self._states[n].position for n in names if n in self._states]
        return min(positions) if positions else 0

    def failures(self) -> dict[str, ProjectionFailed]:
        return {n: s.failed for n, s in self._states.items() if s.failed is not None}

    def rebuilding(self) -> frozenset[str]:
        """Projections another process is rebuilding (this runner keeps off them meanwhile)."""
        return frozenset(n for n, s in self._states.items() if s.rebuilding)

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
                  if self._states[p.name].live and self._states[p.name].position < page[-1].position]
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
            if self._following and await self._rebuilding_elsewhere([p.name]):
                # ``ttledger rebuild`` runs: keep off until it is over (see _recheck).
                state.rebuilding = True
                log.warning("projection_rebuilding_elsewhere", projections=[p.name],
                            action="kept off the log until that rebuild is over")
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
                    await self._advance_to(p.name, state, envelope.position - 1)
                    log.error("projection_stopped", projection=p.name, position=envelope.position,
                              applied_up_to=state.position, topic=envelope.topic,
                              stream_id=str(envelope.entry.stream_id), error_class=type(exc).__name__,
                              error=repr(exc))
                    return
                state.position = envelope.position
                state.applied += 1
            # Every event applied alone: the page failed for a transient reason; retry later.
            raise
        state.position = to_position
        state.applied += len(events)

    async def _advance_to(self, name: str, state: _State, position: int) -> None:
        """Record ``position`` for a projection whose events up to it are all applied.

        A projection that stops on an event has applied every event before it;
        the events between its last own event and the failing one are none of
        its business. Saying so makes its position (and what its answers say they
        reflect) exactly "everything before the failing event". Best effort: if
        this fails, the position stays at the last event it applied.
        """
        if position <= state.position:
            return
        try:
            async with self.store.tracking(name, state.position, position):
                pass
        except Exception as exc:
            log.info("projection_position_not_advanced", projection=name, error=repr(exc)[:200])
            return
        state.position = position

    async def _read(self, after: int, limit: int) -> list[LogEntry]:
        """``EventStore.read`` without the per-column copies (asyncpg already gives bytes)."""
        rows = await self.store.pool.fetch(
            "SELECT position, stream_id, version, topic, state, recorded_at, prev_hash, hash, metadata "
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
        takers = [p for p in self.projections if self._states[p.name].live]
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
            if not state.live or state.position >= end:
                continue
            mine = [e for e in events if e.position > state.position]
            await self._apply_to(p, state, mine, end)
            async with self._advanced:
                self._advanced.notify_all()

    async def run_forever(self) -> None:
        """Follow the log, waking on NOTIFY (with a polling fallback).

        A failure to read or apply (the database restarting) is retried with a
        backoff doubling from ``poll_interval`` up to ``MAX_RETRY_SECONDS``;
        following resumes at the positions the projections recorded. A stopped
        projection, or one another process rebuilds, is looked at every
        ``recheck_interval`` seconds and resumed when it can go on (``recheck``).
        """
        last_failure = 0.0
        self._following, self._outages = True, 0
        try:
            while True:
                try:
                    await self._follow()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database restarts, transient failures: back off, resume
                    if time.monotonic() - last_failure > 60:  # an outage long ago: start the backoff afresh
                        self._outages = 0
                    self._outages, last_failure = self._outages + 1, time.monotonic()
                    delay = min(self.poll_interval * 2 ** min(self._outages - 1, 8), MAX_RETRY_SECONDS)
                    log.warning("projection_runner_retrying", error=repr(exc)[:300], attempt=self._outages,
                                retry_in_s=round(delay, 2))
                    await asyncio.sleep(delay)
        finally:
            self._following = False

    async def _follow(self) -> None:
        """Apply pages of the log as they come, until a kept-off projection can go on again.

        Returns then, so that the caller follows again from the lowest position,
        which is the resumed projection's.
        """
        pages = self.store.follow(self.lowest_position(), batch=self.page_size,
                                  poll_interval=self.poll_interval)
        try:
            while True:
                upcoming = asyncio.ensure_future(anext(pages))
                try:
                    while not upcoming.done():
                        wait = self._recheck_in()
                        await asyncio.wait({upcoming}, timeout=wait)
                        if not upcoming.done() and await self.recheck():
                            return  # the page being read is left unread: the next follow reads it
                finally:
                    if not upcoming.done():
                        upcoming.cancel()
                        with contextlib.suppress(BaseException):
                            await upcoming
                await self._apply_page(upcoming.result())
                if self._outages:
                    log.info("projection_runner_recovered", after_failures=self._outages,
                             position=self.lowest_position())
                    self._outages = 0
                if self._recheck_in() == 0 and await self.recheck():
                    return
        finally:
            close = getattr(pages, "aclose", None)  # an async generator: leaves its LISTEN connection
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    def _recheck_in(self) -> float | None:
        """Seconds until the next look at kept-off projections; ``None`` while there are none."""
        if all(s.live for s in self._states.values()):
            return None
        return max(0.0, self._rechecked + self.recheck_interval - time.monotonic())

    async def recheck(self) -> list[str]:
        """Resume each kept-off projection that can go on; return their names.

        * one another process was rebuilding, once that rebuild is over: from
          the position it reached (its tracked position);
        * a stopped one, once its tracked position has gone past the event it
          stopped on: ``ttledger rebuild NAME`` in another process applied that
          event with fixed code. While that rebuild runs, its position follows
          the tracked one (what its tables hold), and it stays stopped.

        A stopped projection whose tracked position did not move stays stopped;
        after a restart, it stops again on the same event.
        """
        self._rechecked = time.monotonic()
        kept_off = [n for n, s in self._states.items() if not s.live]
        if not kept_off:
            return []
        rows = await self.store.pool.fetch(
            "SELECT subscriber, position FROM tracking WHERE subscriber = ANY($1::text[])", kept_off)
        tracked = {r["subscriber"]: int(r["position"]) for r in rows}
        busy = await self._rebuilding_elsewhere(kept_off)
        resumed = []
        for name in kept_off:
            state, position = self._states[name], tracked.get(name, 0)
            if name in busy:
                if not state.rebuilding:
                    log.warning("projection_rebuilding_elsewhere", projections=[name],
                                action="kept off the log until that rebuild is over")
                state.rebuilding, state.position = True, position
                continue
            failed = state.failed
            if failed is not None and position < failed.position:
                state.rebuilding, state.position = False, position
                continue
            state.failed, state.rebuilding, state.position = None, False, position
            resumed.append(name)
            log.info("projection_resumed", projection=name, position=position,
                     failed_at=failed.position if failed is not None else None)
        if resumed:
            async with self._advanced:
                self._advanced.notify_all()
        return resumed

    async def _rebuilding_elsewhere(self, names: Sequence[str]) -> set[str]:
        """Which of ``names`` another session is rebuilding (it holds their rebuild lock)."""
        if not names:
            return set()
        async with self.store.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT n.name, pg_try_advisory_xact_lock($1, hashtext(n.name)) AS free "
                "FROM unnest($2::text[]) AS n(name)", REBUILD_LOCK_CLASS, list(names))
        return {r["name"] for r in rows if not r["free"]}

    async def wait_for(self, position: int, timeout: float, names: Iterable[str] | None = None) -> bool:
        """Wait until the named projections (all by default) have applied ``position`` (read-your-writes)."""
        deadline = time.monotonic() + timeout
        chosen = None if names is None else tuple(names)
        async with self._advanced:
            while self.lowest_position(chosen) < position:
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
        async with self._rebuild_lock([p.name for p in chosen]):
            return await self._rebuild(chosen, progress, jobs)

    @contextlib.asynccontextmanager
    async def _rebuild_lock(self, names: Sequence[str]) -> AsyncIterator[None]:
        """Hold the rebuild lock of each projection while it is rebuilt (``RebuildInProgress`` if taken).

        A runner following the log in another process (``ttledger serve``)
        sees the lock and keeps off the projection until it is released.
        """
        # A connection of its own: closing it releases the locks, whatever happened.
        conn = await asyncpg.connect(self.store.dsn)
        try:
            for name in names:
                if not await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))",
                                           REBUILD_LOCK_CLASS, name):
                    raise RebuildInProgress(name)
            yield
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _rebuild(self, chosen: Sequence[Projection], progress: Callable[[int, int], None] | None,
                       jobs: int) -> int:
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
        await self._restore_indexes(chosen)
        return head

    async def _restore_indexes(self, chosen: Sequence[Projection]) -> None:
        """Build the indexes a rebuild left out, then ANALYZE: on two connections at once.

        The builds are CPU-bound and independent (two builds on one table share its lock), so
        while one connection sorts a trigram GIN index the other builds the btrees; the
        largest go first. Each build sorts in memory (``maintenance_work_mem``).
        """
        statements: list[str] = []
        for p in chosen:
            if getattr(p, "drop_indexes", None) is not None:
                specs = getattr(p, "specs", ())
                statements += [ddl for spec in specs for ddl in spec.index_ddl()]
        statements.sort(key=lambda ddl: ("gin_trgm_ops" not in ddl, "USING gin" not in ddl))
        tables = [t for p in chosen for t in p.tables]
        queue: asyncio.Queue[str] = asyncio.Queue()
        for statement in statements:
            queue.put_nowait(statement)

        async def build() -> None:
            async with self.store.pool.acquire() as conn:
                while not queue.empty():
                    statement = queue.get_nowait()
                    async with conn.transaction():
                        await conn.execute("SET LOCAL maintenance_work_mem = '192MB'")
                        await conn.execute(statement)

        await asyncio.gather(*(build() for _ in range(min(INDEX_BUILDERS, max(len(statements), 1)))))
        # Restore anything else create_tables makes (indexes of projections without specs).
        async with self.store.pool.acquire() as conn:
            for p in chosen:
                if getattr(p, "drop_indexes", None) is not None:
                    await p.create_tables(conn)
        analysed: asyncio.Queue[str] = asyncio.Queue()
        for table in tables:
            analysed.put_nowait(table)

        async def analyse() -> None:
            async with self.store.pool.acquire() as conn:
                while not analysed.empty():
                    await conn.execute(f'ANALYZE "{analysed.get_nowait()}"')

        await asyncio.gather(*(analyse() for _ in range(min(INDEX_BUILDERS, max(len(tables), 1)))))

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
                    state.failed = ProjectionFailed.reported(name, position, topic, error)
        return min(r.head for r in results)


INDEX_BUILDERS = 2
"""Connections building indexes after a rebuild (the machines this runs on have 2 cores or more)."""


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
