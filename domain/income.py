"""The income book of one contract or achievement: deductions recorded, receipts distributed.

Net income (净收入) is a receipt minus the deductions recorded against the
contract or its achievements (taxes of the deal, patent fees, valuation and
agency costs). A deduction is recorded once, when it is incurred, and used
once: by the next receipt allocated, or, if it arrives after the last
allocation, by an adjustment of that allocation (new entries, nothing
edited). This aggregate remembers which deductions were used where, and the
cumulative income of a contract so that tiered policies apply the right tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.allocation import Deduction, DeductionCategory
from domain.errors import require, rule
from domain.serialisable import value_object

G = "income"

DEDUCTION_RECORDED_ONCE = rule(
    "deduction_recorded_once",
    "A deduction's reference is recorded once per contract or achievement, so a retried "
    "command cannot deduct the same cost twice.",
    group=G,
)
DEDUCTION_POSITIVE = rule(
    "deduction_positive",
    "A deduction is a positive number of fen with a non-blank description.",
    group=G,
)
DEDUCTION_REVERSAL_NAMES_DEDUCTION = rule(
    "deduction_reversal_names_deduction",
    "A reversal names the reference of a deduction recorded in the same income book (the "
    "subject's and institution's).",
    group=G,
)
DEDUCTION_REVERSED_ONCE = rule(
    "deduction_reversed_once",
    "A deduction recorded in error is reversed once, with a non-blank reason, on or after the "
    "day it was incurred; a reversed deduction counts in no net income (a distribution that "
    "used it is adjusted with delta lines).",
    group=G,
)
RECEIPT_DISTRIBUTED_ONCE = rule(
    "receipt_distributed_once",
    "Each receipt of a contract is distributed once; later deductions adjust that distribution.",
    source="促进科技成果转化法 第45条",
    group=G,
)

INCOME_NAMESPACE = uuid5(NAMESPACE_URL, "https://ttledger.dev/income-book")


@value_object
@dataclass(frozen=True)
class RecordedDeduction:
    reference: str
    category: DeductionCategory
    amount_fen: int
    incurred_on: date
    description: str

    def as_deduction(self) -> Deduction:
        return Deduction(self.category, self.amount_fen, self.description, self.reference)


class IncomeBook(Aggregate):
    """One per institution and contract or achievement; its id derives from both.

    ``snapshot_shape`` 2: reversals (``reversed``), which an older snapshot lacks (it is replayed).

    Keyed by institution too because an achievement changes owner: the patent
    fees a university paid before assigning it stay in the university's book.
    """

    snapshot_shape = 2

    @staticmethod
    def id_for(subject_id: UUID, institution_id: UUID) -> UUID:
        return uuid5(INCOME_NAMESPACE, f"{subject_id}:{institution_id}")

    @event("Opened")
    def __init__(self, id: UUID, subject_id: UUID, subject_kind: str, institution_id: UUID) -> None:
        self.subject_id = subject_id
        self.subject_kind = subject_kind  # "contract" or "achievement"
        self.institution_id = institution_id
        self.deductions: tuple[RecordedDeduction, ...] = ()
        self.used: dict[str, UUID] = {}  # deduction reference -> distribution that used it
        self.receipts: dict[str, UUID] = {}  # receipt id -> distribution
        self.net_distributed_fen = 0
        self.reversed: frozenset[str] = frozenset()

    @classmethod
    def open(cls, subject_id: UUID, subject_kind: str, institution_id: UUID) -> IncomeBook:
        return cls(id=cls.id_for(subject_id, institution_id), subject_id=subject_id, subject_kind=subject_kind,
                   institution_id=institution_id)

    def record_deduction(self, reference: str, category: DeductionCategory, amount_fen: int,
                         incurred_on: date, description: str) -> RecordedDeduction:
        require(reference.strip() != "" and all(d.reference != reference for d in self.deductions),
                DEDUCTION_RECORDED_ONCE, "reference", f"{reference!r} is blank or recorded already",
                zh=f"{reference!r} 为空白或已记录")
        require(isinstance(amount_fen, int) and amount_fen > 0, DEDUCTION_POSITIVE, "amount_fen",
                f"{amount_fen!r} is not a positive number of fen",
                zh=f"{amount_fen!r} 不是正的金额（分）")
        require(description.strip() != "", DEDUCTION_POSITIVE, "description", "description is blank",
                zh="说明为空白")
        deduction = RecordedDeduction(reference, category, amount_fen, incurred_on, description.strip())
        self._deduction_recorded(deduction=deduction)
        return deduction

    def unused(self) -> list[RecordedDeduction]:
        return [d for d in self.deductions if d.reference not in self.used and d.reference not in self.reversed]

    def reverse_deduction(self, reference: str, reversed_on: date, reason: str) -> RecordedDeduction:
        """Reverse a deduction recorded in error (the caller adjusts the distribution that used it)."""
        found = [d for d in self.deductions if d.reference == reference]
        require(bool(found), DEDUCTION_REVERSAL_NAMES_DEDUCTION, "reference",
                f"no deduction {reference!r} is recorded in this income book",
                zh=f"本收入账中没有记录扣除项 {reference!r}")
        deduction = found[0]
        require(reference not in self.reversed, DEDUCTION_REVERSED_ONCE, "reference",
                f"deduction {reference!r} was reversed already", zh=f"扣除项 {reference!r} 已冲销")
        require(reason.strip() != "", DEDUCTION_REVERSED_ONCE, "reason", "the reason is blank",
                zh="理由为空白")
        require(reversed_on >= deduction.incurred_on, DEDUCTION_REVERSED_ONCE, "reversed_on",
                f"{reversed_on} is before the deduction was incurred on {deduction.incurred_on}",
                zh=f"{reversed_on} 早于扣除发生之日 {deduction.incurred_on}")
        self._deduction_reversed(deduction=deduction, reversed_on=reversed_on, reason=reason.strip(),
                                 distribution_id=self.used.get(reference))
        return deduction

    def check_receipt_new(self, receipt_id: str) -> None:
        require(receipt_id not in self.receipts, RECEIPT_DISTRIBUTED_ONCE, "receipt_id",
                f"receipt {receipt_id!r} was distributed already", zh=f"收款 {receipt_id!r} 已分配")

    def use(self, references: list[str], distribution_id: UUID, receipt_id: str | None = None,
            net_fen: int = 0) -> None:
        """Mark deductions used by a distribution (and, for a contract, the receipt distributed)."""
        self._used(references=references, distribution_id=distribution_id, receipt_id=receipt_id,
                   net_fen=net_fen)

    @event("DeductionRecorded")
    def _deduction_recorded(self, deduction: RecordedDeduction) -> None:
        self.deductions = (*self.deductions, deduction)

    @event("DeductionsUsed")
    def _used(self, references: list[str], distribution_id: UUID, receipt_id: str | None,
              net_fen: int) -> None:
        self.used = {**self.used, **dict.fromkeys(references, distribution_id)}
        if receipt_id is not None:
            self.receipts = {**self.receipts, receipt_id: distribution_id}
        self.net_distributed_fen += net_fen

    @event("DeductionReversed")
    def _deduction_reversed(self, deduction: RecordedDeduction, reversed_on: date, reason: str,
                            distribution_id: UUID | None) -> None:
        self.reversed = self.reversed | {deduction.reference}
