"""Statistics for regulators (``/v1/statistics``), read from the projections.

Every figure is published with its statistical definition (统计口径: scope,
date basis, status basis, formula), as DOMAIN.md requires, and every answer
says which log position the projections had reached (``projection_position``
and the ``X-Projection-Position`` header). ``min_position`` waits for the
projections to include a write (``api/consistency.py``). ``known_at`` (a log
position) answers as the ledger knew it then: only the events recorded up to
that position count, so the same ``as_of``/``known_at`` pair gives the same
figures after later back-dated entries; the answer waits for the projections to
reach it, and a position beyond the log head is refused (422 naming ``known_at``). Each route declares
the projections it reads (``@reads``; institution names come from the
``contracts`` projection): an answer read from a stopped projection says so
(``X-Projection-Stopped`` and a ``stale`` member, api/staleness.py).

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
from typing import Any, Literal
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from api.consistency import refuse_beyond_head, wait_for_projections
from api.export_tables import contract_value_tables, figure_tables, report_tables
from api.exports import CSV_TYPE, XLSX_TYPE, ExportFormat, download
from api.language import language_of
from api.redaction import figures_for, model_for
from api.routes.common import MIN_POSITION
from api.routing import Call, Reply, RouteRegistry
from api.staleness import reads
from api.tenancy import hidden
from domain.inputs import QueryText
from domain.institution import Institution
from ledger.tokens import Role
from projections.definitions_zh import localize

routes = RouteRegistry()
TAGS = ("statistics",)
READERS = {Role.ADMIN, Role.REGULATOR}
OWN_READERS = {Role.ADMIN, Role.REGULATOR, Role.INSTITUTION}
"""Figures an institution reads about itself only (its distribution audit, its annual reports)."""
PROJECTION_HEADER = "X-Projection-Position"
KNOWN_AT = Field(
    default=None, ge=1, le=2**62,
    description="知悉时点：日志位置。只按记录到该位置为止的事件作答（as_of 为业务日期，known_at 为账本当时所知）；"
    "同一对 as_of/known_at 总得出相同数字，之后补记的倒签事件也不改变它。不得超过日志头。"
    " / As known at: a log position. Only the events recorded up to it count (`as_of` is the business "
    "date, `known_at` what the ledger knew); the same pair always gives the same figures, whatever is "
    "recorded later. At most the log head. Default: everything recorded.",
)
DOWNLOADS = (CSV_TYPE, XLSX_TYPE)
FORMAT = Field(default=ExportFormat.json, description="`json` (the figures), or a download: `csv` (the "
               "table and its 统计口径) or `xlsx` (every table, amounts as numbers in yuan, and the 统计口径).")


class Basis(StrEnum):
    signed = "signed"
    registered = "registered"


class GroupBy(StrEnum):
    none = "none"
    period = "period"
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
    GroupBy.period: None,  # a label of the date column, below
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
Period = Literal["year", "quarter", "month"]
# Period labels as the read side writes them (2024, 2024-Q1, 2024-03); they sort as text.
_PERIOD_LABELS: dict[str, str] = {"year": "YYYY", "quarter": 'YYYY-"Q"Q', "month": "YYYY-MM"}


class ContractValueQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    period_from: date | None = Field(default=None, alias="from", description="First day of the period.")
    period_to: date | None = Field(default=None, alias="to", description="Last day of the period.")
    basis: Basis = Field(default=Basis.signed, description="Date basis: signing date or registration date.")
    group_by: GroupBy = GroupBy.none
    period: Period = Field(default="year", description="With group_by=period: year (2024), quarter "
                           "(2024-Q1) or month (2024-03).")
    format: ExportFormat = FORMAT
    min_position: int | None = MIN_POSITION
    known_at: int | None = KNOWN_AT


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
    definition: Definition = Field(description="统计口径 in the request's language (`lang`, `Accept-Language`).")
    definition_zh: Definition = Field(description="统计口径 in Chinese.")
    definition_en: Definition = Field(description="统计口径 in English.")
    period_from: date | None
    period_to: date | None
    basis: Basis
    group_by: GroupBy
    period: Period | None = Field(default=None, description="The period of group_by=period.")
    groups: list[ContractValueGroup]
    totals: ContractValueGroup
    projection_position: int = Field(description="The log position the figures include.")
    known_at: int = Field(description="知悉时点：数字所依据的日志位置（给定的 known_at，否则为投影已到达的位置）。"
                          " / The log position the figures are known at (`known_at`, else the projections').")


def contract_value_definition(basis: Basis, lang: str = "en") -> Definition:
    if lang == "zh":
        if basis is Basis.signed:
            return Definition(
                scope="账本中记录的各类技术合同（民法典 第843条）",
                date_basis="签订日期在期间之内（含首尾两日）",
                status_basis="已签订：期间内签订的每份合同，无论其现在的状态（生效、履行完毕、解除、到期）",
                formula="合同份数；合同成交额、技术交易额以及已登记合同的登记额之和，单位为分",
            )
        return Definition(
            scope="账本中已认定登记的技术合同",
            date_basis="认定登记日期在期间之内（含首尾两日）",
            status_basis="已登记，含补正：核定金额取最新一次",
            formula="合同份数；合同成交额、技术交易额和登记额之和，单位为分",
        )
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
    basis: Basis, group_by: GroupBy, period: Period = "year", known_at: int | None = None,
) -> list[dict[str, Any]]:
    """Contract count and value by group, from the ``contracts`` projection (``ct_contracts``),
    as known at ``known_at`` (the caller has waited for the projection to reach it)."""
    from projections.queries import Sql, known

    sql = Sql([period_from, period_to])
    table = known(sql, "ct_contracts", known_at)
    column = _GROUP_COLUMNS[group_by]
    date_column = _DATE_COLUMNS[basis]
    key = f"{column}::text" if column else "'all'"
    if group_by is GroupBy.period:
        key = f"to_char({date_column}, '{_PERIOD_LABELS[period]}')"
    rows = await conn.fetch(
        f"SELECT {key} AS key, count(*) AS contracts, "
        "coalesce(sum(contract_value_fen), 0) AS contract_value_fen, "
        "coalesce(sum(transaction_value_fen), 0) AS transaction_value_fen, "
        "coalesce(sum(registered_value_fen), 0) AS registered_value_fen "
        f"FROM {table} WHERE {date_column} IS NOT NULL "
        f"AND ($1::date IS NULL OR {date_column} >= $1) AND ($2::date IS NULL OR {date_column} <= $2) "
        "GROUP BY 1 ORDER BY 1 NULLS LAST",
        *sql.params,
    )
    return [dict(r) for r in rows]


@routes.get("/v1/statistics/contracts", roles=READERS, query=ContractValueQuery,
            response=ContractValueStatistics, tags=TAGS, media_types=DOWNLOADS)
@reads("contracts")
async def get_contract_value(call: Call[None, ContractValueQuery]) -> Any:
    """Technology contract count and value (成交额, 技术交易额, 登记额) for a period, optionally grouped.

    `group_by=period` groups by year, quarter or month (`period`) of the date basis.
    """
    q = call.query
    await refuse_beyond_head(call.app, known_at=q.known_at)
    position = await wait_for_projections(call.request, _wait_for(q.min_position, q.known_at))
    try:
        rows = await contract_value(call.ledger.store.pool, period_from=q.period_from, period_to=q.period_to,
                                    basis=q.basis, group_by=q.group_by, period=q.period, known_at=q.known_at)
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
        definition=contract_value_definition(q.basis, language_of(call.request)),
        definition_zh=contract_value_definition(q.basis, "zh"), definition_en=contract_value_definition(q.basis),
        period_from=q.period_from, period_to=q.period_to,
        basis=q.basis, group_by=q.group_by, period=q.period if q.group_by is GroupBy.period else None,
        groups=groups, totals=totals, projection_position=position,
        known_at=q.known_at if q.known_at is not None else position,
    )
    headers = {PROJECTION_HEADER: str(position)}
    if q.format is not ExportFormat.json:
        by = q.period if q.group_by is GroupBy.period else q.group_by.value
        definition = {**body.definition.model_dump(), "as_of_position": position, "known_at": body.known_at}
        return download(q.format, contract_value_tables(model_for(call.regulator, body)), definition,
                        _filename("contract-value", "" if by == "none" else f"by-{by}"), headers,
                        lang=language_of(call.request))
    return Reply(body, headers=headers)


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
    formula: QueryText = Field(default="transferred_over_registered",
                         description="A registered formula: see GET /v1/statistics/transfer-rate/formulas.")
    group_by: QueryText | None = Field(default=None, description="Comma-separated: institution, region, field, "
                                 "ip_type, period.")
    period: QueryText = "year"
    as_of: date | None = None
    date_from: date | None = None
    date_to: date | None = None
    format: ExportFormat = FORMAT
    min_position: int | None = MIN_POSITION
    known_at: int | None = KNOWN_AT


class FunnelQuery(BaseModel):
    group_by: QueryText | None = Field(default=None, description="Comma-separated dimensions, e.g. period,region.")
    period: QueryText = "year"
    as_of: date | None = Field(default=None, description="业务日期：该日的漏斗，各阶段日期在此日或之前方计入。"
                               "The funnel on this business date: a stage counts once its own date has come.")
    date_from: date | None = None
    date_to: date | None = None
    format: ExportFormat = FORMAT
    min_position: int | None = MIN_POSITION
    known_at: int | None = KNOWN_AT


class ReceivablesQuery(BaseModel):
    as_of: date
    group_by: QueryText = Field(default="institution", description="Comma-separated: institution, contract, buyer, "
                          "contract_kind, bucket.")
    institution_id: QueryText | None = None
    format: ExportFormat = FORMAT
    min_position: int | None = MIN_POSITION
    known_at: int | None = KNOWN_AT


class AuditQuery(BaseModel):
    as_of: date
    group_by: QueryText = Field(default="institution", description="institution, contract or inventor.")
    institution_id: QueryText | None = Field(default=None, description="An institution's token reads its own "
                                       "audit only (the default for it; another institution's is 404).")
    date_from: date | None = None
    date_to: date | None = None
    format: ExportFormat = FORMAT
    table: Literal["rows", "floor_breach_policies", "floor_breach_allocations", "recoveries",
                   "self_implementation_awards", "invention_bonuses"] = Field(
        default="rows", description="The table of a CSV download (XLSX holds them all, one sheet each).")
    min_position: int | None = MIN_POSITION
    known_at: int | None = KNOWN_AT


class ReportQuery(BaseModel):
    year: int = Field(ge=1980, le=2100)
    institution_id: QueryText | None = Field(default=None, description="An institution's token reads its own "
                                       "reports only (the default for it; another institution's is 404).")
    format: ExportFormat = Field(default=ExportFormat.json, description="`json`, `csv` (one line per figure) "
                                 "or `xlsx` (one sheet per section, amounts as numbers in yuan).")
    min_position: int | None = MIN_POSITION
    known_at: int | None = KNOWN_AT


def _filename(figure: str, suffix: str = "") -> str:
    """An ASCII file name for a download (the extension is added with the format)."""
    name = f"ttledger-{figure}" + (f"-{suffix}" if suffix else "")
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-.") else "-" for ch in name)


def _own_institution(call: Call[Any, Any], requested: str | None) -> str | None:
    """The institution a figure is read for: an institution's token reads its own only.

    Another institution named by an institution's token is answered as a
    record that does not exist (404), as everywhere in the API.
    """
    who = call.principal
    if who.role is not Role.INSTITUTION or who.institution_id is None:
        return requested
    if requested is not None:
        try:
            named = UUID(requested)
        except ValueError:
            return requested  # the query function answers 422 naming the field
        if named != who.institution_id:
            raise hidden(Institution, named)
    return str(who.institution_id)


_NAMED_KEYS = ("institution", "institution_id", "buyer", "seller")


def _named_ids(result: dict[str, Any]) -> set[str]:
    """Institution ids the figures name (groups, floor breaches), to label them."""
    rows = list(result.get("rows", []))
    breaches = result.get("floor_breaches") or {}
    rows += list(breaches.get("policies", [])) + list(breaches.get("allocations", []))
    return {str(r[k]) for r in rows for k in _NAMED_KEYS if isinstance(r, dict) and r.get(k)}


def _wait_for(min_position: int | None, known_at: int | None) -> int | None:
    """The position the projections must reach first: ``min_position``, and ``known_at`` too."""
    wanted = [p for p in (min_position, known_at) if p is not None]
    return max(wanted) if wanted else None


async def _figures(call: Call[Any, Any], min_position: int | None, run: Any,
                   fmt: ExportFormat = ExportFormat.json, filename: str = "", table: str = "rows") -> Any:
    """Wait for read-your-writes, run the query, map its argument errors to 422.

    With ``known_at`` in the query, a position beyond the log head is refused (422) and the
    projections must have applied it before the query runs (as with ``min_position``).

    The JSON answer gains ``institution_names`` (id → name of every
    institution it names); ``fmt`` csv or xlsx answers the figures' tables as a
    download instead (``api/exports.py``), built from the figures as the caller
    may see them (``api/redaction.py``; a report's own CSV is built so by ``run``).
    """
    from aiohttp import web

    from api.problems import unprocessable
    from projections.queries import StatisticsQueryError
    from projections.register import institution_names

    known_at = getattr(call.query, "known_at", None)
    await refuse_beyond_head(call.app, known_at=known_at)
    position = await wait_for_projections(call.request, _wait_for(min_position, known_at))
    pool = call.ledger.store.pool
    try:
        result = await run(pool)
    except StatisticsQueryError as exc:
        raise unprocessable([{"field": exc.field, "rule": "statistics_query_valid", "detail": str(exc),
                              "detail_zh": _query_detail_zh(exc)}]) from exc
    lang = language_of(call.request)
    # 统计口径 in the request's language (projections/definitions_zh.py); a report's titles and labels too
    result = localize(result, lang)
    headers = {PROJECTION_HEADER: str(position)}
    if "report" in result:
        from projections.reports import localize_report, report_csv

        result = localize_report(result, lang)
        if fmt is ExportFormat.csv:  # the report's own CSV (projections/reports.py)
            text = report_csv(figures_for(call.regulator, result), lang)
            return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
                **headers, "Content-Disposition": f'attachment; filename="{filename or "ttledger-report"}.csv"'})
        if fmt is ExportFormat.xlsx:
            shown = figures_for(call.regulator, result)
            return download(fmt, report_tables(shown), shown.get("definition"), filename, headers, lang=lang)
        return Reply(Figures.model_validate(result), headers=headers)
    names = await institution_names(pool, _named_ids(result))
    if fmt is not ExportFormat.json:
        shown = figures_for(call.regulator, result)
        return download(fmt, figure_tables(shown, names, table), shown.get("definition"), filename, headers,
                        lang=lang)
    return Reply(Figures.model_validate({**result, "institution_names": names}), headers=headers)


def _query_detail_zh(exc: Exception) -> str:
    """The Chinese of a statistics query's refusal: every ``StatisticsQueryError`` carries it
    (tests/unit/test_error_texts_zh.py); anything else is named by its field."""
    zh = getattr(exc, "detail_zh", None)
    if zh:
        return str(zh)
    return f"统计查询参数 {getattr(exc, 'field', '')} 不可接受：{getattr(exc, 'detail', exc)}"


class ContractValueFiguresQuery(BaseModel):
    group_by: QueryText | None = Field(default=None, description="Comma-separated, any of: period, kind, "
                                 "licence_type, seller, seller_kind, seller_region, buyer, buyer_kind, "
                                 "buyer_size, buyer_region, field, ip_type, local.")
    period: Period = Field(default="year", description="With period in group_by: year, quarter or month.")
    date_basis: Basis = Field(default=Basis.signed, description="Which date puts a contract in a period.")
    date_from: date | None = None
    date_to: date | None = None
    currency: QueryText = Field(default="CNY", min_length=3, max_length=3)
    yoy: bool = Field(default=True, description="With period in group_by: year-on-year growth per row.")
    kind: QueryText | None = Field(default=None, description="Filter; comma-separated values, as every filter.")
    licence_type: QueryText | None = None
    seller: QueryText | None = Field(default=None, description="Institution id: any of a contract's sellers.")
    seller_kind: QueryText | None = None
    seller_region: QueryText | None = None
    buyer: QueryText | None = None
    buyer_kind: QueryText | None = None
    buyer_size: QueryText | None = None
    buyer_region: QueryText | None = None
    field: QueryText | None = None
    ip_type: QueryText | None = None
    local: QueryText | None = Field(default=None, description="true: buyer in the seller's region.")
    exchange: QueryText | None = Field(default=None, description="Exchange id: listed there when drafted.")
    format: ExportFormat = FORMAT
    min_position: int | None = MIN_POSITION
    known_at: int | None = KNOWN_AT


_CONTRACT_FILTERS = ("kind", "licence_type", "seller", "seller_kind", "seller_region", "buyer", "buyer_kind",
                     "buyer_size", "buyer_region", "field", "ip_type", "local", "exchange")


@routes.get("/v1/statistics/contract-value", roles=READERS, query=ContractValueFiguresQuery, response=Figures,
            tags=TAGS, media_types=DOWNLOADS)
@reads("contracts")
async def get_contract_value_figures(call: Call[None, ContractValueFiguresQuery]) -> Any:
    """技术合同成交额 grouped by any dimensions, filtered by the same, with year-on-year growth.

    Count, contract value, technology transaction value, registered count and
    value, and cash received, from the contracts projection; a contract listed
    on several exchanges is counted once.
    """
    from projections.queries import contract_value as figures_of_contract_value

    q = call.query
    dims = _dims(q.group_by)
    filters = {name: list(_dims(value)) for name in _CONTRACT_FILTERS
               if (value := getattr(q, name)) is not None and _dims(value)}
    return await _figures(call, q.min_position, lambda db: figures_of_contract_value(
        db, group_by=dims, period=q.period, date_basis=q.date_basis.value, date_from=q.date_from,
        date_to=q.date_to, filters=filters, currency=q.currency, yoy=q.yoy, known_at=q.known_at), q.format,
        _filename("contract-value", "-".join(dims)))


@routes.get("/v1/statistics/transfer-rate", roles=READERS, query=TransferRateQuery, response=Figures, tags=TAGS,
            media_types=DOWNLOADS)
@reads("transfer", "contracts")
async def get_transfer_rate(call: Call[None, TransferRateQuery]) -> Any:
    """科技成果转化率 by a named, pluggable formula; every result names its formula."""
    from projections.queries import transfer_rate

    q = call.query
    dims = _dims(q.group_by)
    return await _figures(call, q.min_position, lambda db: transfer_rate(
        db, formula=q.formula, group_by=dims, period=q.period, as_of=q.as_of,
        date_from=q.date_from, date_to=q.date_to, known_at=q.known_at), q.format,
        _filename("transfer-rate", "-".join([q.formula, *dims])))


@routes.get("/v1/statistics/transfer-rate/formulas", roles=READERS, response=Figures, tags=TAGS)
@reads()
async def get_transfer_rate_formulas(call: Call[None, None]) -> Any:
    """The transfer-rate formulas the ledger knows, with numerator and denominator definitions."""
    from projections.definitions_zh import localize_definition
    from projections.queries import list_transfer_rate_formulas

    lang = language_of(call.request)
    return Reply(Figures.model_validate(
        {"formulas": [localize_definition(f, lang) for f in list_transfer_rate_formulas()]}))


@routes.get("/v1/statistics/ufpl-funnel", roles=READERS, query=FunnelQuery, response=Figures, tags=TAGS,
            media_types=DOWNLOADS)
@reads("contracts")
async def get_ufpl_funnel(call: Call[None, FunnelQuery]) -> Any:
    """先使用后付费 funnel: listed, trials, converted, returned, defaulted; revenue and compensation."""
    from projections.queries import ufpl_funnel

    q = call.query
    dims = _dims(q.group_by)
    return await _figures(call, q.min_position, lambda db: ufpl_funnel(
        db, group_by=dims, period=q.period, date_from=q.date_from, date_to=q.date_to, known_at=q.known_at,
        as_of=q.as_of),
        q.format,
        _filename("ufpl-funnel", "-".join(dims)))


@routes.get("/v1/statistics/receivables", roles=READERS, query=ReceivablesQuery, response=Figures, tags=TAGS,
            media_types=DOWNLOADS)
@reads("receivables", "contracts")
async def get_receivables(call: Call[None, ReceivablesQuery]) -> Any:
    """Outstanding and overdue receivables by ageing bucket, as of a date."""
    from projections.queries import receivables

    q = call.query
    dims = _dims(q.group_by)
    return await _figures(call, q.min_position, lambda db: receivables(
        db, as_of=q.as_of, group_by=dims, institution_id=q.institution_id, known_at=q.known_at), q.format,
        _filename("receivables", "-".join([q.as_of.isoformat(), *dims])))


@routes.get("/v1/statistics/distribution-audit", roles=OWN_READERS, query=AuditQuery, response=Figures,
            tags=TAGS, media_types=DOWNLOADS)
@reads("distribution", "contracts")
async def get_distribution_audit(call: Call[None, AuditQuery]) -> Any:
    """收益分配 audit: received, deducted, allocated, paid, floor breaches, 36-month deadlines.

    The regulator's answer never names an inventor (counts and amounts only).
    An institution's token reads its own audit (`institution_id` defaults to it).
    """
    from projections.queries import distribution_audit

    q = call.query
    institution_id = _own_institution(call, q.institution_id)
    anonymise = call.principal.role is Role.REGULATOR
    return await _figures(call, q.min_position, lambda db: distribution_audit(
        db, as_of=q.as_of, group_by=q.group_by, institution_id=institution_id, date_from=q.date_from,
        date_to=q.date_to, anonymise=anonymise, known_at=q.known_at), q.format,
        _filename("distribution-audit", f"{q.as_of.isoformat()}-by-{q.group_by}"), q.table)


@routes.get("/v1/reports/annual", roles=OWN_READERS, query=ReportQuery, response=Figures, tags=TAGS,
            media_types=DOWNLOADS)
@reads("contracts", "transfer", "distribution")
async def get_annual_report(call: Call[None, ReportQuery]) -> Any:
    """The institution's annual transformation report (促进科技成果转化法 第21条), JSON, CSV or XLSX.

    An institution's token reads its own report (`institution_id` defaults to it).
    """
    from api.problems import unprocessable
    from projections.reports import annual_report

    q = call.query
    institution_id = _own_institution(call, q.institution_id)
    if institution_id is None:
        raise unprocessable([{"field": "institution_id", "rule": "statistics_query_valid",
                              "detail": "the annual report is per institution",
                              "detail_zh": "年度报告按机构编制，请指明 institution_id"}])

    async def run(db: Any) -> Any:
        return await annual_report(db, institution_id=institution_id or "", year=q.year, known_at=q.known_at)

    return await _figures(call, q.min_position, run, q.format, _filename("annual-report", f"{q.year}-{institution_id[:8]}"))


@routes.get("/v1/reports/autm", roles=OWN_READERS, query=ReportQuery, response=Figures, tags=TAGS,
            media_types=DOWNLOADS)
@reads("contracts")
async def get_autm_report(call: Call[None, ReportQuery]) -> Any:
    """AUTM-style summary: licences, income as running royalties / cashed-in equity / other, start-ups.

    An institution's token reads its own summary (`institution_id` defaults to it).
    """
    from projections.reports import autm_report

    q = call.query
    institution_id = _own_institution(call, q.institution_id)

    async def run(db: Any) -> Any:
        return await autm_report(db, year=q.year, institution_id=institution_id, known_at=q.known_at)

    return await _figures(call, q.min_position, run, q.format, _filename("autm-summary", f"{q.year}"))
