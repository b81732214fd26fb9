"""The distribution audit as of a date, at its edges: payments dated after the date, and a line
paid and then reduced to nothing by a late deduction.

``queries._audit_line_sums`` sums the lines and the later payments in separate passes; these
figures, worked by hand, pin down that the passes add up to the per-line definition: paid as of
the date = paid so far less payments dated later; a line is judged against its deadline only
while it has an amount.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5

import pytest

from domain.allocation import Deduction
from domain.award import IncomeDistribution
from domain.distribution import BeneficiaryKind, DistributionPolicy
from domain.enums import InstitutionKind, RulePackId
from domain.rule_packs import DeductionCategory, pack_in_force
from ledger.serialisation import default_mapper
from ledger.store import EventStore
from projections.queries import distribution_audit
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.test_statistics_dataset import Dataset

D = date.fromisoformat
WAN = 1_000_000  # fen in 1万 yuan
U9 = uuid5(NAMESPACE_URL, "ttledger:test:U9")
TEAM, INST = BeneficiaryKind.inventor_team, BeneficiaryKind.institution


@pytest.fixture(scope="module")
async def store(migrated_dsn: str) -> AsyncIterator[EventStore]:
    s = await EventStore.connect(migrated_dsn)
    ds = Dataset(s)
    national = pack_in_force(RulePackId.national, D("2024-01-01"))
    policy = DistributionPolicy.create(U9)
    policy.adopt_version("2024", D("2024-01-01"), {TEAM: 70, INST: 30}, {TEAM: 70, INST: 30},
                         institution_is_public_research=True,
                         institution_kind=InstitutionKind.university, pack=national)
    await ds.commit(policy)
    # Receipt A: 10万 net, 甲 7万 (team), institution 3万. 甲 is paid 2万 on 2024-03-01,
    # then a late deduction of the whole receipt takes every line to 0 (paid 2万 stays).
    a = IncomeDistribution.allocate(
        contract_id=uuid5(NAMESPACE_URL, "ttledger:test:CA"), receipt_id="A", institution_id=U9,
        received_on=D("2024-01-10"), gross_fen=10 * WAN, deductions=[], pack=national,
        policy=policy.policy_in_force(D("2024-01-10")), inventors=[("甲", Decimal(100))])
    await ds.commit(a)
    a.pay_award("inventor:甲", 2 * WAN, D("2024-03-01"), "PA-1")
    await ds.commit(a)
    a.adjust("ADJ-A", [Deduction(DeductionCategory.tax, 10 * WAN)], D("2024-04-01"))
    await ds.commit(a)
    assert a.allocation.amounts().get("inventor:甲", 0) == 0
    # Receipt B: 20万 net, 乙 14万 (team). Paid 4万 on 2024-06-01 and 10万 on 2027-06-01,
    # after its deadline (2027-02-01).
    b = IncomeDistribution.allocate(
        contract_id=uuid5(NAMESPACE_URL, "ttledger:test:CB"), receipt_id="B", institution_id=U9,
        received_on=D("2024-02-01"), gross_fen=20 * WAN, deductions=[], pack=national,
        policy=policy.policy_in_force(D("2024-02-01")), inventors=[("乙", Decimal(100))])
    await ds.commit(b)
    b.pay_award("inventor:乙", 4 * WAN, D("2024-06-01"), "PB-1")
    b.pay_award("inventor:乙", 10 * WAN, D("2027-06-01"), "PB-2")
    await ds.commit(b)
    runner = ProjectionRunner(s, default_mapper(), all_projections())
    await runner.setup()
    await runner.catch_up()
    assert runner.failures() == {}
    yield s
    await s.close()


def deadlines(row: dict[str, object]) -> dict[str, tuple[int, int]]:
    found = row["deadline"]
    assert isinstance(found, dict)
    return {status: (v["lines"], v["unpaid_fen"]) for status, v in found.items()}


async def test_before_any_payment_the_zeroed_line_is_not_judged(store: EventStore) -> None:
    for group_by, anonymise in (("institution", False), ("inventor", True), ("contract", False)):
        result = await distribution_audit(store.pool, as_of=D("2024-02-15"), group_by=group_by,
                                          anonymise=anonymise, institution_id=U9)
        totals = result["totals"]
        assert totals["team_allocated_fen"] == 14 * WAN  # 甲 0 + 乙 14万
        assert totals["team_paid_fen"] == 0  # every payment is dated later
        # Only 乙's line is judged: open, all 14万 unpaid. 甲's later 2万 belongs to no status.
        assert deadlines(totals) == {"paid_in_time": (0, 0), "paid_late": (0, 0),
                                     "open": (1, 14 * WAN), "overdue": (0, 0)}, group_by


async def test_between_payments_and_after_the_deadline(store: EventStore) -> None:
    mid = await distribution_audit(store.pool, as_of=D("2025-01-01"), institution_id=U9)
    row = mid["rows"][0]
    assert row["team_paid_fen"] == 6 * WAN  # 甲 2万 + 乙 4万
    assert row["team_unpaid_fen"] == 8 * WAN  # 14万 allocated − 6万 (甲's line: 0 − 2万)
    assert row["inventors"] == 1  # 甲 has nothing allocated any more
    assert deadlines(row) == {"paid_in_time": (0, 0), "paid_late": (0, 0),
                              "open": (1, 10 * WAN), "overdue": (0, 0)}
    overdue = (await distribution_audit(store.pool, as_of=D("2027-03-01"), institution_id=U9))["rows"][0]
    assert deadlines(overdue)["overdue"] == (1, 10 * WAN)
    settled = (await distribution_audit(store.pool, as_of=D("2027-06-01"), institution_id=U9))["rows"][0]
    assert settled["team_paid_fen"] == 16 * WAN
    assert deadlines(settled) == {"paid_in_time": (0, 0), "paid_late": (1, 0),
                                  "open": (0, 0), "overdue": (0, 0)}
