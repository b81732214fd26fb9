"""``GET /v1/statistics/restatement``: what changed for one business date between two known positions.

The report itself is in projections/restatement.py. A regulator who published
a year's figures as known at one log position reads, at a later position, the
figures side by side and every journal entry and contract change recorded in
between that bears on the date. An institution reads its own.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.consistency import refuse_beyond_head, wait_for_projections
from api.language import language_of
from api.problems import unprocessable
from api.routes.common import MIN_POSITION
from api.routes.ledger_queries import PostingView
from api.routes.statistics import OWN_READERS, _own_institution, _wait_for
from api.routing import Call, RouteRegistry
from api.staleness import reads
from domain.inputs import QueryText
from projections.queries import StatisticsQueryError

routes = RouteRegistry()
TAGS = ("statistics",)

LABELS: dict[str, tuple[str, str]] = {
    "receivables.outstanding_fen": ("应收账款未收额", "receivables outstanding"),
    "receivables.overdue_fen": ("应收账款逾期额", "receivables overdue"),
    "contracts.signed_count": ("本年签订技术合同数（1月1日至 as_of）", "contracts signed this year (1 January to as_of)"),
    "contracts.contract_value_fen": ("本年技术合同成交额（1月1日至 as_of）", "contract value signed this year (1 January to as_of)"),
    "books.cash_fen": ("账簿：银行存款余额", "books: cash balance"),
    "books.receivable_fen": ("账簿：应收账款余额", "books: receivable balance"),
    "books.transfer_income_fen": ("账簿：转化收入余额（贷方为负）", "books: transfer income balance (credit negative)"),
}

DEFINITION = {
    "zh": {
        "title": "重述报告：同一业务日期在两个知悉时点之间的变化",
        "scope": "给出机构时只含该机构（作为卖方或记账机构）；否则全部机构。分录：在 from_known_at 之后、"
                 "to_known_at 及之前记录且业务日期在 as_of 当日或之前的每笔会计分录；合同：统计所读的签订日、登记日、"
                 "成交额、登记额或状态在两个时点之间不同、且签订或登记在 as_of 当日或之前的合同。",
        "date_basis": "业务日期 as_of；每个数字分别按 from_known_at 和 to_known_at 时账本所知计算（只计记录到该位置的事件）。",
        "formula": "change = after − before；after 为在 to_known_at 时所知，before 为在 from_known_at 时所知。",
    },
    "en": {
        "title": "Restatement: what changed for one business date between two known positions",
        "scope": "With an institution, that institution only (as seller, or whose books the entry is in); else "
                 "every institution. Entries: every journal entry recorded after from_known_at and at or before "
                 "to_known_at whose business date is on or before as_of. Contracts: those whose signing date, "
                 "registration date, contract value, registered value or status as the statistics read them differ "
                 "between the two positions, signed or registered on or before as_of.",
        "date_basis": "Business date as_of; each figure as the ledger knew it at from_known_at and at to_known_at "
                      "(only the events recorded up to that position).",
        "formula": "change = after − before; after as known at to_known_at, before as known at from_known_at.",
    },
}


class RestatementQuery(BaseModel):
    as_of: date = Field(description="业务日期：重述哪一天的数字。The business date whose figures are restated.")
    from_known_at: int = Field(ge=1, le=2**62, description="较早的知悉时点（如发布时的日志位置）。The earlier "
                               "known position (e.g. the log position the figures were published at).")
    to_known_at: int | None = Field(default=None, ge=1, le=2**62, description="较晚的知悉时点；默认为日志头。"
                                    "The later known position; the log head by default.")
    institution_id: QueryText | None = Field(default=None, description="只看一个机构（机构令牌只能看本机构）。"
                                             "One institution (an institution's token reads its own only).")
    min_position: int | None = MIN_POSITION


class RestatedFigure(BaseModel):
    figure: str = Field(description="The figure's name, e.g. `receivables.outstanding_fen`.")
    label: str = Field(description="The figure's name in the chosen language.")
    before: int = Field(description="As known at `from_known_at` (fen, or a count).")
    after: int = Field(description="As known at `to_known_at`.")
    change: int = Field(description="after − before.")


class RestatedEntry(BaseModel):
    position: int = Field(description="Log position of the event that wrote the entry (after `from_known_at`).")
    seq: int
    institution_id: UUID
    record_id: UUID = Field(description="The record (stream) whose event wrote the entry.")
    event: str = Field(description="The event's name, e.g. `PaymentReceived`.")
    recorded_at: datetime = Field(description="When the event was recorded.")
    entry_date: date = Field(description="The entry's business date (on or before `as_of`).")
    kind: str
    description: str | None
    postings: list[PostingView]


class ContractState(BaseModel):
    signed_on: date | None
    registered_on: date | None
    contract_value_fen: int | None
    registered_value_fen: int | None
    status: str | None = Field(description="`null`: the contract was not known yet.")


class RestatedContract(BaseModel):
    contract_id: UUID
    before: ContractState
    after: ContractState


class RestatementDefinition(BaseModel):
    title: str
    scope: str
    date_basis: str
    formula: str


class Restatement(BaseModel):
    as_of: date
    from_known_at: int
    to_known_at: int
    institution_id: UUID | None
    currency: str
    figures: list[RestatedFigure]
    entries: list[RestatedEntry]
    contracts: list[RestatedContract]
    definition: RestatementDefinition


@routes.get("/v1/statistics/restatement", roles=OWN_READERS, query=RestatementQuery, response=Restatement,
            tags=TAGS)
@reads("receivables", "contracts")
async def get_restatement(call: Call[None, RestatementQuery]) -> Any:
    """重述报告: the figures of one business date as known at two log positions, and every entry between.

    For example, the 2025 figures published at position 9000 and a payment dated 2025-11-20 but recorded
    at position 9500: `as_of=2025-12-31&from_known_at=9000` shows receivables down and cash up by the
    payment, and lists its journal entry.
    """
    from projections.restatement import restatement

    q = call.query
    head = await refuse_beyond_head(call.app, from_known_at=q.from_known_at, to_known_at=q.to_known_at)
    to_known_at = head if q.to_known_at is None else q.to_known_at
    await wait_for_projections(call.request, _wait_for(q.min_position, to_known_at))
    try:
        report = await restatement(call.ledger.store.pool, as_of=q.as_of, from_known_at=q.from_known_at,
                                   to_known_at=to_known_at,
                                   institution_id=_own_institution(call, q.institution_id))
    except StatisticsQueryError as exc:
        raise unprocessable([{"field": exc.field, "rule": "statistics_query_valid", "detail": exc.detail,
                              "detail_zh": exc.detail_zh or exc.detail}]) from None
    lang = language_of(call.request)
    pick = 0 if lang == "zh" else 1
    report["figures"] = [{**f, "label": LABELS[f["figure"]][pick]} for f in report["figures"]]
    report["definition"] = DEFINITION[lang]
    return Restatement.model_validate(report)
