"""Commands on technology contracts (技术合同): lifecycle, money, use-first-pay-later.

A payment's path, for a newcomer: ``RecordPayment`` (validated by pydantic,
over HTTP too) → ``record_payment`` below → ``TechnologyContract.record_payment``
checks the rules and records ``PaymentReceived`` with its allocation →
``ledger/posting_rules.py`` posts Dr cash / Cr receivable in the same
transaction → the projections turn it into "cash received" statistics.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.achievement import Achievement
from domain.contract import TechnologyContract
from domain.contract_terms import ContractTerms, Registration
from domain.inputs import ContractYear, DueItemRef, Fen, Identifier, Label, Name, Note, items
from domain.institution import Institution
from domain.payment_terms import PaymentTerms
from domain.services import ContractEnd, end_contract
from domain.services import take_effect as take_effect_service
from domain.settlement import KeptItem, Overpayment
from ledger.commands.base import Command, Result, existing, handler, method_commands, under, written
from ledger.unit_of_work import UnitOfWork


class DraftContract(Command):
    terms: ContractTerms
    drafted_on: date
    id: UUID | None = None


class ContractCommand(Command):
    contract_id: UUID


class AmendTerms(ContractCommand):
    terms: ContractTerms
    amended_on: date


class SignContract(ContractCommand):
    on: date


class RegisterContract(ContractCommand):
    registration: Registration


class CorrectRegistration(ContractCommand):
    registration: Registration
    corrected_on: date
    reason: Note


class RequestRegistrationCorrection(ContractCommand):
    """The registry's request for a correction (补正): it waits in the work queue until the
    registration, or a correction of it, is recorded."""

    requested_on: date
    reason: Note


class TakeEffect(ContractCommand):
    on: date


class KeptItemInput(BaseModel):
    """An amount the ending names as still owed (agreed compensation, liquidated damages)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Label = Field(description="The kept item's name, which becomes its due item id.")
    amount_fen: Fen
    due_on: date


class EndContract(ContractCommand):
    """End a contract. Items not yet due on ``on`` are cancelled (民法典 第566条) unless
    ``kept`` names amounts still owed (termination or expiry only)."""

    end: ContractEnd
    on: date
    reason: Note = ""
    kept: Annotated[list[KeptItemInput], items(20)] = []


class ReportRoyalty(ContractCommand):
    period_start: date
    period_end: date
    base_fen: Fen
    reported_on: date


class TopUpMinimumRoyalty(ContractCommand):
    contract_year: ContractYear
    on: date


class ReachMilestone(ContractCommand):
    name: Label
    on: date


class RecordPayment(ContractCommand):
    payment_id: Identifier
    amount_fen: Fen
    received_on: date
    due_item_id: DueItemRef | None = None
    overpayment: Overpayment = Overpayment.reject
    payer: Name | None = None


class ApplyCredit(ContractCommand):
    credit_id: Identifier
    on: date
    due_item_id: DueItemRef | None = None


class RefundCredit(ContractCommand):
    credit_id: Identifier
    amount_fen: Fen
    on: date
    reference: Identifier


class DeferDueItems(ContractCommand):
    new_due_dates: Annotated[dict[DueItemRef, date], items()]
    approver: Name
    reason: Note
    decided_on: date


class WriteOff(ContractCommand):
    due_item_id: DueItemRef
    approver: Name
    reason: Note
    on: date


class ReportLicenseeRevenue(ContractCommand):
    period_start: date
    period_end: date
    revenue_fen: Fen
    reported_on: date


class RenegotiatePaidTerms(ContractCommand):
    payment_terms: PaymentTerms
    agreed_on: date


class ConvertToPaid(ContractCommand):
    on: date


class RecordDefault(ContractCommand):
    on: date
    description: Note


class RecordCreditReport(ContractCommand):
    agency: Name
    reported_on: date
    content_ref: Identifier


class RecordInsuranceCompensation(ContractCommand):
    claim_id: Identifier
    insurer: Name
    amount_fen: Fen
    paid_on: date
    due_item_id: DueItemRef | None = None


async def _parties_exist(uow: UnitOfWork, terms: ContractTerms) -> None:
    for i, seller in enumerate(terms.seller_ids):
        await existing(uow, Institution, seller, f"terms.seller_ids[{i}]")
    await existing(uow, Institution, terms.buyer_id, "terms.buyer_id")
    for i, achievement_id in enumerate(terms.achievement_ids):
        await existing(uow, Achievement, achievement_id, f"terms.achievement_ids[{i}]")


@handler(DraftContract)
async def draft_contract(cmd: DraftContract, uow: UnitOfWork) -> Result:
    await _parties_exist(uow, cmd.terms)
    with under("terms"):
        contract = TechnologyContract.draft(terms=cmd.terms, drafted_on=cmd.drafted_on, id=cmd.id)
    uow.add(contract)
    return written(contract)


@handler(AmendTerms)
async def amend_terms(cmd: AmendTerms, uow: UnitOfWork) -> Result:
    await _parties_exist(uow, cmd.terms)
    contract = await uow.get(TechnologyContract, cmd.contract_id)
    with under("terms"):
        contract.amend_terms(cmd.terms, cmd.amended_on)
    return written(contract)


async def _covered(uow: UnitOfWork, contract: TechnologyContract) -> dict[UUID, Achievement]:
    return {a: await uow.get(Achievement, a) for a in contract.terms.achievement_ids}


@handler(TakeEffect)
async def take_effect(cmd: TakeEffect, uow: UnitOfWork) -> Result:
    """Multi-aggregate: the contract takes effect and encumbers its achievements, atomically."""
    contract = await uow.get(TechnologyContract, cmd.contract_id)
    sellers = [await uow.get(Institution, s) for s in contract.terms.seller_ids]
    take_effect_service(contract, await _covered(uow, contract), any(s.public for s in sellers), cmd.on)
    return written(contract)


@handler(EndContract)
async def end(cmd: EndContract, uow: UnitOfWork) -> Result:
    contract = await uow.get(TechnologyContract, cmd.contract_id)
    kept = [KeptItem(k.name, k.amount_fen, k.due_on) for k in cmd.kept]
    end_contract(contract, await _covered(uow, contract), cmd.end, cmd.on, cmd.reason, kept)
    return written(contract)


@handler(ApplyCredit)
async def apply_credit(cmd: ApplyCredit, uow: UnitOfWork) -> Result:
    """The credit applied is income: the answer names its receipt (``credit-<n>``) for ``AllocateReceipt``."""
    contract = await uow.get(TechnologyContract, cmd.contract_id)
    receipt_id = contract.apply_credit(cmd.credit_id, cmd.on, cmd.due_item_id)
    return written(contract, outstanding_fen=contract.outstanding_fen(), receipt_id=receipt_id)


# Commands that call one contract method with the command's own fields.
_METHODS: dict[type[ContractCommand], str] = {
    SignContract: "sign",
    RegisterContract: "register",
    CorrectRegistration: "correct_registration",
    RequestRegistrationCorrection: "request_registration_correction",
    ReportRoyalty: "report_royalty",
    TopUpMinimumRoyalty: "top_up_minimum_royalty",
    ReachMilestone: "reach_milestone",
    RecordPayment: "record_payment",
    RefundCredit: "refund_credit",
    DeferDueItems: "defer_due_items",
    WriteOff: "write_off",
    ReportLicenseeRevenue: "report_licensee_revenue",
    RenegotiatePaidTerms: "renegotiate_paid_terms",
    ConvertToPaid: "convert_to_paid",
    RecordDefault: "record_default",
    RecordCreditReport: "record_credit_report",
    RecordInsuranceCompensation: "record_insurance_compensation",
}


method_commands(TechnologyContract, "contract_id", _METHODS,
                extra=lambda contract: {"outstanding_fen": contract.outstanding_fen()})
