"""Commands on equity contributions (作价投资) and self-implementation (自行实施)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.achievement import Achievement
from domain.contract import TechnologyContract
from domain.equity import Company, DecisionRecord, EquityHolding, EquityValuation
from domain.institution import Institution
from domain.self_implementation import SelfImplementation
from domain.services import open_equity_holding, start_self_implementation
from ledger.commands.base import Command, Result, existing, fields_of, handler, written
from ledger.unit_of_work import UnitOfWork


class RecordEquityContribution(Command):
    contract_id: UUID
    institution_id: UUID
    company: Company
    valuation: EquityValuation
    registered_capital_fen: int
    shares_received: int
    total_shares: int
    contributed_on: date
    id: UUID | None = None


class HoldingCommand(Command):
    holding_id: UUID


class AwardShares(HoldingCommand):
    inventor: str
    shares: int
    awarded_on: date


class ReceiveDividend(HoldingCommand):
    dividend_id: str
    amount_fen: int
    received_on: date


class RevalueHolding(HoldingCommand):
    new_value_fen: int
    decision: DecisionRecord


class ImpairHolding(HoldingCommand):
    amount_fen: int
    decision: DecisionRecord


class RecordDilution(HoldingCommand):
    new_total_shares: int
    on: date
    reason: str


class SellShares(HoldingCommand):
    sale_id: str
    shares: int
    proceeds_fen: int
    buyer: str
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
    year: int
    profit_fen: int
    reported_on: date


class CorrectProfit(SelfImplementationCommand):
    year: int
    profit_fen: int
    corrected_on: date
    reason: str


class StopSelfImplementation(SelfImplementationCommand):
    on: date
    reason: str


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
    RevalueHolding: "revalue",
    ImpairHolding: "impair",
    RecordDilution: "record_dilution",
    SellShares: "sell_shares",
}


def _on_holding(method: str):  # type: ignore[no-untyped-def]
    async def handle(cmd: HoldingCommand, uow: UnitOfWork) -> Result:
        holding = await uow.get(EquityHolding, cmd.holding_id)
        getattr(holding, method)(**fields_of(cmd, "holding_id"))
        return written(holding, shares_held=holding.shares_held)

    handle.__name__ = method
    return handle


for _command, _method in _HOLDING_METHODS.items():
    handler(_command)(_on_holding(_method))


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


def _on_self(method: str):  # type: ignore[no-untyped-def]
    async def handle(cmd: SelfImplementationCommand, uow: UnitOfWork) -> Result:
        implementation = await uow.get(SelfImplementation, cmd.self_implementation_id)
        getattr(implementation, method)(**fields_of(cmd, "self_implementation_id"))
        return written(implementation)

    handle.__name__ = method
    return handle


for _self_command, _self_method in _SELF_METHODS.items():
    handler(_self_command)(_on_self(_self_method))
