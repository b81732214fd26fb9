"""Income distribution (收益分配): policies, deductions, allocations, award payments and notices.

``/v1/institutions/{id}/policy``, ``/v1/deductions``, ``/v1/distributions``,
and the awards of equity (``/v1/equity-holdings/{id}/policy-awards``) and of
self-implementation (``/v1/self-implementations/{id}/awards``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.commands import (
    AwardPaid,
    DeductionRecorded,
    DeductionReversed,
    PathTarget,
    PolicyAdopted,
    ReceiptAllocated,
    RecoveryWritten,
    SelfImplementationAwarded,
    SharesAwardedByPolicy,
    Written,
    command_route,
    path_model,
)
from api.redaction import names_for
from api.routes.common import AsOfQuery, ReadQuery, as_of, load_for_read, read_reply, redacts
from api.routes.equity import holder, implementer
from api.routing import Call, Reply, RouteRegistry
from api.tenancy import (
    acts_for,
    hidden,
    load_referenced,
    missing_reference,
    require_acting_for,
    require_one_of,
    sees_contract,
)
from domain.achievement import Achievement
from domain.allocation import Deduction, NetIncome
from domain.award import AwardNotice, DeadlineStatus, IncomeDistribution
from domain.contract import TechnologyContract
from domain.distribution import BeneficiaryKind, DistributionPolicy, PolicyVersion, policy_id_for
from domain.equity import EquityHolding
from domain.institution import Institution
from domain.self_implementation import SelfImplementation
from ledger.commands import distribution as dist
from ledger.repository import AggregateNotFound
from ledger.tokens import Principal, Role
from ledger.unit_of_work import UnitOfWork

routes = RouteRegistry()
TAGS = ("distribution",)
INSTITUTIONS = {Role.ADMIN, Role.INSTITUTION}
READERS = {Role.ADMIN, Role.INSTITUTION, Role.REGULATOR}


# ---- views ----------------------------------------------------------------------------------------


class PolicyView(BaseModel):
    id: UUID
    version: int
    institution_id: UUID
    versions: list[PolicyVersion] = Field(description="Every version adopted, oldest first.")


def policy_view(policy: DistributionPolicy, *, redact: bool) -> PolicyView:
    versions = list(policy.versions)
    if redact:
        versions = [
            replace(v, inventor_overrides=tuple(replace(o, inventor=f"#{i + 1}")
                                                for i, o in enumerate(v.inventor_overrides)))
            for v in versions
        ]
    return PolicyView(id=policy.id, version=policy.version, institution_id=policy.institution_id,
                      versions=versions)


class LineView(BaseModel):
    key: str = Field(description="`inventor:<name>` (`inventor:#n` for a regulator) or the beneficiary.")
    beneficiary: BeneficiaryKind
    inventor: str | None
    allocated_fen: int
    paid_fen: int
    unpaid_fen: int = Field(description="Negative when a later adjustment left less than was paid "
                            "(since recoveries, that excess is raised as a recovery instead).")
    recovery_outstanding_fen: int = Field(
        default=0, description="Paid beyond what an adjustment left allocated, still owed back (repaid or "
        "offset against a later award clears it).")
    deadline_status: DeadlineStatus | None = Field(
        description="36-month deadline (财税〔2018〕58号) as of `as_of`; none for a line of 0."
    )
    tax_relief_eligible: bool
    tax_relief_reasons: list[str] = Field(description="The conditions of 50% taxation not met.")


class PaymentView(BaseModel):
    payment_id: str
    key: str
    amount_fen: int
    paid_on: date
    within_deadline: bool


class DistributionView(BaseModel):
    id: UUID
    version: int
    as_of: date
    contract_id: UUID
    receipt_id: str
    institution_id: UUID
    received_on: date
    deadline_on: date = Field(description="36 months after the receipt (财税〔2018〕58号).")
    gross_fen: int
    deductions: list[Deduction]
    net_income: NetIncome
    net_fen: int
    pack_id: str
    pack_version: str
    policy_version: str
    floor_percent: str
    below_floor: bool
    lines: list[LineView]
    allocated_fen: int
    paid_fen: int
    unpaid_fen: int
    payments: list[PaymentView]
    notices: list[AwardNotice]
    adjustments: list[str]
    inventor_count: int


def distribution_view(d: IncomeDistribution, on: date, *, contract_registered: bool,
                      redact: bool) -> DistributionView:
    names = names_for(redact, (i.inventor for i in d.allocation.inventors))
    status = d.deadline_status(on)
    relief = d.tax_relief_eligible(on, contract_registered)
    lines = []
    for key, (beneficiary, inventor) in d.lines.items():
        lines.append(LineView(
            key=names.key(key), beneficiary=beneficiary, inventor=names(inventor) if inventor else None,
            allocated_fen=d.allocated.get(key, 0), paid_fen=d.paid.get(key, 0), unpaid_fen=d.unpaid_fen(key),
            recovery_outstanding_fen=d.recovery_outstanding_fen(key),
            deadline_status=status.get(key), tax_relief_eligible=relief[key].eligible,
            tax_relief_reasons=list(relief[key].reasons),
        ))
    allocation = d.allocation
    return DistributionView(
        id=d.id, version=d.version, as_of=on, contract_id=d.contract_id, receipt_id=d.receipt_id,
        institution_id=d.institution_id, received_on=d.received_on, deadline_on=d.deadline_on,
        gross_fen=d.gross_fen, deductions=list(d.deductions), net_income=d.net_income,
        net_fen=d.net_income.net_fen, pack_id=allocation.pack_id, pack_version=allocation.pack_version,
        policy_version=allocation.policy_version, floor_percent=str(allocation.floor_percent),
        below_floor=allocation.below_floor, lines=lines,
        allocated_fen=sum(d.allocated.values()), paid_fen=sum(d.paid.values()),
        unpaid_fen=sum(max(d.unpaid_fen(k), 0) for k in d.lines),
        payments=[PaymentView(payment_id=p.payment_id, key=names.key(p.key), amount_fen=p.amount_fen,
                              paid_on=p.paid_on, within_deadline=p.within_deadline) for p in d.payments],
        notices=[replace(n, recipients=tuple(names.key(r) for r in n.recipients)) for n in d.notices],
        adjustments=list(d.adjustments), inventor_count=len(allocation.inventors),
    )


# ---- tenancy --------------------------------------------------------------------------------------


async def _own_institution(who: Principal, uow: UnitOfWork, cmd: Any, institution: Institution) -> None:
    if not acts_for(who, institution.id):
        raise hidden(Institution, institution.id)


async def _policy_version(uow: UnitOfWork, cmd: Any, institution: Institution) -> tuple[UUID, int]:
    """``If-Match`` on a policy compares the policy's version (0 before the first adoption)."""
    policy_id = policy_id_for(institution.id)
    try:
        return policy_id, (await uow.get(DistributionPolicy, policy_id)).version
    except AggregateNotFound:
        return policy_id, 0


async def _deducts(who: Principal, uow: UnitOfWork, cmd: dist.RecordDeduction, _: None) -> None:
    """The subject is a contract the token sells under, or an achievement it owns; the cost is its own."""
    try:
        contract = await uow.get(TechnologyContract, cmd.subject_id)
    except AggregateNotFound:
        achievement = await load_referenced(who, Achievement, cmd.subject_id, "subject_id", uow.get)
        default = achievement.owner_ids[0]
    else:
        if not await sees_contract(who, contract, uow.get):
            raise missing_reference(TechnologyContract, cmd.subject_id, "subject_id")
        require_one_of(who, contract.terms.seller_ids, "a seller of the contract (the buyer has no deductions)")
        default = contract.terms.seller_ids[0]
    require_acting_for(who, cmd.institution_id or default, "whose cost it is (institution_id)")


async def _allocates(who: Principal, uow: UnitOfWork, cmd: dist.AllocateReceipt, _: None) -> None:
    contract = await load_referenced(who, TechnologyContract, cmd.contract_id, "contract_id", uow.get)
    require_acting_for(who, contract.terms.seller_ids[0], "the contract's lead seller, who distributes")


async def _distributor(who: Principal, uow: UnitOfWork, cmd: Any, distribution: IncomeDistribution) -> None:
    if not acts_for(who, distribution.institution_id):
        raise hidden(IncomeDistribution, distribution.id)


command_route(
    routes, "/v1/institutions/{institution_id}/policy", dist.AdoptDistributionPolicy, roles=INSTITUTIONS,
    summary="Adopt a version of the institution's distribution policy (收益分配办法)",
    description="`If-Match` carries the policy's version (`0` before the first adoption).",
    target=PathTarget("institution_id", Institution, version_of=_policy_version), scope=_own_institution,
    response=PolicyAdopted, tags=TAGS,
)
command_route(
    routes, "/v1/deductions", dist.RecordDeduction, roles=INSTITUTIONS,
    summary="Record a deduction (a cost against a contract or an achievement)",
    description="`id` in the answer is the income book of the subject and institution. A deduction after "
    "the last allocation adjusts that distribution (`adjusted_distribution_id`).",
    scope=_deducts, response=DeductionRecorded, send_etag=False, tags=TAGS,
)
command_route(
    routes, "/v1/distributions", dist.AllocateReceipt, roles=INSTITUTIONS,
    summary="Allocate a receipt's net income by the policy in force (收益分配)",
    description="An institution's token allocates receipts of contracts where it is the lead seller.",
    scope=_allocates, response=ReceiptAllocated, location="/v1/distributions/{id}", tags=TAGS,
)
_distribution = PathTarget("distribution_id", IncomeDistribution)
command_route(routes, "/v1/distributions/{distribution_id}/payments", dist.PayAward, roles=INSTITUTIONS,
              summary="Pay an award from a distribution line", target=_distribution, scope=_distributor,
              response=AwardPaid, tags=TAGS)
command_route(routes, "/v1/distributions/{distribution_id}/notices", dist.PublishAwardNotice,
              roles=INSTITUTIONS, summary="Publish the notice of award recipients (公示)",
              target=_distribution, scope=_distributor, response=Written, tags=TAGS)
command_route(routes, "/v1/equity-holdings/{holding_id}/policy-awards", dist.AwardSharesByPolicy,
              roles=INSTITUTIONS, summary="Award the inventors their shares as the policy splits them",
              target=PathTarget("holding_id", EquityHolding), scope=holder, response=SharesAwardedByPolicy,
              tags=TAGS)
command_route(routes, "/v1/self-implementations/{self_implementation_id}/awards",
              dist.AllocateSelfImplementationAward, roles=INSTITUTIONS,
              summary="Award the inventors a share of a year's operating profit",
              target=PathTarget("self_implementation_id", SelfImplementation), scope=implementer,
              response=SelfImplementationAwarded, tags=TAGS)



async def _offsets(who: Principal, uow: UnitOfWork, cmd: dist.OffsetRecovery,
                   distribution: IncomeDistribution) -> None:
    """Both distributions are the token's institution's (the later one is a body reference)."""
    await _distributor(who, uow, cmd, distribution)
    try:
        against = await uow.get(IncomeDistribution, cmd.against_distribution_id)
    except AggregateNotFound:
        raise missing_reference(IncomeDistribution, cmd.against_distribution_id,
                                "against_distribution_id") from None
    if not acts_for(who, against.institution_id):
        raise missing_reference(IncomeDistribution, cmd.against_distribution_id, "against_distribution_id")


command_route(
    routes, "/v1/deductions/reversals", dist.ReverseDeduction, roles=INSTITUTIONS,
    summary="Reverse a deduction recorded in error (冲销扣除项)",
    description="Names the deduction's `reference` in the income book of `subject_id` and a `reason`; "
    "recorded once. If a distribution used the deduction, it is adjusted with delta lines (net income "
    "rises by the amount; `adjusted_distribution_id`, `delta_fen`); if unused, it just stops counting.",
    scope=_deducts, response=DeductionReversed, send_etag=False, tags=TAGS,
)
command_route(
    routes, "/v1/distributions/{distribution_id}/recoveries/repayments", dist.RecordRecovery,
    roles=INSTITUTIONS, summary="Record an overpaid award paid back (多付奖励退回)",
    description="Settles (part of) the recovery outstanding on line `key`, raised when an adjustment "
    "left the line paid beyond its allocation.",
    target=_distribution, scope=_distributor, response=RecoveryWritten, tags=TAGS,
)
command_route(
    routes, "/v1/distributions/{distribution_id}/recoveries/offsets", dist.OffsetRecovery,
    roles=INSTITUTIONS, summary="Offset an overpaid award against a later award (多付奖励抵扣)",
    description="Withholds (part of) the recovery outstanding on line `key` from the unpaid award of "
    "the same line in `against_distribution_id` (same institution): that award counts as paid by the "
    "offset, no cash moves.",
    target=_distribution, scope=_offsets, response=RecoveryWritten, tags=TAGS,
)


@routes.get("/v1/institutions/{institution_id}/policy", roles=READERS, path_params=path_model("institution_id"),
            query=ReadQuery, response=PolicyView, tags=TAGS)
async def get_policy(call: Call[None, ReadQuery]) -> Reply[PolicyView]:
    """The institution's distribution policy, every version (404 before the first adoption)."""
    institution_id: UUID = call.path.institution_id
    who = call.principal
    if who.role is Role.INSTITUTION and not acts_for(who, institution_id):
        raise hidden(DistributionPolicy, policy_id_for(institution_id))
    policy = await load_for_read(call, DistributionPolicy, policy_id_for(institution_id))
    return read_reply(policy_view(policy, redact=redacts(call)), policy.version)


@routes.get("/v1/distributions/{distribution_id}", roles=READERS, path_params=path_model("distribution_id"),
            query=AsOfQuery, response=DistributionView, tags=TAGS)
async def get_distribution(call: Call[None, AsOfQuery]) -> Reply[DistributionView]:
    """A distribution: allocation lines, paid and unpaid, deadline and tax-relief status as of a date.

    A regulator's token sees inventors as `#1`, `#2`, ... in the order of the team, and ids,
    references and labels a recorder typed as pseudonyms `p-` + 8 hex digits (see docs/api.md).
    """
    distribution = await load_for_read(call, IncomeDistribution, call.path.distribution_id)
    repository = call.ledger.repository
    try:
        contract = await repository.get(TechnologyContract, distribution.contract_id)
        registered = contract.registration is not None
    except AggregateNotFound:  # pragma: no cover - a distribution always has its contract
        registered = False
    view = distribution_view(distribution, as_of(call.query), contract_registered=registered,
                             redact=redacts(call))
    return read_reply(view, distribution.version)


__all__ = ["DistributionView", "PolicyView", "routes"]
