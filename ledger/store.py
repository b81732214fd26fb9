"""The async event store on PostgreSQL (ARCHITECTURE.md decisions 2, 3 and 10).

Writes go through a *group commit*: commands queue their events, one flusher
task per store takes everything queued and writes it in one transaction that
holds the row lock on ``log_head``. The lock orders commits across processes,
so positions are contiguous and a reader that sees position ``n`` has already
seen everything below it; batching many commands per transaction pays one
fsync for all of them, which is where the throughput comes from
(docs/decisions/0002-global-order-by-group-commit.md).

Each command gets a savepoint of its own when the fast path (one insert for
the whole batch) fails, so a conflict fails only the command that caused it.

Two guards keep the log sound whatever a command does:

* ``append`` refuses an event whose state the database or the read side cannot
  hold (rule ``payload_storable``, ``ledger/payload_guard.py``) before
  anything is queued;
* a commit may carry the versions of streams its command *read* (``reads``):
  it then conflicts if any of them moved on, or came into being, since the
  read, even one the command does not write. That is how a write stays based
  on exactly the version an ``If-Match`` check compared (docs/api.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

import asyncpg
import structlog
from eventsourcing.persistence import StoredEvent

from domain.ledger_rules import PAYLOAD_STORABLE, STREAM_VERSION_IS_CURRENT
from ledger import connectivity
from ledger.payload_guard import check_state, check_text

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "ttledger_log"
GENESIS_HASH = bytes(32)

SideWrite = Callable[[asyncpg.Connection, Sequence[int]], Awaitable[None]]


@dataclass(frozen=True)
class BatchedWrite:
    """A side write of rows that the store merges with the same kind of rows of every other commit
    in the flush: one statement for them all, where a ``SideWrite`` per commit costs a round trip
    each (the journal, the postings and the idempotency keys of 48 commits: 144 round trips).

    ``sql`` takes one array per column (``INSERT ... SELECT * FROM unnest($1::t[], ...)``);
    ``rows`` gives this commit's rows once its positions are known. Statements run in ``order``
    (journal entries before the postings that reference them), after the events.
    """

    order: int
    sql: str
    rows: Callable[[Sequence[int]], Sequence[tuple[object, ...]]]
"""Extra rows a command writes in its own transaction (postings, idempotency
records, snapshots). It receives the positions given to the command's events."""


class StoreError(Exception):
    """Base of the store's errors."""


class ConcurrencyConflict(StoreError):
    """Rule ``stream_version_is_current``: a command appended to a stream that moved on.

    Nothing of the command was written; reload and decide again.
    """

    rule = STREAM_VERSION_IS_CURRENT

    def __init__(self, stream_id: UUID, expected_version: int, actual_version: int) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"stream {stream_id} is at version {actual_version}, "
            f"the command expected version {expected_version}"
        )


class UnstorablePayload(StoreError):
    """Rule ``payload_storable``: an event holds what the database or the read side cannot hold.

    Raised before anything of the command is queued, so nothing is written.
    ``field`` is the path of the offending value inside the event's state
    (empty when the state as a whole is at fault); ``reason`` never quotes it.
    """

    rule = PAYLOAD_STORABLE

    def __init__(self, topic: str, field: str, reason: str, *, stream_id: UUID | None = None,
                 version: int | None = None) -> None:
        self.topic = topic
        self.field = field
        self.reason = reason
        self.stream_id = stream_id
        self.version = version
        where = f" in {field}" if field else ""
        super().__init__(f"event {topic} cannot be stored: {reason}{where}")

    @property
    def event_name(self) -> str:
        """The event's class name (``Institution.Renamed``), without its module."""
        return self.topic.rpartition(":")[2]


class DuplicateKey(StoreError):
    """A side write hit a unique constraint other than the stream version (e.g. an
    idempotency key recorded concurrently). ``constraint`` names it."""

    def __init__(self, constraint: str | None, detail: str | None) -> None:
        self.constraint = constraint
        super().__init__(f"unique constraint {constraint} violated: {detail}")


class TrackingConflict(StoreError):
    """A subscriber tried to record a position it does not hold (applied twice or skipped)."""

    def __init__(self, subscriber: str, expected: int, actual: int) -> None:
        self.subscriber = subscriber
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"subscriber {subscriber!r} is at position {actual}, not {expected}"
        )


@dataclass(frozen=True)
class Commit:
    """Everything one command writes, atomically."""

    events: Sequence[StoredEvent]
    side_writes: Sequence[SideWrite | BatchedWrite] = ()
    metadata: bytes | None = None
    """Who recorded it (``ledger.actor.Actor.metadata()``): stored with each of its events and hashed."""
    actor_id: UUID | None = None
    """The actor's id, stored beside the metadata for filtering."""
    reads: Mapping[UUID, int] = field(default_factory=lambda: _NO_READS)
    """Streams the command read, with the version each had (0: it did not exist).

    The commit conflicts (``ConcurrencyConflict``) unless each is still at that
    version when the command's turn comes in the flush; a stream the command
    also writes must be at the version its first new event follows.
    """


_NO_READS: Mapping[UUID, int] = MappingProxyType({})


@dataclass(frozen=True)
class Committed:
    """The outcome of a commit: the global positions of its events."""

    positions: tuple[int, ...]
    head: int
    """The log head after the transaction that carried this commit."""

    @property
    def last_position(self) -> int:
        return self.positions[-1] if self.positions else self.head


@dataclass(frozen=True)
class LogEntry:
    """One event as it stands in the global log, with its hash-chain fields."""

    position: int
    stream_id: UUID
    version: int
    topic: str
    state: bytes
    recorded_at: datetime
    prev_hash: bytes
    hash: bytes
    metadata: bytes | None = None
    """Who recorded it (``ledger.actor``); ``None`` for an event from before actors were recorded."""

    def stored_event(self) -> StoredEvent:
        return StoredEvent(
            originator_id=self.stream_id,
            originator_version=self.version,
            topic=self.topic,
            state=self.state,
        )


def stream_uuid(event: StoredEvent) -> UUID:
    """Streams are keyed by UUID; eventsourcing allows str ids, which we accept if UUID-shaped."""
    oid = event.originator_id
    return oid if isinstance(oid, UUID) else UUID(str(oid))


def chain_hash(prev_hash: bytes, position: int, stream_id: UUID, version: int, topic: str, state: bytes,
               metadata: bytes | None = None) -> bytes:
    """The tamper-evidence hash of one event (decision 10).

    Covers the event's place (position, stream, version), its content (topic,
    state), who recorded it (``metadata``, when there is any) and its
    predecessor's hash, so altering, deleting or reordering any event, or
    changing or removing its actor, breaks the chain from there on. An event
    without metadata (recorded before actors were) hashes as it always did.
    """
    digest = hashlib.sha256()
    digest.update(prev_hash)
    digest.update(position.to_bytes(8, "big"))
    digest.update(stream_id.bytes)
    digest.update(version.to_bytes(8, "big"))
    digest.update(topic.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(state)
    if metadata is not None:
        # Length-prefixed after a marker no state can make ambiguous: the state is hashed whole before.
        digest.update(b"\x00metadata\x00")
        digest.update(len(metadata).to_bytes(8, "big"))
        digest.update(metadata)
    return digest.digest()


_LOG_COLUMNS = "position, stream_id, version, topic, state, recorded_at, prev_hash, hash, metadata"
_INSERT_EVENTS = (
    "INSERT INTO events (position, stream_id, version, topic, state, prev_hash, hash, metadata, actor_id) "
    "SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::text[], $5::bytea[], "
    "$6::bytea[], $7::bytea[], $8::bytea[], $9::uuid[])"
)


@dataclass
class _Pending:
    commit: Commit
    future: asyncio.Future[Committed]


@dataclass
class _Chain:
    """Position and hash of the log's end while a flush builds rows."""

    position: int
    hash: bytes
    rows: list[tuple[int, UUID, int, str, bytes, bytes, bytes, bytes | None, UUID | None]] = field(
        default_factory=list)

    def extend(self, commit: Commit) -> tuple[int, ...]:
        positions = []
        metadata, actor_id = commit.metadata, commit.actor_id
        for event in commit.events:
            self.position += 1
            stream_id = stream_uuid(event)
            new_hash = chain_hash(
                self.hash, self.position, stream_id, event.originator_version, event.topic, event.state, metadata
            )
            self.rows.append(
                (self.position, stream_id, event.originator_version, event.topic,
                 event.state, self.hash, new_hash, metadata, actor_id)
            )
            self.hash = new_hash
            positions.append(self.position)
        return tuple(positions)



class EventStore:
    """Append, load and read events; track subscribers. One per process."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, *, max_batch: int = 256) -> None:
        self._pool = pool
        self._dsn = dsn
        self._max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self.appended_events = 0  # for metrics

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 2, max_size: int = 10, **kw: int) -> EventStore:
        # connectivity.connect: a server that cannot be reached raises DatabaseUnavailable (503).
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, reset=_keep_session,
                                         connect=connectivity.connect)
        assert pool is not None
        return cls(pool, dsn, **kw)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @property
    def dsn(self) -> str:
        return self._dsn

    async def close(self) -> None:
        self._closed = True
        if self._flusher is not None:
            self._wakeup.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self._pool.close()

    # ---- writing -------------------------------------------------------

    async def append(self, commit: Commit) -> Committed:
        """Write one command's events and side writes atomically; wait for the commit.

        Raises ``ConcurrencyConflict`` if a stream moved on, ``DuplicateKey`` if a
        side write collided; in both cases nothing of this command is written.
        """
        if self._closed:
            raise StoreError("the event store is closed")
        for event in commit.events:
            refuse_unstorable(event)
        future: asyncio.Future[Committed] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(commit, future))
        self._wakeup.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_forever(), name="ttledger-group-commit")
        return await future

    async def _flush_forever(self) -> None:
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
            try:
                await self._flush(batch)
            except Exception as exc:  # the transaction as a whole failed: nobody is acknowledged
                log.warning("group_commit_failed", commands=len(batch), error=str(exc))
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)

    async def _flush(self, batch: list[_Pending]) -> None:
        async with self._pool.acquire() as conn:
            try:
                # Fast path: the whole batch in one transaction with no savepoints.
                outcomes, chain, start = await self._transaction(conn, batch, isolate=False)
            except Exception as exc:
                if len(batch) == 1 or connectivity.is_connection_failure(exc) or _is_closed(conn):
                    raise
                # Something in the batch failed: redo it with a savepoint per command,
                # so a conflict fails only the command that caused it.
                outcomes, chain, start = await self._transaction(conn, batch, isolate=True)
            # Answer before the connection goes back to the pool: asyncpg's reset
            # query on release would otherwise add a round trip to every command.
            self.appended_events += chain.position - start
            for pending, outcome in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(Committed(outcome, chain.position))

    async def _transaction(
        self, conn: asyncpg.Connection, batch: list[_Pending], *, isolate: bool
    ) -> tuple[list[tuple[int, ...] | BaseException], _Chain, int]:
        async with conn.transaction():
            head = await conn.fetchrow("SELECT position, hash FROM log_head FOR UPDATE")
            chain = _Chain(head["position"], bytes(head["hash"]))
            outcomes: list[tuple[int, ...] | BaseException]
            if isolate:
                outcomes = await self._write_isolated(conn, chain, batch)
            else:
                outcomes = list(await self._write_all(conn, chain, [p.commit for p in batch]))
            if chain.position != head["position"]:
                # Head and wake-up in one round trip; NOTIFY is delivered at commit.
                await conn.execute(
                    "WITH moved AS (UPDATE log_head SET position = $1, hash = $2 RETURNING position) "
                    "SELECT pg_notify($3, position::text) FROM moved",
                    chain.position, chain.hash, NOTIFY_CHANNEL,
                )
        return outcomes, chain, head["position"]

    async def _write_all(self, conn: asyncpg.Connection, chain: _Chain, commits: list[Commit]) -> list[tuple[int, ...]]:
        """One insert for every event of ``commits``, then their side writes in order."""
        if any(c.reads for c in commits):
            await _check_reads(conn, commits)
        start = len(chain.rows)
        per_command = [chain.extend(c) for c in commits]
        try:
            if len(chain.rows) > start:
                await conn.execute(_INSERT_EVENTS, *_columns(chain.rows[start:]))
            batched: dict[tuple[int, str], list[tuple[object, ...]]] = {}
            for commit, positions in zip(commits, per_command, strict=True):
                for side_write in commit.side_writes:
                    if isinstance(side_write, BatchedWrite):
                        batched.setdefault((side_write.order, side_write.sql), []).extend(side_write.rows(positions))
                    else:
                        await side_write(conn, positions)
            for (_, sql), rows in sorted(batched.items(), key=lambda item: item[0][0]):
                if rows:
                    await conn.execute(sql, *[list(column) for column in zip(*rows, strict=True)])
        except asyncpg.UniqueViolationError as exc:
            if len(commits) == 1:
                raise await self._explain_violation(commits[0], exc) from exc
            raise
        return per_command

    async def _write_isolated(
        self, conn: asyncpg.Connection, chain: _Chain, batch: list[_Pending]
    ) -> list[tuple[int, ...] | BaseException]:
        outcomes: list[tuple[int, ...] | BaseException] = []
        for pending in batch:
            saved_position, saved_hash, saved_rows = chain.position, chain.hash, len(chain.rows)
            try:
                async with conn.transaction():
                    outcomes.append((await self._write_all(conn, chain, [pending.commit]))[0])
            except Exception as exc:
                if _is_closed(conn):
                    raise
                chain.position, chain.hash = saved_position, saved_hash
                del chain.rows[saved_rows:]
                outcomes.append(exc)
        return outcomes

    async def _explain_violation(self, commit: Commit, exc: asyncpg.UniqueViolationError) -> StoreError:
        if exc.constraint_name != "events_stream_version_unique":
            return DuplicateKey(exc.constraint_name, exc.detail)
        # Which stream moved on? Compare each stream's first new version with its head.
        # The failed statement aborted the transaction (or savepoint), so ask on a
        # fresh connection: committed rows are what the caller must reload anyway.
        firsts: dict[UUID, int] = {}
        for event in commit.events:
            firsts.setdefault(stream_uuid(event), event.originator_version)
        async with self._pool.acquire() as other:
            rows = await other.fetch(
                "SELECT stream_id, max(version) AS v FROM events WHERE stream_id = ANY($1::uuid[]) "
                "GROUP BY stream_id",
                list(firsts),
            )
        actual = {r["stream_id"]: r["v"] for r in rows}
        for stream_id, first in firsts.items():
            if actual.get(stream_id, 0) != first - 1:
                return ConcurrencyConflict(stream_id, first - 1, actual.get(stream_id, 0))
        # Two commands of the same batch raced for one stream: the earlier one is
        # not committed yet, so the database shows the old head.
        stream_id, first = next(iter(firsts.items()))
        return ConcurrencyConflict(stream_id, first - 1, first)

    # ---- reading -------------------------------------------------------

    async def load(
        self, stream_id: UUID, *, after_version: int = 0, up_to_version: int | None = None
    ) -> list[StoredEvent]:
        """The stream's events in version order, after ``after_version``."""
        rows = await self._pool.fetch(
            "SELECT version, topic, state FROM events WHERE stream_id = $1 AND version > $2 "
            "AND ($3::bigint IS NULL OR version <= $3) ORDER BY version",
            stream_id, after_version, up_to_version,
        )
        return [StoredEvent(stream_id, r["version"], r["topic"], bytes(r["state"])) for r in rows]

    async def read(self, after: int = 0, limit: int = 1000) -> list[LogEntry]:
        """Up to ``limit`` events of the global log after position ``after``, in order."""
        rows = await self._pool.fetch(
            f"SELECT {_LOG_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after, limit,
        )
        return [_entry(r) for r in rows]

    async def head(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        return int(await self._pool.fetchval("SELECT position FROM log_head"))

    async def follow(
        self, after: int = 0, *, batch: int = 1000, poll_interval: float = 1.0
    ) -> AsyncIterator[list[LogEntry]]:
        """Yield pages of the log after ``after`` for ever, waking on NOTIFY.

        Polls every ``poll_interval`` seconds as well, so a lost notification
        (or a server restart) only delays a reader, never stalls it.
        """
        async with LogWakeups(self._dsn) as wakeups:
            while True:
                page = await self.read(after, batch)
                if page:
                    after = page[-1].position
                    yield page
                    continue
                await wakeups.wait(poll_interval)

    # ---- snapshots -----------------------------------------------------

    @staticmethod
    def snapshot_write(snapshot: StoredEvent) -> SideWrite:
        async def write(conn: asyncpg.Connection, _: Sequence[int]) -> None:
            await conn.execute(
                "INSERT INTO snapshots (stream_id, version, topic, state) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT DO NOTHING",
                snapshot.originator_id, snapshot.originator_version, snapshot.topic, snapshot.state,
            )

        return write

    async def latest_snapshot(self, stream_id: UUID, *, up_to_version: int | None = None) -> StoredEvent | None:
        row = await self._pool.fetchrow(
            "SELECT version, topic, state FROM snapshots WHERE stream_id = $1 "
            "AND ($2::bigint IS NULL OR version <= $2) ORDER BY version DESC LIMIT 1",
            stream_id, up_to_version,
        )
        if row is None:
            return None
        return StoredEvent(stream_id, row["version"], row["topic"], bytes(row["state"]))

    # ---- tracking ------------------------------------------------------

    async def position_of(self, subscriber: str) -> int:
        value = await self._pool.fetchval("SELECT position FROM tracking WHERE subscriber = $1", subscriber)
        return int(value or 0)

    @contextlib.asynccontextmanager
    async def tracking(self, subscriber: str, from_position: int, to_position: int) -> AsyncIterator[asyncpg.Connection]:
        """A transaction in which a subscriber applies events ``(from, to]``.

        The subscriber's own writes and its new position commit together, so
        each event is applied exactly once; a subscriber not at ``from_position``
        gets ``TrackingConflict`` and writes nothing.
        """
        if to_position < from_position:
            raise ValueError("a subscriber's position never goes back")
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO tracking (subscriber, position) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                subscriber,
            )
            current = await conn.fetchval(
                "SELECT position FROM tracking WHERE subscriber = $1 FOR UPDATE", subscriber
            )
            if current != from_position:
                raise TrackingConflict(subscriber, from_position, current)
            yield conn
            await conn.execute(
                "UPDATE tracking SET position = $2, updated_at = now() WHERE subscriber = $1",
                subscriber, to_position,
            )


def refuse_unstorable(event: StoredEvent) -> None:
    """Raise ``UnstorablePayload`` if the event's topic or state cannot be stored (rule ``payload_storable``)."""
    finding = check_state(event.state)
    if finding is None:
        reason = check_text(event.topic)
        if reason is None:
            return
        field_, why = "", f"its topic: {reason}"
    else:
        field_, why = finding.field, finding.reason
    raise UnstorablePayload(event.topic, field_, why, stream_id=stream_uuid(event),
                            version=event.originator_version)


async def _check_reads(conn: asyncpg.Connection, commits: Sequence[Commit]) -> None:
    """Raise ``ConcurrencyConflict`` if a stream a command read moved on since it read it.

    Runs inside the flush transaction, which holds the ``log_head`` lock: every
    other writer's commit is either visible or waiting. Within a batch (one
    insert for all its commands, after this check), a command also sees the
    events of the commands queued before it, which come earlier in the log.
    """
    ids = list({stream_id for c in commits for stream_id in c.reads})
    rows = await conn.fetch(
        "SELECT stream_id, max(version) AS v FROM events WHERE stream_id = ANY($1::uuid[]) "
        "GROUP BY stream_id",
        ids,
    )
    current: dict[UUID, int] = {r["stream_id"]: r["v"] for r in rows}
    for commit in commits:
        for stream_id, version in commit.reads.items():
            actual = current.get(stream_id, 0)
            if actual != version:
                raise ConcurrencyConflict(stream_id, version, actual)
        for event in commit.events:
            stream_id = stream_uuid(event)
            current[stream_id] = max(current.get(stream_id, 0), event.originator_version)


def _is_closed(conn: asyncpg.Connection) -> bool:
    """Whether the server closed this connection (a pooled one it closed is detached: asking raises)."""
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # "connection has been released back to the pool"
        return True


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset without the reset query: a connection goes back to the pool as it is.

    asyncpg's default reset sends ``RESET ALL; UNLISTEN *; CLOSE ALL;
    pg_advisory_unlock_all()`` on every release, one more round trip for every
    pooled query (measured: a tenth of the API server's time under load).
    Nothing here leaves session state behind on a pooled connection: settings
    are ``SET LOCAL``, LISTEN runs on dedicated connections, the migration's
    advisory lock is released in ``finally``. asyncpg still rolls back an
    open transaction before calling this.
    """


def _columns(rows: list[tuple[int, UUID, int, str, bytes, bytes, bytes, bytes | None, UUID | None]]) -> list[
        list[object]]:
    return [list(col) for col in zip(*rows, strict=True)]


def _entry(row: asyncpg.Record) -> LogEntry:
    return LogEntry(
        position=row["position"],
        stream_id=row["stream_id"],
        version=row["version"],
        topic=row["topic"],
        state=bytes(row["state"]),
        recorded_at=row["recorded_at"],
        prev_hash=bytes(row["prev_hash"]),
        hash=bytes(row["hash"]),
        metadata=None if row["metadata"] is None else bytes(row["metadata"]),
    )


class LogWakeups:
    """LISTEN on the log's channel over a dedicated connection.

    ``wait(timeout)`` returns when a commit is notified or the timeout passes.
    If the connection drops, waits degrade to plain polling and it reconnects.
    """

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._event = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> LogWakeups:
        await self._connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def _connect(self) -> None:
        try:
            self._conn = await asyncpg.connect(self._dsn)
            await self._conn.add_listener(NOTIFY_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("log_listen_unavailable", error=str(exc))
            self._conn = None

    def _notified(self, *_: object) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        if self._conn is None or self._conn.is_closed():
            await self._connect()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()
