"""Projection ``contracts``: one denormalised row per technology contract, and its money.

Tables (all owned by this projection, rebuilt together):

- ``ct_institutions``: reference table of institutions (kind, size, region, ...).
- ``ct_achievements``: reference table of achievements (field, IP type, owner,
  listings in force with their exchanges, first listing date, UFPL eligibility).
- ``ct_contracts``: one row per contract. The sellers' and buyer's attributes
  and the primary achievement's field and IP type are copied onto the row
  when the contract is drafted (and again if its terms are amended while it is
  a draft), so contract-value statistics are single-table group-bys.
- ``ct_income``: income received per contract and category (running royalty,
  other, cashed-in equity, dividend), dated by the business date of receipt.
- ``ct_holdings``: equity holdings from equity contributions (AUTM start-ups).
- ``ct_ufpl_money``: licensee revenue reported and insurance compensation paid
  on use-first-pay-later licences, dated, with the grouping attributes copied.

See docs/statistics.md for the statistical definition of every figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from domain.achievement import Achievement
from domain.contract import TechnologyContract
from domain.equity import EquityHolding
from domain.settlement import DueKind
from projections import lookups
from projections.base import Appended, Row, Rows, TableProjection, TableSpec, cols, topic
from projections.lookups import INSTITUTION_TOPICS, apply_institution_event, text
from projections.runner import Envelope

C = TechnologyContract
A = Achievement
H = EquityHolding

PUBLIC_RESEARCH = ("university", "research_institute")
ROYALTY_KINDS = frozenset({DueKind.royalty})  # AUTM running royalties; minimum top-ups are "other"

# Trigram indexes (pg_trgm, migration 0006) serve the lists' text search (projections/lists.py).
INSTITUTIONS = lookups.institution_spec("ct_institutions", ("USING gin (name gin_trgm_ops)",), versioned=True)
ACHIEVEMENTS = TableSpec(
    "ct_achievements",
    cols(
        "achievement_id uuid, title text, ip_type text, technology_field text, service boolean, "
        "state_funded boolean, registered_on date, granted_on date, lapsed_on date, "
        "owner_id uuid, owner_kind text, owner_region text, owners integer, "
        "in_register boolean, register_entered_on date, "
        "exchange_ids uuid[], first_listed_on date, listings integer, ufpl_eligible boolean, "
        # Who sees it (api/tenancy.py): current owners, owners before an assignment still
        # encumbering it ("<contract id>=<owner>|<owner>"), both together, and every exchange
        # it was ever listed on.
        "owner_ids uuid[], owners_before text[], viewer_ids uuid[], ever_exchange_ids uuid[]"
    ),
    ("achievement_id",),
    (
        "(first_listed_on) WHERE ufpl_eligible",
        "USING gin (title gin_trgm_ops)",
        "(registered_on, achievement_id)",  # the lists' default order (projections/lists.py)
        "USING gin (viewer_ids)",
        "USING gin (ever_exchange_ids)",
    ),
    versioned=True,
)
CONTRACTS = TableSpec(
    "ct_contracts",
    cols(
        "contract_id uuid, kind text, licence_type text, status text, currency text, "
        "agreed_price boolean, drafted_on date, signed_on date, effective_on date, ended_on date, "
        "contract_value_fen bigint, transaction_value_fen bigint, "
        "registered_on date, registry text, registration_number text, approved_category text, "
        "registered_value_fen bigint, corrections integer, "
        "cash_received_fen bigint, refunded_fen bigint, insurance_fen bigint, "
        "seller_id uuid, seller_ids uuid[], seller_kind text, seller_region text, seller_public boolean, "
        "buyer_id uuid, buyer_kind text, buyer_size text, buyer_region text, local boolean, "
        "achievement_ids uuid[], technology_field text, ip_type text, exchange_ids uuid[], "
        "royalty_items text[], ufpl_stage text, trial_end_on date, trial_started_on date, "
        "converted_on date, returned_on date, first_default_on date, defaults integer, "
        "licensee_revenue_fen bigint, credit_receipts integer, correction_requested_on date, "
        # The title, and the title and parties' names as they were at drafting, for text search.
        "title text, search_text text"
    ),
    ("contract_id",),
    (
        "(signed_on) WHERE signed_on IS NOT NULL",
        "(registered_on) WHERE registered_on IS NOT NULL",
        "(seller_id, signed_on)",
        "USING gin (seller_ids)",
        "USING gin (exchange_ids)",
        "(buyer_id)",
        "(trial_started_on) WHERE kind = 'ufpl_licence'",
        # The companies formed by an equity contribution (the AUTM summary's start-ups).
        "(buyer_id) WHERE kind = 'equity_contribution' AND effective_on IS NOT NULL",
        "USING gin (search_text gin_trgm_ops)",
        "USING gin (achievement_ids)",
        # The lists' orders (projections/lists.py: the same expressions, empty dates last).
        "(drafted_on, contract_id)",
        "(contract_value_fen, contract_id)",
        "((COALESCE(signed_on, DATE '9999-12-30')), contract_id)",
        "((COALESCE(signed_on, DATE '0001-01-02')), contract_id)",
        # The work queue's registrations awaiting correction (补正) (projections/queues.py).
        "(correction_requested_on) WHERE correction_requested_on IS NOT NULL",
        # ... and its UFPL licences still in trial (a few of the UFPL licences).
        "(trial_end_on, contract_id) WHERE kind = 'ufpl_licence' AND ufpl_stage = 'trial' "
        "AND converted_on IS NULL AND returned_on IS NULL",
    ),
    versioned=True,
)
INCOME = TableSpec(
    "ct_income",
    cols(
        "position bigint, seq integer, contract_id uuid, holding_id uuid, institution_id uuid, "
        "contract_kind text, received_on date, category text, source text, amount_fen bigint, "
        "currency text"
    ),
    ("position", "seq"),
    ("(institution_id, received_on)", "(received_on)"),
    versioned=True,
)
HOLDINGS = TableSpec(
    "ct_holdings",
    cols(
        "holding_id uuid, contract_id uuid, institution_id uuid, company_code text, company_name text, "
        "contributed_on date, valuation_fen bigint, shares_received bigint, shares_held bigint, "
        "total_shares bigint, new_company boolean, cashed_in_fen bigint, dividends_fen bigint, "
        "currency text, decided_on date"
    ),
    ("holding_id",),
    ("(company_code)", "(institution_id, contributed_on)",
     # The work queue's contributions without their decision record (projections/queues.py).
     "(contributed_on) WHERE decided_on IS NULL", "USING gin (company_name gin_trgm_ops)"),
)
# Listings (挂牌), one row each: a listing number is unique on its exchange (LISTING_NOT_DUPLICATED).
LISTINGS = TableSpec(
    "ct_listings",
    cols(
        "exchange_id uuid, listing_number text, achievement_id uuid, title text, asking_price_fen bigint, "
        "currency text, listed_on date, delisted_on date"
    ),
    ("exchange_id", "listing_number"),
    ("(achievement_id)", "(listed_on, exchange_id, listing_number)", "USING gin (title gin_trgm_ops)"),
)
# Receipts (收款) as the contract records them: payments, applied credits (decision 0015) and
# insurance compensation; ``credit_fen`` is the part of a payment held as credit.
RECEIPTS = TableSpec(
    "ct_receipts",
    cols(
        "position bigint, contract_id uuid, receipt_id text, source text, received_on date, "
        "amount_fen bigint, applied_fen bigint, credit_fen bigint, payer text, currency text"
    ),
    ("position",),
    ("(contract_id)", "(received_on, position)"),
)
UFPL_MONEY = TableSpec(
    "ct_ufpl_money",
    cols(
        "position bigint, contract_id uuid, kind text, on_date date, amount_fen bigint, "
        "seller_id uuid, seller_region text, buyer_size text, technology_field text, currency text"
    ),
    ("position",),
    ("(on_date)",),
    versioned=True,
)

# --- topics -------------------------------------------------------------------------------

T_A_REGISTERED = topic(A, "Registered")
T_A_GRANTED = topic(A, "Granted")
T_A_LAPSED = topic(A, "Lapsed")
T_A_ENTERED = topic(A, "SeparateRegisterEntered")
T_A_EXITED = topic(A, "SeparateRegisterExited")
T_A_LISTED = topic(A, "Listed")
T_A_DELISTED = topic(A, "Delisted")
T_A_ENCUMBERED = topic(A, "Encumbered")
T_A_RELEASED = topic(A, "Released")
ACHIEVEMENT_TOPICS = frozenset(
    {T_A_REGISTERED, T_A_GRANTED, T_A_LAPSED, T_A_ENTERED, T_A_EXITED, T_A_LISTED, T_A_DELISTED,
     T_A_ENCUMBERED, T_A_RELEASED}
)

T_DRAFTED = topic(C, "Drafted")
T_AMENDED = topic(C, "TermsAmended")
T_SIGNED = topic(C, "Signed")
T_REGISTERED = topic(C, "Registered")
T_CORRECTED = topic(C, "RegistrationCorrected")
T_CORRECTION_REQUESTED = topic(C, "RegistrationCorrectionRequested")
T_TOOK_EFFECT = topic(C, "TookEffect")
T_COMPLETED = topic(C, "Completed")
T_TERMINATED = topic(C, "Terminated")
T_EXPIRED = topic(C, "Expired")
T_ROYALTY = topic(C, "RoyaltyReported")
T_PAYMENT = topic(C, "PaymentReceived")
T_CREDIT_APPLIED = topic(C, "CreditApplied")
T_CREDIT_REFUNDED = topic(C, "CreditRefunded")
T_INSURANCE = topic(C, "InsuranceCompensationPaid")
T_REVENUE = topic(C, "LicenseeRevenueReported")
T_CONVERTED = topic(C, "ConvertedToPaid")
T_RETURNED = topic(C, "LicenceReturned")
T_DEFAULTED = topic(C, "LicenseeDefaulted")
CONTRACT_TOPICS = frozenset(
    {
        T_DRAFTED, T_AMENDED, T_SIGNED, T_REGISTERED, T_CORRECTED, T_CORRECTION_REQUESTED, T_TOOK_EFFECT, T_COMPLETED,
        T_TERMINATED, T_EXPIRED, T_ROYALTY, T_PAYMENT, T_CREDIT_APPLIED, T_CREDIT_REFUNDED,
        T_INSURANCE, T_REVENUE, T_CONVERTED, T_RETURNED, T_DEFAULTED,
    }
)

T_H_CONTRIBUTED = topic(H, "ContributionRecorded")
T_H_AWARDED = topic(H, "SharesAwarded")
T_H_DIVIDEND = topic(H, "DividendReceived")
T_H_SOLD = topic(H, "SharesSold")
T_H_DILUTED = topic(H, "Diluted")
T_H_DECIDED = topic(H, "ContributionDecisionRecorded")
HOLDING_TOPICS = frozenset({T_H_CONTRIBUTED, T_H_AWARDED, T_H_DIVIDEND, T_H_SOLD, T_H_DILUTED, T_H_DECIDED})


class _Page:
    def __init__(self) -> None:
        self.institutions = Rows(INSTITUTIONS)
        self.achievements = Rows(ACHIEVEMENTS)
        self.contracts = Rows(CONTRACTS)
        self.holdings = Rows(HOLDINGS)
        self.listings = Rows(LISTINGS)
        self.income = Appended(INCOME)
        self.receipts = Appended(RECEIPTS)
        self.ufpl_money = Appended(UFPL_MONEY)

    async def flush(self, conn: asyncpg.Connection) -> None:
        for table in (self.institutions, self.achievements, self.contracts, self.holdings, self.listings):
            await table.flush(conn)
        await self.income.flush(conn)
        await self.receipts.flush(conn)
        await self.ufpl_money.flush(conn)


class ContractsProjection(TableProjection):
    """Contract value, income, equity holdings and the UFPL funnel's contract side."""

    name = "contracts"
    rebuild_cost = 2.0  # CPU of a lone rebuild, relative (bench/stats.py's dataset)
    specs = (INSTITUTIONS, ACHIEVEMENTS, CONTRACTS, INCOME, HOLDINGS, UFPL_MONEY, LISTINGS, RECEIPTS)
    topics = INSTITUTION_TOPICS | ACHIEVEMENT_TOPICS | CONTRACT_TOPICS | HOLDING_TOPICS

    async def apply_page(self, conn: asyncpg.Connection, events: Sequence[Envelope]) -> None:
        page = _Page()
        await self._load(conn, page, events)
        for envelope in events:
            t = envelope.entry.topic
            e = envelope.event
            if t in CONTRACT_TOPICS:
                self._contract(page, envelope, t, e)
            elif t in HOLDING_TOPICS:
                self._holding(page, envelope, t, e)
            elif t in ACHIEVEMENT_TOPICS:
                self._achievement(page, t, e)
            else:
                apply_institution_event(page.institutions, t, e)
        await page.flush(conn)

    # --- loading ---------------------------------------------------------------------------

    async def _load(self, conn: asyncpg.Connection, page: _Page, events: Sequence[Envelope]) -> None:
        institutions: set[Any] = set()
        achievements: set[Any] = set()
        contracts: set[Any] = set()
        holdings: set[Any] = set()
        companies: set[str] = set()
        delisted: set[Any] = set()
        for envelope in events:
            t, e = envelope.entry.topic, envelope.event
            if t in CONTRACT_TOPICS:
                contracts.add(e.originator_id)
                if t in (T_DRAFTED, T_AMENDED):
                    institutions.update(e.terms.seller_ids)
                    institutions.add(e.terms.buyer_id)
                    achievements.update(e.terms.achievement_ids)
            elif t in HOLDING_TOPICS:
                holdings.add(e.originator_id)
                if t == T_H_CONTRIBUTED:
                    contracts.add(e.contract_id)
                    companies.add(e.company.unified_social_credit_code)
            elif t in ACHIEVEMENT_TOPICS:
                achievements.add(e.originator_id)
                if t == T_A_DELISTED:
                    delisted.add(e.originator_id)
                if t == T_A_REGISTERED:
                    institutions.update(o.institution_id for o in e.owners)
            else:
                institutions.add(e.originator_id)
        await page.institutions.load(conn, institutions)
        await page.achievements.load(conn, achievements)
        await page.contracts.load(conn, contracts)
        await page.holdings.load(conn, holdings)
        await page.holdings.load(conn, companies, "company_code")
        await page.listings.load(conn, delisted, "achievement_id")

    # --- achievements ----------------------------------------------------------------------

    def _achievement(self, page: _Page, t: str, e: Any) -> None:
        table = page.achievements
        if t == T_A_REGISTERED:
            owner = e.owners[0].institution_id
            who = lookups.attrs(page.institutions, owner)
            table.add(
                ACHIEVEMENTS.blank(
                    achievement_id=e.originator_id,
                    title=e.title,
                    ip_type=text(e.ip_type),
                    technology_field=text(e.technology_field),
                    service=bool(e.service_achievement),
                    state_funded=bool(e.state_funded),
                    registered_on=e.registered_on,
                    granted_on=e.granted_on,
                    owner_id=owner,
                    owner_kind=who.get("kind"),
                    owner_region=who.get("region"),
                    owners=len(e.owners),
                    in_register=False,
                    exchange_ids=[],
                    listings=0,
                    ufpl_eligible=bool(e.service_achievement) and who.get("kind") in PUBLIC_RESEARCH,
                    owner_ids=[o.institution_id for o in e.owners],
                    owners_before=[],
                    viewer_ids=sorted({o.institution_id for o in e.owners}, key=str),
                    ever_exchange_ids=[],
                )
            )
            return
        row = table.get(e.originator_id)
        if row is None:  # pragma: no cover - never before its registration
            return
        if t == T_A_GRANTED:
            row["granted_on"] = e.granted_on
        elif t == T_A_LAPSED:
            row["lapsed_on"] = e.on
        elif t == T_A_ENTERED:
            row["in_register"] = True
            row["register_entered_on"] = e.on
        elif t == T_A_EXITED:
            row["in_register"] = False
        elif t == T_A_LISTED:
            listing = e.listing
            row["exchange_ids"] = sorted({*row["exchange_ids"], listing.exchange_id}, key=str)
            row["listings"] += 1
            first = row["first_listed_on"]
            row["first_listed_on"] = listing.listed_on if first is None else min(first, listing.listed_on)
            row["ever_exchange_ids"] = sorted({*row["ever_exchange_ids"], listing.exchange_id}, key=str)
            page.listings.add(LISTINGS.blank(
                exchange_id=listing.exchange_id, listing_number=listing.listing_number,
                achievement_id=e.originator_id, title=row["title"], asking_price_fen=listing.asking_price_fen,
                currency=listing.currency, listed_on=listing.listed_on))
        elif t == T_A_DELISTED:
            row["exchange_ids"] = [x for x in row["exchange_ids"] if x != e.exchange_id]
            for listing_row in page.listings.where(
                lambda r: r["achievement_id"] == e.originator_id and r["exchange_id"] == e.exchange_id
                and r["delisted_on"] is None
            ):
                listing_row["delisted_on"] = e.on
                page.listings.touch(listing_row)
        elif t in (T_A_ENCUMBERED, T_A_RELEASED):
            self._ownership(row, t, e)
        table.touch(row)

    @staticmethod
    def _ownership(row: Row, t: str, e: Any) -> None:
        """Owners as ``Achievement`` moves them: an assignment encumbers, its release gives back."""
        if t == T_A_ENCUMBERED:
            moved = e.encumbrance
            if not (moved.moves_ownership and moved.assignee_id is not None):
                return
            prefix = f"{moved.contract_id}="
            kept = [b for b in row["owners_before"] if not b.startswith(prefix)]
            row["owners_before"] = [*kept, prefix + "|".join(str(o) for o in row["owner_ids"])]
            row["owner_ids"] = [moved.assignee_id]
        else:
            prefix = f"{e.contract_id}="
            before = [b for b in row["owners_before"] if b.startswith(prefix)]
            if not before:
                return
            row["owner_ids"] = [UUID(o) for o in before[0][len(prefix):].split("|") if o]
            row["owners_before"] = [b for b in row["owners_before"] if not b.startswith(prefix)]
        former = {UUID(o) for b in row["owners_before"] for o in b.split("=", 1)[1].split("|") if o}
        row["viewer_ids"] = sorted({*(UUID(str(o)) for o in row["owner_ids"]), *former}, key=str)

    # --- contracts -------------------------------------------------------------------------

    def _set_terms(self, page: _Page, row: Row, terms: Any) -> None:
        seller = lookups.attrs(page.institutions, terms.seller_ids[0])
        buyer = lookups.attrs(page.institutions, terms.buyer_id)
        covered = [page.achievements.get(a) or {} for a in terms.achievement_ids]
        primary = covered[0] if covered else {}
        exchanges = sorted({x for a in covered for x in (a.get("exchange_ids") or ())}, key=str)
        names = [lookups.attrs(page.institutions, s).get("name") for s in terms.seller_ids]
        names.append(buyer.get("name"))
        row.update(
            title=terms.title,
            search_text="\n".join([terms.title, *(n for n in names if n)]),
            kind=text(terms.kind),
            licence_type=text(terms.licence.licence_type) if terms.licence is not None else None,
            currency=terms.currency,
            agreed_price=bool(terms.agreed_price),
            contract_value_fen=terms.contract_value_fen,
            transaction_value_fen=terms.transaction_value_fen,
            seller_id=terms.seller_ids[0],
            seller_ids=list(terms.seller_ids),
            seller_kind=seller.get("kind"),
            seller_region=seller.get("region"),
            seller_public=seller.get("public"),
            buyer_id=terms.buyer_id,
            buyer_kind=buyer.get("kind"),
            buyer_size=buyer.get("size"),
            buyer_region=buyer.get("region"),
            local=(
                buyer.get("region") is not None and buyer.get("region") == seller.get("region")
            ),
            achievement_ids=list(terms.achievement_ids),
            technology_field=primary.get("technology_field"),
            ip_type=primary.get("ip_type"),
            exchange_ids=exchanges,
            trial_end_on=terms.ufpl.trial_end_on if terms.ufpl is not None else None,
        )

    def _contract(self, page: _Page, envelope: Envelope, t: str, e: Any) -> None:
        table = page.contracts
        if t == T_DRAFTED:
            row = CONTRACTS.blank(
                contract_id=e.originator_id,
                status="drafted",
                drafted_on=e.drafted_on,
                corrections=0,
                cash_received_fen=0,
                refunded_fen=0,
                insurance_fen=0,
                royalty_items=[],
                defaults=0,
                licensee_revenue_fen=0,
            )
            self._set_terms(page, row, e.terms)
            table.add(row)
            return
        found = table.get(e.originator_id)
        if found is None:  # pragma: no cover - never before its draft
            return
        row = found
        if t == T_AMENDED:
            self._set_terms(page, row, e.terms)
        elif t == T_SIGNED:
            row["status"], row["signed_on"] = "signed", e.signed_on
        elif t == T_CORRECTION_REQUESTED:
            row["correction_requested_on"] = e.requested_on
        elif t in (T_REGISTERED, T_CORRECTED):
            reg = e.registration
            row["correction_requested_on"] = None
            if t == T_REGISTERED:
                row["registered_on"] = reg.registered_on
            else:
                row["corrections"] += 1
            row.update(
                registry=reg.registry,
                registration_number=reg.registration_number,
                approved_category=text(reg.approved_category),
                registered_value_fen=reg.approved_transaction_value_fen,
            )
        elif t == T_TOOK_EFFECT:
            row["status"], row["effective_on"] = "in_force", e.effective_on
            if row["kind"] == "ufpl_licence":
                row["ufpl_stage"], row["trial_started_on"] = "trial", e.effective_on
        elif t == T_COMPLETED:
            row["status"], row["ended_on"] = "completed", e.completed_on
        elif t == T_TERMINATED:
            row["status"], row["ended_on"] = "terminated", e.terminated_on
        elif t == T_EXPIRED:
            row["status"], row["ended_on"] = "expired", e.expired_on
        elif t == T_ROYALTY:
            if e.due_item is not None:
                row["royalty_items"] = [*row["royalty_items"], e.due_item.item_id]
        elif t == T_PAYMENT:
            row["cash_received_fen"] += e.amount_fen
            self._income(page, envelope, row, e.allocations, e.received_on, "payment")
            self._receipt(page, envelope, row, e.payment_id, "payment", e.received_on, e.amount_fen,
                          e.amount_fen - e.credit_fen, e.credit_fen, e.payer)
        elif t == T_CREDIT_APPLIED:
            self._income(page, envelope, row, e.allocations, e.applied_on, "credit")
            applied = sum(a.amount_fen for a in e.allocations)
            # Events from before applied credits had receipt ids derive it as the aggregate does
            # (``credit-<n>``, save that it cannot see a client's payment id that took that name).
            row["credit_receipts"] = (row["credit_receipts"] or 0) + 1
            receipt_id = e.receipt_id or f"credit-{row['credit_receipts']}"
            self._receipt(page, envelope, row, receipt_id, "credit", e.applied_on, applied, applied, 0, None)
        elif t == T_CREDIT_REFUNDED:
            row["cash_received_fen"] -= e.amount_fen
            row["refunded_fen"] += e.amount_fen
        elif t == T_INSURANCE:
            row["insurance_fen"] += e.amount_fen
            self._income(page, envelope, row, e.allocations, e.paid_on, "insurance")
            applied = sum(a.amount_fen for a in e.allocations)
            self._receipt(page, envelope, row, e.claim_id, "insurance", e.paid_on, e.amount_fen, applied,
                          0, e.insurer)
            self._ufpl_money(page, envelope, row, "insurance_compensation", e.paid_on, e.amount_fen)
        elif t == T_REVENUE:
            row["licensee_revenue_fen"] += e.report.revenue_fen
            self._ufpl_money(
                page, envelope, row, "licensee_revenue", e.report.reported_on, e.report.revenue_fen
            )
        elif t == T_CONVERTED:
            row["ufpl_stage"], row["converted_on"] = "paid", e.converted_on
        elif t == T_RETURNED:
            row.update(ufpl_stage="returned", returned_on=e.returned_on, status="terminated",
                       ended_on=e.returned_on)
        elif t == T_DEFAULTED:
            row["defaults"] += 1
            first = row["first_default_on"]
            row["first_default_on"] = e.defaulted_on if first is None else min(first, e.defaulted_on)
        table.touch(row)

    @staticmethod
    def _receipt(
        page: _Page, envelope: Envelope, row: Row, receipt_id: str, source: str, on: Any, amount_fen: int,
        applied_fen: int, credit_fen: int, payer: str | None,
    ) -> None:
        page.receipts.add(
            position=envelope.position, contract_id=row["contract_id"], receipt_id=receipt_id, source=source,
            received_on=on, amount_fen=amount_fen, applied_fen=applied_fen, credit_fen=credit_fen, payer=payer,
            currency=row["currency"],
        )

    def _income(
        self, page: _Page, envelope: Envelope, row: Row, allocations: Sequence[Any], on: Any,
        source: str,
    ) -> None:
        royalty_items = set(row["royalty_items"])
        by_category: dict[str, int] = {}
        for allocation in allocations:
            category = "running_royalty" if allocation.due_item_id in royalty_items else "other"
            by_category[category] = by_category.get(category, 0) + allocation.amount_fen
        for seq, category in enumerate(sorted(by_category)):
            page.income.add(
                position=envelope.position,
                seq=seq,
                contract_id=row["contract_id"],
                institution_id=row["seller_id"],
                contract_kind=row["kind"],
                received_on=on,
                category=category,
                source=source,
                amount_fen=by_category[category],
                currency=row["currency"],
            )

    def _ufpl_money(
        self, page: _Page, envelope: Envelope, row: Row, kind: str, on: Any, amount_fen: int
    ) -> None:
        if row["kind"] != "ufpl_licence":
            return
        page.ufpl_money.add(
            position=envelope.position,
            contract_id=row["contract_id"],
            kind=kind,
            on_date=on,
            amount_fen=amount_fen,
            seller_id=row["seller_id"],
            seller_region=row["seller_region"],
            buyer_size=row["buyer_size"],
            technology_field=row["technology_field"],
            currency=row["currency"],
        )

    # --- equity holdings -------------------------------------------------------------------

    def _holding(self, page: _Page, envelope: Envelope, t: str, e: Any) -> None:
        table = page.holdings
        if t == T_H_CONTRIBUTED:
            code = e.company.unified_social_credit_code
            known = table.where(lambda r: r["company_code"] == code)
            table.add(
                HOLDINGS.blank(
                    holding_id=e.originator_id,
                    contract_id=e.contract_id,
                    institution_id=e.institution_id,
                    company_code=code,
                    company_name=e.company.name,
                    contributed_on=e.contributed_on,
                    valuation_fen=e.valuation.amount_fen,
                    shares_received=e.shares_received,
                    shares_held=e.shares_received,
                    total_shares=e.total_shares,
                    new_company=not known,
                    cashed_in_fen=0,
                    dividends_fen=0,
                    currency=e.currency,
                )
            )
            return
        row = table.get(e.originator_id)
        if row is None:  # pragma: no cover - never before its contribution
            return
        if t == T_H_AWARDED:
            row["shares_held"] -= e.award.shares
        elif t == T_H_DILUTED:
            row["total_shares"] = e.new_total_shares
        elif t == T_H_DECIDED:
            row["decided_on"] = e.decision.decided_on
        elif t == T_H_SOLD:
            row["shares_held"] -= e.shares
            row["cashed_in_fen"] += e.proceeds_fen
            self._holding_income(page, envelope, row, e.sold_on, "cashed_in_equity", "shares_sold",
                                 e.proceeds_fen)
        elif t == T_H_DIVIDEND:
            row["dividends_fen"] += e.amount_fen
            self._holding_income(page, envelope, row, e.received_on, "dividend", "dividend",
                                 e.amount_fen)
        table.touch(row)

    def _holding_income(
        self, page: _Page, envelope: Envelope, row: Row, on: Any, category: str, source: str,
        amount_fen: int,
    ) -> None:
        if amount_fen == 0:
            return
        page.income.add(
            position=envelope.position,
            seq=0,
            contract_id=row["contract_id"],
            holding_id=row["holding_id"],
            institution_id=row["institution_id"],
            contract_kind="equity_contribution",
            received_on=on,
            category=category,
            source=source,
            amount_fen=amount_fen,
            currency=row["currency"],
        )
