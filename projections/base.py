"""Building blocks of the statistics projections: table specs and page-at-a-time row caches.

Every projection here applies a page of events the same way, which is what
makes a rebuild fast and equal to incremental application:

1. look at the page and collect the keys of every row it may touch;
2. load those rows with one ``SELECT ... WHERE key = ANY($1)`` per table;
3. apply the events in log order to the rows in memory (plain dicts);
4. write the changed rows back with one ``INSERT ... SELECT FROM unnest(...)
   ON CONFLICT DO UPDATE`` per table, and append-only rows with one ``COPY``.

The result depends only on the events and their order, never on where the
page boundaries fall, so applying the log one event at a time, page by page
or in a rebuild gives identical tables (ARCHITECTURE.md decision 8).

Versioned tables (``TableSpec(versioned=True)``) also keep what the ledger knew
when (bitemporal ``known_at``). Each row carries ``known_from``, the log position
of the event that gave it its current values; each version it had before is in
``<name>_history`` with ``known_to``, the position of the event that replaced
it. The table as known at position P is ``known_as_of_sql``'s union of both.
Versions are per event, whatever the page: ``TableProjection.apply`` hands the
projection its events in a sequence that notes, as the projection's loop moves
from one event to the next, which event is being applied (``_PageVersions``);
the ``Rows`` of a versioned table compare each row an event touched with the
copy taken when it was loaded or when the last event that touched it ended,
and close the old version when they differ. So history tables too are
identical whether the log is applied one event at a time, page by page or in
a rebuild.
"""

from __future__ import annotations

import contextvars
import hashlib
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from eventsourcing.utils import get_topic

Row = dict[str, Any]
Key = tuple[Any, ...]


def topic(aggregate_cls: type, event_name: str) -> str:
    """The stored topic of ``aggregate_cls.<event_name>`` (fails loudly if the event is renamed)."""
    return get_topic(getattr(aggregate_cls, event_name))


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # PostgreSQL type, e.g. "uuid", "text", "date", "bigint", "boolean", "uuid[]"
    default: str | None = None  # SQL default in the DDL

    @property
    def is_array(self) -> bool:
        return self.type.endswith("[]")


def cols(spec: str) -> tuple[Column, ...]:
    """Columns from a compact ``"name type, name type DEFAULT x, ..."`` text."""
    out = []
    for part in spec.split(","):
        words = part.split()
        if not words:
            continue
        name, type_ = words[0], words[1]
        default = " ".join(words[3:]) if len(words) > 3 and words[2].upper() == "DEFAULT" else None
        out.append(Column(name, type_, default))
    return tuple(out)


@dataclass(frozen=True)
class TableSpec:
    """A read-model table: its columns, primary key and indexes."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[str, ...] = ()  # "(col, col) WHERE ..." or "USING gin (col)"
    versioned: bool = False
    """Keep every earlier version of a row in ``<name>_history`` (see the module's docstring)."""

    def __post_init__(self) -> None:
        if self.versioned and all(c.name != KNOWN_FROM for c in self.columns):
            object.__setattr__(self, "columns", (*self.columns, Column(KNOWN_FROM, "bigint")))
        names = tuple(c.name for c in self.columns)
        object.__setattr__(self, "column_names", names)
        object.__setattr__(self, "getter", _tuple_getter(names))
        object.__setattr__(self, "_upsert", None)

    column_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]] = field(init=False, repr=False, compare=False)

    def ddl(self, *, indexes: bool = True) -> list[str]:
        body = ", ".join(
            f"{c.name} {c.type}" + (f" DEFAULT {c.default}" if c.default is not None else "")
            for c in self.columns
        )
        statements = [f"CREATE TABLE IF NOT EXISTS {self.name} ({body}, PRIMARY KEY ({', '.join(self.key)}))"]
        if self.versioned:
            history = ", ".join(f"{c.name} {c.type}" for c in self.columns)
            statements.append(f"CREATE TABLE IF NOT EXISTS {self.history} ({history}, {KNOWN_TO} bigint)")
        if indexes:
            statements.extend(self.index_ddl())
        return statements

    @property
    def history(self) -> str:
        """The table of a versioned table's earlier row versions."""
        return f"{self.name}_history"

    @property
    def tables(self) -> tuple[str, ...]:
        """The table, and its history table when versioned."""
        return (self.name, self.history) if self.versioned else (self.name,)

    def index_names(self) -> list[str]:
        names = [f"{self.name}_i{i}" for i in range(len(self.indexes))]
        if self.versioned:
            names.append(f"{self.history}_{KNOWN_TO}")
        return names

    def index_ddl(self) -> list[str]:
        statements = [
            f"CREATE INDEX IF NOT EXISTS {name} ON {self.name} {index}"
            for name, index in zip(self.index_names(), self.indexes, strict=False)
        ]
        if self.versioned:
            statements.append(f"CREATE INDEX IF NOT EXISTS {self.history}_{KNOWN_TO} ON {self.history} ({KNOWN_TO})")
        return statements

    def known_as_of_sql(self, position_param: str) -> str:
        """The table's rows as known at the log position ``position_param`` (a bind parameter)."""
        if not self.versioned:
            raise ValueError(f"{self.name} is not versioned: it cannot answer as known at a position")
        names = ", ".join(self.column_names)
        return (
            f"SELECT {names} FROM {self.name} WHERE {KNOWN_FROM} <= {position_param} UNION ALL "
            f"SELECT {names} FROM {self.history} WHERE {KNOWN_FROM} <= {position_param} "
            f"AND {KNOWN_TO} > {position_param}"
        )

    def blank(self, **values: Any) -> Row:
        """A new row: every column None (defaults are applied here, not by the database)."""
        row: Row = dict.fromkeys(self.column_names)
        row.update(values)
        return row

    def key_of(self, row: Mapping[str, Any]) -> Key:
        key = self.key
        if len(key) == 1:
            return (row[key[0]],)
        return tuple(row[k] for k in key)

    def _unnest(self) -> tuple[str, str]:
        """``unnest($1::t1[], ...) AS u(c1, ...)`` and the select list casting array columns."""
        params = []
        select = []
        for i, c in enumerate(self.columns, start=1):
            if c.is_array:  # arrays travel as text literals: unnest would flatten them
                params.append(f"${i}::text[]")
                select.append(f"u.{c.name}::{c.type}")
            else:
                params.append(f"${i}::{c.type}[]")
                select.append(f"u.{c.name}")
        names = ", ".join(self.column_names)
        return f"unnest({', '.join(params)}) AS u({names})", ", ".join(select)

    def upsert_sql(self) -> str:
        cached: str | None = getattr(self, "_upsert", None)
        if cached is None:
            cached = self._upsert_sql()
            object.__setattr__(self, "_upsert", cached)
        return cached

    @property
    def stage(self) -> str:
        return f"stage_{self.name}"

    def upsert_from_stage_sql(self) -> str:
        names = ", ".join(self.column_names)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.column_names if c not in self.key)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {self.name} ({names}) SELECT {names} FROM {self.stage} "
            f"ON CONFLICT ({', '.join(self.key)}) {action}"
        )

    def _upsert_sql(self) -> str:
        source, select = self._unnest()
        names = ", ".join(self.column_names)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.column_names if c not in self.key)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {self.name} ({names}) SELECT {select} FROM {source} "
            f"ON CONFLICT ({', '.join(self.key)}) {action}"
        )

    def column_arrays(self, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        arrays: list[list[Any]] = []
        for c in self.columns:
            values = [r[c.name] for r in rows]
            if c.is_array:
                values = [None if v is None else array_literal(v) for v in values]
            arrays.append(values)
        return arrays


def _tuple_getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values in column order, built in C (``itemgetter`` of one name returns a scalar)."""
    if len(names) == 1:
        only = names[0]
        return lambda row: (row[only],)
    return operator.itemgetter(*names)


def array_literal(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal of ``values`` (quoted, so any text is safe)."""
    parts = []
    for v in values:
        if v is None:
            parts.append("NULL")
        else:
            text = str(v).replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'"{text}"')
    return "{" + ",".join(parts) + "}"


KNOWN_FROM = "known_from"
KNOWN_TO = "known_to"


class _PageVersions:
    """Which event of the page is being applied, for the versioned tables' ``Rows``.

    ``TableProjection.apply`` makes one per page; the ``Rows`` of versioned tables made
    while it applies the page register here. When the projection's loop over the events
    moves on, the rows the last event touched are closed at that event's position.
    """

    __slots__ = ("position", "tables", "touched")

    def __init__(self) -> None:
        self.position: int | None = None
        self.tables: list[Rows] = []
        self.touched: list[Rows] = []  # the tables the current event touched (most events: none)

    def enter(self, position: int) -> None:
        if self.touched and self.position != position:
            for table in self.touched:
                table.close_event(self.position)  # type: ignore[arg-type]
            self.touched.clear()
        self.position = position


_page_versions: contextvars.ContextVar[_PageVersions | None] = contextvars.ContextVar(
    "ttledger_page_versions", default=None)


class _TrackedEvents(Sequence[Any]):
    """A page's events; iterating over them tells ``_PageVersions`` which event is applied."""

    __slots__ = ("_events", "_versions")

    def __init__(self, events: Sequence[Any], versions: _PageVersions) -> None:
        self._events = events
        self._versions = versions

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: Any) -> Any:
        return self._events[index]

    def __iter__(self) -> Iterator[Any]:
        versions = self._versions
        for envelope in self._events:
            # Called for every event of every page: only an event that touched rows costs more.
            if versions.touched:
                versions.enter(envelope.entry.position)
            else:
                versions.position = envelope.entry.position
            yield envelope


@dataclass
class Rows:
    """The rows of one table that a page touches: loaded once, changed in memory, written once.

    For a versioned table, also each row's version as the last event left it (``snapshots``),
    the rows touched by the event being applied (``pending``) and the versions those events
    replaced (``history``), written to the history table at ``flush``.
    """

    spec: TableSpec
    rows: dict[Key, Row] = field(default_factory=dict)
    dirty: set[Key] = field(default_factory=set)
    loaded: dict[str, set[Any]] = field(default_factory=dict)  # column -> values already loaded
    snapshots: dict[Key, Row] = field(default_factory=dict, repr=False)
    pending: set[Key] = field(default_factory=set, repr=False)
    history: list[tuple[Any, ...]] = field(default_factory=list, repr=False)
    _versions: _PageVersions | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.spec.versioned:
            versions = _page_versions.get()
            if versions is None:
                raise RuntimeError(
                    f"rows of the versioned table {self.spec.name} are written only while "
                    "TableProjection.apply applies a page")
            self._versions = versions
            versions.tables.append(self)

    async def load(self, conn: asyncpg.Connection, values: Iterable[Any], column: str | None = None) -> None:
        """Load every row whose ``column`` (default: the single key column) is in ``values``."""
        column = column or self.spec.key[0]
        done = self.loaded.setdefault(column, set())
        wanted = [v for v in set(values) if v is not None and v not in done]
        if not wanted:
            return
        done.update(wanted)
        col = next(c for c in self.spec.columns if c.name == column)
        records = await conn.fetch(
            f"SELECT {', '.join(self.spec.column_names)} FROM {self.spec.name} "
            f"WHERE {column} = ANY($1::{col.type}[])",
            wanted,
        )
        versioned = self._versions is not None
        for record in records:
            row = dict(record)
            key = self.spec.key_of(row)
            if key not in self.rows:  # rows created in this page win
                self.rows[key] = row
                if versioned:
                    self.snapshots[key] = dict(row)

    def get(self, *key: Any) -> Row | None:
        return self.rows.get(key)

    def add(self, row: Row) -> Row:
        key = self.spec.key_of(row)
        self.rows[key] = row
        self.dirty.add(key)
        if self._versions is not None:
            if not self.pending:
                self._versions.touched.append(self)
            self.pending.add(key)
        return row

    def touch(self, row: Row) -> Row:
        key = self.spec.key_of(row)
        self.dirty.add(key)
        if self._versions is not None:
            if not self.pending:
                self._versions.touched.append(self)
            self.pending.add(key)
        return row

    def close_event(self, position: int) -> None:
        """End the versions the event at ``position`` replaced (rows it touched that changed)."""
        rows, snapshots, history = self.rows, self.snapshots, self.history
        getter = self.spec.getter
        for key in self.pending:
            row = rows[key]
            before = snapshots.get(key)
            if before is None:
                row[KNOWN_FROM] = position  # a new row
            else:
                since = before[KNOWN_FROM]
                row[KNOWN_FROM] = since  # compare the values only
                if row != before:
                    if since != position:  # never a version that lasted no event at all
                        history.append((*getter(before), position))
                    row[KNOWN_FROM] = position
            snapshots[key] = dict(row)
        self.pending.clear()

    def where(self, predicate: Callable[[Row], bool]) -> list[Row]:
        return [r for r in self.rows.values() if predicate(r)]

    async def flush(self, conn: asyncpg.Connection) -> None:
        versions = self._versions
        if versions is not None:
            if self.pending:
                if versions.position is None:  # pragma: no cover - a page of no events touches nothing
                    raise RuntimeError(f"rows of {self.spec.name} touched outside any event")
                self.close_event(versions.position)  # touched after the loop: the page's last event
            if self.history:
                await conn.copy_records_to_table(
                    f"{self.spec.name}_history", records=self.history, columns=[*self.spec.column_names, KNOWN_TO])
                self.history.clear()
        if not self.dirty:
            return
        rows = [self.rows[k] for k in self.dirty]
        if len(rows) < COPY_FROM_ROWS:
            await conn.execute(self.spec.upsert_sql(), *self.spec.column_arrays(rows))
        else:
            # Many rows: COPY them into a session-local staging table, then one upsert.
            # COPY encodes each value once, where unnest's arrays are checked element by
            # element; the staging table empties itself at commit.
            spec = self.spec
            names = spec.column_names
            await conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {spec.stage} (LIKE {spec.name}) ON COMMIT DELETE ROWS"
            )
            await conn.copy_records_to_table(
                spec.stage, records=list(map(spec.getter, rows)), columns=list(names)
            )
            await conn.execute(spec.upsert_from_stage_sql())
        self.dirty.clear()


COPY_FROM_ROWS = 64


@dataclass
class Appended:
    """Append-only rows of one table, written with one COPY per page."""

    spec: TableSpec
    records: list[tuple[Any, ...]] = field(default_factory=list)
    _versions: _PageVersions | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.spec.versioned:
            self._versions = _page_versions.get()
            if self._versions is None:
                raise RuntimeError(
                    f"rows of the versioned table {self.spec.name} are written only while "
                    "TableProjection.apply applies a page")

    def add(self, **values: Any) -> None:
        if self._versions is not None:
            if self._versions.position is None:  # pragma: no cover
                raise RuntimeError(f"a row of {self.spec.name} appended outside any event")
            values[KNOWN_FROM] = self._versions.position
        self.records.append(tuple([values.get(c) for c in self.spec.column_names]))

    async def flush(self, conn: asyncpg.Connection) -> None:
        if not self.records:
            return
        await conn.copy_records_to_table(
            self.spec.name, records=self.records, columns=list(self.spec.column_names)
        )
        self.records.clear()


class TableProjection:
    """A projection whose tables are ``specs``; subclasses implement ``apply_page``."""

    name: str
    specs: tuple[TableSpec, ...] = ()
    topics: frozenset[str] | None = frozenset()

    async def apply(self, conn: asyncpg.Connection, events: Sequence[Any]) -> None:
        # A read model's commit need not wait for its WAL flush: the page and the
        # projection's position commit (or, after a crash, vanish) together, so a lost
        # commit is simply applied again and exactly-once holds. The event log's own
        # writes keep synchronous commit.
        await conn.execute("SET LOCAL synchronous_commit TO off")
        if not any(s.versioned for s in self.specs):
            await self.apply_page(conn, events)
            return
        versions = _PageVersions()
        token = _page_versions.set(versions)
        try:
            await self.apply_page(conn, _TrackedEvents(events, versions))
        finally:
            _page_versions.reset(token)
            # The page's Rows and this object refer to each other: break the cycle, so that the
            # page's rows and their snapshots are freed now and not at a rare full collection
            # (a rebuild runs the collector seldom: runner.batch_gc).
            versions.tables.clear()
            versions.touched.clear()

    async def apply_page(self, conn: asyncpg.Connection, events: Sequence[Any]) -> None:
        raise NotImplementedError

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table the projection owns, history tables included (a rebuild drops them all)."""
        return tuple(t for s in self.specs for t in s.tables)

    version: int = 1
    """Raise when what the projection writes changes while its tables keep their shape."""

    rebuild_cost: float = 1.0
    """Relative replay cost, for sharing a parallel rebuild out (projections/parallel.py)."""

    def fingerprint(self) -> str:
        """The tables' definitions and ``version``: when it changes, the runner rebuilds."""
        text = "\n".join([f"version {self.version}", *(d for s in self.specs for d in s.ddl())])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    async def create_tables(self, conn: asyncpg.Connection) -> None:
        """Tables and their indexes, where missing (so this also restores dropped indexes)."""
        for spec in self.specs:
            for statement in spec.ddl():
                await conn.execute(statement)

    async def drop_indexes(self, conn: asyncpg.Connection) -> None:
        """Drop the secondary indexes; a rebuild writes faster without them and then calls
        ``create_tables`` again, which recreates them."""
        for spec in self.specs:
            for name in spec.index_names():
                await conn.execute(f"DROP INDEX IF EXISTS {name}")
