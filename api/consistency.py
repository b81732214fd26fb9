"""Read-your-writes: ``min_position`` on GET queries, and the in-process projection runner.

Every write answers with the global log ``position`` after it (body and
``X-Log-Position``). A GET that passes ``?min_position=P`` is answered only
once what it reads includes position ``P``:

* reads of records (contracts, achievements, ...) and of the books
  (balances, journal) come straight from the event store and the postings
  written in the same transaction, so they include ``P`` as soon as the log
  head has reached it: the wait only matters for a position from the future;
* statistics come from the projections, which follow the log a little
  behind: the read waits until the projections it reads (its route's
  ``@reads``, api/staleness.py; every projection for a route that declares
  none) have applied ``P``. If one of them has stopped on an event before
  ``P`` (docs/reliability.md), it cannot get there: the answer is the same
  503 at once, naming the stopped projection (``stopped``).

The wait is bounded (``TTLEDGER_READ_WAIT_TIMEOUT``, 5 s by default); past it
the answer is ``503`` (``…/position-not-reached``) with ``Retry-After``, the
position asked for and the position reached, and nothing is read.

The app runs a :class:`~projections.runner.ProjectionRunner` in the server
process (``TTLEDGER_RUN_PROJECTIONS``, on by default) over
``projections.registry.all_projections()``. When projections are kept by
another process instead, projection reads poll the positions that process
records in ``tracking``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import structlog
from aiohttp import web

from api.problems import HTTPProblem, unprocessable
from api.staleness import request_reads, stale_projections
from api.state import API_SETTINGS, LEDGER, PROJECTIONS, ApiSettings

log = structlog.get_logger(__name__)

RETRY_AFTER_POSITION = 1
RETRY_AFTER_STOPPED = 60
POLL_SECONDS = 0.05
WHAT_ZH = {"event log": "事件日志", "projections": "投影（统计读侧）"}


def not_reached(min_position: int, reached: int, what: str) -> HTTPProblem:
    return HTTPProblem(
        503, "position-not-reached", "Position not reached yet",
        f"the {what} reached position {reached}, not {min_position}, within the wait limit; retry shortly",
        detail_zh=f"{WHAT_ZH.get(what, what)}在等待时限内到达日志位置 {reached}，未到 {min_position}；请稍后重试",
        headers={"Retry-After": str(RETRY_AFTER_POSITION)},
        min_position=min_position, position=reached,
    )


async def wait_for_log(app: web.Application, min_position: int | None) -> None:
    """Return once the log head is at ``min_position`` or beyond (503 after the wait limit)."""
    if min_position is None:
        return
    store = app[LEDGER].store
    deadline = time.monotonic() + app[API_SETTINGS].read_wait_timeout
    while (head := await store.head()) < min_position:
        if time.monotonic() >= deadline:
            raise not_reached(min_position, head, "event log")
        await asyncio.sleep(POLL_SECONDS)


async def refuse_beyond_head(app: web.Application, **positions: int | None) -> int:
    """The log head; a 422 naming each of ``positions`` (``known_at`` …) that lies beyond it,
    where the ledger knows nothing yet."""
    head = await app[LEDGER].store.head()
    problems = [
        {"field": name, "rule": "statistics_query_valid",
         "detail": f"position {value} is beyond the log head ({head}): nothing is known there yet",
         "detail_zh": f"日志位置 {value} 超出日志头（{head}）：账本尚未记录到该位置"}
        for name, value in positions.items() if value is not None and value > head
    ]
    if problems:
        raise unprocessable(problems)
    return head


def _where(where: web.Application | web.Request) -> tuple[web.Application, tuple[str, ...] | None]:
    """The app, and the projections the request's route reads (``None``: all of them)."""
    if isinstance(where, web.Request):
        return where.app, request_reads(where)
    return where, None


async def projection_position(where: web.Application | web.Request) -> int:
    """The lowest position the projections a read uses have applied (what its figures include)."""
    app, names = _where(where)
    runner = app.get(PROJECTIONS)
    if runner is not None:
        return runner.lowest_position(names)
    chosen = list(names) if names is not None else _projection_names()
    if not chosen:
        return 0
    value = await app[LEDGER].store.pool.fetchval(
        "SELECT coalesce(min(t.position), 0) FROM unnest($1::text[]) AS n(name) "
        "LEFT JOIN tracking t ON t.subscriber = n.name",
        chosen,
    )
    return int(value or 0)


async def wait_for_projections(where: web.Application | web.Request, min_position: int | None) -> int:
    """Wait until the projections a read uses include ``min_position``; return the position they reached.

    Pass the request (``call.request``): the projections are then those its
    route declares (``@reads``); with the app, every projection.
    """
    if min_position is None:
        return await projection_position(where)
    app, names = _where(where)
    timeout = app[API_SETTINGS].read_wait_timeout
    runner = app.get(PROJECTIONS)
    if runner is not None:
        _refuse_if_stopped(runner, names, min_position)
        if not await runner.wait_for(min_position, timeout, names):
            _refuse_if_stopped(runner, names, min_position)  # it may have stopped meanwhile
            raise not_reached(min_position, runner.lowest_position(names), "projections")
        return runner.lowest_position(names)
    deadline = time.monotonic() + timeout
    while (reached := await projection_position(where)) < min_position:
        if time.monotonic() >= deadline:
            raise not_reached(min_position, reached, "projections")
        await asyncio.sleep(POLL_SECONDS)
    return reached


def _refuse_if_stopped(runner: Any, names: tuple[str, ...] | None, min_position: int) -> None:
    """503 at once when a projection the read needs stopped before ``min_position``: no wait helps."""
    chosen = names if names is not None else tuple(p.name for p in runner.projections)
    stopped = [e for e in stale_projections(runner, chosen)
               if e["state"] == "stopped" and e["position"] < min_position]
    if not stopped:
        return
    shown = ", ".join(f"{e['projection']} (at position {e['position']}, {e['error']})" for e in stopped)
    problem = not_reached(min_position, runner.lowest_position(names), "projections")
    problem.detail = (f"position {min_position} cannot be reached until a stopped projection is fixed and "
                      f"rebuilt: {shown}")
    problem.detail_zh = f"须待已停止的投影修复并重建后才能到达位置 {min_position}：{shown}"
    problem.headers["Retry-After"] = str(RETRY_AFTER_STOPPED)
    problem.extensions["stopped"] = stopped
    raise problem


# ---- the in-process runner ----------------------------------------------------------


def _projection_names() -> list[str]:
    try:
        from projections.registry import projection_names
    except ImportError:
        return []
    return projection_names()


def _all_projections() -> Sequence[Any] | None:
    """``projections.registry.all_projections()``, or ``None`` where the read side is absent."""
    try:
        from projections.registry import all_projections
    except ImportError:
        return None
    return all_projections()


async def _keep_running(runner: Any, retry_seconds: float) -> None:
    """Set up and follow the log for ever; a failure (database down) is retried, not fatal."""
    while True:
        try:
            await runner.setup()
            await runner.run_forever()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("projection_runner_restarting", error=repr(exc)[:300])
            await asyncio.sleep(retry_seconds)


def projections_context(
    settings: ApiSettings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` step after the ledger's: run the projections while the app runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        ledger = app[LEDGER]
        projections = _all_projections() if settings.run_projections else None
        if projections is None:
            yield
            return
        from projections.decoding import fast_mapper
        from projections.runner import ProjectionRunner

        # The read side's decoder, as `ttledger project` and `rebuild` use: faster, and it reads an
        # older log's unstorable text as U+FFFD instead of stopping on it (projections/decoding.py).
        runner = ProjectionRunner(ledger.store, fast_mapper(), projections)
        app[PROJECTIONS] = runner
        task = asyncio.create_task(_keep_running(runner, retry_seconds=1.0), name="ttledger-projections")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    return ctx
