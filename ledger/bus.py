"""The message bus: runs a command's handler in a unit of work and commits it.

It owns the two cross-cutting rules of writes:

* ``idempotency_key_reuse`` (issue 2, item 5): a retry with the same key and
  the same payload returns the first result and writes nothing; the same key
  with another payload is rejected. The key is recorded in the same
  transaction as the command's events, so a crash cannot separate them.
* Optimistic concurrency: a command that lost a race on a stream is run
  again on fresh state (``retries`` times) unless the caller pinned the
  version it expects (``If-Match``), in which case the conflict is reported.
  Between attempts it waits a random moment (full jitter, doubling from
  ``backoff`` up to ``MAX_BACKOFF_SECONDS``): contenders that all re-read at
  once would all meet again in the next group commit, where one stream
  takes one of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel

from domain.errors import DomainError
from domain.ledger_rules import IDEMPOTENCY_KEY_REUSE
from ledger.repository import Repository
from ledger.store import BatchedWrite, ConcurrencyConflict, DuplicateKey, EventStore
from ledger.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

C = TypeVar("C", bound=BaseModel)
Result = dict[str, Any]
Handler = Callable[[C, UnitOfWork], Awaitable[Result]]


class IdempotencyKeyReused(Exception):
    """Rule ``idempotency_key_reuse``: the key was first used with another payload."""

    rule = IDEMPOTENCY_KEY_REUSE

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"idempotency key {key!r} was already used for a different request; "
            "use a new key for a new request"
        )


@dataclass(frozen=True)
class Outcome:
    result: Result
    position: int
    """Global log position after the command; read-your-writes waits for it."""
    replayed: bool = False
    """True when the result is the stored one of an earlier request with the same key."""


def request_hash(command: BaseModel) -> bytes:
    payload = type(command).__name__ + "\x00" + command.model_dump_json()
    return hashlib.sha256(payload.encode("utf-8")).digest()


MAX_BACKOFF_SECONDS = 0.05
"""The longest wait before a command that lost a race runs again."""


class MessageBus:
    def __init__(self, store: EventStore, repository: Repository, *, retries: int = 20,
                 backoff: float = 0.002) -> None:
        self.store = store
        self.repository = repository
        self.retries = retries
        self.backoff = backoff

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.store, self.repository)

    async def handle(self, command: BaseModel, *, idempotency_key: str | None = None,
                     retry_on_conflict: bool = True) -> Outcome:
        """Run ``command`` with its registered handler (ledger/commands)."""
        from ledger.commands import HANDLERS

        handler = HANDLERS[type(command)]  # type: ignore[index]
        return await self.execute(command, handler, idempotency_key=idempotency_key,
                                  retry_on_conflict=retry_on_conflict)

    async def execute(
        self,
        command: C,
        handler: Handler[C],
        *,
        idempotency_key: str | None = None,
        retry_on_conflict: bool = True,
        key_known_new: bool = False,
    ) -> Outcome:
        """``key_known_new``: the caller saw no record of ``idempotency_key`` just before (a bulk
        import reads its file's keys at once), so the first lookup is skipped; a duplicate that
        committed meanwhile is still found after the handler or at the commit, as for any race."""
        digest = request_hash(command) if idempotency_key else b""
        if idempotency_key and not key_known_new:
            earlier = await self._earlier_outcome(idempotency_key, digest)
            if earlier is not None:
                return earlier
        attempts = self.retries + 1 if retry_on_conflict else 1
        for attempt in range(attempts):
            uow = self.unit_of_work()
            try:
                result = await handler(command, uow)
            except DomainError:
                if idempotency_key:
                    # The rule may be broken by this very request, committed meanwhile by a
                    # duplicate of it (its payment id now used): then that answer is this one's.
                    earlier = await self._earlier_outcome(idempotency_key, digest)
                    if earlier is not None:
                        return earlier
                raise
            if idempotency_key:
                uow.also(_record_key(idempotency_key, digest, result))
            try:
                committed = await uow.commit()
            except ConcurrencyConflict:
                if idempotency_key:
                    # The race may have been lost to this very request sent twice (a client's
                    # retry overtaking its original): then the winner's answer is this one's.
                    earlier = await self._earlier_outcome(idempotency_key, digest)
                    if earlier is not None:
                        return earlier
                if attempt + 1 >= attempts:
                    raise
                log.info("command_retried_after_conflict", command=type(command).__name__, attempt=attempt + 1)
                await asyncio.sleep(random.uniform(0, min(self.backoff * 2 ** attempt, MAX_BACKOFF_SECONDS)))
                continue
            except DuplicateKey as exc:
                if idempotency_key and exc.constraint == "idempotency_keys_pkey":
                    # A concurrent request with the same key committed first.
                    earlier = await self._earlier_outcome(idempotency_key, digest)
                    if earlier is not None:
                        return earlier
                raise
            return Outcome(result, committed.last_position)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _earlier_outcome(self, key: str, digest: bytes) -> Outcome | None:
        row = await self.store.pool.fetchrow(
            "SELECT request_hash, result, position FROM idempotency_keys WHERE key = $1", key
        )
        if row is None:
            return None
        if bytes(row["request_hash"]) != digest:
            raise IdempotencyKeyReused(key)
        return Outcome(json.loads(row["result"]), int(row["position"] or 0), replayed=True)


INSERT_KEYS = (
    "INSERT INTO idempotency_keys (key, request_hash, result, position) "
    "SELECT * FROM unnest($1::text[], $2::bytea[], $3::jsonb[], $4::bigint[])"
)


def _record_key(key: str, digest: bytes, result: Result) -> BatchedWrite:
    """The command's key and first result, merged with the other keys of the same flush."""
    answer = json.dumps(result, default=str)
    return BatchedWrite(2, INSERT_KEYS, lambda positions: [(key, digest, answer, positions[-1] if positions else None)])
