"""The demo dataset loads through the real commands, balances, and loads only once."""

from __future__ import annotations

from datetime import date

from domain.contract import TechnologyContract
from domain.equity import EquityHolding
from domain.ufpl import UfplStage
from ledger.bootstrap import connect_ledger
from ledger.demo import WAN, demo_id, load_demo
from ledger.postings import trial_balance
from ledger.postings_check import check_books
from ledger.settings import Settings


async def test_demo_loads_once_and_its_books_balance(fresh_dsn: str) -> None:
    ledger = await connect_ledger(fresh_dsn, Settings())
    try:
        first = await load_demo(ledger.bus)
        head = await ledger.store.head()
        assert first.written == first.sent > 150
        second = await load_demo(ledger.bus)
        assert (second.written, await ledger.store.head()) == (0, head)

        repo = ledger.repository
        sensor = await repo.get(TechnologyContract, demo_id("c-sensor"))
        # 180万: 60 paid; 60 overdue since 2024-04-01; 60 deferred to 2026-04-01.
        assert sensor.outstanding_fen() == 120 * WAN
        assert [i.item_id for i in sensor.overdue_items(date(2025, 6, 1))] == ["installment-2"]
        assert {i.item_id: i.due_on for i in sensor.open_items()}["installment-3"] == date(2026, 4, 1)
        stages = {k: (await repo.get(TechnologyContract, demo_id(k))).ufpl_stage
                  for k in ("c-ufpl-battery", "c-ufpl-drone", "c-ufpl-seed")}
        assert stages == {"c-ufpl-battery": UfplStage.paid, "c-ufpl-drone": UfplStage.paid,
                          "c-ufpl-seed": UfplStage.returned}
        holding = await repo.get(EquityHolding, demo_id("h-coating"))
        assert (holding.shares_held, holding.cashed_in_fen, holding.dividends_fen) == (600_000, 96 * WAN, 18 * WAN)

        assert set((await trial_balance(ledger.store.pool)).values()) == {0}
        async with ledger.store.pool.acquire() as conn:
            assert (await check_books(conn, repo.mapper)).ok
    finally:
        await ledger.close()
