"""The dashboard at ``/dashboard``: static pages from the package that call the ``/v1`` API.

``api/static/dashboard/`` holds the page (``index.html``), its scripts (ES
modules, no build step), its stylesheet, and Apache ECharts 6.1.0
(``vendor/echarts/``: ``dist/echarts.min.js`` of ``npm pack echarts``,
unmodified, with its LICENSE, NOTICE and ``licenses/LICENSE-d3``). Nothing is
fetched from a CDN: the server may have no internet (docs/decisions/0010).
To upgrade ECharts, replace those files from a newer ``npm pack echarts`` and
run the browser tests (tests/integration/test_dashboard_browser.py).

People sign in at ``/sign-in`` (``sign-in.html``: username and password, the
forced first password change, the TOTP second factor and its enrolment); the
dashboard then calls the API with the session cookie (``credentials:
'same-origin'``) and sends ``X-CSRF-Token`` on writes, and sends anyone without
a session to ``/sign-in``. The server hands out nothing but files here, so these
routes are public and every figure keeps the API's role and tenancy checks.

A stopped projection is shown on every view: the page reads the public
``/readyz`` with each load and shows a banner (``#projection-banner``, Chinese
first and English beside it: 统计投影已停止 / Projection stopped) naming each
stopped projection, the position its figures stay at, the event it stopped
on and the error's class; a panel whose answer carries a ``stale`` member
(api/staleness.py) says the position its figures reflect and the log head.

Every dashboard response carries its own security headers, set on the
response itself so that the app-wide defaults (which only fill in headers a
response lacks) leave them alone: a Content-Security-Policy that allows
scripts and styles from this origin only (no inline script or style, no
eval), ``nosniff``, ``no-referrer`` and ``DENY`` framing.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from api.problems import HTTPProblem

DASHBOARD_DIR = Path(__file__).parent / "static" / "dashboard"
INDEX = DASHBOARD_DIR / "index.html"
SIGN_IN = DASHBOARD_DIR / "sign-in.html"
PATH = "/dashboard"
SIGN_IN_PATH = "/sign-in"
STATIC_PREFIX = "/dashboard/static/"

DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": DASHBOARD_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def _headers(content_type: str, cache: str) -> dict[str, str]:
    return {**SECURITY_HEADERS, "Content-Type": content_type, "Cache-Control": cache}


async def page(request: web.Request) -> web.StreamResponse:
    # The page itself is never cached: it names the assets, and a new version must show at once.
    return web.FileResponse(INDEX, headers=_headers(CONTENT_TYPES[".html"], "no-store"))


async def sign_in_page(request: web.Request) -> web.StreamResponse:
    """The sign-in page (password, first password change, second factor); same CSP as the dashboard."""
    return web.FileResponse(SIGN_IN, headers=_headers(CONTENT_TYPES[".html"], "no-store"))


def _assets() -> dict[str, Path]:
    root = DASHBOARD_DIR.resolve()
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in CONTENT_TYPES}


ASSETS = _assets()
"""The files served, by their path under the folder: a request is looked up here, never opened as a
path, so no encoding, ``..``, NUL or odd character can reach the file system (404 for all of them)."""


async def asset(request: web.Request) -> web.StreamResponse:
    """A file of the dashboard folder, by its exact name; anything else is 404."""
    relative = request.match_info["path"]
    target = ASSETS.get(relative)
    if target is None:
        raise HTTPProblem(404, "not-found", "Not found", "no such dashboard file", detail_zh="没有这个仪表盘文件")
    content_type = CONTENT_TYPES[target.suffix]
    # Revalidated on every load (ETag / Last-Modified), so an upgrade shows without a stale bundle.
    return web.FileResponse(target, headers=_headers(content_type, "no-cache"))


async def trailing_slash(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(PATH, headers=SECURITY_HEADERS)


def install(app: web.Application) -> None:
    app.router.add_get(PATH, page, name="dashboard")
    app.router.add_get(SIGN_IN_PATH, sign_in_page, name="sign_in_page")
    app.router.add_get(PATH + "/", trailing_slash, name="dashboard_slash")
    app.router.add_get(STATIC_PREFIX + "{path:.+}", asset, name="dashboard_asset")
