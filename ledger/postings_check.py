"""Check the books against the log: postings are a pure function of the events.

Replaying every event through the same posting rules must give exactly the
journal entries and postings that were written with the events. It also
checks that the trial balance is zero at every position of the log, per
institution and currency. ``ttledger verify`` runs both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.persistence import Mapper, StoredEvent

from ledger.posting_rules import POSTING_RULES, entries_for
from ledger.postings import EntryBatch


@dataclass(frozen=True)
class BooksReport:
    events: int
    entries: int
    missing: tuple[tuple[Any, ...], ...]  # rows the replay expects but the table lacks
    unexpected: tuple[tuple[Any, ...], ...]  # rows in the table the replay does not produce
    unbalanced_positions: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.unbalanced_positions)


async def check_books(conn: asyncpg.Connection, mapper: Mapper[UUID], *, page: int = 5000,
                      progress: Callable[[int, int], None] | None = None) -> BooksReport:
    posting_topics = {t for t in await _topics(conn) if t.rsplit(":", 1)[-1] in POSTING_RULES}
    head = int(await conn.fetchval("SELECT position FROM log_head"))
    aggregates: dict[UUID, Any] = {}
    expected_entries: set[tuple[Any, ...]] = set()
    expected_postings: set[tuple[Any, ...]] = set()
    after, events = 0, 0
    # Only streams that ever post need replaying; load them whole, in log order.
    streams = {r["stream_id"] for r in await conn.fetch(
        "SELECT DISTINCT stream_id FROM events WHERE topic = ANY($1::text[])", list(posting_topics))}
    while True:
        rows = await conn.fetch(
            "SELECT position, stream_id, version, topic, state FROM events WHERE position > $1 "
            "AND stream_id = ANY($2::uuid[]) ORDER BY position LIMIT $3", after, list(streams), page)
        if not rows:
            break
        for row in rows:
            event = mapper.to_domain_event(StoredEvent(row["stream_id"], row["version"], row["topic"], bytes(row["state"])))
            aggregate = event.mutate(aggregates.get(row["stream_id"]))  # type: ignore[attr-defined]
            aggregates[row["stream_id"]] = aggregate
            batch = EntryBatch()
            batch.add(0, entries_for(aggregate, event))
            entry_rows, posting_rows = batch.rows([row["position"]], [row["stream_id"]])
            expected_entries.update(entry_rows)
            expected_postings.update(posting_rows)
            events += 1
        after = rows[-1]["position"]
        if progress is not None:
            progress(after, head)
    actual_entries = {tuple(r) for r in await conn.fetch(
        "SELECT position, seq, institution_id, currency, entry_date, kind, description, stream_id, "
        "reverses_position, reverses_seq FROM journal_entries")}
    actual_postings = {tuple(r) for r in await conn.fetch(
        "SELECT position, seq, line, account, amount_fen FROM postings")}
    unbalanced = await conn.fetch(
        "SELECT position FROM (SELECT p.position, sum(sum(p.amount_fen)) OVER ("
        "  PARTITION BY e.institution_id, e.currency ORDER BY p.position) AS running "
        "  FROM postings p JOIN journal_entries e USING (position, seq) "
        "  GROUP BY p.position, e.institution_id, e.currency) t WHERE running <> 0 ORDER BY position")
    return BooksReport(
        events=events,
        entries=len(actual_entries),
        missing=tuple(sorted(expected_entries - actual_entries, key=str))
        + tuple(sorted(expected_postings - actual_postings, key=str)),
        unexpected=tuple(sorted(actual_entries - expected_entries, key=str))
        + tuple(sorted(actual_postings - expected_postings, key=str)),
        unbalanced_positions=tuple(r["position"] for r in unbalanced),
    )


async def _topics(conn: asyncpg.Connection) -> list[str]:
    return [r["topic"] for r in await conn.fetch("SELECT DISTINCT topic FROM events")]
