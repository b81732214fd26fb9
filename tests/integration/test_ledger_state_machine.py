"""Stateful property test over the domain and the ledger, on the real store.

Hypothesis drives random sequences of commands, valid and invalid, through
the bus: contracts drafted, signed and put into force; payments (some too
large, some held as credit), write-offs, deferrals, deductions, allocations,
award payments, and retries of earlier commands with the same idempotency key.
After every step the invariants hold:

* the trial balance per institution and currency is zero, and the receivable
  account of each contract equals what the contract says is outstanding;
* every contract's due items add up to what fell due, paid + written off +
  outstanding;
* no award line is paid beyond its allocation, and every allocation gives the
  inventors at least the rule pack's floor;
* a rejected command and a replayed idempotent command write nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.errors import DomainError
from ledger.bootstrap import Ledger, connect_ledger
from ledger.bus import Outcome
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.database import dsn_for_database, ensure_database
from ledger.postings import account_balances, trial_balance
from ledger.repository import AggregateNotFound
from ledger.settings import Settings
from ledger.store import ConcurrencyConflict
from tests.integration.test_distribution_flow import YUAN, setup_deal

SERVER: dict[str, str] = {}


class LedgerMachine(RuleBasedStateMachine):
    contracts = Bundle("contracts")
    receipts = Bundle("receipts")
    distributions = Bundle("distributions")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.ledger: Ledger = self.loop.run_until_complete(self._open())
        self.day = 0
        self.keys: dict[str, tuple[Any, Outcome]] = {}

    async def _open(self) -> Ledger:
        name = f"t_sm_{uuid.uuid4().hex[:10]}"
        await ensure_database(SERVER["dsn"], name)
        ledger = await connect_ledger(dsn_for_database(SERVER["dsn"], name), Settings(snapshot_interval=4))
        self.parties = await setup_deal(ledger)
        await ledger.bus.handle(dist.AdoptDistributionPolicy(
            institution_id=self.parties["uni"], version_label="v1", effective_from=date(2020, 1, 1),
            cash_split={"inventor_team": 70, "department": 15, "institution": 15},
            equity_split={"inventor_team": 70, "institution": 30}))
        return ledger

    def teardown(self) -> None:
        self.loop.run_until_complete(self.ledger.close())
        self.loop.close()

    def today(self) -> date:
        self.day += 1
        return date(2024, 4, 1) + timedelta(days=self.day)

    def run(self, command: Any, key: str | None = None) -> Outcome | None:
        """Run a command; on rejection check that nothing was written and return None."""
        store = self.ledger.store
        head = self.loop.run_until_complete(store.head())
        try:
            outcome = self.loop.run_until_complete(self.ledger.bus.handle(command, idempotency_key=key))
        except (DomainError, AggregateNotFound, ConcurrencyConflict):
            assert self.loop.run_until_complete(store.head()) == head
            return None
        if key is not None:
            self.keys[key] = (command, outcome)
        return outcome

    # --- rules ------------------------------------------------------------------------------

    @rule(target=contracts, parts=st.lists(st.integers(1, 500_000), min_size=1, max_size=4))
    def new_contract(self, parts: list[int]) -> UUID:
        p = self.parties
        start = self.today()
        installments = [{"amount_fen": yuan * YUAN, "due_on": (start + timedelta(days=30 * (i + 1))).isoformat()}
                        for i, yuan in enumerate(parts)]
        total = sum(parts) * YUAN
        drafted = self.run(con.DraftContract.model_validate({"terms": {
            "kind": "service", "title": "技术服务", "seller_ids": [p["uni"]], "buyer_id": p["firm"],
            "contract_value_fen": total, "transaction_value_fen": total,
            "payment_terms": {"fixed_price_fen": total, "installments": installments}},
            "drafted_on": start.isoformat()}))
        assert drafted is not None
        cid = UUID(drafted.result["id"])
        self.run(con.SignContract(contract_id=cid, on=start))
        self.run(con.TakeEffect(contract_id=cid, on=start))
        return cid

    @rule(target=receipts, contract=contracts, amount=st.integers(1, 600_000 * YUAN), credit=st.booleans())
    def pay(self, contract: UUID, amount: int, credit: bool) -> tuple[UUID, str]:
        payment_id = f"P{uuid.uuid4().hex[:8]}"
        self.run(con.RecordPayment(contract_id=contract, payment_id=payment_id, amount_fen=amount,
                                   received_on=self.today(), overpayment="credit" if credit else "reject"),
                 key=f"pay-{payment_id}")
        return contract, payment_id

    @rule(contract=contracts, item=st.integers(1, 4))
    def write_off(self, contract: UUID, item: int) -> None:
        self.run(con.WriteOff(contract_id=contract, due_item_id=f"installment-{item}", approver="财务处",
                              reason="无法收回", on=self.today()))

    @rule(contract=contracts, item=st.integers(1, 4), days=st.integers(-10, 200))
    def defer(self, contract: UUID, item: int, days: int) -> None:
        on = self.today()
        self.run(con.DeferDueItems(contract_id=contract, new_due_dates={f"installment-{item}": on + timedelta(days=days)},
                                   approver="技术转移中心", reason="买方申请", decided_on=on))

    @rule(contract=contracts, category=st.sampled_from(["tax", "maintenance", "agency", "valuation"]),
          amount=st.integers(-5, 80_000 * YUAN))
    def deduct(self, contract: UUID, category: str, amount: int) -> None:
        self.run(dist.RecordDeduction(subject_id=contract, reference=f"D{uuid.uuid4().hex[:8]}", category=category,
                                      amount_fen=amount, incurred_on=self.today(), description="费用"))

    @rule(target=distributions, receipt=receipts)
    def allocate(self, receipt: tuple[UUID, str]) -> UUID | None:
        outcome = self.run(dist.AllocateReceipt(contract_id=receipt[0], receipt_id=receipt[1]))
        return UUID(outcome.result["id"]) if outcome is not None else None

    @rule(distribution=distributions, key=st.sampled_from(["inventor:张三", "inventor:李四", "department", "tto"]),
          amount=st.integers(0, 400_000 * YUAN))
    def pay_award(self, distribution: UUID | None, key: str, amount: int) -> None:
        if distribution is not None:
            self.run(dist.PayAward(distribution_id=distribution, key=key, amount_fen=amount, paid_on=self.today(),
                                   payment_id=f"A{uuid.uuid4().hex[:8]}"))

    @rule(data=st.data())
    def retry_with_same_key(self, data: st.DataObject) -> None:
        if not self.keys:
            return
        key = data.draw(st.sampled_from(sorted(self.keys)))
        command, first = self.keys[key]
        head = self.loop.run_until_complete(self.ledger.store.head())
        again = self.loop.run_until_complete(self.ledger.bus.handle(command, idempotency_key=key))
        assert again.replayed and again.result == first.result
        assert self.loop.run_until_complete(self.ledger.store.head()) == head

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def books_balance(self) -> None:
        pool = self.ledger.store.pool
        assert set(self.loop.run_until_complete(trial_balance(pool)).values()) <= {0}
        balances = self.loop.run_until_complete(account_balances(pool, self.parties["uni"]))
        for (contract,) in self.loop.run_until_complete(pool.fetch(
                "SELECT DISTINCT stream_id FROM events WHERE topic LIKE '%TechnologyContract.TookEffect'")):
            agg = self.loop.run_until_complete(self.ledger.repository.get(TechnologyContract, contract))
            assert balances.get(f"receivable:{contract}", 0) == agg.outstanding_fen()
            fallen_due = sum(i.amount_fen for i in agg.due_items)
            states = list(agg.settlement.items.values())
            assert fallen_due == sum(s.paid_fen + s.written_off_fen + s.outstanding_fen for s in states)
            assert all(s.outstanding_fen >= 0 for s in states)

    @invariant()
    def awards_within_allocations_and_floor(self) -> None:
        pool = self.ledger.store.pool
        for (did,) in self.loop.run_until_complete(pool.fetch(
                "SELECT DISTINCT stream_id FROM events WHERE topic LIKE '%IncomeDistribution.Allocated'")):
            d = self.loop.run_until_complete(self.ledger.repository.get(IncomeDistribution, did))
            for key, paid in d.paid.items():
                assert paid <= d.allocated[key]
            team = sum(line.amount_fen for line in d.allocation.lines if line.beneficiary == "inventor_team")
            floor = d.pack.transfer_floor_percent
            assert team * 100 >= d.allocation.net_fen * floor - 100  # floor to within rounding of a fen


LedgerMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(autouse=True)
def _server(server_dsn: str) -> None:
    SERVER["dsn"] = server_dsn


TestLedgerMachine = LedgerMachine.TestCase
