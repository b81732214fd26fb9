"""Equity contribution (作价投资): the institution's shareholding that a contribution created.

Decision: the shares are an ``EquityHolding`` aggregate of their own, linked
to the ``equity_contribution`` contract by ``contract_id``, not state of the
contract. The contract is the deal (valued, signed, registered, counted in
contract value statistics) and ends when the contribution is made; the
holding lives on for decades after it (dividends, dilution, revaluation,
awards to inventors, sales) and belongs to the company's share register,
not to the deal. A separate stream also keeps the contract's stream short
and lets the ledger post dividends and sales without loading the contract.

Money events (integer fen, in ``ContributionRecorded.currency``; the initial
carrying value is ``ContributionRecorded.valuation.amount_fen``): ``DividendReceived.amount_fen``,
``SharesSold.proceeds_fen`` (AUTM "cashed-in equity") with
``carrying_value_derecognised_fen``, ``HoldingRevalued`` (old/new value),
``HoldingImpaired.amount_fen`` and ``SharesAwarded.carrying_value_derecognised_fen``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.contract_terms import CURRENCY_CODE_VALID
from domain.enums import ValuationMethod
from domain.errors import require, rule
from domain.inputs import Fen, Label, Name, Note, items
from domain.money import DEFAULT_CURRENCY
from domain.serialisable import value_object

G = "equity"

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

UNIFIED_SOCIAL_CREDIT_CODE_VALID = rule(
    "unified_social_credit_code_valid",
    "A company's unified social credit code has 18 characters from the GB 32100 set, a "
    "six-digit division code in positions 3-8 and a correct check character.",
    source="GB 32100-2015 法人和其他组织统一社会信用代码编码规则",
    group=G,
)
EQUITY_TEXT_REQUIRED = rule(
    "equity_text_required",
    "Company names, assessors of assessed valuations, buyers, references and reasons are not blank.",
    group=G,
)
EQUITY_FIGURES_POSITIVE = rule(
    "equity_figures_positive",
    "The valuation, registered capital contributed, shares received, dividends and shares "
    "awarded or sold are positive; total shares are at least the shares received; a sale price "
    "is not negative.",
    group=G,
)
REGISTERED_CAPITAL_WITHIN_VALUATION = rule(
    "registered_capital_within_valuation",
    "Registered capital credited for a contributed achievement does not exceed its valuation "
    "(non-monetary contributions are valued and not overvalued).",
    source="公司法 (2023) 第48条",
    group=G,
)
SHARES_WITHIN_HOLDING = rule(
    "shares_within_holding",
    "Shares awarded to inventors or sold never exceed the shares the institution still holds.",
    source="促进科技成果转化法 第45条",
    group=G,
)
DECISION_RECORD_COMPLETE = rule(
    "decision_record_complete",
    "A revaluation or impairment carries its decision record: who decided (one or more "
    "named decision makers), on what basis, and when; it protects diligent officials (尽职免责).",
    source="国发〔2016〕16号 (勤勉尽职 免除决策责任)",
    group=G,
)
CONTRIBUTION_DECISION_RECORDED_ONCE = rule(
    "contribution_decision_recorded_once",
    "The collective decision (集体决策) to contribute an achievement as equity is recorded once per "
    "holding, dated on or before the contribution; until it is, the holding waits in the work queue.",
    source="促进科技成果转化法 第18条; 国发〔2016〕16号",
    group=G,
)
IMPAIRMENT_WITHIN_CARRYING_VALUE = rule(
    "impairment_within_carrying_value",
    "An impairment is positive and at most the holding's carrying value; a revaluation is not "
    "negative.",
    group=G,
)
DILUTION_INCREASES_TOTAL = rule(
    "dilution_increases_total",
    "Dilution raises the company's total shares; the institution's shares stay as they are.",
    group=G,
)
EQUITY_REFERENCE_UNIQUE = rule(
    "equity_reference_unique",
    "A dividend or sale reference is used once per holding.",
    group=G,
)
EQUITY_DATES_IN_ORDER = rule(
    "equity_dates_in_order",
    "Nothing happens to a holding before the contribution, and the valuation is not dated after it.",
    group=G,
)


def uscc_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code (GB 32100-2015, mod 31)."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    return (
        len(code) == 18
        and all(c in USCC_CHARS for c in code)
        and code[2:8].isdigit()
        and uscc_check_char(code[:17]) == code[17]
    )


@value_object
@dataclass(frozen=True)
class Company:
    name: Name
    unified_social_credit_code: Label


@value_object
@dataclass(frozen=True)
class EquityValuation:
    """The valuation the contribution used (评估作价); ``assessor`` None only for an agreed price."""

    amount_fen: Fen
    method: ValuationMethod
    assessor: Name | None
    valued_on: date


@value_object
@dataclass(frozen=True)
class DecisionRecord:
    """Who decided, on what basis, when (尽职免责 needs this on file)."""

    decision_makers: Annotated[tuple[Name, ...], items(50)]
    basis: Note
    decided_on: date


@value_object
@dataclass(frozen=True)
class ShareAward:
    """Shares of the holding awarded to an inventor (奖励股权)."""

    inventor: str
    shares: int
    awarded_on: date


class EquityHolding(Aggregate):
    """The institution's shares in one company, from one equity contribution."""

    @event("ContributionRecorded")
    def __init__(
        self,
        id: UUID,
        contract_id: UUID,
        institution_id: UUID,
        achievement_ids: list[UUID],
        company: Company,
        valuation: EquityValuation,
        registered_capital_fen: int,
        shares_received: int,
        total_shares: int,
        contributed_on: date,
        currency: str,
    ) -> None:
        self.contract_id = contract_id
        self.currency = currency
        self.institution_id = institution_id
        self.achievement_ids = tuple(achievement_ids)
        self.company = company
        self.valuation = valuation
        self.registered_capital_fen = registered_capital_fen
        self.shares_received = shares_received
        self.shares_held = shares_received
        self.total_shares = total_shares
        self.contributed_on = contributed_on
        self.carrying_value_fen = valuation.amount_fen
        self.awards: tuple[ShareAward, ...] = ()
        self.dividends_fen = 0
        self.cashed_in_fen = 0
        self.shares_sold = 0
        self.references: frozenset[str] = frozenset()
        self.decisions: tuple[DecisionRecord, ...] = ()

    @classmethod
    def record_contribution(
        cls,
        *,
        contract_id: UUID,
        institution_id: UUID,
        achievement_ids: Sequence[UUID],
        company: Company,
        valuation: EquityValuation,
        registered_capital_fen: int,
        shares_received: int,
        total_shares: int,
        contributed_on: date,
        currency: str = DEFAULT_CURRENCY,
        id: UUID | None = None,
    ) -> EquityHolding:
        _text(company.name, "company.name")
        code = company.unified_social_credit_code
        require(
            is_valid_uscc(code),
            UNIFIED_SOCIAL_CREDIT_CODE_VALID,
            "company.unified_social_credit_code",
            f"{code!r} is not a valid code",
            zh=f"{code!r} 不是有效的统一社会信用代码",
        )
        if valuation.method != ValuationMethod.agreed:
            _text(valuation.assessor or "", "valuation.assessor")
        _positive(valuation.amount_fen, "valuation.amount_fen")
        _positive(registered_capital_fen, "registered_capital_fen")
        _positive(shares_received, "shares_received")
        require(
            total_shares >= shares_received,
            EQUITY_FIGURES_POSITIVE,
            "total_shares",
            f"{total_shares} is fewer than the {shares_received} shares received",
            zh=f"{total_shares} 少于所获的 {shares_received} 股",
        )
        require(
            registered_capital_fen <= valuation.amount_fen,
            REGISTERED_CAPITAL_WITHIN_VALUATION,
            "registered_capital_fen",
            f"{registered_capital_fen} fen is above the valuation {valuation.amount_fen} fen",
            zh=f"{registered_capital_fen} 分高于评估作价 {valuation.amount_fen} 分",
        )
        require(
            valuation.valued_on <= contributed_on,
            EQUITY_DATES_IN_ORDER,
            "valuation.valued_on",
            f"valued {valuation.valued_on}, after the contribution {contributed_on}",
            zh=f"估值日 {valuation.valued_on} 晚于出资日 {contributed_on}",
        )
        require(
            len(currency) == 3 and currency.isascii() and currency.isalpha() and currency.isupper(),
            CURRENCY_CODE_VALID,
            "currency",
            repr(currency),
            zh=f"{currency!r} 不是有效的币种代码",
        )
        return cls(
            id=id or uuid4(),
            currency=currency,
            contract_id=contract_id,
            institution_id=institution_id,
            achievement_ids=list(achievement_ids),
            company=company,
            valuation=valuation,
            registered_capital_fen=registered_capital_fen,
            shares_received=shares_received,
            total_shares=total_shares,
            contributed_on=contributed_on,
        )

    # --- queries ------------------------------------------------------------------------

    @property
    def holding_percent(self) -> Decimal:
        """The institution's share of the company, in percent."""
        return Decimal(self.shares_held) * 100 / Decimal(self.total_shares)

    @property
    def awarded_shares(self) -> int:
        return sum(a.shares for a in self.awards)

    def inventor_percent(self, inventor: str) -> Decimal:
        shares = sum(a.shares for a in self.awards if a.inventor == inventor)
        return Decimal(shares) * 100 / Decimal(self.total_shares)

    # --- commands ---------------------------------------------------------------------------

    def award_shares(self, inventor: str, shares: int, awarded_on: date) -> None:
        """Shares move from the institution's holding to an inventor (Law Art. 45 (2))."""
        _text(inventor, "inventor")
        _positive(shares, "shares")
        self._within_holding(shares)
        self._after_contribution(awarded_on, "awarded_on")
        self._shares_awarded(
            award=ShareAward(inventor, shares, awarded_on),
            carrying_value_derecognised_fen=self._carrying_share(shares),
        )

    def receive_dividend(self, dividend_id: str, amount_fen: int, received_on: date) -> None:
        self._new_reference(dividend_id, "dividend_id")
        _positive(amount_fen, "amount_fen")
        self._after_contribution(received_on, "received_on")
        self._dividend_received(
            dividend_id=dividend_id, amount_fen=amount_fen, received_on=received_on
        )

    contribution_decision: DecisionRecord | None = None
    """The decision behind the contribution (a class default: a snapshot from before it reads None)."""

    def record_contribution_decision(self, decision: DecisionRecord) -> None:
        """The collective decision (集体决策) to make the contribution, recorded after the fact."""
        earlier = self.contribution_decision
        require(
            earlier is None,
            CONTRIBUTION_DECISION_RECORDED_ONCE,
            "decision",
            f"the decision of {earlier.decided_on if earlier else ''} is already recorded",
            zh=f"{earlier.decided_on if earlier else ''} 的决策已记录",
        )
        _check_decision(decision)
        require(
            decision.decided_on <= self.contributed_on,
            CONTRIBUTION_DECISION_RECORDED_ONCE,
            "decision.decided_on",
            f"decided {decision.decided_on}, after the contribution of {self.contributed_on}",
            zh=f"决策日 {decision.decided_on} 晚于出资日 {self.contributed_on}",
        )
        self._contribution_decided(decision=decision)

    def revalue(self, new_value_fen: int, decision: DecisionRecord) -> None:
        """Revaluation up or down, with its decision record."""
        require(
            new_value_fen >= 0, IMPAIRMENT_WITHIN_CARRYING_VALUE, "new_value_fen", "negative value",
            zh="新估值为负数"
        )
        _check_decision(decision)
        self._after_contribution(decision.decided_on, "decision.decided_on")
        self._revalued(
            old_value_fen=self.carrying_value_fen, new_value_fen=new_value_fen, decision=decision
        )

    def impair(self, amount_fen: int, decision: DecisionRecord) -> None:
        """Impairment (减值) of the carrying value, with its decision record."""
        require(
            0 < amount_fen <= self.carrying_value_fen,
            IMPAIRMENT_WITHIN_CARRYING_VALUE,
            "amount_fen",
            f"{amount_fen} fen is not within the carrying value {self.carrying_value_fen} fen",
            zh=f"{amount_fen} 分不在账面价值 {self.carrying_value_fen} 分以内",
        )
        _check_decision(decision)
        self._after_contribution(decision.decided_on, "decision.decided_on")
        self._impaired(amount_fen=amount_fen, decision=decision)

    def record_dilution(self, new_total_shares: int, on: date, reason: str) -> None:
        require(
            new_total_shares > self.total_shares,
            DILUTION_INCREASES_TOTAL,
            "new_total_shares",
            f"{new_total_shares} does not exceed {self.total_shares}",
            zh=f"{new_total_shares} 不多于 {self.total_shares}",
        )
        _text(reason, "reason")
        self._after_contribution(on, "on")
        self._diluted(
            old_total_shares=self.total_shares,
            new_total_shares=new_total_shares,
            diluted_on=on,
            reason=reason,
        )

    def sell_shares(
        self, sale_id: str, shares: int, proceeds_fen: int, buyer: str, sold_on: date
    ) -> None:
        """Shares sold for cash (cashed-in equity); the carrying value goes out pro rata."""
        self._new_reference(sale_id, "sale_id")
        _positive(shares, "shares")
        self._within_holding(shares)
        require(
            proceeds_fen >= 0,
            EQUITY_FIGURES_POSITIVE,
            "proceeds_fen",
            f"{proceeds_fen} is negative",
            zh=f"{proceeds_fen} 为负数",
        )
        _text(buyer, "buyer")
        self._after_contribution(sold_on, "sold_on")
        self._shares_sold(
            sale_id=sale_id,
            shares=shares,
            proceeds_fen=proceeds_fen,
            buyer=buyer,
            sold_on=sold_on,
            carrying_value_derecognised_fen=self._carrying_share(shares),
        )

    # --- helpers ------------------------------------------------------------------------------

    def _carrying_share(self, shares: int) -> int:
        """Carrying value of ``shares`` of the holding; all of it when all are given up."""
        if shares == self.shares_held:
            return self.carrying_value_fen
        exact = Decimal(self.carrying_value_fen) * shares / self.shares_held
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def _within_holding(self, shares: int) -> None:
        require(
            shares <= self.shares_held,
            SHARES_WITHIN_HOLDING,
            "shares",
            f"{shares} shares exceed the {self.shares_held} held",
            zh=f"{shares} 股超过持有的 {self.shares_held} 股",
        )

    def _after_contribution(self, on: date, field: str) -> None:
        require(
            on >= self.contributed_on,
            EQUITY_DATES_IN_ORDER,
            field,
            f"{on} is before the contribution on {self.contributed_on}",
            zh=f"{on} 早于出资日 {self.contributed_on}",
        )

    def _new_reference(self, reference: str, field: str) -> None:
        _text(reference, field)
        require(
            reference not in self.references,
            EQUITY_REFERENCE_UNIQUE,
            field,
            f"{reference!r} is already recorded",
            zh=f"{reference!r} 已记录",
        )

    # --- events ----------------------------------------------------------------------------------

    @event("SharesAwarded")
    def _shares_awarded(self, award: ShareAward, carrying_value_derecognised_fen: int) -> None:
        self.awards = (*self.awards, award)
        self.shares_held -= award.shares
        self.carrying_value_fen -= carrying_value_derecognised_fen

    @event("DividendReceived")
    def _dividend_received(self, dividend_id: str, amount_fen: int, received_on: date) -> None:
        self.references = self.references | {dividend_id}
        self.dividends_fen += amount_fen

    @event("ContributionDecisionRecorded")
    def _contribution_decided(self, decision: DecisionRecord) -> None:
        self.contribution_decision = decision
        self.decisions = (*self.decisions, decision)

    @event("HoldingRevalued")
    def _revalued(self, old_value_fen: int, new_value_fen: int, decision: DecisionRecord) -> None:
        self.carrying_value_fen = new_value_fen
        self.decisions = (*self.decisions, decision)

    @event("HoldingImpaired")
    def _impaired(self, amount_fen: int, decision: DecisionRecord) -> None:
        self.carrying_value_fen -= amount_fen
        self.decisions = (*self.decisions, decision)

    @event("Diluted")
    def _diluted(
        self, old_total_shares: int, new_total_shares: int, diluted_on: date, reason: str
    ) -> None:
        self.total_shares = new_total_shares

    @event("SharesSold")
    def _shares_sold(
        self,
        sale_id: str,
        shares: int,
        proceeds_fen: int,
        buyer: str,
        sold_on: date,
        carrying_value_derecognised_fen: int,
    ) -> None:
        self.references = self.references | {sale_id}
        self.shares_held -= shares
        self.shares_sold += shares
        self.cashed_in_fen += proceeds_fen
        self.carrying_value_fen -= carrying_value_derecognised_fen


def _text(value: str, field: str) -> None:
    require(bool(value.strip()), EQUITY_TEXT_REQUIRED, field, "is blank", zh="为空白")


def _positive(value: int, field: str) -> None:
    require(value > 0, EQUITY_FIGURES_POSITIVE, field, f"{value} is not positive",
            zh=f"{value} 不是正数")


def _check_decision(decision: DecisionRecord) -> None:
    makers = decision.decision_makers
    require(
        bool(makers) and all(m.strip() for m in makers),
        DECISION_RECORD_COMPLETE,
        "decision.decision_makers",
        "name every decision maker",
        zh="须写明每位决策人",
    )
    require(
        bool(decision.basis.strip()), DECISION_RECORD_COMPLETE, "decision.basis", "state the basis",
        zh="须说明决策依据"
    )
