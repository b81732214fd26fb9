"""Lists over the projections' tables: filters, text search, tenancy and keyset pagination.

Each list (``list_institutions``, ``list_achievements``, ``list_contracts``)
reads one snapshot (``read_snapshot``) and answers ``{"items", "next_cursor",
"as_of_position"}``; ``as_of_position`` is the lowest position of the
projections it read, so the page reflects exactly the log up to there.

**Pagination** is keyset on ``(sort expression, id)``: a page asks for the
rows after the last one of the page before, so walking the pages visits every
row once, in order, whatever the table's size. The cursor is opaque to
clients: base64url of ``{"s": sort, "v": [last sort value, last id]}``,
checked on the way in (a forged or garbled one is a ``ListQueryError`` naming
``cursor``, which the API answers 422). Sort columns that may be empty sort
their empty values last, in either direction (``COALESCE`` with the far end).

**Text search** (``q``) is a case-insensitive substring match (``ILIKE``, with
``%``, ``_`` and ``\\`` escaped) on columns carrying a pg_trgm GIN index
(migration 0006), which PostgreSQL uses for LIKE/ILIKE patterns of three
characters or more; that is what makes a Chinese substring (三个字) fast.

**Tenancy** is SQL, exactly as api/tenancy.py states it for single records
(``Viewer``): admin sees all; a regulator every institution and achievement
but only registered contracts; an institution itself, achievements it owns or
owned, and contracts where it is a seller or the buyer; an exchange itself,
achievements ever listed on it, and contracts covering one of them.

Every value travels as a bind parameter (``Sql``); the only SQL text a request
chooses is a sort, picked by name from the fixed maps below.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from projections.queries import Db, Sql, StatisticsQueryError, position_of, read_snapshot

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class ListQueryError(StatisticsQueryError):
    """A list argument is not acceptable; ``field`` names it (the API answers 422), ``detail_zh`` says
    why in Chinese."""

    def __init__(self, field: str, detail: str, detail_zh: str | None = None) -> None:
        super().__init__(field, detail)
        self.detail_zh = detail_zh


@dataclass(frozen=True)
class Viewer:
    """Who reads: ``role`` is a ``ledger.tokens.Role`` value; ``institution_id`` the token's institution."""

    role: str
    institution_id: UUID | None = None
    salt: str = ""
    """Keys the digests that stand for typed text in cursors (``keyed_digest``): a server secret."""


# ---- sorting and cursors --------------------------------------------------------------------

# sort name -> (SQL expression, type of its value in a cursor). Empty values sort last either way.
# The contracts' and achievements' default and common sorts have an index of their own on
# (expression, id) (projections/contracts.py), so a page reads its rows in order and stops.
INSTITUTION_SORTS: dict[str, tuple[str, str]] = {
    "name": ("i.name", "text"),
    "-name": ("i.name", "text"),
    "registered_on": ("COALESCE(i.registered_on, DATE '9999-12-30')", "date"),
    "-registered_on": ("COALESCE(i.registered_on, DATE '0001-01-02')", "date"),
}
ACHIEVEMENT_SORTS: dict[str, tuple[str, str]] = {
    "title": ("a.title", "text"),
    "-title": ("a.title", "text"),
    "registered_on": ("a.registered_on", "date"),  # never empty: set by the registration
    "-registered_on": ("a.registered_on", "date"),
    "granted_on": ("COALESCE(a.granted_on, DATE '9999-12-30')", "date"),
    "-granted_on": ("COALESCE(a.granted_on, DATE '0001-01-02')", "date"),
}
CONTRACT_SORTS: dict[str, tuple[str, str]] = {
    "drafted_on": ("c.drafted_on", "date"),  # never empty: set by the draft
    "-drafted_on": ("c.drafted_on", "date"),
    "signed_on": ("COALESCE(c.signed_on, DATE '9999-12-30')", "date"),
    "-signed_on": ("COALESCE(c.signed_on, DATE '0001-01-02')", "date"),
    "registered_on": ("COALESCE(c.registered_on, DATE '9999-12-30')", "date"),
    "-registered_on": ("COALESCE(c.registered_on, DATE '0001-01-02')", "date"),
    "contract_value_fen": ("c.contract_value_fen", "bigint"),
    "-contract_value_fen": ("c.contract_value_fen", "bigint"),
    "title": ("c.title", "text"),
    "-title": ("c.title", "text"),
}
# How a page continues: the rows after (or, descending, before) the cursor's.
AFTER = {"asc": ">", "desc": "<"}
ORDER = {"asc": "ASC", "desc": "DESC"}


Key = tuple[tuple[str, str], ...]
"""A list's row identity after its sort: ``(SQL expression, type)`` pairs, unique together."""


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else str(value) if isinstance(value, UUID) else value


def encode_cursor(sort: str, value: Any, *last: Any) -> str:
    raw = json.dumps({"s": sort, "v": [_plain(value), *map(_plain, last)]}, ensure_ascii=False,
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _typed(value: Any, type_: str) -> Any:
    """``value`` read back from a cursor as ``type_``, or None if it is not one."""
    if type_ == "date":
        try:
            return date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
    if type_ == "uuid":
        try:
            return UUID(value) if isinstance(value, str) else None
        except ValueError:
            return None
    if type_ == "timestamptz":
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
    if type_ in ("bigint", "integer"):
        return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63 else None
    return value if isinstance(value, str) and "\x00" not in value and len(value) <= 1000 else None


def decode_cursor(cursor: str, sort: str, type_: str, key: Key = (("", "uuid"),)) -> tuple[Any, ...]:
    """The cursor's last sort value and row key; ``ListQueryError`` naming ``cursor`` if it is not one of ours."""
    def bad(detail: str) -> ListQueryError:
        return ListQueryError("cursor", f"not a cursor of this list: {detail}; start again without one",
                              f"不是此列表的游标（{detail}）；请不带游标重新开始")

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad("garbled") from None
    if not (isinstance(doc, dict) and set(doc) == {"s", "v"} and isinstance(doc["v"], list)
            and len(doc["v"]) == 1 + len(key)):
        raise bad("wrong shape")
    if doc["s"] != sort:
        raise bad(f"it was made for sort {doc['s']!r}, not {sort!r}")
    values = [_typed(v, t) for v, t in zip(doc["v"], (type_, *(t for _, t in key)), strict=True)]
    if values[0] is None:
        raise bad("no sort value")
    if any(v is None for v in values[1:]):
        raise bad("no row id")
    return tuple(values)


@dataclass(frozen=True)
class Page:
    sort: str
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def _check_page(page: Page, sorts: dict[str, tuple[str, str]]) -> None:
    if page.sort not in sorts:
        raise ListQueryError("sort", f"{page.sort!r} is not one of {', '.join(sorts)}",
                             f"{page.sort!r} 不是可选排序之一：{'、'.join(sorts)}")
    if not 1 <= page.limit <= MAX_LIMIT:
        raise ListQueryError("limit", f"between 1 and {MAX_LIMIT}", f"取 1 至 {MAX_LIMIT}")


def like_pattern(text: str) -> str:
    """``%text%`` for ILIKE, with the pattern characters of ``text`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def read_page(
    db: Db, sql: Sql, columns: str, source: str, where: list[str], sorts: dict[str, tuple[str, str]],
    page: Page, key: str | Key, projections: Sequence[str],
) -> dict[str, Any]:
    """One page of a list: ``SELECT columns FROM source WHERE where`` in the page's order, after its cursor.

    ``key`` names what makes a row unique after its sort value: a uuid column (selected as ``id``)
    or ``(expression, type)`` pairs; the cursor carries the last row's sort value and key.
    """
    _check_page(page, sorts)
    keys: Key = ((key, "uuid"),) if isinstance(key, str) else key
    expr, type_ = sorts[page.sort]
    direction = "desc" if page.sort.startswith("-") else "asc"
    if page.cursor is not None:
        after = decode_cursor(page.cursor, page.sort, type_, keys)
        types = [type_, *(t for _, t in keys)]
        left = ", ".join([expr, *(k for k, _ in keys)])
        right = ", ".join([sql.param(after[i], t) for i, t in enumerate(types)])
        where.append(f"({left}) {AFTER[direction]} ({right})")
    condition = " AND ".join(where) or "true"
    limit = sql.param(page.limit + 1, "integer")
    order = ", ".join(f"{e} {ORDER[direction]}" for e in [expr, *(k for k, _ in keys)])
    hidden = "".join(f", {k} AS key_{i}" for i, (k, _) in enumerate(keys))
    query = (f"SELECT {columns}, {expr} AS sort_value{hidden} FROM {source} WHERE {condition} "
             f"ORDER BY {order} LIMIT {limit}")
    async with read_snapshot(db) as conn:
        rows = await conn.fetch(query, *sql.params)
        # A list of the log's own tables (tokens) reflects the log head.
        positions = [await position_of(conn, name) for name in projections] or [
            int(await conn.fetchval("SELECT position FROM log_head"))]
        position = min(positions)
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    items = [{k: v for k, v in dict(r).items() if k != "sort_value" and not k.startswith("key_")} for r in rows]
    next_cursor = None
    if more and rows:
        last_row = rows[-1]
        next_cursor = encode_cursor(page.sort, last_row["sort_value"], *(last_row[f"key_{i}"] for i in range(len(keys))))
    return {"items": items, "next_cursor": next_cursor, "as_of_position": position}


# ---- filters -----------------------------------------------------------------------------------


def value_range(sql: Sql, where: list[str], column: str, type_: str, names: tuple[str, str], low: Any, high: Any) -> None:
    if low is not None and high is not None and low > high:
        raise ListQueryError(names[0], f"{low} is after {names[1]} {high}", f"{low} 晚于 {names[1]} {high}")
    if low is not None:
        where.append(f"{column} >= {sql.param(low, type_)}")
    if high is not None:
        where.append(f"{column} <= {sql.param(high, type_)}")


def equal(sql: Sql, where: list[str], column: str, type_: str, value: Any) -> None:
    if value is not None:
        where.append(f"{column} = {sql.param(value, type_)}")


def text_search(sql: Sql, where: list[str], column: str, q: str | None) -> None:
    if q is not None and q.strip():
        if "\x00" in q:
            raise ListQueryError("q", "contains a NUL character", "含有 NUL 字符")
        where.append(f"{column} ILIKE {sql.param(like_pattern(q.strip()), 'text')}")


def keyed_digest(sql: Sql, who: Viewer, column: str) -> str:
    """The SQL for a keyed digest of a text column: what a cursor carries instead of typed text
    (an inventor's name in a line key). Keyed by the server's secret, so that a reader cannot
    hash a list of names and match them; stable, so a cursor stays valid between requests."""
    return f"md5({sql.param(who.salt, 'text')} || {column})"


def recorded_by_filter(sql: Sql, where: list[str], who: Viewer, condition: str, actor: UUID | None) -> None:
    """Rows whose record has an event recorded by ``actor`` (a user's or token's id, ledger/actor.py):
    ``condition`` ties ``events e`` to the row (``e.stream_id = c.contract_id``). A regulator never
    sees who recorded, so it cannot filter by it either."""
    if actor is None:
        return
    if who.role == "regulator":
        raise ListQueryError("recorded_by", "a regulator's token does not filter by who recorded",
                             "监管部门的令牌不能按记录人筛选")
    where.append(f"EXISTS (SELECT 1 FROM events e WHERE e.actor_id = {sql.param(actor, 'uuid')} AND {condition})")


def _me(sql: Sql, who: Viewer) -> str | None:
    return None if who.institution_id is None else sql.param(who.institution_id, "uuid")


def contract_scope(sql: Sql, where: list[str], who: Viewer, alias: str = "c") -> None:
    """The contracts (``ct_contracts`` as ``alias``) ``who`` sees, as ``api/tenancy.sees_contract``."""
    if who.role == "regulator":
        where.append(f"{alias}.registered_on IS NOT NULL")
    elif who.role != "admin":
        me = _me(sql, who)
        if me is None:
            where.append("false")
        elif who.role == "operator":
            where.append(f"{alias}.achievement_ids && ARRAY(SELECT x.achievement_id FROM ct_achievements x "
                         f"WHERE x.ever_exchange_ids @> ARRAY[{me}])")
        else:
            where.append(f"({alias}.seller_ids @> ARRAY[{me}] OR {alias}.buyer_id = {me})")


def achievement_scope(sql: Sql, where: list[str], who: Viewer, alias: str = "a") -> None:
    """The achievements (``ct_achievements`` as ``alias``) ``who`` sees, as ``api/tenancy.sees_achievement``."""
    if who.role in ("admin", "regulator"):
        return
    me = _me(sql, who)
    column = f"{alias}.ever_exchange_ids" if who.role == "operator" else f"{alias}.viewer_ids"
    where.append("false" if me is None else f"{column} @> ARRAY[{me}]")


def party_filter(sql: Sql, where: list[str], party: UUID | None, alias: str = "c") -> None:
    """Contracts where ``party`` is a seller or the buyer."""
    if party is not None:
        p = sql.param(party, "uuid")
        where.append(f"({alias}.seller_ids @> ARRAY[{p}] OR {alias}.buyer_id = {p})")


def institution_scope(sql: Sql, where: list[str], who: Viewer, column: str, *also: str) -> None:
    """Records of one institution (``column``, or one of ``also``): admin and regulator see all; an
    exchange none (it holds no distributions, holdings or self-implementations)."""
    if who.role in ("admin", "regulator"):
        return
    me = _me(sql, who)
    if me is None or who.role == "operator":
        where.append("false")
        return
    where.append("(" + " OR ".join(f"{c} = {me}" for c in (column, *also)) + ")")


# ---- institutions ----------------------------------------------------------------------------

INSTITUTION_COLUMNS = ("i.institution_id AS id, i.name, i.kind, i.size, i.public, i.region, i.city, "
                       "i.registered_on")


async def list_institutions(
    db: Db, who: Viewer, page: Page, *, q: str | None = None, kind: str | None = None,
    region: str | None = None, size: str | None = None, public: bool | None = None, directory: bool | None = None,
) -> dict[str, Any]:
    """Institutions (a scoped token sees only its own, as ``GET /v1/institutions/{id}``), or with
    ``directory`` every institution: the public registry facts anyone picks a party from."""
    sql = Sql()
    where: list[str] = []
    if who.role not in ("admin", "regulator") and not directory:
        me = _me(sql, who)
        where.append("false" if me is None else f"i.institution_id = {me}")
    text_search(sql, where, "i.name", q)
    equal(sql, where, "i.kind", "text", kind)
    equal(sql, where, "i.region", "text", region)
    equal(sql, where, "i.size", "text", size)
    equal(sql, where, "i.public", "boolean", public)
    return await read_page(db, sql, INSTITUTION_COLUMNS, "ct_institutions i", where, INSTITUTION_SORTS, page,
                       "i.institution_id", ("contracts",))


# ---- achievements ----------------------------------------------------------------------------

ACHIEVEMENT_COLUMNS = (
    "a.achievement_id AS id, a.title, a.ip_type, a.technology_field, a.service, a.state_funded, "
    "a.registered_on, a.granted_on, a.lapsed_on, a.owner_ids, a.in_register, "
    "a.exchange_ids AS listed_on, a.first_listed_on"
)


async def list_achievements(
    db: Db, who: Viewer, page: Page, *, q: str | None = None, owner: UUID | None = None,
    ip_type: str | None = None, technology_field: str | None = None, service: bool | None = None,
    in_register: bool | None = None, listed_on: UUID | None = None,
    granted_from: date | None = None, granted_to: date | None = None,
    registered_from: date | None = None, registered_to: date | None = None, recorded_by: UUID | None = None,
) -> dict[str, Any]:
    """Achievements: an institution sees those it owns or owned, an exchange those ever listed on it."""
    sql = Sql()
    where: list[str] = []
    achievement_scope(sql, where, who)
    text_search(sql, where, "a.title", q)
    if owner is not None:
        where.append(f"a.owner_ids @> ARRAY[{sql.param(owner, 'uuid')}]")
    equal(sql, where, "a.ip_type", "text", ip_type)
    equal(sql, where, "a.technology_field", "text", technology_field)
    equal(sql, where, "a.service", "boolean", service)
    equal(sql, where, "a.in_register", "boolean", in_register)
    if listed_on is not None:
        where.append(f"a.exchange_ids @> ARRAY[{sql.param(listed_on, 'uuid')}]")
    value_range(sql, where, "a.granted_on", "date", ("granted_from", "granted_to"), granted_from, granted_to)
    value_range(sql, where, "a.registered_on", "date", ("registered_from", "registered_to"),
                registered_from, registered_to)
    recorded_by_filter(sql, where, who, "e.stream_id = a.achievement_id", recorded_by)
    return await read_page(db, sql, ACHIEVEMENT_COLUMNS, "ct_achievements a", where, ACHIEVEMENT_SORTS, page,
                           "a.achievement_id", ("contracts",))


# ---- contracts -------------------------------------------------------------------------------

CONTRACT_COLUMNS = (
    "c.contract_id AS id, c.title, c.kind, c.status, c.currency, c.contract_value_fen, "
    "c.transaction_value_fen, c.drafted_on, c.signed_on, c.effective_on, c.ended_on, c.registered_on, "
    "c.registration_number, c.seller_ids, s.name AS seller_name, c.buyer_id, b.name AS buyer_name, "
    "c.achievement_ids, c.exchange_ids"
)
CONTRACT_SOURCE = ("ct_contracts c LEFT JOIN ct_institutions s ON s.institution_id = c.seller_id "
                   "LEFT JOIN ct_institutions b ON b.institution_id = c.buyer_id")


async def list_contracts(
    db: Db, who: Viewer, page: Page, *, q: str | None = None, party: UUID | None = None,
    kind: str | None = None, status: str | None = None, exchange: UUID | None = None,
    registration_number: str | None = None, signed_from: date | None = None, signed_to: date | None = None,
    registered_from: date | None = None, registered_to: date | None = None,
    amount_min: int | None = None, amount_max: int | None = None, overdue_as_of: date | None = None,
    recorded_by: UUID | None = None,
) -> dict[str, Any]:
    """Contracts: a regulator sees the registered ones, a party its own, an exchange those covering
    an achievement ever listed on it. ``q`` searches the title and the parties' names."""
    sql = Sql()
    where: list[str] = []
    source = CONTRACT_SOURCE
    if who.role == "operator" and who.institution_id is not None:
        # An exchange's contracts are a few hundred of the table: find them first (GIN index on
        # achievement_ids), then order them. Left to itself the planner walks the whole sort index
        # and tests each row (47 ms at 100,000 contracts); OFFSET 0 keeps the subquery apart.
        me = sql.param(who.institution_id, "uuid")
        source = CONTRACT_SOURCE.replace("ct_contracts c", (
            "(SELECT * FROM ct_contracts WHERE achievement_ids && ARRAY(SELECT x.achievement_id "
            f"FROM ct_achievements x WHERE x.ever_exchange_ids @> ARRAY[{me}]) OFFSET 0) c"), 1)
    else:
        contract_scope(sql, where, who)
    text_search(sql, where, "c.search_text", q)
    party_filter(sql, where, party)
    equal(sql, where, "c.kind", "text", kind)
    equal(sql, where, "c.status", "text", status)
    if exchange is not None:
        where.append(f"c.exchange_ids @> ARRAY[{sql.param(exchange, 'uuid')}]")
    equal(sql, where, "c.registration_number", "text", registration_number)
    value_range(sql, where, "c.signed_on", "date", ("signed_from", "signed_to"), signed_from, signed_to)
    value_range(sql, where, "c.registered_on", "date", ("registered_from", "registered_to"),
                registered_from, registered_to)
    value_range(sql, where, "c.contract_value_fen", "bigint", ("amount_min", "amount_max"), amount_min, amount_max)
    if overdue_as_of is not None:
        # As the receivables statistics count it: an item due before the date with money outstanding.
        where.append("EXISTS (SELECT 1 FROM rcv_items r WHERE r.contract_id = c.contract_id "
                     f"AND r.due_on < {sql.param(overdue_as_of, 'date')} AND r.outstanding_fen > 0)")
    recorded_by_filter(sql, where, who, "e.stream_id = c.contract_id", recorded_by)
    return await read_page(db, sql, CONTRACT_COLUMNS, source, where, CONTRACT_SORTS, page,
                           "c.contract_id", ("contracts", "receivables"))
