"""Cross-cutting HTTP behaviour: request ids, access log, problem+json, CORS, security headers.

Order (outermost first):

1. :func:`request_context` gives every request an id (the client's
   ``X-Request-Id`` if sane, else a new one), binds it into structlog's
   contextvars so every log line of the request carries it, and writes one
   access line per request (method, route, status, duration). Headers are
   never logged, so neither is ``Authorization``. The same figures feed the
   latency histogram of ``/metrics`` (``api/metrics.py``).
2. :func:`cors` (only when ``TTLEDGER_CORS_ORIGINS`` is set) answers preflights.
3. :func:`problems` turns whatever a handler raises into a problem+json
   response (``api/problems.py``); unexpected exceptions are logged with the
   request id and answered with a 500 that says nothing of the internals.

:func:`on_prepare` (a ``on_response_prepare`` signal, so it sees every
response, errors included) adds the security headers and echoes the id.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from api.metrics import METRICS
from api.problems import REQUEST_ID_KEY, forbidden, internal_error, problem_for
from api.state import API_SETTINGS

log = structlog.get_logger("api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_TOKEN_LIKE = re.compile(r"ttl_[A-Za-z0-9_-]{8,}")
CLIENT_CLOSED_REQUEST = 499
"""Status logged (never sent) for a request whose client went away first, as nginx does."""
DOCS_PATH = "/docs"
DOCS_STATIC = "/docs/static/"

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-Match, Last-Event-ID, X-Request-Id"
CORS_EXPOSE_HEADERS = (
    "ETag, Location, Retry-After, X-Request-Id, WWW-Authenticate, X-Log-Position, X-Projection-Position"
)


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
    request_id = offered if _SANE_REQUEST_ID.match(offered) else uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id
    outer = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
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


def _allowed_origin(request: web.Request) -> str | None:
    origin = request.headers.get("Origin")
    if not origin:
        return None
    allowed = request.app[API_SETTINGS].allowed_origins()
    if "*" in allowed:
        return "*"
    return origin if origin.rstrip("/") in allowed else None


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS for the configured origins; installed only when some are configured."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        origin = _allowed_origin(request)
        if origin is None:
            return forbidden("cors-origin", "this origin is not allowed to call the API").response(request)
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
                "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )
    return await handler(request)


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every response carries, error responses included."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    path = request.path
    headers.setdefault("Content-Security-Policy", DOCS_CSP if path == DOCS_PATH else API_CSP)
    if path.startswith(DOCS_STATIC):
        headers.setdefault("Cache-Control", "no-cache")  # revalidate with ETag / Last-Modified
    else:
        headers.setdefault("Cache-Control", "no-store")
    request_id = request.get(REQUEST_ID_KEY)
    if request_id:
        headers["X-Request-Id"] = request_id
    settings = request.app.get(API_SETTINGS)
    if settings is not None and settings.cors_origins:
        origin = _allowed_origin(request)
        if origin is not None and "Access-Control-Allow-Origin" not in headers:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
            headers.add("Vary", "Origin")


def install(app: web.Application, *, cors_enabled: bool) -> None:
    app.middlewares.append(request_context)
    if cors_enabled:
        app.middlewares.append(cors)
    app.middlewares.append(problems)
    app.on_response_prepare.append(on_prepare)
