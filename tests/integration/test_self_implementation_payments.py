"""Self-implementation awards paid in parts, posted, and shown in the distribution audit.

Worked by hand (Beijing Art. 12: at least 5% of operating profit a year from the first
profitable year): 2024 profit 2,000,000.00 yuan, award 100,000.00 allocated on 2025-02-01,
split 75/25: 王五 75,000.00, 赵六 25,000.00. The 36 months (财税〔2018〕58号) run from the
allocation date: deadline 2028-02-01.

Payments: 王五 30,000.00 on 2025-03-01 and 45,000.00 on 2025-06-01 (paid in full, in time);
赵六 10,000.00 on 2025-03-01, the remaining 15,000.00 unpaid.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from domain.errors import DomainError
from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import achievement as ach
from ledger.commands import distribution as dist
from ledger.commands import equity as eq
from ledger.conservation import check_conservation
from ledger.postings import account_balances
from ledger.postings_check import check_books
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from projections.queries import distribution_audit
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.test_distribution_flow import adopt_70, setup_deal

D = date.fromisoformat
YUAN = 100


@pytest.fixture
async def ledger(fresh_dsn: str):
    opened = await connect_ledger(fresh_dsn, Settings(snapshot_interval=0))
    yield opened
    await opened.close()


async def allocated(ledger: Ledger) -> tuple[UUID, UUID]:
    p = await setup_deal(ledger)
    await adopt_70(ledger, p["uni"])
    bus = ledger.bus
    other = UUID((await bus.handle(ach.RegisterAchievement(
        title="自用工艺", ip_type="technical_secret", technology_field="advanced_manufacturing",
        owners=[ach.OwnerIn(institution_id=p["uni"], share="100")],
        inventors=[ach.InventorIn(name="王五", share="75"), ach.InventorIn(name="赵六", share="25")],
        registered_on=D("2022-01-01")))).result["id"])
    sid = UUID((await bus.handle(eq.StartSelfImplementation(
        achievement_id=other, institution_id=p["uni"], started_on=D("2024-01-01")))).result["id"])
    await bus.handle(eq.ReportProfit(self_implementation_id=sid, year=2024, profit_fen=2_000_000 * YUAN,
                                     reported_on=D("2025-01-15")))
    out = await bus.handle(dist.AllocateSelfImplementationAward(
        self_implementation_id=sid, year=2024, allocated_on=D("2025-02-01")))
    assert out.result["lines"] == {"王五": 75_000 * YUAN, "赵六": 25_000 * YUAN}
    return p["uni"], sid


def pay(sid: UUID, inventor: str, yuan: int, on: str, payment_id: str) -> eq.PaySelfImplementationAward:
    return eq.PaySelfImplementationAward(self_implementation_id=sid, year=2024, inventor=inventor,
                                         amount_fen=yuan * YUAN, paid_on=D(on), payment_id=payment_id)


async def test_paid_in_parts_posted_and_audited(ledger: Ledger) -> None:
    uni, sid = await allocated(ledger)
    bus = ledger.bus
    first = await bus.handle(pay(sid, "王五", 30_000, "2025-03-01", "SI-1"))
    assert first.result["unpaid_fen"] == 45_000 * YUAN
    await bus.handle(pay(sid, "王五", 45_000, "2025-06-01", "SI-2"))
    await bus.handle(pay(sid, "赵六", 10_000, "2025-03-01", "SI-3"))
    head = await ledger.store.head()
    with pytest.raises(DomainError) as over:
        await bus.handle(pay(sid, "赵六", 15_001, "2025-07-01", "SI-4"))
    assert (over.value.rule.name, over.value.field) == (
        "self_implementation_award_payment_within_unpaid", "amount_fen")
    with pytest.raises(DomainError) as twice:
        await bus.handle(pay(sid, "赵六", 1, "2025-07-01", "SI-1"))
    assert twice.value.rule.name == "self_implementation_award_payment_id_unique"
    assert await ledger.store.head() == head

    # Books: allocation Dr distribution:self / Cr payable; payments Dr payable / Cr cash.
    balances = await account_balances(ledger.store.pool, uni)
    assert balances["distribution_payable:inventor:王五"] == 0
    assert balances["distribution_payable:inventor:赵六"] == -15_000 * YUAN
    assert balances[f"distribution:self:{sid}"] == 100_000 * YUAN
    assert balances["cash"] == -85_000 * YUAN
    async with ledger.store.pool.acquire() as conn:
        books = await check_books(conn, ledger.repository.mapper)
        money = await check_conservation(conn, ledger.repository)
    assert books.ok, (books.missing[:3], books.unexpected[:3], books.unbalanced_positions[:3])
    assert money.breaches == [] and money.self_implementations == 1

    runner = ProjectionRunner(ledger.store, default_mapper(), all_projections())
    await runner.setup()
    await runner.catch_up()
    assert runner.failures() == {}

    async def section(as_of: str) -> dict:
        audit = await distribution_audit(ledger.store.pool, as_of=D(as_of), institution_id=uni)
        return audit["self_implementation_awards"]

    before = await section("2025-01-31")  # not yet allocated
    assert before["rows"] == [] and before["totals"]["allocated_fen"] == 0
    mid = (await section("2025-04-01"))["rows"][0]
    assert (mid["awards"], mid["allocated_fen"], mid["paid_fen"], mid["unpaid_fen"]) == (
        1, 100_000 * YUAN, 40_000 * YUAN, 60_000 * YUAN)
    assert mid["deadline"]["open"] == {"lines": 2, "unpaid_fen": 60_000 * YUAN}
    later = await section("2025-07-01")
    row = later["rows"][0]
    assert row["paid_fen"] == 85_000 * YUAN
    assert row["deadline"]["paid_in_time"] == {"lines": 1, "unpaid_fen": 0}
    assert row["deadline"]["open"] == {"lines": 1, "unpaid_fen": 15_000 * YUAN}
    assert "allocation date" in later["definition"]["status_basis"]
    overdue = (await section("2028-02-02"))["rows"][0]
    assert overdue["deadline"]["overdue"] == {"lines": 1, "unpaid_fen": 15_000 * YUAN}
    # A late payment is recorded, flagged paid_late, never refused.
    await bus.handle(pay(sid, "赵六", 15_000, "2028-02-02", "SI-5"))
    await runner.catch_up()
    settled = (await section("2028-03-01"))["rows"][0]
    assert settled["deadline"]["paid_late"] == {"lines": 1, "unpaid_fen": 0}
    assert settled["unpaid_fen"] == 0
