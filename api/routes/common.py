"""What the route modules share: query models for reads and the read reply."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from api.consistency import wait_for_log
from api.routing import Call, Reply, etag
from api.tenancy import load_visible
from ledger.tokens import Role

R = TypeVar("R")

MIN_POSITION = Field(
    default=None, ge=0,
    description="Read your writes: answer only once the data read includes this log position "
    "(the `position` a write returned). Waits up to the read wait limit, then 503.",
)


class ReadQuery(BaseModel):
    min_position: int | None = MIN_POSITION


class AsOfQuery(BaseModel):
    as_of: date | None = Field(default=None, description="Business date the figures are as of; today by default.")
    min_position: int | None = MIN_POSITION


ALL_READERS = frozenset(Role)


async def load_for_read(call: Call[Any, Any], cls: type[R], aggregate_id: Any) -> R:
    """The record named in the path, after ``min_position``; 404 if missing or out of view."""
    query = call.query
    await wait_for_log(call.app, getattr(query, "min_position", None))
    return await load_visible(call.principal, cls, aggregate_id, call.ledger.repository.get)  # type: ignore[type-var,arg-type,return-value]


def read_reply(view: R, version: int) -> Reply[R]:
    return Reply(view, headers={"ETag": etag(version)})


def as_of(query: Any) -> date:
    return getattr(query, "as_of", None) or date.today()


def redacts(call: Call[Any, Any]) -> bool:
    """Whether this caller sees inventors only as shares, counts and amounts."""
    return call.principal.role is Role.REGULATOR
