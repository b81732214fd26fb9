"""Stateful property test over the domain and the ledger, on the real store (issue 7, part 5).

Hypothesis drives random sequences of commands, valid and invalid, through
the bus: achievements registered with owner and inventor shares (some not
adding up), contracts drafted (some with installments that miss the price),
signed and put into force; payments (some too large, some held as credit),
deliberate overpayments, write-offs, deferrals, credits applied and refunded,
contracts terminated or expired with open items (some keeping damages),
deductions and their reversals, allocations, award payments, distribution policies (some below the floor or not adding up),
retries of earlier commands with the same idempotency key, and reuses of a
key for another command. After every step the invariants hold:

* the trial balance per institution and currency is zero, and the receivable
  account of each contract equals what the contract says is outstanding;
* every contract's installments add up to its fixed price, and its due items
  to what fell due: paid + written off + outstanding;
* every achievement's owner shares and inventor shares each sum to 100;
* every allocation's lines add up to its net income; no award line is paid
  beyond its allocation, and every allocation gives the inventors at least
  the rule pack's floor;
* the receivables statistic equals the books' receivable balance: at every
  month end (as ``ttledger verify`` checks it) and, after any step, on a random
  business date as known at a random log position; and a figure asked for once
  with a date and a position is answered identically after every later step;
* money is conserved (``ledger/conservation.py``, as ``ttledger verify``
  checks it): per contract cash in = income recognised + credit held +
  refunded; every receipt allocated at most once and exactly; per
  beneficiary allocated = paid + payable; an ended contract owes only what
  remains;
* a rejected command names a rule of the catalogue (domain/errors.py, and
  the very rule a deliberately invalid command breaks) and writes nothing;
* a replayed idempotent command writes nothing and returns the first result;
  a key reused for another command is refused and writes nothing.

CI runs ``CI_EXAMPLES`` sequences; ``--run-slow`` adds ``SLOW_EXAMPLES`` longer ones.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from domain.achievement import Achievement
from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.errors import RULES, DomainError
from ledger.bootstrap import Ledger, connect_ledger
from ledger.bus import IdempotencyKeyReused, Outcome
from ledger.commands import achievement as ach
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.conservation import check_conservation
from ledger.database import dsn_for_database, ensure_database
from ledger.postings import account_balances, trial_balance
from ledger.receivables_check import books_on, reconcile_receivables
from ledger.repository import AggregateNotFound
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from ledger.store import ConcurrencyConflict
from projections.queries import receivables
from projections.receivables import ReceivablesProjection
from projections.runner import ProjectionRunner
from tests.integration.test_distribution_flow import YUAN, setup_deal

SERVER: dict[str, str] = {}
REJECTED: Counter[str] = Counter()
"""Rules broken over the whole run, for the figures (printed with ``-s``)."""
REPLAYED: Counter[str] = Counter()
CI_EXAMPLES, CI_STEPS = 25, 20
SLOW_EXAMPLES, SLOW_STEPS = 200, 40
INVENTORS = ("张三", "李四", "王五", "赵六")


class LedgerMachine(RuleBasedStateMachine):
    contracts = Bundle("contracts")
    receipts = Bundle("receipts")
    distributions = Bundle("distributions")
    deductions = Bundle("deductions")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.ledger: Ledger = self.loop.run_until_complete(self._open())
        self.day = 0
        self.policies = 0
        self.keys: dict[str, tuple[Any, Outcome]] = {}
        self.published: list[tuple[date, int, dict[str, Any]]] = []  # (as_of, known_at, answer)
        self.runner = ProjectionRunner(self.ledger.store, default_mapper(), [ReceivablesProjection()])
        self.loop.run_until_complete(self.runner.setup())

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

    def run(self, command: Any, key: str | None = None, breaks: set[str] | None = None) -> Outcome | None:
        """Run a command; on rejection check the rule and that nothing was written, and return None.

        ``breaks``: the rules a deliberately invalid command must be refused by (one of them).
        """
        store = self.ledger.store
        head = self.loop.run_until_complete(store.head())
        try:
            outcome = self.loop.run_until_complete(self.ledger.bus.handle(command, idempotency_key=key))
        except DomainError as exc:
            assert RULES.get(exc.rule.name) is exc.rule, f"{exc.rule.name} is not in the rule catalogue"
            assert breaks is None or exc.rule.name in breaks, (exc.rule.name, breaks, exc.detail)
            assert self.loop.run_until_complete(store.head()) == head
            REJECTED[exc.rule.name] += 1
            return None
        except (AggregateNotFound, ConcurrencyConflict) as exc:
            assert breaks is None, (type(exc).__name__, breaks)
            assert self.loop.run_until_complete(store.head()) == head
            REJECTED[type(exc).__name__] += 1
            return None
        assert breaks is None, f"{type(command).__name__} was accepted but should break one of {breaks}"
        if key is not None:
            self.keys[key] = (command, outcome)
        return outcome

    def streams(self, topic_suffix: str) -> list[UUID]:
        rows = self.loop.run_until_complete(self.ledger.store.pool.fetch(
            "SELECT DISTINCT stream_id FROM events WHERE topic LIKE $1", f"%{topic_suffix}"))
        return [r["stream_id"] for r in rows]

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

    @rule(target=receipts, contract=contracts, amount=st.integers(1, 600_000 * YUAN), credit=st.booleans(),
          back=st.sampled_from([0, 0, 0, 3, 40]))
    def pay(self, contract: UUID, amount: int, credit: bool, back: int) -> tuple[UUID, str]:
        """Pay today, or a payment dated ``back`` days ago and recorded now (it restates the past)."""
        payment_id = f"P{uuid.uuid4().hex[:8]}"
        self.run(con.RecordPayment(contract_id=contract, payment_id=payment_id, amount_fen=amount,
                                   received_on=self.today() - timedelta(days=back),
                                   overpayment="credit" if credit else "reject"),
                 key=f"pay-{payment_id}")
        return contract, payment_id

    @rule(receipt=receipts)
    def apply_credit(self, receipt: tuple[UUID, str]) -> None:
        """Apply what a payment left as credit (refused by its rule when it left none)."""
        self.run(con.ApplyCredit(contract_id=receipt[0], credit_id=receipt[1], on=self.today()))

    @rule(receipt=receipts, amount=st.integers(1, 50_000 * YUAN))
    def refund_credit(self, receipt: tuple[UUID, str], amount: int) -> None:
        self.run(con.RefundCredit(contract_id=receipt[0], credit_id=receipt[1], amount_fen=amount, on=self.today(),
                                  reference=f"R{uuid.uuid4().hex[:8]}"))

    @rule(contract=contracts, end=st.sampled_from(["terminate", "expire"]),
          kept=st.lists(st.integers(1, 20_000), max_size=2))
    def end_contract(self, contract: UUID, end: str, kept: list[int]) -> None:
        """End with open items, perhaps keeping liquidated damages (民法典 第566条)."""
        on = self.today()
        self.run(con.EndContract.model_validate({
            "contract_id": contract, "end": end, "on": on.isoformat(), "reason": "违约",
            "kept": [{"name": f"违约金-{n}", "amount_fen": yuan * YUAN, "due_on": (on + timedelta(days=30)).isoformat()}
                     for n, yuan in enumerate(kept)]}))

    @rule(contract=contracts, item=st.integers(1, 4))
    def write_off(self, contract: UUID, item: int) -> None:
        self.run(con.WriteOff(contract_id=contract, due_item_id=f"installment-{item}", approver="财务处",
                              reason="无法收回", on=self.today()))

    @rule(contract=contracts, item=st.integers(1, 4), days=st.integers(-10, 200))
    def defer(self, contract: UUID, item: int, days: int) -> None:
        on = self.today()
        self.run(con.DeferDueItems(contract_id=contract, new_due_dates={f"installment-{item}": on + timedelta(days=days)},
                                   approver="技术转移中心", reason="买方申请", decided_on=on))

    @rule(target=deductions, contract=contracts,
          category=st.sampled_from(["tax", "maintenance", "agency", "valuation"]),
          amount=st.integers(-5, 80_000 * YUAN))
    def deduct(self, contract: UUID, category: str, amount: int) -> tuple[UUID, str]:
        reference = f"D{uuid.uuid4().hex[:8]}"
        self.run(dist.RecordDeduction(subject_id=contract, reference=reference, category=category,
                                      amount_fen=amount, incurred_on=self.today(), description="费用"),
                 key=f"deduct-{reference}")
        return contract, reference

    @rule(deduction=deductions)
    def reverse_deduction(self, deduction: tuple[UUID, str]) -> None:
        """Reverse a deduction recorded in error (refused when unknown or reversed already)."""
        self.run(dist.ReverseDeduction(subject_id=deduction[0], reference=deduction[1], reversed_on=self.today(),
                                       reason="误录"))

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

    @rule(owner_share=st.integers(1, 99), owner_error=st.sampled_from([0, 0, 0, 1, -1]),
          inventor_shares=st.lists(st.integers(1, 60), min_size=0, max_size=3), complete=st.booleans())
    def register_achievement(self, owner_share: int, owner_error: int, inventor_shares: list[int],
                             complete: bool) -> None:
        """Co-owned by the university and the firm; shares that may or may not add up to 100."""
        p = self.parties
        shares = list(inventor_shares)
        if complete and sum(shares) < 100:
            shares.append(100 - sum(shares))
        if not shares:
            shares = [100]
        owners = [(p["uni"], owner_share), (p["firm"], 100 - owner_share + owner_error)]
        broken = set()
        if owner_error:
            broken.add("owner_shares_sum_to_100")
        if 100 - owner_share + owner_error <= 0:  # the firm's share is 0: refused as a share out of range
            broken.add("achievement_share_in_range")
        if sum(shares) != 100:
            broken.add("inventor_shares_sum_to_100")
        self.run(ach.RegisterAchievement(
            title="合作研发成果", ip_type="technical_secret", technology_field="biomedicine",
            owners=[ach.OwnerIn(institution_id=i, share=Decimal(s)) for i, s in owners],
            inventors=[ach.InventorIn(name=INVENTORS[n], share=Decimal(s)) for n, s in enumerate(shares)],
            registered_on=self.today()), key=f"ach-{uuid.uuid4().hex[:8]}", breaks=broken or None)

    @rule(parts=st.lists(st.integers(1, 500_000), min_size=1, max_size=4),
          error=st.integers(-99, 1000).filter(bool))  # the price stays positive: at least 1 yuan - 99 fen
    def draft_contract_missing_its_price(self, parts: list[int], error: int) -> None:
        p = self.parties
        start = self.today()
        installments = [{"amount_fen": yuan * YUAN, "due_on": (start + timedelta(days=30 * (i + 1))).isoformat()}
                        for i, yuan in enumerate(parts)]
        total = sum(parts) * YUAN + error
        self.run(con.DraftContract.model_validate({"terms": {
            "kind": "service", "title": "技术服务", "seller_ids": [p["uni"]], "buyer_id": p["firm"],
            "contract_value_fen": total, "transaction_value_fen": total,
            "payment_terms": {"fixed_price_fen": total, "installments": installments}},
            "drafted_on": start.isoformat()}), breaks={"installments_sum_to_fixed_price"})

    @rule(contract=contracts, extra=st.integers(1, 10 * YUAN))
    def overpay(self, contract: UUID, extra: int) -> None:
        """More than the whole price can ever settle, without asking for a credit."""
        agg = self.loop.run_until_complete(self.ledger.repository.get(TechnologyContract, contract))
        self.run(con.RecordPayment(contract_id=contract, payment_id=f"X{uuid.uuid4().hex[:8]}",
                                   # An ending may keep damages beyond the price: exceed what is owed too.
                                   amount_fen=max(agg.terms.payment_terms.fixed_price_fen, agg.outstanding_fen())
                                   + extra, received_on=self.today(), overpayment="reject"),
                 breaks={"overpayment_rejected", "ended_contract_settles_only_what_remains", "nothing_to_settle"})

    @rule(team=st.integers(0, 100), department=st.integers(0, 100))
    def adopt_policy(self, team: int, department: int) -> None:
        """A new policy version: valid, below the Beijing floor (70%), or not adding up to 100."""
        institution = max(0, 100 - team - department)
        split = {"inventor_team": team, "department": department, "institution": institution}
        broken = set()
        if team + department > 100:
            broken.add("distribution_split_sums_to_100")
        elif team < 70:
            broken.add("distribution_floor_public_institution")
        self.policies += 1
        self.run(dist.AdoptDistributionPolicy(
            institution_id=self.parties["uni"], version_label=f"v{self.policies + 1}",
            effective_from=date(2020, 1, 1) + timedelta(days=self.policies),
            cash_split={k: v for k, v in split.items() if v}, equity_split={"inventor_team": 70, "institution": 30}),
            breaks=broken or None)

    @rule(data=st.data(), extra=st.integers(1, 1000))
    def reuse_key_for_another_command(self, data: st.DataObject, extra: int) -> None:
        payments = sorted(k for k, (c, _) in self.keys.items() if isinstance(c, con.RecordPayment))
        if not payments:
            return
        key = data.draw(st.sampled_from(payments))
        command, _ = self.keys[key]
        other = command.model_copy(update={"amount_fen": command.amount_fen + extra})
        head = self.loop.run_until_complete(self.ledger.store.head())
        try:
            self.loop.run_until_complete(self.ledger.bus.handle(other, idempotency_key=key))
        except IdempotencyKeyReused:
            REJECTED["idempotency_key_reuse"] += 1
        else:
            raise AssertionError(f"key {key} was reused for another command and accepted")
        assert self.loop.run_until_complete(self.ledger.store.head()) == head

    @rule(data=st.data())
    def retry_with_same_key(self, data: st.DataObject) -> None:
        if not self.keys:
            return
        key = data.draw(st.sampled_from(sorted(self.keys)))
        command, first = self.keys[key]
        head = self.loop.run_until_complete(self.ledger.store.head())
        again = self.loop.run_until_complete(self.ledger.bus.handle(command, idempotency_key=key))
        assert again.replayed and again.result == first.result
        REPLAYED["replays"] += 1
        assert self.loop.run_until_complete(self.ledger.store.head()) == head

    def receivables_on(self, on: date, known_at: int | None) -> dict[str, Any]:
        self.loop.run_until_complete(self.runner.catch_up())
        return self.loop.run_until_complete(receivables(
            self.ledger.store.pool, as_of=on, group_by=["institution"], known_at=known_at))

    @rule(days=st.integers(-30, 200), back=st.integers(0, 60))
    def receivables_equal_the_books(self, days: int, back: int) -> None:
        """On a random date, as known at a random position: statistic = books; published once."""
        on = date(2024, 4, 1) + timedelta(days=days)
        head = self.loop.run_until_complete(self.ledger.store.head())
        known_at = max(1, head - back)
        answer = self.receivables_on(on, known_at)
        books = self.loop.run_until_complete(books_on(self.ledger.store.pool, on, known_at))
        assert {UUID(str(r["institution"])): r["outstanding_fen"] for r in answer["rows"]} == books
        self.published.append((on, known_at, figures(answer)))

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def receivables_reconcile_and_published_figures_stay(self) -> None:
        self.loop.run_until_complete(self.runner.catch_up())
        report = self.loop.run_until_complete(reconcile_receivables(self.ledger.store.pool))
        assert report.ok, report.differences
        for on, known_at, answer in self.published:
            assert figures(self.receivables_on(on, known_at)) == answer

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
            assert fallen_due == sum(
                s.paid_fen + s.written_off_fen + s.cancelled_fen + s.outstanding_fen for s in states
            )
            assert all(s.outstanding_fen >= 0 for s in states)

    @invariant()
    def money_conserved(self) -> None:
        """Cash = recognised + credit held + refunded; allocations = paid + payable; ended owes what remains."""
        async def check() -> list[Any]:
            async with self.ledger.store.pool.acquire() as conn:
                return (await check_conservation(conn, self.ledger.repository)).breaches

        assert self.loop.run_until_complete(check()) == []

    @invariant()
    def schedules_sum_to_price(self) -> None:
        for contract in self.streams("TechnologyContract.Drafted"):
            agg = self.loop.run_until_complete(self.ledger.repository.get(TechnologyContract, contract))
            terms = agg.terms.payment_terms
            if terms.installments:
                assert sum(i.amount_fen for i in terms.installments) == terms.fixed_price_fen

    @invariant()
    def shares_sum_to_100(self) -> None:
        for achievement in self.streams("Achievement.Registered"):
            agg = self.loop.run_until_complete(self.ledger.repository.get(Achievement, achievement))
            assert sum(o.share for o in agg.owners) == 100
            assert sum(i.share for i in agg.inventors) == 100

    @invariant()
    def awards_within_allocations_and_floor(self) -> None:
        pool = self.ledger.store.pool
        for (did,) in self.loop.run_until_complete(pool.fetch(
                "SELECT DISTINCT stream_id FROM events WHERE topic LIKE '%IncomeDistribution.Allocated'")):
            d = self.loop.run_until_complete(self.ledger.repository.get(IncomeDistribution, did))
            assert sum(line.amount_fen for line in d.allocation.lines) == d.allocation.net_fen
            for key in d.paid:
                # Paid beyond a line that a late deduction reduced is a named recovery, never negative unpaid.
                assert d.unpaid_fen(key) >= 0 and d.overpaid() == {}
            team = sum(line.amount_fen for line in d.allocation.lines if line.beneficiary == "inventor_team")
            floor = d.pack.transfer_floor_percent
            assert team * 100 >= d.allocation.net_fen * floor - 100  # floor to within rounding of a fen


def figures(answer: dict[str, Any]) -> dict[str, Any]:
    """What a reader publishes: the pair, the rows and the totals (not how far the projection is)."""
    return {k: answer[k] for k in ("as_of", "known_at", "rows", "totals")}


def _settings(examples: int, steps: int) -> settings:
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(autouse=True)
def _server(server_dsn: str) -> None:
    SERVER["dsn"] = server_dsn


@pytest.fixture(autouse=True, scope="module")
def _figures() -> Any:
    yield
    print(f"\nledger state machine: refused by rule {dict(sorted(REJECTED.items()))}; "
          f"{REPLAYED['replays']} idempotent replays")


class TestLedgerMachine(LedgerMachine.TestCase):  # type: ignore[misc,valid-type]
    settings = _settings(CI_EXAMPLES, CI_STEPS)


@pytest.mark.slow
class TestLedgerMachineMany(LedgerMachine.TestCase):  # type: ignore[misc,valid-type]
    settings = _settings(SLOW_EXAMPLES, SLOW_STEPS)
