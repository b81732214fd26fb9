"""Work queues (待办): ``GET /v1/queues``, what needs doing as of a date, for the token's own records.

Each item names its queue (Chinese and English title), the record it concerns (kind, id, link)
and the command that clears it (operation id, method, path). The SQL is in projections/queues.py.

Who sees what (api/tenancy.py): an institution its own items (contracts where it is a seller,
its distributions, self-implementation awards and patents); an exchange (operator) the contract
queues of contracts covering an achievement listed on it; admin everything. A regulator records
nothing, so has no queue (403).
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

import asyncpg
from pydantic import BaseModel, Field

from api.consistency import wait_for_projections
from api.routes.common import MIN_POSITION
from api.routing import Call, Reply, RouteRegistry
from api.staleness import reads
from ledger.tokens import Role
from projections.queues import QUEUE_KINDS, READS, Scope, work_queues

routes = RouteRegistry()
TAGS = ("queues",)
WORKERS = {Role.ADMIN, Role.INSTITUTION, Role.OPERATOR}
PROJECTION_HEADER = "X-Projection-Position"



class QueueKind(StrEnum):
    """The queue kinds of projections/queues.py (``QUEUES``)."""

    payment_overdue = "payment_overdue"
    payment_due = "payment_due"
    award_deadline_passed = "award_deadline_passed"
    award_deadline_near = "award_deadline_near"
    invention_bonus_overdue = "invention_bonus_overdue"
    invention_bonus_due = "invention_bonus_due"
    notice_ended = "notice_ended"
    notice_ending = "notice_ending"
    registration_pending = "registration_pending"
    registration_correction = "registration_correction"
    equity_decision_missing = "equity_decision_missing"
    ufpl_trigger_reached = "ufpl_trigger_reached"
    ufpl_trial_ended = "ufpl_trial_ended"
    ufpl_trial_ending = "ufpl_trial_ending"


if tuple(QueueKind) != QUEUE_KINDS:  # pragma: no cover - a queue added on one side only
    raise RuntimeError("QueueKind and projections.queues.QUEUES disagree")


class QueuesQuery(BaseModel):
    as_of: date | None = Field(default=None, description="The business date the queues are as of; today by default.")
    within_days: int = Field(
        default=30, ge=0, le=3660, description="The horizon: items due within this many days of as_of (and, for "
        "registration_pending, contracts signed at least this many days before as_of).")
    kind: list[QueueKind] | None = Field(
        default=None, max_length=len(QUEUE_KINDS),
        description="Only these queues (repeat the parameter); every queue of the role by default.")
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many items per queue.")
    min_position: int | None = MIN_POSITION


class RecordRef(BaseModel):
    kind: str = Field(description="contract, distribution, self_implementation, achievement or equity_holding.")
    id: str
    link: str = Field(description="The path that reads the record.")


class ClearingCommand(BaseModel):
    operation_id: str
    method: str
    path: str


class QueueItem(BaseModel):
    queue: QueueKind
    title: str = Field(description="Chinese / English.")
    title_zh: str
    title_en: str
    record: RecordRef
    dates: dict[str, date | None] = Field(description="The key dates (due_on, deadline_on, signed_on, ...).")
    amounts: dict[str, int | None] = Field(description="The key amounts, in fen.")
    details: dict[str, Any] = Field(description="What else identifies the task (due item, award line, ...).")
    clears: list[ClearingCommand] = Field(description="The command(s) that clear the item.")


class QueueGroup(BaseModel):
    queue: QueueKind
    title: str
    title_zh: str
    title_en: str
    count: int
    truncated: bool = Field(description="More items than `limit`.")
    items: list[QueueItem]


class WorkQueues(BaseModel):
    as_of: date
    within_days: int
    horizon: date = Field(description="as_of + within_days.")
    queues: list[QueueGroup]
    projection_position: int


def scope_of(call: Call[Any, Any]) -> Scope:
    who = call.principal
    if who.role is Role.INSTITUTION:
        return Scope(institution_id=who.institution_id)
    if who.role is Role.OPERATOR:
        return Scope(exchange_id=who.institution_id)
    return Scope()


@routes.get("/v1/queues", roles=WORKERS, query=QueuesQuery, response=WorkQueues, tags=TAGS)
@reads(*READS)
async def get_work_queues(call: Call[None, QueuesQuery]) -> Reply[WorkQueues]:
    """Work queues (待办): payments due and overdue, award and bonus deadlines, notices, ….

    Items grouped by queue, each with the record it concerns and the command that clears it.
    An exchange's token has the contract queues only.
    """
    q = call.query
    position = await wait_for_projections(call.request, q.min_position)
    as_of = q.as_of or date.today()
    kinds = [k.value for k in q.kind] if q.kind else None
    try:
        doc = await work_queues(call.ledger.store.pool, as_of=as_of, within_days=q.within_days, kinds=kinds,
                                scope=scope_of(call), limit=q.limit)
    except asyncpg.UndefinedTableError:  # the projections have not created their tables yet
        doc = {"as_of": as_of, "within_days": q.within_days, "horizon": as_of + timedelta(days=q.within_days),
               "queues": [], "projection_position": position}
    return Reply(WorkQueues.model_validate(doc), headers={PROJECTION_HEADER: str(doc["projection_position"])})
