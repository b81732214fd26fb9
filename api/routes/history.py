"""A record's history: ``GET /v1/records/{record_id}/history`` — recorded by whom, when.

Any record (institution, achievement, contract, holding, self-implementation,
distribution, policy) that the token may see, event by event, oldest first,
with the actor stored with each event (ledger/actor.py, ledger/provenance.py).
A regulator sees the recording role and institution, never the person.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from api.commands import path_model
from api.consistency import wait_for_log
from api.routes.common import ALL_READERS, MIN_POSITION, redacts
from api.routing import Call, RouteRegistry
from api.staleness import reads
from api.tenancy import visible
from ledger.provenance import record_history
from ledger.repository import AggregateNotFound

routes = RouteRegistry()


class HistoryQuery(BaseModel):
    min_position: int | None = MIN_POSITION


class RecordedBy(BaseModel):
    kind: str = Field(description="`user` (a person: signed in, or by a personal token), `token` (a machine "
                      "token) or `system` (the CLI, the demo).")
    role: str | None
    institution_id: UUID | None
    institution_name: str | None
    via: str | None = Field(default=None, description="`session` or `token`, for a person.")
    id: UUID | None = Field(default=None, description="The user or token (not for a regulator).")
    token_id: UUID | None = Field(default=None, description="The personal token a person used, if any.")
    name: str | None = Field(default=None, description="The person's or token's name; the system's job.")
    label: str = Field(description="What a page shows after 录入人 / recorded by.")
    request_id: str | None = None
    import_job: str | None = None
    import_row: int | None = None


class HistoryEntry(BaseModel):
    position: int
    version: int
    event: str = Field(description="The event, e.g. `PaymentReceived`.")
    recorded_at: datetime
    recorded_by: RecordedBy | None = Field(description="`null` for events recorded before actors were stored.")


class RecordHistory(BaseModel):
    record_id: UUID
    kind: str = Field(description="The record's kind, e.g. `TechnologyContract`.")
    events: list[HistoryEntry]


@routes.get("/v1/records/{record_id}/history", roles=ALL_READERS, path_params=path_model("record_id"),
            query=HistoryQuery, response=RecordHistory, tags=("records",))
@reads("contracts")  # the recording institutions' names (ct_institutions)
async def get_record_history(call: Call[None, HistoryQuery]) -> RecordHistory:
    """Who recorded each event of a record, and when (录入人 / recorded by … at …)."""
    await wait_for_log(call.app, call.query.min_position)
    record_id = call.path.record_id
    repository = call.ledger.repository
    record = await repository.load(record_id)
    if record is None or not await visible(call.principal, record, repository.get):
        raise AggregateNotFound("Record", record_id)  # a record out of view is answered as a missing one
    events = await record_history(call.ledger.store.pool, record_id, for_regulator=redacts(call))
    return RecordHistory.model_validate({"record_id": record_id, "kind": type(record).__name__, "events": events})


__all__ = ["routes"]
