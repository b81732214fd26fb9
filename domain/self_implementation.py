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

    # --- commands --------------------------------------------------------------------

    def report_profit(self, year: int, profit_fen: int, reported_on: date) -> None:
        require(
            year not in self.profit_by_year,
            PROFIT_REPORTED_ONCE_PER_YEAR,
            "year",
            f"{year} is already reported: correct it",
        )
        self._check_year(year, reported_on)
        self._profit_reported(report=ProfitReport(year, profit_fen, reported_on))

    def correct_profit(self, year: int, profit_fen: int, corrected_on: date, reason: str) -> None:
        require(
            year in self.profit_by_year,
            PROFIT_REPORTED_ONCE_PER_YEAR,
            "year",
            f"{year} has no report to correct",
        )
        require(bool(reason.strip()), PROFIT_REPORTED_ONCE_PER_YEAR, "reason", "reason is blank")
        self._check_year(year, corrected_on)
        self._profit_corrected(report=ProfitReport(year, profit_fen, corrected_on, reason))

    def allocate_award(self, award: SelfImplementationAward) -> None:
        """Record the award for one year's operating profit (Law Art. 45 (3)), once per year."""
        require(award.year in self.profit_by_year, SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR, "year",
                f"{award.year} has no profit report")
        require(all(a.year != award.year for a in self.awards), SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR,
                "year", f"the award for {award.year} is already allocated")
        require(sum(fen for _, fen in award.lines) == award.award_fen, SELF_IMPLEMENTATION_AWARD_ONCE_PER_YEAR,
                "lines", "the inventors' lines do not add up to the award")
        self._award_allocated(award=award)

    def stop(self, on: date, reason: str) -> None:
        require(
            self.stopped_on is None and on >= self.started_on and bool(reason.strip()),
            SELF_IMPLEMENTATION_ACTIVE,
            "on",
            "already stopped, dated before the start, or no reason",
        )
        self._stopped(stopped_on=on, reason=reason)

    def _check_year(self, year: int, reported_on: date) -> None:
        last = self.stopped_on.year if self.stopped_on else reported_on.year
        require(
            self.started_on.year <= year <= min(last, reported_on.year),
            PROFIT_YEAR_IN_RANGE,
            "year",
            f"{year} is outside {self.started_on.year}..{min(last, reported_on.year)}",
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

    @event("Stopped")
    def _stopped(self, stopped_on: date, reason: str) -> None:
        self.stopped_on = stopped_on
        self.stop_reason = reason
