"""Walk the global log and check the hash chain (decision 10).

Reports every problem, not only the first, so an auditor sees the whole
damage: an event whose content no longer matches its hash (``altered``), a
link that does not point at its predecessor (``chain_broken``), positions
with no event (``missing``), and a log head that disagrees with the last
event (``head_mismatch``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from ledger.actor import Actor
from ledger.store import GENESIS_HASH, chain_hash


@dataclass(frozen=True)
class Problem:
    kind: str
    position: int
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} at position {self.position}: {self.detail}"


@dataclass(frozen=True)
class VerifyReport:
    events_checked: int
    head: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _actor_id(metadata: bytes | None) -> UUID | None:
    try:
        actor = Actor.from_metadata(metadata)
    except (ValueError, UnicodeDecodeError):
        return None
    return None if actor is None else actor.id


async def _rows(conn: asyncpg.Connection, page: int) -> AsyncIterator[asyncpg.Record]:
    after = 0
    while True:
        rows = await conn.fetch(
            "SELECT position, stream_id, version, topic, state, prev_hash, hash, metadata, actor_id FROM events "
            "WHERE position > $1 ORDER BY position LIMIT $2",
            after, page,
        )
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1]["position"]


async def verify_log(
    conn: asyncpg.Connection, *, page: int = 5000, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    head_row = await conn.fetchrow("SELECT position, hash FROM log_head")
    head, head_hash = int(head_row["position"]), bytes(head_row["hash"])
    problems: list[Problem] = []
    expected_position = 1
    previous_hash = GENESIS_HASH
    checked = 0
    async for row in _rows(conn, page):
        position = row["position"]
        stored_prev = bytes(row["prev_hash"])
        if position > expected_position:
            gap = f"{expected_position}" if position == expected_position + 1 else f"{expected_position}..{position - 1}"
            problems.append(Problem("missing", expected_position, f"no event at position {gap}"))
        elif stored_prev != previous_hash:
            problems.append(Problem("chain_broken", position, "prev_hash does not match the preceding event's hash"))
        metadata = None if row["metadata"] is None else bytes(row["metadata"])
        recomputed = chain_hash(stored_prev, position, row["stream_id"], row["version"], row["topic"],
                                bytes(row["state"]), metadata)
        if recomputed != bytes(row["hash"]):
            problems.append(Problem("altered", position, "content does not match its hash"))
        elif row["actor_id"] != _actor_id(metadata):
            # The id beside the metadata is for filtering: it must say what the hashed bytes say.
            problems.append(Problem("actor_mismatch", position, "actor_id does not match the hashed actor"))
        previous_hash = bytes(row["hash"])
        expected_position = position + 1
        checked += 1
        if progress is not None and checked % page == 0:
            progress(checked, head)
    if expected_position - 1 < head:
        problems.append(Problem("missing", expected_position, f"log head is {head} but the last event is {expected_position - 1}"))
    elif head_hash != previous_hash and checked:
        problems.append(Problem("head_mismatch", head, "log head hash does not match the last event"))
    if progress is not None:
        progress(checked, head)
    return VerifyReport(checked, head, tuple(problems))
