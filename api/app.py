"""The aiohttp application factory.

Resources live in ``cleanup_ctx`` and typed ``web.AppKey`` state, as aiohttp
recommends, so that the app starts and stops the ledger with the server.

Routes are declared with ``api.routing.RouteRegistry`` in route modules and
included here (``ROUTE_MODULES``); the same declarations give the OpenAPI
document at ``/v1/openapi.json`` and the reference page at ``/docs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from importlib import metadata
from typing import Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, Field

from api import dashboard, docs, middleware, security, staleness, workbench
from api.auth import AUTH_LIMITER, FORWARDED_HOPS, SESSIONS, TOKENS, USERS, FailureLimiter
from api.consistency import projections_context
from api.metrics import METRICS, Metrics, metrics_handler
from api.problems import unavailable
from api.response_cache import RESPONSE_CACHE, ResponseCache
from api.routes import ALL as DOMAIN_ROUTES
from api.routes import accounts, events, imports
from api.routing import ANY_ROLE, PUBLIC, ROUTES, Call, RouteRegistry
from api.state import API_SETTINGS, LEDGER, PROJECTIONS, SETTINGS, ApiSettings
from ledger.bootstrap import Ledger, open_ledger
from ledger.sessions import SessionService
from ledger.settings import Settings
from ledger.tokens import TokenService
from ledger.users import UserService

__all__ = ["API_SETTINGS", "LEDGER", "ROUTES", "SETTINGS", "ApiSettings", "create_app"]

API_DESCRIPTION = """\
The ttledger HTTP API. Authenticate with `Authorization: Bearer ttl_…` (a token
from `ttledger token create`, or a personal token from `POST /v1/tokens`), or
in a browser with the session cookie of `POST /v1/session` (writes then carry
`X-CSRF-Token`). Every error is `application/problem+json`
(RFC 9457) with a stable `type`, a `request_id`, and for validation and
domain errors an `errors` list of `{field, rule, detail}`. See docs/api.md.
"""

core = RouteRegistry()


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ProjectionStatus(BaseModel):
    name: str
    state: Literal["running", "stopped", "rebuilding"] = Field(
        default="running",
        description="`stopped`: it failed on an event and applies nothing until fixed and rebuilt; "
        "`rebuilding`: another process rebuilds it (`ttledger rebuild`; a stopped one keeps its "
        "`failed_at` until the rebuild gets past it).",
    )
    position: int = Field(description="The last log position it applied: what its tables reflect.")
    lag: int = Field(default=0, description="log_head − position.")
    failed_at: int | None = Field(default=None, description="The position of the event it stopped on.")
    topic: str | None = Field(default=None, description="The kind of that event (never its content).")
    error: str | None = Field(default=None, description="The error's class, e.g. `CharacterNotInRepertoireError`.")
    message: str | None = Field(
        default=None, description="The error's first line, shortened, quoted values blanked out."
    )


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    database: Literal["reachable"] = "reachable"
    log_head: int = Field(description="Global position of the newest event.")
    projection_position: int | None = Field(
        default=None, description="The lowest position every projection has applied (none without a runner)."
    )
    projection_lag: int | None = Field(
        default=None, description="log_head − projection_position: events not yet in the statistics."
    )
    projections_stopped: list[str] = Field(
        default_factory=list, description="Names of the projections stopped on an event (see `projections`)."
    )
    projections: list[ProjectionStatus] = Field(default_factory=list)


class WhoAmI(BaseModel):
    token_id: UUID
    role: str
    institution_id: UUID | None
    name: str


@core.get("/healthz", roles=PUBLIC, response=Health, tags=("operations",))
async def healthz(call: Call[None, None]) -> Health:
    """Liveness: the process answers."""
    return Health()


@core.get("/readyz", roles=PUBLIC, response=Readiness, tags=("operations",))
async def readyz(call: Call[None, None]) -> Readiness:
    """Readiness: the database answers; how far the projections lag behind the log.

    503 (problem+json, with Retry-After) while the database does not answer. A
    projection that stopped on an event is listed (`state` `stopped`, the event's
    position, topic, error class and a short message, never the event's
    content) but does not make the server unready: writes, record reads and the
    other projections go on (docs/reliability.md, "When a projection stops").
    """
    try:
        head = await call.ledger.store.head()
    except Exception as exc:
        raise unavailable(f"the database check failed ({type(exc).__name__}); retry shortly",
                          f"数据库检查失败（{type(exc).__name__}），请稍后重试") from exc
    runner = call.app.get(PROJECTIONS)
    if runner is None:
        return Readiness(log_head=head)
    failures = runner.failures()
    rebuilding = runner.rebuilding()
    statuses = []
    for p in runner.projections:
        failed = failures.get(p.name)
        try:
            position = runner.position(p.name)
        except KeyError:  # not set up yet
            position = 0
        state: Literal["running", "stopped", "rebuilding"] = (
            "rebuilding" if p.name in rebuilding else "stopped" if failed else "running")
        statuses.append(ProjectionStatus(
            name=p.name, state=state, position=position, lag=max(0, head - position),
            failed_at=failed.position if failed else None, topic=failed.topic if failed else None,
            error=failed.error if failed else None, message=failed.message if failed else None))
    lowest = runner.lowest_position()
    return Readiness(log_head=head, projection_position=lowest, projection_lag=max(0, head - lowest),
                     projections_stopped=[s.name for s in statuses if s.failed_at is not None],
                     projections=statuses)


@core.get("/metrics", roles=PUBLIC, tags=("operations",), include_in_schema=False)
async def metrics(call: Call[None, None]) -> web.Response:
    """Prometheus metrics (text exposition format); see api/metrics.py."""
    return await metrics_handler(call.request)


@core.get("/v1/whoami", roles=ANY_ROLE, response=WhoAmI, tags=("auth",))
async def whoami(call: Call[None, None]) -> WhoAmI:
    """The identity of the presented token (never the token itself)."""
    who = call.principal
    return WhoAmI(token_id=who.token_id, role=who.role.value, institution_id=who.institution_id,
                  name=who.name)


ROUTE_MODULES: list[RouteRegistry] = [core, *DOMAIN_ROUTES]
"""The registries served by every app: the core routes and the domain routes (api/routes/)."""


def _version() -> str:
    try:
        return metadata.version("ttledger")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def create_app(
    settings: Settings | None = None,
    ledger: Ledger | None = None,
    *,
    api_settings: ApiSettings | None = None,
    routes: Iterable[RouteRegistry] = (),
) -> web.Application:
    """Build the app; with ``ledger`` given (tests) it is used and not closed.

    ``routes`` adds registries beyond ``ROUTE_MODULES`` (tests use it for
    routes of their own).
    """
    settings = settings or Settings()
    api_settings = api_settings or ApiSettings()
    app = web.Application(client_max_size=api_settings.max_body_bytes)
    app[SETTINGS] = settings
    app[API_SETTINGS] = api_settings
    app[AUTH_LIMITER] = FailureLimiter(api_settings.auth_failure_limit, api_settings.auth_failure_window)
    app[FORWARDED_HOPS] = api_settings.forwarded_hops

    registry = RouteRegistry()
    for module in (*ROUTE_MODULES, *routes):
        registry.include(module)
    app[ROUTES] = registry
    spec_body = _json_bytes(accounts.document_statuses(
        registry.openapi(version=_version(), description=API_DESCRIPTION)))

    async def ledger_ctx(app: web.Application) -> AsyncIterator[None]:
        if ledger is not None:
            _attach(app, ledger, api_settings)
            yield
            return
        opened = await open_ledger(settings)
        _attach(app, opened, api_settings)
        try:
            yield
        finally:
            await opened.close()

    async def openapi_json(request: web.Request) -> web.Response:
        return web.Response(body=spec_body, content_type="application/json")

    app.cleanup_ctx.append(ledger_ctx)
    app.cleanup_ctx.append(projections_context(api_settings))
    app[RESPONSE_CACHE] = ResponseCache()
    app[METRICS] = Metrics(app)
    events.install(app)
    middleware.install(app)
    security.install(app)
    registry.install(app)
    staleness.install(app, registry)
    app.router.add_get("/v1/openapi.json", openapi_json, name="openapi")
    docs.install(app)
    dashboard.install(app)
    workbench.install(app)
    imports.install_jobs(app)
    return app


def _attach(app: web.Application, ledger: Ledger, api_settings: ApiSettings) -> None:
    settings = app[SETTINGS]
    app[LEDGER] = ledger
    app[TOKENS] = TokenService(ledger.store.pool, cache_ttl=api_settings.token_cache_ttl)
    app[USERS] = UserService(ledger.store.pool, lockout_threshold=settings.lockout_threshold,
                             lockout_seconds=settings.lockout_minutes * 60)
    app[SESSIONS] = SessionService(ledger.store.pool, idle=timedelta(minutes=settings.session_idle_minutes),
                                   absolute=timedelta(hours=settings.session_absolute_hours))


def _json_bytes(doc: dict[str, Any]) -> bytes:
    import json

    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
