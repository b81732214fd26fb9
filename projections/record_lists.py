"""Lists of the records that hang off contracts, distributions and achievements.

Due items, receipts, registrations, listings, equity holdings, self-implementations,
distributions, their lines and award payments, and (admin only) API tokens, with the
machinery of ``projections/lists.py``: one snapshot per page, keyset cursors, tenancy in SQL.

Tenancy is that of the record each row belongs to (api/tenancy.py): a due item, receipt or
registration is seen by whoever sees its contract (``contract_scope``); a listing by whoever sees
its achievement; a distribution, its lines and payments, a holding by its institution (and
admin and regulator); a self-implementation also by its partner.

**No typed text in a cursor.** A regulator reads these lists with inventors and typed ids
pseudonymised (api/redaction.py), and a cursor is plain base64: so a row whose identity is typed
text (a due item's id may carry a milestone's name, a line key an inventor's) is keyed by a
digest of the text keyed with a server secret (``keyed_digest``), never the text itself nor a
plain hash a reader could match against a list of names. The order between such rows is
arbitrary but fixed, which is all a keyset needs.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from projections.lists import (
    Key,
    ListQueryError,
    Page,
    Viewer,
    achievement_scope,
    contract_scope,
    equal,
    institution_scope,
    keyed_digest,
    party_filter,
    read_page,
    recorded_by_filter,
    text_search,
    value_range,
)
from projections.queries import Db, Sql


def _sorts(*specs: tuple[str, str, str]) -> dict[str, tuple[str, str]]:
    """``(name, expression, type)`` → both directions: ``name`` and ``-name``."""
    out: dict[str, tuple[str, str]] = {}
    for name, expr, type_ in specs:
        out[name] = out[f"-{name}"] = (expr, type_)
    return out


def _key(sql: Sql, who: Viewer, record: str, text: str) -> Key:
    """A row's identity: its record's uuid, then a keyed digest of its typed text."""
    return ((record, "uuid"), (keyed_digest(sql, who, text), "text"))


def _no_person_search(who: Viewer, name: str, value: str | None) -> None:
    """A regulator sees inventors only as pseudonyms, so it cannot ask whether a named person is one."""
    if value is not None and who.role == "regulator":
        raise ListQueryError(name, "a regulator's token does not filter by a person's name",
                             "监管部门的令牌不能按个人姓名筛选")


def _flag(where: list[str], value: bool | None, condition: str) -> None:
    """``condition`` when ``value`` is true, its negation when false, nothing when None."""
    if value is not None:
        where.append(condition if value else f"NOT ({condition})")


# ---- due items (应收款项) ----------------------------------------------------------------------

DUE_ITEM_SORTS = _sorts(("due_on", "i.due_on", "date"), ("amount_fen", "i.amount_fen", "bigint"),
                        ("outstanding_fen", "i.outstanding_fen", "bigint"))
DUE_ITEM_COLUMNS = (
    "i.contract_id, c.title AS contract_title, i.item_id, i.kind, i.label, i.currency, i.amount_fen, "
    "i.paid_fen, i.written_off_fen, i.cancelled_fen, i.outstanding_fen, i.fell_due_on, i.original_due_on, "
    "i.due_on, i.deferrals, i.last_paid_on, i.institution_id, i.buyer_id"
)


async def list_due_items(
    db: Db, who: Viewer, page: Page, *, contract: UUID | None = None, party: UUID | None = None,
    kind: str | None = None, outstanding: bool | None = None, overdue_as_of: date | None = None,
    due_from: date | None = None, due_to: date | None = None, q: str | None = None,
) -> dict[str, Any]:
    """Due items of the contracts ``who`` sees; ``q`` searches the contract's title and parties."""
    sql = Sql()
    where: list[str] = []
    contract_scope(sql, where, who)
    equal(sql, where, "i.contract_id", "uuid", contract)
    if party is not None:
        p = sql.param(party, "uuid")
        where.append(f"(i.institution_id = {p} OR i.buyer_id = {p} OR c.seller_ids @> ARRAY[{p}])")
    equal(sql, where, "i.kind", "text", kind)
    _flag(where, outstanding, "i.outstanding_fen > 0")
    if overdue_as_of is not None:
        a = sql.param(overdue_as_of, "date")
        where.append(f"i.outstanding_fen > 0 AND i.due_on < {a} AND (i.fell_due_on IS NULL OR i.fell_due_on <= {a})")
    value_range(sql, where, "i.due_on", "date", ("due_from", "due_to"), due_from, due_to)
    text_search(sql, where, "c.search_text", q)
    return await read_page(db, sql, DUE_ITEM_COLUMNS,
                           "rcv_items i JOIN ct_contracts c ON c.contract_id = i.contract_id",
                           where, DUE_ITEM_SORTS, page, _key(sql, who, "i.contract_id", "i.item_id"),
                           ("contracts", "receivables"))


# ---- receipts (收款) ---------------------------------------------------------------------------

RECEIPT_SORTS = _sorts(("received_on", "r.received_on", "date"), ("amount_fen", "r.amount_fen", "bigint"))
RECEIPT_COLUMNS = (
    "r.contract_id, c.title AS contract_title, r.receipt_id, r.source, r.received_on, r.amount_fen, "
    "r.applied_fen, r.credit_fen, r.payer, r.currency, c.seller_id, c.buyer_id, r.position"
)


async def list_receipts(
    db: Db, who: Viewer, page: Page, *, contract: UUID | None = None, party: UUID | None = None,
    source: str | None = None, received_from: date | None = None, received_to: date | None = None,
    amount_min: int | None = None, amount_max: int | None = None, q: str | None = None,
    recorded_by: UUID | None = None,
) -> dict[str, Any]:
    """Money received on the contracts ``who`` sees: payments, applied credits, insurance."""
    sql = Sql()
    where: list[str] = []
    contract_scope(sql, where, who)
    equal(sql, where, "r.contract_id", "uuid", contract)
    party_filter(sql, where, party)
    equal(sql, where, "r.source", "text", source)
    value_range(sql, where, "r.received_on", "date", ("received_from", "received_to"), received_from, received_to)
    value_range(sql, where, "r.amount_fen", "bigint", ("amount_min", "amount_max"), amount_min, amount_max)
    text_search(sql, where, "c.search_text", q)
    recorded_by_filter(sql, where, who, "e.position = r.position", recorded_by)
    return await read_page(db, sql, RECEIPT_COLUMNS,
                           "ct_receipts r JOIN ct_contracts c ON c.contract_id = r.contract_id",
                           where, RECEIPT_SORTS, page, (("r.position", "bigint"),), ("contracts",))


# ---- registrations (认定登记) -------------------------------------------------------------------

REGISTRATION_SORTS = _sorts(("registered_on", "c.registered_on", "date"),
                            ("registered_value_fen", "c.registered_value_fen", "bigint"))
REGISTRATION_COLUMNS = (
    "c.contract_id AS id, c.title, c.kind, c.status, c.registry, c.registration_number, c.approved_category, "
    "c.registered_on, c.registered_value_fen, c.contract_value_fen, c.transaction_value_fen, c.currency, "
    "c.corrections, c.correction_requested_on, c.signed_on, c.seller_id, c.buyer_id"
)


async def list_registrations(
    db: Db, who: Viewer, page: Page, *, q: str | None = None, party: UUID | None = None,
    registry: str | None = None, registration_number: str | None = None, approved_category: str | None = None,
    registered_from: date | None = None, registered_to: date | None = None,
    correction_requested: bool | None = None, corrected: bool | None = None,
) -> dict[str, Any]:
    """Registrations (认定登记) of the contracts ``who`` sees, one per contract, as last corrected."""
    sql = Sql()
    where = ["c.registered_on IS NOT NULL"]
    contract_scope(sql, where, who)
    text_search(sql, where, "c.search_text", q)
    party_filter(sql, where, party)
    equal(sql, where, "c.registry", "text", registry)
    equal(sql, where, "c.registration_number", "text", registration_number)
    equal(sql, where, "c.approved_category", "text", approved_category)
    value_range(sql, where, "c.registered_on", "date", ("registered_from", "registered_to"),
                registered_from, registered_to)
    _flag(where, correction_requested, "c.correction_requested_on IS NOT NULL")
    _flag(where, corrected, "c.corrections > 0")
    return await read_page(db, sql, REGISTRATION_COLUMNS, "ct_contracts c", where, REGISTRATION_SORTS, page,
                           "c.contract_id", ("contracts",))


# ---- listings (挂牌) ---------------------------------------------------------------------------

LISTING_SORTS = _sorts(("listed_on", "l.listed_on", "date"), ("title", "l.title", "text"))
LISTING_COLUMNS = (
    "l.exchange_id, x.name AS exchange_name, l.listing_number, l.achievement_id, l.title, l.asking_price_fen, "
    "l.currency, l.listed_on, l.delisted_on, a.ip_type, a.technology_field, a.owner_ids"
)


async def list_listings(
    db: Db, who: Viewer, page: Page, *, q: str | None = None, exchange: UUID | None = None,
    achievement: UUID | None = None, in_force: bool | None = None,
    listed_from: date | None = None, listed_to: date | None = None,
) -> dict[str, Any]:
    """Listings of the achievements ``who`` sees (an exchange: those ever listed on it)."""
    sql = Sql()
    where: list[str] = []
    achievement_scope(sql, where, who)
    text_search(sql, where, "l.title", q)
    equal(sql, where, "l.exchange_id", "uuid", exchange)
    equal(sql, where, "l.achievement_id", "uuid", achievement)
    _flag(where, in_force, "l.delisted_on IS NULL")
    value_range(sql, where, "l.listed_on", "date", ("listed_from", "listed_to"), listed_from, listed_to)
    source = ("ct_listings l JOIN ct_achievements a ON a.achievement_id = l.achievement_id "
              "LEFT JOIN ct_institutions x ON x.institution_id = l.exchange_id")
    return await read_page(db, sql, LISTING_COLUMNS, source, where, LISTING_SORTS, page,
                           _key(sql, who, "l.exchange_id", "l.listing_number"),
                           ("contracts",))


# ---- equity holdings (作价投资) -----------------------------------------------------------------

HOLDING_SORTS = _sorts(("contributed_on", "h.contributed_on", "date"), ("valuation_fen", "h.valuation_fen", "bigint"),
                       ("company_name", "h.company_name", "text"))
HOLDING_COLUMNS = (
    "h.holding_id AS id, h.contract_id, h.institution_id, h.company_name, h.company_code, h.contributed_on, "
    "h.valuation_fen, h.shares_received, h.shares_held, h.total_shares, h.new_company, h.cashed_in_fen, "
    "h.dividends_fen, h.currency, h.decided_on"
)


async def list_holdings(
    db: Db, who: Viewer, page: Page, *, q: str | None = None, institution: UUID | None = None,
    contract: UUID | None = None, company_code: str | None = None, decision_recorded: bool | None = None,
    contributed_from: date | None = None, contributed_to: date | None = None,
) -> dict[str, Any]:
    """Equity holdings; ``q`` searches the company's name."""
    sql = Sql()
    where: list[str] = []
    institution_scope(sql, where, who, "h.institution_id")
    text_search(sql, where, "h.company_name", q)
    equal(sql, where, "h.institution_id", "uuid", institution)
    equal(sql, where, "h.contract_id", "uuid", contract)
    equal(sql, where, "h.company_code", "text", company_code)
    _flag(where, decision_recorded, "h.decided_on IS NOT NULL")
    value_range(sql, where, "h.contributed_on", "date", ("contributed_from", "contributed_to"),
                contributed_from, contributed_to)
    return await read_page(db, sql, HOLDING_COLUMNS, "ct_holdings h", where, HOLDING_SORTS, page,
                           "h.holding_id", ("contracts",))


# ---- self-implementations (自行实施) ------------------------------------------------------------

SELF_SORTS = _sorts(("started_on", "s.started_on", "date"))
SELF_COLUMNS = (
    "s.self_implementation_id AS id, s.institution_id, s.achievement_id, a.title AS achievement_title, "
    "s.partner_id, s.started_on, s.stopped_on, "
    "coalesce((SELECT sum(l.allocated_fen) FROM dist_self_lines l "
    "WHERE l.self_implementation_id = s.self_implementation_id), 0)::bigint AS allocated_fen, "
    "coalesce((SELECT sum(p.amount_fen) FROM dist_self_payments p "
    "WHERE p.self_implementation_id = s.self_implementation_id), 0)::bigint AS paid_fen"
)


async def list_self_implementations(
    db: Db, who: Viewer, page: Page, *, q: str | None = None, institution: UUID | None = None,
    achievement: UUID | None = None, partner: UUID | None = None, active: bool | None = None,
    started_from: date | None = None, started_to: date | None = None,
) -> dict[str, Any]:
    """Self-implementations, with their award totals; ``q`` searches the achievement's title."""
    sql = Sql()
    where: list[str] = []
    institution_scope(sql, where, who, "s.institution_id", "s.partner_id")
    text_search(sql, where, "a.title", q)
    equal(sql, where, "s.institution_id", "uuid", institution)
    equal(sql, where, "s.achievement_id", "uuid", achievement)
    equal(sql, where, "s.partner_id", "uuid", partner)
    _flag(where, active, "s.stopped_on IS NULL")
    value_range(sql, where, "s.started_on", "date", ("started_from", "started_to"), started_from, started_to)
    source = ("dist_self_implementations s LEFT JOIN ct_achievements a ON a.achievement_id = s.achievement_id")
    return await read_page(db, sql, SELF_COLUMNS, source, where, SELF_SORTS, page, "s.self_implementation_id",
                           ("distribution", "contracts"))


# ---- distributions (收益分配) -------------------------------------------------------------------

DISTRIBUTION_SORTS = _sorts(("received_on", "d.received_on", "date"), ("deadline_on", "d.deadline_on", "date"),
                            ("net_fen", "d.net_fen", "bigint"))
DISTRIBUTION_COLUMNS = (
    "d.distribution_id AS id, d.contract_id, d.receipt_id, d.institution_id, d.received_on, d.deadline_on, "
    "d.gross_fen, d.deducted_fen, d.net_fen, d.team_fen, d.team_floor_fen, d.floor_percent, d.below_floor, "
    "d.pack_id, d.policy_version, d.adjustments, "
    "coalesce((SELECT sum(l.paid_fen) FROM dist_lines l WHERE l.distribution_id = d.distribution_id "
    "AND l.beneficiary = 'inventor_team'), 0)::bigint AS team_paid_fen"
)


async def list_distributions(
    db: Db, who: Viewer, page: Page, *, institution: UUID | None = None, contract: UUID | None = None,
    below_floor: bool | None = None, received_from: date | None = None, received_to: date | None = None,
    deadline_from: date | None = None, deadline_to: date | None = None, recorded_by: UUID | None = None,
) -> dict[str, Any]:
    """Distributions of income receipts (one per receipt), with what the inventors were paid."""
    sql = Sql()
    where: list[str] = []
    institution_scope(sql, where, who, "d.institution_id")
    equal(sql, where, "d.institution_id", "uuid", institution)
    equal(sql, where, "d.contract_id", "uuid", contract)
    _flag(where, below_floor, "coalesce(d.below_floor, false)")
    value_range(sql, where, "d.received_on", "date", ("received_from", "received_to"), received_from, received_to)
    value_range(sql, where, "d.deadline_on", "date", ("deadline_from", "deadline_to"), deadline_from, deadline_to)
    recorded_by_filter(sql, where, who, "e.stream_id = d.distribution_id", recorded_by)
    return await read_page(db, sql, DISTRIBUTION_COLUMNS, "dist_receipts d", where, DISTRIBUTION_SORTS, page,
                           "d.distribution_id", ("distribution",))


LINE_SORTS = _sorts(("deadline_on", "l.deadline_on", "date"), ("received_on", "l.received_on", "date"),
                    ("allocated_fen", "l.allocated_fen", "bigint"))
LINE_COLUMNS = (
    "l.distribution_id, l.key, l.institution_id, l.contract_id, l.beneficiary, l.inventor, l.allocated_fen, "
    "l.paid_fen, (l.allocated_fen - l.paid_fen) AS unpaid_fen, l.paid_late_fen, l.first_paid_on, "
    "l.fully_paid_on, l.received_on, l.deadline_on"
)


async def list_distribution_lines(
    db: Db, who: Viewer, page: Page, *, distribution: UUID | None = None, institution: UUID | None = None,
    contract: UUID | None = None, beneficiary: str | None = None, inventor: str | None = None,
    unpaid: bool | None = None, deadline_from: date | None = None, deadline_to: date | None = None,
) -> dict[str, Any]:
    """The lines of distributions: what each beneficiary (an inventor by name) was allocated and paid."""
    _no_person_search(who, "inventor", inventor)
    sql = Sql()
    where: list[str] = []
    institution_scope(sql, where, who, "l.institution_id")
    equal(sql, where, "l.distribution_id", "uuid", distribution)
    equal(sql, where, "l.institution_id", "uuid", institution)
    equal(sql, where, "l.contract_id", "uuid", contract)
    equal(sql, where, "l.beneficiary", "text", beneficiary)
    equal(sql, where, "l.inventor", "text", inventor)
    _flag(where, unpaid, "l.allocated_fen > l.paid_fen")
    value_range(sql, where, "l.deadline_on", "date", ("deadline_from", "deadline_to"), deadline_from, deadline_to)
    return await read_page(db, sql, LINE_COLUMNS, "dist_lines l", where, LINE_SORTS, page,
                           _key(sql, who, "l.distribution_id", "l.key"),
                           ("distribution",))


AWARD_PAYMENT_SORTS = _sorts(("paid_on", "p.paid_on", "date"), ("amount_fen", "p.amount_fen", "bigint"))
AWARD_PAYMENT_COLUMNS = (
    "p.distribution_id, p.payment_id, p.key, p.beneficiary, p.inventor, p.institution_id, p.contract_id, "
    "p.amount_fen, p.paid_on, p.within_deadline, p.received_on, p.deadline_on"
)


async def list_award_payments(
    db: Db, who: Viewer, page: Page, *, distribution: UUID | None = None, institution: UUID | None = None,
    contract: UUID | None = None, inventor: str | None = None, within_deadline: bool | None = None,
    paid_from: date | None = None, paid_to: date | None = None,
) -> dict[str, Any]:
    """Award payments made from distributions (to inventors and other beneficiaries)."""
    _no_person_search(who, "inventor", inventor)
    sql = Sql()
    where: list[str] = []
    institution_scope(sql, where, who, "p.institution_id")
    equal(sql, where, "p.distribution_id", "uuid", distribution)
    equal(sql, where, "p.institution_id", "uuid", institution)
    equal(sql, where, "p.contract_id", "uuid", contract)
    equal(sql, where, "p.inventor", "text", inventor)
    equal(sql, where, "p.within_deadline", "boolean", within_deadline)
    value_range(sql, where, "p.paid_on", "date", ("paid_from", "paid_to"), paid_from, paid_to)
    return await read_page(db, sql, AWARD_PAYMENT_COLUMNS, "dist_payments p", where, AWARD_PAYMENT_SORTS, page,
                           _key(sql, who, "p.distribution_id", "p.payment_id"), ("distribution",))


# ---- API tokens (admin) -----------------------------------------------------------------------

TOKEN_SORTS = _sorts(("created_at", "t.created_at", "timestamptz"), ("name", "t.name", "text"))
TOKEN_COLUMNS = "t.id, t.name, t.role, t.institution_id, t.prefix, t.created_at, t.revoked_at"


async def list_tokens(
    db: Db, who: Viewer, page: Page, *, q: str | None = None, role: str | None = None,
    institution: UUID | None = None, active: bool | None = None,
) -> dict[str, Any]:
    """API tokens (never their secret or hash); the route admits admin tokens only."""
    sql = Sql()
    where: list[str] = [] if who.role == "admin" else ["false"]
    text_search(sql, where, "t.name", q)
    equal(sql, where, "t.role", "text", role)
    equal(sql, where, "t.institution_id", "uuid", institution)
    _flag(where, active, "t.revoked_at IS NULL")
    return await read_page(db, sql, TOKEN_COLUMNS, "api_tokens t", where, TOKEN_SORTS, page, "t.id", ())
