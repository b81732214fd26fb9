"""Self-implementation (自行实施 / 合作实施): no buyer, awards from operating profit.

An institution implements its own achievement, alone or with a partner, and
reports the operating profit of each year. The money side computes awards
from these reports (Law Art. 45 (3): at least 5% a year for 3-5 years; rule
packs differ on the rate and the years), so this aggregate only records and
exposes them. Profit may be negative: a loss year is a fact the award rules
need (Beijing and Shanghai count from the first profitable year).

One report per year; a correction is a new event that replaces the year's
figure and keeps the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.award import TAX_NOTICE, DeadlineStatus, tax_relief_deadline
from domain.errors import require, rule
from domain.serialisable import value_object

G = "self_implementation"

SELF_IMPLEMENTATION_PARTNER_DISTINCT = rule(
    "self_implementation_partner_distinct",
    "A partner in cooperative implementation (合作实施) is another institution than the owner.",
    group=G,
)
PROFIT_REPORTED_ONCE_PER_YEAR = rule(
    "profit_reported_once_per_year",
    "Operating profit is reported once per year; a later change is a correction of a year "
    "already reported, with its reason.",
    group=G,
)
PROFIT_YEAR_IN_RANGE = rule(
    "profit_year_in_range",
    "A profit report is for a year from the start of implementation up to the year it is "
    "reported in, and not after implementation stopped.",
    group=G,
)
SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR = rule(
    "self_implementation_award_once_per_year",
    "An award from self-implementation profit is allocated once per reported year, and its "
    "inventors' lines add up to it.",
    source="促进科技成果转化法 第45条第3项",
    group=G,
)


@value_object
@dataclass(frozen=True)
class SelfImplementationAward:
    """The award for one year: ``award_fen`` of ``profit_fen``, split among the inventors."""

    year: int
    profit_fen: int
    award_fen: int
    percent: Decimal
    lines: tuple[tuple[str, int], ...]  # (inventor name, fen)
    pack_id: str
    pack_version: str
    allocated_on: date

    @property
    def deadline_on(self) -> date:
        """36 months (财税〔2018〕58号) from the allocation date: when the award was decided."""
        return tax_relief_deadline(self.allocated_on)

    @property
    def deadline_rule(self) -> str:
        """The rule a late payment is flagged by (recorded, never refused)."""
        return SELF_IMPLEMENTATION_AWARD_DEADLINE.name

    def line_fen(self, inventor: str) -> int | None:
        return next((fen for name, fen in self.lines if name == inventor), None)


@value_object
@dataclass(frozen=True)
class SelfImplementationAwardPayment:
    """A payment of (part of) one inventor's line of one year's award."""

    payment_id: str
    year: int
    inventor: str
    amount_fen: int
    paid_on: date
    within_deadline: bool


SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN = rule(
    "self_implementation_award_payment_known",
    "A payment of a self-implementation award names a year whose award is allocated and an "
    "inventor with a line in it, is a positive number of fen, and is dated on or after the "
    "allocation.",
    group=G,
)
SELF_IMPLEMENTATION_AWARD_PAYMENT_WITHIN_UNPAID = rule(
    "self_implementation_award_payment_within_unpaid",
    "A payment of a self-implementation award is at most what is allocated to that inventor for "
    "that year and not yet paid; an award may be paid in parts.",
    group=G,
)
SELF_IMPLEMENTATION_AWARD_PAYMENT_ID_UNIQUE = rule(
    "self_implementation_award_payment_id_unique",
    "A payment id is non-blank and used once per self-implementation, so a retried command "
    "cannot pay twice.",
    group=G,
)
SELF_IMPLEMENTATION_AWARD_DEADLINE = rule(
    "self_implementation_award_deadline",
    "A cash award from self-implementation profit is taxed on 50% of its amount only if paid "
    "within 36 months; for an award from operating profit there is no receipt of income, so the "
    "36 months run from the allocation date, the day the award is decided. Each payment records "
    "whether it was in time; a late payment is recorded and flagged, never refused.",
    source=f"{TAX_NOTICE} (the starting date for operating-profit awards is the ledger's reading)",
    group=G,
)


SELF_IMPLEMENTATION_ACTIVE = rule(
    "self_implementation_active",
    "Implementation stops once, with a reason, on or after it started.",
    group=G,
)


@value_object
@dataclass(frozen=True)
class ProfitReport:
    year: int
    profit_fen: int  # operating profit from the achievement; negative for a loss
    reported_on: date
    correction_reason: str | None = None


class SelfImplementation(Aggregate):
    """An achievement put to use by its own institution (Law Art. 45 (3))."""

    @event("Started")
    def __init__(
        self,
        id: UUID,
        institution_id: UUID,
        achievement_id: UUID,
        partner_id: UUID | None,
        started_on: date,
    ) -> None:
        self.institution_id = institution_id
        self.achievement_id = achievement_id
        self.partner_id = partner_id
        self.started_on = started_on
        self.stopped_on: date | None = None
        self.stop_reason: str | None = None
        self.report_history: tuple[ProfitReport, ...] = ()
        self.awards: tuple[SelfImplementationAward, ...] = ()
        self.award_payments: tuple[SelfImplementationAwardPayment, ...] = ()

    @classmethod
    def start(
        cls,
        *,
        institution_id: UUID,
        achievement_id: UUID,
        started_on: date,
        partner_id: UUID | None = None,
        id: UUID | None = None,
    ) -> SelfImplementation:
        require(
            partner_id != institution_id,
            SELF_IMPLEMENTATION_PARTNER_DISTINCT,
            "partner_id",
            "the partner is the institution itself",
            zh="合作方是机构本身",
        )
        return cls(
            id=id or uuid4(),
            institution_id=institution_id,
            achievement_id=achievement_id,
            partner_id=partner_id,
            started_on=started_on,
        )

    # --- queries -------------------------------------------------------------------

    @property
    def is_cooperative(self) -> bool:
        return self.partner_id is not None

    @property
    def profit_by_year(self) -> dict[int, int]:
        """The current figure of each reported year (corrections applied), by year."""
        figures: dict[int, int] = {}
        for report in self.report_history:
            figures[report.year] = report.profit_fen
        return dict(sorted(figures.items()))

    @property
    def first_profitable_year(self) -> int | None:
        return next((y for y, p in self.profit_by_year.items() if p > 0), None)

    def award_for(self, year: int) -> SelfImplementationAward | None:
        return next((a for a in self.awards if a.year == year), None)

    def paid_fen(self, year: int, inventor: str, as_of: date | None = None) -> int:
        """What is paid of ``inventor``'s line of ``year`` (by ``as_of`` when given)."""
        # getattr: an aggregate restored from a snapshot taken before payments existed
        return sum(p.amount_fen for p in getattr(self, "award_payments", ())
                   if p.year == year and p.inventor == inventor and (as_of is None or p.paid_on <= as_of))

    def unpaid_fen(self, year: int, inventor: str) -> int:
        award = self.award_for(year)
        line = award.line_fen(inventor) if award is not None else None
        return (line or 0) - self.paid_fen(year, inventor)

    def deadline_status(self, year: int, as_of: date) -> dict[str, DeadlineStatus]:
        """Per inventor with an amount in ``year``'s award: the 36-month status as of ``as_of``."""
        award = self.award_for(year)
        status: dict[str, DeadlineStatus] = {}
        if award is None:
            return status
        for name, fen in award.lines:
            if fen <= 0:
                continue
            payments = [p for p in getattr(self, "award_payments", ())
                         if p.year == year and p.inventor == name and p.paid_on <= as_of]
            if sum(p.amount_fen for p in payments) >= fen:
                late = any(not p.within_deadline for p in payments)
                status[name] = DeadlineStatus.paid_late if late else DeadlineStatus.paid_in_time
            else:
                status[name] = DeadlineStatus.overdue if as_of > award.deadline_on else DeadlineStatus.open
        return status

    # --- commands --------------------------------------------------------------------

    def report_profit(self, year: int, profit_fen: int, reported_on: date) -> None:
        require(
            year not in self.profit_by_year,
            PROFIT_REPORTED_ONCE_PER_YEAR,
            "year",
            f"{year} is already reported: correct it",
            zh=f"{year} 年已报告：请更正",
        )
        self._check_year(year, reported_on)
        self._profit_reported(report=ProfitReport(year, profit_fen, reported_on))

    def correct_profit(self, year: int, profit_fen: int, corrected_on: date, reason: str) -> None:
        require(
            year in self.profit_by_year,
            PROFIT_REPORTED_ONCE_PER_YEAR,
            "year",
            f"{year} has no report to correct",
            zh=f"{year} 年没有可更正的报告",
        )
        require(bool(reason.strip()), PROFIT_REPORTED_ONCE_PER_YEAR, "reason", "reason is blank",
                zh="理由为空白")
        self._check_year(year, corrected_on)
        self._profit_corrected(report=ProfitReport(year, profit_fen, corrected_on, reason))

    def allocate_award(self, award: SelfImplementationAward) -> None:
        """Record the award for one year's operating profit (Law Art. 45 (3)), once per year."""
        require(award.year in self.profit_by_year, SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR, "year",
                f"{award.year} has no profit report", zh=f"{award.year} 年没有利润报告")
        require(all(a.year != award.year for a in self.awards), SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR,
                "year", f"the award for {award.year} is already allocated",
                zh=f"{award.year} 年的奖励已分配")
        require(sum(fen for _, fen in award.lines) == award.award_fen, SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR,
                "lines", "the inventors' lines do not add up to the award",
                zh="各完成人行合计不等于奖励")
        self._award_allocated(award=award)

    def pay_award(self, year: int, inventor: str, amount_fen: int, paid_on: date, payment_id: str) -> None:
        """Pay (part of) ``inventor``'s line of ``year``'s award; 36 months run from its allocation."""
        used = {p.payment_id for p in getattr(self, "award_payments", ())}
        require(bool(payment_id.strip()) and payment_id not in used,
                SELF_IMPLEMENTATION_AWARD_PAYMENT_ID_UNIQUE, "payment_id",
                f"{payment_id!r} is blank or already used", zh=f"{payment_id!r} 为空白或已使用")
        award = self.award_for(year)
        require(award is not None, SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN, "year",
                f"no award is allocated for {year}", zh=f"{year} 年没有已分配的奖励")
        assert award is not None
        line = award.line_fen(inventor)
        require(line is not None, SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN, "inventor",
                f"{inventor!r} has no line in the award for {year}",
                zh=f"{inventor!r} 在 {year} 年的奖励中没有行")
        require(isinstance(amount_fen, int) and not isinstance(amount_fen, bool) and amount_fen > 0,
                SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN, "amount_fen",
                f"{amount_fen!r} is not a positive number of fen",
                zh=f"{amount_fen!r} 不是正的金额（分）")
        unpaid = self.unpaid_fen(year, inventor)
        require(amount_fen <= unpaid, SELF_IMPLEMENTATION_AWARD_PAYMENT_WITHIN_UNPAID, "amount_fen",
                f"{amount_fen} fen exceeds the {unpaid} fen allocated to {inventor} for {year} and not yet paid",
                zh=f"{amount_fen} 分超过 {year} 年分配给 {inventor} 而尚未支付的 {unpaid} 分")
        require(paid_on >= award.allocated_on, SELF_IMPLEMENTATION_AWARD_PAYMENT_KNOWN, "paid_on",
                f"{paid_on} is before the award was allocated on {award.allocated_on}",
                zh=f"{paid_on} 早于奖励的分配日 {award.allocated_on}")
        self._award_paid(payment=SelfImplementationAwardPayment(
            payment_id, year, inventor, amount_fen, paid_on, paid_on <= award.deadline_on))

    def stop(self, on: date, reason: str) -> None:
        require(
            self.stopped_on is None and on >= self.started_on and bool(reason.strip()),
            SELF_IMPLEMENTATION_ACTIVE,
            "on",
            "already stopped, dated before the start, or no reason",
            zh="已停止、日期早于开始，或未说明理由",
        )
        self._stopped(stopped_on=on, reason=reason)

    def _check_year(self, year: int, reported_on: date) -> None:
        last = self.stopped_on.year if self.stopped_on else reported_on.year
        require(
            self.started_on.year <= year <= min(last, reported_on.year),
            PROFIT_YEAR_IN_RANGE,
            "year",
            f"{year} is outside {self.started_on.year}..{min(last, reported_on.year)}",
            zh=f"{year} 不在 {self.started_on.year}..{min(last, reported_on.year)} 之内",
        )

    # --- events ----------------------------------------------------------------------

    @event("ProfitReported")
    def _profit_reported(self, report: ProfitReport) -> None:
        self.report_history = (*self.report_history, report)

    @event("ProfitReportCorrected")
    def _profit_corrected(self, report: ProfitReport) -> None:
        self.report_history = (*self.report_history, report)

    @event("AwardAllocated")
    def _award_allocated(self, award: SelfImplementationAward) -> None:
        self.awards = (*self.awards, award)

    @event("AwardPaid")
    def _award_paid(self, payment: SelfImplementationAwardPayment) -> None:
        self.award_payments = (*getattr(self, "award_payments", ()), payment)

    @event("Stopped")
    def _stopped(self, stopped_on: date, reason: str) -> None:
        self.stopped_on = stopped_on
        self.stop_reason = reason
