"""Use-first-pay-later (先使用后付费): the trial stage and its triggers.

A UFPL licence (contract kind ``ufpl_licence``) starts with a free trial in
an agreed scope. Triggers agreed at signing (a date, the licensee's first
revenue from the achievement, a named milestone such as validation or first
sales) end it; the first trigger met wins. The licensee then pays on the
contract's payment terms, which count as starting on the conversion date,
or returns the licence without any fee. Sources: Shaanxi and Sichuan UFPL
guides (no upfront fee; full payment once the trigger is met), Hunan
(milestone and delayed-start payment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated

from domain.errors import require, rule
from domain.inputs import Label, Note, items
from domain.payment_terms import PaymentTerms
from domain.serialisable import domain_enum, value_object

G = "ufpl"
UFPL_SOURCE = "陕西/四川 先使用后付费 指引; 湖南 里程碑付费"

UFPL_TRIAL_TERMS_COMPLETE = rule(
    "ufpl_trial_terms_complete",
    "A UFPL licence states its trial scope, its trial end date (after the licence term starts, "
    "if a term is given) and at least one well-formed trigger: a date trigger has a date, a "
    "milestone trigger a milestone name; first-revenue appears at most once.",
    source=UFPL_SOURCE,
    group=G,
)
UFPL_NO_PAYMENT_DURING_TRIAL = rule(
    "ufpl_no_payment_during_trial",
    "Nothing falls due during the UFPL trial: no royalty, milestone payment or installment "
    "before the licence converts to paid terms.",
    source=UFPL_SOURCE,
    group=G,
)
UFPL_TRIGGER_MET = rule(
    "ufpl_trigger_met",
    "A UFPL licence converts to paid terms only once one of its agreed triggers is met.",
    source=UFPL_SOURCE,
    group=G,
)
UFPL_STAGE_ALLOWS = rule(
    "ufpl_stage_allows",
    "Conversion, return and renegotiation happen only on a UFPL licence still in its trial; "
    "a UFPL licence is not completed while in trial.",
    source=UFPL_SOURCE,
    group=G,
)


@domain_enum
class TriggerKind(StrEnum):
    date = "date"
    first_revenue = "first_revenue"
    milestone = "milestone"


@domain_enum
class UfplStage(StrEnum):
    trial = "trial"
    paid = "paid"
    returned = "returned"


@value_object
@dataclass(frozen=True)
class UfplTrigger:
    kind: TriggerKind
    on: date | None = None
    milestone: Label | None = None

    @classmethod
    def on_date(cls, on: date) -> UfplTrigger:
        return cls(TriggerKind.date, on=on)

    @classmethod
    def first_revenue(cls) -> UfplTrigger:
        return cls(TriggerKind.first_revenue)

    @classmethod
    def at_milestone(cls, name: str) -> UfplTrigger:
        return cls(TriggerKind.milestone, milestone=name)


@value_object
@dataclass(frozen=True)
class UfplTerms:
    trial_scope: Note
    trial_end_on: date
    triggers: Annotated[tuple[UfplTrigger, ...], items(20)]

    @property
    def trigger_milestones(self) -> tuple[str, ...]:
        return tuple(t.milestone for t in self.triggers if t.milestone is not None)


@value_object
@dataclass(frozen=True)
class RevenueReport:
    """Licensee's new revenue from the achievement (feeds the 新增营收 statistic)."""

    period_start: date
    period_end: date
    revenue_fen: int
    reported_on: date


def check_ufpl_terms(terms: UfplTerms, term_start: date | None, field: str = "ufpl") -> None:
    require(
        bool(terms.trial_scope.strip()), UFPL_TRIAL_TERMS_COMPLETE, f"{field}.trial_scope", "blank",
        zh="试用范围为空白"
    )
    if term_start is not None:
        require(
            terms.trial_end_on > term_start,
            UFPL_TRIAL_TERMS_COMPLETE,
            f"{field}.trial_end_on",
            f"{terms.trial_end_on} is not after the licence term start {term_start}",
            zh=f"{terms.trial_end_on} 不晚于许可期限的开始 {term_start}",
        )
    require(
        bool(terms.triggers), UFPL_TRIAL_TERMS_COMPLETE, f"{field}.triggers", "no trigger agreed",
        zh="未约定触发条件"
    )
    first_revenue = 0
    for i, t in enumerate(terms.triggers):
        path = f"{field}.triggers[{i}]"
        if t.kind == TriggerKind.date:
            ok = t.on is not None and t.milestone is None
        elif t.kind == TriggerKind.milestone:
            ok = t.on is None and t.milestone is not None and bool(t.milestone.strip())
        else:
            first_revenue += 1
            ok = t.on is None and t.milestone is None and first_revenue == 1
        require(ok, UFPL_TRIAL_TERMS_COMPLETE, path, f"malformed {t.kind} trigger",
                zh=f"{t.kind} 触发条件不完整")


def check_no_fixed_payment_in_trial(
    terms: PaymentTerms, trial_ends: date, field: str = "payment_terms"
) -> None:
    """Fixed due dates in the paid terms fall after the trial (relative ones count from conversion)."""
    dated = [(f"{field}.installments[{i}]", inst) for i, inst in enumerate(terms.installments)]
    if terms.entry_fee is not None:
        dated.append((f"{field}.entry_fee", terms.entry_fee))
    for path, inst in dated:
        require(
            inst.due_on is None or inst.due_on > trial_ends,
            UFPL_NO_PAYMENT_DURING_TRIAL,
            f"{path}.due_on",
            f"{inst.due_on} falls in the trial, which ends {trial_ends}",
            zh=f"{inst.due_on} 在试用期内，试用期于 {trial_ends} 结束",
        )


def trigger_met_on(
    trigger: UfplTrigger, first_revenue_on: date | None, milestones: Mapping[str, date]
) -> date | None:
    """When ``trigger`` was met, or ``None`` if it has not been."""
    if trigger.kind == TriggerKind.date:
        return trigger.on
    if trigger.kind == TriggerKind.first_revenue:
        return first_revenue_on
    assert trigger.milestone is not None
    return milestones.get(trigger.milestone)


def first_trigger_met(
    terms: UfplTerms, first_revenue_on: date | None, milestones: Mapping[str, date], on: date
) -> tuple[UfplTrigger, date] | None:
    """The trigger met earliest, on or before ``on`` (ties: the one agreed first)."""
    met = [
        (when, i, t)
        for i, t in enumerate(terms.triggers)
        if (when := trigger_met_on(t, first_revenue_on, milestones)) is not None and when <= on
    ]
    if not met:
        return None
    when, _, trigger = min(met, key=lambda m: (m[0], m[1]))
    return trigger, when
