"""The register of an institution's achievements (成果登记台账) and institution names, from the read side.

``achievement_register`` lists the achievements an institution registered
as their first owner, with the attributes a TTO keeps in its register (IP
type, field, official number, grant, separate register 资产单列管理,
listings) and whether and how each was transferred (转化). It reads the
``contracts`` projection's ``ct_achievements`` (the register) and the
``transfer`` projection's ``tr_achievements`` (the transfer dates) in one
read-only snapshot, so the two positions it reports are those of the rows.

``institution_names`` gives the names that label statistics grouped by
institution (tables and downloads show names, not ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from projections.definitions import TRANSFERRED, definition
from projections.queries import (
    Db,
    Sql,
    StatisticsQueryError,
    check_known_at,
    known,
    known_position,
    position_of,
    read_snapshot,
)

REGISTER_COLUMNS = (
    "achievement_id", "title", "ip_type", "technology_field", "service", "state_funded",
    "registered_on", "granted_on", "lapsed_on", "owners", "in_register", "register_entered_on",
    "listings", "first_listed_on", "first_transferred_on", "first_way", "transfers",
)

REGISTER_DEFINITION: dict[str, str] = {
    "title": "Register of achievements (成果登记台账)",
    "formula": "one row per achievement; transferred = first transfer date and way (转让, 许可, "
    "先使用后付费 conversion, 作价投资)",
    "scope": "Achievements the institution registered as their first named owner, whoever owns "
    "them now (an assigned achievement stays in the register with its transfer). ",
    "date_basis": "registration date orders the register; every event recorded up to the "
    "positions below",
    "status_basis": "every registered achievement, lapsed ones included (lapsed_on)",
    "currency": "none (no amounts)",
}
"""The register's definition (统计口径) in English; projections/definitions_zh.py has its Chinese.
The scope is followed by ``definitions.TRANSFERRED``."""


def _uuid(value: UUID | str, name: str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise StatisticsQueryError(name, f"{value!r} is not a UUID", f"{value!r} 不是 UUID") from None


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


async def achievement_register(db: Db, *, institution_id: UUID | str, known_at: int | None = None) -> dict[str, Any]:
    """The institution's register: one row per achievement it registered as first owner, as known
    at log position ``known_at`` (default: everything recorded)."""
    inst = _uuid(institution_id, "institution_id")
    check_known_at(known_at)
    sql = Sql()
    achievements = known(sql, "ct_achievements", known_at, "c")
    transfers = known(sql, "tr_achievements", known_at, "t")
    async with read_snapshot(db) as conn:
        records = await conn.fetch(
            "SELECT c.achievement_id, c.title, c.ip_type, c.technology_field, c.service, c.state_funded, "
            "c.registered_on, c.granted_on, c.lapsed_on, c.owners, c.in_register, c.register_entered_on, "
            "c.listings, c.first_listed_on, t.first_transferred_on, t.first_way, "
            "coalesce(t.transfers, 0) AS transfers "
            f"FROM {achievements} LEFT JOIN {transfers} USING (achievement_id) "
            f"WHERE c.owner_id = {sql.param(inst, 'uuid')} ORDER BY c.registered_on, c.title, c.achievement_id",
            *sql.params)
        positions = {name: await position_of(conn, name) for name in ("contracts", "transfer")}
    used = known_position(known_at, positions)
    rows = [{name: _plain(r[name]) for name in REGISTER_COLUMNS} for r in records]
    return {
        "figure": "achievement_register",
        "institution_id": str(inst),
        "known_at": used,
        "rows": rows,
        "totals": {
            "achievements": len(rows),
            "in_register": sum(1 for r in rows if r["in_register"]),
            "listed": sum(1 for r in rows if r["listings"]),
            "transferred": sum(1 for r in rows if r["first_transferred_on"]),
        },
        "definition": definition(
            figure="achievement_register",
            title=REGISTER_DEFINITION["title"],
            formula=REGISTER_DEFINITION["formula"],
            scope=REGISTER_DEFINITION["scope"] + TRANSFERRED,
            date_basis=REGISTER_DEFINITION["date_basis"],
            status_basis=REGISTER_DEFINITION["status_basis"],
            currency=REGISTER_DEFINITION["currency"],
            as_of_position=min(positions.values()),
            as_of_positions=positions,
            known_at=used,
        ),
    }


async def institution_names(db: Db, institution_ids: Iterable[UUID | str | None]) -> dict[str, str]:
    """Names of the institutions the read side knows, by id (as text); unknown ids are left out."""
    wanted = sorted({str(i) for i in institution_ids if i is not None})
    if not wanted:
        return {}
    ids = [_uuid(i, "institution_id") for i in wanted]
    records = await db.fetch(
        "SELECT institution_id, name FROM ct_institutions WHERE institution_id = ANY($1::uuid[])", ids)
    return {str(r["institution_id"]): str(r["name"]) for r in records}
