"""Versioned, idempotent schema migrations.

Migrations are the numbered ``ledger/migrations/NNNN_name.sql`` files of the
package (plus those of the read side, passed in by the caller), applied in
order, each in its own transaction, under an advisory lock so that two
processes starting at once do not race. Applied versions are recorded in
``schema_migrations``; running again applies nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# An arbitrary constant: the advisory lock that serialises migrators.
_MIGRATION_LOCK = 0x7474_6C65_6467_6572 & 0x7FFF_FFFF_FFFF_FFFF
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, order=True)
class Migration:
    version: int
    name: str
    sql: str


def package_migrations(package: str = "ledger.migrations") -> list[Migration]:
    found: list[Migration] = []
    root: Traversable = resources.files(package)
    for entry in root.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in {package}: {versions}")
    return found


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[int]:
    """Apply what is missing; return the versions applied now."""
    todo = sorted(migrations if migrations is not None else package_migrations())
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in todo:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied_now.append(migration.version)
            log.info("migration_applied", version=migration.version, name=migration.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now
