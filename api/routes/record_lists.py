"""Lists of due items, receipts, registrations, listings, holdings, self-implementations,
distributions, distribution lines, award payments and tokens (projections/record_lists.py).

They page, sort and answer as the lists of api/routes/lists.py: ``{items, next_cursor,
as_of_position}``, ``limit`` 1–200, ``sort`` from the list's allow-list (``-`` descending), and a
bad filter, sort, limit or cursor is 422 naming it. Each token sees the rows of the records it may
see (api/tenancy.py). A regulator sees inventors, payment ids, line keys and payers as
pseudonyms (api/redaction.py) and may not filter by an inventor's name.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.routes.common import ALL_READERS, MIN_POSITION
from api.routes.lists import AS_OF_POSITION, CURSOR, LIMIT, NEXT_CURSOR, serve_list
from api.routing import Call, Reply, RouteRegistry
from api.staleness import reads
from domain.contract_state import ContractStatus
from domain.distribution import BeneficiaryKind
from domain.enums import ContractKind, IpType, TechnologyField
from domain.inputs import MAX_FEN, Name, OfficialNumber, QueryText
from domain.settlement import DueKind
from ledger.tokens import Role

routes = RouteRegistry()
NOT_EXCHANGES = ALL_READERS - {Role.OPERATOR}
"""An exchange holds no distributions, holdings or self-implementations (api/tenancy.py)."""

AMOUNT_MIN = Field(default=None, ge=0, le=MAX_FEN, description="Least amount, fen.")
AMOUNT_MAX = Field(default=None, ge=0, le=MAX_FEN, description="Greatest amount, fen.")
INVENTOR = Field(default=None, description="One inventor, by name as recorded (not for a regulator's token).")


# ---- due items ------------------------------------------------------------------------------


class DueItemListQuery(BaseModel):
    contract: UUID | None = None
    party: UUID | None = Field(default=None, description="A seller or the buyer of the contract.")
    kind: DueKind | None = None
    outstanding: bool | None = Field(default=None, description="Money still outstanding (true) or none (false).")
    overdue_as_of: date | None = Field(default=None, description="Only items due before this date and still "
                                       "outstanding (and fallen due by then).")
    due_from: date | None = None
    due_to: date | None = None
    q: QueryText | None = Field(default=None, description="A substring of the contract's title or parties' names.")
    sort: Literal["due_on", "-due_on", "amount_fen", "-amount_fen", "outstanding_fen", "-outstanding_fen"] = "due_on"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class DueItemRow(BaseModel):
    contract_id: UUID
    contract_title: str | None
    item_id: str
    kind: DueKind | None
    label: str | None
    currency: str | None
    amount_fen: int
    paid_fen: int | None
    written_off_fen: int | None
    cancelled_fen: int | None
    outstanding_fen: int | None
    fell_due_on: date | None = Field(description="When the item came into being (effective date, conversion, "
                                     "report, milestone).")
    original_due_on: date | None
    due_on: date | None
    deferrals: int | None
    last_paid_on: date | None
    institution_id: UUID | None = Field(description="The (first) seller.")
    buyer_id: UUID | None


class DueItemPage(BaseModel):
    items: list[DueItemRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- receipts -------------------------------------------------------------------------------


class ReceiptListQuery(BaseModel):
    contract: UUID | None = None
    party: UUID | None = Field(default=None, description="A seller or the buyer of the contract.")
    source: Literal["payment", "credit", "insurance"] | None = Field(
        default=None, description="A payment, a held credit applied (decision 0015), or insurance compensation.")
    received_from: date | None = None
    received_to: date | None = None
    amount_min: int | None = AMOUNT_MIN
    amount_max: int | None = AMOUNT_MAX
    q: QueryText | None = Field(default=None, description="A substring of the contract's title or parties' names.")
    recorded_by: UUID | None = Field(default=None, description="Only records with an event recorded by this "
                                     "user or token (录入人; not for a regulator's token).")
    sort: Literal["-received_on", "received_on", "amount_fen", "-amount_fen"] = "-received_on"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class ReceiptRow(BaseModel):
    contract_id: UUID
    contract_title: str | None
    receipt_id: str = Field(description="The payment id, `credit-<n>` for a credit applied, or the insurance claim.")
    source: Literal["payment", "credit", "insurance"]
    received_on: date
    amount_fen: int = Field(description="Cash received (for a credit: the amount applied).")
    applied_fen: int = Field(description="Applied to due items.")
    credit_fen: int = Field(description="Held as credit.")
    payer: str | None = Field(description="The payer or insurer as recorded.")
    currency: str | None
    seller_id: UUID | None
    buyer_id: UUID | None
    position: int = Field(description="The log position of the event that recorded it.")


class ReceiptPage(BaseModel):
    items: list[ReceiptRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- registrations --------------------------------------------------------------------------


class RegistrationListQuery(BaseModel):
    q: QueryText | None = Field(default=None, description="A substring of the contract's title or parties' names.")
    party: UUID | None = None
    registry: Name | None = Field(default=None, description="The registry (登记机构), exactly as recorded.")
    registration_number: OfficialNumber | None = None
    approved_category: ContractKind | None = None
    registered_from: date | None = None
    registered_to: date | None = None
    correction_requested: bool | None = Field(default=None, description="A correction (补正) is requested "
                                              "and not yet made.")
    corrected: bool | None = Field(default=None, description="Corrected at least once.")
    sort: Literal["-registered_on", "registered_on", "registered_value_fen", "-registered_value_fen"] = (
        "-registered_on")
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class RegistrationRow(BaseModel):
    id: UUID = Field(description="The contract.")
    title: str | None
    kind: ContractKind | None
    status: ContractStatus | None
    registry: str | None
    registration_number: str | None
    approved_category: ContractKind | None
    registered_on: date | None
    registered_value_fen: int | None = Field(description="The approved transaction value (as last corrected).")
    contract_value_fen: int | None
    transaction_value_fen: int | None
    currency: str | None
    corrections: int | None
    correction_requested_on: date | None
    signed_on: date | None
    seller_id: UUID | None
    buyer_id: UUID | None


class RegistrationPage(BaseModel):
    items: list[RegistrationRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- listings -------------------------------------------------------------------------------


class ListingListQuery(BaseModel):
    q: QueryText | None = Field(default=None, description="A substring of the achievement's title.")
    exchange: UUID | None = None
    achievement: UUID | None = None
    in_force: bool | None = Field(default=None, description="Not delisted (true) or delisted (false).")
    listed_from: date | None = None
    listed_to: date | None = None
    sort: Literal["-listed_on", "listed_on", "title", "-title"] = "-listed_on"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class ListingRow(BaseModel):
    exchange_id: UUID
    exchange_name: str | None
    listing_number: str
    achievement_id: UUID
    title: str | None
    asking_price_fen: int | None = Field(description="`null`: price negotiable (面议).")
    currency: str | None
    listed_on: date
    delisted_on: date | None
    ip_type: IpType | None
    technology_field: TechnologyField | None
    owner_ids: list[UUID]


class ListingPage(BaseModel):
    items: list[ListingRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- equity holdings ------------------------------------------------------------------------


class HoldingListQuery(BaseModel):
    q: QueryText | None = Field(default=None, description="A substring of the company's name.")
    institution: UUID | None = None
    contract: UUID | None = None
    company_code: OfficialNumber | None = Field(default=None, description="Unified social credit code.")
    decision_recorded: bool | None = Field(default=None, description="The collective decision (集体决策) "
                                           "behind the contribution is recorded.")
    contributed_from: date | None = None
    contributed_to: date | None = None
    sort: Literal["-contributed_on", "contributed_on", "valuation_fen", "-valuation_fen", "company_name",
                  "-company_name"] = "-contributed_on"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class HoldingRow(BaseModel):
    id: UUID
    contract_id: UUID | None
    institution_id: UUID | None
    company_name: str | None
    company_code: str | None
    contributed_on: date | None
    valuation_fen: int | None
    shares_received: int | None
    shares_held: int | None
    total_shares: int | None
    new_company: bool | None
    cashed_in_fen: int | None
    dividends_fen: int | None
    currency: str | None
    decided_on: date | None = Field(description="The date of the contribution's decision record, if recorded.")


class HoldingPage(BaseModel):
    items: list[HoldingRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- self-implementations -------------------------------------------------------------------


class SelfImplementationListQuery(BaseModel):
    q: QueryText | None = Field(default=None, description="A substring of the achievement's title.")
    institution: UUID | None = None
    achievement: UUID | None = None
    partner: UUID | None = None
    active: bool | None = Field(default=None, description="Not stopped (true) or stopped (false).")
    started_from: date | None = None
    started_to: date | None = None
    sort: Literal["-started_on", "started_on"] = "-started_on"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class SelfImplementationRow(BaseModel):
    id: UUID
    institution_id: UUID | None
    achievement_id: UUID | None
    achievement_title: str | None
    partner_id: UUID | None
    started_on: date | None
    stopped_on: date | None
    allocated_fen: int = Field(description="Awards allocated to inventors, all years.")
    paid_fen: int = Field(description="Awards paid, all years.")


class SelfImplementationPage(BaseModel):
    items: list[SelfImplementationRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- distributions, their lines and award payments ------------------------------------------


class DistributionListQuery(BaseModel):
    institution: UUID | None = None
    contract: UUID | None = None
    below_floor: bool | None = Field(default=None, description="The team's share is below the statutory floor.")
    received_from: date | None = None
    received_to: date | None = None
    deadline_from: date | None = None
    deadline_to: date | None = None
    recorded_by: UUID | None = Field(default=None, description="Only records with an event recorded by this "
                                     "user or token (录入人; not for a regulator's token).")
    sort: Literal["-received_on", "received_on", "deadline_on", "-deadline_on", "net_fen", "-net_fen"] = (
        "-received_on")
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class DistributionRow(BaseModel):
    id: UUID
    contract_id: UUID | None
    receipt_id: str | None
    institution_id: UUID | None
    received_on: date | None
    deadline_on: date | None = Field(description="The 36-month award deadline (财税〔2018〕58号).")
    gross_fen: int | None
    deducted_fen: int | None
    net_fen: int | None
    team_fen: int | None
    team_floor_fen: int | None
    floor_percent: Decimal | None
    below_floor: bool | None
    pack_id: str | None
    policy_version: str | None
    adjustments: int | None
    team_paid_fen: int = Field(description="Paid to the inventors so far.")


class DistributionPage(BaseModel):
    items: list[DistributionRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


class LineListQuery(BaseModel):
    distribution: UUID | None = None
    institution: UUID | None = None
    contract: UUID | None = None
    beneficiary: BeneficiaryKind | None = None
    inventor: Name | None = INVENTOR
    unpaid: bool | None = Field(default=None, description="Allocated and not paid in full.")
    deadline_from: date | None = None
    deadline_to: date | None = None
    sort: Literal["deadline_on", "-deadline_on", "-received_on", "received_on", "allocated_fen",
                  "-allocated_fen"] = "deadline_on"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class LineRow(BaseModel):
    distribution_id: UUID
    key: str = Field(description="The line: `inventor:<name>` or a beneficiary kind.")
    institution_id: UUID | None
    contract_id: UUID | None
    beneficiary: BeneficiaryKind | None
    inventor: str | None
    allocated_fen: int | None
    paid_fen: int | None
    unpaid_fen: int | None
    paid_late_fen: int | None
    first_paid_on: date | None
    fully_paid_on: date | None
    received_on: date | None
    deadline_on: date | None


class LinePage(BaseModel):
    items: list[LineRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


class AwardPaymentListQuery(BaseModel):
    distribution: UUID | None = None
    institution: UUID | None = None
    contract: UUID | None = None
    inventor: Name | None = INVENTOR
    within_deadline: bool | None = None
    paid_from: date | None = None
    paid_to: date | None = None
    sort: Literal["-paid_on", "paid_on", "amount_fen", "-amount_fen"] = "-paid_on"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT
    min_position: int | None = MIN_POSITION


class AwardPaymentRow(BaseModel):
    distribution_id: UUID
    payment_id: str
    key: str | None
    beneficiary: BeneficiaryKind | None
    inventor: str | None
    institution_id: UUID | None
    contract_id: UUID | None
    amount_fen: int
    paid_on: date | None
    within_deadline: bool | None
    received_on: date | None
    deadline_on: date | None


class AwardPaymentPage(BaseModel):
    items: list[AwardPaymentRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- tokens (admin) -------------------------------------------------------------------------


class TokenListQuery(BaseModel):
    q: QueryText | None = Field(default=None, description="A substring of the token's name.")
    role: Role | None = None
    institution: UUID | None = None
    active: bool | None = Field(default=None, description="Not revoked (true) or revoked (false).")
    sort: Literal["-created_at", "created_at", "name", "-name"] = "-created_at"
    cursor: QueryText | None = CURSOR
    limit: int = LIMIT


class TokenRow(BaseModel):
    id: UUID
    name: str
    role: Role
    institution_id: UUID | None
    prefix: str = Field(description="The 8 characters after `ttl_` that identify it (the secret is never kept).")
    created_at: datetime
    revoked_at: datetime | None


class TokenPage(BaseModel):
    items: list[TokenRow]
    next_cursor: str | None = NEXT_CURSOR
    as_of_position: int = AS_OF_POSITION


# ---- the routes -----------------------------------------------------------------------------


@routes.get("/v1/due-items", roles=ALL_READERS, query=DueItemListQuery, response=DueItemPage, tags=("contracts",))
@reads("contracts", "receivables")
async def list_due_items(call: Call[None, DueItemListQuery]) -> Reply[DueItemPage]:
    """Due items (应收款项) of the contracts the token sees: open, overdue, or by due date."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_due_items)


@routes.get("/v1/receipts", roles=ALL_READERS, query=ReceiptListQuery, response=ReceiptPage, tags=("contracts",))
@reads("contracts")
async def list_receipts(call: Call[None, ReceiptListQuery]) -> Reply[ReceiptPage]:
    """Money received (收款) on the contracts the token sees: payments, credits applied, insurance."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_receipts)


@routes.get("/v1/registrations", roles=ALL_READERS, query=RegistrationListQuery, response=RegistrationPage,
            tags=("contracts",))
@reads("contracts")
async def list_registrations(call: Call[None, RegistrationListQuery]) -> Reply[RegistrationPage]:
    """Contract registrations (认定登记), with corrections (补正) made and requested."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_registrations)


@routes.get("/v1/listings", roles=ALL_READERS, query=ListingListQuery, response=ListingPage,
            tags=("achievements",))
@reads("contracts")
async def list_listings(call: Call[None, ListingListQuery]) -> Reply[ListingPage]:
    """Listings (挂牌) on exchanges; an exchange sees those of achievements ever listed on it."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_listings)


@routes.get("/v1/equity-holdings", roles=NOT_EXCHANGES, query=HoldingListQuery, response=HoldingPage,
            tags=("equity",))
@reads("contracts")
async def list_holdings(call: Call[None, HoldingListQuery]) -> Reply[HoldingPage]:
    """Equity holdings (作价投资), searched by company name."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_holdings)


@routes.get("/v1/self-implementations", roles=NOT_EXCHANGES, query=SelfImplementationListQuery,
            response=SelfImplementationPage, tags=("self-implementation",))
@reads("distribution", "contracts")
async def list_self_implementations(call: Call[None, SelfImplementationListQuery]) -> Reply[SelfImplementationPage]:
    """Self-implementations (自行实施), the institution's own and those it partners in."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_self_implementations)


@routes.get("/v1/distributions", roles=NOT_EXCHANGES, query=DistributionListQuery, response=DistributionPage,
            tags=("distribution",))
@reads("distribution")
async def list_distributions(call: Call[None, DistributionListQuery]) -> Reply[DistributionPage]:
    """Income distributions (收益分配), one per receipt, with what the inventors were paid."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_distributions)


@routes.get("/v1/distribution-lines", roles=NOT_EXCHANGES, query=LineListQuery, response=LinePage,
            tags=("distribution",))
@reads("distribution")
async def list_distribution_lines(call: Call[None, LineListQuery]) -> Reply[LinePage]:
    """Distribution lines: what each beneficiary, each inventor, was allocated and paid."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_distribution_lines)


@routes.get("/v1/award-payments", roles=NOT_EXCHANGES, query=AwardPaymentListQuery, response=AwardPaymentPage,
            tags=("distribution",))
@reads("distribution")
async def list_award_payments(call: Call[None, AwardPaymentListQuery]) -> Reply[AwardPaymentPage]:
    """Award payments (奖励支付) made from distributions."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_award_payments)


@routes.get("/v1/tokens", roles={Role.ADMIN}, query=TokenListQuery, response=TokenPage, tags=("admin",))
@reads()
async def list_tokens(call: Call[None, TokenListQuery]) -> Reply[TokenPage]:
    """API tokens: name, role, institution, prefix, created and revoked (never the secret)."""
    from projections import record_lists

    return await serve_list(call, record_lists.list_tokens)


__all__ = ["routes"]
