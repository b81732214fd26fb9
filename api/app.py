"""The aiohttp application factory.

Resources live in ``cleanup_ctx`` and typed ``web.AppKey`` state, as aiohttp
recommends, so that the app starts and stops the ledger with the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ledger.bootstrap import Ledger, open_ledger
from ledger.settings import Settings

LEDGER = web.AppKey("ledger", Ledger)
SETTINGS = web.AppKey("settings", Settings)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    ledger = request.app[LEDGER]
    try:
        head = await ledger.store.head()
    except Exception as exc:
        return web.json_response(
            {"status": "unavailable", "database": str(type(exc).__name__)}, status=503,
            headers={"Retry-After": "2"},
        )
    return web.json_response({"status": "ready", "database": "reachable", "log_head": head})


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> web.Application:
    """Build the app; with ``ledger`` given (tests) it is used and not closed."""
    settings = settings or Settings()
    app = web.Application()
    app[SETTINGS] = settings

    async def ledger_ctx(app: web.Application) -> AsyncIterator[None]:
        if ledger is not None:
            app[LEDGER] = ledger
            yield
            return
        opened = await open_ledger(settings)
        app[LEDGER] = opened
        try:
            yield
        finally:
            await opened.close()

    app.cleanup_ctx.append(ledger_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
