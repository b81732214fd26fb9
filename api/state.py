"""Typed application state (``web.AppKey``) and the API's own settings.

Kept apart from ``api/app.py`` so that route modules can reach the ledger
(``request.app[LEDGER]``) without importing the app factory that imports them.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.bootstrap import Ledger
from ledger.settings import Settings
from projections.runner import ProjectionRunner


class ApiSettings(BaseSettings):
    """Knobs of the HTTP layer; each reads ``TTLEDGER_<NAME>`` (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="TTLEDGER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed by CORS, or '*' for any; empty disables CORS.",
    )
    token_cache_ttl: float = Field(
        default=60.0, ge=0, description="Seconds a verified token is trusted without re-checking."
    )
    auth_failure_limit: int = Field(
        default=10, ge=1, description="Failed authentications per client address per minute before 429."
    )
    auth_failure_window: float = Field(default=60.0, gt=0, description="Window of that limit, seconds.")
    forwarded_hops: int = Field(
        default=0,
        ge=0,
        description="Reverse proxies in front of the API; the client address is taken from "
        "X-Forwarded-For this many hops from the right. 0 trusts no header.",
    )

    run_projections: bool = Field(
        default=True,
        description="Run the projection runner inside the API process, following the log. "
        "Turn off when a separate process keeps the projections (reads then poll its positions).",
    )
    read_wait_timeout: float = Field(
        default=5.0, gt=0, le=30,
        description="Longest a GET with min_position waits for the log or projections to reach it (503 after).",
    )
    event_stream_heartbeat: float = Field(
        default=15.0, gt=0, le=300, description="Seconds between keep-alive comments on an idle event stream."
    )
    max_event_streams: int = Field(
        default=32, ge=1, description="Concurrent event streams (SSE) served; each holds a database connection."
    )

    def allowed_origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())


LEDGER = web.AppKey("ledger", Ledger)
SETTINGS = web.AppKey("settings", Settings)
API_SETTINGS = web.AppKey("api_settings", ApiSettings)
PROJECTIONS = web.AppKey("projections", ProjectionRunner)
"""The in-process projection runner, when the app runs one (``ApiSettings.run_projections``)."""
