"""Money commands of ``TechnologyContract``: what falls due, what is received, risk events.

Royalties fall due from the licensee's reports, the minimum annual royalty
by a year-end top-up, milestone payments when a milestone is reached.
Payments, credits, insurance compensation, deferrals and write-offs act on
the contract's ``Settlement``; each records the allocation it made so the
ledger can post it as it stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.contract_state import (
    CONTRACT_STATUS_ALLOWS,
    ENDED,
    PAYING,
    REPORTED_AMOUNT_NOT_NEGATIVE,
    ContractState,
    ContractStatus,
)
from domain.errors import require, rule
from domain.payment_terms import (
    RoyaltyTerms,
    add_years,
    check_report_period,
    contract_year_end,
    contract_year_of,
    effective_rate,
    royalty_due_fen,
)
from domain.serialisable import domain_enum, value_object
from domain.settlement import (
    CREDIT_KNOWN,
    DEFERRAL_MOVES_LATER,
    DUE_ITEM_KNOWN,
    DUE_ITEM_OUTSTANDING,
    ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS,
    NOTHING_TO_SETTLE,
    OVERPAYMENT_REJECTED,
    Allocation,
    Deferral,
    DueItem,
    DueKind,
    OpenItem,
    Overpayment,
    check_approval,
    check_positive,
    milestone_item,
)
from domain.ufpl import UFPL_NO_PAYMENT_DURING_TRIAL, UfplStage

G = "contract"

ROYALTY_TERMS_AGREED = rule(
    "royalty_terms_agreed",
    "Royalty reports need royalty terms, and a minimum-royalty top-up needs an agreed minimum.",
    source="民法典 第846条",
    group=G,
)

MINIMUM_ROYALTY_ONCE_PER_YEAR = rule(
    "minimum_royalty_once_per_year",
    "The minimum annual royalty is topped up once per contract year, after that year ends, "
    "for a year in which the contract paid, and only when the year's royalties fell short.",
    group=G,
)

MILESTONE_KNOWN = rule(
    "milestone_known",
    "A milestone reached is one the contract names (a payment milestone or a UFPL trigger), "
    "and it is reached once.",
    group=G,
)

RISK_EVENT_DESCRIBED = rule(
    "risk_event_described",
    "A default, insurance compensation or credit report names who and what (non-blank text).",
    group=G,
)

INSURANCE_WITHIN_OUTSTANDING = rule(
    "insurance_within_outstanding",
    "Insurance compensation paid first by the insurer (先行赔付) settles outstanding due items "
    "and never more than they owe.",
    source="陕西 先使用后付费 风险补偿/保险",
    group=G,
)

CREDIT_APPLIED_IS_INCOME = rule(
    "credit_applied_is_income",
    "A credit applied to due items is income of the contract on the day it is applied (until "
    "then it is a liability that may be refunded; a refunded credit is never income). Each "
    "application is a receipt of its own, named credit-<n> (numbered per contract, never a "
    "payment, claim or refund reference), that income distribution allocates once; its date "
    "starts the 36-month award deadline and is on or after the day the credit was received.",
    source="促进科技成果转化法 第45条; 财税〔2018〕58号",
    group=G,
)
CREDIT_RECEIPT_PREFIX = "credit-"


@value_object
@dataclass(frozen=True)
class RoyaltyReport:
    """The licensee's report of the royalty base for a period, and the royalty it makes due."""

    period_start: date
    period_end: date
    base_fen: int
    reported_on: date
    contract_year: int
    rate: Decimal  # rate of the report's first fen; base-amount tiers may split it
    royalty_fen: int


@domain_enum
class RiskKind(StrEnum):
    default = "default"  # 违约
    insurance_compensation = "insurance_compensation"  # 保险先行赔付
    credit_report = "credit_report"  # 征信报告


@value_object
@dataclass(frozen=True)
class RiskEvent:
    """A risk event of a licence, as the risk register lists it."""

    kind: RiskKind
    on: date
    party: str  # licensee for a default, insurer, or credit agency
    text: str  # description, or the insurer's claim id, or the report's content reference
    amount_fen: int = 0


class ContractMoney(ContractState):
    """Commands and queries of a contract's money (mixed into ``TechnologyContract``)."""

    royalty_reports: tuple[RoyaltyReport, ...]
    minimum_royalty_years: tuple[int, ...]
    risk_events: tuple[RiskEvent, ...]
    receipts: dict[str, tuple[int, date]]
    credit_receipts: dict[str, str]

    # --- queries ------------------------------------------------------------------------

    @property
    def due_items(self) -> list[DueItem]:
        return [s.item for s in self.settlement.items.values()]

    def open_items(self) -> list[OpenItem]:
        return self.settlement.open_items()

    def outstanding_fen(self, as_of: date | None = None) -> int:
        """Outstanding on items due by ``as_of`` (all items when ``None``)."""
        return self.settlement.outstanding_fen(as_of)

    def overdue_items(self, as_of: date) -> list[OpenItem]:
        """Items whose due date is before ``as_of`` and that are not settled."""
        return self.settlement.overdue(as_of)

    def status_on(self, day: date) -> ContractStatus:
        """The contract's status on business date ``day``, from the dates its events carry."""
        if self.ended_on is not None and self.ended_on <= day and self.status in ENDED:
            return self.status
        if self.effective_on is not None and self.effective_on <= day:
            return ContractStatus.in_force
        if self.signed_on is not None and self.signed_on <= day:
            return ContractStatus.signed
        return ContractStatus.drafted

    def ufpl_stage_on(self, day: date) -> UfplStage | None:
        """The use-first-pay-later stage on ``day``: none before the licence took effect."""
        if self.ufpl_stage is None or self.effective_on is None or self.effective_on > day:
            return None
        if self.ufpl_stage == UfplStage.returned and self.ended_on is not None and self.ended_on <= day:
            return UfplStage.returned
        if self.conversion is not None and self.conversion[2] <= day:
            return UfplStage.paid
        return UfplStage.trial

    @property
    def credits(self) -> dict[str, int]:
        return {k: v for k, v in self.settlement.credits.items() if v}

    # --- what falls due -------------------------------------------------------------------

    def report_royalty(
        self, period_start: date, period_end: date, base_fen: int, reported_on: date
    ) -> None:
        """The licensee reports the royalty base (sales, profit or added value) of a period."""
        royalty = self._royalty_terms()
        self._require_paying("period_start")
        require(base_fen >= 0, REPORTED_AMOUNT_NOT_NEGATIVE, "base_fen", f"{base_fen} is negative",
                zh=f"{base_fen} 为负数")
        assert self.pays_from is not None
        earlier = [(r.period_start, r.period_end) for r in self.royalty_reports]
        check_report_period(period_start, period_end, self.pays_from, self.ended_on, earlier)
        self._require_date(reported_on, period_start, "reported_on")
        year = contract_year_of(self.pays_from, period_end)
        before = sum(r.base_fen for r in self.royalty_reports if r.contract_year == year)
        amount = royalty_due_fen(royalty, year, before, base_fen)
        report = RoyaltyReport(
            period_start,
            period_end,
            base_fen,
            reported_on,
            year,
            effective_rate(royalty, year, before),
            amount,
        )
        item = None
        if amount:
            due = self._clamp(period_end + timedelta(days=royalty.days_to_pay))
            item = DueItem(
                f"royalty-{period_start}",
                DueKind.royalty,
                amount,
                due,
                f"提成 {period_start}..{period_end}",
            )
        self._royalty_reported(report=report, due_item=item, arose_on=reported_on)

    def top_up_minimum_royalty(self, contract_year: int, on: date) -> None:
        """At year end, the shortfall below the minimum annual royalty falls due.

        Counts the royalties of reports whose period ends in that contract
        year; no pro-rating of a short last year.
        """
        royalty = self._royalty_terms()
        require(
            royalty.minimum_annual_fen > 0,
            ROYALTY_TERMS_AGREED,
            "contract_year",
            "no minimum agreed",
            zh="未约定最低提成",
        )
        self._require_paying("contract_year")
        assert self.pays_from is not None
        require(
            contract_year >= 1, MINIMUM_ROYALTY_ONCE_PER_YEAR, "contract_year", "years count from 1",
            zh="合同年度从 1 开始计数"
        )
        require(  # checked before any date is computed from it: year 10**9 is no date at all
            contract_year <= on.year - self.pays_from.year,
            MINIMUM_ROYALTY_ONCE_PER_YEAR,
            "contract_year",
            f"year {contract_year} of a contract paying from {self.pays_from} is not over on {on}",
            zh=f"自 {self.pays_from} 起付的合同的第 {contract_year} 年度在 {on} 尚未结束",
        )
        year_start = add_years(self.pays_from, contract_year - 1)
        year_end = contract_year_end(self.pays_from, contract_year)
        require(
            contract_year not in self.minimum_royalty_years
            and on > year_end
            and (self.ended_on is None or year_start <= self.ended_on),
            MINIMUM_ROYALTY_ONCE_PER_YEAR,
            "contract_year",
            f"year {contract_year} ({year_start}..{year_end}) is not over, not paid in, or topped up",
            zh=f"第 {contract_year} 年度（{year_start}..{year_end}）尚未结束、当年没有付款或已补足",
        )
        paid = sum(r.royalty_fen for r in self.royalty_reports if r.contract_year == contract_year)
        shortfall = royalty.minimum_annual_fen - paid
        require(
            shortfall > 0,
            MINIMUM_ROYALTY_ONCE_PER_YEAR,
            "contract_year",
            f"royalties of {paid} fen meet the minimum",
            zh=f"{paid} 分的提成已达到最低提成",
        )
        due = self._clamp(year_end + timedelta(days=royalty.days_to_pay))
        item = DueItem(
            f"minimum-royalty-year-{contract_year}",
            DueKind.minimum_royalty,
            shortfall,
            due,
            f"最低提成 year {contract_year}",
        )
        self._minimum_royalty_topped_up(
            contract_year=contract_year, royalty_fen=paid, due_item=item, topped_up_on=on
        )

    def reach_milestone(self, name: str, on: date) -> None:
        """A payment milestone (its payment falls due) or a UFPL trigger milestone is reached."""
        self._require_status(ContractStatus.in_force)
        payment = {m.name: m for m in self.terms.payment_terms.milestones}
        triggers = self.terms.ufpl.trigger_milestones if self.terms.ufpl else ()
        require(
            (name in payment or name in triggers) and name not in self.milestones_reached,
            MILESTONE_KNOWN,
            "name",
            f"{name!r} is not a milestone of this contract or was reached already",
            zh=f"{name!r} 不是本合同的里程碑，或已达成",
        )
        self._require_date(on, self.effective_on, "on")
        item = None
        if name in payment:
            require(
                self.ufpl_stage != UfplStage.trial,
                UFPL_NO_PAYMENT_DURING_TRIAL,
                "name",
                "still in the trial",
                zh="仍在试用期内",
            )
            item = milestone_item(payment[name], on, self.terms.payment_terms.payments_start_on)
        self._milestone_reached(name=name, reached_on=on, due_item=item)

    # --- money received ---------------------------------------------------------------------

    def record_payment(
        self,
        payment_id: str,
        amount_fen: int,
        received_on: date,
        due_item_id: str | None = None,
        overpayment: Overpayment = Overpayment.reject,
        payer: str | None = None,
    ) -> None:
        """Allocate a payment to the named item, else to open items oldest due date first.

        What nothing is due for is rejected, or with ``overpayment=credit``
        held as a credit named ``payment_id``.
        """
        require(self.status != ContractStatus.drafted, CONTRACT_STATUS_ALLOWS, "status", "drafted",
                zh="处于起草状态")
        check_positive(amount_fen)
        self.settlement.check_new_reference(payment_id, "payment_id")
        ended = self.status in ENDED
        if ended and due_item_id is not None and due_item_id in self.settlement.items:
            state = self.settlement.items[due_item_id]
            require(
                state.cancelled_fen == 0 or state.outstanding_fen > 0,
                ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS,
                "due_item_id",
                f"{due_item_id!r} was cancelled when the contract ended on {self.ended_on}",
                zh=f"到期款项 {due_item_id!r} 已在合同于 {self.ended_on} 终止时取消",
            )
        allocations, rest = self.settlement.plan(amount_fen, due_item_id, "due_item_id", received_on)
        require(
            not ended or rest == 0,
            ENDED_CONTRACT_SETTLES_ONLY_WHAT_REMAINS,
            "amount_fen",
            f"the contract ended on {self.ended_on}; {rest} fen of {amount_fen} exceed what "
            f"remains owed ({amount_fen - rest} fen), and no credit is held on an ended contract",
            zh=f"合同已于 {self.ended_on} 终止；{amount_fen} 分中的 {rest} 分超过仍欠的金额（{amount_fen - rest} 分），已终止的合同不持有预收款",
        )
        require(
            rest == 0 or overpayment == Overpayment.credit,
            OVERPAYMENT_REJECTED,
            "amount_fen",
            f"{rest} fen of {amount_fen} settle nothing; pay less or ask to hold it as credit",
            zh=f"{amount_fen} 分中的 {rest} 分没有可结清的款项；请减少付款，或要求将其作为预收款持有",
        )
        self._payment_received(
            payment_id=payment_id,
            amount_fen=amount_fen,
            received_on=received_on,
            payer=payer,
            allocations=allocations,
            credit_fen=rest,
        )

    def apply_credit(self, credit_id: str, on: date, due_item_id: str | None = None) -> str:
        """Apply a held credit to the named item, else to open items oldest first.

        What it settles is income from ``on``: a receipt ``credit-<n>`` that
        ``AllocateReceipt`` distributes once (rule ``credit_applied_is_income``).
        What the items do not take stays held, and a later application is
        another receipt. Returns the receipt's id.
        """
        held = self.settlement.credits.get(credit_id, 0)
        require(held > 0, CREDIT_KNOWN, "credit_id", f"no credit {credit_id!r} held",
                zh=f"没有持有预收款 {credit_id!r}")
        received = self.receipts.get(credit_id)
        if received is not None:
            require(
                on >= received[1],
                CREDIT_APPLIED_IS_INCOME,
                "on",
                f"{on} is before the credit was received on {received[1]}",
                zh=f"{on} 早于预收款的收款日 {received[1]}",
            )
        allocations, _ = self.settlement.plan(held, due_item_id, "due_item_id", on)
        require(bool(allocations), NOTHING_TO_SETTLE, "credit_id", "nothing is outstanding",
                zh="没有未付的到期款项")
        receipt_id = self._next_credit_receipt_id()
        self._credit_applied(
            credit_id=credit_id, applied_on=on, allocations=allocations, receipt_id=receipt_id
        )
        return receipt_id

    def refund_credit(self, credit_id: str, amount_fen: int, on: date, reference: str) -> None:
        check_positive(amount_fen)
        held = self.settlement.credits.get(credit_id, 0)
        require(
            held >= amount_fen, CREDIT_KNOWN, "amount_fen", f"credit {credit_id!r} holds {held} fen",
            zh=f"预收款 {credit_id!r} 余额为 {held} 分"
        )
        self.settlement.check_new_reference(reference, "reference")
        self._credit_refunded(
            credit_id=credit_id, amount_fen=amount_fen, refunded_on=on, reference=reference
        )

    def defer_due_items(
        self, new_due_dates: Mapping[str, date], approver: str, reason: str, decided_on: date
    ) -> None:
        """延期支付: move named due items to later dates, approved and explained."""
        check_approval(approver, reason)
        require(bool(new_due_dates), DUE_ITEM_KNOWN, "new_due_dates", "no due item named",
                zh="未指明到期款项")
        deferrals = []
        for item_id, new_on in new_due_dates.items():
            path = f"new_due_dates[{item_id}]"
            state = self.settlement.state(item_id, path)
            require(
                state.outstanding_fen > 0, DUE_ITEM_OUTSTANDING, path, f"{item_id!r} is settled",
                zh=f"{item_id!r} 已结清"
            )
            require(
                new_on > state.due_on,
                DEFERRAL_MOVES_LATER,
                path,
                f"{new_on} is not after {state.due_on}",
                zh=f"{new_on} 不晚于当前到期日 {state.due_on}",
            )
            deferrals.append(Deferral(item_id, state.due_on, new_on))
        self._due_items_deferred(
            deferrals=deferrals, approver=approver, reason=reason, decided_on=decided_on
        )

    def write_off(self, due_item_id: str, approver: str, reason: str, on: date) -> None:
        """Write off what is still outstanding on one due item (核销), approved and explained."""
        check_approval(approver, reason)
        state = self.settlement.state(due_item_id, "due_item_id")
        require(
            state.outstanding_fen > 0,
            DUE_ITEM_OUTSTANDING,
            "due_item_id",
            f"{due_item_id!r} is settled",
            zh=f"{due_item_id!r} 已结清",
        )
        self.settlement.check_arisen(state, on, "on")
        self._written_off(
            due_item_id=due_item_id,
            amount_fen=state.outstanding_fen,
            approver=approver,
            reason=reason,
            written_off_on=on,
        )

    # --- risk events --------------------------------------------------------------------------

    def record_default(self, on: date, description: str) -> None:
        self._require_status(*PAYING)
        self._require_taken_effect()
        require(bool(description.strip()), RISK_EVENT_DESCRIBED, "description", "blank",
                zh="为空白")
        self._licensee_defaulted(defaulted_on=on, description=description)

    def record_credit_report(self, agency: str, reported_on: date, content_ref: str) -> None:
        self._require_status(*PAYING)
        self._require_taken_effect()
        require(bool(agency.strip()), RISK_EVENT_DESCRIBED, "agency", "blank", zh="为空白")
        require(bool(content_ref.strip()), RISK_EVENT_DESCRIBED, "content_ref", "blank",
                zh="为空白")
        self._credit_report_filed(agency=agency, reported_on=reported_on, content_ref=content_ref)

    def record_insurance_compensation(
        self,
        claim_id: str,
        insurer: str,
        amount_fen: int,
        paid_on: date,
        due_item_id: str | None = None,
    ) -> None:
        """先行赔付: the insurer pays what the licensee owes; it settles due items like a payment."""
        self._require_status(*PAYING)
        self._require_taken_effect()
        require(bool(insurer.strip()), RISK_EVENT_DESCRIBED, "insurer", "blank", zh="为空白")
        check_positive(amount_fen)
        self.settlement.check_new_reference(claim_id, "claim_id")
        allocations, rest = self.settlement.plan(amount_fen, due_item_id, "due_item_id", paid_on)
        require(
            rest == 0,
            INSURANCE_WITHIN_OUTSTANDING,
            "amount_fen",
            f"{rest} fen more than is outstanding",
            zh=f"超出未付金额 {rest} 分",
        )
        self._insurance_compensation_paid(
            claim_id=claim_id,
            insurer=insurer,
            amount_fen=amount_fen,
            paid_on=paid_on,
            allocations=allocations,
        )

    # --- helpers ---------------------------------------------------------------------------------

    def _next_credit_receipt_id(self) -> str:
        """``credit-<n>``: the next number of this contract's credit applications not yet used
        as any reference (a client may have named a payment ``credit-1``)."""
        n = len(self.credit_receipts) + 1
        while f"{CREDIT_RECEIPT_PREFIX}{n}" in self.settlement.references or (
            f"{CREDIT_RECEIPT_PREFIX}{n}" in self.receipts
        ):
            n += 1
        return f"{CREDIT_RECEIPT_PREFIX}{n}"

    def _royalty_terms(self) -> RoyaltyTerms:
        royalty = self.terms.payment_terms.royalty
        require(
            royalty is not None, ROYALTY_TERMS_AGREED, "payment_terms.royalty", "no royalty agreed",
            zh="未约定提成"
        )
        assert royalty is not None
        return royalty

    def _clamp(self, due: date) -> date:
        start = self.terms.payment_terms.payments_start_on
        return max(due, start) if start else due

    if TYPE_CHECKING:  # the events, defined on TechnologyContract

        def _royalty_reported(
            self, report: RoyaltyReport, due_item: DueItem | None, arose_on: date | None = None
        ) -> None: ...
        def _minimum_royalty_topped_up(
            self, contract_year: int, royalty_fen: int, due_item: DueItem,
            topped_up_on: date | None = None,
        ) -> None: ...
        def _milestone_reached(
            self, name: str, reached_on: date, due_item: DueItem | None
        ) -> None: ...
        def _payment_received(
            self,
            payment_id: str,
            amount_fen: int,
            received_on: date,
            payer: str | None,
            allocations: list[Allocation],
            credit_fen: int,
        ) -> None: ...
        def _credit_applied(
            self,
            credit_id: str,
            applied_on: date,
            allocations: list[Allocation],
            receipt_id: str | None = None,
        ) -> None: ...
        def _credit_refunded(
            self, credit_id: str, amount_fen: int, refunded_on: date, reference: str
        ) -> None: ...
        def _due_items_deferred(
            self, deferrals: list[Deferral], approver: str, reason: str, decided_on: date
        ) -> None: ...
        def _written_off(
            self,
            due_item_id: str,
            amount_fen: int,
            approver: str,
            reason: str,
            written_off_on: date,
        ) -> None: ...
        def _licensee_defaulted(self, defaulted_on: date, description: str) -> None: ...
        def _credit_report_filed(
            self, agency: str, reported_on: date, content_ref: str
        ) -> None: ...
        def _insurance_compensation_paid(
            self,
            claim_id: str,
            insurer: str,
            amount_fen: int,
            paid_on: date,
            allocations: list[Allocation],
        ) -> None: ...
