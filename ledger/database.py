"""Find or start the PostgreSQL server, create the database, run migrations.

One storage code path: with ``DATABASE_URL`` set we use that server, without
it we start the embedded one (decision 5). Either way the caller gets a DSN.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import structlog

from ledger.embedded import EmbeddedPostgres
from ledger.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class Database:
    """Where the ledger's data lives: a DSN and, when embedded, the server handle."""

    dsn: str
    embedded: EmbeddedPostgres | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


def dsn_for_database(server_dsn: str, database: str) -> str:
    """The same server DSN pointing at another database."""
    parts = urlsplit(server_dsn)
    return urlunsplit(parts._replace(path="/" + quote(database)))


async def ensure_database(server_dsn: str, database: str) -> None:
    """Create ``database`` on the server if it does not exist (idempotent, race-safe)."""
    conn = await asyncpg.connect(dsn_for_database(server_dsn, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            # CREATE DATABASE takes no parameters; the name is quoted as an identifier.
            ident = '"' + database.replace('"', '""') + '"'
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f"CREATE DATABASE {ident}")
                log.info("database_created", database=database)
    finally:
        await conn.close()


async def open_database(settings: Settings) -> Database:
    """Resolve the DSN from settings, starting the embedded server when none is configured."""
    if settings.database_url is not None:
        dsn = settings.database_url.get_secret_value()
        # Never log the DSN itself: it may carry a password.
        log.info("database_external", host=urlsplit(dsn).hostname or "socket")
        return Database(dsn=dsn)
    embedded = EmbeddedPostgres(settings.data_dir).start()
    server_dsn = embedded.uri("postgres")
    await ensure_database(server_dsn, settings.database_name)
    return Database(dsn=dsn_for_database(server_dsn, settings.database_name), embedded=embedded)
