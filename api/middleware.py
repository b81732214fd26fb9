"""Cross-cutting HTTP behaviour: request ids, access log, problem+json.

Order (outermost first):

1. :func:`request_context` chooses the request's language (``?lang=`` or
   ``Accept-Language``, Chinese by default: ``api/language.py``) and gives every request an id (the client's
   ``X-Request-Id`` if sane, else a new one), binds it into structlog's
   contextvars so every log line of the request carries it, and writes one
   access line per request (method, route, status, duration). Headers are
   never logged, so neither is ``Authorization``. The same figures feed the
   latency histogram of ``/metrics`` (``api/metrics.py``).
2. :func:`problems` turns whatever a handler raises into a problem+json
   response (``api/problems.py``); unexpected exceptions are logged with the
   request id and answered with a 500 that says nothing of the internals.

:func:`on_prepare` (a ``on_response_prepare`` signal, so it sees every
response, errors included) echoes the id. Security headers and CORS are
``api/security.py``'s.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from api.language import (
    CONTENT_LANGUAGE,
    LANG_KEY,
    LANG_PARAMETER,
    LANGUAGES,
    language_of,
    negotiate,
)
from api.metrics import METRICS
from api.problems import REQUEST_ID_KEY, internal_error, problem_for, unprocessable

log = structlog.get_logger("api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_TOKEN_LIKE = re.compile(r"ttl_[A-Za-z0-9_-]{8,}")
CLIENT_CLOSED_REQUEST = 499
"""Status logged (never sent) for a request whose client went away first, as nginx does."""


def request_id_of(request: web.Request) -> str:
    return str(request.get(REQUEST_ID_KEY, ""))


def _route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "-"


def _loggable_path(path: str) -> str:
    """The path without anything shaped like a token (should a client put one there)."""
    return _TOKEN_LIKE.sub("ttl_[redacted]", path)[:512]


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    offered = request.headers.get("X-Request-Id", "")
    # A token pasted into the header by mistake is not taken (it would be logged and echoed).
    sane = _SANE_REQUEST_ID.match(offered) and not _TOKEN_LIKE.search(offered)
    request_id = offered if sane else uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id
    request[LANG_KEY] = negotiate(request)
    outer = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse
        asked = request.query.getall(LANG_PARAMETER, [])
        if asked and (len(asked) > 1 or asked[0] not in LANGUAGES):
            response = unprocessable([{
                "field": LANG_PARAMETER, "rule": "validation.lang", "in": "query",
                "detail": f"lang is one of {', '.join(LANGUAGES)} (zh: 简体中文, en: English), given once",
                "detail_zh": f"lang 取 {'、'.join(LANGUAGES)} 之一（zh：简体中文，en：English），且只给一次",
            }]).response(request)
        else:
            response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # only if raised outside ``problems`` (e.g. by CORS)
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED_REQUEST  # the client went away before the answer
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = _route_of(request)
        metrics = request.app.get(METRICS)
        if metrics is not None:
            metrics.observe(request.method, route, status, elapsed)
        log.info(
            "http_request",
            method=request.method,
            route=route,
            path=_loggable_path(request.path),
            status=status,
            duration_ms=round(elapsed * 1000, 1),
        )
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**outer)


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _answer(request, exc)
    except Exception as exc:
        return _answer(request, exc)


def _answer(request: web.Request, exc: Exception) -> web.StreamResponse:
    try:
        problem = problem_for(exc, request)
    except Exception:  # a bug in the mapping itself must not escape as aiohttp's own 500
        log.exception("problem_mapping_failed", error_type=type(exc).__name__)
        problem = None
    if problem is None:
        log.exception("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
        problem = internal_error()
    elif problem.status >= 500:
        log.warning("service_unavailable", error_type=type(exc).__name__, error=str(exc)[:200])
    return problem.response(request)


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, error responses included, carries the request's id and its language."""
    request_id = request.get(REQUEST_ID_KEY)
    if request_id:
        response.headers["X-Request-Id"] = request_id
    response.headers.setdefault("Content-Language", CONTENT_LANGUAGE[language_of(request)])
    if "Accept-Language" not in response.headers.getall("Vary", []):
        response.headers.add("Vary", "Accept-Language")


def install(app: web.Application) -> None:
    app.middlewares.append(request_context)
    app.middlewares.append(problems)
    app.on_response_prepare.append(on_prepare)
