"""One place that wires the write side together (cosmicpython's bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.bus import MessageBus
from ledger.database import Database, open_database
from ledger.migrate import migrate
from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from ledger.store import EventStore


@dataclass
class Ledger:
    database: Database
    store: EventStore
    repository: Repository
    bus: MessageBus

    async def close(self) -> None:
        await self.store.close()
        self.database.close()


async def connect_ledger(dsn: str, settings: Settings | None = None, *, database: Database | None = None) -> Ledger:
    """Wire the store, repository and bus on a migrated database at ``dsn``."""
    settings = settings or Settings()
    store = await EventStore.connect(dsn, min_size=settings.pool_min_size, max_size=settings.pool_max_size)
    async with store.pool.acquire() as conn:
        await migrate(conn)
    repository = Repository(store, default_mapper(), snapshot_interval=settings.snapshot_interval)
    return Ledger(database or Database(dsn), store, repository, MessageBus(store, repository))


async def open_ledger(settings: Settings) -> Ledger:
    """Start or find the database, migrate it and wire the ledger."""
    database = await open_database(settings)
    try:
        return await connect_ledger(database.dsn, settings, database=database)
    except BaseException:
        database.close()
        raise
