"""Statistics queries for the API: each returns the figures and their ``definition`` block.

Every function reads only the projections' tables (never the event log), in
one read-only REPEATABLE READ transaction that also reads the projection's
tracked position, so ``definition.as_of_position`` is exactly the log
position the figures reflect. Amounts are integer fen (``*_fen``); rates are
decimal strings (``"0.7500"``) with the percentage beside them (``"75.00"``).

Functions (all keyword arguments after ``db``, a pool or a connection):

- ``contract_value``: 技术合同成交额 with transaction and registered value, cash received, YoY.
- ``transfer_rate``: 科技成果转化率 by a named formula (``TRANSFER_RATE_FORMULAS``).
- ``ufpl_funnel``: 先使用后付费 listed → signed → trials → converted / returned / defaulted.
- ``receivables``: outstanding and overdue with ageing buckets as of a date.
- ``distribution_audit``: received, deducted, allocated, paid, unpaid; floors; 36-month deadline.

Annual reports are in ``projections.reports``. Bad arguments raise
``StatisticsQueryError`` naming the argument (the API answers 422).

As known at (bitemporal): every function takes ``known_at``, a log position,
and then answers from only the events recorded up to it: the versioned tables
(``TableSpec(versioned=True)``, projections/base.py) read as they were at that
position (``known``). ``as_of`` and the date ranges are the business dates;
``known_at`` is what the ledger knew. Every answer names the ``known_at`` it
used (the given position, or the projection's position when none is given),
at its top and in its ``definition``; the same pair gives the same figures
whatever is recorded later, back-dated entries included.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from projections import definitions as defs
from projections.definitions import (
    AGEING_BUCKETS,
    TRANSFER_RATE_FORMULAS,
    TRANSFER_RATE_SCOPE,
    definition,
    transfer_rate_formula,
)
from projections.obligation_queries import obligation_sections

Db: TypeAlias = "asyncpg.Pool | asyncpg.Connection"
FOREVER = date(9999, 12, 31)
PERIODS = ("year", "quarter", "month")


class StatisticsQueryError(ValueError):
    """An argument of a statistics query is not acceptable; ``field`` names it."""

    def __init__(self, field: str, detail: str, detail_zh: str | None = None) -> None:
        self.field = field
        self.detail = detail
        self.detail_zh = detail_zh
        super().__init__(f"{field}: {detail}")


# --- plumbing ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def read_snapshot(db: Db) -> AsyncIterator[asyncpg.Connection]:
    """One consistent read-only snapshot: figures and positions agree.

    Statistics queries are planned for their own parameters (``CUSTOM_PLANS``): asyncpg prepares
    every statement, and after five runs PostgreSQL may switch to a generic
    plan that cannot see, say, which currency or date range is asked for
    (measured: a third slower on the contract-value scans). Planning costs
    well under a millisecond next to the scan.
    """
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(CUSTOM_PLANS)
            yield conn
        return
    if db.is_in_transaction():
        yield db
        return
    async with db.transaction(isolation="repeatable_read", readonly=True):
        await db.execute(CUSTOM_PLANS)
        yield db


CUSTOM_PLANS = "SET LOCAL plan_cache_mode TO force_custom_plan; SET LOCAL work_mem TO '16MB'"
"""Also room for the group-bys' hash tables: the planner cannot count the groups of a CASE
and, with the default 4 MB, sorts 56,000 allocation lines instead (measured 41 ms → 24 ms)."""


async def position_of(conn: asyncpg.Connection, projection: str) -> int:
    value = await conn.fetchval("SELECT position FROM tracking WHERE subscriber = $1", projection)
    return int(value or 0)


@dataclass
class Sql:
    """Collects parameters so that every value travels as a bind parameter."""

    params: list[Any] = field(default_factory=list)
    known_p: str | None = None  # the parameter of ``known_at``, once ``known`` has added it

    def param(self, value: Any, cast: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{cast}"


_VERSIONED: dict[str, Any] = {}


def _versioned_spec(table: str) -> Any:
    if not _VERSIONED:
        from projections.registry import all_projections

        _VERSIONED.update({s.name: s for p in all_projections() for s in p.specs if s.versioned})
    try:
        return _VERSIONED[table]
    except KeyError:
        raise ValueError(f"{table} is not a versioned table: it cannot be read as known at a position") from None


def known(sql: Sql, table: str, known_at: int | None, alias: str | None = None) -> str:
    """``table`` for a FROM clause: as it is now, or as known at log position ``known_at``.

    With ``known_at``, the rows the table had at that position: current rows known
    from it or earlier, and earlier versions that were still current then (its history
    table), as a subquery named ``alias`` (default: the table's name, so the query's
    column references stay as they are). ``known_at`` travels as a bind parameter,
    added to ``sql`` once whatever the number of tables read.
    """
    if known_at is None:
        return table if alias is None else f"{table} {alias}"
    spec = _versioned_spec(table)
    if sql.known_p is None:
        sql.known_p = sql.param(known_at, "bigint")
    return f"({spec.known_as_of_sql(sql.known_p)}) AS {alias or table}"


def check_known_at(known_at: int | None) -> None:
    """Refuse a ``known_at`` that is not a log position (positions start at 1)."""
    if known_at is None:
        return
    if isinstance(known_at, bool) or not isinstance(known_at, int) or known_at < 1:
        raise StatisticsQueryError("known_at", f"{known_at!r} is not a log position (1 or more)",
                                   f"{known_at!r} 不是日志位置（须为 1 或更大的整数）")


def known_position(known_at: int | None, positions: Mapping[str, int]) -> int:
    """The position an answer is known at: ``known_at``, once every projection read has applied it.

    Without ``known_at``, the lowest position of the projections read (what the figures include).
    A projection behind ``known_at`` has not applied every event up to it, so its figures would
    not be those the ledger knew then: refused (the API waits for the projections first).
    """
    reached = min(positions.values()) if positions else 0
    if known_at is None:
        return reached
    behind = {name: p for name, p in positions.items() if p < known_at}
    if behind:
        shown = ", ".join(f"{name} at {p}" for name, p in sorted(behind.items()))
        raise StatisticsQueryError(
            "known_at", f"position {known_at} is not applied yet by the projections read ({shown})",
            f"所读投影尚未应用到日志位置 {known_at}（{shown}）")
    return known_at


@dataclass(frozen=True)
class Dim:
    column: str
    type: str = "text"  # "text" or "uuid"


def _values(name: str, value: Any, type_: str) -> list[Any]:
    items = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
    if type_ == "uuid":
        try:
            return [v if isinstance(v, UUID) else UUID(str(v)) for v in items]
        except ValueError:
            raise StatisticsQueryError(name, f"{value!r} is not a UUID (or list of UUIDs)",
                                       f"{value!r} 不是 UUID（或 UUID 列表）") from None
    return [_text(name, str(v)) for v in items]


def _text(name: str, value: str) -> str:
    """A text value for a bind parameter: PostgreSQL text cannot hold NUL, so it is refused here."""
    if "\x00" in value:
        raise StatisticsQueryError(name, "contains a NUL character", "含有 NUL 字符")
    return value


def _period_expr(column: str, period: str) -> str:
    if period not in PERIODS:
        raise StatisticsQueryError("period", f"{period!r} is not one of {', '.join(PERIODS)}",
                                   f"{period!r} 不是以下之一：{', '.join(PERIODS)}")
    # ``::timestamp`` first: date_trunc of a date would go through timestamptz and the
    # session's time zone, row by row, for the same answer (measured: a fifth of the scan).
    return f"date_trunc('{period}', {column}::timestamp)::date"


def period_label(start: date, period: str) -> str:
    if period == "year":
        return f"{start.year}"
    if period == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def rate(numerator: int, denominator: int) -> tuple[str | None, str | None]:
    """(ratio with 4 decimals, percent with 2), or (None, None) when the denominator is 0."""
    if not denominator:
        return None, None
    ratio = Decimal(numerator) / Decimal(denominator)
    return (
        str(ratio.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)),
        str((ratio * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
    )


def growth_percent(current: int, previous: int | None) -> str | None:
    if not previous:
        return None
    change = (Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)
    return str(change.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _group(
    sql: Sql, dims: Mapping[str, Dim], group_by: Sequence[str], period_column: str | None,
    period: str,
) -> list[tuple[str, str]]:
    """(output name, SQL expression) for each requested grouping."""
    out = []
    for name in group_by:
        if name == "period" and period_column is not None:
            out.append(("period", _period_expr(period_column, period)))
        elif name in dims:
            out.append((name, dims[name].column))
        else:
            known = [*(["period"] if period_column else []), *dims]
            raise StatisticsQueryError("group_by", f"{name!r} is not one of {', '.join(known)}",
                                       f"{name!r} 不是以下之一：{', '.join(known)}")
    if len({n for n, _ in out}) != len(out):
        raise StatisticsQueryError("group_by", "a dimension is named twice", "同一维度出现两次")
    return out


def _filters(sql: Sql, dims: Mapping[str, Dim], filters: Mapping[str, Any] | None,
             special: Mapping[str, str] | None = None) -> list[str]:
    """WHERE conditions; ``special`` maps a filter name to a template with ``{p}`` (uuid[])."""
    where = []
    for name, value in (filters or {}).items():
        if value is None:
            continue
        if special and name in special:
            where.append(special[name].format(p=sql.param(_values(name, value, "uuid"), "uuid[]")))
        elif name in dims:
            dim = dims[name]
            where.append(f"{dim.column} = ANY({sql.param(_values(name, value, dim.type), dim.type + '[]')})")
        else:
            known = [*dims, *(special or {})]
            raise StatisticsQueryError(f"filters.{name}", f"not one of {', '.join(known)}",
                                       f"不是以下之一：{', '.join(known)}")
    return where


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, UUID) else value


def _row_keys(record: asyncpg.Record, groups: Sequence[tuple[str, str]], period: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, _ in groups:
        value = record[name]
        if name == "period":
            out["period"] = period_label(value, period) if value is not None else None
            out["period_start"] = value.isoformat() if value is not None else None
        else:
            out[name] = _plain(value)
    return out


def _date_range(sql: Sql, column: str, date_from: date | None, date_to: date | None) -> list[str]:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise StatisticsQueryError("date_from", f"{date_from} is after date_to {date_to}",
                                   f"{date_from} 晚于 date_to {date_to}")
    where = []
    if date_from is not None:
        where.append(f"{column} >= {sql.param(date_from, 'date')}")
    if date_to is not None:
        where.append(f"{column} <= {sql.param(date_to, 'date')}")
    return where


# --- contract value ------------------------------------------------------------------------

CONTRACT_DIMS: dict[str, Dim] = {
    "kind": Dim("kind"),
    "licence_type": Dim("licence_type"),
    "seller": Dim("seller_id", "uuid"),
    "seller_kind": Dim("seller_kind"),
    "seller_region": Dim("seller_region"),
    "buyer": Dim("buyer_id", "uuid"),
    "buyer_kind": Dim("buyer_kind"),
    "buyer_size": Dim("buyer_size"),
    "buyer_region": Dim("buyer_region"),
    "field": Dim("technology_field"),
    "ip_type": Dim("ip_type"),
    "local": Dim("local::text"),
}
CONTRACT_SPECIAL_FILTERS = {
    "seller": "seller_ids && {p}",  # any of the sellers
    "exchange": "exchange_ids && {p}",  # listed on that exchange when drafted
}
CONTRACT_FIGURES = (
    "count", "contract_value_fen", "transaction_value_fen", "registered_count",
    "registered_value_fen", "cash_received_fen",
)
DATE_BASES = {"signed": "signed_on", "registered": "registered_on"}


async def contract_value(
    db: Db,
    *,
    group_by: Sequence[str] = (),
    period: str = "year",
    date_basis: str = "signed",
    date_from: date | None = None,
    date_to: date | None = None,
    filters: Mapping[str, Any] | None = None,
    currency: str = "CNY",
    yoy: bool = True,
    known_at: int | None = None,
) -> dict[str, Any]:
    """技术合同成交额 grouped by any of ``CONTRACT_DIMS`` and ``period``, filtered by the same.

    ``filters`` maps a dimension (or ``exchange``) to a value or a list of
    values; ``seller`` matches any of a contract's sellers. With ``period`` in
    ``group_by`` and ``yoy``, each row has its year-on-year growth.
    """
    if date_basis not in DATE_BASES:
        raise StatisticsQueryError("date_basis", f"{date_basis!r} is not one of signed, registered",
                                   f"{date_basis!r} 不是以下之一：signed（签订日）、registered（登记日）")
    column = DATE_BASES[date_basis]
    check_known_at(known_at)
    sql = Sql()
    groups = _group(sql, CONTRACT_DIMS, group_by, column, period)
    with_yoy = yoy and "period" in group_by
    lower = date_from
    if with_yoy and date_from is not None:
        lower = _year_before(date_from)
    where = [f"{column} IS NOT NULL", f"currency = {sql.param(_text('currency', currency), 'text')}"]
    where += _date_range(sql, column, lower, date_to)
    where += _filters(sql, CONTRACT_DIMS, filters, CONTRACT_SPECIAL_FILTERS)
    select = [f"{expr} AS {name}" for name, expr in groups]
    select += [
        "count(*) AS count",
        "coalesce(sum(contract_value_fen), 0)::bigint AS contract_value_fen",
        "coalesce(sum(transaction_value_fen), 0)::bigint AS transaction_value_fen",
        "count(registered_on) AS registered_count",
        "coalesce(sum(registered_value_fen), 0)::bigint AS registered_value_fen",
        "coalesce(sum(cash_received_fen), 0)::bigint AS cash_received_fen",
    ]
    query = (f"SELECT {', '.join(select)} FROM {known(sql, 'ct_contracts', known_at)} "
             f"WHERE {' AND '.join(where)}")
    if groups:
        query += f" GROUP BY {', '.join(str(i) for i in range(1, len(groups) + 1))}"
        query += f" ORDER BY {', '.join(str(i) for i in range(1, len(groups) + 1))}"
    async with read_snapshot(db) as conn:
        position = await position_of(conn, "contracts")
        used = known_position(known_at, {"contracts": position})
        records = await conn.fetch(query, *sql.params)
    rows = []
    for r in records:
        row = _row_keys(r, groups, period)
        row.update({f: int(r[f]) for f in CONTRACT_FIGURES})
        rows.append((r["period"] if "period" in group_by else None, row))
    if with_yoy:
        _add_yoy(rows, groups)
        if date_from is not None:
            first = date.fromisoformat(_period_start(date_from, period))
            rows = [(start, row) for start, row in rows if start is None or start >= first]
    out_rows = [row for _, row in rows]
    totals = {f: sum(row[f] for row in out_rows) for f in CONTRACT_FIGURES}
    return {
        "figure": "contract_value",
        "group_by": list(group_by),
        "period": period if "period" in group_by else None,
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "filters": {k: _plain_filter(v) for k, v in (filters or {}).items() if v is not None},
        "known_at": used,
        "rows": out_rows,
        "totals": totals,
        "definition": definition(
            figure="contract_value",
            title=defs.CONTRACT_VALUE["title"],
            formula=defs.CONTRACT_VALUE["formula"],
            scope=defs.CONTRACT_VALUE["scope"],
            date_basis=defs.CONTRACT_VALUE_DATE_BASIS[date_basis],
            status_basis=defs.CONTRACT_VALUE["status_basis"],
            currency=f"{currency}; amounts in fen (0.01 yuan); contracts in other currencies are "
            "not converted and not included",
            as_of_position=position,
            known_at=used,
        ),
    }


def _plain_filter(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return _plain(value)


def _period_start(day: date, period: str) -> str:
    if period == "year":
        return date(day.year, 1, 1).isoformat()
    if period == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1).isoformat()
    return date(day.year, day.month, 1).isoformat()


def _add_yoy(rows: list[tuple[Any, dict[str, Any]]], groups: Sequence[tuple[str, str]]) -> None:
    others = [name for name, _ in groups if name != "period"]
    index = {(start, *(row[n] for n in others)): row for start, row in rows}
    for start, row in rows:
        previous = index.get((_year_before(start), *(row[n] for n in others))) if start else None
        row["yoy"] = {
            f"{f}_percent": growth_percent(row[f], previous[f] if previous else None)
            for f in ("count", "contract_value_fen", "transaction_value_fen",
                      "registered_value_fen", "cash_received_fen")
        }


# --- transfer rate ---------------------------------------------------------------------------

TRANSFER_DIMS: dict[str, Dim] = {
    "institution": Dim("owner_id", "uuid"),
    "institution_kind": Dim("owner_kind"),
    "region": Dim("owner_region"),
    "field": Dim("technology_field"),
    "ip_type": Dim("ip_type"),
}


def list_transfer_rate_formulas() -> list[dict[str, str]]:
    return [f.describe() for f in TRANSFER_RATE_FORMULAS.values()]


async def transfer_rate(
    db: Db,
    *,
    formula: str = "transferred_over_registered",
    group_by: Sequence[str] = (),
    period: str = "year",
    as_of: date | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    filters: Mapping[str, Any] | None = None,
    known_at: int | None = None,
) -> dict[str, Any]:
    """科技成果转化率 by the named formula, grouped by institution, region, field, IP type, period.

    ``as_of`` (default: everything recorded) bounds both the denominator and
    the transfers counted. ``date_from``/``date_to`` and the ``period``
    grouping apply to the formula's date basis (e.g. registration date).
    """
    try:
        chosen = transfer_rate_formula(formula)
    except KeyError as exc:
        raise StatisticsQueryError("formula", str(exc.args[0]), f"没有转化率公式 {formula!r}；已知的公式："
                                   f"{sorted(defs.TRANSFER_RATE_FORMULAS)}") from None
    check_known_at(known_at)
    sql = Sql()
    as_of_param = sql.param(as_of or FOREVER, "date")
    groups = _group(sql, TRANSFER_DIMS, group_by, chosen.date_column, period)
    where = [chosen.population_sql.format(as_of=as_of_param)]
    where += _date_range(sql, chosen.date_column, date_from, date_to)
    where += _filters(sql, TRANSFER_DIMS, filters)
    select = [f"{expr} AS {name}" for name, expr in groups]
    select += [
        f"({chosen.numerator_sql.format(as_of=as_of_param)})::bigint AS numerator",
        f"({chosen.denominator_sql.format(as_of=as_of_param)})::bigint AS denominator",
    ]
    query = (f"SELECT {', '.join(select)} FROM {known(sql, 'tr_achievements', known_at)} "
             f"WHERE {' AND '.join(where)}")
    if groups:
        positions = ", ".join(str(i) for i in range(1, len(groups) + 1))
        query += f" GROUP BY {positions} ORDER BY {positions}"
    async with read_snapshot(db) as conn:
        position = await position_of(conn, "transfer")
        used = known_position(known_at, {"transfer": position})
        records = await conn.fetch(query, *sql.params)
    rows = []
    for r in records:
        row = _row_keys(r, groups, period)
        numerator, denominator = int(r["numerator"]), int(r["denominator"])
        ratio, percent = rate(numerator, denominator)
        row.update(numerator=numerator, denominator=denominator, rate=ratio, rate_percent=percent)
        rows.append(row)
    num = sum(r["numerator"] for r in rows)
    den = sum(r["denominator"] for r in rows)
    ratio, percent = rate(num, den)
    return {
        "figure": "transfer_rate",
        "formula": chosen.describe(),
        "group_by": list(group_by),
        "period": period if "period" in group_by else None,
        "as_of": as_of.isoformat() if as_of else None,
        "known_at": used,
        "rows": rows,
        "totals": {"numerator": num, "denominator": den, "rate": ratio, "rate_percent": percent},
        "definition": definition(
            figure="transfer_rate",
            title=chosen.title,
            formula=f"{chosen.name}: {chosen.formula}",
            scope=f"{TRANSFER_RATE_SCOPE} Numerator: {chosen.numerator} Denominator: "
            f"{chosen.denominator}",
            date_basis=chosen.date_basis + (f"; as of {as_of}" if as_of else "; as of every "
                                            "event recorded"),
            status_basis=defs.TRANSFERRED,
            currency="none (counts of achievements)",
            as_of_position=position,
            known_at=used,
            formula_name=chosen.name,
        ),
    }


# --- use-first-pay-later funnel ------------------------------------------------------------------

UFPL_DIMS = ("institution", "region", "field")
_UFPL_COLUMNS = {
    "achievements": {"institution": "owner_id", "region": "owner_region", "field": "technology_field"},
    "contracts": {"institution": "seller_id", "region": "seller_region", "field": "technology_field"},
}
UFPL_COUNTS = ("listed", "signed", "trials_started", "converted", "returned", "defaulted")
UFPL_AMOUNTS = ("signed_value_fen", "licensee_revenue_fen", "insurance_compensation_fen")


async def ufpl_funnel(
    db: Db,
    *,
    group_by: Sequence[str] = (),
    period: str = "year",
    date_from: date | None = None,
    date_to: date | None = None,
    filters: Mapping[str, Any] | None = None,
    currency: str = "CNY",
    known_at: int | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """先使用后付费: listed → signed → trials started → converted / returned / defaulted.

    Group by ``period``, ``institution`` (owner / lead seller), ``region``,
    ``field``; filter by the same three (a value or a list). ``as_of``: the funnel on that
    business date, each stage counted only once its own date has come (a licence converted
    later is still in its trial on ``as_of``).
    """
    if as_of is not None and (date_to is None or as_of < date_to):
        date_to = as_of
    for name in group_by:
        if name != "period" and name not in UFPL_DIMS:
            raise StatisticsQueryError("group_by", f"{name!r} is not one of period, {', '.join(UFPL_DIMS)}",
                                       f"{name!r} 不是以下之一：period, {', '.join(UFPL_DIMS)}")
    if period not in PERIODS:
        raise StatisticsQueryError("period", f"{period!r} is not one of {', '.join(PERIODS)}",
                                   f"{period!r} 不是以下之一：{', '.join(PERIODS)}")
    for name in filters or {}:
        if name not in UFPL_DIMS:
            raise StatisticsQueryError(f"filters.{name}", f"not one of {', '.join(UFPL_DIMS)}",
                                       f"不是以下之一：{', '.join(UFPL_DIMS)}")
    check_known_at(known_at)

    def stage_query(table: str, date_col: str, extra_where: str, selects: str, source: str,
                    columns: Mapping[str, str], extra_group: str = "") -> tuple[str, list[Any]]:
        sql = Sql()
        source = source.replace("{table}", known(sql, table, known_at))
        keys = []
        for name in group_by:
            keys.append(f"{_period_expr(date_col, period)} AS period" if name == "period"
                        else f"{columns[name]} AS {name}")
        where = [extra_where, f"{date_col} IS NOT NULL"]
        where += _date_range(sql, date_col, date_from, date_to)
        for name, value in (filters or {}).items():
            if value is None:
                continue
            type_ = "uuid" if name == "institution" else "text"
            where.append(f"{columns[name]} = ANY({sql.param(_values(name, value, type_), type_ + '[]')})")
        if table != "ct_achievements":
            where.append(f"currency = {sql.param(currency, 'text')}")
        group_cols = [str(i) for i in range(1, len(keys) + 1)]
        if extra_group:
            group_cols.append(extra_group)
        select = ", ".join([*keys, selects]) if keys else selects
        query = f"SELECT {select} FROM {source} WHERE {' AND '.join(where)}"
        if group_cols:
            query += f" GROUP BY {', '.join(group_cols)}"
        return query, sql.params

    listed_q = stage_query(
        "ct_achievements", "first_listed_on", "ufpl_eligible", "'listed' AS stage, count(*) AS n, "
        "0::bigint AS amount", "{table}", _UFPL_COLUMNS["achievements"])
    stages_q = stage_query(
        "ct_contracts", "s.on_date", "kind = 'ufpl_licence'",
        "s.stage AS stage, count(*) AS n, coalesce(sum(s.amount), 0)::bigint AS amount",
        "{table} CROSS JOIN LATERAL (VALUES ('signed', signed_on, contract_value_fen), "
        "('trials_started', trial_started_on, 0::bigint), ('converted', converted_on, 0::bigint), "
        "('returned', returned_on, 0::bigint), ('defaulted', first_default_on, 0::bigint)) "
        "AS s(stage, on_date, amount)",
        _UFPL_COLUMNS["contracts"], "s.stage")
    money_q = stage_query(
        "ct_ufpl_money", "on_date", "TRUE", "kind AS stage, count(*) AS n, "
        "coalesce(sum(amount_fen), 0)::bigint AS amount", "{table}",
        _UFPL_COLUMNS["contracts"], "kind")
    async with read_snapshot(db) as conn:
        position = await position_of(conn, "contracts")
        used = known_position(known_at, {"contracts": position})
        records = []
        for query, params in (listed_q, stages_q, money_q):
            records.extend(await conn.fetch(query, *params))
    groups = [(name, name) for name in group_by]
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in records:
        key = tuple(r[name] for name in group_by)
        row = table.get(key)
        if row is None:
            row = _row_keys(r, groups, period)
            row.update(dict.fromkeys(UFPL_COUNTS, 0))
            row.update(dict.fromkeys(UFPL_AMOUNTS, 0))
            table[key] = row
        stage, n, amount = r["stage"], int(r["n"]), int(r["amount"])
        if stage == "licensee_revenue":
            row["licensee_revenue_fen"] += amount
        elif stage == "insurance_compensation":
            row["insurance_compensation_fen"] += amount
        else:
            row[stage] += n
            if stage == "signed":
                row["signed_value_fen"] += amount
    rows = [table[k] for k in sorted(table, key=lambda k: tuple("" if v is None else str(v) for v in k))]
    for row in rows:
        _conversion(row)
    totals: dict[str, Any] = {f: sum(row[f] for row in rows) for f in (*UFPL_COUNTS, *UFPL_AMOUNTS)}
    _conversion(totals)
    return {
        "figure": "ufpl_funnel",
        "group_by": list(group_by),
        "period": period if "period" in group_by else None,
        "as_of": as_of.isoformat() if as_of else None,
        "known_at": used,
        "rows": rows,
        "totals": totals,
        "definition": definition(
            figure="ufpl_funnel",
            title=defs.UFPL_FUNNEL["title"],
            formula=defs.UFPL_FUNNEL["formula"],
            scope=defs.UFPL_FUNNEL["scope"],
            date_basis=defs.UFPL_FUNNEL["date_basis"] + (f" as_of = {as_of}." if as_of else ""),
            status_basis=defs.UFPL_FUNNEL["status_basis"],
            currency=f"{currency}; amounts in fen",
            as_of_position=position,
            known_at=used,
            listed_definition=defs.UFPL_LISTED,
        ),
    }


def _conversion(row: dict[str, Any]) -> None:
    ratio, percent = rate(row["converted"], row["converted"] + row["returned"])
    row["conversion_rate"], row["conversion_rate_percent"] = ratio, percent


# --- receivables -------------------------------------------------------------------------------

BUCKETS = ("not_due", *(label for label, _, _ in AGEING_BUCKETS))
RECEIVABLE_GROUPS = {
    "institution": "institution_id",
    "contract": "contract_id",
    "buyer": "buyer_id",
    "contract_kind": "contract_kind",
    "bucket": None,
}


async def receivables(
    db: Db,
    *,
    as_of: date,
    group_by: Sequence[str] = ("institution",),
    institution_id: UUID | str | None = None,
    contract_id: UUID | str | None = None,
    currency: str = "CNY",
    known_at: int | None = None,
) -> dict[str, Any]:
    """Outstanding and overdue receivables with ageing buckets, on business date ``as_of`` as the
    ledger knew it at log position ``known_at`` (default: everything recorded).

    Group by any of ``institution``, ``contract``, ``buyer``, ``contract_kind``
    and ``bucket`` (the ageing bucket as a dimension); every row also has one
    column per bucket.

    An item counts from the day it arose, with the payments, credits, insurance,
    write-offs and cancellations dated on or before ``as_of`` and the deferrals
    decided by then (projections/receivables.py). Read as today's outstanding
    amount less what happened after the pair (dated after ``as_of`` or recorded
    after ``known_at``), so a recent pair reads few movements.
    """
    check_known_at(known_at)
    sql = Sql()
    as_of_p = sql.param(as_of, "date")
    known_p = sql.param(known_at, "bigint") if known_at is not None else None
    for name in group_by:
        if name not in RECEIVABLE_GROUPS:
            raise StatisticsQueryError("group_by", f"{name!r} is not one of {', '.join(RECEIVABLE_GROUPS)}",
                                       f"{name!r} 不是以下之一：{', '.join(RECEIVABLE_GROUPS)}")
    scope = [("currency", sql.param(currency, "text"))]
    if institution_id is not None:
        scope.append(("institution_id", sql.param(_values("institution_id", institution_id, "uuid")[0], "uuid")))
    if contract_id is not None:
        scope.append(("contract_id", sql.param(_values("contract_id", contract_id, "uuid")[0], "uuid")))
    later = f"m.on_date > {as_of_p}" + (f" OR m.position > {known_p}" if known_p else "")
    known_item = f" AND i.arose_position <= {known_p}" if known_p else ""
    known_deferral = f" AND d.position <= {known_p}" if known_p else ""
    item_scope = " AND ".join(f"i.{column} = {p}" for column, p in scope)
    movement_scope = " AND ".join(f"m.{column} = {p}" for column, p in scope)
    # The due date on the pair: the last deferral decided by as_of and known by known_at, else
    # the original due date; only items deferred after the pair need looking up.
    due_on = (
        "CASE WHEN l.redated THEN coalesce((SELECT d.due_on FROM rcv_movements d WHERE d.contract_id = "
        "i.contract_id AND d.item_id = i.item_id AND d.kind = 'deferred' AND d.on_date <= "
        f"{as_of_p}{known_deferral} ORDER BY d.position DESC LIMIT 1), i.original_due_on) ELSE i.due_on END"
    )
    undone = (
        "i.contract_id, i.institution_id, i.buyer_id, i.contract_kind, "
        f"i.outstanding_fen - l.undo AS outstanding_fen, {due_on} AS due_on"
    )
    unchanged = " AND (i.last_moved_on IS NULL OR i.last_moved_on <= " + as_of_p + ")" + (
        f" AND (i.last_moved_position IS NULL OR i.last_moved_position <= {known_p})" if known_p else "")
    source = (
        "WITH later AS (SELECT m.contract_id, m.item_id, "
        "coalesce(sum(m.amount_fen) FILTER (WHERE m.kind <> 'arose'), 0)::bigint AS undo, "
        "bool_or(m.kind = 'deferred') AS redated "
        f"FROM rcv_movements m WHERE ({later}) AND {movement_scope} "
        # An item that arose after the pair is left out whatever happened to it since.
        "GROUP BY 1, 2 HAVING NOT bool_or(m.kind = 'arose')), "
        # Items nothing happened to after the pair, as they are (``last_moved_*``) ...
        "items AS (SELECT i.contract_id, i.institution_id, i.buyer_id, i.contract_kind, i.outstanding_fen, "
        f"i.due_on FROM rcv_items i WHERE i.outstanding_fen > 0 AND i.fell_due_on <= {as_of_p}{known_item} "
        f"AND {item_scope}{unchanged} "
        # ... and the few that changed after it, each found by its key, with the changes undone.
        f"UNION ALL SELECT {undone} FROM later l CROSS JOIN LATERAL (SELECT * FROM rcv_items r "
        "WHERE r.contract_id = l.contract_id AND r.item_id = l.item_id LIMIT 1) i "
        f"WHERE i.fell_due_on <= {as_of_p}{known_item} AND {item_scope}) "
    )
    days = f"({as_of_p} - due_on)"
    # The bucket as a small number (its place in BUCKETS): grouping and sorting numbers is
    # cheaper than text under the database's collation; the label is put back below.
    bucket_case = "CASE WHEN due_on >= " + as_of_p + " THEN 0 " + " ".join(
        f"WHEN {days} <= {hi} THEN {n}" for n, (_, _, hi) in enumerate(AGEING_BUCKETS, start=1) if hi is not None
    ) + f" ELSE {len(AGEING_BUCKETS)} END"
    keys = [f"{bucket_case if name == 'bucket' else RECEIVABLE_GROUPS[name]} AS {name}" for name in group_by]
    figures = [
        "count(*) AS items",
        "count(DISTINCT contract_id) AS contracts",
        "coalesce(sum(outstanding_fen), 0)::bigint AS outstanding_fen",
        f"coalesce(sum(outstanding_fen) FILTER (WHERE due_on < {as_of_p}), 0)::bigint AS overdue_fen",
        f"coalesce(sum(outstanding_fen) FILTER (WHERE due_on >= {as_of_p}), 0)::bigint AS not_due_fen",
    ]
    for label, lo, hi in AGEING_BUCKETS:
        cond = f"{days} >= {lo}" + (f" AND {days} <= {hi}" if hi is not None else "")
        figures.append(f"coalesce(sum(outstanding_fen) FILTER (WHERE {cond}), 0)::bigint AS \"{label}\"")
    query = f"{source}SELECT {', '.join([*keys, *figures])} FROM items WHERE outstanding_fen > 0"
    if keys:
        positions = ", ".join(str(i) for i in range(1, len(keys) + 1))
        query += f" GROUP BY {positions} ORDER BY {positions}"
    async with read_snapshot(db) as conn:
        records = await conn.fetch(query, *sql.params)
        position = await position_of(conn, "receivables")
    used = known_position(known_at, {"receivables": position})
    rows = []
    for r in records:
        row: dict[str, Any] = {name: BUCKETS[r[name]] if name == "bucket" else _plain(r[name]) for name in group_by}
        row.update(items=int(r["items"]), contracts=int(r["contracts"]),
                   outstanding_fen=int(r["outstanding_fen"]), overdue_fen=int(r["overdue_fen"]),
                   not_due_fen=int(r["not_due_fen"]),
                   ageing_fen={label: int(r[label]) for label, _, _ in AGEING_BUCKETS})
        rows.append(row)
    totals = {
        "items": sum(r["items"] for r in rows),
        "outstanding_fen": sum(r["outstanding_fen"] for r in rows),
        "overdue_fen": sum(r["overdue_fen"] for r in rows),
        "not_due_fen": sum(r["not_due_fen"] for r in rows),
        "ageing_fen": {label: sum(r["ageing_fen"][label] for r in rows) for label, _, _ in AGEING_BUCKETS},
    }
    return {
        "figure": "receivables",
        "as_of": as_of.isoformat(),
        "known_at": used,
        "group_by": list(group_by),
        "buckets": [label for label, _, _ in AGEING_BUCKETS],
        "rows": rows,
        "totals": totals,
        "definition": definition(
            figure="receivables",
            title=defs.RECEIVABLES["title"],
            formula=defs.RECEIVABLES["formula"],
            scope=defs.RECEIVABLES["scope"],
            date_basis=defs.RECEIVABLES["date_basis"] + f" as_of = {as_of}; known_at = {used}.",
            status_basis=defs.RECEIVABLES["status_basis"],
            currency=f"{currency}; amounts in fen",
            as_of_position=position,
            known_at=used,
        ),
    }


# --- distribution audit ---------------------------------------------------------------------------

DEADLINE_STATUSES = ("paid_in_time", "paid_late", "open", "overdue")
AUDIT_GROUPS = ("institution", "contract", "inventor")


def _status_sql(as_of_p: str) -> str:
    return (
        f"CASE WHEN fully_paid_on IS NOT NULL AND fully_paid_on <= {as_of_p} THEN "
        "CASE WHEN paid_late_fen > 0 THEN 'paid_late' ELSE 'paid_in_time' END "
        f"WHEN {as_of_p} > deadline_on THEN 'overdue' ELSE 'open' END"
    )


async def distribution_audit(
    db: Db,
    *,
    as_of: date,
    group_by: str = "institution",
    institution_id: UUID | str | None = None,
    contract_id: UUID | str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    anonymise: bool = False,
    known_at: int | None = None,
) -> dict[str, Any]:
    """收益分配审计 per ``institution``, ``contract`` or ``inventor``, as of ``as_of``.

    With ``anonymise`` (the regulator's view) no inventor is named anywhere:
    the per-inventor view becomes counts of inventors and amounts per
    institution, and lists of lines carry no names.
    """
    async with read_snapshot(db) as conn:  # the check of late receipts sees the same snapshot
        return await _distribution_audit(
            conn, as_of=as_of, group_by=group_by, institution_id=institution_id, contract_id=contract_id,
            date_from=date_from, date_to=date_to, anonymise=anonymise, known_at=known_at)


async def _received_after(conn: asyncpg.Connection, as_of: date, known_at: int | None) -> bool:
    """Whether any income was received after ``as_of`` (as known at ``known_at``)."""
    sql = Sql()
    source = known(sql, "dist_receipts", known_at)
    return bool(await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {source} WHERE received_on > {sql.param(as_of, 'date')})", *sql.params))


async def _distribution_audit(
    db: asyncpg.Connection,
    *,
    as_of: date,
    group_by: str,
    institution_id: UUID | str | None,
    contract_id: UUID | str | None,
    date_from: date | None,
    date_to: date | None,
    anonymise: bool,
    known_at: int | None,
) -> dict[str, Any]:
    """``distribution_audit`` inside its read snapshot (``db`` is in the transaction)."""
    if group_by not in AUDIT_GROUPS:
        raise StatisticsQueryError("group_by", f"{group_by!r} is not one of {', '.join(AUDIT_GROUPS)}",
                                   f"{group_by!r} 不是以下之一：{', '.join(AUDIT_GROUPS)}")
    check_known_at(known_at)
    sql = Sql()
    # The tables as known at ``known_at`` (its parameter first: every query below reads one).
    t = {"dist_lines": known(sql, "dist_lines", known_at), "dist_payments": known(sql, "dist_payments", known_at),
         "dist_receipts": known(sql, "dist_receipts", known_at),
         "dist_inventors": known(sql, "dist_inventors", known_at),
         "l": known(sql, "dist_lines", known_at, "l"), "p": known(sql, "dist_payments", known_at, "p")}
    # The state on as_of: income received after it does not exist yet (no bound is needed
    # when none was, which keeps the inventors' totals usable).
    bound: date | None = as_of if date_to is None else min(date_to, as_of)
    if date_to is None and not await _received_after(db, as_of, known_at):
        bound = None
    where = _date_range(sql, "received_on", date_from, bound)
    if institution_id is not None:
        where.append(f"institution_id = {sql.param(_values('institution_id', institution_id, 'uuid')[0], 'uuid')}")
    if contract_id is not None:
        where.append(f"contract_id = {sql.param(_values('contract_id', contract_id, 'uuid')[0], 'uuid')}")
    cond = " AND ".join(where) if where else "TRUE"
    filter_params = list(sql.params)  # the queries of receipts take no as_of parameter of their own
    as_of_p = sql.param(as_of, "date")
    status = _status_sql(as_of_p)
    # One pass over the lines: paid as of as_of (the line's total less payments dated
    # later), the deadline status, then sums per (group, inventor) and per group.
    per_line = (
        "SELECT institution_id, contract_id, inventor, distribution_id, "
        "beneficiary = 'inventor_team' AS team, allocated_fen, "
        "paid_fen - coalesce(f.later, 0) AS paid, "
        f"(beneficiary = 'inventor_team' AND allocated_fen > 0) AS judged, {status} AS status "
        f"FROM {t['dist_lines']} LEFT JOIN (SELECT distribution_id, key, sum(amount_fen) AS later "
        f"FROM {t['dist_payments']} WHERE paid_on > {as_of_p} GROUP BY 1, 2) f USING (distribution_id, key) "
        f"WHERE {cond}"
    )
    sums = (
        "sum(allocated_fen) AS allocated_fen, sum(paid) AS paid_fen, "
        "coalesce(sum(allocated_fen) FILTER (WHERE team), 0) AS team_allocated_fen, "
        "coalesce(sum(paid) FILTER (WHERE team), 0) AS team_paid_fen, "
        "count(DISTINCT distribution_id) AS receipts, "
        + ", ".join(
            f"count(*) FILTER (WHERE judged AND status = '{s}') AS {s}, "
            f"coalesce(sum(allocated_fen - paid) FILTER (WHERE judged AND status = '{s}'), 0) "
            f"AS {s}_unpaid_fen"
            for s in DEADLINE_STATUSES
        )
    )
    async with read_snapshot(db) as conn:
        position = await position_of(conn, "distribution")
        used = known_position(known_at, {"distribution": position})
        if group_by == "inventor" and not anonymise:
            key = "institution_id, inventor"
            lines = await conn.fetch(
                f"WITH l AS ({per_line} AND beneficiary = 'inventor_team') "
                f"SELECT {key}, {sums}, (count(*) FILTER (WHERE allocated_fen > 0) > 0)::int AS inventors "
                f"FROM l GROUP BY {key} ORDER BY {key}", *sql.params)
            receipts: list[asyncpg.Record] = []
        else:
            key = {"institution": "institution_id", "contract": "institution_id, contract_id",
                   "inventor": "institution_id"}[group_by]
            team_only = " AND beneficiary = 'inventor_team'" if group_by == "inventor" else ""
            lines = await _audit_line_sums(
                conn, key, cond, team_only, as_of_p, sql.params,
                inventor_totals=(await _inventor_counts(db, institution_id, as_of, known_at, bound is not None)
                                 if group_by != "contract" and contract_id is None and date_from is None
                                 and (date_to is None or date_to >= as_of) else None), tables=t)
            receipts = await conn.fetch(
                f"SELECT {key}, count(*) AS receipts, coalesce(sum(gross_fen), 0)::bigint AS received_fen, "
                "coalesce(sum(deducted_fen), 0)::bigint AS deducted_fen, "
                "coalesce(sum(net_fen), 0)::bigint AS net_fen, "
                "count(*) FILTER (WHERE below_floor OR team_fen < team_floor_fen) AS below_floor "
                f"FROM {t['dist_receipts']} WHERE {cond} GROUP BY {key}", *filter_params)
        breaches = await conn.fetch(
            "SELECT distribution_id, institution_id, contract_id, receipt_id, received_on, net_fen, "
            "team_fen, team_floor_fen, floor_percent, pack_id, policy_version, bound_by_floor, "
            f"greatest(team_floor_fen - team_fen, 0) AS team_short_fen FROM {t['dist_receipts']} "
            f"WHERE {cond} AND (below_floor OR team_fen < team_floor_fen) "
            "ORDER BY received_on, distribution_id", *filter_params)
        policies = await _audit_policies(conn, institution_id, known_at, as_of)
        recoveries = await _audit_recoveries(conn, as_of, institution_id, contract_id, anonymise, known_at)
        obligations = await obligation_sections(conn, as_of=as_of, institution_id=institution_id,
                                                contract_id=contract_id, date_from=date_from, date_to=date_to,
                                                known_at=known_at)

    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    key_names = [k.strip() for k in key.split(",")]
    for r in receipts:
        by_key.setdefault(tuple(r[k] for k in key_names), {}).update(
            receipts=int(r["receipts"]), received_fen=int(r["received_fen"]),
            deducted_fen=int(r["deducted_fen"]), net_fen=int(r["net_fen"]),
            receipts_below_floor=int(r["below_floor"]))
    for r in lines:
        row = by_key.setdefault(tuple(r[k] for k in key_names), {})
        if r.get("receipts") is not None:
            row["receipts"] = int(r["receipts"])
        allocated, paid_fen = int(r["allocated_fen"]), int(r["paid_fen"])
        team_allocated, team_paid = int(r["team_allocated_fen"]), int(r["team_paid_fen"])
        row.update(
            allocated_fen=allocated, paid_fen=paid_fen, unpaid_fen=allocated - paid_fen,
            team_allocated_fen=team_allocated, team_paid_fen=team_paid,
            team_unpaid_fen=team_allocated - team_paid, inventors=int(r["inventors"]),
            deadline={s: {"lines": int(r[s]), "unpaid_fen": int(r[f"{s}_unpaid_fen"])}
                      for s in DEADLINE_STATUSES},
        )
    rows = []
    for k in sorted(by_key, key=lambda k: tuple(str(v) for v in k)):
        row = {("institution_id" if n == "institution_id" else n): _plain(v)
               for n, v in zip(key_names, k, strict=True)}
        row.update(by_key[k])
        rows.append(row)
    for row in rows:
        for name in ("receipts", "received_fen", "deducted_fen", "net_fen", "allocated_fen", "paid_fen",
                     "unpaid_fen", "team_allocated_fen", "team_paid_fen", "team_unpaid_fen", "inventors"):
            row.setdefault(name, 0)
    summed = ("receipts", "received_fen", "deducted_fen", "net_fen", "allocated_fen", "paid_fen",
              "unpaid_fen", "team_allocated_fen", "team_paid_fen", "team_unpaid_fen")
    totals: dict[str, Any] = {name: sum(r[name] for r in rows) for name in summed}
    totals["deadline"] = {
        s: {"lines": sum(r.get("deadline", {}).get(s, {}).get("lines", 0) for r in rows),
            "unpaid_fen": sum(r.get("deadline", {}).get(s, {}).get("unpaid_fen", 0) for r in rows)}
        for s in DEADLINE_STATUSES
    }
    return {
        "figure": "distribution_audit",
        "as_of": as_of.isoformat(),
        "known_at": used,
        "group_by": group_by,
        "anonymised": anonymise,
        "rows": rows,
        "totals": totals,
        "recoveries": recoveries,
        "floor_breaches": {
            "policies": [
                {"institution_id": _plain(p["institution_id"]), "version_label": p["version_label"],
                 "effective_from": p["effective_from"].isoformat(), "pack": f"{p['pack_id']} {p['pack_version']}",
                 "team_cash_percent": str(p["team_cash_percent"]),
                 "lowest_team_cash_percent": str(p["lowest_team_cash_percent"]),
                 "team_equity_percent": str(p["team_equity_percent"]),
                 "transfer_floor_percent": str(p["transfer_floor_percent"]),
                 "equity_floor_percent": str(p["equity_floor_percent"]),
                 "bound_by_floor": p["bound_by_floor"], "findings": list(p["findings"] or [])}
                for p in policies
            ],
            "allocations": [
                {"distribution_id": _plain(b["distribution_id"]), "institution_id": _plain(b["institution_id"]),
                 "contract_id": _plain(b["contract_id"]), "receipt_id": b["receipt_id"],
                 "received_on": b["received_on"].isoformat(), "net_fen": int(b["net_fen"]),
                 "team_fen": int(b["team_fen"]), "team_floor_fen": int(b["team_floor_fen"]),
                 "team_short_fen": int(b["team_short_fen"]), "floor_percent": str(b["floor_percent"]),
                 "pack_id": b["pack_id"], "policy_version": b["policy_version"]}
                for b in breaches
            ],
        },
        "definition": definition(
            figure="distribution_audit",
            title=defs.DISTRIBUTION["title"],
            formula=defs.DISTRIBUTION["formula"],
            scope=defs.DISTRIBUTION["scope"] + (" Inventors are shown only as counts and amounts."
                                                if anonymise else ""),
            date_basis=defs.DISTRIBUTION["date_basis"] + f" as_of = {as_of}.",
            status_basis=defs.DISTRIBUTION["status_basis"],
            currency="CNY (income distributions carry no currency; the ledger distributes CNY); "
            "amounts in fen",
            as_of_position=position,
            known_at=used,
            floors=defs.DISTRIBUTION["floors"],
        ),
        **obligations,  # self_implementation_awards, invention_bonuses (projections/obligation_queries.py)
    }


async def _audit_policies(conn: asyncpg.Connection, institution_id: Any,
                          known_at: int | None, as_of: date) -> list[asyncpg.Record]:
    """The policies below a statutory floor adopted by ``as_of`` (of one institution, or of every one)."""
    sql = Sql()
    table = known(sql, "dist_policies", known_at)
    where = ["below_floor", f"effective_from <= {sql.param(as_of, 'date')}"]
    if institution_id is not None:
        where.append(f"institution_id = {sql.param(_values('institution_id', institution_id, 'uuid')[0], 'uuid')}")
    return list(await conn.fetch(
        "SELECT institution_id, version_label, effective_from, pack_id, pack_version, "
        "team_cash_percent, lowest_team_cash_percent, team_equity_percent, "
        "transfer_floor_percent, equity_floor_percent, bound_by_floor, findings "
        f"FROM {table} WHERE {' AND '.join(where)} "
        "ORDER BY institution_id, effective_from", *sql.params))


async def _audit_recoveries(conn: asyncpg.Connection, as_of: date, institution_id: Any,
                            contract_id: Any, anonymise: bool, known_at: int | None = None) -> dict[str, Any]:
    """Recoveries of overpaid awards outstanding as of a date, per institution and beneficiary.

    A recovery is raised when an adjustment leaves a line paid beyond its allocation, and
    cleared by repayments and by offsets against later awards to the same beneficiary
    (``dist_recoveries``, signed movements). Every movement dated on or before ``as_of``
    counts, whatever the receipt's date; the regulator's view names no inventor (counts).
    """
    sql = Sql()
    table = known(sql, "dist_recoveries", known_at)
    where = [f"moved_on <= {sql.param(as_of, 'date')}"]
    if institution_id is not None:
        where.append(f"institution_id = {sql.param(_values('institution_id', institution_id, 'uuid')[0], 'uuid')}")
    if contract_id is not None:
        where.append(f"contract_id = {sql.param(_values('contract_id', contract_id, 'uuid')[0], 'uuid')}")
    per = "institution_id, beneficiary" if anonymise else "institution_id, key, beneficiary, inventor"
    rows = await conn.fetch(
        f"WITH k AS (SELECT institution_id, key, beneficiary, inventor, "
        "coalesce(sum(amount_fen) FILTER (WHERE movement = 'raised'), 0) AS raised, "
        "coalesce(-sum(amount_fen) FILTER (WHERE movement = 'repaid'), 0) AS repaid, "
        "coalesce(-sum(amount_fen) FILTER (WHERE movement = 'offset'), 0) AS offset_, "
        f"sum(amount_fen) AS outstanding FROM {table} WHERE {' AND '.join(where)} "
        "GROUP BY 1, 2, 3, 4) "
        f"SELECT {per}, count(*) AS beneficiaries, sum(raised)::bigint AS raised, "
        "sum(repaid)::bigint AS repaid, sum(offset_)::bigint AS offset_, "
        f"sum(outstanding)::bigint AS outstanding FROM k GROUP BY {per} ORDER BY {per}", *sql.params)
    out = []
    for r in rows:
        row: dict[str, Any] = {"institution_id": _plain(r["institution_id"]), "beneficiary": r["beneficiary"]}
        if anonymise:
            row["beneficiaries"] = int(r["beneficiaries"])
        else:
            row.update(key=r["key"], inventor=r["inventor"])
        row.update(raised_fen=int(r["raised"]), repaid_fen=int(r["repaid"]), offset_fen=int(r["offset_"]),
                   outstanding_fen=int(r["outstanding"]))
        out.append(row)
    return {
        "rows": out,
        "raised_fen": sum(r["raised_fen"] for r in out),
        "repaid_fen": sum(r["repaid_fen"] for r in out),
        "offset_fen": sum(r["offset_fen"] for r in out),
        "outstanding_fen": sum(r["outstanding_fen"] for r in out),
    }


async def _inventor_counts(conn: asyncpg.Connection, institution_id: Any, as_of: date, known_at: int | None,
                           late: bool) -> list[tuple[Any, int]]:
    """Inventors with a team allocation on ``as_of``, per institution, from ``dist_inventors``.

    ``dist_inventors`` sums each inventor's team allocations over all receipts. With income
    received after ``as_of`` (``late``), an inventor whose allocations all came from it is taken
    back out: allocations are never negative, so the sum on ``as_of`` is the total less the late
    lines, and only the few inventors of late lines need looking at.
    """
    sql = Sql()
    inventors = known(sql, "dist_inventors", known_at)
    scope = ""
    if institution_id is not None:
        scope = f" AND institution_id = {sql.param(_values('institution_id', institution_id, 'uuid')[0], 'uuid')}"
    counts = {r[0]: int(r[1]) for r in await conn.fetch(
        f"SELECT institution_id, count(*) FROM {inventors} WHERE team_allocated_fen > 0{scope} GROUP BY 1",
        *sql.params)}
    if late:
        # The late lines through the late receipts (indexed by date), then by their key.
        receipts = known(sql, "dist_receipts", known_at, "r")
        lines = known(sql, "dist_lines", known_at, "l")
        totals = known(sql, "dist_inventors", known_at, "v")
        day = sql.param(as_of, "date")
        # Today's lines by their key, receipt by receipt (a history table has no such index).
        joined = (f"JOIN {lines} USING (distribution_id)" if known_at is not None else
                  f"CROSS JOIN LATERAL (SELECT l.* FROM {lines} WHERE l.distribution_id = r.distribution_id "
                  "OFFSET 0) l")
        for r in await conn.fetch(
                "SELECT x.institution_id, count(*) FROM (SELECT l.institution_id, l.inventor, "
                f"sum(l.allocated_fen) AS late FROM {receipts} {joined} "
                f"WHERE r.received_on > {day} AND l.beneficiary = 'inventor_team' AND l.inventor IS NOT NULL"
                f"{scope.replace('institution_id', 'r.institution_id')} GROUP BY 1, 2) x "
                f"JOIN {totals} USING (institution_id, inventor) "
                "WHERE v.team_allocated_fen > 0 AND v.team_allocated_fen - x.late <= 0 GROUP BY 1", *sql.params):
            counts[r[0]] -= int(r[1])
    return [(i, n) for i, n in counts.items() if n]


async def _audit_line_sums(conn: asyncpg.Connection, key: str, cond: str, team_only: str,
                           as_of_p: str, params: Sequence[Any],
                           inventor_totals: Sequence[tuple[Any, int]] | None,
                           tables: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The audit's sums per ``key`` over allocation lines as of a date, in flat passes.

    Paid as of the date is a line's paid total less its payments dated later,
    and each inventor-team line with an amount is judged against its award
    deadline. Joining every line to its later payments and summing per
    inventor first took a third of a second on a national dataset; instead:

    1. the lines are summed once per (key, team, status);
    2. the payments dated later are summed from ``dist_payments`` alone. A line
       paid after the date was not fully paid on it (a line takes no payment
       once paid in full, and its fully-paid date is its last payment's), so its
       status then was open or overdue by its deadline, which the payment row
       carries. Lines reduced to nothing after a payment are not judged at all;
       the few of them are found through a partial index and taken back out;
    3. inventors are counted from ``dist_inventors`` when no date or contract
       filter applies, else from the lines.
    """
    t = tables or {"dist_lines": "dist_lines", "dist_payments": "dist_payments",
                   "dist_inventors": "dist_inventors", "l": "dist_lines l", "p": "dist_payments p"}
    judged = "beneficiary = 'inventor_team' AND allocated_fen > 0"
    # Statuses travel as their index in DEADLINE_STATUSES: grouping on small integers
    # rather than text is a third faster over every line.
    coded = (
        f"CASE WHEN fully_paid_on <= {as_of_p} THEN CASE WHEN paid_late_fen > 0 THEN 1 ELSE 0 END "
        f"WHEN {as_of_p} > deadline_on THEN 3 ELSE 2 END"
    )
    team = "TRUE" if team_only else "beneficiary = 'inventor_team'"
    groups = f"{key}, {team}, CASE WHEN {judged} THEN {coded} END"
    n_key = len(key.split(","))
    group_list = ", ".join(str(i) for i in range(1, n_key + 3))  # key, team, status
    key_status = ", ".join(str(i) for i in range(1, n_key + 2))  # key, status
    totals = await conn.fetch(
        f"SELECT {groups}, count(*), coalesce(sum(allocated_fen), 0)::bigint, "
        f"coalesce(sum(paid_fen), 0)::bigint FROM {t['dist_lines']} WHERE {cond}{team_only} "
        f"GROUP BY {group_list}", *params)
    later_status = f"CASE WHEN beneficiary = 'inventor_team' THEN CASE WHEN {as_of_p} > deadline_on " \
                   "THEN 3 ELSE 2 END END"
    later = await conn.fetch(
        f"SELECT {key}, {team}, {later_status}, sum(amount_fen)::bigint "
        f"FROM {t['dist_payments']} WHERE paid_on > {as_of_p} AND {cond}{team_only} GROUP BY {group_list}",
        *params)
    unjudged = await conn.fetch(
        f"SELECT {', '.join('l.' + k.strip() for k in key.split(','))}, "
        f"CASE WHEN {as_of_p} > l.deadline_on THEN 3 ELSE 2 END, sum(p.amount_fen)::bigint "
        f"FROM {t['l']} JOIN {t['p']} USING (distribution_id, key) "
        f"WHERE l.allocated_fen <= 0 AND l.paid_fen > 0 AND l.beneficiary = 'inventor_team' "
        f"AND p.paid_on > {as_of_p} AND {_qualified(cond, 'l')} GROUP BY {key_status}",
        *params)
    if inventor_totals is not None:
        inventors = inventor_totals
    else:
        inventors = await conn.fetch(
            f"SELECT {key}, count(*) FROM (SELECT {key}, inventor FROM {t['dist_lines']} "
            f"WHERE {cond} AND beneficiary = 'inventor_team' AND inventor IS NOT NULL "
            f"GROUP BY {key}, inventor HAVING sum(allocated_fen) > 0) i GROUP BY {key}",
            *params[:-1])
    key_names = [k.strip() for k in key.split(",")]
    out: dict[tuple[Any, ...], dict[str, Any]] = {}

    def bucket(k: tuple[Any, ...]) -> dict[str, Any]:
        row = out.get(k)
        if row is None:
            row = out[k] = dict(zip(key_names, k, strict=True))
            row.update(allocated_fen=0, paid_fen=0, team_allocated_fen=0, team_paid_fen=0, inventors=0)
            for s in DEADLINE_STATUSES:
                row[s] = 0
                row[f"{s}_unpaid_fen"] = 0
        return row

    for r in totals:
        k, team, line_status = tuple(r[:n_key]), r[n_key], _status_name(r[n_key + 1])
        count, allocated, paid = int(r[n_key + 2]), int(r[n_key + 3]), int(r[n_key + 4])
        row = bucket(k)
        row["allocated_fen"] += allocated
        row["paid_fen"] += paid
        if team:
            row["team_allocated_fen"] += allocated
            row["team_paid_fen"] += paid
        if line_status is not None:
            row[line_status] += count
            row[f"{line_status}_unpaid_fen"] += allocated - paid
    for r in later:
        k, team, line_status = tuple(r[:n_key]), r[n_key], _status_name(r[n_key + 1])
        amount = int(r[n_key + 2])
        row = bucket(k)
        row["paid_fen"] -= amount
        if team:
            row["team_paid_fen"] -= amount
        if line_status is not None:
            row[f"{line_status}_unpaid_fen"] += amount
    for r in unjudged:
        k, line_status, amount = tuple(r[:n_key]), _status_name(r[n_key]), int(r[n_key + 1])
        bucket(k)[f"{line_status}_unpaid_fen"] -= amount
    for r in inventors:
        bucket(tuple(r[:n_key]))["inventors"] = int(r[n_key])
    return list(out.values())


def _status_name(code: int | None) -> str | None:
    return None if code is None else DEADLINE_STATUSES[code]


def _qualified(cond: str, alias: str) -> str:
    """``cond`` (built from the audit's filter columns) with each column prefixed by ``alias``."""
    for column in ("institution_id", "contract_id", "received_on"):
        cond = re.sub(rf"(?<![.\w]){column}\b", f"{alias}.{column}", cond)
    return cond


def ids(values: Iterable[Any]) -> list[str]:
    """UUIDs as strings (for JSON)."""
    return [_plain(v) for v in values]
