"""Configuration from the environment and ``.env`` (ARCHITECTURE.md decision 11)."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("ttledger", appauthor=False))


class Settings(BaseSettings):
    """Every knob of ttledger; each field reads ``TTLEDGER_<NAME>`` except ``DATABASE_URL``."""

    model_config = SettingsConfigDict(
        env_prefix="TTLEDGER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL server to use; unset means the embedded server.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded PostgreSQL keeps its data (persistent).",
    )
    database_name: str = Field(default="ttledger", description="Database on the embedded server.")
    pool_min_size: int = 2
    pool_max_size: int = 10
    snapshot_interval: int = Field(default=100, ge=0, description="0 disables snapshots.")
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    log_level: str = "info"
    host: str = "127.0.0.1"
    port: int = 8080
    pseudonym_key: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Key of the pseudonyms a regulator's token sees for typed identifiers "
        "(api/redaction.py); unset means a random key kept in the database.",
    )
    session_idle_minutes: float = Field(
        default=30, gt=0, description="A browser session ends after this long without a request.")
    session_absolute_hours: float = Field(
        default=12, gt=0, description="A browser session ends this long after sign-in, however active.")
    lockout_threshold: int = Field(
        default=5, ge=1, description="Failed sign-ins in a row (wrong password or TOTP code) that lock an account.")
    lockout_minutes: float = Field(default=15, gt=0, description="How long a locked account stays locked.")
