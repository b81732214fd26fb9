"""Lists with filters, text search and cursor pagination (``GET /v1/institutions`` and the like).

Each list reads one projection snapshot (projections/lists.py) and answers
``{items, next_cursor, as_of_position}``: pass ``next_cursor`` back as
``cursor`` (with the same ``sort``) for the next page; it is ``null`` on the
last one. ``limit`` is 1–200 (50 by default); ``sort`` is one of the list's
declared sorts (a leading ``-`` sorts descending; empty dates sort last).
``q`` finds a substring of the title or name, Chinese included (a pg_trgm
index serves it). A token sees what it may see of single records
(api/tenancy.py); a bad filter, sort, limit or cursor is 422 naming it.

The answers are not kept by the response cache: they differ per token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import date
from enum import Enum
from typing import Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, Field

from api.consistency import wait_for_projections
from api.redaction import pseudonym_key
from api.routes.common import ALL_READERS, MIN_POSITION
from api.routing import Call, Reply, RouteRegistry
from api.staleness import POSITION_HEADER, reads
from domain.contract_state import ContractStatus
from domain.enums import ContractKind, EnterpriseSize, InstitutionKind, IpType, TechnologyField
from domain.inputs import MAX_FEN, OfficialNumber, QueryText, RegionCode
from projections.lists import DEFAULT_LIMIT, MAX_LIMIT, Page, Viewer

routes = RouteRegistry()

LIMIT = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Rows per page, 1–{MAX_LIMIT}.")
CURSOR = Field(default=None, description="`next_cursor` of the page before (same `sort`); none for the first page.")
SEARCH = Field(default=None, description="A substring to find, case-insensitive; Chinese works "
               "(三个字 or more use a trigram index).")
NEXT_CURSOR = Field(description="The cursor of the next page, or `null` on the last one.")
AS_OF_POSITION = Field(description="The log position the page reflects (its projections' lowest).")


# ---- institutions ---------------------------------------------------------------------------


class InstitutionListQuery(BaseModel):
    q: QueryText | None = SEARCH
    kind: InstitutionKind | None = None
    region: RegionCode | None = None
    size: EnterpriseSize | None = None
    public: bool | None = Field(default=None, description="Publicly funded (公立) or not.")
    directory: bool | None = Field(default=None, description="Every institution (名录), not only the token's own: "
                                   "names, kinds and regions are public, and a party is picked from them.")
    sort: Literal["name", "-name", "registered_on", "-registered_on"] = "name"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class InstitutionItem(BaseModel):
    id: UUID
    name: str
    kind: InstitutionKind | None
    size: EnterpriseSize | None
    public: bool | None
    region: str | None
    city: str | None
    registered_on: date | None


class InstitutionPage(BaseModel):
    items: list[InstitutionItem]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- achievements ---------------------------------------------------------------------------


class AchievementListQuery(BaseModel):
    q: QueryText | None = SEARCH
    owner: UUID | None = Field(default=None, description="An institution among the current owners.")
    ip_type: IpType | None = None
    technology_field: TechnologyField | None = None
    service: bool | None = Field(default=None, description="Service achievement (职务科技成果) or not.")
    in_register: bool | None = Field(default=None, description="In the separate register (单列管理) now.")
    listed_on: UUID | None = Field(default=None, description="An exchange it is listed on now.")
    granted_from: date | None = None
    granted_to: date | None = None
    registered_from: date | None = None
    registered_to: date | None = None
    recorded_by: UUID | None = Field(default=None, description="Only records with an event recorded by this "
                                     "user or token (录入人; not for a regulator's token).")
    sort: Literal["-registered_on", "registered_on", "title", "-title", "granted_on", "-granted_on"] = (
        "-registered_on")
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class AchievementItem(BaseModel):
    id: UUID
    title: str
    ip_type: IpType | None
    technology_field: TechnologyField | None
    service: bool | None
    state_funded: bool | None
    registered_on: date | None
    granted_on: date | None
    lapsed_on: date | None
    owner_ids: list[UUID]
    in_register: bool | None
    listed_on: list[UUID] = Field(description="Exchanges it is listed on now.")
    first_listed_on: date | None


class AchievementPage(BaseModel):
    items: list[AchievementItem]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- contracts ------------------------------------------------------------------------------


class ContractListQuery(BaseModel):
    q: QueryText | None = Field(default=None, description="A substring of the title or of a party's name "
                                "(as at drafting), case-insensitive; Chinese works.")
    party: UUID | None = Field(default=None, description="A seller or the buyer.")
    kind: ContractKind | None = None
    status: ContractStatus | None = None
    exchange: UUID | None = Field(default=None, description="An exchange the contract's achievements were "
                                  "listed on when it was drafted.")
    registration_number: OfficialNumber | None = None
    signed_from: date | None = None
    signed_to: date | None = None
    registered_from: date | None = None
    registered_to: date | None = None
    amount_min: int | None = Field(default=None, ge=0, le=MAX_FEN, description="Least contract value (合同成交额), fen.")
    amount_max: int | None = Field(default=None, ge=0, le=MAX_FEN, description="Greatest contract value (合同成交额), fen.")
    overdue_as_of: date | None = Field(default=None, description="Only contracts with a due item due before "
                                       "this date and still outstanding.")
    recorded_by: UUID | None = Field(default=None, description="Only records with an event recorded by this "
                                     "user or token (录入人; not for a regulator's token).")
    sort: Literal["-drafted_on", "drafted_on", "-signed_on", "signed_on", "-registered_on", "registered_on",
                  "contract_value_fen", "-contract_value_fen", "title", "-title"] = "-drafted_on"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class ContractItem(BaseModel):
    id: UUID
    title: str | None
    kind: ContractKind | None
    status: ContractStatus | None
    currency: str | None
    contract_value_fen: int | None
    transaction_value_fen: int | None
    drafted_on: date | None
    signed_on: date | None
    effective_on: date | None
    ended_on: date | None
    registered_on: date | None
    registration_number: str | None
    seller_ids: list[UUID]
    seller_name: str | None = Field(description="The first seller's name.")
    buyer_id: UUID | None
    buyer_name: str | None
    achievement_ids: list[UUID]
    exchange_ids: list[UUID]


class ContractPage(BaseModel):
    items: list[ContractItem]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


async def cursor_salt(app: web.Application) -> str:
    """What keys the digests in cursors: derived from the pseudonym key, never the key itself."""
    key = await pseudonym_key(app)
    return hmac.new(key, b"ttledger list cursor", hashlib.sha256).hexdigest()


# ---- the routes -----------------------------------------------------------------------------

_PAGING = frozenset({"sort", "cursor", "limit", "min_position"})


async def serve_list(call: Call[None, Any], run: Callable[..., Awaitable[dict[str, Any]]]) -> Reply[Any]:
    from api.problems import unprocessable
    from projections.lists import ListQueryError

    q = call.query
    await wait_for_projections(call.request, getattr(q, "min_position", None))
    who = Viewer(call.principal.role.value, call.principal.institution_id, await cursor_salt(call.request.app))
    filters = {name: value.value if isinstance(value := getattr(q, name), Enum) else value
               for name in type(q).model_fields if name not in _PAGING}
    try:
        page = await run(call.ledger.store.pool, who, Page(q.sort, q.cursor, q.limit), **filters)
    except ListQueryError as exc:
        raise unprocessable([{"field": exc.field, "in": "query", "rule": "list_query_valid",
                              "detail": exc.detail, "detail_zh": exc.detail_zh}]) from exc
    return Reply(page, headers={POSITION_HEADER: str(page["as_of_position"])})


@routes.get("/v1/institutions", roles=ALL_READERS, query=InstitutionListQuery, response=InstitutionPage,
            tags=("institutions",))
@reads("contracts")
async def list_institutions(call: Call[None, InstitutionListQuery]) -> Reply[InstitutionPage]:
    """Institutions, searched by name (a scoped token sees only its own)."""
    from projections import lists

    return await serve_list(call, lists.list_institutions)


@routes.get("/v1/achievements", roles=ALL_READERS, query=AchievementListQuery, response=AchievementPage,
            tags=("achievements",))
@reads("contracts")
async def list_achievements(call: Call[None, AchievementListQuery]) -> Reply[AchievementPage]:
    """Achievements, searched by title.

    An institution sees those it owns or owned, an exchange those ever listed on it.
    """
    from projections import lists

    return await serve_list(call, lists.list_achievements)


@routes.get("/v1/contracts", roles=ALL_READERS, query=ContractListQuery, response=ContractPage,
            tags=("contracts",))
@reads("contracts", "receivables")
async def list_contracts(call: Call[None, ContractListQuery]) -> Reply[ContractPage]:
    """Contracts, filtered and searched by title and parties' names.

    A regulator sees registered contracts; an institution those where it is a seller or the buyer; an
    exchange those covering an achievement ever listed on it.
    """
    from projections import lists

    return await serve_list(call, lists.list_contracts)


__all__ = ["routes"]
