"""Projection ``distribution``: the income-distribution audit (收益分配审计).

From ``IncomeDistribution`` (one per receipt allocated, domain/award.py),
``DistributionPolicy`` (domain/distribution.py) and the share awards of
``EquityHolding``:

- ``dist_policies``: every policy version adopted, with its inventor-team shares,
  its pack's floors and whether it was flagged below a floor (with the findings).
- ``dist_receipts``: one row per receipt: gross income, deductions, net income,
  the team's amount against its floor, the 36-month award deadline (财税〔2018〕58号).
- ``dist_lines``: one row per allocation line (beneficiary, or one inventor of the
  team): allocated (adjustments applied), paid, paid late, fully-paid date, notice.
- ``dist_payments``: every award payment, with its receipt's award deadline.
- ``dist_inventors``: per institution and inventor, the team allocations summed.
- ``dist_share_awards``: shares of equity holdings awarded to inventors.
- ``dist_recoveries``: every movement of a recovery of an overpaid award, signed and dated
  (raised +, repaid −, offset −), so that what is outstanding per beneficiary as of a date is
  a sum. A reversed deduction adjusts lines like a late one; an award settled by offsetting a
  recovery counts as paid on its line and is listed in ``dist_payments`` under its offset id.

Deadline status as of a date is computed by the queries from the stored dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from domain.award import IncomeDistribution
from domain.distribution import DistributionPolicy
from domain.equity import EquityHolding
from projections.base import Appended, Row, Rows, TableProjection, TableSpec, cols, topic
from projections.lookups import text
from projections.obligations import SPECS as OBLIGATION_SPECS
from projections.obligations import TOPICS as OBLIGATION_TOPICS
from projections.obligations import ObligationRows
from projections.runner import Envelope

D = IncomeDistribution
P = DistributionPolicy
H = EquityHolding

POLICY_OWNERS = TableSpec(
    "dist_policy_owners", cols("policy_id uuid, institution_id uuid"), ("policy_id",)
)
POLICIES = TableSpec(
    "dist_policies",
    cols(
        "policy_id uuid, version_label text, institution_id uuid, effective_from date, "
        "pack_id text, pack_version text, pack_source text, team_cash_percent numeric, "
        "lowest_team_cash_percent numeric, team_equity_percent numeric, "
        "transfer_floor_percent numeric, equity_floor_percent numeric, below_floor boolean, "
        "bound_by_floor boolean, findings text[]"
    ),
    ("policy_id", "version_label"),
    ("(institution_id)",),
    versioned=True,
)
RECEIPTS = TableSpec(
    "dist_receipts",
    cols(
        "distribution_id uuid, contract_id uuid, receipt_id text, institution_id uuid, "
        "received_on date, deadline_on date, gross_fen bigint, deducted_fen bigint, net_fen bigint, "
        "clamped boolean, team_fen bigint, team_floor_fen bigint, floor_percent numeric, "
        "below_floor boolean, bound_by_floor boolean, pack_id text, pack_version text, "
        "policy_version text, adjustments integer"
    ),
    ("distribution_id",),
    ("(institution_id, received_on)", "(contract_id)",
     "(received_on, distribution_id)"),  # the distributions list's order (projections/record_lists.py)
    versioned=True,
)
LINES = TableSpec(
    "dist_lines",
    cols(
        "distribution_id uuid, key text, institution_id uuid, contract_id uuid, beneficiary text, "
        "inventor text, allocated_fen bigint, paid_fen bigint, paid_late_fen bigint, "
        "first_paid_on date, last_paid_on date, fully_paid_on date, received_on date, "
        "deadline_on date, noticed_until date"
    ),
    ("distribution_id", "key"),
    # The last index finds the rare lines paid and then reduced to nothing by a late
    # deduction, which the audit treats apart (queries._audit_line_sums).
    ("(institution_id, received_on)", "(contract_id)",
     "(distribution_id) WHERE allocated_fen <= 0 AND paid_fen > 0",
     # The work queues' award deadlines (projections/queues.py): inventors' lines not paid in full.
     "(deadline_on) WHERE beneficiary = 'inventor_team' AND allocated_fen > paid_fen"),
    versioned=True,
)
PAYMENTS = TableSpec(
    "dist_payments",
    cols(
        "distribution_id uuid, payment_id text, key text, beneficiary text, inventor text, "
        "institution_id uuid, contract_id uuid, amount_fen bigint, paid_on date, "
        "within_deadline boolean, received_on date, deadline_on date"
    ),
    ("distribution_id", "payment_id"),
    ("(institution_id, paid_on)", "(distribution_id, key)", "(paid_on)"),
    versioned=True,
)
# Inventors with their team allocations summed, so that the regulator's audit counts the
# inventors of every institution without a pass over all the lines.
INVENTORS = TableSpec(
    "dist_inventors",
    cols("institution_id uuid, inventor text, team_allocated_fen bigint"),
    ("institution_id", "inventor"),
    versioned=True,
)
RECOVERIES = TableSpec(
    "dist_recoveries",
    cols(
        "position bigint, distribution_id uuid, key text, beneficiary text, inventor text, "
        "institution_id uuid, contract_id uuid, movement text, amount_fen bigint, moved_on date, "
        "reference text"
    ),
    ("position",),
    ("(institution_id, moved_on)",),
    versioned=True,
)
HOLDINGS = TableSpec(
    "dist_holdings", cols("holding_id uuid, institution_id uuid, contract_id uuid"), ("holding_id",)
)
SHARE_AWARDS = TableSpec(
    "dist_share_awards",
    cols(
        "position bigint, holding_id uuid, institution_id uuid, contract_id uuid, inventor text, "
        "shares bigint, awarded_on date"
    ),
    ("position",),
    ("(institution_id, awarded_on)",),
    versioned=True,
)

T_P_CREATED = topic(P, "Created")
T_P_ADOPTED = topic(P, "VersionAdopted")
T_ALLOCATED = topic(D, "Allocated")
T_ADJUSTED = topic(D, "Adjusted")
T_PAID = topic(D, "AwardPaid")
T_NOTICE = topic(D, "NoticePublished")
T_REVERSED = topic(D, "DeductionReversed")
T_OFFSET = topic(D, "AwardOffset")
T_RAISED = topic(D, "RecoveryRaised")
T_REPAID = topic(D, "RecoveryRepaid")
T_RECOVERY_OFFSET = topic(D, "RecoveryOffset")
RECOVERY_TOPICS = frozenset({T_REVERSED, T_OFFSET, T_RAISED, T_REPAID, T_RECOVERY_OFFSET})
T_H_CONTRIBUTED = topic(H, "ContributionRecorded")
T_H_AWARDED = topic(H, "SharesAwarded")
DISTRIBUTION_TOPICS = frozenset({T_ALLOCATED, T_ADJUSTED, T_PAID, T_NOTICE, *RECOVERY_TOPICS})


class _Page:
    def __init__(self) -> None:
        self.owners = Rows(POLICY_OWNERS)
        self.policies = Rows(POLICIES)
        self.receipts = Rows(RECEIPTS)
        self.lines = Rows(LINES)
        self.holdings = Rows(HOLDINGS)
        self.inventors = Rows(INVENTORS)
        self.payments = Appended(PAYMENTS)
        self.share_awards = Appended(SHARE_AWARDS)
        self.obligations = ObligationRows()  # self-implementation awards, invention bonuses
        self.recoveries = Appended(RECOVERIES)

    async def flush(self, conn: asyncpg.Connection) -> None:
        for table in (self.owners, self.policies, self.receipts, self.lines, self.holdings,
                      self.inventors):
            await table.flush(conn)
        await self.payments.flush(conn)
        await self.share_awards.flush(conn)
        await self.obligations.flush(conn)
        await self.recoveries.flush(conn)


class DistributionProjection(TableProjection):
    name = "distribution"
    rebuild_cost = 1.2  # CPU of a lone rebuild, relative (bench/stats.py's dataset)
    specs = (POLICY_OWNERS, POLICIES, RECEIPTS, LINES, PAYMENTS, HOLDINGS, SHARE_AWARDS, INVENTORS,
             *OBLIGATION_SPECS, RECOVERIES)
    topics = frozenset({T_P_CREATED, T_P_ADOPTED, *DISTRIBUTION_TOPICS, T_H_CONTRIBUTED, T_H_AWARDED,
                        *OBLIGATION_TOPICS})

    async def apply_page(self, conn: asyncpg.Connection, events: Sequence[Envelope]) -> None:
        page = _Page()
        policies = {e.event.originator_id for e in events if e.entry.topic == T_P_ADOPTED}
        distributions = {
            e.event.originator_id for e in events if e.entry.topic in DISTRIBUTION_TOPICS - {T_ALLOCATED}
        }
        holdings = {e.event.originator_id for e in events if e.entry.topic == T_H_AWARDED}
        await page.owners.load(conn, policies)
        await page.receipts.load(conn, distributions)
        await page.lines.load(conn, distributions, "distribution_id")
        await page.holdings.load(conn, holdings)
        institutions = {e.event.institution_id for e in events if e.entry.topic == T_ALLOCATED}
        institutions |= {r["institution_id"] for r in page.receipts.rows.values()}
        await page.inventors.load(conn, institutions, "institution_id")
        await page.obligations.load(conn, events)
        for envelope in events:
            t, e = envelope.entry.topic, envelope.event
            if t == T_P_CREATED:
                page.owners.add(POLICY_OWNERS.blank(policy_id=e.originator_id,
                                                    institution_id=e.institution_id))
            elif t == T_P_ADOPTED:
                self._adopted(page, e)
            elif t == T_ALLOCATED:
                self._allocated(page, e)
            elif t == T_ADJUSTED:
                self._adjusted(page, e)
            elif t == T_PAID:
                self._paid(page, e)
            elif t == T_NOTICE:
                for key in e.notice.recipients:
                    line = page.lines.get(e.originator_id, key)
                    if line is not None:
                        until = line["noticed_until"]
                        line["noticed_until"] = (
                            e.notice.ends_on if until is None else max(until, e.notice.ends_on)
                        )
                        page.lines.touch(line)
            elif t == T_H_CONTRIBUTED:
                page.holdings.add(HOLDINGS.blank(holding_id=e.originator_id,
                                                 institution_id=e.institution_id,
                                                 contract_id=e.contract_id))
            elif t in OBLIGATION_TOPICS:
                page.obligations.apply(t, e)
            elif t == T_REVERSED:
                self._adjusted(page, e)  # the same revision as a late deduction's, upwards
            elif t == T_OFFSET:
                self._paid(page, _OffsetAsPayment(e))
            elif t in (T_RAISED, T_REPAID, T_RECOVERY_OFFSET):
                _recovery_moved(page, envelope.position, t, e)
            elif t == T_H_AWARDED:
                holding = page.holdings.get(e.originator_id) or {}
                page.share_awards.add(
                    position=envelope.position,
                    holding_id=e.originator_id,
                    institution_id=holding.get("institution_id"),
                    contract_id=holding.get("contract_id"),
                    inventor=e.award.inventor,
                    shares=e.award.shares,
                    awarded_on=e.award.awarded_on,
                )
        await page.flush(conn)

    @staticmethod
    def _adopted(page: _Page, e: Any) -> None:
        version = e.version
        owner = page.owners.get(e.originator_id) or {}
        tiers = [t.split.team_percent for t in version.tiers]
        page.policies.add(
            POLICIES.blank(
                policy_id=e.originator_id,
                version_label=version.version_label,
                institution_id=owner.get("institution_id"),
                effective_from=version.effective_from,
                pack_id=version.pack.pack_id,
                pack_version=version.pack.version,
                pack_source=version.pack.source,
                team_cash_percent=version.cash_split.team_percent,
                lowest_team_cash_percent=min([version.cash_split.team_percent, *tiers]),
                team_equity_percent=version.equity_split.team_percent,
                transfer_floor_percent=version.pack.transfer_floor_percent,
                equity_floor_percent=version.pack.equity_floor_percent,
                below_floor=bool(e.below_floor),
                bound_by_floor=version.bound_by_floor,
                findings=[f.message for f in version.floor_findings],
            )
        )

    @staticmethod
    def _allocated(page: _Page, e: Any) -> None:
        allocation = e.allocation
        receipt = page.receipts.add(
            RECEIPTS.blank(
                distribution_id=e.originator_id,
                contract_id=e.contract_id,
                receipt_id=e.receipt_id,
                institution_id=e.institution_id,
                received_on=e.received_on,
                deadline_on=e.deadline_on,
                gross_fen=e.gross_fen,
                pack_id=allocation.pack_id,
                pack_version=allocation.pack_version,
                policy_version=allocation.policy_version,
                bound_by_floor=allocation.policy.bound_by_floor,
                adjustments=0,
            )
        )
        _set_allocation(receipt, e.net_income, allocation)
        for line in allocation.lines:
            page.lines.add(
                LINES.blank(
                    distribution_id=e.originator_id,
                    key=line.key,
                    institution_id=e.institution_id,
                    contract_id=e.contract_id,
                    beneficiary=text(line.beneficiary),
                    inventor=line.inventor,
                    allocated_fen=line.amount_fen,
                    paid_fen=0,
                    paid_late_fen=0,
                    received_on=e.received_on,
                    deadline_on=e.deadline_on,
                )
            )
            _team_allocated(page, e.institution_id, line.inventor, text(line.beneficiary), line.amount_fen)

    @staticmethod
    def _adjusted(page: _Page, e: Any) -> None:
        receipt = page.receipts.get(e.originator_id)
        if receipt is None:  # pragma: no cover - never before its allocation
            return
        revised = e.adjustment.revised
        receipt["adjustments"] += 1
        _set_allocation(receipt, e.net_income, revised)
        page.receipts.touch(receipt)
        amounts = revised.amounts()
        for line in revised.lines:
            row = page.lines.get(e.originator_id, line.key)
            if row is None:
                row = page.lines.add(
                    LINES.blank(
                        distribution_id=e.originator_id,
                        key=line.key,
                        institution_id=receipt["institution_id"],
                        contract_id=receipt["contract_id"],
                        beneficiary=text(line.beneficiary),
                        inventor=line.inventor,
                        paid_fen=0,
                        paid_late_fen=0,
                        received_on=receipt["received_on"],
                        deadline_on=receipt["deadline_on"],
                    )
                )
        for row in page.lines.where(lambda r: r["distribution_id"] == e.originator_id):
            allocated = amounts.get(row["key"], 0)
            _team_allocated(page, row["institution_id"], row["inventor"], row["beneficiary"],
                            allocated - (row["allocated_fen"] or 0))
            row["allocated_fen"] = allocated
            _fully_paid(row)
            page.lines.touch(row)

    @staticmethod
    def _paid(page: _Page, e: Any) -> None:
        receipt = page.receipts.get(e.originator_id) or {}
        line = page.lines.get(e.originator_id, e.key)
        if line is None:  # pragma: no cover - the aggregate checks the key
            return
        line["paid_fen"] += e.amount_fen
        if not e.within_deadline:
            line["paid_late_fen"] += e.amount_fen
        first, last = line["first_paid_on"], line["last_paid_on"]
        line["first_paid_on"] = e.paid_on if first is None else min(first, e.paid_on)
        line["last_paid_on"] = e.paid_on if last is None else max(last, e.paid_on)
        _fully_paid(line)
        page.lines.touch(line)
        page.payments.add(
            distribution_id=e.originator_id,
            payment_id=e.payment_id,
            key=e.key,
            beneficiary=text(e.beneficiary),
            inventor=e.inventor,
            institution_id=receipt.get("institution_id"),
            contract_id=receipt.get("contract_id"),
            amount_fen=e.amount_fen,
            paid_on=e.paid_on,
            within_deadline=bool(e.within_deadline),
            received_on=receipt.get("received_on"),
            deadline_on=receipt.get("deadline_on"),
        )


def _team_allocated(page: _Page, institution_id: Any, inventor: str | None, beneficiary: str | None,
                    delta_fen: int) -> None:
    if beneficiary != "inventor_team" or inventor is None or institution_id is None:
        return
    row = page.inventors.get(institution_id, inventor)
    if row is None:
        row = page.inventors.add(INVENTORS.blank(institution_id=institution_id, inventor=inventor,
                                                 team_allocated_fen=0))
    row["team_allocated_fen"] += delta_fen
    page.inventors.touch(row)


def _set_allocation(receipt: Row, net_income: Any, allocation: Any) -> None:
    receipt.update(
        net_fen=allocation.net_fen,
        deducted_fen=receipt["gross_fen"] - allocation.net_fen,
        clamped=bool(net_income.clamped),
        team_fen=allocation.team_fen,
        team_floor_fen=allocation.team_floor_fen,
        floor_percent=allocation.floor_percent,
        below_floor=bool(allocation.below_floor),
    )


def _fully_paid(line: Row) -> None:
    """The date the line was paid in full (its last payment), or None while it is not."""
    if line["allocated_fen"] > 0 and line["paid_fen"] >= line["allocated_fen"]:
        if line["fully_paid_on"] is None:
            line["fully_paid_on"] = line["last_paid_on"]
    else:
        line["fully_paid_on"] = None


class _OffsetAsPayment:
    """An ``AwardOffset`` read as the award payment it is on its line (no cash moved)."""

    def __init__(self, e: Any) -> None:
        self.originator_id = e.originator_id
        self.key, self.beneficiary, self.inventor = e.key, e.beneficiary, e.inventor
        self.amount_fen, self.paid_on, self.payment_id = e.amount_fen, e.offset_on, e.offset_id
        self.within_deadline = e.within_deadline


def _recovery_moved(page: _Page, position: int, t: str, e: Any) -> None:
    receipt = page.receipts.get(e.originator_id) or {}
    if t == T_RAISED:
        r = e.recovery
        key, beneficiary, inventor = r.key, text(r.beneficiary), r.inventor
        movement, amount, on, reference = "raised", r.amount_fen, r.raised_on, r.recovery_id
    else:
        line = page.lines.get(e.originator_id, e.key) or {}
        key, beneficiary, inventor = e.key, line.get("beneficiary"), line.get("inventor")
        if t == T_REPAID:
            movement, amount, on, reference = "repaid", -e.amount_fen, e.repaid_on, e.reference
        else:
            movement, amount, on, reference = "offset", -e.amount_fen, e.offset_on, e.offset_id
    page.recoveries.add(
        position=position, distribution_id=e.originator_id,
        key=key, beneficiary=beneficiary, inventor=inventor,
        institution_id=receipt.get("institution_id"), contract_id=receipt.get("contract_id"),
        movement=movement, amount_fen=amount, moved_on=on, reference=reference,
    )
