"""The register of an institution's achievements (成果登记台账): ``/v1/institutions/{id}/achievements``.

Read from the projections (``projections/register.py``), so it follows the
log a moment behind like the statistics, with ``min_position`` and
``X-Projection-Position``. It lists what the institution registered as
first owner, transferred or not; the university dashboard shows it, and
``format=csv|xlsx`` downloads it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.commands import path_model
from api.consistency import refuse_beyond_head, wait_for_projections
from api.export_tables import figure_tables
from api.exports import ExportFormat, download
from api.language import language_of
from api.redaction import figures_for
from api.routes.common import MIN_POSITION, load_for_read
from api.routes.statistics import (
    DOWNLOADS,
    FORMAT,
    KNOWN_AT,
    PROJECTION_HEADER,
    Figures,
    _filename,
    _wait_for,
)
from api.routing import Call, Reply, RouteRegistry
from api.staleness import reads
from domain.institution import Institution
from ledger.tokens import Role
from projections.definitions_zh import localize

routes = RouteRegistry()
READERS = {Role.ADMIN, Role.REGULATOR, Role.INSTITUTION}


class RegisterQuery(BaseModel):
    format: ExportFormat = FORMAT
    min_position: int | None = MIN_POSITION
    known_at: int | None = KNOWN_AT


@routes.get("/v1/institutions/{institution_id}/achievements", roles=READERS,
            path_params=path_model("institution_id"), query=RegisterQuery, response=Figures,
            tags=("achievements",), media_types=DOWNLOADS)
@reads("contracts", "transfer")
async def get_achievement_register(call: Call[None, RegisterQuery]) -> Any:
    """The institution's register of achievements: type, field, grant, separate register, listings, transfer.

    One row per achievement the institution registered as first owner (an
    assigned one stays, with its transfer). An institution's token reads its
    own register; another institution's is 404, as a missing one.
    """
    from projections.register import achievement_register

    institution = await load_for_read(call, Institution, call.path.institution_id)
    await refuse_beyond_head(call.app, known_at=call.query.known_at)
    position = await wait_for_projections(call.request, _wait_for(call.query.min_position, call.query.known_at))
    result = localize(await achievement_register(call.ledger.store.pool, institution_id=institution.id,
                                                 known_at=call.query.known_at), language_of(call.request))
    headers = {PROJECTION_HEADER: str(position)}
    if call.query.format is not ExportFormat.json:
        names = {str(institution.id): institution.name}
        shown = figures_for(call.regulator, result)
        return download(call.query.format, figure_tables(shown, names), shown["definition"],
                        _filename("achievement-register", str(institution.id)[:8]), headers,
                        lang=language_of(call.request))
    return Reply(Figures.model_validate({**result, "institution_name": institution.name}), headers=headers)
