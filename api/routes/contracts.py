"""Technology contracts (技术合同): lifecycle, registration, money, UFPL (``/v1/contracts``)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.commands import (
    ContractMoneyWritten,
    CreditAppliedWritten,
    PathTarget,
    Written,
    command_route,
    path_model,
)
from api.routes.common import ALL_READERS, AsOfQuery, as_of, load_for_read, read_reply
from api.routing import Call, Reply, RouteRegistry
from api.tenancy import (
    handled_by_exchange,
    hidden,
    is_party,
    out_of_scope,
    require_one_of,
    sees_contract,
)
from domain.contract import TechnologyContract
from domain.contract_money import RiskEvent, RoyaltyReport
from domain.contract_state import ContractStatus
from domain.contract_terms import ContractTerms, Registration
from domain.enums import ContractKind
from domain.settlement import DueKind, view
from domain.ufpl import RevenueReport, UfplStage
from ledger.commands import Command
from ledger.commands import contract as con
from ledger.tokens import Principal, Role
from ledger.unit_of_work import UnitOfWork

routes = RouteRegistry()
TAGS = ("contracts",)
WRITERS = {Role.ADMIN, Role.INSTITUTION, Role.OPERATOR}

BUYER_COMMANDS: frozenset[type[Command]] = frozenset[type[Command]]((con.ReportRoyalty, con.ReportLicenseeRevenue))
"""What the buyer (licensee) records itself: its royalty base and its revenue. The rest is the seller's."""


# ---- views ------------------------------------------------------------------------------------


class DueItemView(BaseModel):
    item_id: str
    kind: DueKind
    label: str
    amount_fen: int
    due_on: date = Field(description="The current due date (after deferrals).")
    originally_due_on: date
    paid_fen: int
    written_off_fen: int
    cancelled_fen: int = Field(default=0, description="Cancelled by the contract's end: it was not yet due "
                               "(民法典 第566条).")
    outstanding_fen: int
    overdue: bool = Field(description="Outstanding and due before `as_of`.")


class OpenItemView(BaseModel):
    item_id: str
    kind: DueKind
    label: str
    due_on: date
    amount_fen: int
    outstanding_fen: int


class CreditView(BaseModel):
    credit_id: str
    amount_fen: int


class ReceiptView(BaseModel):
    receipt_id: str = Field(description="Payment or insurance claim id, or `credit-<n>` for a credit applied; "
                            "income distribution allocates each once.")
    amount_fen: int
    received_on: date = Field(description="The day the income was received; for a credit applied, the day "
                              "it was applied (the 36-month award deadline counts from it).")
    credit_id: str | None = Field(default=None, description="For a credit applied: the credit (the payment "
                                  "that was held as credit).")


class ContractView(BaseModel):
    id: UUID
    version: int
    as_of: date
    kind: ContractKind
    title: str
    status: ContractStatus
    seller_ids: list[UUID]
    buyer_id: UUID
    achievement_ids: list[UUID]
    currency: str
    contract_value_fen: int = Field(description="合同成交额.")
    transaction_value_fen: int = Field(description="技术交易额.")
    registered_value_fen: int | None = Field(description="登记额: the approved value, once registered.")
    terms: ContractTerms
    drafted_on: date
    signed_on: date | None
    effective_on: date | None
    ended_on: date | None
    end_reason: str | None
    registration: Registration | None
    registration_history: list[Registration]
    due_items: list[DueItemView]
    open_items: list[OpenItemView]
    outstanding_fen: int = Field(description="Outstanding on `as_of` on every item that had arisen by then, "
                                 "whatever its due date.")
    outstanding_due_fen: int = Field(description="Outstanding on `as_of` on items due by `as_of`.")
    overdue_items: list[OpenItemView] = Field(description="Outstanding items due before `as_of`.")
    overdue_fen: int
    credits: list[CreditView]
    receipts: list[ReceiptView]
    royalty_reports: list[RoyaltyReport]
    milestones_reached: dict[str, date]
    ufpl_stage: UfplStage | None
    revenue_reports: list[RevenueReport]
    risk_events: list[RiskEvent]


def _open(item: Any) -> OpenItemView:
    return OpenItemView(item_id=item.item_id, kind=item.kind, label=item.label, due_on=item.due_on,
                        amount_fen=item.amount_fen, outstanding_fen=item.outstanding_fen)


def contract_view(c: TechnologyContract, on: date) -> ContractView:
    """The contract as it stood on business date ``on``: the items that had arisen by then, with
    the payments, write-offs, cancellations and deferrals dated on or before it, its status and
    stage on that date, and the receipts, reports, milestones and risk events dated by then
    (credits are those held now; terms and registration are the latest)."""
    then = c.settlement.on(on)
    due = [
        DueItemView(
            item_id=s.item.item_id, kind=s.item.kind, label=s.item.label, amount_fen=s.item.amount_fen,
            due_on=s.due_on, originally_due_on=s.item.due_on, paid_fen=s.paid_fen,
            written_off_fen=s.written_off_fen, cancelled_fen=s.cancelled_fen,
            outstanding_fen=s.outstanding_fen, overdue=s.outstanding_fen > 0 and s.due_on < on,
        )
        for s in then
    ]
    open_states = sorted((s for s in then if s.outstanding_fen > 0), key=lambda s: s.due_on)
    open_items = [_open(view(s)) for s in open_states]
    overdue = [i for i in open_items if i.due_on < on]
    return ContractView(
        id=c.id, version=c.version, as_of=on, kind=c.kind, title=c.terms.title, status=c.status_on(on),
        seller_ids=list(c.terms.seller_ids), buyer_id=c.terms.buyer_id,
        achievement_ids=list(c.terms.achievement_ids), currency=c.currency,
        contract_value_fen=c.contract_value_fen, transaction_value_fen=c.transaction_value_fen,
        registered_value_fen=c.registered_value_fen, terms=c.terms, drafted_on=c.drafted_on,
        signed_on=c.signed_on, effective_on=c.effective_on, ended_on=c.ended_on, end_reason=c.end_reason,
        registration=c.registration, registration_history=list(c.registration_history),
        due_items=due, open_items=open_items,
        outstanding_fen=sum(i.outstanding_fen for i in open_items),
        outstanding_due_fen=sum(i.outstanding_fen for i in open_items if i.due_on <= on),
        overdue_items=overdue, overdue_fen=sum(i.outstanding_fen for i in overdue),
        credits=[CreditView(credit_id=k, amount_fen=v) for k, v in c.credits.items()],
        receipts=[ReceiptView(receipt_id=k, amount_fen=v[0], received_on=v[1], credit_id=c.credit_receipts.get(k))
                  for k, v in c.receipts.items() if v[1] <= on],
        royalty_reports=[r for r in c.royalty_reports if r.reported_on <= on],
        milestones_reached={k: v for k, v in c.milestones_reached.items() if v <= on},
        ufpl_stage=c.ufpl_stage_on(on), revenue_reports=[r for r in c.revenue_reports if r.reported_on <= on],
        risk_events=[r for r in c.risk_events if r.on <= on],
    )


# ---- tenancy ------------------------------------------------------------------------------------


async def _check_terms(who: Principal, uow: UnitOfWork, terms: ContractTerms) -> None:
    """New terms keep the contract in the token's hands: a seller, or a listed achievement."""
    if who.role is Role.INSTITUTION:
        require_one_of(who, terms.seller_ids, "among the sellers (terms.seller_ids)")
    elif who.role is Role.OPERATOR and not await handled_by_exchange(who, terms.achievement_ids, uow.get):
        raise out_of_scope(who, "none of the contract's achievements was listed on this exchange "
                                f"({who.institution_id})", f"合同的成果均未在本交易所（{who.institution_id}）挂牌")


async def _drafts(who: Principal, uow: UnitOfWork, cmd: con.DraftContract, _: None) -> None:
    await _check_terms(who, uow, cmd.terms)


async def _party(who: Principal, uow: UnitOfWork, cmd: Any, contract: TechnologyContract) -> None:
    if not await sees_contract(who, contract, uow.get):
        raise hidden(TechnologyContract, contract.id)
    seller = who.institution_id in contract.terms.seller_ids
    buyer_may = is_party(who, contract) and type(cmd) in BUYER_COMMANDS
    if who.role is Role.INSTITUTION and not seller and not buyer_may:
        raise out_of_scope(who, "the buyer records only royalty reports and licensee revenue; "
                                "the rest is recorded by a seller",
                           "买方只记录提成报告和被许可方营收，其余由卖方记录")
    if isinstance(cmd, con.AmendTerms):
        await _check_terms(who, uow, cmd.terms)


command_route(
    routes, "/v1/contracts", con.DraftContract, roles=WRITERS, summary="Draft a contract",
    description="An institution's token must be among `terms.seller_ids`; an exchange's token drafts "
    "contracts covering an achievement listed on its exchange.",
    scope=_drafts, location="/v1/contracts/{id}", tags=TAGS,
)
_target = PathTarget("contract_id", TechnologyContract)
_COMMANDS: list[tuple[str, type[Command], str, type[Written]]] = [
    ("terms", con.AmendTerms, "Amend the terms of a draft", Written),
    ("signature", con.SignContract, "Record the signing", ContractMoneyWritten),
    ("registration", con.RegisterContract, "Record the registration (认定登记)", ContractMoneyWritten),
    ("registration-corrections", con.CorrectRegistration, "Record a correction of the registration (补正)",
     ContractMoneyWritten),
    ("correction-requests", con.RequestRegistrationCorrection,
     "Record the registry's request for a correction (补正)", ContractMoneyWritten),
    ("effect", con.TakeEffect, "The contract takes effect (encumbers its achievements)", Written),
    ("end", con.EndContract, "Complete, terminate, expire or return the licence", Written),
    ("royalty-reports", con.ReportRoyalty, "Report a royalty base for a period", ContractMoneyWritten),
    ("minimum-royalty-top-ups", con.TopUpMinimumRoyalty, "Top up to the minimum annual royalty",
     ContractMoneyWritten),
    ("milestones", con.ReachMilestone, "Record a milestone reached", ContractMoneyWritten),
    ("payments", con.RecordPayment, "Record a payment received", ContractMoneyWritten),
    ("credit-applications", con.ApplyCredit, "Apply a held credit to due items (it becomes an income receipt)",
     CreditAppliedWritten),
    ("credit-refunds", con.RefundCredit, "Refund a held credit", ContractMoneyWritten),
    ("deferrals", con.DeferDueItems, "Defer due items (延期支付), with approval", ContractMoneyWritten),
    ("write-offs", con.WriteOff, "Write off a due item (核销), with approval", ContractMoneyWritten),
    ("licensee-revenue", con.ReportLicenseeRevenue, "Report the licensee's revenue (UFPL)",
     ContractMoneyWritten),
    ("paid-terms", con.RenegotiatePaidTerms, "Renegotiate the paid terms of a UFPL licence",
     ContractMoneyWritten),
    ("conversion", con.ConvertToPaid, "Convert a UFPL licence to paid", ContractMoneyWritten),
    ("defaults", con.RecordDefault, "Record the licensee's default", ContractMoneyWritten),
    ("credit-reports", con.RecordCreditReport, "Record a credit report filed", ContractMoneyWritten),
    ("insurance-compensations", con.RecordInsuranceCompensation,
     "Record compensation the insurer paid first (先行赔付)", ContractMoneyWritten),
]
for _path, _command, _summary, _response in _COMMANDS:
    command_route(routes, f"/v1/contracts/{{contract_id}}/{_path}", _command, roles=WRITERS, summary=_summary,
                  target=_target, scope=_party, response=_response, tags=TAGS)


@routes.get("/v1/contracts/{contract_id}", roles=ALL_READERS, path_params=path_model("contract_id"),
            query=AsOfQuery, response=ContractView, tags=TAGS)
async def get_contract(call: Call[None, AsOfQuery]) -> Reply[ContractView]:
    """A contract with its due items, open and overdue items as of a date, credits and registrations.

    A regulator's token sees registered contracts (认定登记) only, with the ids, milestone names and
    parties a recorder typed as pseudonyms `p-` + 8 hex digits, and no notes (see docs/api.md).
    """
    contract = await load_for_read(call, TechnologyContract, call.path.contract_id)
    return read_reply(contract_view(contract, as_of(call.query)), contract.version)


__all__ = ["BUYER_COMMANDS", "ContractView", "contract_view", "routes"]
