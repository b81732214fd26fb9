"""Achievement (科技成果): a research result and everything that happens to it.

One aggregate per achievement keeps its owners and inventor team, the
separate asset register, rights grants, valuations, listings on one or more
exchanges, public notices of agreed prices, proof-of-concept funding, and the
encumbrances that contracts put on it. A joint listing is a further listing
of the same aggregate, never a copy, so that one deal is counted once.

Rules that need other aggregates (that an owner or exchange exists, that an
owner is public) are checked by the command handlers in ledger/; what this
aggregate cannot know arrives as arguments (``owner_is_public``, ``seller_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain import encumbrance as enc
from domain import public_notice as pn
from domain.achievement_values import (
    HUNDRED,
    Inventor,
    Listing,
    Owner,
    ProofOfConcept,
    RegisterSpell,
    RightsGrant,
    Valuation,
    check_money,
    check_not_before,
    check_share,
    check_text,
)
from domain.encumbrance import Encumbrance
from domain.enums import (
    ContractKind,
    IpType,
    LicenceType,
    NoticeOutcome,
    RightsGrantKind,
    TechnologyField,
    ValuationMethod,
)
from domain.errors import require, rule
from domain.invention_bonus import (
    INVENTION_BONUS_PAYMENT_VALID,
    InventionBonusObligation,
    InventionBonusPayment,
    obligation,
    owes_bonus,
)
from domain.money import DEFAULT_CURRENCY
from domain.public_notice import Objection, PublicNotice

__all__ = ["Achievement", "Encumbrance", "Inventor", "Listing", "Owner", "PublicNotice"]

PATENTS = frozenset({IpType.invention_patent, IpType.utility_model, IpType.design})
# Rights that have an official number from the day they are filed or registered;
# the same rights are the ones that are granted (授权) or registered on a date.
NUMBERED = PATENTS | {IpType.software_copyright, IpType.ic_layout, IpType.plant_variety}

G = "achievement"
OWNER_SHARES_SUM_TO_100 = rule(
    "owner_shares_sum_to_100", "Co-ownership shares of an achievement sum to exactly 100%.", group=G
)
OWNERS_DISTINCT = rule(
    "owners_distinct", "An institution appears once among an achievement's owners.", group=G
)
INVENTOR_SHARES_SUM_TO_100 = rule(
    "inventor_shares_sum_to_100",
    "Contribution shares of the inventor team sum to exactly 100%.",
    group=G,
)
OFFICIAL_NUMBER_MATCHES_IP_TYPE = rule(
    "official_number_matches_ip_type",
    "Patents (filed or granted), software copyrights, layout designs and plant varieties carry "
    "their official application or registration number; a technical secret has none.",
    group=G,
)
GRANT_DATE_MATCHES_IP_TYPE = rule(
    "grant_date_matches_ip_type",
    "Only a right that is granted or registered (patent, plant variety, layout design, software "
    "copyright) has a grant date; a technical secret never has one. A patent without one is "
    "a pending application.",
    group=G,
)
GRANT_RECORDED_ONCE = rule("grant_recorded_once", "A right is granted once.", group=G)
ACHIEVEMENT_LAPSED = rule(
    "achievement_lapsed",
    "A lapsed achievement (expired, abandoned or invalidated) is not listed, assigned or licensed "
    "from its lapse date on, and lapses once.",
    group=G,
)
SEPARATE_REGISTER_SERVICE_ONLY = rule(
    "separate_register_service_only",
    "Only service achievements are kept in the separate asset register.",
    source="陕西省“三项改革”：职务科技成果单列管理",
    group=G,
)
SEPARATE_REGISTER_NOT_ENTERED_TWICE = rule(
    "separate_register_not_entered_twice",
    "An achievement already in the separate asset register does not enter it again.",
    group=G,
)
SEPARATE_REGISTER_EXIT_NEEDS_ENTRY = rule(
    "separate_register_exit_needs_entry",
    "An achievement leaves the separate asset register only while it is in it.",
    group=G,
)
RIGHTS_GRANT_SERVICE_ONLY = rule(
    "rights_grant_service_only",
    "Ownership or a long-term use right is granted to inventors only for a service achievement.",
    source="国科发区〔2020〕128号 赋予科研人员职务科技成果所有权或长期使用权试点实施方案",
    group=G,
)
RIGHTS_GRANTED_ONCE = rule(
    "rights_granted_once",
    "Rights in an achievement are granted to its inventors once (ownership or a long-term use "
    "right), and not after the achievement was assigned away.",
    group=G,
)
RIGHTS_GRANT_TERMS_MATCH_KIND = rule(
    "rights_grant_terms_match_kind",
    "Ownership by share names a share for every inventor and the institution's retained share; "
    "joint ownership names no shares and no term; a long-term use right names its term and no "
    "shares.",
    group=G,
)
RIGHTS_GRANT_SHARES_SUM_TO_100 = rule(
    "rights_grant_shares_sum_to_100",
    "Under ownership by share, the inventors' shares and the institution's retained share sum to "
    "exactly 100%.",
    group=G,
)
VALUATION_ASSESSOR_REQUIRED = rule(
    "valuation_assessor_required",
    "A valuation by the cost, market or income method names its assessor; an agreed price need not.",
    group=G,
)
LISTING_NOT_DUPLICATED = rule(
    "listing_not_duplicated",
    "An exchange's listing number is recorded once per achievement, and an achievement has at "
    "most one listing in force per exchange; a joint listing elsewhere is a further listing of "
    "the same achievement.",
    group=G,
)
LISTING_IN_FORCE_TO_DELIST = rule(
    "listing_in_force_to_delist", "Only a listing in force is delisted.", group=G
)


class Achievement(Aggregate):
    """A research result (科技成果), usually a service achievement of its owners."""

    @event("Registered")
    def __init__(
        self,
        id: UUID,  # eventsourcing takes the aggregate id under this name
        title: str,
        ip_type: IpType,
        technology_field: TechnologyField,
        owners: list[Owner],
        inventors: list[Inventor],
        official_number: str | None,
        granted_on: date | None,
        service_achievement: bool,
        state_funded: bool,
        registered_on: date,
    ) -> None:
        self.title = title
        self.ip_type = ip_type
        self.technology_field = technology_field
        self.owners: tuple[Owner, ...] = tuple(owners)
        self.inventors: tuple[Inventor, ...] = tuple(inventors)
        self.official_number = official_number
        self.granted_on = granted_on
        self.service_achievement = service_achievement
        self.state_funded = state_funded
        self.registered_on = registered_on
        self.lapsed_on: date | None = None
        self.lapse_reason: str | None = None
        self.register_spells: tuple[RegisterSpell, ...] = ()
        self.rights_grant: RightsGrant | None = None
        self.valuations: tuple[Valuation, ...] = ()
        self.listings: tuple[Listing, ...] = ()
        self.notices: tuple[PublicNotice, ...] = ()
        self.proofs_of_concept: tuple[ProofOfConcept, ...] = ()
        self.encumbrances: tuple[Encumbrance, ...] = ()
        # Owners before each ownership change, by contract, so a release can restore them.
        self.owners_before: dict[UUID, tuple[Owner, ...]] = {}

    @classmethod
    def register(
        cls,
        *,
        title: str,
        ip_type: IpType,
        technology_field: TechnologyField,
        owners: Sequence[Owner],
        inventors: Sequence[Inventor],
        registered_on: date,
        official_number: str | None = None,
        granted_on: date | None = None,
        service_achievement: bool = True,
        state_funded: bool = False,
        id: UUID | None = None,
    ) -> Achievement:
        """Register an achievement; a patent without ``granted_on`` is a pending application."""
        title = check_text(title, "title")
        _check_owners(owners)
        _check_inventors(inventors)
        number = (official_number or "").strip() or None
        if ip_type in NUMBERED or ip_type == IpType.technical_secret:
            numbered = ip_type in NUMBERED
            require(
                numbered == (number is not None),
                OFFICIAL_NUMBER_MATCHES_IP_TYPE,
                "official_number",
                f"a {ip_type} {'has an' if numbered else 'has no'} official number",
                zh=f"{ip_type} {'须载明' if numbered else '不载明'}官方编号",
            )
        _check_grantable(ip_type, granted_on is None, "granted_on")
        return cls(
            id=id or uuid4(),
            title=title,
            ip_type=ip_type,
            technology_field=technology_field,
            owners=list(owners),
            inventors=list(inventors),
            official_number=number,
            granted_on=granted_on,
            service_achievement=service_achievement,
            state_funded=state_funded,
            registered_on=registered_on,
        )

    # --- the right itself -----------------------------------------------------------

    def record_grant(self, granted_on: date, number: str) -> None:
        """A pending patent (or other grantable right) is granted under ``number``."""
        _check_grantable(self.ip_type, False, "granted_on")
        once = self.granted_on is None
        require(once, GRANT_RECORDED_ONCE, "granted_on", f"granted on {self.granted_on}",
                zh=f"已于 {self.granted_on} 授权")
        self._granted(granted_on=granted_on, number=check_text(number, "number"))

    def record_invention_bonus(self, amount_fen: int, paid_on: date, payment_id: str,
                               agreed: str | None = None) -> None:
        """Pay the inventors' bonus for the granted patent (专利法实施细则 第93条), in one or more parts.

        ``agreed`` names the agreement or the unit's rule (第92条) when the amount was agreed:
        the bonus is then not judged by the statutory floor.
        """
        granted = self.granted_on
        require(owes_bonus(self.ip_type, self.service_achievement, granted), INVENTION_BONUS_PAYMENT_VALID,
                "achievement_id", f"a {self.ip_type} {'service' if self.service_achievement else 'non-service'} "
                f"achievement {'granted on ' + str(granted) if granted else 'not granted'} owes no invention bonus",
                zh=f"{'职务' if self.service_achievement else '非职务'}科技成果（{self.ip_type}）{'于 ' + str(granted) + ' 授权' if granted else '未授权'}，不产生发明人奖金义务")
        require(isinstance(amount_fen, int) and not isinstance(amount_fen, bool) and amount_fen > 0,
                INVENTION_BONUS_PAYMENT_VALID, "amount_fen", f"{amount_fen!r} is not a positive number of fen",
                zh=f"{amount_fen!r} 不是正的金额（分）")
        assert granted is not None
        require(paid_on >= granted, INVENTION_BONUS_PAYMENT_VALID, "paid_on",
                f"{paid_on} is before the grant on {granted}", zh=f"{paid_on} 早于授权日 {granted}")
        used = {p.payment_id for p in self.invention_bonuses}
        require(bool(payment_id.strip()) and payment_id not in used, INVENTION_BONUS_PAYMENT_VALID,
                "payment_id", f"{payment_id!r} is blank or already used",
                zh=f"付款编号 {payment_id!r} 为空白或已使用")
        note = (agreed or "").strip() or None
        self._invention_bonus_paid(payment=InventionBonusPayment(payment_id, amount_fen, paid_on, note))

    @property
    def invention_bonuses(self) -> tuple[InventionBonusPayment, ...]:
        return getattr(self, "_bonus_payments", ())

    def invention_bonus(self, as_of: date) -> InventionBonusObligation | None:
        """The bonus obligation of the granted patent as of ``as_of`` (None: none, or not yet granted)."""
        granted = self.granted_on
        if not owes_bonus(self.ip_type, self.service_achievement, granted) or granted is None or granted > as_of:
            return None
        return obligation(self.ip_type, granted, self.invention_bonuses, as_of)

    def record_lapse(self, on: date, reason: str) -> None:
        """The right expired, was abandoned or invalidated (终止/放弃/无效)."""
        once = self.lapsed_on is None
        require(once, ACHIEVEMENT_LAPSED, "on", f"lapsed already on {self.lapsed_on}",
                zh=f"已于 {self.lapsed_on} 失效")
        self._lapsed(on=on, reason=check_text(reason, "reason"))

    # --- separate asset register ----------------------------------------------------

    def enter_separate_register(self, on: date) -> None:
        service = self.service_achievement
        require(service, SEPARATE_REGISTER_SERVICE_ONLY, "on", "not a service achievement",
                zh="不是职务科技成果")
        inside = self.in_separate_register()
        require(not inside, SEPARATE_REGISTER_NOT_ENTERED_TWICE, "on", "already in the register",
                zh="已纳入资产单列管理")
        self._entered_separate_register(on=on)

    def exit_separate_register(self, on: date, reason: str) -> None:
        inside = self.in_separate_register()
        require(inside, SEPARATE_REGISTER_EXIT_NEEDS_ENTRY, "on", "not in the register",
                zh="未纳入资产单列管理")
        check_not_before(on, self.register_spells[-1].entered_on, "on")
        self._exited_separate_register(on=on, reason=check_text(reason, "reason"))

    # --- rights grant (赋权) -----------------------------------------------------------

    def grant_rights(
        self,
        kind: RightsGrantKind,
        granted_on: date,
        *,
        inventor_shares: Sequence[Decimal] = (),
        retained_share: Decimal | None = None,
        use_right_start: date | None = None,
        use_right_end: date | None = None,
    ) -> None:
        service = self.service_achievement
        require(service, RIGHTS_GRANT_SERVICE_ONLY, "kind", "not a service achievement",
                zh="不是职务科技成果")
        once = self.rights_grant is None and not self.is_assigned_away()
        require(once, RIGHTS_GRANTED_ONCE, "kind", "granted already, or assigned away",
                zh="已赋权，或已转让")
        by_share = kind == RightsGrantKind.ownership_by_share
        use_right = kind == RightsGrantKind.long_term_use_right
        for name, wanted, given in (
            ("inventor_shares", by_share, bool(inventor_shares)),
            ("retained_share", by_share, retained_share is not None),
            ("use_right_start", use_right, use_right_start is not None),
            ("use_right_end", use_right, use_right_end is not None),
        ):
            verb = "needs" if wanted else "takes no"
            require(wanted == given, RIGHTS_GRANT_TERMS_MATCH_KIND, name, f"{kind} {verb} {name}",
                    zh=f"{kind} {'须载明' if wanted else '不载明'} {name}")
        if by_share:
            assert retained_share is not None
            self._check_grant_shares(inventor_shares, retained_share)
        if use_right_start is not None and use_right_end is not None:
            check_not_before(use_right_end, use_right_start, "use_right_end", strictly=True)
        grant = RightsGrant(
            kind, granted_on, tuple(inventor_shares), retained_share, use_right_start, use_right_end
        )
        self._rights_granted(grant=grant)

    def _check_grant_shares(self, inventor_shares: Sequence[Decimal], retained: Decimal) -> None:
        count = len(self.inventors)
        require(
            len(inventor_shares) == count,
            RIGHTS_GRANT_TERMS_MATCH_KIND,
            "inventor_shares",
            f"{len(inventor_shares)} shares for {count} inventors",
            zh=f"{len(inventor_shares)} 个份额对应 {count} 位成果完成人",
        )
        for i, share in enumerate(inventor_shares):
            check_share(share, f"inventor_shares[{i}]", zero_allowed=True)
        check_share(retained, "retained_share", zero_allowed=True)
        total = sum(inventor_shares, Decimal(0)) + retained
        require(
            total == HUNDRED,
            RIGHTS_GRANT_SHARES_SUM_TO_100,
            "inventor_shares",
            f"shares with the retained share sum to {total}%",
            zh=f"完成人份额与单位保留份额合计为 {total}%",
        )

    # --- valuation, listing, proof of concept ------------------------------------------

    def record_valuation(
        self,
        method: ValuationMethod,
        amount_fen: int,
        valued_on: date,
        assessor: str | None = None,
        currency: str = DEFAULT_CURRENCY,
    ) -> None:
        named = assessor.strip() if assessor and assessor.strip() else None
        needed = method != ValuationMethod.agreed
        require(
            not needed or named is not None,
            VALUATION_ASSESSOR_REQUIRED,
            "assessor",
            f"a {method} valuation names its assessor",
            zh=f"以 {method} 方式评估须载明评估机构",
        )
        check_money(amount_fen, currency, "amount_fen")
        self._valued(valuation=Valuation(method, named, amount_fen, currency, valued_on))

    def list_on_exchange(
        self,
        exchange_id: UUID,
        listing_number: str,
        listed_on: date,
        asking_price_fen: int | None = None,
        currency: str = DEFAULT_CURRENCY,
    ) -> None:
        """List on an exchange; listing on a second exchange is a joint listing (联合挂牌)."""
        number = check_text(listing_number, "listing_number")
        for old in self.listings:
            clash = old.exchange_id == exchange_id and (
                old.listing_number == number or old.delisted_on is None
            )
            detail = f"exchange {exchange_id} has listing {old.listing_number}"
            zh = f"交易所 {exchange_id} 已有挂牌 {old.listing_number}"
            require(not clash, LISTING_NOT_DUPLICATED, "listing_number", detail, zh=zh)
        if asking_price_fen is not None:
            check_money(asking_price_fen, currency, "asking_price_fen")
        self._check_not_lapsed(listed_on, "listed_on")
        listing = Listing(exchange_id, number, asking_price_fen, currency, listed_on)
        self._listed(listing=listing)

    def delist(self, exchange_id: UUID, on: date) -> None:
        current = [x for x in self.listings if x.exchange_id == exchange_id and x.in_force()]
        detail = f"no listing in force on exchange {exchange_id}"
        zh = f"交易所 {exchange_id} 没有有效的挂牌"
        require(bool(current), LISTING_IN_FORCE_TO_DELIST, "exchange_id", detail, zh=zh)
        check_not_before(on, current[0].listed_on, "on")
        self._delisted(exchange_id=exchange_id, on=on)

    def record_proof_of_concept(
        self,
        funder: str,
        amount_fen: int,
        stage: str,
        funded_on: date,
        outcome: str | None = None,
        currency: str = DEFAULT_CURRENCY,
    ) -> None:
        funder, stage = check_text(funder, "funder"), check_text(stage, "stage")
        check_money(amount_fen, currency, "amount_fen")
        result = outcome.strip() if outcome and outcome.strip() else None
        proof = ProofOfConcept(funder, amount_fen, currency, stage, result, funded_on)
        self._proof_of_concept_funded(proof=proof)

    # --- public notice (公示) ---------------------------------------------------------

    def publish_notice(
        self,
        starts_on: date,
        ends_on: date,
        agreed_price_fen: int,
        currency: str = DEFAULT_CURRENCY,
    ) -> None:
        pn.check_publish(self.notices)
        check_not_before(ends_on, starts_on, "ends_on")
        check_money(agreed_price_fen, currency, "agreed_price_fen")
        notice = PublicNotice(starts_on, ends_on, agreed_price_fen, currency)
        self._notice_published(notice=notice)

    def record_objection(self, objector: str, reason: str, raised_on: date) -> None:
        pn.check_objection(self.notices, raised_on)
        objection = Objection(
            check_text(objector, "objector"), check_text(reason, "reason"), raised_on
        )
        self._objection_recorded(objection=objection)

    def conclude_notice(self, outcome: NoticeOutcome, on: date) -> None:
        pn.check_conclusion(self.notices, outcome, on)
        self._notice_concluded(outcome=outcome, on=on)

    def agreed_price_notice_satisfied(self, on: date) -> bool:
        """A notice concluded by ``on`` stands, with no objection upheld."""
        return pn.notice_satisfied(self.notices, on)

    def check_transferable_at_agreed_price(
        self, owner_is_public: bool, on: date, field: str
    ) -> None:
        """Raise ``agreed_price_notice_required`` unless the transfer may take effect on ``on``."""
        pn.check_agreed_price(self.notices, owner_is_public, on, field)

    # --- encumbrances by contracts ------------------------------------------------------

    def encumber(
        self,
        contract_id: UUID,
        kind: ContractKind,
        licence_type: LicenceType | None,
        territory: str,
        term_start: date,
        term_end: date | None,
        assignee_id: UUID | None,
        on: date,
        field: str = "achievement_ids",
        seller_id: UUID | None = None,
    ) -> None:
        """A contract takes effect on ``on`` (see domain/encumbrance.py for the rules).

        Assignments and equity contributions make ``assignee_id`` the sole
        owner. Pass ``seller_id`` so that an assignee can deal in what it now
        owns. Development, consulting and service contracts are recorded,
        clash with nothing and move no rights.
        """
        new = enc.new_encumbrance(
            self.encumbrances,
            contract_id=contract_id,
            kind=kind,
            licence_type=licence_type,
            territory=territory,
            term_start=term_start,
            term_end=term_end,
            assignee_id=assignee_id,
            on=on,
            field=field,
        )
        if new.is_licence or new.moves_ownership:
            self._check_not_lapsed(on, field)
            former = {o.institution_id for before in self.owners_before.values() for o in before}
            enc.check_seller(self.encumbrances, self.owner_ids, former, seller_id, field)
        self._encumbered(encumbrance=new)

    def release(self, contract_id: UUID, on: date) -> None:
        """The contract ended (terminated, expired, UFPL returned): the achievement is free of it."""
        enc.check_release(self.encumbrances, contract_id, on)
        self._released(contract_id=contract_id, on=on)

    # --- queries ------------------------------------------------------------------------

    @property
    def owner_ids(self) -> list[UUID]:
        return [o.institution_id for o in self.owners]

    def in_separate_register(self, on: date | None = None) -> bool:
        """In the register now, or on ``on`` when given."""
        return any(
            (s.exited_on is None)
            if on is None
            else (s.entered_on <= on and (s.exited_on is None or on < s.exited_on))
            for s in self.register_spells
        )

    def latest_valuation(self, on: date | None = None) -> Valuation | None:
        dated = [v for v in self.valuations if on is None or v.valued_on <= on]
        return max(dated, key=lambda v: v.valued_on) if dated else None

    def listings_in_force(self, on: date | None = None) -> list[Listing]:
        return [x for x in self.listings if x.in_force(on)]

    def licences_in_force(self, on: date) -> list[Encumbrance]:
        return [e for e in self.encumbrances if e.is_licence and e.in_force(on)]

    def is_assigned_away(self, on: date | None = None) -> bool:
        """Ownership has moved to an assignee (now, or on ``on``)."""
        return any(
            e.moves_ownership
            and (
                e.released_on is None
                if on is None
                else e.effective_on <= on and (e.released_on is None or on < e.released_on)
            )
            for e in self.encumbrances
        )

    def first_transferred_on(self) -> date | None:
        """When the achievement was first assigned, licensed or contributed (转化)."""
        dates = [e.effective_on for e in self.encumbrances if e.is_licence or e.moves_ownership]
        return min(dates) if dates else None

    def is_transferred(self, on: date) -> bool:
        """Assigned, licensed or contributed by ``on``, even if that contract ended since.

        One achievement counts once however many exchanges listed it.
        """
        first = self.first_transferred_on()
        return first is not None and first <= on

    # --- events -------------------------------------------------------------------------

    @event("Granted")
    def _granted(self, granted_on: date, number: str) -> None:
        self.granted_on = granted_on
        self.official_number = number

    @event("InventionBonusPaid")
    def _invention_bonus_paid(self, payment: InventionBonusPayment) -> None:
        self._bonus_payments = (*self.invention_bonuses, payment)

    @event("Lapsed")
    def _lapsed(self, on: date, reason: str) -> None:
        self.lapsed_on = on
        self.lapse_reason = reason

    @event("SeparateRegisterEntered")
    def _entered_separate_register(self, on: date) -> None:
        self.register_spells = (*self.register_spells, RegisterSpell(entered_on=on))

    @event("SeparateRegisterExited")
    def _exited_separate_register(self, on: date, reason: str) -> None:
        last = replace(self.register_spells[-1], exited_on=on, exit_reason=reason)
        self.register_spells = (*self.register_spells[:-1], last)

    @event("RightsGranted")
    def _rights_granted(self, grant: RightsGrant) -> None:
        self.rights_grant = grant

    @event("Valued")
    def _valued(self, valuation: Valuation) -> None:
        self.valuations = (*self.valuations, valuation)

    @event("Listed")
    def _listed(self, listing: Listing) -> None:
        self.listings = (*self.listings, listing)

    @event("Delisted")
    def _delisted(self, exchange_id: UUID, on: date) -> None:
        self.listings = tuple(
            replace(x, delisted_on=on) if x.exchange_id == exchange_id and x.in_force() else x
            for x in self.listings
        )

    @event("ProofOfConceptFunded")
    def _proof_of_concept_funded(self, proof: ProofOfConcept) -> None:
        self.proofs_of_concept = (*self.proofs_of_concept, proof)

    @event("NoticePublished")
    def _notice_published(self, notice: PublicNotice) -> None:
        self.notices = (*self.notices, notice)

    @event("ObjectionRecorded")
    def _objection_recorded(self, objection: Objection) -> None:
        last = self.notices[-1]
        self.notices = (*self.notices[:-1], replace(last, objections=(*last.objections, objection)))

    @event("NoticeConcluded")
    def _notice_concluded(self, outcome: NoticeOutcome, on: date) -> None:
        last = replace(self.notices[-1], outcome=outcome, concluded_on=on)
        self.notices = (*self.notices[:-1], last)

    @event("Encumbered")
    def _encumbered(self, encumbrance: Encumbrance) -> None:
        self.encumbrances = (*self.encumbrances, encumbrance)
        if encumbrance.moves_ownership and encumbrance.assignee_id is not None:
            self.owners_before = {**self.owners_before, encumbrance.contract_id: self.owners}
            self.owners = (Owner(encumbrance.assignee_id, HUNDRED),)

    @event("Released")
    def _released(self, contract_id: UUID, on: date) -> None:
        self.encumbrances = tuple(
            replace(e, released_on=on) if e.contract_id == contract_id else e
            for e in self.encumbrances
        )
        if contract_id in self.owners_before:
            self.owners = self.owners_before[contract_id]
            self.owners_before = {k: v for k, v in self.owners_before.items() if k != contract_id}

    # --- helpers ------------------------------------------------------------------------

    def _check_not_lapsed(self, on: date, field: str) -> None:
        live = self.lapsed_on is None or on < self.lapsed_on
        require(live, ACHIEVEMENT_LAPSED, field, f"the achievement lapsed on {self.lapsed_on}",
                zh=f"成果已于 {self.lapsed_on} 失效")


def _check_grantable(ip_type: IpType, no_grant: bool, field: str) -> None:
    ok = no_grant or ip_type in NUMBERED
    require(ok, GRANT_DATE_MATCHES_IP_TYPE, field, f"a {ip_type} is not granted",
            zh=f"{ip_type} 不经授权，没有授权日")


def _check_owners(owners: Sequence[Owner]) -> None:
    seen: set[UUID] = set()
    for i, owner in enumerate(owners):
        check_share(owner.share, f"owners[{i}].share")
        again = owner.institution_id in seen
        path = f"owners[{i}].institution_id"
        require(not again, OWNERS_DISTINCT, path, f"{owner.institution_id} is listed twice",
                zh=f"{owner.institution_id} 被列出两次")
        seen.add(owner.institution_id)
    total = sum((o.share for o in owners), Decimal(0))
    require(total == HUNDRED, OWNER_SHARES_SUM_TO_100, "owners", f"shares sum to {total}%",
            zh=f"份额合计为 {total}%")


def _check_inventors(inventors: Sequence[Inventor]) -> None:
    for i, inventor in enumerate(inventors):
        check_text(inventor.name, f"inventors[{i}].name")
        check_share(inventor.share, f"inventors[{i}].share")
    total = sum((p.share for p in inventors), Decimal(0))
    require(total == HUNDRED, INVENTOR_SHARES_SUM_TO_100, "inventors", f"shares sum to {total}%",
            zh=f"份额合计为 {total}%")
