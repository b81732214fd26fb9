"""Property: whatever commands arrive, valid or not, the books balance and reproduce.

Random workloads of payments (some too large), credits, refunds, write-offs,
deductions, allocations and award payments run through the bus on a fresh
database. Afterwards the trial balance per institution and currency is zero
at every position of the log, every journal entry is reproduced by replaying
the events, and the receivable account equals what the contract says is
outstanding. A rejected command leaves the log head where it was.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.errors import DomainError
from ledger.bootstrap import connect_ledger
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.database import dsn_for_database, ensure_database
from ledger.postings import account_balances, trial_balance
from ledger.postings_check import check_books
from ledger.repository import AggregateNotFound
from ledger.settings import Settings
from tests.integration.test_distribution_flow import YUAN, setup_deal

START = date(2024, 4, 1)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1, 700_000 * YUAN), st.booleans()),
        st.tuples(st.just("apply_credit"), st.integers(0, 5)),
        st.tuples(st.just("refund"), st.integers(0, 5), st.integers(1, 200_000 * YUAN)),
        st.tuples(st.just("write_off"), st.integers(0, 3)),
        st.tuples(st.just("deduct"), st.sampled_from(["tax", "maintenance", "valuation", "agency"]),
                  st.integers(1, 50_000 * YUAN)),
        st.tuples(st.just("allocate"), st.integers(0, 5)),
        st.tuples(st.just("award"), st.sampled_from(["inventor:张三", "inventor:李四", "department"]),
                  st.integers(1, 300_000 * YUAN)),
    ),
    min_size=1,
    max_size=14,
)


async def run_workload(server_dsn: str, workload: list[tuple[Any, ...]]) -> None:
    name = f"t_prop_{uuid.uuid4().hex[:10]}"
    await ensure_database(server_dsn, name)
    ledger = await connect_ledger(dsn_for_database(server_dsn, name), Settings(snapshot_interval=3))
    try:
        p = await setup_deal(ledger)
        bus = ledger.bus
        await bus.handle(dist.AdoptDistributionPolicy(
            institution_id=p["uni"], version_label="v1", effective_from=date(2020, 1, 1),
            cash_split={"inventor_team": 70, "department": 15, "institution": 15},
            equity_split={"inventor_team": 70, "institution": 30}))
        cid = p["contract"]
        payments: list[str] = []
        distributions: list[UUID] = []
        for i, step in enumerate(workload):
            on = START + timedelta(days=i)
            head = await ledger.store.head()
            try:
                outcome = await bus.handle(_command(step, i, on, cid, p, payments, distributions))
            except (DomainError, AggregateNotFound):
                assert await ledger.store.head() == head, f"rejected {step} wrote something"
                continue
            if step[0] == "pay":
                payments.append(f"P{i}")
            if step[0] == "allocate":
                distributions.append(UUID(outcome.result["id"]))
        async with ledger.store.pool.acquire() as conn:
            books = await check_books(conn, ledger.repository.mapper)
        assert books.ok, books
        assert set((await trial_balance(ledger.store.pool)).values()) <= {0}
        contract = await ledger.repository.get(TechnologyContract, cid)
        balances = await account_balances(ledger.store.pool, p["uni"])
        assert balances.get(f"receivable:{cid}", 0) == contract.outstanding_fen()
        assert balances.get(f"customer_credit:{cid}", 0) == -sum(contract.credits.values())
        for did in distributions:
            distribution = await ledger.repository.get(IncomeDistribution, did)
            assert sum(distribution.paid.values()) <= sum(max(v, 0) for v in distribution.allocated.values())
    finally:
        await ledger.close()


def _command(step: tuple[Any, ...], i: int, on: date, cid: UUID, p: dict[str, UUID],
             payments: list[str], distributions: list[UUID]) -> Any:
    kind = step[0]

    def pick(xs: list[str], k: int) -> str:
        return xs[k % len(xs)] if xs else "none"

    if kind == "pay":
        return con.RecordPayment(contract_id=cid, payment_id=f"P{i}", amount_fen=step[1], received_on=on,
                                 overpayment="credit" if step[2] else "reject")
    if kind == "apply_credit":
        return con.ApplyCredit(contract_id=cid, credit_id=pick(payments, step[1]), on=on)
    if kind == "refund":
        return con.RefundCredit(contract_id=cid, credit_id=pick(payments, step[1]), amount_fen=step[2],
                                on=on, reference=f"R{i}")
    if kind == "write_off":
        return con.WriteOff(contract_id=cid, due_item_id=f"installment-{step[1] + 1}", approver="财务处",
                            reason="uncollectable", on=on)
    if kind == "deduct":
        return dist.RecordDeduction(subject_id=cid, reference=f"D{i}", category=step[1], amount_fen=step[2],
                                    incurred_on=on, description="cost")
    if kind == "allocate":
        return dist.AllocateReceipt(contract_id=cid, receipt_id=pick(payments, step[1]))
    return dist.PayAward(distribution_id=distributions[-1] if distributions else uuid.uuid4(), key=step[1],
                         amount_fen=step[2], paid_on=on, payment_id=f"A{i}")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workload=steps)
def test_books_balance_and_reproduce_on_random_workloads(server_dsn: str, workload: list[tuple[Any, ...]]) -> None:
    asyncio.run(run_workload(server_dsn, workload))
