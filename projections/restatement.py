"""Restatement (重述) report: what changed for one business date between two known positions.

A regulator publishes a year's figures once, as of a date and as known at a
log position. Entries recorded afterwards can still carry earlier business
dates (a payment dated 2025 but recorded in 2026), so asking again with a
later ``known_at`` gives other figures. This report puts the two side by side
and lists, entry by entry, what made the difference:

- ``figures``: each headline figure on ``as_of`` as known at ``from_known_at``
  and at ``to_known_at``, with the change: receivables outstanding and overdue
  (projections/queries.py ``receivables``), the year's contract count and value
  (signing basis, 1 January to ``as_of``), and the books' cash, receivable and
  transfer income balances on ``as_of`` (journal entries at or before each position);
- ``entries``: every journal entry recorded after ``from_known_at`` and at or
  before ``to_known_at`` whose business date is on or before ``as_of``, with its
  postings, the event that wrote it and when it was recorded;
- ``contracts``: every contract whose signing, registration, values or status as
  the statistics read them (``ct_contracts``) differ between the two positions,
  for a contract signed or registered on or before ``as_of``: before and after.

Both positions read only what was recorded up to them, so the report itself is
reproducible: asked again later with the same three arguments, it is the same.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from projections.queries import (
    Db,
    StatisticsQueryError,
    _values,
    contract_value,
    read_snapshot,
    receivables,
)

CONTRACT_FIELDS = ("signed_on", "registered_on", "contract_value_fen", "registered_value_fen", "status")
BOOK_ACCOUNTS = ("cash", "receivable", "transfer_income")


async def restatement(
    db: Db,
    *,
    as_of: date,
    from_known_at: int,
    to_known_at: int,
    institution_id: UUID | str | None = None,
    currency: str = "CNY",
) -> dict[str, Any]:
    """The figures on ``as_of`` as known at two positions, and the entries that changed them."""
    institution: UUID | None = (None if institution_id is None
                                else _values("institution_id", institution_id, "uuid")[0])
    if from_known_at >= to_known_at:
        raise StatisticsQueryError(
            "from_known_at", f"{from_known_at} is not before to_known_at {to_known_at}",
            f"{from_known_at} 不早于 to_known_at {to_known_at}")
    figures = []
    for position in (from_known_at, to_known_at):
        owed = await receivables(db, as_of=as_of, group_by=[], institution_id=institution,
                                 currency=currency, known_at=position)
        signed = await contract_value(
            db, date_from=date(as_of.year, 1, 1), date_to=as_of, yoy=False, currency=currency,
            filters={"seller": institution} if institution else None, known_at=position)
        figures.append({
            "receivables.outstanding_fen": owed["totals"]["outstanding_fen"],
            "receivables.overdue_fen": owed["totals"]["overdue_fen"],
            "contracts.signed_count": signed["totals"]["count"],
            "contracts.contract_value_fen": signed["totals"]["contract_value_fen"],
            **{f"books.{account}_fen": fen for account, fen in
               (await _books(db, as_of, position, institution, currency)).items()},
        })
    before, after = figures
    async with read_snapshot(db) as conn:
        entries = await _entries(conn, as_of, from_known_at, to_known_at, institution, currency)
        contracts = await _contracts(conn, as_of, from_known_at, to_known_at, institution, currency)
    return {
        "figure": "restatement",
        "as_of": as_of.isoformat(),
        "from_known_at": from_known_at,
        "to_known_at": to_known_at,
        "institution_id": str(institution) if institution else None,
        "currency": currency,
        "figures": [{"figure": name, "before": before[name], "after": after[name],
                     "change": after[name] - before[name]} for name in before],
        "entries": entries,
        "contracts": contracts,
    }


async def _books(db: Db, as_of: date, position: int, institution_id: UUID | None,
                 currency: str) -> dict[str, int]:
    """Balances of the cash, receivable and transfer income accounts on ``as_of`` at ``position``."""
    async with read_snapshot(db) as conn:
        rows = await conn.fetch(
            "SELECT split_part(p.account, ':', 1) AS kind, sum(p.amount_fen)::bigint AS fen "
            "FROM postings p JOIN journal_entries e USING (position, seq) "
            "WHERE e.entry_date <= $1 AND e.position <= $2 AND e.currency = $3 "
            "AND ($4::uuid IS NULL OR e.institution_id = $4) "
            "AND split_part(p.account, ':', 1) = ANY($5::text[]) GROUP BY 1",
            as_of, position, currency, institution_id, list(BOOK_ACCOUNTS))
    found = {r["kind"]: int(r["fen"]) for r in rows}
    return {account: found.get(account, 0) for account in BOOK_ACCOUNTS}


async def _entries(conn: asyncpg.Connection, as_of: date, after: int, upto: int,
                   institution_id: UUID | None, currency: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT e.position, e.seq, e.institution_id, e.stream_id, e.entry_date, e.kind, e.description, "
        "ev.topic, ev.recorded_at, "
        "array_agg(p.line ORDER BY p.line) AS lines, array_agg(p.account ORDER BY p.line) AS accounts, "
        "array_agg(p.amount_fen ORDER BY p.line) AS amounts "
        "FROM journal_entries e JOIN postings p USING (position, seq) JOIN events ev ON ev.position = e.position "
        "WHERE e.position > $1 AND e.position <= $2 AND e.entry_date <= $3 AND e.currency = $4 "
        "AND ($5::uuid IS NULL OR e.institution_id = $5) "
        "GROUP BY e.position, e.seq, ev.topic, ev.recorded_at ORDER BY e.position, e.seq",
        after, upto, as_of, currency, institution_id)
    return [{
        "position": r["position"], "seq": r["seq"], "institution_id": r["institution_id"],
        "record_id": r["stream_id"], "event": r["topic"].rsplit(".", 1)[-1], "recorded_at": r["recorded_at"],
        "entry_date": r["entry_date"], "kind": r["kind"], "description": r["description"],
        "postings": [{"line": ln, "account": a, "amount_fen": int(m)}
                     for ln, a, m in zip(r["lines"], r["accounts"], r["amounts"], strict=True)],
    } for r in rows]


async def _contracts(conn: asyncpg.Connection, as_of: date, after: int, upto: int,
                     institution_id: UUID | None, currency: str) -> list[dict[str, Any]]:
    """Contracts as the statistics read them, at both positions, where they differ for ``as_of``.

    Every row version a contract had at either position, if it changed after ``after``, is
    either its current row or a history row superseded after ``after`` (found by the history's
    ``known_to`` index), so only those are read.
    """
    rows = await conn.fetch(
        "WITH h AS (SELECT * FROM ct_contracts_history WHERE known_to > $1), "
        "c AS (SELECT contract_id FROM ct_contracts WHERE known_from > $1 UNION SELECT contract_id FROM h), "
        "v AS (SELECT t.*, NULL::bigint AS known_to FROM ct_contracts t JOIN c USING (contract_id) "
        "      UNION ALL SELECT * FROM h), "
        "a AS (SELECT * FROM v WHERE known_from <= $1 AND (known_to IS NULL OR known_to > $1)), "
        "b AS (SELECT * FROM v WHERE known_from <= $2 AND (known_to IS NULL OR known_to > $2)) "
        "SELECT coalesce(b.contract_id, a.contract_id) AS contract_id, "
        "a.signed_on AS before_signed_on, b.signed_on AS after_signed_on, "
        "a.registered_on AS before_registered_on, b.registered_on AS after_registered_on, "
        "a.contract_value_fen AS before_contract_value_fen, b.contract_value_fen AS after_contract_value_fen, "
        "a.registered_value_fen AS before_registered_value_fen, "
        "b.registered_value_fen AS after_registered_value_fen, a.status AS before_status, b.status AS after_status "
        "FROM b FULL JOIN a ON a.contract_id = b.contract_id "
        "WHERE (a.signed_on, a.registered_on, a.contract_value_fen, a.registered_value_fen, a.status) "
        "IS DISTINCT FROM (b.signed_on, b.registered_on, b.contract_value_fen, b.registered_value_fen, b.status) "
        "AND coalesce(b.currency, a.currency) = $4 "
        "AND ($5::uuid IS NULL OR $5 = ANY(coalesce(b.seller_ids, a.seller_ids))) "
        "AND (a.signed_on <= $3 OR b.signed_on <= $3 OR a.registered_on <= $3 OR b.registered_on <= $3) "
        "ORDER BY 1",
        after, upto, as_of, currency, institution_id)
    return [{
        "contract_id": r["contract_id"],
        "before": {f: r[f"before_{f}"] for f in CONTRACT_FIELDS},
        "after": {f: r[f"after_{f}"] for f in CONTRACT_FIELDS},
    } for r in rows]
