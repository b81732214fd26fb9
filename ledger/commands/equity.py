"""Commands on equity contributions (作价投资) and self-implementation (自行实施)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.achievement import Achievement
from domain.contract import TechnologyContract
from domain.equity import Company, DecisionRecord, EquityHolding, EquityValuation
from domain.inputs import CalendarYear, Fen, Identifier, Name, Note, Shares
from domain.institution import Institution
from domain.self_implementation import SelfImplementation
from domain.services import open_equity_holding, start_self_implementation
from ledger.commands.base import (
    Command,
    Result,
    existing,
    fields_of,
    handler,
    method_commands,
    written,
)
from ledger.unit_of_work import UnitOfWork


class RecordEquityContribution(Command):
    contract_id: UUID
    institution_id: UUID
    company: Company
    valuation: EquityValuation
    registered_capital_fen: Fen
    shares_received: Shares
    total_shares: Shares
    contributed_on: date
    id: UUID | None = None


class HoldingCommand(Command):
    holding_id: UUID


class AwardShares(HoldingCommand):
    inventor: Name
    shares: Shares
    awarded_on: date


class ReceiveDividend(HoldingCommand):
    dividend_id: Identifier
    amount_fen: Fen
    received_on: date


class RecordContributionDecision(HoldingCommand):
    """The collective decision (集体决策) behind the contribution, dated on or before it."""

    decision: DecisionRecord


class RevalueHolding(HoldingCommand):
    new_value_fen: Fen
    decision: DecisionRecord


class ImpairHolding(HoldingCommand):
    amount_fen: Fen
    decision: DecisionRecord


class RecordDilution(HoldingCommand):
    new_total_shares: Shares
    on: date
    reason: Note


class SellShares(HoldingCommand):
    sale_id: Identifier
    shares: Shares
    proceeds_fen: Fen
    buyer: Name
    sold_on: date


class StartSelfImplementation(Command):
    achievement_id: UUID
    institution_id: UUID
    started_on: date
    partner_id: UUID | None = None
    id: UUID | None = None


class SelfImplementationCommand(Command):
    self_implementation_id: UUID


class ReportProfit(SelfImplementationCommand):
    year: CalendarYear
    profit_fen: Fen
    reported_on: date


class CorrectProfit(SelfImplementationCommand):
    year: CalendarYear
    profit_fen: Fen
    corrected_on: date
    reason: Note


class StopSelfImplementation(SelfImplementationCommand):
    on: date
    reason: Note


class PaySelfImplementationAward(SelfImplementationCommand):
    """Pay part or all of one inventor's line of one year's self-implementation award."""

    year: CalendarYear
    inventor: Name
    amount_fen: Fen
    paid_on: date
    payment_id: Identifier


@handler(RecordEquityContribution)
async def record_equity_contribution(cmd: RecordEquityContribution, uow: UnitOfWork) -> Result:
    contract = await existing(uow, TechnologyContract, cmd.contract_id, "contract_id")
    await existing(uow, Institution, cmd.institution_id, "institution_id")
    holding = open_equity_holding(contract, **fields_of(cmd, "contract_id"))
    uow.add(holding)
    return written(holding)


_HOLDING_METHODS: dict[type[HoldingCommand], str] = {
    AwardShares: "award_shares",
    ReceiveDividend: "receive_dividend",
    RecordContributionDecision: "record_contribution_decision",
    RevalueHolding: "revalue",
    ImpairHolding: "impair",
    RecordDilution: "record_dilution",
    SellShares: "sell_shares",
}


method_commands(EquityHolding, "holding_id", _HOLDING_METHODS,
                extra=lambda holding: {"shares_held": holding.shares_held})


@handler(StartSelfImplementation)
async def start(cmd: StartSelfImplementation, uow: UnitOfWork) -> Result:
    achievement = await existing(uow, Achievement, cmd.achievement_id, "achievement_id")
    await existing(uow, Institution, cmd.institution_id, "institution_id")
    if cmd.partner_id is not None:
        await existing(uow, Institution, cmd.partner_id, "partner_id")
    implementation = start_self_implementation(achievement, **fields_of(cmd, "achievement_id"))
    uow.add(implementation)
    return written(implementation)


_SELF_METHODS: dict[type[SelfImplementationCommand], str] = {
    ReportProfit: "report_profit",
    CorrectProfit: "correct_profit",
    StopSelfImplementation: "stop",
}


method_commands(SelfImplementation, "self_implementation_id", _SELF_METHODS)


@handler(PaySelfImplementationAward)
async def pay_self_implementation_award(cmd: PaySelfImplementationAward, uow: UnitOfWork) -> Result:
    implementation = await uow.get(SelfImplementation, cmd.self_implementation_id)
    implementation.pay_award(cmd.year, cmd.inventor, cmd.amount_fen, cmd.paid_on, cmd.payment_id)
    return written(implementation, unpaid_fen=implementation.unpaid_fen(cmd.year, cmd.inventor))
