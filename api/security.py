"""Browser-facing protections: security headers on every response, and CORS (off unless configured).

Installed by ``api/app.py`` (:func:`install`), after ``api/middleware.py``.

Security headers (:func:`on_prepare`, an ``on_response_prepare`` signal, so it
sees every response: errors, 404s of unknown paths, static files):

* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
  ``X-Frame-Options: DENY``;
* ``Content-Security-Policy``: the reference page ``/docs`` may load its own
  scripts, styles and images (``DOCS_CSP``); everything else, JSON and problem
  documents above all, may load nothing and be framed by nobody (``API_CSP``);
* ``Cache-Control: no-store`` on everything but the versioned static assets of
  ``/docs`` (``no-cache``: revalidated), so no proxy or browser keeps an
  authenticated answer.

Each header is only filled in when the response lacks it: a part of the app
that sets its own (the dashboard, ``api/dashboard.py``, sends its own CSP) keeps
it.

CORS: with ``TTLEDGER_CORS_ORIGINS`` empty (the default) the API sends no
``Access-Control-Allow-Origin`` at all, so browsers on other origins cannot
read its answers, and preflights are not answered specially. With origins
configured, :func:`cors` answers preflights from them (and refuses others with
403), and :func:`on_prepare` adds ``Access-Control-Allow-Origin`` for them.
"""

from __future__ import annotations

from aiohttp import web

from api.middleware import Handler
from api.problems import forbidden
from api.state import API_SETTINGS

DOCS_PATH = "/docs"
DOCS_STATIC = "/docs/static/"

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-Match, Last-Event-ID, X-Request-Id"
CORS_EXPOSE_HEADERS = (
    "ETag, Location, Retry-After, X-Request-Id, WWW-Authenticate, X-Log-Position, X-Projection-Position, "
    "X-Projection-Stopped, X-Projection-Rebuilding, X-Log-Head"
)


def allowed_origin(request: web.Request) -> str | None:
    """The value of ``Access-Control-Allow-Origin`` for this request, or ``None`` (no CORS)."""
    origin = request.headers.get("Origin")
    settings = request.app.get(API_SETTINGS)
    if not origin or settings is None:
        return None
    allowed = settings.allowed_origins()
    if "*" in allowed:
        return "*"
    return origin if origin.rstrip("/") in allowed else None


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS preflights for the configured origins; installed only when some are configured."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        origin = allowed_origin(request)
        if origin is None:
            return forbidden("cors-origin", "this origin is not allowed to call the API",
                             detail_zh="不允许此来源调用 API").response(request)
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
    """The security headers every response carries (unless it set its own), and CORS when configured."""
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    path = request.path
    headers.setdefault("Content-Security-Policy", DOCS_CSP if path == DOCS_PATH else API_CSP)
    if path.startswith(DOCS_STATIC):
        headers.setdefault("Cache-Control", "no-cache")  # revalidate with ETag / Last-Modified
    else:
        headers.setdefault("Cache-Control", "no-store")
    settings = request.app.get(API_SETTINGS)
    if settings is not None and settings.cors_origins:
        origin = allowed_origin(request)
        if origin is not None and "Access-Control-Allow-Origin" not in headers:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
            headers.add("Vary", "Origin")


def install(app: web.Application) -> None:
    """Add the headers to every response; answer CORS preflights if origins are configured.

    Call after ``api.middleware.install``: the CORS middleware then runs inside
    the request context (ids, access log) like every handler.
    """
    settings = app.get(API_SETTINGS)
    if settings is not None and settings.allowed_origins():
        app.middlewares.append(cors)
    app.on_response_prepare.append(on_prepare)
