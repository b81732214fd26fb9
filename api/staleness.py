"""Which projections a read answers from, and how stale that answer is when one has stopped.

A route that reads projection tables declares which projections it reads,
beside its route declaration::

    @routes.get("/v1/statistics/transfer-rate", ...)
    @reads("transfer", "contracts")
    async def get_transfer_rate(call): ...

(``@reads()`` with no name declares a route that touches ``projections/`` but
reads none of their tables.) One middleware (:func:`staleness`) then does the
rest for every such route, whatever its handler does:

* it tells ``api.consistency.wait_for_projections`` which projections the
  read waits for (``min_position``) and which position it reflects: the lowest
  of *those* projections, so a projection stopped elsewhere neither delays nor
  marks an answer that does not read it;
* every answer carries ``X-Projection-Position``;
* while one of those projections is stopped (it failed on an event) or being
  rebuilt by another process (its tables are partial meanwhile), the answer
  also carries ``X-Projection-Stopped`` (or ``X-Projection-Rebuilding``), an
  RFC 8941 list
  ``contracts;position=40;failed-at=41;error=CharacterNotInRepertoireError``,
  and ``X-Log-Head``; a JSON object answer gains a ``stale`` member::

      "stale": {"log_head": 57, "projections": [{"projection": "contracts",
                "state": "stopped", "position": 40, "failed_at": 41,
                "error": "CharacterNotInRepertoireError", "message": "invalid byte ..."}]}

Answers kept by the response cache (api/response_cache.py) pass through the
same middleware, so they carry the same marks; the cache's freshness includes
which projections are stopped, so a kept answer never outlives a stop or a
resume. The error's message has every quoted value blanked out
(``projections.runner.short_message``): the event's content never reaches an
answer. docs/reliability.md ("When a projection stops") describes it all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from api.problems import request_key
from api.state import LEDGER, PROJECTIONS
from projections.runner import ProjectionRunner

POSITION_HEADER = "X-Projection-Position"
STOPPED_HEADER = "X-Projection-Stopped"
REBUILDING_HEADER = "X-Projection-Rebuilding"
LOG_HEAD_HEADER = "X-Log-Head"
STALE_MEMBER = "stale"

READS_ATTRIBUTE = "__projection_reads__"
READS_KEY = request_key("projection_reads", tuple)
"""The projections the request's route reads (set by :func:`staleness` before the handler runs)."""
ROUTE_READS = web.AppKey("route_projection_reads", dict)
"""Operation id → the projections that route reads, for every route that declares them."""

Handler = Callable[..., Awaitable[Any]]


def reads(*names: str) -> Callable[[Handler], Handler]:
    """Declare the projections a route's handler reads (apply below the route decorator)."""
    from projections.registry import projection_names

    unknown = sorted(set(names) - set(projection_names()))
    if unknown:
        raise ValueError(f"no projection named {unknown}; known: {projection_names()}")

    def mark(handler: Handler) -> Handler:
        setattr(handler, READS_ATTRIBUTE, tuple(dict.fromkeys(names)))
        return handler

    return mark


def declared_reads(handler: Any) -> tuple[str, ...] | None:
    """What ``@reads`` declared on ``handler`` (``None``: nothing declared)."""
    value = getattr(handler, READS_ATTRIBUTE, None)
    return tuple(value) if value is not None else None


def request_reads(request: web.Request) -> tuple[str, ...] | None:
    """The projections the request's route reads, or ``None`` for a route that declares none."""
    value = request.get(READS_KEY)
    return tuple(value) if value is not None else None


def stale_projections(runner: ProjectionRunner, names: Sequence[str]) -> list[dict[str, Any]]:
    """The named projections that are stopped or being rebuilt elsewhere, as the API shows them."""
    failures = runner.failures()
    rebuilding = runner.rebuilding()
    out: list[dict[str, Any]] = []
    for name in names:
        try:
            position = runner.position(name)
        except KeyError:  # not set up yet
            continue
        failed = failures.get(name)
        if failed is None and name not in rebuilding:
            continue
        entry: dict[str, Any] = {"projection": name, "state": "rebuilding" if name in rebuilding else "stopped",
                                 "position": position}
        if failed is not None:
            entry.update(failed_at=failed.position, error=failed.error, message=failed.message)
        out.append(entry)
    return out


def _header_list(entries: list[dict[str, Any]]) -> str:
    """An RFC 8941 list: ``name;position=40;failed-at=41;error=Class`` per projection."""
    items = []
    for e in entries:
        item = f"{e['projection']};position={e['position']}"
        if "failed_at" in e:
            item += f";failed-at={e['failed_at']};error={e['error']}"
        items.append(item)
    return ", ".join(items)


async def _log_head(app: web.Application) -> int | None:
    ledger = app.get(LEDGER)
    if ledger is None:
        return None
    with contextlib.suppress(Exception):  # the database away: the marks still go out, without the head
        return await ledger.store.head()
    return None


@web.middleware
async def staleness(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    names = request.app.get(ROUTE_READS, {}).get(route.name) if route.name else None
    if names is None:
        response: web.StreamResponse = await handler(request)
        return response
    request[READS_KEY] = names
    response = await handler(request)
    runner = request.app.get(PROJECTIONS)
    if runner is None or not names:
        return response
    if POSITION_HEADER not in response.headers:
        response.headers[POSITION_HEADER] = str(runner.lowest_position(names))
    stale = stale_projections(runner, names)
    if not stale:
        return response
    head = await _log_head(request.app)
    stopped = [e for e in stale if e["state"] == "stopped"]
    rebuilding = [e for e in stale if e["state"] == "rebuilding"]
    if stopped:
        response.headers[STOPPED_HEADER] = _header_list(stopped)
    if rebuilding:
        response.headers[REBUILDING_HEADER] = _header_list(rebuilding)
    if head is not None:
        response.headers[LOG_HEAD_HEADER] = str(head)
    return _with_stale_member(response, {"log_head": head, "projections": stale})


def _with_stale_member(response: web.StreamResponse, stale: dict[str, Any]) -> web.StreamResponse:
    """A JSON object answer with the ``stale`` member added; any other answer as it was."""
    if not (isinstance(response, web.Response) and response.status == 200
            and response.content_type == "application/json" and isinstance(response.body, bytes)):
        return response
    try:
        doc = json.loads(response.body)
    except ValueError:
        return response
    if not isinstance(doc, dict):
        return response
    doc[STALE_MEMBER] = stale
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return web.Response(status=response.status, headers=headers, content_type="application/json",
                        body=json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def install(app: web.Application, routes: Any) -> None:
    """Serve the marks on every route of ``routes`` (a ``RouteRegistry``) that declares its reads."""
    declared: dict[str, tuple[str, ...]] = {}
    for spec in routes.routes:
        names = declared_reads(spec.handler)
        if names is not None:
            declared[spec.operation_id] = names
    app[ROUTE_READS] = declared
    app.middlewares.append(staleness)
