"""Statistics for regulators (``/v1/statistics``), read from the projections.

Every figure is published with its statistical definition (统计口径: scope,
date basis, status basis, formula), as DOMAIN.md requires, and every answer
says which log position the projections had reached (``projection_position``
and the ``X-Projection-Position`` header). ``min_position`` waits for the
projections to include a write (``api/consistency.py``).

The SQL lives in the query functions of this module (``contract_value``),
which read the ``ct_contracts`` table of the ``contracts`` projection
(projections/contracts.py). Further statistics (transfer rates, UFPL uptake,
distribution compliance) are added the same way: a query function over a
projection's tables, a response model carrying its ``Definition``, and a
route. Where ``projections/`` grows query functions of its own, a route calls
them in place of the one here; the route, its models and its tests stay.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from api.consistency import wait_for_projections
from api.routes.common import MIN_POSITION
from api.routing import Call, Reply, RouteRegistry
from ledger.tokens import Role

routes = RouteRegistry()
TAGS = ("statistics",)
READERS = {Role.ADMIN, Role.REGULATOR}
PROJECTION_HEADER = "X-Projection-Position"


class Basis(StrEnum):
    signed = "signed"
    registered = "registered"


class GroupBy(StrEnum):
    none = "none"
    kind = "kind"
    seller_region = "seller_region"
    buyer_region = "buyer_region"
    seller_kind = "seller_kind"
    buyer_kind = "buyer_kind"
    buyer_size = "buyer_size"
    technology_field = "technology_field"
    ip_type = "ip_type"


# The only column names that reach the SQL: a fixed map, never the request's text.
_GROUP_COLUMNS: dict[GroupBy, str | None] = {
    GroupBy.none: None,
    GroupBy.kind: "kind",
    GroupBy.seller_region: "seller_region",
    GroupBy.buyer_region: "buyer_region",
    GroupBy.seller_kind: "seller_kind",
    GroupBy.buyer_kind: "buyer_kind",
    GroupBy.buyer_size: "buyer_size",
    GroupBy.technology_field: "technology_field",
    GroupBy.ip_type: "ip_type",
}
_DATE_COLUMNS: dict[Basis, str] = {Basis.signed: "signed_on", Basis.registered: "registered_on"}


class ContractValueQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    period_from: date | None = Field(default=None, alias="from", description="First day of the period.")
    period_to: date | None = Field(default=None, alias="to", description="Last day of the period.")
    basis: Basis = Field(default=Basis.signed, description="Date basis: signing date or registration date.")
    group_by: GroupBy = GroupBy.none
    min_position: int | None = MIN_POSITION


class Definition(BaseModel):
    """统计口径: what a figure counts, by which date, in which status, how."""

    scope: str
    date_basis: str
    status_basis: str
    formula: str


class ContractValueGroup(BaseModel):
    key: str | None = Field(description="The group's value (`null`: not known); `all` without grouping.")
    contracts: int
    contract_value_fen: int = Field(description="合同成交额.")
    transaction_value_fen: int = Field(description="技术交易额.")
    registered_value_fen: int = Field(description="登记额 (registered contracts only).")


class ContractValueStatistics(BaseModel):
    definition: Definition
    period_from: date | None
    period_to: date | None
    basis: Basis
    group_by: GroupBy
    groups: list[ContractValueGroup]
    totals: ContractValueGroup
    projection_position: int = Field(description="The log position the figures include.")


def contract_value_definition(basis: Basis) -> Definition:
    if basis is Basis.signed:
        return Definition(
            scope="technology contracts of every category (Civil Code Art. 843) recorded in the ledger",
            date_basis="signing date within the period (both ends included)",
            status_basis="signed: every contract signed in the period, whatever its status now "
            "(in force, completed, terminated, expired)",
            formula="count; sums of contract value (合同成交额), technology transaction value (技术交易额) "
            "and, for registered contracts, registered value (登记额), in fen",
        )
    return Definition(
        scope="technology contracts registered (认定登记) in the ledger",
        date_basis="registration date within the period (both ends included)",
        status_basis="registered, with corrections (补正) applied: the approved value is the latest one",
        formula="count; sums of contract value (合同成交额), technology transaction value (技术交易额) "
        "and registered value (登记额), in fen",
    )


async def contract_value(
    conn: asyncpg.Pool | asyncpg.Connection, *, period_from: date | None, period_to: date | None,
    basis: Basis, group_by: GroupBy,
) -> list[dict[str, Any]]:
    """Contract count and value by group, from the ``contracts`` projection (``ct_contracts``)."""
    column = _GROUP_COLUMNS[group_by]
    date_column = _DATE_COLUMNS[basis]
    key = f"{column}::text" if column else "'all'"
    rows = await conn.fetch(
        f"SELECT {key} AS key, count(*) AS contracts, "
        "coalesce(sum(contract_value_fen), 0) AS contract_value_fen, "
        "coalesce(sum(transaction_value_fen), 0) AS transaction_value_fen, "
        "coalesce(sum(registered_value_fen), 0) AS registered_value_fen "
        f"FROM ct_contracts WHERE {date_column} IS NOT NULL "
        f"AND ($1::date IS NULL OR {date_column} >= $1) AND ($2::date IS NULL OR {date_column} <= $2) "
        "GROUP BY 1 ORDER BY 1 NULLS LAST",
        period_from, period_to,
    )
    return [dict(r) for r in rows]


@routes.get("/v1/statistics/contracts", roles=READERS, query=ContractValueQuery,
            response=ContractValueStatistics, tags=TAGS)
async def get_contract_value(call: Call[None, ContractValueQuery]) -> Reply[ContractValueStatistics]:
    """Technology contract count and value (成交额, 技术交易额, 登记额) for a period, optionally grouped."""
    q = call.query
    position = await wait_for_projections(call.app, q.min_position)
    try:
        rows = await contract_value(call.ledger.store.pool, period_from=q.period_from, period_to=q.period_to,
                                    basis=q.basis, group_by=q.group_by)
    except asyncpg.UndefinedTableError:  # the projections have not created their tables yet
        rows = []
    groups = [ContractValueGroup.model_validate(r) for r in rows]
    totals = ContractValueGroup(
        key="all", contracts=sum(g.contracts for g in groups),
        contract_value_fen=sum(g.contract_value_fen for g in groups),
        transaction_value_fen=sum(g.transaction_value_fen for g in groups),
        registered_value_fen=sum(g.registered_value_fen for g in groups),
    )
    body = ContractValueStatistics(
        definition=contract_value_definition(q.basis), period_from=q.period_from, period_to=q.period_to,
        basis=q.basis, group_by=q.group_by, groups=groups, totals=totals, projection_position=position,
    )
    return Reply(body, headers={PROJECTION_HEADER: str(position)})


# --- the read side's query functions (projections/queries.py, projections/reports.py) -------------
#
# Each answer is the query function's own dictionary: the figures, and the ``definition`` block
# (formula, scope, date basis, status basis, currency, the log position it reflects).


class Figures(BaseModel):
    """Figures with their statistical definition; the shape is documented per route."""

    model_config = ConfigDict(extra="allow")

    definition: dict[str, Any] | None = Field(default=None, description="统计口径 of these figures.")


def _dims(text: str | None) -> tuple[str, ...]:
    return tuple(d.strip() for d in text.split(",") if d.strip()) if text else ()


class TransferRateQuery(BaseModel):
    formula: str = Field(default="transferred_over_registered",
                         description="A registered formula: see GET /v1/statistics/transfer-rate/formulas.")
    group_by: str | None = Field(default=None, description="Comma-separated: institution, region, field, "
                                 "ip_type, period.")
    period: str = "year"
    as_of: date | None = None
    date_from: date | None = None
    date_to: date | None = None
    min_position: int | None = MIN_POSITION


class FunnelQuery(BaseModel):
    group_by: str | None = Field(default=None, description="Comma-separated dimensions, e.g. period,region.")
    period: str = "year"
    date_from: date | None = None
    date_to: date | None = None
    min_position: int | None = MIN_POSITION


class ReceivablesQuery(BaseModel):
    as_of: date
    group_by: str = Field(default="institution", description="Comma-separated: institution, contract, buyer, "
                          "contract_kind, bucket.")
    institution_id: str | None = None
    min_position: int | None = MIN_POSITION


class AuditQuery(BaseModel):
    as_of: date
    group_by: str = Field(default="institution", description="institution, contract or inventor.")
    institution_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    min_position: int | None = MIN_POSITION


class ReportQuery(BaseModel):
    year: int = Field(ge=1980, le=2100)
    institution_id: str | None = None
    format: str = Field(default="json", pattern="^(json|csv)$")
    min_position: int | None = MIN_POSITION


async def _figures(call: Call[Any, Any], min_position: int | None, run: Any) -> Any:
    """Wait for read-your-writes, run the query, map its argument errors to 422."""
    from aiohttp import web

    from api.problems import unprocessable
    from projections.queries import StatisticsQueryError

    position = await wait_for_projections(call.app, min_position)
    try:
        result = await run(call.ledger.store.pool)
    except StatisticsQueryError as exc:
        raise unprocessable([{"field": exc.field, "rule": "statistics_query_valid", "detail": str(exc)}]) from exc
    if isinstance(result, str):
        return web.Response(text=result, content_type="text/csv", charset="utf-8",
                            headers={PROJECTION_HEADER: str(position)})
    return Reply(Figures.model_validate(result), headers={PROJECTION_HEADER: str(position)})


@routes.get("/v1/statistics/transfer-rate", roles=READERS, query=TransferRateQuery, response=Figures, tags=TAGS)
async def get_transfer_rate(call: Call[None, TransferRateQuery]) -> Any:
    """科技成果转化率 by a named, pluggable formula; every result names its formula."""
    from projections.queries import transfer_rate

    q = call.query
    return await _figures(call, q.min_position, lambda db: transfer_rate(
        db, formula=q.formula, group_by=_dims(q.group_by), period=q.period, as_of=q.as_of,
        date_from=q.date_from, date_to=q.date_to))


@routes.get("/v1/statistics/transfer-rate/formulas", roles=READERS, response=Figures, tags=TAGS)
async def get_transfer_rate_formulas(call: Call[None, None]) -> Any:
    """The transfer-rate formulas the ledger knows, with numerator and denominator definitions."""
    from projections.queries import list_transfer_rate_formulas

    return Reply(Figures.model_validate({"formulas": list_transfer_rate_formulas()}))


@routes.get("/v1/statistics/ufpl-funnel", roles=READERS, query=FunnelQuery, response=Figures, tags=TAGS)
async def get_ufpl_funnel(call: Call[None, FunnelQuery]) -> Any:
    """先使用后付费 funnel: listed, trials, converted, returned, defaulted; revenue and compensation."""
    from projections.queries import ufpl_funnel

    q = call.query
    return await _figures(call, q.min_position, lambda db: ufpl_funnel(
        db, group_by=_dims(q.group_by), period=q.period, date_from=q.date_from, date_to=q.date_to))


@routes.get("/v1/statistics/receivables", roles=READERS, query=ReceivablesQuery, response=Figures, tags=TAGS)
async def get_receivables(call: Call[None, ReceivablesQuery]) -> Any:
    """Outstanding and overdue receivables by ageing bucket, as of a date."""
    from projections.queries import receivables

    q = call.query
    return await _figures(call, q.min_position, lambda db: receivables(
        db, as_of=q.as_of, group_by=_dims(q.group_by), institution_id=q.institution_id))


@routes.get("/v1/statistics/distribution-audit", roles=READERS, query=AuditQuery, response=Figures, tags=TAGS)
async def get_distribution_audit(call: Call[None, AuditQuery]) -> Any:
    """收益分配 audit: received, deducted, allocated, paid, floor breaches, 36-month deadlines.

    The regulator's answer never names an inventor (counts and amounts only).
    """
    from projections.queries import distribution_audit

    q = call.query
    anonymise = call.principal.role is not Role.ADMIN
    return await _figures(call, q.min_position, lambda db: distribution_audit(
        db, as_of=q.as_of, group_by=q.group_by, institution_id=q.institution_id, date_from=q.date_from,
        date_to=q.date_to, anonymise=anonymise))


@routes.get("/v1/reports/annual", roles=READERS, query=ReportQuery, response=Figures, tags=TAGS)
async def get_annual_report(call: Call[None, ReportQuery]) -> Any:
    """The institution's annual transformation report (促进科技成果转化法 第21条), JSON or CSV."""
    from api.problems import unprocessable
    from projections.reports import annual_report, annual_report_csv

    q = call.query
    if q.institution_id is None:
        raise unprocessable([{"field": "institution_id", "rule": "statistics_query_valid",
                              "detail": "the annual report is per institution"}])

    async def run(db: Any) -> Any:
        report = await annual_report(db, institution_id=q.institution_id or "", year=q.year)
        return annual_report_csv(report) if q.format == "csv" else report

    return await _figures(call, q.min_position, run)


@routes.get("/v1/reports/autm", roles=READERS, query=ReportQuery, response=Figures, tags=TAGS)
async def get_autm_report(call: Call[None, ReportQuery]) -> Any:
    """AUTM-style summary: licences, income as running royalties / cashed-in equity / other, start-ups."""
    from projections.reports import autm_report, autm_report_csv

    q = call.query

    async def run(db: Any) -> Any:
        report = await autm_report(db, year=q.year, institution_id=q.institution_id)
        return autm_report_csv(report) if q.format == "csv" else report

    return await _figures(call, q.min_position, run)
