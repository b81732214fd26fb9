"""The distribution audit's sections on award obligations outside income distributions.

``self_implementation_awards``: awards from self-implementation profit (Law Art. 45 (3)) per
institution, allocated, paid and unpaid as of a date, and each inventor line's 36-month deadline
status (财税〔2018〕58号, counted from the allocation date), as for cash awards.

``invention_bonuses``: the inventors' bonus of each granted patent of a service achievement
(专利法实施细则 2023 第92–94条) per institution: the statutory floor, what was paid, and its
status as of a date (due, met, met_late, overdue, agreed).

Both read the tables of projection ``distribution`` (projections/obligations.py), as they are or,
with ``known_at``, as they were at that log position (projections/queries.py, "As known at").
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from projections import definitions as defs
from projections.base import TableSpec
from projections.obligations import BONUS_PAYMENTS, BONUSES, SELF_LINES, SELF_PAYMENTS

SELF_STATUSES = ("paid_in_time", "paid_late", "open", "overdue")
BONUS_STATUSES = ("due", "met", "met_late", "overdue", "agreed")


def _known_at(known_at: int | None, params: list[Any]) -> str | None:
    """The bind parameter of ``known_at``, added to ``params`` (``None`` without it)."""
    if known_at is None:
        return None
    params.append(known_at)
    return f"${len(params)}::bigint"


def _table(spec: TableSpec, alias: str, known_p: str | None) -> str:
    """``spec``'s table named ``alias`` for a FROM clause: as it is, or as known at ``known_p``."""
    if known_p is None:
        return f"{spec.name} {alias}"
    return f"({spec.known_as_of_sql(known_p)}) AS {alias}"


def _where(column: str, institution_id: UUID | str | None, contract_id: Any, date_from: date | None,
           date_to: date | None, params: list[Any]) -> str:
    where = []
    if contract_id is not None:
        return "FALSE"  # neither has a contract
    if institution_id is not None:
        params.append(UUID(str(institution_id)))
        where.append(f"institution_id = ${len(params)}::uuid")
    if date_from is not None:
        params.append(date_from)
        where.append(f"{column} >= ${len(params)}::date")
    if date_to is not None:
        params.append(date_to)
        where.append(f"{column} <= ${len(params)}::date")
    return " AND ".join(where) or "TRUE"


async def self_implementation_awards(conn: asyncpg.Connection, *, as_of: date,
                                     institution_id: UUID | str | None = None, contract_id: Any = None,
                                     date_from: date | None = None, date_to: date | None = None,
                                     known_at: int | None = None) -> dict[str, Any]:
    params: list[Any] = [as_of]
    cond = _where("allocated_on", institution_id, contract_id, date_from, date_to, params)
    known_p = _known_at(known_at, params)
    records = await conn.fetch(
        "WITH l AS (SELECT l.institution_id, l.self_implementation_id, l.year, l.inventor, l.allocated_fen, "
        "l.deadline_on, coalesce(sum(p.amount_fen) FILTER (WHERE p.paid_on <= $1::date), 0)::bigint AS paid, "
        "coalesce(bool_or(NOT p.within_deadline) FILTER (WHERE p.paid_on <= $1::date), false) AS late "
        f"FROM {_table(SELF_LINES, 'l', known_p)} LEFT JOIN {_table(SELF_PAYMENTS, 'p', known_p)} "
        "USING (self_implementation_id, year, inventor) "
        f"WHERE l.allocated_on <= $1::date AND {_qualified(cond)} GROUP BY 1, 2, 3, 4, 5, 6) "
        "SELECT institution_id, CASE WHEN allocated_fen <= 0 THEN NULL WHEN paid >= allocated_fen THEN "
        "CASE WHEN late THEN 'paid_late' ELSE 'paid_in_time' END WHEN $1::date > deadline_on THEN 'overdue' "
        "ELSE 'open' END AS status, count(*) AS lines, count(DISTINCT (self_implementation_id, year)) AS awards, "
        "coalesce(sum(allocated_fen), 0)::bigint AS allocated_fen, coalesce(sum(paid), 0)::bigint AS paid_fen "
        "FROM l GROUP BY 1, 2 ORDER BY 1, 2", *params)
    awards = await conn.fetch(
        "SELECT institution_id, count(DISTINCT (self_implementation_id, year)) "
        f"FROM {_table(SELF_LINES, 'dist_self_lines', known_p)} "
        f"WHERE allocated_on <= $1::date AND {cond} GROUP BY 1", *params)
    rows: dict[Any, dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault(r["institution_id"], _self_row(r["institution_id"]))
        row["allocated_fen"] += int(r["allocated_fen"])
        row["paid_fen"] += int(r["paid_fen"])
        if r["status"] is not None:
            bucket = row["deadline"][r["status"]]
            bucket["lines"] += int(r["lines"])
            bucket["unpaid_fen"] += int(r["allocated_fen"]) - int(r["paid_fen"])
    for r in awards:
        rows.setdefault(r[0], _self_row(r[0]))["awards"] = int(r[1])
    out = [rows[k] for k in sorted(rows, key=str)]
    for row in out:
        row["unpaid_fen"] = row["allocated_fen"] - row["paid_fen"]
    totals = _self_row(None)
    totals.pop("institution_id")
    for row in out:
        for name in ("awards", "allocated_fen", "paid_fen"):
            totals[name] += row[name]
        for s in SELF_STATUSES:
            for n in ("lines", "unpaid_fen"):
                totals["deadline"][s][n] += row["deadline"][s][n]
    totals["unpaid_fen"] = totals["allocated_fen"] - totals["paid_fen"]
    return {"rows": out, "totals": totals, "definition": {
        **defs.SELF_IMPLEMENTATION_AWARDS, "date_basis": defs.SELF_IMPLEMENTATION_AWARDS["date_basis"]
        + f" as_of = {as_of}."}}


def _self_row(institution_id: Any) -> dict[str, Any]:
    return {"institution_id": str(institution_id) if institution_id is not None else None, "awards": 0,
            "allocated_fen": 0, "paid_fen": 0, "unpaid_fen": 0,
            "deadline": {s: {"lines": 0, "unpaid_fen": 0} for s in SELF_STATUSES}}


async def invention_bonuses(conn: asyncpg.Connection, *, as_of: date, institution_id: UUID | str | None = None,
                            contract_id: Any = None, date_from: date | None = None,
                            date_to: date | None = None, known_at: int | None = None) -> dict[str, Any]:
    params: list[Any] = [as_of]
    cond = _where("granted_on", institution_id, contract_id, date_from, date_to, params)
    known_p = _known_at(known_at, params)
    scope = f"b.service AND b.granted_on <= $1::date AND {_qualified(cond, 'b')}"
    # Two flat passes (most patents have no bonus payment yet, and a national register holds
    # tens of thousands): every patent counted as unpaid, due or overdue by its deadline,
    # in one group-by of the patents alone; then the few with payments are judged one by one
    # and moved from the bucket they were counted in to their real status.
    unpaid = await conn.fetch(
        "SELECT b.institution_id, CASE WHEN $1::date > b.deadline_on THEN 'overdue' ELSE 'due' END AS status, "
        "count(*) AS patents, sum(b.floor_fen)::bigint AS floor_fen "
        f"FROM {_table(BONUSES, 'b', known_p)} WHERE {scope} GROUP BY 1, 2", *params)
    paid_patents = await conn.fetch(
        "SELECT b.institution_id, b.floor_fen, CASE WHEN $1::date > b.deadline_on THEN 'overdue' ELSE 'due' END "
        "AS assumed, coalesce(sum(p.amount_fen), 0)::bigint AS paid, "
        "coalesce(sum(p.amount_fen) FILTER (WHERE p.paid_on <= b.deadline_on), 0)::bigint AS in_time, "
        "bool_or(p.agreed) AS agreed "
        f"FROM {_table(BONUS_PAYMENTS, 'p', known_p)} JOIN {_table(BONUSES, 'b', known_p)} USING (achievement_id) "
        f"WHERE p.paid_on <= $1::date AND {scope} GROUP BY b.achievement_id, 1, 2, 3", *params)
    buckets: dict[tuple[Any, str], dict[str, int]] = {}

    def bucket(institution: Any, status: str) -> dict[str, int]:
        return buckets.setdefault((institution, status), {"patents": 0, "floor_fen": 0, "paid_fen": 0,
                                                          "short_fen": 0})

    for r in unpaid:
        b = bucket(r["institution_id"], r["status"])
        b["patents"] += int(r["patents"])
        b["floor_fen"] += int(r["floor_fen"])
        b["short_fen"] += int(r["floor_fen"])
    for r in paid_patents:
        floor, paid = int(r["floor_fen"]), int(r["paid"])
        assumed = bucket(r["institution_id"], r["assumed"])
        assumed["patents"] -= 1
        assumed["floor_fen"] -= floor
        assumed["short_fen"] -= floor
        status = ("agreed" if r["agreed"] else "met" if int(r["in_time"]) >= floor
                  else "met_late" if paid >= floor else r["assumed"])
        real = bucket(r["institution_id"], status)
        real["patents"] += 1
        real["floor_fen"] += floor
        real["paid_fen"] += paid
        real["short_fen"] += 0 if status == "agreed" else max(floor - paid, 0)
    records = [{"institution_id": institution, "status": status, **figures}
               for (institution, status), figures in sorted(buckets.items(), key=lambda kv: (str(kv[0][0]), kv[0][1]))
               if figures["patents"]]
    rows: dict[Any, dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault(r["institution_id"], _bonus_row(r["institution_id"]))
        for name in ("patents", "floor_fen", "paid_fen", "short_fen"):
            row[name] += int(r[name])
            row["status"][r["status"]][name] = int(r[name])
    out = [rows[k] for k in sorted(rows, key=str)]
    totals = _bonus_row(None)
    totals.pop("institution_id")
    for row in out:
        for name in ("patents", "floor_fen", "paid_fen", "short_fen"):
            totals[name] += row[name]
            for s in BONUS_STATUSES:
                totals["status"][s][name] += row["status"][s][name]
    return {"rows": out, "totals": totals, "definition": {
        **defs.INVENTION_BONUS, "date_basis": defs.INVENTION_BONUS["date_basis"] + f" as_of = {as_of}."}}


def _bonus_row(institution_id: Any) -> dict[str, Any]:
    return {"institution_id": str(institution_id) if institution_id is not None else None, "patents": 0,
            "floor_fen": 0, "paid_fen": 0, "short_fen": 0,
            "status": {s: {"patents": 0, "floor_fen": 0, "paid_fen": 0, "short_fen": 0} for s in BONUS_STATUSES}}


def _qualified(cond: str, alias: str = "l") -> str:
    for column in ("institution_id", "allocated_on", "granted_on"):
        cond = cond.replace(f"{column} ", f"{alias}.{column} ")
    return cond


async def obligation_sections(conn: asyncpg.Connection, **kwargs: Any) -> dict[str, Any]:
    """Both sections, keyed as the distribution audit answers them."""
    return {"self_implementation_awards": await self_implementation_awards(conn, **kwargs),
            "invention_bonuses": await invention_bonuses(conn, **kwargs)}
