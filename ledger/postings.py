"""Double-entry postings: journal entries written with the events that cause them.

A journal entry belongs to one institution and one currency, and its
postings sum to zero (rule ``entry_balanced``, checked here and again by a
database trigger). Debits are positive amounts, credits negative. Balances
are sums of postings; nothing is ever edited: a correction is a reversing
entry (``JournalEntry.reversal``) followed by the right one.

Accounts are named ``kind`` or ``kind:qualifier`` (``receivable:<contract>``,
``distribution_payable:<beneficiary>``); the chart is in ``ACCOUNTS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

import asyncpg

from domain.errors import DomainError
from domain.ledger_rules import ENTRY_BALANCED

ACCOUNTS: dict[str, str] = {
    "cash": "Cash and bank (银行存款) of the institution.",
    "receivable": "Amounts fallen due and not yet received, per contract (应收账款).",
    "customer_credit": "Money received beyond what was due, held as a named credit per contract.",
    "transfer_income": "Income from transfer, licence and equity contracts, per contract (技术转让/许可收入).",
    "write_offs": "Receivables written off with approval (核销).",
    "insurance_recoveries": "Compensation paid by an insurer first (先行赔付), per contract.",
    "taxes_payable": "Taxes of a transaction, payable to the tax authority.",
    "transaction_costs": "Deductible costs per category: maintenance, valuation, appraisal, negotiation, agency.",
    "costs_payable": "Costs recorded and not yet paid.",
    "distribution": "Net income distributed to beneficiaries (收益分配), per contract.",
    "distribution_payable": "Awards allocated and not yet paid, per beneficiary (应付奖励和报酬).",
    "award_recoverable": "Awards paid beyond what an adjustment left allocated, owed back by the "
    "beneficiary (应收回多付奖励), per beneficiary.",
    "invention_bonus": "Inventors' bonus for a granted patent (职务发明人奖金, 专利法实施细则 第93条), "
    "an expense per achievement.",
    "equity_held": "Shares held from equity contributions (作价投资), at carrying value, per holding.",
    "dividend_income": "Dividends received, per holding.",
    "revaluation": "Gains and losses on revaluation, impairment and sale of shares, per holding.",
}


@dataclass(frozen=True)
class Posting:
    account: str
    amount_fen: int  # debit > 0, credit < 0


@dataclass(frozen=True)
class JournalEntry:
    institution_id: UUID
    currency: str
    entry_date: date
    kind: str
    description: str
    postings: tuple[Posting, ...]
    reverses: tuple[int, int] | None = None  # (position, seq) of the entry this one reverses

    def __post_init__(self) -> None:
        if sum(p.amount_fen for p in self.postings) != 0:
            raise DomainError(
                ENTRY_BALANCED, "postings",
                f"{self.kind}: postings sum to {sum(p.amount_fen for p in self.postings)} fen",
                detail_zh=f"{self.kind}：分录合计为 {sum(p.amount_fen for p in self.postings)} 分",
            )
        if any(p.account.split(":", 1)[0] not in ACCOUNTS for p in self.postings):
            raise ValueError(f"unknown account in {[p.account for p in self.postings]}")

    def reversal(self, of: tuple[int, int], on: date, why: str) -> JournalEntry:
        """The entry that cancels this one, dated ``on``."""
        return JournalEntry(
            self.institution_id, self.currency, on, self.kind + "_reversal", why,
            tuple(Posting(p.account, -p.amount_fen) for p in self.postings), reverses=of,
        )


def transfer(
    institution_id: UUID, currency: str, on: date, kind: str, description: str,
    debit: str, credit: str, amount_fen: int,
) -> list[JournalEntry]:
    """The common two-line entry; no entry at all for a zero amount."""
    if amount_fen == 0:
        return []
    return [JournalEntry(institution_id, currency, on, kind, description,
                         (Posting(debit, amount_fen), Posting(credit, -amount_fen)))]


@dataclass
class EntryBatch:
    """Journal entries of one command, keyed to the log positions of their events."""

    entries: list[tuple[int, JournalEntry]] = field(default_factory=list)  # (event index, entry)

    def add(self, event_index: int, entries: Sequence[JournalEntry]) -> None:
        self.entries.extend((event_index, e) for e in entries)

    def rows(self, positions: Sequence[int], stream_ids: Sequence[UUID]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        entry_rows: list[tuple[object, ...]] = []
        posting_rows: list[tuple[object, ...]] = []
        seqs: dict[int, int] = {}
        for index, entry in self.entries:
            position = positions[index]
            seq = seqs.get(position, 0)
            seqs[position] = seq + 1
            rev_pos, rev_seq = entry.reverses if entry.reverses else (None, None)
            entry_rows.append((position, seq, entry.institution_id, entry.currency, entry.entry_date,
                               entry.kind, entry.description, stream_ids[index], rev_pos, rev_seq))
            posting_rows.extend((position, seq, line, p.account, p.amount_fen)
                                for line, p in enumerate(entry.postings))
        return entry_rows, posting_rows


INSERT_ENTRIES = (
    "INSERT INTO journal_entries (position, seq, institution_id, currency, entry_date, kind, "
    "description, stream_id, reverses_position, reverses_seq) "
    "SELECT * FROM unnest($1::bigint[], $2::int[], $3::uuid[], $4::text[], $5::date[], $6::text[], "
    "$7::text[], $8::uuid[], $9::bigint[], $10::int[])"
)
# One statement for all postings, so the balance trigger sees whole entries.
INSERT_POSTINGS = (
    "INSERT INTO postings (position, seq, line, account, amount_fen) "
    "SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::bigint[])"
)


async def write_entries(conn: asyncpg.Connection, entry_rows: list[tuple[object, ...]],
                        posting_rows: list[tuple[object, ...]]) -> None:
    if not entry_rows:
        return
    await conn.execute(INSERT_ENTRIES, *[list(c) for c in zip(*entry_rows, strict=True)])
    await conn.execute(INSERT_POSTINGS, *[list(c) for c in zip(*posting_rows, strict=True)])


async def trial_balance(conn: asyncpg.Connection | asyncpg.Pool, *, up_to_position: int | None = None) -> dict[tuple[UUID, str], int]:
    """Sum of all postings per institution and currency: zero when the books balance."""
    rows = await conn.fetch(
        "SELECT e.institution_id, e.currency, sum(p.amount_fen) AS total FROM postings p "
        "JOIN journal_entries e USING (position, seq) "
        "WHERE $1::bigint IS NULL OR p.position <= $1 GROUP BY 1, 2",
        up_to_position,
    )
    return {(r["institution_id"], r["currency"]): int(r["total"]) for r in rows}


async def account_balances(conn: asyncpg.Connection | asyncpg.Pool, institution_id: UUID,
                           *, as_of: date | None = None, known_at: int | None = None) -> dict[str, int]:
    """Balances from the entries dated on or before ``as_of`` and written at or before log position
    ``known_at`` (each, when given)."""
    rows = await conn.fetch(
        "SELECT p.account, sum(p.amount_fen) AS balance FROM postings p "
        "JOIN journal_entries e USING (position, seq) WHERE e.institution_id = $1 "
        "AND ($2::date IS NULL OR e.entry_date <= $2) AND ($3::bigint IS NULL OR e.position <= $3) "
        "GROUP BY 1 ORDER BY 1",
        institution_id, as_of, known_at,
    )
    return {r["account"]: int(r["balance"]) for r in rows}
