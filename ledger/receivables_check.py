"""The receivables statistic against the books, at every month end (issue: point-in-time truth).

For every institution, currency and month end D in the range of the books,
the outstanding receivables the statistic reports as of D
(projections/queries.py ``receivables``) must equal the balance of the
institution's ``receivable:<contract>`` accounts from the journal entries dated
on or before D. Both read the same business dates (domain/arising.py), so a
difference means one of them is wrong. ``ttledger verify`` runs this after the
receivables projection has caught up with the log.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from projections.queries import receivables

Key = tuple[date, UUID, str]  # month end, institution, currency


@dataclass(frozen=True)
class ReceivablesReport:
    month_ends: int
    checked: int  # (month end, institution, currency) triples compared
    differences: tuple[tuple[date, UUID, str, int, int], ...]  # D, institution, currency, statistic, books

    @property
    def ok(self) -> bool:
        return not self.differences


def month_ends(first: date, last: date) -> Iterator[date]:
    """Every month end from ``first``'s month to ``last``'s month."""
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        yield date(year, month, calendar.monthrange(year, month)[1])
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


async def books_by_month(conn: asyncpg.Connection) -> dict[tuple[date, UUID, str], int]:
    """Receivable balances per month end, institution and currency, from the journal."""
    rows = await conn.fetch(
        "SELECT e.institution_id, e.currency, date_trunc('month', e.entry_date)::date AS month, "
        "sum(p.amount_fen)::bigint AS moved FROM postings p JOIN journal_entries e USING (position, seq) "
        "WHERE p.account LIKE 'receivable:%' GROUP BY 1, 2, 3 ORDER BY 3")
    if not rows:
        return {}
    moved: dict[tuple[UUID, str], dict[date, int]] = defaultdict(dict)
    for r in rows:
        moved[(r["institution_id"], r["currency"])][r["month"]] = int(r["moved"])
    first = min(r["month"] for r in rows)
    last = max(r["month"] for r in rows)
    balances: dict[tuple[date, UUID, str], int] = {}
    for (institution, currency), months in moved.items():
        running = 0
        for end in month_ends(first, last):
            running += months.get(end.replace(day=1), 0)
            balances[(end, institution, currency)] = running
    return balances


async def books_on(conn: asyncpg.Connection, on: date, known_at: int | None = None,
                   currency: str = "CNY") -> dict[UUID, int]:
    """Each institution's receivable balance from the entries dated on or before ``on`` and, with
    ``known_at``, written at or before that log position (the books as the ledger knew them)."""
    rows = await conn.fetch(
        "SELECT e.institution_id, sum(p.amount_fen)::bigint AS balance FROM postings p "
        "JOIN journal_entries e USING (position, seq) WHERE p.account LIKE 'receivable:%' "
        "AND e.entry_date <= $1 AND e.currency = $2 AND ($3::bigint IS NULL OR e.position <= $3) "
        "GROUP BY 1", on, currency, known_at)
    return {r["institution_id"]: int(r["balance"]) for r in rows if r["balance"]}


async def reconcile_receivables(db: Any, *, progress: Callable[[int, int], None] | None = None,
                                known_at: int | None = None) -> ReceivablesReport:
    """Compare the statistic with the books at every month end; ``db`` is a pool or connection."""
    if isinstance(db, asyncpg.Connection):
        books = await books_by_month(db)
    else:
        async with db.acquire() as conn:
            books = await books_by_month(conn)
    ends = sorted({end for end, _, _ in books})
    currencies = sorted({currency for _, _, currency in books})
    differences = []
    checked = 0
    for n, end in enumerate(ends, start=1):
        statistic: dict[tuple[UUID, str], int] = {}
        for currency in currencies:
            answer = await receivables(db, as_of=end, group_by=["institution"], currency=currency,
                                       known_at=known_at)
            for row in answer["rows"]:
                statistic[(UUID(str(row["institution"])), currency)] = row["outstanding_fen"]
        keys = {(i, c) for e, i, c in books if e == end} | set(statistic)
        for institution, currency in sorted(keys, key=str):
            stat = statistic.get((institution, currency), 0)
            book = books.get((end, institution, currency), 0)
            checked += 1
            if stat != book:
                differences.append((end, institution, currency, stat, book))
        if progress is not None:
            progress(n, len(ends))
    return ReceivablesReport(len(ends), checked, tuple(differences))
