"""Use-first-pay-later commands of ``TechnologyContract`` (contract kind ``ufpl_licence``).

The trial starts when the licence takes effect, with nothing due. Licensee
revenue reports feed the 新增营收 statistic and may meet the first-revenue
trigger; the caller converts explicitly (``convert_to_paid``), which is
rejected until an agreed trigger is met, or the licensee returns the licence.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from domain.contract_state import (
    CONTRACT_END_REASON_REQUIRED,
    ENDED,
    REPORTED_AMOUNT_NOT_NEGATIVE,
    ContractState,
    ContractStatus,
)
from domain.contract_terms import FIXED_PAYMENTS_WITHIN_CONTRACT_VALUE
from domain.enums import ContractKind
from domain.errors import require, rule
from domain.payment_terms import PaymentTerms, check_payment_terms, check_report_period
from domain.settlement import DueItem, scheduled_items
from domain.ufpl import (
    UFPL_NO_PAYMENT_DURING_TRIAL,
    UFPL_STAGE_ALLOWS,
    UFPL_TRIGGER_MET,
    RevenueReport,
    UfplStage,
    UfplTrigger,
    check_no_fixed_payment_in_trial,
    first_trigger_met,
)

G = "contract"

CONTRACT_KIND_ALLOWS = rule(
    "contract_kind_allows",
    "Trial, conversion, return, renegotiation and licensee-revenue commands apply to UFPL "
    "licences only.",
    group=G,
)


class ContractUfpl(ContractState):
    """The trial and its end (mixed into ``TechnologyContract``)."""

    # --- queries -------------------------------------------------------------------------

    @property
    def is_ufpl(self) -> bool:
        return self.terms.kind == ContractKind.ufpl_licence

    @property
    def licensee_revenue_fen(self) -> int:
        return sum(r.revenue_fen for r in self.revenue_reports)

    @property
    def first_revenue_on(self) -> date | None:
        return min((r.reported_on for r in self.revenue_reports if r.revenue_fen > 0), default=None)

    def trial_overdue(self, as_of: date) -> bool:
        """Still in trial after the agreed trial end: convert or return is due."""
        ufpl = self.terms.ufpl
        return self.ufpl_stage == UfplStage.trial and ufpl is not None and as_of > ufpl.trial_end_on

    # --- commands --------------------------------------------------------------------------

    def report_licensee_revenue(
        self, period_start: date, period_end: date, revenue_fen: int, reported_on: date
    ) -> None:
        self._require_ufpl()
        self._require_status(ContractStatus.in_force, *ENDED)
        self._require_taken_effect()
        require(
            revenue_fen >= 0,
            REPORTED_AMOUNT_NOT_NEGATIVE,
            "revenue_fen",
            f"{revenue_fen} is negative",
            zh=f"{revenue_fen} 为负数",
        )
        assert self.effective_on is not None
        earlier = [(r.period_start, r.period_end) for r in self.revenue_reports]
        check_report_period(period_start, period_end, self.effective_on, self.ended_on, earlier)
        self._require_date(reported_on, period_start, "reported_on")
        report = RevenueReport(period_start, period_end, revenue_fen, reported_on)
        self._licensee_revenue_reported(report=report)

    def renegotiate_paid_terms(self, payment_terms: PaymentTerms, agreed_on: date) -> None:
        """New paid terms agreed during the trial replace those agreed at signing."""
        self._require_ufpl()
        self._require_status(ContractStatus.signed, ContractStatus.in_force)
        self._require_trial_or_before()
        check_payment_terms(payment_terms)
        assert self.terms.ufpl is not None
        check_no_fixed_payment_in_trial(payment_terms, self.terms.ufpl.trial_end_on)
        require(
            payment_terms.fixed_total_fen <= self.terms.contract_value_fen,
            FIXED_PAYMENTS_WITHIN_CONTRACT_VALUE,
            "payment_terms",
            f"fixed payments exceed the contract value {self.terms.contract_value_fen} fen",
            zh=f"固定付款超过合同成交额 {self.terms.contract_value_fen} 分",
        )
        self._require_date(agreed_on, self.signed_on, "agreed_on")
        self._paid_terms_renegotiated(payment_terms=payment_terms, agreed_on=agreed_on)

    def convert_to_paid(self, on: date) -> None:
        """A trigger was met: the paid terms start on ``on`` and the fixed items fall due."""
        self._require_ufpl()
        self._require_status(ContractStatus.in_force)
        require(
            self.ufpl_stage == UfplStage.trial,
            UFPL_STAGE_ALLOWS,
            "status",
            f"stage is {self.ufpl_stage}",
            zh=f"阶段为 {self.ufpl_stage}",
        )
        self._require_date(on, self.effective_on, "on")
        assert self.terms.ufpl is not None
        met = first_trigger_met(self.terms.ufpl, self.first_revenue_on, self.milestones_reached, on)
        require(met is not None, UFPL_TRIGGER_MET, "on", f"no agreed trigger is met by {on}",
                zh=f"截至 {on} 没有满足任何约定的触发条件")
        assert met is not None
        items = scheduled_items(self.terms.payment_terms, on)
        for i, item in enumerate(items):
            require(
                item.due_on >= on,
                UFPL_NO_PAYMENT_DURING_TRIAL,
                f"due_items[{i}].due_on",
                f"{item.item_id} due {item.due_on} is before the conversion on {on}",
                zh=f"{item.item_id} 的到期日 {item.due_on} 早于转为付费的日期 {on}",
            )
        self._converted_to_paid(
            trigger=met[0], trigger_met_on=met[1], converted_on=on, due_items=items
        )

    def return_licence(self, on: date, reason: str) -> None:
        """The licensee gives the licence back from the trial: terminated, nothing due."""
        self._require_ufpl()
        self._require_status(ContractStatus.in_force)
        require(
            self.ufpl_stage == UfplStage.trial,
            UFPL_STAGE_ALLOWS,
            "status",
            f"stage is {self.ufpl_stage}",
            zh=f"阶段为 {self.ufpl_stage}",
        )
        require(bool(reason.strip()), CONTRACT_END_REASON_REQUIRED, "reason", "reason is blank",
                zh="理由为空白")
        self._require_date(on, self.effective_on, "on")
        self._licence_returned(returned_on=on, reason=reason)

    # --- guards -----------------------------------------------------------------------------

    def _require_ufpl(self) -> None:
        require(
            self.is_ufpl, CONTRACT_KIND_ALLOWS, "kind", f"a {self.terms.kind} contract has no trial",
            zh=f"{self.terms.kind} 合同没有试用期"
        )

    def _require_trial_or_before(self) -> None:
        require(
            self.ufpl_stage in (None, UfplStage.trial),
            UFPL_STAGE_ALLOWS,
            "status",
            f"stage is {self.ufpl_stage}",
            zh=f"阶段为 {self.ufpl_stage}",
        )

    if TYPE_CHECKING:  # the events, defined on TechnologyContract

        def _licensee_revenue_reported(self, report: RevenueReport) -> None: ...
        def _paid_terms_renegotiated(
            self, payment_terms: PaymentTerms, agreed_on: date
        ) -> None: ...
        def _converted_to_paid(
            self,
            trigger: UfplTrigger,
            trigger_met_on: date,
            converted_on: date,
            due_items: list[DueItem],
        ) -> None: ...
        def _licence_returned(self, returned_on: date, reason: str) -> None: ...
