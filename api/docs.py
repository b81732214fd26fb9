"""The API reference page at ``/docs``: Swagger UI served from the package, no CDN.

``api/static/swagger-ui/`` holds swagger-ui-dist 5.35.0 (Apache-2.0; LICENSE,
NOTICE and the bundle's third-party notices beside it), unmodified, as
``npm pack swagger-ui-dist`` delivers it. To upgrade, replace
``swagger-ui-bundle.js``, ``swagger-ui.css`` and the licence files from a
newer ``npm pack`` and check the page with the docs tests.

The page loads only same-origin assets; its initialiser is a separate file
(``docs.js``) so the Content-Security-Policy can forbid inline scripts.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"
DOCS_HTML = STATIC_DIR / "docs.html"


async def docs_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(DOCS_HTML, headers={"Content-Type": "text/html; charset=utf-8"})


def install(app: web.Application) -> None:
    app.router.add_get("/docs", docs_page, name="docs")
    app.router.add_static("/docs/static", STATIC_DIR, name="docs_static", append_version=False)
