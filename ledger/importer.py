"""Bulk import of existing registers (payments, achievements, contracts) from XLSX or CSV.

:func:`import_file` takes the file's bytes, its kind and a bus, and returns an
:class:`ImportReport`; it prints nothing, so the CLI (ledger/import_cli.py)
and later an upload page share it.

* Each row becomes one or more commands (ledger/import_kinds.py) and goes
  through the same handlers as any other write.
* **Dry run**: every row runs through the handlers against one unit of work
  that is never committed, so a row sees the rows before it (two payments on
  one contract, an overpayment after an earlier payment), and nothing is
  written (the report holds the log head before and after).
* **Real run**: each command goes through ``bus.handle`` with the idempotency
  key ``import:<sha256 of the file>:<row>:<n>``, so running the same file
  again writes nothing and a run that stopped half-way resumes: the rows it
  wrote replay their stored outcomes. A row of several commands is first
  checked whole in a throwaway unit of work, so it is written whole or not
  at all. Every event names the import job and the row (``current_actor``).
  A bad row is reported and the others go on.
* **Order and speed**: rows that touch the same record (payments of one
  contract) run in file order, one after another; different records run side
  by side (``concurrency`` rows in flight), which lets the store's group
  commit write many of them per transaction.

Names and numbers (an institution's name, a contract's registration number)
are looked up in the event log before the rows run: it is always complete,
where the read side's tables may lag behind the log.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.contract import TechnologyContract
from domain.errors import DomainError
from domain.import_rules import IMPORT_COLUMNS_KNOWN, IMPORT_FILE_READABLE
from domain.institution import Institution
from domain.ledger_rules import (
    IDEMPOTENCY_KEY_REUSE,
    REFERENCED_RECORD_EXISTS,
    STREAM_VERSION_IS_CURRENT,
)
from ledger.actor import Actor, current_actor
from ledger.bus import Handler, IdempotencyKeyReused, MessageBus
from ledger.commands import HANDLERS
from ledger.import_kinds import (
    BUILDERS,
    COLUMNS,
    KINDS,
    BuiltRow,
    CellError,
    References,
    Step,
    blank,
    column_of,
    header_index,
    spec,
    wanted_references,
)
from ledger.repository import AggregateNotFound
from ledger.store import ConcurrencyConflict
from ledger.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

DEFAULT_CONCURRENCY = 48
HEADER_ROW = 1
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RowIssue:
    """A row (as the spreadsheet numbers it: the header is row 1) that was not imported, and why."""

    row: int
    column: str
    """The column's key (``amount_yuan``); empty when the problem is not one column's."""
    rule: str
    message_zh: str
    message_en: str

    def message(self, lang: str) -> str:
        return self.message_zh if lang == "zh" else self.message_en


@dataclass
class ImportReport:
    kind: str
    job: str
    sha256: str
    dry_run: bool
    rows: int = 0
    """Data rows read (blank rows left out)."""
    valid: int = 0
    """Dry run: rows that would be written."""
    written: int = 0
    """Real run: rows written now."""
    replayed: int = 0
    """Rows imported by an earlier run of the same file: nothing written for them now."""
    failed: int = 0
    commands: int = 0
    """Commands written now."""
    issues: list[RowIssue] = field(default_factory=list)
    head_before: int = 0
    head_after: int = 0
    seconds: float = 0.0
    created: dict[int, list[str]] = field(default_factory=dict)
    """Row → ids of the records its commands wrote or would write."""

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def column_name(self, key: str, lang: str) -> str:
        found = spec(self.kind, key) if self.kind in COLUMNS else None
        return found.name(lang) if found else key

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "job": self.job, "sha256": self.sha256, "dry_run": self.dry_run,
                "rows": self.rows, "valid": self.valid, "written": self.written, "replayed": self.replayed,
                "failed": self.failed, "commands": self.commands, "head_before": self.head_before,
                "head_after": self.head_after, "seconds": round(self.seconds, 3)}


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def job_name(sha256: str) -> str:
    return f"import-{sha256[:12]}"


def like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def idempotency_key(sha256: str, row: int, n: int, prefix: str = "") -> str:
    """``prefix``: the tenant's key space over the API (api/commands.py ``tenant_key``); none for the CLI."""
    return f"{prefix}import:{sha256}:{row}:{n}"


# ---- reading the file --------------------------------------------------------------------


class FileProblem(Exception):
    def __init__(self, issue: RowIssue) -> None:
        self.issue = issue
        super().__init__(issue.message_en)


def _unreadable(en: str, zh: str) -> FileProblem:
    return FileProblem(RowIssue(0, "", IMPORT_FILE_READABLE.name, zh, en))


def read_rows(data: bytes) -> tuple[list[Any], list[tuple[int, list[Any]]]]:
    """The header and the non-blank data rows with their spreadsheet row numbers (XLSX or CSV)."""
    rows = list(_xlsx_rows(data) if data[:4] == b"PK\x03\x04" else _csv_rows(data))
    if not rows:
        raise _unreadable("the file is empty: its first row names the columns", "文件为空：第一行应为列名")
    (_, header), body = rows[0], rows[1:]
    return list(header), [(n, list(cells)) for n, cells in body if not all(blank(c) for c in cells)]


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise _unreadable(f"not a readable XLSX workbook ({type(exc).__name__})",
                          f"不是可读取的 XLSX 工作簿（{type(exc).__name__}）") from None
    try:
        sheet = workbook.worksheets[0]
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()


def _csv_rows(data: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost anything
        raise _unreadable("not a CSV file in UTF-8 or GB18030", "不是 UTF-8 或 GB18030 编码的 CSV 文件")
    if "\x00" in text:
        raise _unreadable("not a CSV file (it holds NUL bytes)", "不是 CSV 文件（含 NUL 字节）")
    try:
        yield from enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
    except csv.Error as exc:
        raise _unreadable(f"not a readable CSV file ({exc})", f"CSV 文件无法读取（{exc}）") from None


def map_header(kind: str, header: Sequence[Any]) -> list[str | None]:
    """The column key of each header cell (``None`` for a blank trailing cell); refuses unknown ones."""
    index = header_index(kind)
    keys: list[str | None] = []
    seen: set[str] = set()
    from ledger.import_kinds import normalise_header, text_of

    for cell in header:
        if blank(cell):
            keys.append(None)
            continue
        key = index.get(normalise_header(text_of(cell)))
        if key is None:
            known = ", ".join(c.header for c in COLUMNS[kind])
            raise FileProblem(RowIssue(HEADER_ROW, text_of(cell), IMPORT_COLUMNS_KNOWN.name,
                                       f"不认识的列名 {text_of(cell)!r}；可用列：{known}",
                                       f"unknown column {text_of(cell)!r}; the columns are: {known}"))
        if key in seen:
            raise FileProblem(RowIssue(HEADER_ROW, key, IMPORT_COLUMNS_KNOWN.name, f"列 {key} 出现两次",
                                       f"column {key} appears twice"))
        seen.add(key)
        keys.append(key)
    for column in COLUMNS[kind]:
        if column.required and column.key not in seen:
            raise FileProblem(RowIssue(HEADER_ROW, column.key, IMPORT_COLUMNS_KNOWN.name,
                                       f"缺少必填列 {column.header}", f"the required column {column.header} is missing"))
    return keys


# ---- references by name or number ---------------------------------------------------------


def _topic(aggregate: type, event: str) -> str:
    """The stored topic of an aggregate's event class (made by ``@event``, unknown to mypy)."""
    return f"{get_topic(aggregate)}.{event}"


async def resolve_references(bus: MessageBus, numbers: set[str], names: set[str]) -> References:
    """Registration numbers → contracts and institution names → institutions, from the event log."""
    refs = References()
    mapper = bus.repository.mapper

    async def decode(topics: list[str]) -> list[Any]:
        rows = await bus.store.pool.fetch(
            "SELECT stream_id, version, topic, state FROM events WHERE topic = ANY($1::text[]) ORDER BY position",
            topics)
        # asyncpg hands out its own UUID type; the transcoder knows only uuid.UUID.
        return [mapper.to_domain_event(StoredEvent(UUID(bytes=r["stream_id"].bytes), r["version"], r["topic"],
                                                   bytes(r["state"])))
                for r in rows]

    if numbers:
        for event in await decode([_topic(TechnologyContract, "Registered"),
                                   _topic(TechnologyContract, "RegistrationCorrected")]):
            number = event.registration.registration_number
            if number in numbers:
                refs.contracts[number] = event.originator_id
    if names:
        current: dict[UUID, str] = {}
        for event in await decode([_topic(Institution, "Registered"), _topic(Institution, "Renamed")]):
            current[event.originator_id] = event.name
        for institution_id, name in current.items():
            if name in names:
                refs.institutions.setdefault(name, []).append(institution_id)
    return refs


# ---- running the rows ---------------------------------------------------------------------


@dataclass
class _Planned:
    row: int
    built: BuiltRow | None
    issue: RowIssue | None = None


def _groups(planned: Sequence[_Planned]) -> list[list[_Planned]]:
    """Rows touching a common record form one group, in file order; groups in order of their first row."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for p in planned:
        assert p.built is not None
        for other in p.built.touches:
            parent[find(other)] = find(p.built.group)
    grouped: dict[str, list[_Planned]] = {}
    for p in planned:
        assert p.built is not None
        grouped.setdefault(find(p.built.group), []).append(p)
    return list(grouped.values())


def _issue_of(row: int, step: Step, exc: BaseException) -> RowIssue:
    if isinstance(exc, DomainError):
        return RowIssue(row, column_of(step, exc.field), exc.rule.name, exc.detail_zh or exc.detail, exc.detail)
    if isinstance(exc, AggregateNotFound):
        return RowIssue(row, step.column, REFERENCED_RECORD_EXISTS.name, f"没有这条记录：{exc}",
                        f"no such record: {exc}")
    if isinstance(exc, IdempotencyKeyReused):
        return RowIssue(row, "", IDEMPOTENCY_KEY_REUSE.name,
                        "该行在此前导入同一文件时内容不同（引用的记录已变化）",
                        "this row was imported from the same file before with other content (a referenced record changed)")
    if isinstance(exc, RowRefused):
        return RowIssue(row, column_of(step, exc.field) if exc.field else step.column, exc.rule, exc.message_zh,
                        exc.message)
    if isinstance(exc, ConcurrencyConflict):
        return RowIssue(row, step.column, STREAM_VERSION_IS_CURRENT.name, "记录被同时修改，请重新导入该文件",
                        "the record changed meanwhile: run the import again")
    raise exc


class RowRefused(Exception):
    """A row the importer's caller may not record (``Guard``): its rule and message name why."""

    def __init__(self, rule: str, field: str, message: str, message_zh: str | None = None) -> None:
        super().__init__(message)
        self.rule, self.field, self.message = rule, field, message
        self.message_zh = message_zh or message


Guard = Callable[[Any, UnitOfWork], Awaitable[None]]
"""``(command, uow)``: raise ``RowRefused`` (or a domain error) for a command the importer's caller may not
issue; the API checks its role and tenancy exactly as the command's own route does (api/imports)."""


_ROW_ERRORS = (DomainError, AggregateNotFound, IdempotencyKeyReused, ConcurrencyConflict, RowRefused)


def _ids(result: dict[str, Any]) -> list[str]:
    return [str(result["id"])] if "id" in result else []


class _Run:
    def __init__(self, bus: MessageBus, report: ImportReport, actor: Actor, done_keys: set[str],
                 progress: Progress | None, total: int, guard: Guard | None = None, key_prefix: str = "") -> None:
        self.guard = guard
        self.key_prefix = key_prefix
        self.bus = bus
        self.report = report
        self.actor = actor
        self.done_keys = done_keys
        self.progress = progress
        self.total = total
        self.done = 0
        self.shared: UnitOfWork | None = bus.unit_of_work() if report.dry_run else None

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)

    def fail(self, issue: RowIssue) -> None:
        self.report.failed += 1
        self.report.issues.append(issue)

    async def row(self, p: _Planned, cache: dict[UUID, Aggregate]) -> None:
        assert p.built is not None
        steps = p.built.steps
        keys = [idempotency_key(self.report.sha256, p.row, n, self.key_prefix) for n in range(len(steps))]
        token = current_actor.set(self.actor.for_row(self.report.job, p.row))
        try:
            if self.report.dry_run:
                await self._dry(p.row, steps, keys)
            else:
                await self._real(p.row, steps, keys, cache)
        finally:
            current_actor.reset(token)
        self.tick()

    async def _dry(self, row: int, steps: Sequence[Step], keys: Sequence[str]) -> None:
        if any(k in self.done_keys for k in keys):
            self.report.replayed += 1
            return
        assert self.shared is not None
        ids: list[str] = []
        for step in steps:
            try:
                if self.guard is not None:
                    await self.guard(step.command, self.shared)
                ids += _ids(await HANDLERS[type(step.command)](step.command, self.shared))  # type: ignore[index]
            except _ROW_ERRORS as exc:
                self.fail(_issue_of(row, step, exc))
                return
        self.report.valid += 1
        self.report.created[row] = ids

    def _cached(self, step: Step, cache: dict[UUID, Aggregate], changed: list[Aggregate]) -> Handler[Any]:
        """The command's handler, starting from the group's records as the previous row left them.

        Rows of a group run one after another, so the record a row wrote is the one the next row
        reads: it is handed over instead of loaded and replayed again. The cache is emptied into
        the attempt; ``changed`` receives what the last attempt wrote, which the caller puts back
        once the bus has committed it. If another writer moved a record on meanwhile, the commit
        conflicts and the bus's retry, finding the cache empty, loads it afresh.
        """
        handler = HANDLERS[type(step.command)]  # type: ignore[index]
        guard = self.guard

        async def handle(command: Any, uow: UnitOfWork) -> dict[str, Any]:
            while cache:
                uow.add(cache.popitem()[1])
            if guard is not None:
                await guard(command, uow)
            result = await handler(command, uow)
            changed[:] = [a for a in uow.aggregates if a.pending_events]
            return result

        return handle

    async def _real(self, row: int, steps: Sequence[Step], keys: Sequence[str],
                    cache: dict[UUID, Aggregate]) -> None:
        if len(steps) > 1 and not any(k in self.done_keys for k in keys):
            # A row is written whole or not at all: check every command first, on fresh state.
            trial = self.bus.unit_of_work()
            for step in steps:
                try:
                    if self.guard is not None:
                        await self.guard(step.command, trial)
                    await HANDLERS[type(step.command)](step.command, trial)  # type: ignore[index]
                except _ROW_ERRORS as exc:
                    self.fail(_issue_of(row, step, exc))
                    return
        written = 0
        ids: list[str] = []
        for step, key in zip(steps, keys, strict=True):
            changed: list[Aggregate] = []
            try:
                outcome = await self.bus.execute(step.command, self._cached(step, cache, changed),
                                                 idempotency_key=key, key_known_new=key not in self.done_keys)
            except _ROW_ERRORS as exc:
                cache.clear()
                self.fail(_issue_of(row, step, exc))
                return
            cache.clear()
            if not outcome.replayed:
                cache.update((a.id, a) for a in changed)
            ids += _ids(outcome.result)
            if not outcome.replayed:
                written += 1
        self.report.commands += written
        self.report.created[row] = ids
        if written:
            self.report.written += 1
        else:
            self.report.replayed += 1

    async def groups(self, groups: Sequence[Sequence[_Planned]], concurrency: int) -> None:
        """Run the groups side by side. On the first error no new row starts, the rows in flight
        finish (their commits would land anyway), then the error is raised: when this returns or
        raises, nothing of the run is still being written."""
        queue = deque(groups)
        errors: list[BaseException] = []

        async def worker() -> None:
            while queue and not errors:
                cache: dict[UUID, Aggregate] = {}  # the records the group's rows wrote (see _cached)
                for p in queue.popleft():
                    if errors:
                        return
                    try:
                        await self.row(p, cache)
                    except Exception as exc:
                        errors.append(exc)
                        return

        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(groups))))))
        if errors:
            raise errors[0]


async def import_file(
    data: bytes,
    kind: str,
    bus: MessageBus,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    actor: Actor | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    guard: Guard | None = None,
    key_prefix: str = "",
) -> ImportReport:
    """Import ``data`` (XLSX or CSV) as rows of ``kind``; see the module's docstring.

    Raises only for what stops the whole run (the database gone, an exception
    from ``progress``); everything about the file and its rows is in the report.
    ``actor``: who imports (default the system job ``cli:import``); every event
    records it with the job and the row.
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    started = time.monotonic()
    sha = file_sha256(data)
    report = ImportReport(kind, job_name(sha), sha, dry_run)
    report.head_before = await bus.store.head()
    log.info("import_started", kind=kind, job=report.job, dry_run=dry_run, bytes=len(data))
    try:
        await _import(data, kind, bus, report, progress, actor or Actor.system("cli:import"), concurrency,
                      guard, key_prefix)
    except FileProblem as problem:
        report.issues.append(problem.issue)
    report.head_after = await bus.store.head()
    report.seconds = time.monotonic() - started
    report.issues.sort(key=lambda i: (i.row, i.column))
    log.info("import_finished", **report.summary(), rows_per_s=round(report.rows_per_s, 1))
    return report


async def _import(data: bytes, kind: str, bus: MessageBus, report: ImportReport, progress: Progress | None,
                  actor: Actor, concurrency: int, guard: Guard | None = None, key_prefix: str = "") -> None:
    header, body = read_rows(data)
    keys = map_header(kind, header)
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, cells in body:
        values = {k: cells[i] for i, k in enumerate(keys) if k is not None and i < len(cells)}
        for i in range(len(keys), len(cells)):
            if not blank(cells[i]):
                raise FileProblem(RowIssue(number, "", IMPORT_COLUMNS_KNOWN.name, "该行的单元格多于列名",
                                           "the row has more cells than the header has columns"))
        rows.append((number, values))
    report.rows = len(rows)
    numbers, names = wanted_references(kind, [r for _, r in rows])
    refs = await resolve_references(bus, numbers, names)
    build = BUILDERS[kind]
    planned: list[_Planned] = []
    run_failures: list[RowIssue] = []
    for number, values in rows:
        try:
            planned.append(_Planned(number, build(values, number, report.sha256, refs)))
        except CellError as exc:
            run_failures.append(RowIssue(number, exc.column, exc.rule, exc.message_zh, exc.message_en))
    done_keys = {r["key"] for r in await bus.store.pool.fetch(
        "SELECT key FROM idempotency_keys WHERE key LIKE $1", f"{like_escaped(key_prefix)}import:{report.sha256}:%")}
    run = _Run(bus, report, actor, done_keys, progress, len(rows), guard, key_prefix)
    for issue in run_failures:
        run.fail(issue)
        run.tick()
    await run.groups(_groups(planned), concurrency)


# ---- writing the report and the template --------------------------------------------------

REPORT_HEADERS = ("行 row", "列 column", "规则 rule", "说明 message")


def report_xlsx(report: ImportReport, lang: str = "zh") -> bytes:
    """The report as a workbook: a sheet of issues (row, column, rule, message) and a summary sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    issues = workbook.active
    assert issues is not None
    issues.title = "issues"
    issues.append(list(REPORT_HEADERS))
    for issue in report.issues:
        issues.append([issue.row, report.column_name(issue.column, lang), issue.rule, issue.message(lang)])
    for cell in issues[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCD", (8, 24, 32, 80), strict=True):
        issues.column_dimensions[letter].width = width
    summary = workbook.create_sheet("summary")
    summary.append(["项目 item", "值 value"])
    for key, value in report.summary().items():
        summary.append([key, str(value) if isinstance(value, bool) else value])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def template_xlsx(kind: str) -> bytes:
    """A template to fill: the data sheet's header (Chinese and English names) and a notes sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    columns = COLUMNS[kind]
    workbook = Workbook()
    data = workbook.active
    assert data is not None
    data.title = kind
    data.append([c.header for c in columns])
    for i, column in enumerate(columns, start=1):
        cell = data.cell(row=1, column=i)
        cell.font = Font(bold=True)
        letter = cell.column_letter
        data.column_dimensions[letter].width = max(14, len(column.header) + 6)
    data.freeze_panes = "A2"
    notes = workbook.create_sheet("notes")
    notes.append(["列 column", "英文名 name", "类型 type", "必填 required", "说明 notes", "示例 example"])
    for column in columns:
        note = " / ".join(t for t in (column.note_zh, column.note_en) if t)
        notes.append([column.zh, column.key, f"{column.type_zh} / {column.type_en}",
                      "是 yes" if column.required else "否 no", note, column.example])
    notes.append([])
    notes.append(["示例行 example row"])
    notes.append([c.header for c in columns])
    notes.append([c.example for c in columns])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDEF", (18, 24, 40, 12, 60, 40), strict=True):
        notes.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def report_table(report: ImportReport, lang: str = "zh", limit: int = 50) -> str:
    """A short plain-text table for a terminal: the summary and the first ``limit`` issues."""
    zh = lang == "zh"
    mode = ("试运行（未写入）" if zh else "dry run (nothing written)") if report.dry_run else ("导入" if zh else "import")
    lines = [
        f"{mode} {report.kind} {report.job}: " + (
            f"{report.rows} 行，{'有效' if report.dry_run else '写入'} {report.valid if report.dry_run else report.written}，"
            f"此前已导入 {report.replayed}，失败 {report.failed}；{report.rows_per_s:,.0f} 行/秒"
            if zh else
            f"{report.rows} rows, {'valid' if report.dry_run else 'written'} "
            f"{report.valid if report.dry_run else report.written}, imported before {report.replayed}, "
            f"failed {report.failed}; {report.rows_per_s:,.0f} rows/s"),
    ]
    if report.issues:
        head = ("行", "列", "规则", "说明") if zh else ("row", "column", "rule", "message")
        shown = report.issues[:limit]
        cols = [(str(i.row), report.column_name(i.column, lang), i.rule, i.message(lang)) for i in shown]
        widths = [max(_width(head[k]), *(_width(c[k]) for c in cols)) for k in range(3)]
        lines.append("  ".join(_pad(h, w) for h, w in zip(head[:3], widths, strict=True)) + "  " + head[3])
        for c in cols:
            lines.append("  ".join(_pad(v, w) for v, w in zip(c[:3], widths, strict=True)) + "  " + c[3])
        if len(report.issues) > limit:
            more = len(report.issues) - limit
            lines.append(f"……另有 {more} 条，见报告文件" if zh else f"... {more} more: see the report file")
    return "\n".join(lines)


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))

