"""The workbench at ``/workbench``: pages for the people who record (exchanges' operators, universities' offices).

``api/static/workbench/`` holds the page (``index.html``), its scripts (ES modules, no build step)
and its stylesheet; nothing is fetched from a CDN. The page calls the ``/v1`` API with the session
cookie of ``/sign-in`` (writes carry ``X-CSRF-Token``) and sends anyone without a session to
``/sign-in?next=/workbench``. Lists, the work queue (待办), record pages and forms are all built in
the browser from the API's answers and its OpenAPI document (``/v1/openapi.json``): a command's form
is generated from its request body schema (api/static/workbench/forms.js, docs/workbench.md).

``GET /workbench/labels.json`` gives the Chinese label of every enumeration member the forms show
(``domain.enums.CHINESE_LABELS``, keyed by the enumeration's name as the OpenAPI document's schemas
title it), so the labels have one source.

The server hands out nothing but files and those labels here, so these routes are public and every
record keeps the API's role and tenancy checks. The responses carry the dashboard's security headers
(api/dashboard.py): a Content-Security-Policy allowing scripts and styles from this origin only,
``nosniff``, ``no-referrer`` and ``DENY`` framing.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from api.dashboard import CONTENT_TYPES, SECURITY_HEADERS
from api.problems import HTTPProblem
from domain.enums import CHINESE_LABELS

WORKBENCH_DIR = Path(__file__).parent / "static" / "workbench"
INDEX = WORKBENCH_DIR / "index.html"
PATH = "/workbench"
STATIC_PREFIX = "/workbench/static/"
LABELS_PATH = "/workbench/labels.json"


def _headers(content_type: str, cache: str) -> dict[str, str]:
    return {**SECURITY_HEADERS, "Content-Type": content_type, "Cache-Control": cache}


def _assets() -> dict[str, Path]:
    root = WORKBENCH_DIR.resolve()
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in CONTENT_TYPES}


ASSETS = _assets()
"""The files served, by their path under the folder: a request is looked up here, never opened as a path."""

LABELS = json.dumps({enum.__name__: dict(labels) for enum, labels in CHINESE_LABELS.items()},
                    ensure_ascii=False, sort_keys=True).encode("utf-8")
"""The Chinese labels of the enumerations, by enumeration name then value."""


async def page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(INDEX, headers=_headers(CONTENT_TYPES[".html"], "no-store"))


async def asset(request: web.Request) -> web.StreamResponse:
    """A file of the workbench folder, by its exact name; anything else is 404."""
    target = ASSETS.get(request.match_info["path"])
    if target is None:
        raise HTTPProblem(404, "not-found", "Not found", "no such workbench file", detail_zh="没有这个工作台文件")
    return web.FileResponse(target, headers=_headers(CONTENT_TYPES[target.suffix], "no-cache"))


async def labels(request: web.Request) -> web.StreamResponse:
    return web.Response(body=LABELS, headers=_headers("application/json; charset=utf-8", "no-cache"))


async def trailing_slash(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(PATH, headers=SECURITY_HEADERS)


def install(app: web.Application) -> None:
    app.router.add_get(PATH, page, name="workbench")
    app.router.add_get(PATH + "/", trailing_slash, name="workbench_slash")
    app.router.add_get(LABELS_PATH, labels, name="workbench_labels")
    app.router.add_get(STATIC_PREFIX + "{path:.+}", asset, name="workbench_asset")
