"""Income distribution of one receipt (收益分配) and the payment of its awards.

``IncomeDistribution`` is one aggregate per receipt allocated. Its id is
derived from the receipt, ``uuid5(DISTRIBUTION_NAMESPACE,
f"{contract_id}:{receipt_id}")``, so a second allocation of the same receipt
is a second creation of the same stream, which the event store refuses
(optimistic concurrency on version 1).

It records the allocation (lines per beneficiary and per inventor, exact to
the fen), adjustments when a deduction arrives later (delta lines, never an
edit), award payments, possibly in parts (never more than allocated and
unpaid), and public notices of the recipients (公示; a pack may require a
minimum period, e.g. Zhejiang Art. 39: 15 days).

The tax notice 财税〔2018〕58号 taxes cash awards of non-profit research
institutes and universities on 50% of the amount only if the contract holds
a registration certificate (认定登记), the award is paid within 36 months of
receiving the income, and the recipients were publicly noticed. The
deadline is ``received_on`` plus 36 calendar months (month end clamped:
2024-02-29 -> 2027-02-28); a payment on the deadline is in time.

Money in events (integer fen), for the journal:

- ``IncomeDistribution.Allocated``: ``gross_fen``; ``net_income.net_fen``;
  ``allocation.lines[*]`` = ``AllocationLine(beneficiary, inventor, amount_fen)``
  with ``key``; the lines sum to ``allocation.net_fen`` == ``net_income.net_fen``.
- ``IncomeDistribution.Adjusted``: ``adjustment.lines[*].amount_fen`` are
  deltas (negative when a deduction lowers the net) summing to
  ``adjustment.delta_fen`` == ``adjustment.net_fen - adjustment.previous_net_fen``;
  ``net_income`` is the revised net income, ``deductions`` the new ones.
- ``IncomeDistribution.AwardPaid``: ``key``, ``beneficiary``, ``inventor``,
  ``amount_fen``, ``paid_on``, ``payment_id``, ``within_deadline``.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.allocation import (
    DEDUCTION_AMOUNT_POSITIVE,
    AllocationAdjustment,
    AllocationLine,
    Deduction,
    IncomeAllocation,
    NetIncome,
    TeamInput,
    allocate,
    check_deductions,
    net_income,
    reallocate_delta,
)
from domain.distribution import (
    DISTRIBUTION_POLICY_IN_FORCE,
    BeneficiaryKind,
    PolicyVersion,
)
from domain.errors import require, rule
from domain.rule_packs import RULE_PACK_IN_FORCE, RulePackVersion
from domain.serialisable import domain_enum, value_object

G = "distribution"
TAX_RELIEF_MONTHS = 36
TAX_NOTICE = "财税〔2018〕58号"

INCOME_RECEIPT_IDENTIFIED = rule(
    "income_receipt_identified",
    "An income distribution names its contract and a non-blank receipt id; one receipt is "
    "allocated once (the distribution's id is derived from both).",
    group=G,
)
DISTRIBUTION_PACK_MATCHES_POLICY = rule(
    "distribution_pack_matches_policy",
    "A receipt is judged by a version of the same rule pack that its policy version was "
    "adopted under; an institution changing pack adopts a new policy version.",
    group=G,
)
INCOME_ALLOCATION_CONSISTENT = rule(
    "income_allocation_consistent",
    "An allocation given with a receipt is exactly the one its net income, policy version, "
    "inventors and cumulative position produce.",
    group=G,
)
AWARD_REFERENCE_UNIQUE = rule(
    "award_reference_unique",
    "A payment, adjustment or notice id is non-blank and used once per distribution, so a "
    "retried command cannot record twice.",
    group=G,
)
AWARD_BENEFICIARY_KNOWN = rule(
    "award_beneficiary_known",
    "A payment or notice names a line (beneficiary or inventor) of the distribution.",
    group=G,
)
AWARD_PAYMENT_POSITIVE = rule(
    "award_payment_positive",
    "An award payment is a positive number of fen.",
    group=G,
)
AWARD_PAYMENT_WITHIN_UNPAID = rule(
    "award_payment_within_unpaid",
    "An award payment is at most what is allocated to that line and not yet paid.",
    group=G,
)
AWARD_DATES_AFTER_RECEIPT = rule(
    "award_dates_after_receipt",
    "Payments, adjustments and notices of a distribution are dated on or after the receipt.",
    group=G,
)
AWARD_NOTICE_MIN_DAYS = rule(
    "award_notice_min_days",
    "A public notice of award recipients ends on or after its start and, where the rule pack "
    "requires a notice, lasts at least its minimum number of days (both ends counted).",
    source="浙江省促进科技成果转化条例 第39条 (≥ 15 days)",
    group=G,
)

RECOVERY_RAISED_WHEN_OVERPAID = rule(
    "recovery_raised_when_overpaid",
    "An adjustment that leaves a line paid beyond its allocation raises a named recovery of the "
    "excess from that beneficiary (an amount owed back), never a negative payment; an adjustment "
    "that raises the line again first settles what is still to recover (an offset).",
    group=G,
)
RECOVERY_OUTSTANDING = rule(
    "recovery_outstanding",
    "A repayment or offset of a recovery names a line with a recovery outstanding, is a positive "
    "number of fen at most what is outstanding, and is dated on or after the recovery was raised.",
    group=G,
)
RECOVERY_OFFSET_SAME_BENEFICIARY = rule(
    "recovery_offset_same_beneficiary",
    "A recovery is offset only against an unpaid award to the same beneficiary (the same line "
    "key) of a distribution of the same institution, dated on or after that receipt.",
    group=G,
)


@domain_enum
class DeadlineStatus(StrEnum):
    """36个月期限状态: 按期付清, 未付（期限内）, 逾期未付, 逾期付清."""

    paid_in_time = "paid_in_time"
    open = "open"
    overdue = "overdue"
    paid_late = "paid_late"


@value_object
@dataclass(frozen=True)
class AwardPayment:
    payment_id: str
    key: str
    amount_fen: int
    paid_on: date
    within_deadline: bool


@value_object
@dataclass(frozen=True)
class AwardNotice:
    """公示 of recipients within the institution, ``starts_on`` to ``ends_on`` inclusive."""

    notice_id: str
    starts_on: date
    ends_on: date
    recipients: tuple[str, ...]

    @property
    def days(self) -> int:
        return (self.ends_on - self.starts_on).days + 1


@value_object
@dataclass(frozen=True)
class Recovery:
    """An award paid beyond what an adjustment left allocated: owed back by the beneficiary."""

    recovery_id: str  # "<adjustment id>:<line key>"
    key: str
    beneficiary: BeneficiaryKind
    inventor: str | None
    amount_fen: int
    raised_on: date
    adjustment_id: str


@dataclass(frozen=True)
class TaxRelief:
    """Query result: whether a line's cash award qualifies for 财税〔2018〕58号 (50% taxed)."""

    key: str
    eligible: bool
    eligible_fen: int  # paid within the 36 months (and by ``as_of``)
    late_fen: int  # paid after the deadline: taxed in full
    unpaid_fen: int
    reasons: tuple[str, ...]  # the conditions not met


def add_months(start: date, months: int) -> date:
    """``start`` plus calendar months; a day past the month's end becomes its last day."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def tax_relief_deadline(received_on: date) -> date:
    return add_months(received_on, TAX_RELIEF_MONTHS)


# A fixed namespace: distribution ids derive from (contract id, receipt id).
DISTRIBUTION_NAMESPACE = UUID("5d2a7c40-91e3-5b8f-a6c4-2e0f7b13d958")

INDIVIDUAL = frozenset({BeneficiaryKind.inventor_team})


class IncomeDistribution(Aggregate):
    """The distribution of one receipt's net income, and the awards paid from it."""

    # 2: recoveries (``raised``, ``recovered``), which a snapshot taken before them lacks
    # (ledger/snapshots.py ignores it and replays).
    snapshot_shape = 2

    @staticmethod
    def id_for(contract_id: UUID, receipt_id: str) -> UUID:
        return uuid5(DISTRIBUTION_NAMESPACE, f"{contract_id}:{receipt_id}")

    @event("Allocated")
    def __init__(
        self,
        id: UUID,
        contract_id: UUID,
        receipt_id: str,
        institution_id: UUID,
        received_on: date,
        deadline_on: date,
        gross_fen: int,
        deductions: list[Deduction],
        pack: RulePackVersion,
        net_income: NetIncome,
        allocation: IncomeAllocation,
    ) -> None:
        self.contract_id = contract_id
        self.receipt_id = receipt_id
        self.institution_id = institution_id
        self.received_on = received_on
        self.deadline_on = deadline_on
        self.gross_fen = gross_fen
        self.deductions: tuple[Deduction, ...] = tuple(deductions)
        self.pack = pack
        self.net_income = net_income
        self.allocation = allocation
        self.allocated: dict[str, int] = allocation.amounts()
        self.lines: dict[str, tuple[BeneficiaryKind, str | None]] = {
            line.key: (line.beneficiary, line.inventor) for line in allocation.lines
        }
        self.paid: dict[str, int] = {}
        self.payments: tuple[AwardPayment, ...] = ()
        self.notices: tuple[AwardNotice, ...] = ()
        self.adjustments: tuple[str, ...] = ()
        self.references: frozenset[str] = frozenset()
        self.recoveries: tuple[Recovery, ...] = ()
        self.raised: dict[str, int] = {}  # line key -> fen moved from paid into recoveries
        self.recovered: dict[str, int] = {}  # line key -> fen repaid or offset

    @classmethod
    def allocate(
        cls,
        *,
        contract_id: UUID,
        receipt_id: str,
        institution_id: UUID,
        received_on: date,
        gross_fen: int,
        deductions: Sequence[Deduction],
        pack: RulePackVersion,
        policy: PolicyVersion,
        inventors: TeamInput = (),
        cumulative_before_fen: int = 0,
        allocation: IncomeAllocation | None = None,
    ) -> IncomeDistribution:
        """Allocate one receipt: net income under ``pack``, split by ``policy``.

        ``pack`` is the rule pack in force on ``received_on`` (the institution's
        choice of pack for that date), ``policy`` the institution's policy
        version in force on that date, ``cumulative_before_fen`` the net income
        already allocated under the contract. ``allocation``, when given, must
        be what ``allocate`` computes from these; otherwise it is computed.
        """
        require(
            bool(receipt_id.strip()),
            INCOME_RECEIPT_IDENTIFIED,
            "receipt_id",
            "the receipt id is blank",
            zh="收款编号为空白",
        )
        require(
            pack.in_force_on(received_on),
            RULE_PACK_IN_FORCE,
            "pack",
            f"{pack.pack_id} {pack.version} ({pack.source}) is not in force on {received_on}",
            zh=f"{pack.pack_id} {pack.version}（{pack.source}）在 {received_on} 不是有效版本",
        )
        require(
            policy.effective_from <= received_on,
            DISTRIBUTION_POLICY_IN_FORCE,
            "policy",
            f"policy version {policy.version_label!r} takes effect on {policy.effective_from}, "
            f"after the receipt on {received_on}",
            zh=f"政策版本 {policy.version_label!r} 于 {policy.effective_from} 生效，晚于 {received_on} 的收款",
        )
        require(
            pack.pack_id == policy.pack.pack_id,
            DISTRIBUTION_PACK_MATCHES_POLICY,
            "pack",
            f"the receipt is judged by the {pack.pack_id} pack but policy version "
            f"{policy.version_label!r} was adopted under the {policy.pack.pack_id} pack",
            zh=f"收款按 {pack.pack_id} 规则包判断，但政策版本 {policy.version_label!r} 采用的是 {policy.pack.pack_id} 规则包",
        )
        net = net_income(gross_fen, deductions, pack)
        computed = allocate(net.net_fen, policy, inventors, cumulative_before_fen, pack=pack)
        require(
            allocation is None or allocation == computed,
            INCOME_ALLOCATION_CONSISTENT,
            "allocation",
            "the allocation given differs from the one computed from the receipt "
            f"(net {net.net_fen} fen, policy {policy.version_label!r})",
            zh=f"提交的分配结果与按收款计算的结果不同（净收入 {net.net_fen} 分，政策 {policy.version_label!r}）",
        )
        return cls(
            id=cls.id_for(contract_id, receipt_id),
            contract_id=contract_id,
            receipt_id=receipt_id,
            institution_id=institution_id,
            received_on=received_on,
            deadline_on=tax_relief_deadline(received_on),
            gross_fen=gross_fen,
            deductions=list(deductions),
            pack=pack,
            net_income=net,
            allocation=computed,
        )

    # --- commands ---------------------------------------------------------------------

    def adjust(
        self, adjustment_id: str, deductions: Sequence[Deduction], recorded_on: date
    ) -> AllocationAdjustment:
        """Record deductions that arrived after the allocation; delta lines follow."""
        self._new_reference(adjustment_id, "adjustment_id")
        require(
            bool(deductions),
            DEDUCTION_AMOUNT_POSITIVE,
            "deductions",
            "an adjustment adds at least one deduction",
            zh="调整须至少增加一项扣除",
        )
        check_deductions(deductions)
        self._on_or_after_receipt(recorded_on, "recorded_on")
        revised = net_income(self.gross_fen, [*self.deductions, *deductions], self.pack)
        adjustment = reallocate_delta(self.allocation, revised.net_fen)
        self._adjusted(
            adjustment_id=adjustment_id,
            recorded_on=recorded_on,
            deductions=list(deductions),
            net_income=revised,
            adjustment=adjustment,
        )
        self._raise_recoveries(adjustment_id, recorded_on)
        return adjustment

    def reverse_deduction(
        self, adjustment_id: str, deduction: Deduction, recorded_on: date, reason: str
    ) -> AllocationAdjustment:
        """Take out a deduction reversed in its income book: net income rises, lines grow (deltas).

        A line that grows while a recovery on it is outstanding first settles the recovery
        (an offset within this distribution); anything left is unpaid as usual.
        """
        from domain.income import DEDUCTION_REVERSAL_NAMES_DEDUCTION

        self._new_reference(adjustment_id, "adjustment_id")
        require(
            deduction in self.deductions,
            DEDUCTION_REVERSAL_NAMES_DEDUCTION,
            "reference",
            f"deduction {deduction.reference!r} was not used by this distribution",
            zh=f"扣除项 {deduction.reference!r} 未被本次分配使用",
        )
        self._on_or_after_receipt(recorded_on, "recorded_on")
        remaining = list(self.deductions)
        remaining.remove(deduction)
        revised = net_income(self.gross_fen, remaining, self.pack)
        adjustment = reallocate_delta(self.allocation, revised.net_fen)
        self._deduction_reversed(
            adjustment_id=adjustment_id,
            recorded_on=recorded_on,
            deduction=deduction,
            reason=reason,
            net_income=revised,
            adjustment=adjustment,
        )
        for key in self.lines:
            settle = min(self.unpaid_fen(key), self.recovery_outstanding_fen(key))
            if settle > 0:
                self._offset(self, key, settle, recorded_on, f"{adjustment_id}:offset:{key}")
        self._raise_recoveries(adjustment_id, recorded_on)
        return adjustment

    def repay_recovery(self, key: str, amount_fen: int, repaid_on: date, reference: str) -> None:
        """The beneficiary paid back (part of) what is to be recovered on line ``key``."""
        self._new_reference(reference, "reference")
        self._check_recovery(key, amount_fen, repaid_on, "repaid_on")
        self._recovery_repaid(key=key, amount_fen=amount_fen, repaid_on=repaid_on, reference=reference)

    def offset_recovery(
        self, key: str, amount_fen: int, offset_on: date, offset_id: str, against: IncomeDistribution
    ) -> None:
        """Settle (part of) a recovery on line ``key`` by withholding it from ``against``'s award
        to the same beneficiary: that award counts as paid by the offset, no cash moves."""
        self._new_reference(offset_id, "offset_id")
        if against is not self:
            against._new_reference(offset_id, "offset_id")
        self._check_recovery(key, amount_fen, offset_on, "offset_on")
        require(
            against.institution_id == self.institution_id and key in against.lines,
            RECOVERY_OFFSET_SAME_BENEFICIARY,
            "against_distribution_id",
            f"distribution {against.id} has no line {key!r} of institution {self.institution_id}",
            zh=f"分配 {against.id} 中没有机构 {self.institution_id} 的行 {key!r}",
        )
        require(
            offset_on >= against.received_on,
            RECOVERY_OFFSET_SAME_BENEFICIARY,
            "offset_on",
            f"{offset_on} is before the receipt of {against.id} on {against.received_on}",
            zh=f"{offset_on} 早于 {against.id} 的收款日 {against.received_on}",
        )
        unpaid = against.unpaid_fen(key)
        require(
            amount_fen <= unpaid,
            AWARD_PAYMENT_WITHIN_UNPAID,
            "amount_fen",
            f"{amount_fen} fen exceeds the {unpaid} fen allocated to {key} by {against.id} and not yet paid",
            zh=f"{amount_fen} 分超过 {against.id} 分配给 {key} 而尚未支付的 {unpaid} 分",
        )
        self._offset(against, key, amount_fen, offset_on, offset_id)

    def _offset(self, against: IncomeDistribution, key: str, amount_fen: int, on: date, offset_id: str) -> None:
        beneficiary, inventor = against.lines[key]
        against._award_offset(
            key=key,
            beneficiary=beneficiary,
            inventor=inventor,
            amount_fen=amount_fen,
            offset_on=on,
            offset_id=offset_id,
            recovery_distribution_id=self.id,
            within_deadline=on <= against.deadline_on,
        )
        self._recovery_offset(
            key=key, amount_fen=amount_fen, offset_on=on, offset_id=offset_id, against_distribution_id=against.id
        )

    def _check_recovery(self, key: str, amount_fen: int, on: date, field: str) -> None:
        outstanding = self.recovery_outstanding_fen(key)
        require(outstanding > 0, RECOVERY_OUTSTANDING, "key", f"no recovery is outstanding on line {key!r}",
                zh=f"行 {key!r} 没有未结的追回款")
        require(
            isinstance(amount_fen, int) and not isinstance(amount_fen, bool) and 0 < amount_fen <= outstanding,
            RECOVERY_OUTSTANDING,
            "amount_fen",
            f"{amount_fen!r} is not a positive number of fen at most the {outstanding} fen to recover from {key}",
            zh=f"{amount_fen!r} 须为正的金额（分），且不超过应从 {key} 追回的 {outstanding} 分",
        )
        first = min(r.raised_on for r in self.recoveries if r.key == key)
        require(on >= first, RECOVERY_OUTSTANDING, field, f"{on} is before the recovery was raised on {first}",
                zh=f"{on} 早于追回发起之日 {first}")

    def _raise_recoveries(self, adjustment_id: str, on: date) -> None:
        """Rule ``recovery_raised_when_overpaid``: every line paid beyond its allocation."""
        for key, (beneficiary, inventor) in list(self.lines.items()):
            over = -self.unpaid_fen(key)
            if over > 0:
                self._recovery_raised(recovery=Recovery(
                    f"{adjustment_id}:{key}", key, beneficiary, inventor, over, on, adjustment_id))
            require(self.unpaid_fen(key) >= 0, RECOVERY_RAISED_WHEN_OVERPAID, "key",
                    f"line {key!r} is left paid beyond its allocation",
                    zh=f"行 {key!r} 调整后的已付金额将超过其分配额")

    def pay_award(self, key: str, amount_fen: int, paid_on: date, payment_id: str) -> None:
        """Pay (part of) the award of line ``key`` (``inventor:<name>`` or a beneficiary code)."""
        self._new_reference(payment_id, "payment_id")
        require(key in self.lines, AWARD_BENEFICIARY_KNOWN, "key", f"no line {key!r}",
                zh=f"没有行 {key!r}")
        require(
            isinstance(amount_fen, int) and not isinstance(amount_fen, bool) and amount_fen > 0,
            AWARD_PAYMENT_POSITIVE,
            "amount_fen",
            f"{amount_fen!r} is not a positive number of fen",
            zh=f"{amount_fen!r} 不是正的金额（分）",
        )
        unpaid = self.unpaid_fen(key)
        require(
            amount_fen <= unpaid,
            AWARD_PAYMENT_WITHIN_UNPAID,
            "amount_fen",
            f"{amount_fen} fen exceeds the {unpaid} fen allocated to {key} and not yet paid",
            zh=f"{amount_fen} 分超过分配给 {key} 而尚未支付的 {unpaid} 分",
        )
        self._on_or_after_receipt(paid_on, "paid_on")
        beneficiary, inventor = self.lines[key]
        self._award_paid(
            key=key,
            beneficiary=beneficiary,
            inventor=inventor,
            amount_fen=amount_fen,
            paid_on=paid_on,
            payment_id=payment_id,
            within_deadline=paid_on <= self.deadline_on,
        )

    def publish_notice(
        self,
        notice_id: str,
        starts_on: date,
        ends_on: date,
        recipients: Sequence[str] | None = None,
    ) -> None:
        """Record a public notice (公示) of the recipients (default: every line with an amount)."""
        self._new_reference(notice_id, "notice_id")
        self._on_or_after_receipt(starts_on, "starts_on")
        required = self.pack.notice
        min_days = required.min_days if required.required else 1
        days = (ends_on - starts_on).days + 1
        require(
            days >= max(min_days, 1),
            AWARD_NOTICE_MIN_DAYS,
            "ends_on",
            f"the notice lasts {days} days; "
            + (
                f"{required.source or self.pack.source} requires at least {min_days}"
                if required.required
                else "it must end on or after its start"
            ),
            zh=f"公示期为 {days} 天；" + (f"{required.source or self.pack.source} 要求至少 {min_days} 天" if required.required else "结束日不得早于开始日"),
        )
        chosen = (
            [k for k, fen in self.allocated.items() if fen > 0]
            if recipients is None
            else list(recipients)
        )
        for i, key in enumerate(chosen):
            require(
                key in self.lines, AWARD_BENEFICIARY_KNOWN, f"recipients[{i}]", f"no line {key!r}",
                zh=f"没有行 {key!r}"
            )
        self._notice_published(
            notice=AwardNotice(notice_id, starts_on, ends_on, tuple(chosen)),
        )

    # --- queries ----------------------------------------------------------------------

    @property
    def lines_in_order(self) -> tuple[AllocationLine, ...]:
        return self.allocation.lines

    def unpaid_fen(self, key: str) -> int:
        """Allocated less paid (cash and offsets), plus what was moved out of paid into a recovery."""
        return self.allocated.get(key, 0) - self.paid.get(key, 0) + self.raised.get(key, 0)

    def overpaid(self) -> dict[str, int]:
        """Lines paid beyond their allocation and not yet raised as a recovery (none after a command)."""
        return {k: -self.unpaid_fen(k) for k in self.lines if self.unpaid_fen(k) < 0}

    def recovery_outstanding_fen(self, key: str) -> int:
        """Fen still owed back by the beneficiary of line ``key`` (raised, not repaid or offset)."""
        return self.raised.get(key, 0) - self.recovered.get(key, 0)

    def outstanding_recoveries(self) -> dict[str, int]:
        return {k: self.recovery_outstanding_fen(k) for k in self.raised if self.recovery_outstanding_fen(k) > 0}

    def deadline_status(self, as_of: date) -> dict[str, DeadlineStatus]:
        """Per line with an amount: paid in time, open, overdue or paid late (36 months)."""
        status: dict[str, DeadlineStatus] = {}
        for key, allocated in self.allocated.items():
            if allocated <= 0:
                continue
            payments = [p for p in self.payments if p.key == key and p.paid_on <= as_of]
            paid = sum(p.amount_fen for p in payments)
            if paid >= allocated:
                late = any(not p.within_deadline for p in payments)
                status[key] = DeadlineStatus.paid_late if late else DeadlineStatus.paid_in_time
            else:
                status[key] = (
                    DeadlineStatus.overdue if as_of > self.deadline_on else DeadlineStatus.open
                )
        return status

    def noticed(self, key: str, as_of: date) -> bool:
        """A notice naming ``key`` had run its full period by ``as_of``."""
        return any(key in n.recipients and n.ends_on <= as_of for n in self.notices)

    def tax_relief_eligible(self, as_of: date, contract_registered: bool) -> dict[str, TaxRelief]:
        """Per line: whether its cash award qualifies for 财税〔2018〕58号, and how much of it."""
        public = self.allocation.policy.bound_by_floor
        result: dict[str, TaxRelief] = {}
        for key, allocated in self.allocated.items():
            beneficiary, _ = self.lines[key]
            payments = [p for p in self.payments if p.key == key and p.paid_on <= as_of]
            in_time = sum(p.amount_fen for p in payments if p.within_deadline)
            late = sum(p.amount_fen for p in payments if not p.within_deadline)
            reasons: list[str] = []
            if beneficiary not in INDIVIDUAL:
                reasons.append(f"{beneficiary} is not an award to individuals")
            if not public:
                reasons.append(
                    "the institution is not a non-profit research institute or university"
                )
            if not contract_registered:
                reasons.append("the contract holds no registration certificate (认定登记)")
            if not self.noticed(key, as_of):
                reasons.append("the recipient has not been publicly noticed (公示)")
            if in_time == 0:
                reasons.append(
                    f"nothing was paid within {TAX_RELIEF_MONTHS} months "
                    f"(by {self.deadline_on}) of receiving the income"
                )
            result[key] = TaxRelief(
                key=key,
                eligible=not reasons,
                eligible_fen=in_time if not reasons else 0,
                late_fen=late,
                unpaid_fen=max(allocated - in_time - late, 0),
                reasons=tuple(reasons),
            )
        return result

    # --- checks -----------------------------------------------------------------------

    def _new_reference(self, reference: str, field: str) -> None:
        require(
            bool(reference.strip()) and reference not in self.references,
            AWARD_REFERENCE_UNIQUE,
            field,
            f"{reference!r} is blank or already used",
            zh=f"编号 {reference!r} 为空白或已使用",
        )

    def _on_or_after_receipt(self, on: date, field: str) -> None:
        require(
            on >= self.received_on,
            AWARD_DATES_AFTER_RECEIPT,
            field,
            f"{on} is before the receipt on {self.received_on}",
            zh=f"{on} 早于收款日 {self.received_on}",
        )

    # --- events -----------------------------------------------------------------------

    @event("Adjusted")
    def _adjusted(
        self,
        adjustment_id: str,
        recorded_on: date,
        deductions: list[Deduction],
        net_income: NetIncome,
        adjustment: AllocationAdjustment,
    ) -> None:
        self.references = self.references | {adjustment_id}
        self.adjustments = (*self.adjustments, adjustment_id)
        self.deductions = (*self.deductions, *deductions)
        self.net_income = net_income
        self.allocation = adjustment.revised
        self.allocated = adjustment.revised.amounts()
        for line in adjustment.revised.lines:
            self.lines.setdefault(line.key, (line.beneficiary, line.inventor))

    @event("AwardPaid")
    def _award_paid(
        self,
        key: str,
        beneficiary: BeneficiaryKind,
        inventor: str | None,
        amount_fen: int,
        paid_on: date,
        payment_id: str,
        within_deadline: bool,
    ) -> None:
        self.references = self.references | {payment_id}
        self.paid[key] = self.paid.get(key, 0) + amount_fen
        self.payments = (
            *self.payments,
            AwardPayment(payment_id, key, amount_fen, paid_on, within_deadline),
        )

    @event("NoticePublished")
    def _notice_published(self, notice: AwardNotice) -> None:
        self.references = self.references | {notice.notice_id}
        self.notices = (*self.notices, notice)

    @event("DeductionReversed")
    def _deduction_reversed(
        self,
        adjustment_id: str,
        recorded_on: date,
        deduction: Deduction,
        reason: str,
        net_income: NetIncome,
        adjustment: AllocationAdjustment,
    ) -> None:
        self.references = self.references | {adjustment_id}
        self.adjustments = (*self.adjustments, adjustment_id)
        remaining = list(self.deductions)
        remaining.remove(deduction)
        self.deductions = tuple(remaining)
        self.net_income = net_income
        self.allocation = adjustment.revised
        self.allocated = adjustment.revised.amounts()
        for line in adjustment.revised.lines:
            self.lines.setdefault(line.key, (line.beneficiary, line.inventor))

    @event("RecoveryRaised")
    def _recovery_raised(self, recovery: Recovery) -> None:
        self.recoveries = (*self.recoveries, recovery)
        self.raised = {**self.raised, recovery.key: self.raised.get(recovery.key, 0) + recovery.amount_fen}

    @event("RecoveryRepaid")
    def _recovery_repaid(self, key: str, amount_fen: int, repaid_on: date, reference: str) -> None:
        self.references = self.references | {reference}
        self.recovered = {**self.recovered, key: self.recovered.get(key, 0) + amount_fen}

    @event("RecoveryOffset")
    def _recovery_offset(
        self, key: str, amount_fen: int, offset_on: date, offset_id: str, against_distribution_id: UUID
    ) -> None:
        self.references = self.references | {offset_id}
        self.recovered = {**self.recovered, key: self.recovered.get(key, 0) + amount_fen}

    @event("AwardOffset")
    def _award_offset(
        self,
        key: str,
        beneficiary: BeneficiaryKind,
        inventor: str | None,
        amount_fen: int,
        offset_on: date,
        offset_id: str,
        recovery_distribution_id: UUID,
        within_deadline: bool,
    ) -> None:
        self.references = self.references | {offset_id}
        self.paid[key] = self.paid.get(key, 0) + amount_fen
        self.payments = (
            *self.payments,
            AwardPayment(offset_id, key, amount_fen, offset_on, within_deadline),
        )
