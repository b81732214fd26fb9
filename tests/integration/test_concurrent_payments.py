"""Concurrency: many clients record payments on the same contract at the same moment.

24 clients (over HTTP, and straight through the bus) pay one contract at
once; together they offer about 1.4 times its price, a third of them asking
to hold any excess as credit (``overpayment=credit``), the rest refusing it
(the default: rule ``overpayment_rejected``). Every command races every
other on the contract's stream; the bus re-runs a command that lost a race
on fresh state, and a conflict that still reaches a client (409
``stream_version_is_current``) is sent again with the same key.

What must hold, whatever the order the database chose:

* no update lost: the payments in the log are exactly the acknowledged ones,
  to the fen, and each answer's ``outstanding_fen`` is what was outstanding
  right after its own event in log order;
* no amount allocated twice: each installment's allocations stay within its
  amount; allocations plus credits equal the money received; a receipt is
  distributed once however many clients allocate it at once;
* the overpayment rule: replaying the log, each payment settles exactly
  ``min(amount, outstanding)``, holds the rest as credit only when it asked
  to, and every refused payment asked more than was left;
* a duplicate sent while the original is still in flight (same key) is
  answered with the original's result and writes nothing;
* the books balance and reproduce from the events.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
import structlog

from domain.errors import DomainError
from ledger.bootstrap import Ledger
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.postings_check import check_books
from ledger.store import ConcurrencyConflict
from ledger.tokens import Role, TokenService
from tests.integration.api_support import serve
from tests.integration.fault_support import (
    D,
    Deals,
    decoded_events,
    report,
    seed_from_env,
    setup_deals,
)

SEED = 20260724
PRICE_FEN = 1_000_000_00
CLIENTS = 24


@dataclass
class Payment:
    payment_id: str
    amount_fen: int
    credit: bool  # overpayment=credit: hold what settles nothing
    key: str
    status: int | None = None
    rule: str | None = None
    answer: dict[str, Any] | None = None
    conflicts: int = 0

    def body(self) -> dict[str, Any]:
        return {"payment_id": self.payment_id, "amount_fen": self.amount_fen, "received_on": "2024-04-02",
                "overpayment": "credit" if self.credit else "reject"}


def plan(rng: random.Random, prefix: str) -> list[Payment]:
    """24 payments of 2–10 % of the price each (about 1.4 prices together); every third holds credit."""
    return [Payment(f"{prefix}-{n:02d}", rng.randint(PRICE_FEN // 50, PRICE_FEN // 10), n % 3 == 0, f"{prefix}-{n:02d}")
            for n in range(CLIENTS)]


async def assert_consistent(ledger: Ledger, deals: Deals, payments: list[Payment]) -> dict[str, Any]:
    """The end state against every answer the clients got (see the module docstring)."""
    contract_id = deals.contracts[0]
    acked = {p.payment_id: p for p in payments if p.status == 200}
    refused = [p for p in payments if p.status == 422]
    assert len(acked) + len(refused) == len(payments), [p.status for p in payments]
    assert all(p.rule == "overpayment_rejected" and not p.credit for p in refused), refused
    async with ledger.store.pool.acquire() as conn:
        events = [(pos, e) for pos, stream, e in await decoded_events(conn, "TechnologyContract.PaymentReceived")
                  if stream == contract_id]
        keys = {r["key"] for r in await conn.fetch("SELECT key FROM idempotency_keys WHERE key = ANY($1::text[])",
                                                   [f"*|{p.key}" for p in payments])}
        books = await check_books(conn, ledger.repository.mapper)
        balances = {r["account"]: r["total"] for r in await conn.fetch(
            "SELECT p.account, sum(p.amount_fen) AS total FROM postings p JOIN journal_entries e "
            "USING (position, seq) WHERE e.stream_id = $1 GROUP BY p.account", contract_id)}

    # No update lost: the log holds exactly the acknowledged payments, once each.
    assert Counter(e.payment_id for _, e in events) == Counter(list(acked))
    assert {e.payment_id: e.amount_fen for _, e in events} == {i: p.amount_fen for i, p in acked.items()}
    # Failed commands wrote nothing, not even their key; acknowledged ones wrote theirs once.
    assert keys == {f"*|{p.key}" for p in acked.values()}

    # Replay in log order: the overpayment rule and the answers.
    due = {item: 0 for item in ("installment-1", "installment-2", "installment-3", "installment-4")}
    outstanding, allocated_total, credit_total = PRICE_FEN, 0, 0
    for position, e in events:
        allocated = sum(a.amount_fen for a in e.allocations)
        assert allocated == min(e.amount_fen, outstanding), (e.payment_id, allocated, outstanding)
        assert e.credit_fen == e.amount_fen - allocated
        p = acked[e.payment_id]
        assert p.credit or e.credit_fen == 0, f"{e.payment_id} refused credit but {e.credit_fen} fen were held"
        for a in e.allocations:
            assert a.amount_fen > 0
            due[a.due_item_id] += a.amount_fen
        outstanding -= allocated
        allocated_total += allocated
        credit_total += e.credit_fen
        assert p.answer is not None
        assert p.answer["outstanding_fen"] == outstanding, (e.payment_id, p.answer, outstanding)
        assert p.answer["position"] >= position
    installment = PRICE_FEN // 4
    assert all(0 <= paid <= installment for paid in due.values()), due  # never allocated twice
    received = sum(p.amount_fen for p in acked.values())
    assert allocated_total + credit_total == received
    assert allocated_total == PRICE_FEN - outstanding <= PRICE_FEN
    for p in refused:
        assert p.amount_fen > outstanding  # it asked more than was left, even at the end
    # The journal says the same: cash in, receivable settled, credit held.
    assert balances["cash"] == received
    assert balances.get(f"customer_credit:{contract_id}", 0) == -credit_total
    assert books.ok, (books.missing[:3], books.unexpected[:3], books.unbalanced_positions[:3])
    return {"payments": len(payments), "acknowledged": len(acked), "refused_overpayment": len(refused),
            "held_as_credit": sum(1 for _, e in events if e.credit_fen), "received_fen": received,
            "allocated_fen": allocated_total, "credit_fen": credit_total, "outstanding_fen": outstanding,
            "installments_paid_fen": due, "conflicts_409_retried": sum(p.conflicts for p in payments)}


def count_bus_retries(logs: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 for e in logs if e.get("event") == "command_retried_after_conflict")


async def test_24_clients_pay_one_contract_at_once_over_http(ledger: Ledger) -> None:
    rng = random.Random(seed_from_env(SEED))
    deals = await setup_deals(ledger, 1, PRICE_FEN)
    contract_id = deals.contracts[0]
    payments = plan(rng, "HTTP")
    _, token = await TokenService(ledger.store.pool).create(Role.ADMIN, name="concurrency test")
    auth = {"Authorization": f"Bearer {token}"}
    start = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        async with serve(ledger) as client:

            async def pay(p: Payment) -> tuple[int, dict[str, Any], bool]:
                await start.wait()
                while True:
                    response = await client.post(f"/v1/contracts/{contract_id}/payments", json=p.body(),
                                                 headers={**auth, "Idempotency-Key": p.key})
                    doc = json.loads(await response.text())
                    if response.status == 409 and doc["type"].endswith("/stream_version_is_current"):
                        p.conflicts += 1  # a race the bus gave up on: send it again, same key
                        continue
                    assert response.status in (200, 422), (response.status, doc)
                    return response.status, doc, response.headers.get("Idempotent-Replayed") == "true"

            # Every client at once, and for four of them a duplicate (same key) racing the original.
            duplicated = payments[:4]
            tasks = [asyncio.create_task(pay(p)) for p in [*payments, *duplicated]]
            await asyncio.sleep(0.05)
            start.set()
            outcomes = await asyncio.gather(*tasks)
            for p, (status, doc, _) in zip(payments, outcomes, strict=False):
                p.status, p.answer = status, doc
                p.rule = doc["errors"][0]["rule"] if status == 422 else None
            for p, (status, doc, replayed) in zip(duplicated, outcomes[len(payments):], strict=True):
                first_status, first_doc, first_replayed = outcomes[payments.index(p)]
                assert status == first_status  # both answered alike
                if status == 200:
                    assert doc == first_doc and (replayed or first_replayed)

            # Several clients allocate each of the first receipts at once: one distribution each.
            receipts = [p for p in payments if p.status == 200][:4]
            allocations = await asyncio.gather(*(
                client.post("/v1/distributions", json={"contract_id": str(contract_id), "receipt_id": p.payment_id},
                            headers={**auth, "Idempotency-Key": f"{p.payment_id}-alloc-{n}"})
                for p in receipts for n in range(3)))
            statuses: Counter[tuple[int, str | None]] = Counter()
            for response in allocations:
                doc = json.loads(await response.text())
                rule = doc["errors"][0]["rule"] if response.status == 422 else None
                statuses[(response.status, rule)] += 1
            assert statuses == {(201, None): len(receipts), (422, "receipt_distributed_once"): 2 * len(receipts)}
            view = await client.get(f"/v1/contracts/{contract_id}", headers=auth)
            contract = json.loads(await view.text())

    figures = await assert_consistent(ledger, deals, payments)
    # The read model agrees: installments paid within their amounts, credits and receipts as logged.
    assert all(0 <= i["paid_fen"] <= i["amount_fen"] for i in contract["due_items"])
    assert sum(i["paid_fen"] for i in contract["due_items"]) == figures["allocated_fen"]
    assert contract["outstanding_fen"] == figures["outstanding_fen"]
    assert sum(c["amount_fen"] for c in contract["credits"]) == figures["credit_fen"]
    assert len(contract["receipts"]) == figures["acknowledged"]
    figures["bus_retries"] = count_bus_retries(logs)
    assert figures["bus_retries"] > 0, "no race happened: the test proves nothing"
    figures["duplicates_in_flight"] = len(duplicated)
    report("concurrent_payments_http", figures)


async def test_24_commands_through_the_bus_at_once(ledger: Ledger) -> None:
    rng = random.Random(seed_from_env(SEED + 1))
    deals = await setup_deals(ledger, 1, PRICE_FEN)
    contract_id = deals.contracts[0]
    payments = plan(rng, "BUS")

    async def pay(p: Payment) -> tuple[int, dict[str, Any] | None, str | None]:
        while True:
            try:
                outcome = await ledger.bus.handle(con.RecordPayment(
                    contract_id=contract_id, payment_id=p.payment_id, amount_fen=p.amount_fen,
                    received_on=D("2024-04-02"), overpayment="credit" if p.credit else "reject"),  # type: ignore[arg-type]
                    idempotency_key=f"*|{p.key}")  # as the API stores an admin's key
            except ConcurrencyConflict:
                p.conflicts += 1
                continue
            except DomainError as exc:
                return 422, None, exc.rule.name
            return 200, {**outcome.result, "position": outcome.position}, None

    with structlog.testing.capture_logs() as logs:
        outcomes = await asyncio.gather(*(pay(p) for p in [*payments, *payments[:4]]))
        allocate: Callable[[str, int], Awaitable[Any]] = lambda receipt, n: ledger.bus.handle(  # noqa: E731
            dist.AllocateReceipt(contract_id=contract_id, receipt_id=receipt), idempotency_key=f"*|{receipt}-a{n}")
        first = [p.payment_id for p, o in zip(payments, outcomes, strict=False) if o[0] == 200][:3]
        allocated = await asyncio.gather(*(allocate(r, n) for r in first for n in range(3)), return_exceptions=True)
    for p, (status, answer, rule) in zip(payments, outcomes, strict=False):
        p.status, p.answer, p.rule = status, answer, rule
    for p, again in zip(payments[:4], outcomes[len(payments):], strict=True):
        assert again[0] == p.status and (p.status != 200 or again[1] == p.answer)
    rules = Counter(getattr(getattr(x, "rule", None), "name", "ok") for x in allocated)
    assert rules == {"ok": len(first), "receipt_distributed_once": 2 * len(first)}, allocated
    figures = await assert_consistent(ledger, deals, payments)
    figures["bus_retries"] = count_bus_retries(logs)
    assert figures["bus_retries"] > 0
    report("concurrent_payments_bus", figures)


@pytest.mark.slow
async def test_many_rounds_of_concurrent_payments(ledger: Ledger) -> None:
    """Fifty rounds of 24 clients (seeded), over the bus: the invariants hold in every one."""
    totals: Counter[str] = Counter()
    for round_ in range(50):
        rng = random.Random(seed_from_env(SEED + 100 + round_))
        deals = await setup_deals(ledger, 1, PRICE_FEN)
        payments = plan(rng, f"R{round_}")
        contract_id = deals.contracts[0]

        async def pay(p: Payment, contract_id: UUID = contract_id) -> None:
            while True:
                try:
                    outcome = await ledger.bus.handle(con.RecordPayment(
                        contract_id=contract_id, payment_id=p.payment_id, amount_fen=p.amount_fen,
                        received_on=D("2024-04-02"), overpayment="credit" if p.credit else "reject"),  # type: ignore[arg-type]
                        idempotency_key=f"*|{p.key}")
                except ConcurrencyConflict:
                    p.conflicts += 1
                    continue
                except DomainError as exc:
                    p.status, p.rule = 422, exc.rule.name
                    return
                p.status, p.answer = 200, {**outcome.result, "position": outcome.position}
                return

        with structlog.testing.capture_logs() as logs:
            await asyncio.gather(*(pay(p) for p in payments))
        figures = await assert_consistent(ledger, deals, payments)
        totals.update({k: v for k, v in figures.items() if isinstance(v, int)})
        totals["bus_retries"] += count_bus_retries(logs)
    report("concurrent_payments_rounds", {"rounds": 50, **dict(totals)})
