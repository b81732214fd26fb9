"""The domain routes, one module per family; ``api.app`` serves every registry in ``ALL``."""

from __future__ import annotations

from api.routes import (
    accounts,
    achievements,
    contracts,
    distribution,
    equity,
    events,
    history,
    imports,
    institutions,
    ledger_queries,
    lists,
    queues,
    record_lists,
    register,
    restatement,
    statistics,
)
from api.routing import RouteRegistry

ALL: list[RouteRegistry] = [
    institutions.routes,
    achievements.routes,
    contracts.routes,
    equity.routes,
    distribution.routes,
    ledger_queries.routes,
    statistics.routes,
    restatement.routes,
    queues.routes,
    register.routes,
    events.routes,
    lists.routes,
    record_lists.routes,
    history.routes,
    imports.routes,
    accounts.routes,
]

__all__ = ["ALL"]
