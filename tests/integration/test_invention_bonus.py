"""Patent invention bonus (专利法实施细则 2023 第92–94条) through commands, books and the audit.

Worked by hand: a university's invention patent is granted on 2024-11-30: at least 4,000.00
yuan is owed by 2025-02-28 (3 months, month end clamped). A utility model granted on
2024-03-15 owes 1,500.00 by 2024-06-15; a design granted 2024-03-15 has an agreed bonus
of 800.00 (the university's own rule, Art. 92).

Payments: invention 2,500.00 on 2025-01-10 and 1,500.00 on 2025-03-05 (met late);
utility model 1,500.00 on 2024-05-01 (met); design 800.00 agreed on 2024-04-01.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from domain.errors import DomainError
from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import achievement as ach
from ledger.commands import institution as inst
from ledger.conservation import check_conservation
from ledger.postings import account_balances
from ledger.postings_check import check_books
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from projections.queries import distribution_audit
from projections.registry import all_projections
from projections.runner import ProjectionRunner

D = date.fromisoformat
YUAN = 100


@pytest.fixture
async def ledger(fresh_dsn: str):
    opened = await connect_ledger(fresh_dsn, Settings(snapshot_interval=0))
    yield opened
    await opened.close()


async def register(ledger: Ledger, uni: UUID, ip_type: str, number: str, granted_on: str | None,
                   service: bool = True) -> UUID:
    return UUID((await ledger.bus.handle(ach.RegisterAchievement(
        title=f"专利 {number}", ip_type=ip_type, technology_field="new_materials",
        owners=[ach.OwnerIn(institution_id=uni, share="100")],
        inventors=[ach.InventorIn(name="张三", share="100")], registered_on=D("2024-01-02"),
        official_number=number, granted_on=D(granted_on) if granted_on else None,
        service_achievement=service))).result["id"])


def bonus(aid: UUID, yuan: int, on: str, payment_id: str, agreed: str | None = None) -> ach.RecordInventionBonus:
    return ach.RecordInventionBonus(achievement_id=aid, amount_fen=yuan * YUAN, paid_on=D(on),
                                    payment_id=payment_id, agreed=agreed)


async def test_obligations_payments_books_and_audit(ledger: Ledger) -> None:
    bus = ledger.bus
    uni = UUID((await bus.handle(inst.RegisterInstitution(
        name="某大学", kind="university", region="310000", registered_on=D("2015-01-01"),
        public=True, rule_pack="shanghai"))).result["id"])
    invention = await register(ledger, uni, "invention_patent", "ZL202410000001.1", None)
    utility = await register(ledger, uni, "utility_model", "ZL202420000002.2", "2024-03-15")
    design = await register(ledger, uni, "design", "ZL202430000003.3", "2024-03-15")
    private = await register(ledger, uni, "invention_patent", "ZL202410000004.4", "2024-03-15", service=False)
    with pytest.raises(DomainError) as pending:
        await bus.handle(bonus(invention, 4_000, "2024-12-01", "B-1"))
    assert (pending.value.rule.name, pending.value.field) == ("invention_bonus_payment_valid", "achievement_id")
    await bus.handle(ach.RecordPatentGrant(achievement_id=invention, granted_on=D("2024-11-30"),
                                           number="ZL202410000001.1"))
    await bus.handle(bonus(invention, 2_500, "2025-01-10", "B-1"))
    with pytest.raises(DomainError) as twice:
        await bus.handle(bonus(invention, 1_500, "2025-01-11", "B-1"))
    assert twice.value.rule.name == "invention_bonus_payment_valid"
    await bus.handle(bonus(invention, 1_500, "2025-03-05", "B-2"))
    await bus.handle(bonus(utility, 1_500, "2024-05-01", "U-1"))
    await bus.handle(bonus(design, 800, "2024-04-01", "X-1", agreed="校规第12条：外观设计奖金800元"))
    with pytest.raises(DomainError):
        await bus.handle(bonus(private, 4_000, "2024-04-01", "P-1"))

    balances = await account_balances(ledger.store.pool, uni)
    assert balances[f"invention_bonus:{invention}"] == 4_000 * YUAN
    assert balances[f"invention_bonus:{utility}"] == 1_500 * YUAN
    assert balances["cash"] == -(4_000 + 1_500 + 800) * YUAN
    async with ledger.store.pool.acquire() as conn:
        books = await check_books(conn, ledger.repository.mapper)
        money = await check_conservation(conn, ledger.repository)
    assert books.ok, (books.missing[:3], books.unexpected[:3])
    assert money.breaches == []

    runner = ProjectionRunner(ledger.store, default_mapper(), all_projections())
    await runner.setup()
    await runner.catch_up()
    assert runner.failures() == {}

    async def section(as_of: str) -> dict:
        return (await distribution_audit(ledger.store.pool, as_of=D(as_of), institution_id=uni))["invention_bonuses"]

    # 2024-06-16: utility met (1,500 by 06-15), design agreed; the invention is not yet granted.
    june = await section("2024-06-16")
    assert june["totals"]["patents"] == 2
    assert june["totals"]["status"]["met"]["patents"] == 1
    assert june["totals"]["status"]["agreed"]["patents"] == 1
    assert june["totals"]["short_fen"] == 0
    # 2025-02-01: the invention is due, 1,500.00 short.
    feb = (await section("2025-02-01"))["totals"]
    assert feb["status"]["due"] == {"patents": 1, "floor_fen": 4_000 * YUAN, "paid_fen": 2_500 * YUAN,
                                    "short_fen": 1_500 * YUAN}
    # 2025-03-01: past the deadline (2025-02-28), still short: overdue.
    assert (await section("2025-03-01"))["totals"]["status"]["overdue"]["short_fen"] == 1_500 * YUAN
    # 2025-03-05: the floor is reached after the deadline: met late.
    after = await section("2025-03-05")
    assert after["totals"]["status"]["met_late"]["patents"] == 1
    assert after["totals"]["patents"] == 3 and after["totals"]["short_fen"] == 0
    assert after["rows"][0]["institution_id"] == str(uni)
    assert "第92条" in after["definition"]["status_basis"]
