"""Equity contributions (作价投资) and self-implementation (自行实施).

``/v1/equity-holdings`` and ``/v1/self-implementations``. Awards from them
(shares to inventors by policy, a share of operating profit) are in
``api/routes/distribution.py`` with the other distribution commands.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.commands import AwardPaid, HoldingWritten, PathTarget, Written, command_route, path_model
from api.redaction import names_for
from api.routes.common import ALL_READERS, ReadQuery, load_for_read, read_reply, redacts
from api.routing import Call, Reply, RouteRegistry
from api.tenancy import (
    acts_for,
    hidden,
    load_referenced,
    out_of_scope,
    require_acting_for,
    sees_holding,
    sees_self_implementation,
)
from domain.achievement import Achievement
from domain.contract import TechnologyContract
from domain.equity import Company, DecisionRecord, EquityHolding, EquityValuation
from domain.self_implementation import ProfitReport, SelfImplementation
from ledger.commands import Command
from ledger.commands import equity as eq
from ledger.tokens import Principal, Role
from ledger.unit_of_work import UnitOfWork

routes = RouteRegistry()
TAGS = ("equity",)
SELF_TAGS = ("self-implementation",)
INSTITUTIONS = {Role.ADMIN, Role.INSTITUTION}


# ---- views ------------------------------------------------------------------------------------


class ShareAwardView(BaseModel):
    inventor: str = Field(description="The inventor's name; `#n` for a regulator's token.")
    shares: int
    awarded_on: date


class HoldingView(BaseModel):
    id: UUID
    version: int
    contract_id: UUID
    institution_id: UUID
    achievement_ids: list[UUID]
    company: Company
    valuation: EquityValuation
    currency: str
    registered_capital_fen: int
    shares_received: int
    shares_held: int
    total_shares: int
    holding_percent: Decimal
    contributed_on: date
    carrying_value_fen: int
    awards: list[ShareAwardView]
    awarded_shares: int
    dividends_fen: int
    cashed_in_fen: int = Field(description="Cash actually received from selling shares (AUTM cashed-in equity).")
    shares_sold: int
    decisions: list[DecisionRecord]


def holding_view(h: EquityHolding, *, redact: bool) -> HoldingView:
    names = names_for(redact)
    return HoldingView(
        id=h.id, version=h.version, contract_id=h.contract_id, institution_id=h.institution_id,
        achievement_ids=list(h.achievement_ids), company=h.company, valuation=h.valuation, currency=h.currency,
        registered_capital_fen=h.registered_capital_fen, shares_received=h.shares_received,
        shares_held=h.shares_held, total_shares=h.total_shares, holding_percent=h.holding_percent,
        contributed_on=h.contributed_on, carrying_value_fen=h.carrying_value_fen,
        awards=[ShareAwardView(inventor=names(a.inventor), shares=a.shares, awarded_on=a.awarded_on)
                for a in h.awards],
        awarded_shares=h.awarded_shares, dividends_fen=h.dividends_fen, cashed_in_fen=h.cashed_in_fen,
        shares_sold=h.shares_sold, decisions=list(h.decisions),
    )


class SelfAwardLine(BaseModel):
    inventor: str = Field(description="The inventor's name; `#n` for a regulator's token.")
    amount_fen: int


class SelfAwardPaymentView(BaseModel):
    payment_id: str
    inventor: str = Field(description="The inventor's name; `#n` for a regulator's token.")
    amount_fen: int
    paid_on: date
    within_deadline: bool = Field(description="Paid within 36 months of the allocation (财税〔2018〕58号).")


class SelfAwardView(BaseModel):
    year: int
    profit_fen: int
    award_fen: int
    percent: Decimal
    lines: list[SelfAwardLine]
    pack_id: str
    pack_version: str
    allocated_on: date
    deadline_on: date | None = Field(default=None, description="36 months after the allocation (财税〔2018〕58号).")
    paid_fen: int = 0
    payments: list[SelfAwardPaymentView] = []


class SelfImplementationView(BaseModel):
    id: UUID
    version: int
    institution_id: UUID
    achievement_id: UUID
    partner_id: UUID | None
    started_on: date
    stopped_on: date | None
    stop_reason: str | None
    profit_by_year: dict[int, int]
    first_profitable_year: int | None
    report_history: list[ProfitReport]
    awards: list[SelfAwardView]


def self_implementation_view(s: SelfImplementation, *, redact: bool) -> SelfImplementationView:
    names = names_for(redact)
    return SelfImplementationView(
        id=s.id, version=s.version, institution_id=s.institution_id, achievement_id=s.achievement_id,
        partner_id=s.partner_id, started_on=s.started_on, stopped_on=s.stopped_on, stop_reason=s.stop_reason,
        profit_by_year=s.profit_by_year, first_profitable_year=s.first_profitable_year,
        report_history=list(s.report_history),
        awards=[SelfAwardView(year=a.year, profit_fen=a.profit_fen, award_fen=a.award_fen, percent=a.percent,
                              lines=[SelfAwardLine(inventor=names(n), amount_fen=f) for n, f in a.lines],
                              pack_id=a.pack_id, pack_version=a.pack_version, allocated_on=a.allocated_on,
                              deadline_on=a.deadline_on,
                              paid_fen=sum(p.amount_fen for p in s.award_payments if p.year == a.year),
                              payments=[SelfAwardPaymentView(payment_id=p.payment_id, inventor=names(p.inventor),
                                                             amount_fen=p.amount_fen, paid_on=p.paid_on,
                                                             within_deadline=p.within_deadline)
                                        for p in s.award_payments if p.year == a.year])
                for a in s.awards],
    )


# ---- tenancy ------------------------------------------------------------------------------------


async def _contributes(who: Principal, uow: UnitOfWork, cmd: eq.RecordEquityContribution, _: None) -> None:
    await load_referenced(who, TechnologyContract, cmd.contract_id, "contract_id", uow.get)


def _for_itself(who: Principal, cmd: Any) -> None:
    require_acting_for(who, cmd.institution_id, "the command's institution_id")


async def holder(who: Principal, uow: UnitOfWork, cmd: Any, holding: EquityHolding) -> None:
    if not sees_holding(who, holding):
        raise hidden(EquityHolding, holding.id)


async def _starts(who: Principal, uow: UnitOfWork, cmd: eq.StartSelfImplementation, _: None) -> None:
    await load_referenced(who, Achievement, cmd.achievement_id, "achievement_id", uow.get)


async def implementer(who: Principal, uow: UnitOfWork, cmd: Any, implementation: SelfImplementation) -> None:
    if not sees_self_implementation(who, implementation):
        raise hidden(SelfImplementation, implementation.id)
    if not acts_for(who, implementation.institution_id):
        raise out_of_scope(who, "the partner sees a cooperative implementation; the institution records it",
                           "合作方只能查看合作实施，由本单位记录")


command_route(
    routes, "/v1/equity-holdings", eq.RecordEquityContribution, roles=INSTITUTIONS,
    summary="Record an equity contribution (作价投资) and open the holding",
    description="An institution's token records contributions of its own (`institution_id`) under a "
    "contract it is party to.",
    precheck=_for_itself, scope=_contributes, location="/v1/equity-holdings/{id}", tags=TAGS,
)
_holding = PathTarget("holding_id", EquityHolding)
_HOLDING_COMMANDS: list[tuple[str, type[Command], str]] = [
    ("share-awards", eq.AwardShares, "Award shares to an inventor (奖励股权)"),
    ("dividends", eq.ReceiveDividend, "Record a dividend received"),
    ("contribution-decision", eq.RecordContributionDecision,
     "Record the collective decision (集体决策) behind the contribution"),
    ("revaluations", eq.RevalueHolding, "Revalue the holding, with the decision record (尽职免责)"),
    ("impairments", eq.ImpairHolding, "Impair the holding, with the decision record"),
    ("dilutions", eq.RecordDilution, "Record a dilution (new total shares)"),
    ("sales", eq.SellShares, "Record a sale of shares (cashed-in equity)"),
]
for _path, _command, _summary in _HOLDING_COMMANDS:
    command_route(routes, f"/v1/equity-holdings/{{holding_id}}/{_path}", _command, roles=INSTITUTIONS,
                  summary=_summary, target=_holding, scope=holder, response=HoldingWritten, tags=TAGS)

command_route(
    routes, "/v1/self-implementations", eq.StartSelfImplementation, roles=INSTITUTIONS,
    summary="Start self-implementation (自行实施 / 合作实施) of an achievement",
    precheck=_for_itself, scope=_starts, location="/v1/self-implementations/{id}", tags=SELF_TAGS,
)
_implementation = PathTarget("self_implementation_id", SelfImplementation)
_SELF_COMMANDS: list[tuple[str, type[Command], str]] = [
    ("profits", eq.ReportProfit, "Report a year's operating profit"),
    ("profit-corrections", eq.CorrectProfit, "Correct a year's reported profit"),
    ("stop", eq.StopSelfImplementation, "Stop self-implementation"),
]
for _path, _command, _summary in _SELF_COMMANDS:
    command_route(routes, f"/v1/self-implementations/{{self_implementation_id}}/{_path}", _command,
                  roles=INSTITUTIONS, summary=_summary, target=_implementation, scope=implementer,
                  response=Written, tags=SELF_TAGS)
command_route(routes, "/v1/self-implementations/{self_implementation_id}/award-payments",
              eq.PaySelfImplementationAward, roles=INSTITUTIONS,
              summary="Pay (part of) an inventor's self-implementation award of a year",
              description="At most what is allocated to the inventor for the year and not yet paid; "
              "the 36 months of 财税〔2018〕58号 run from the award's allocation date.",
              target=_implementation, scope=implementer, response=AwardPaid, tags=SELF_TAGS)


@routes.get("/v1/equity-holdings/{holding_id}", roles=ALL_READERS - {Role.OPERATOR},
            path_params=path_model("holding_id"), query=ReadQuery, response=HoldingView, tags=TAGS)
async def get_equity_holding(call: Call[None, ReadQuery]) -> Reply[HoldingView]:
    """An equity holding: shares, carrying value, awards, dividends and sales."""
    holding = await load_for_read(call, EquityHolding, call.path.holding_id)
    return read_reply(holding_view(holding, redact=redacts(call)), holding.version)


@routes.get("/v1/self-implementations/{self_implementation_id}", roles=ALL_READERS - {Role.OPERATOR},
            path_params=path_model("self_implementation_id"), query=ReadQuery, response=SelfImplementationView,
            tags=SELF_TAGS)
async def get_self_implementation(call: Call[None, ReadQuery]) -> Reply[SelfImplementationView]:
    """A self-implementation: profit reports and the awards from them."""
    implementation = await load_for_read(call, SelfImplementation, call.path.self_implementation_id)
    return read_reply(self_implementation_view(implementation, redact=redacts(call)), implementation.version)


__all__ = ["holder", "implementer", "routes"]
