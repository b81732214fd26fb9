"""Commands of income distribution (收益分配): policies, deductions, allocation, awards.

Allocation gathers what the rules need from several records: the receipt
from the contract, the deductions from the income books of the contract and
its achievements, the rule pack the institution follows on the receipt
date, the policy version in force then, and the inventors' contribution
shares. Everything it changes (the new distribution, the deductions marked
used) commits in one transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, NoReturn
from uuid import UUID

from domain.achievement import Achievement
from domain.allocation import DeductionCategory, allocate_equity, self_implementation_awards
from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.distribution import DISTRIBUTION_POLICY_IN_FORCE, DistributionPolicy, policy_id_for
from domain.enums import InstitutionKind
from domain.equity import EquityHolding
from domain.errors import DomainError, require
from domain.income import IncomeBook
from domain.inputs import (
    CalendarYear,
    Fen,
    Identifier,
    Label,
    LineKey,
    Name,
    Note,
    Percent,
    Years,
    items,
)
from domain.institution import Institution
from domain.ledger_rules import REFERENCED_RECORD_EXISTS
from domain.money import split_largest_remainder
from domain.rule_packs import pack_in_force
from domain.self_implementation import (
    SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR,
    SelfImplementation,
    SelfImplementationAward,
)
from ledger.commands.base import Command, Result, existing, handler, written
from ledger.repository import AggregateNotFound
from ledger.unit_of_work import UnitOfWork

PUBLIC_RESEARCH = (InstitutionKind.university, InstitutionKind.research_institute)


class AdoptDistributionPolicy(Command):
    institution_id: UUID
    version_label: Label
    effective_from: date
    cash_split: Annotated[dict[Label, Percent], items(20)]
    equity_split: Annotated[dict[Label, Percent], items(20)]
    tiers: Annotated[list[tuple[Fen, Annotated[dict[Label, Percent], items(20)]]], items(20)] = []
    inventor_overrides: Annotated[dict[Name, Percent], items(100)] | None = None
    self_implementation_percent: Percent | None = None
    self_implementation_years: Years | None = None
    main_contributors_check: bool = False
    """Flag (never refuse) main contributors under 50% of the award (国发〔2016〕16号, text not
    confirmed against the original: off by default; see rule main_contributors_share)."""


class RecordDeduction(Command):
    """A cost against a contract (taxes, negotiation, agency) or an achievement (patent fees)."""

    subject_id: UUID
    reference: Identifier
    category: DeductionCategory
    institution_id: UUID | None = None
    """Whose cost it is; by default the contract's lead seller or the achievement's first owner."""
    amount_fen: Fen
    incurred_on: date
    description: Note


class AllocateReceipt(Command):
    """Distribute one receipt of a contract, once: a payment, an insurance claim paid first
    (先行赔付), or a credit applied (``credit-<n>``, listed in the contract's ``receipts``)."""

    contract_id: UUID
    receipt_id: Identifier


class PayAward(Command):
    distribution_id: UUID
    key: LineKey
    amount_fen: Fen
    paid_on: date
    payment_id: Identifier


class PublishAwardNotice(Command):
    distribution_id: UUID
    notice_id: Identifier
    starts_on: date
    ends_on: date
    recipients: Annotated[list[Name], items(100)] | None = None


@handler(AdoptDistributionPolicy)
async def adopt_distribution_policy(cmd: AdoptDistributionPolicy, uow: UnitOfWork) -> Result:
    institution = await existing(uow, Institution, cmd.institution_id, "institution_id")
    pack = pack_in_force(institution.rule_pack_on(cmd.effective_from), cmd.effective_from)
    try:
        policy = await uow.get(DistributionPolicy, policy_id_for(cmd.institution_id))
    except AggregateNotFound:
        policy = DistributionPolicy.create(cmd.institution_id)
        uow.add(policy)
    version = policy.adopt_version(
        cmd.version_label, cmd.effective_from, cmd.cash_split, cmd.equity_split, cmd.tiers,
        cmd.inventor_overrides,
        institution_is_public_research=institution.public and institution.kind in PUBLIC_RESEARCH,
        institution_kind=institution.kind, pack=pack,
        self_implementation_percent=cmd.self_implementation_percent,
        self_implementation_years=cmd.self_implementation_years,
        main_contributors_check=cmd.main_contributors_check,
    )
    return written(policy, pack=f"{pack.pack_id} {pack.version}", below_floor=bool(version.floor_findings),
                   main_contributors_flagged=bool(version.contributor_findings))


async def _book(uow: UnitOfWork, subject_id: UUID, kind: str, institution_id: UUID) -> IncomeBook:
    try:
        return await uow.get(IncomeBook, IncomeBook.id_for(subject_id, institution_id))
    except AggregateNotFound:
        book = IncomeBook.open(subject_id, kind, institution_id)
        uow.add(book)
        return book


async def _subject(uow: UnitOfWork, subject_id: UUID, institution_id: UUID | None) -> tuple[str, UUID]:
    """Which kind of record ``subject_id`` is, and the institution whose cost it is."""
    if institution_id is not None:
        await existing(uow, Institution, institution_id, "institution_id")
    try:
        contract = await uow.get(TechnologyContract, subject_id)
        return "contract", institution_id or contract.terms.seller_ids[0]
    except AggregateNotFound:
        achievement = await existing(uow, Achievement, subject_id, "subject_id")
        return "achievement", institution_id or achievement.owner_ids[0]


@handler(RecordDeduction)
async def record_deduction(cmd: RecordDeduction, uow: UnitOfWork) -> Result:
    kind, institution_id = await _subject(uow, cmd.subject_id, cmd.institution_id)
    book = await _book(uow, cmd.subject_id, kind, institution_id)
    deduction = book.record_deduction(cmd.reference, cmd.category, cmd.amount_fen, cmd.incurred_on,
                                      cmd.description)
    result = written(book)
    # A deduction after the last allocation adjusts that allocation (new entries, nothing edited).
    if kind == "contract" and book.receipts:
        last = await uow.get(IncomeDistribution, list(book.receipts.values())[-1])
        last.adjust(f"deduction:{cmd.reference}", [deduction.as_deduction()], cmd.incurred_on)
        book.use([cmd.reference], last.id)
        result["adjusted_distribution_id"] = str(last.id)
    return result


@handler(AllocateReceipt)
async def allocate_receipt(cmd: AllocateReceipt, uow: UnitOfWork) -> Result:
    contract = await existing(uow, TechnologyContract, cmd.contract_id, "contract_id")
    require(cmd.receipt_id in contract.receipts, REFERENCED_RECORD_EXISTS, "receipt_id",
            f"contract {contract.id} has no payment, claim or applied credit {cmd.receipt_id!r}",
            zh=f"合同 {contract.id} 没有付款、理赔或冲抵的预收款 {cmd.receipt_id!r}")
    gross_fen, received_on = contract.receipts[cmd.receipt_id]
    institution = await uow.get(Institution, contract.terms.seller_ids[0])
    pack = pack_in_force(institution.rule_pack_on(received_on), received_on)
    try:
        policy = await uow.get(DistributionPolicy, policy_id_for(institution.id))
    except AggregateNotFound:
        raise_no_policy(institution.id)
    achievements = [await uow.get(Achievement, a) for a in contract.terms.achievement_ids]
    contract_book = await _book(uow, contract.id, "contract", institution.id)
    contract_book.check_receipt_new(cmd.receipt_id)
    books = [contract_book] + [await _book(uow, a.id, "achievement", institution.id) for a in achievements]
    unused = [(book, d) for book in books for d in book.unused()]
    distribution = IncomeDistribution.allocate(
        contract_id=contract.id, receipt_id=cmd.receipt_id, institution_id=institution.id,
        received_on=received_on, gross_fen=gross_fen, deductions=[d.as_deduction() for _, d in unused],
        pack=pack, policy=policy.policy_in_force(received_on),
        inventors=achievements[0].inventors if achievements else (),
        cumulative_before_fen=contract_book.net_distributed_fen,
    )
    uow.add(distribution)
    for book in books:
        mine = [d.reference for b, d in unused if b is book]
        if book is contract_book:
            book.use(mine, distribution.id, cmd.receipt_id, distribution.allocation.net_fen)
        elif mine:
            book.use(mine, distribution.id)
    return written(distribution, net_fen=distribution.allocation.net_fen,
                   lines={line.key: line.amount_fen for line in distribution.allocation.lines})


def raise_no_policy(institution_id: UUID) -> NoReturn:
    raise DomainError(DISTRIBUTION_POLICY_IN_FORCE, "contract_id",
                      f"institution {institution_id} has adopted no distribution policy",
                      detail_zh=f"机构 {institution_id} 未采用分配政策")


@handler(PayAward)
async def pay_award(cmd: PayAward, uow: UnitOfWork) -> Result:
    distribution = await uow.get(IncomeDistribution, cmd.distribution_id)
    distribution.pay_award(cmd.key, cmd.amount_fen, cmd.paid_on, cmd.payment_id)
    return written(distribution, unpaid_fen=distribution.unpaid_fen(cmd.key))


@handler(PublishAwardNotice)
async def publish_award_notice(cmd: PublishAwardNotice, uow: UnitOfWork) -> Result:
    distribution = await uow.get(IncomeDistribution, cmd.distribution_id)
    distribution.publish_notice(cmd.notice_id, cmd.starts_on, cmd.ends_on, cmd.recipients)
    return written(distribution)


class AwardSharesByPolicy(Command):
    """Award the inventors their shares of an equity contribution, as the policy splits them."""

    holding_id: UUID
    awarded_on: date


class AllocateSelfImplementationAward(Command):
    """Award the inventors a share of a year's operating profit from self-implementation."""

    self_implementation_id: UUID
    year: CalendarYear
    allocated_on: date


async def _policy_and_pack(uow: UnitOfWork, institution_id: UUID, on: date) -> tuple[Any, Any]:
    institution = await uow.get(Institution, institution_id)
    pack = pack_in_force(institution.rule_pack_on(on), on)
    try:
        policy = await uow.get(DistributionPolicy, policy_id_for(institution_id))
    except AggregateNotFound:
        raise_no_policy(institution_id)
    return policy.policy_in_force(on), pack


@handler(AwardSharesByPolicy)
async def award_shares_by_policy(cmd: AwardSharesByPolicy, uow: UnitOfWork) -> Result:
    holding = await uow.get(EquityHolding, cmd.holding_id)
    contract = await uow.get(TechnologyContract, holding.contract_id)
    policy, pack = await _policy_and_pack(uow, holding.institution_id, cmd.awarded_on)
    achievements = [await uow.get(Achievement, a) for a in contract.terms.achievement_ids]
    split = allocate_equity(holding.shares_received, policy,
                            achievements[0].inventors if achievements else (), pack=pack)
    awarded = {}
    for line in split.lines:
        if line.inventor is not None and line.shares > 0:
            holding.award_shares(line.inventor, line.shares, cmd.awarded_on)
            awarded[line.inventor] = line.shares
    return written(holding, awarded=awarded, team_percent=str(split.team_percent),
                   floor_percent=str(split.floor_percent))


@handler(AllocateSelfImplementationAward)
async def allocate_self_implementation_award(cmd: AllocateSelfImplementationAward, uow: UnitOfWork) -> Result:
    implementation = await uow.get(SelfImplementation, cmd.self_implementation_id)
    policy, pack = await _policy_and_pack(uow, implementation.institution_id, cmd.allocated_on)
    awards = self_implementation_awards(implementation.profit_by_year, pack, policy=policy,
                                        first_profitable_year=implementation.first_profitable_year,
                                        production_start_year=implementation.started_on.year)
    require(cmd.year in awards, SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR, "year",
            f"{cmd.year} is outside the years {pack.source} prescribes, or has no profit report",
            zh=f"{cmd.year} 不在 {pack.source} 规定的年度内，或没有利润报告")
    award_fen = awards[cmd.year]
    achievement = await uow.get(Achievement, implementation.achievement_id)
    parts = split_largest_remainder(award_fen, [i.share for i in achievement.inventors]) if award_fen else []
    lines = tuple((i.name, fen) for i, fen in zip(achievement.inventors, parts, strict=False))
    percent = policy.self_implementation_percent or pack.self_implementation.percent
    implementation.allocate_award(SelfImplementationAward(
        cmd.year, implementation.profit_by_year[cmd.year], award_fen, Decimal(percent), lines,
        pack.pack_id, pack.version, cmd.allocated_on))
    return written(implementation, award_fen=award_fen, lines=dict(lines))


# --- reversals and recoveries (issue 12, deliverable 3) -------------------------------------


class ReverseDeduction(Command):
    """Reverse a deduction recorded in error; a distribution that used it is adjusted (lines grow)."""

    subject_id: UUID
    reference: Identifier
    institution_id: UUID | None = None
    """Whose book it is; by default the contract's lead seller or the achievement's first owner."""
    reversed_on: date
    reason: Note


class RecordRecovery(Command):
    """Money an overpaid beneficiary paid back on a line's outstanding recovery."""

    distribution_id: UUID
    key: LineKey
    amount_fen: Fen
    repaid_on: date
    reference: Identifier


class OffsetRecovery(Command):
    """Settle a line's outstanding recovery by withholding it from a later award to the same
    beneficiary (``against_distribution_id``, same institution and line key)."""

    distribution_id: UUID
    key: LineKey
    against_distribution_id: UUID
    amount_fen: Fen
    offset_on: date
    offset_id: Identifier


@handler(ReverseDeduction)
async def reverse_deduction(cmd: ReverseDeduction, uow: UnitOfWork) -> Result:
    kind, institution_id = await _subject(uow, cmd.subject_id, cmd.institution_id)
    book = await _book(uow, cmd.subject_id, kind, institution_id)
    used_by = book.used.get(cmd.reference)
    deduction = book.reverse_deduction(cmd.reference, cmd.reversed_on, cmd.reason)
    result = written(book)
    if used_by is not None:
        distribution = await uow.get(IncomeDistribution, used_by)
        adjustment = distribution.reverse_deduction(f"reversal:{cmd.reference}", deduction.as_deduction(),
                                                    cmd.reversed_on, cmd.reason)
        result["adjusted_distribution_id"] = str(distribution.id)
        result["delta_fen"] = adjustment.delta_fen
    return result


@handler(RecordRecovery)
async def record_recovery(cmd: RecordRecovery, uow: UnitOfWork) -> Result:
    distribution = await uow.get(IncomeDistribution, cmd.distribution_id)
    distribution.repay_recovery(cmd.key, cmd.amount_fen, cmd.repaid_on, cmd.reference)
    return written(distribution, outstanding_fen=distribution.recovery_outstanding_fen(cmd.key))


@handler(OffsetRecovery)
async def offset_recovery(cmd: OffsetRecovery, uow: UnitOfWork) -> Result:
    distribution = await uow.get(IncomeDistribution, cmd.distribution_id)
    if cmd.against_distribution_id == distribution.id:
        against = distribution
    else:
        against = await existing(uow, IncomeDistribution, cmd.against_distribution_id, "against_distribution_id")
    distribution.offset_recovery(cmd.key, cmd.amount_fen, cmd.offset_on, cmd.offset_id, against)
    return written(distribution, outstanding_fen=distribution.recovery_outstanding_fen(cmd.key),
                   against_unpaid_fen=against.unpaid_fen(cmd.key))
