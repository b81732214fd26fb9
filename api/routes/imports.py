"""Bulk import from the browser: ``POST /v1/imports`` with the file as the body, then its job.

The same importer as ``ttledger import`` (ledger/importer.py): a dry run checks
every row through the real command handlers and writes nothing; a real run
writes each row once (re-sending the same file writes nothing new and resumes
an interrupted run). Each row is checked as the command's own route would check
it (``api.commands.GUARDS``: role, body, tenancy), so an institution cannot
import into another's records; every event names the person, the job and the
row (ledger/actor.py).

A job runs in the background; ``GET /v1/imports/{job_id}`` answers its progress
and, once done, its report (row, column, rule, message), and
``GET /v1/imports/{job_id}/report.xlsx`` downloads the report. Jobs live in the
server's memory (a restart forgets them; sending the file again is safe).
Templates: ``GET /v1/imports/templates/{kind}.xlsx``.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, Field

from api.commands import GUARDS, tenant_key
from api.middleware import request_id_of
from api.problems import HTTPProblem
from api.routing import Call, Reply, RouteRegistry
from domain.inputs import Name
from ledger.actor import actor_of_principal
from ledger.importer import KINDS, ImportReport, RowRefused, import_file, report_xlsx, template_xlsx
from ledger.tokens import Principal, Role
from ledger.unit_of_work import UnitOfWork

routes = RouteRegistry()
TAGS = ("imports",)
RECORDERS = {Role.ADMIN, Role.INSTITUTION, Role.OPERATOR}
MAX_IMPORT_BYTES = 16 * 1024 * 1024
KEEP_JOBS = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Kind = Literal["payments", "achievements", "contracts"]
assert set(KINDS) == {"payments", "achievements", "contracts"}


@dataclass
class ImportJob:
    id: UUID
    kind: str
    dry_run: bool
    lang: str
    owner: Principal
    file_name: str
    started_at: datetime
    done: int = 0
    total: int = 0
    state: str = "running"
    report: ImportReport | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class ImportJobs:
    """The server's import jobs, newest last; the oldest finished ones are forgotten beyond ``KEEP_JOBS``."""

    def __init__(self) -> None:
        self.jobs: dict[UUID, ImportJob] = {}

    def add(self, job: ImportJob) -> None:
        self.jobs[job.id] = job
        finished = [j for j in self.jobs.values() if j.state != "running"]
        for old in finished[: max(0, len(self.jobs) - KEEP_JOBS)]:
            del self.jobs[old.id]

    async def close(self, app: web.Application) -> None:
        for job in self.jobs.values():
            if job.task is not None:
                job.task.cancel()


IMPORT_JOBS = web.AppKey("import_jobs", ImportJobs)


class ImportQuery(BaseModel):
    kind: Kind = Field(description="What the file's rows are.")
    dry_run: bool = Field(default=True, description="Check every row and write nothing (the default).")
    lang: Literal["zh", "en"] = Field(default="zh", description="Language of the report's messages.")
    file_name: Name | None = Field(default=None, description="The uploaded file's name, shown back in the job.")


class JobPath(BaseModel):
    job_id: UUID


class KindPath(BaseModel):
    kind: Kind


class ImportIssue(BaseModel):
    row: int = Field(description="The row as the spreadsheet numbers it (the header is row 1).")
    column: str
    rule: str
    message: str


class ImportJobView(BaseModel):
    id: UUID
    kind: str
    dry_run: bool
    file_name: str
    state: Literal["running", "done", "failed"]
    started_at: datetime
    done: int = Field(description="Rows handled so far.")
    total: int = Field(description="Rows in the file (0 until it is read).")
    summary: dict[str, Any] | None = Field(description="Rows valid, written, replayed, failed; log heads.")
    issues: list[ImportIssue] = Field(description="Each refused row: row, column, rule and message.")
    error: str | None = Field(description="What stopped the whole job, if anything did.")


def _view(job: ImportJob) -> ImportJobView:
    report = job.report
    issues = [] if report is None else [
        ImportIssue(row=i.row, column=report.column_name(i.column, job.lang), rule=i.rule, message=i.message(job.lang))
        for i in report.issues
    ]
    return ImportJobView(id=job.id, kind=job.kind, dry_run=job.dry_run, file_name=job.file_name,
                         state=job.state, started_at=job.started_at, done=job.done, total=job.total,  # type: ignore[arg-type]
                         summary=None if report is None else report.summary(), issues=issues, error=job.error)


def _guard(who: Principal) -> Any:
    """Each row's commands checked as their own routes check them (role, body, tenancy)."""
    async def guard(command: Any, uow: UnitOfWork) -> None:
        checks = GUARDS.get(type(command))
        if checks is None:
            raise RowRefused("role-not-allowed", "", f"{type(command).__name__} is not open to imports",
                             f"{type(command).__name__} 不能通过导入记录")
        try:
            await checks.check(who, uow, command)
        except PermissionError as exc:
            raise RowRefused("role-not-allowed", "", str(exc)) from None
        except HTTPProblem as problem:
            kind = problem.type.rsplit("/", 1)[-1]
            raise RowRefused(kind, "", problem.detail or problem.title,
                             problem.detail_zh or problem.title_zh or problem.detail or problem.title) from None

    return guard


async def _read_file(request: web.Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise HTTPProblem(413, "payload-too-large", "Payload too large",
                              f"an import file is at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB",
                              detail_zh=f"导入文件最大为 {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
        chunks.append(chunk)
    return b"".join(chunks)  # an empty body is an empty file: the job reports it


def _own(call: Call[Any, Any], job_id: UUID) -> ImportJob:
    job = call.app[IMPORT_JOBS].jobs.get(job_id)
    who = call.principal
    mine = job is not None and (who.role is Role.ADMIN or (
        job.owner.role == who.role and job.owner.institution_id == who.institution_id
        and job.owner.user_id == who.user_id))
    if job is None or not mine:
        raise HTTPProblem(404, "not-found", "Not found", f"no import job {job_id} of yours",
                          detail_zh=f"没有您的导入任务 {job_id}")
    return job


@routes.post("/v1/imports", roles=RECORDERS, query=ImportQuery, response=ImportJobView, status=202, tags=TAGS)
async def start_import(call: Call[None, ImportQuery]) -> Reply[ImportJobView]:
    """Start importing the request body (an XLSX or CSV file of `kind`): a dry run by default.

    Answers 202 with the job; poll `GET /v1/imports/{job_id}` for progress and the report.
    """
    data = await _read_file(call.request)
    q = call.query
    who = call.principal
    job = ImportJob(uuid.uuid4(), q.kind, q.dry_run, q.lang, who, q.file_name or "", datetime.now(UTC))
    jobs = call.app[IMPORT_JOBS]
    actor = actor_of_principal(who, request_id_of(call.request))
    prefix = "" if who.role is Role.ADMIN else (tenant_key(who, "") or "")
    ledger = call.ledger

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    async def run() -> None:
        try:
            job.report = await import_file(data, q.kind, ledger.bus, dry_run=q.dry_run, progress=progress,
                                           actor=actor, guard=_guard(who), key_prefix=prefix)
            job.state = "done"
            job.total = job.total or job.report.rows
        except Exception as exc:  # the database gone: the job says so; the rows written stay written
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"[:500]

    job.task = asyncio.get_running_loop().create_task(run())
    jobs.add(job)
    await asyncio.sleep(0)
    return Reply(_view(job), status=202, headers={"Location": f"/v1/imports/{job.id}"})


@routes.get("/v1/imports/{job_id}", roles=RECORDERS, path_params=JobPath, response=ImportJobView, tags=TAGS)
async def get_import(call: Call[None, None]) -> ImportJobView:
    """An import job: its progress and, once done, its report (your own jobs; admins see all)."""
    return _view(_own(call, call.path.job_id))


@routes.get("/v1/imports/{job_id}/report.xlsx", roles=RECORDERS, path_params=JobPath, tags=TAGS,
            media_types=(XLSX,), status=200)
async def get_import_report(call: Call[None, None]) -> web.Response:
    """The job's report as a workbook: issues (row, column, rule, message) and a summary."""
    job = _own(call, call.path.job_id)
    if job.report is None:
        raise HTTPProblem(409, "import-running", "Not finished", "the job has not finished; poll it first",
                          detail_zh="任务尚未完成，请先查询其状态")
    return web.Response(body=report_xlsx(job.report, job.lang), content_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="import-{job.kind}-report-{str(job.id)[:8]}.xlsx"'})


@routes.get("/v1/imports/templates/{kind}.xlsx", roles=RECORDERS, path_params=KindPath, tags=TAGS,
            media_types=(XLSX,), status=200)
async def get_import_template(call: Call[None, None]) -> web.Response:
    """A template of `kind` to fill in: the columns in Chinese and English, and notes on each."""
    kind = call.path.kind
    return web.Response(body=template_xlsx(kind), content_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="ttledger-{kind}-template.xlsx"'})


def install_jobs(app: web.Application) -> None:
    app[IMPORT_JOBS] = ImportJobs()
    app.on_shutdown.append(app[IMPORT_JOBS].close)


__all__ = ["IMPORT_JOBS", "install_jobs", "routes"]
