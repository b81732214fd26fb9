"""State and guards shared by the parts of ``TechnologyContract``.

The contract's commands are split by subject into mixins (lifecycle in
``domain.contract``, money in ``domain.contract_money``, use-first-pay-later
in ``domain.contract_ufpl``); all its events stay in ``domain.contract`` so
one class lists every event a contract stream can hold. This module holds
what the mixins share: the status, the attributes they read, and the guards.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.errors import require, rule
from domain.serialisable import domain_enum
from domain.ufpl import UFPL_NO_PAYMENT_DURING_TRIAL

if TYPE_CHECKING:
    from domain.contract_terms import ContractTerms, Registration
    from domain.payment_terms import PaymentTerms
    from domain.settlement import Settlement
    from domain.ufpl import RevenueReport, UfplStage, UfplTrigger

G = "contract"

CONTRACT_STATUS_ALLOWS = rule(
    "contract_status_allows",
    "A command runs only in the statuses its step allows (drafted → signed → in force → "
    "completed, terminated or expired); the error names the current status.",
    group=G,
)

CONTRACT_DATES_IN_ORDER = rule(
    "contract_dates_in_order",
    "Each step is dated on or after the step before it: signing after drafting, registration "
    "after signing, taking effect after signing and within the licence term, the end after "
    "taking effect, a correction after the registration it corrects.",
    group=G,
)

CONTRACT_END_REASON_REQUIRED = rule(
    "contract_end_reason_required",
    "A termination or a licence return states its reason.",
    group=G,
)

REPORTED_AMOUNT_NOT_NEGATIVE = rule(
    "reported_amount_not_negative",
    "A reported royalty base or licensee revenue is whole fen, not negative.",
    group=G,
)


@domain_enum
class ContractStatus(StrEnum):
    drafted = "drafted"
    signed = "signed"
    in_force = "in_force"
    completed = "completed"
    terminated = "terminated"
    expired = "expired"


ENDED = frozenset({ContractStatus.completed, ContractStatus.terminated, ContractStatus.expired})
PAYING = frozenset({ContractStatus.in_force, *ENDED})  # a debt survives the contract's end


class ContractState:
    """The attributes every part of the contract reads (set by ``TechnologyContract``)."""

    terms: ContractTerms
    drafted_on: date
    status: ContractStatus
    signed_on: date | None
    effective_on: date | None
    ended_on: date | None
    end_reason: str | None
    registration: Registration | None
    registration_history: tuple[Registration, ...]
    settlement: Settlement
    pays_from: date | None  # the date payments count from: effect, or UFPL conversion
    milestones_reached: dict[str, date]
    ufpl_stage: UfplStage | None
    conversion: tuple[UfplTrigger, date, date] | None  # trigger, met on, converted on
    paid_terms_history: tuple[PaymentTerms, ...]
    revenue_reports: tuple[RevenueReport, ...]

    def _require_status(self, *allowed: ContractStatus) -> None:
        require(
            self.status in allowed,
            CONTRACT_STATUS_ALLOWS,
            "status",
            f"the contract is {self.status}; this needs {' or '.join(allowed)}",
            zh=f"合同状态为 {self.status}；此操作须为 {' 或 '.join(allowed)}",
        )

    def _require_date(self, on: date, previous: date | None, field: str) -> None:
        require(
            previous is None or on >= previous,
            CONTRACT_DATES_IN_ORDER,
            field,
            f"{on} is before {previous}",
            zh=f"{on} 早于 {previous}",
        )

    def _require_taken_effect(self) -> None:
        require(
            self.effective_on is not None,
            CONTRACT_STATUS_ALLOWS,
            "status",
            f"the contract is {self.status} and never took effect",
            zh=f"合同状态为 {self.status}，从未生效",
        )

    def _require_paying(self, field: str) -> None:
        self._require_status(*PAYING)
        self._require_taken_effect()
        require(
            self.pays_from is not None,
            UFPL_NO_PAYMENT_DURING_TRIAL,
            field,
            f"UFPL stage is {self.ufpl_stage}: nothing falls due",
            zh=f"先使用后付费阶段为 {self.ufpl_stage}：不产生到期款项",
        )
