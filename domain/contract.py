"""TechnologyContract (技术合同): one aggregate for every contract kind.

Lifecycle: drafted → signed → in force → completed, terminated or expired.
Registration (认定登记) is a separate record beside ``status``, not a
status: registries register contracts any time after signing and before the
contract ends, before or after it takes effect, so both orders work and a
registered contract's status still says where it stands. Corrections (补正)
replace the registered figures by new events; ``registration_history``
keeps every version.

Money: the contract keeps its ``Settlement`` (due items, payments, credits).
Fixed payments fall due when payments start, which is the effective date,
or for a use-first-pay-later licence the conversion date. Royalties fall due
from reports, milestone payments when a milestone is reached.

Each command checks everything first and then records one event, so a
rejected command records nothing. Multi-aggregate steps (encumbering the
achievements when a contract takes effect) live in ``domain.services``.

The commands are split by subject: lifecycle and registration here, money
in ``domain.contract_money``, the UFPL trial in ``domain.contract_ufpl``.
Every event is defined here, so this class lists all a stream can hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.contract_money import (
    ContractMoney,
    RiskEvent,
    RiskKind,
    RoyaltyReport,
)
from domain.contract_state import (
    CONTRACT_DATES_IN_ORDER,
    CONTRACT_END_REASON_REQUIRED,
    ContractStatus,
)
from domain.contract_terms import (
    ContractTerms,
    Registration,
    check_contract_terms,
    check_registration,
)
from domain.contract_ufpl import ContractUfpl
from domain.enums import ContractKind
from domain.errors import require, rule
from domain.payment_terms import PaymentTerms
from domain.settlement import (
    Allocation,
    Cancellation,
    Deferral,
    DueItem,
    KeptItem,
    Settlement,
    scheduled_items,
)
from domain.ufpl import UFPL_STAGE_ALLOWS, RevenueReport, UfplStage, UfplTrigger

G = "contract"

CONTRACT_REGISTERED_ONCE = rule(
    "contract_registered_once",
    "A contract is registered (认定登记) once; later changes are corrections (补正) of a "
    "registration that exists, and each states its reason.",
    source="技术合同认定登记管理办法",
    group=G,
)
CORRECTION_REQUEST_OPEN_ONCE = rule(
    "correction_request_open_once",
    "A registry's request for a correction (补正) is recorded for a signed contract, before or after "
    "its registration, one open request at a time, with the registry's reason; the registration "
    "(or the correction of one) that follows answers it.",
    source="技术合同认定登记管理办法",
    group=G,
)
CONTRACT_SETTLED_TO_COMPLETE = rule(
    "contract_settled_to_complete",
    "A contract is completed only when nothing that fell due is outstanding.",
    group=G,
)
CONTRACT_EXPIRES_AT_TERM_END = rule(
    "contract_expires_at_term_end",
    "A contract with a term expires on or after the last day of its term, never before.",
    group=G,
)


class TechnologyContract(ContractMoney, ContractUfpl, Aggregate):
    """A technology contract (技术合同) of any ``ContractKind``."""

    # 2: credits applied before receipts of applied credits existed replay as receipts, which
    # a snapshot taken before then lacks (ledger/snapshots.py ignores it and replays).
    # 3: due items keep the day they arose and their dated movements (the state on a date).
    snapshot_shape = 3

    @event("Drafted")
    def __init__(self, id: UUID, terms: ContractTerms, drafted_on: date) -> None:
        self.terms = terms
        self.drafted_on = drafted_on
        self.status = ContractStatus.drafted
        self.signed_on: date | None = None
        self.effective_on: date | None = None
        self.ended_on: date | None = None
        self.end_reason: str | None = None
        self.registration: Registration | None = None
        self.registration_history: tuple[Registration, ...] = ()
        self.settlement = Settlement()
        self.pays_from: date | None = None  # the date payments count from (effect or conversion)
        self.royalty_reports: tuple[RoyaltyReport, ...] = ()
        self.minimum_royalty_years: tuple[int, ...] = ()
        self.milestones_reached: dict[str, date] = {}
        self.ufpl_stage: UfplStage | None = None
        self.conversion: tuple[UfplTrigger, date, date] | None = (
            None  # trigger, met on, converted on
        )
        self.paid_terms_history: tuple[PaymentTerms, ...] = (terms.payment_terms,)
        self.revenue_reports: tuple[RevenueReport, ...] = ()
        self.risk_events: tuple[RiskEvent, ...] = ()
        # Money received per payment or claim id: (amount settling due items, date).
        # Income distribution (收益分配) allocates each of these receipts once.
        self.receipts: dict[str, tuple[int, date]] = {}
        # Receipts made by applying a credit (``credit-<n>``): receipt id -> the credit applied.
        self.credit_receipts: dict[str, str] = {}

    @classmethod
    def draft(
        cls, *, terms: ContractTerms, drafted_on: date, id: UUID | None = None
    ) -> TechnologyContract:
        terms = terms.normalised()
        check_contract_terms(terms)
        return cls(id=id or uuid4(), terms=terms, drafted_on=drafted_on)

    # --- queries ----------------------------------------------------------------------

    @property
    def kind(self) -> ContractKind:
        return self.terms.kind

    @property
    def contract_value_fen(self) -> int:
        return self.terms.contract_value_fen

    @property
    def transaction_value_fen(self) -> int:
        return self.terms.transaction_value_fen

    @property
    def registered_value_fen(self) -> int | None:
        """登记额: the approved technology transaction value, once registered."""
        return self.registration.approved_transaction_value_fen if self.registration else None

    @property
    def currency(self) -> str:
        return self.terms.currency

    # --- drafting and signing -------------------------------------------------------

    def amend_terms(self, terms: ContractTerms, amended_on: date) -> None:
        self._require_status(ContractStatus.drafted)
        self._require_date(amended_on, self.drafted_on, "amended_on")
        terms = terms.normalised()
        check_contract_terms(terms)
        self._terms_amended(terms=terms, amended_on=amended_on)

    def sign(self, on: date) -> None:
        self._require_status(ContractStatus.drafted)
        self._require_date(on, self.drafted_on, "on")
        self._signed(signed_on=on)

    def register(self, registration: Registration) -> None:
        self._require_status(ContractStatus.signed, ContractStatus.in_force)
        require(
            self.registration is None,
            CONTRACT_REGISTERED_ONCE,
            "registration",
            "already registered: record a correction",
            zh="已认定登记：请记录补正",
        )
        assert self.signed_on is not None
        self._require_date(registration.registered_on, self.signed_on, "registration.registered_on")
        check_registration(registration, self.contract_value_fen)
        self._registered(registration=registration)

    correction_requested: tuple[date, str] | None = None
    """The registry's open request for a correction (补正): when and why; ``None`` when none is open.
    A class default, so a snapshot taken before requests existed reads ``None``."""

    def request_registration_correction(self, requested_on: date, reason: str) -> None:
        """The registry asks for a correction (补正) of the application or of the registration."""
        if self.registration is None:  # an application: only a contract that may still be registered
            self._require_status(ContractStatus.signed, ContractStatus.in_force)
        open_request = self.correction_requested
        require(
            open_request is None,
            CORRECTION_REQUEST_OPEN_ONCE,
            "requested_on",
            f"a correction requested on {open_request[0] if open_request else ''} is not answered yet",
            zh=f"{open_request[0] if open_request else ''} 提出的补正要求尚未答复",
        )
        require(bool(reason.strip()), CORRECTION_REQUEST_OPEN_ONCE, "reason", "a request states the registry's reason",
                zh="补正要求须载明登记机构的理由")
        assert self.signed_on is not None
        self._require_date(requested_on, self.signed_on, "requested_on")
        self._registration_correction_requested(requested_on=requested_on, reason=reason)

    def correct_registration(
        self, registration: Registration, corrected_on: date, reason: str
    ) -> None:
        """补正: the registry's corrected figures replace the registered ones."""
        require(
            self.registration is not None,
            CONTRACT_REGISTERED_ONCE,
            "registration",
            "nothing to correct",
            zh="没有可补正的登记",
        )
        require(
            bool(reason.strip()),
            CONTRACT_REGISTERED_ONCE,
            "reason",
            "a correction states its reason",
            zh="补正须说明理由",
        )
        assert self.registration is not None
        self._require_date(corrected_on, self.registration.registered_on, "corrected_on")
        check_registration(registration, self.contract_value_fen)
        self._registration_corrected(
            registration=registration, corrected_on=corrected_on, reason=reason
        )

    # --- taking effect and ending -------------------------------------------------------

    def check_take_effect(self, on: date) -> None:
        """Everything ``take_effect`` checks, without recording (for ``domain.services``)."""
        self._require_status(ContractStatus.signed)
        assert self.signed_on is not None
        self._require_date(on, self.signed_on, "on")
        lic = self.terms.licence
        if lic is not None and lic.term_end is not None:
            require(
                on <= lic.term_end,
                CONTRACT_DATES_IN_ORDER,
                "on",
                f"the licence term ended {lic.term_end}",
                zh=f"许可期限已于 {lic.term_end} 届满",
            )
        ufpl = self.terms.ufpl
        if ufpl is not None:
            require(
                on < ufpl.trial_end_on,
                CONTRACT_DATES_IN_ORDER,
                "on",
                f"the trial was to end {ufpl.trial_end_on}",
                zh=f"试用期应于 {ufpl.trial_end_on} 结束",
            )

    def take_effect(self, on: date) -> None:
        """The contract takes effect; prefer ``domain.services.take_effect``, which encumbers."""
        self.check_take_effect(on)
        items = [] if self.is_ufpl else scheduled_items(self.terms.payment_terms, on)
        self._took_effect(effective_on=on, due_items=items)

    def complete(self, on: date) -> None:
        self._require_status(ContractStatus.in_force)
        require(
            self.ufpl_stage != UfplStage.trial,
            UFPL_STAGE_ALLOWS,
            "status",
            "still in the UFPL trial",
            zh="仍在先使用后付费试用期内",
        )
        self._require_date(on, self.effective_on, "on")
        open_fen = self.outstanding_fen()
        require(
            open_fen == 0, CONTRACT_SETTLED_TO_COMPLETE, "on", f"{open_fen} fen still outstanding",
            zh=f"仍有 {open_fen} 分未结清"
        )
        cancelled, kept = self._plan_end(on, ())
        self._completed(completed_on=on)
        self._record_end_settlement(on, cancelled, kept)

    def terminate(self, on: date, reason: str, kept: Sequence[KeptItem] = ()) -> None:
        """Terminate (解除, 民法典 第566条): items due after ``on`` are cancelled unless kept."""
        self._require_status(ContractStatus.signed, ContractStatus.in_force)
        require(bool(reason.strip()), CONTRACT_END_REASON_REQUIRED, "reason", "reason is blank",
                zh="理由为空白")
        self._require_date(on, self.effective_on or self.signed_on, "on")
        cancelled, kept_items = self._plan_end(on, kept)
        self._terminated(terminated_on=on, reason=reason)
        self._record_end_settlement(on, cancelled, kept_items)

    def expire(self, on: date, kept: Sequence[KeptItem] = ()) -> None:
        self._require_status(ContractStatus.in_force)
        self._require_date(on, self.effective_on, "on")
        lic = self.terms.licence
        if lic is not None and lic.term_end is not None:
            require(
                on >= lic.term_end,
                CONTRACT_EXPIRES_AT_TERM_END,
                "on",
                f"the term runs to {lic.term_end}",
                zh=f"期限至 {lic.term_end} 届满",
            )
        cancelled, kept_items = self._plan_end(on, kept)
        self._expired(expired_on=on)
        self._record_end_settlement(on, cancelled, kept_items)

    def _plan_end(
        self, on: date, kept: Sequence[KeptItem]
    ) -> tuple[list[Cancellation], list[DueItem]]:
        """What the end on ``on`` cancels and keeps (checked before anything is recorded)."""
        return self.settlement.plan_end(on), self.settlement.plan_kept(kept, on)

    def _record_end_settlement(
        self, on: date, cancelled: list[Cancellation], kept: list[DueItem]
    ) -> None:
        """Recorded with the ending event, in the same command, when it changes anything."""
        if cancelled or kept:
            self._end_settled(ended_on=on, cancelled=cancelled, kept=kept)

    # --- events -------------------------------------------------------------------------------

    @event("TermsAmended")
    def _terms_amended(self, terms: ContractTerms, amended_on: date) -> None:
        self.terms = terms
        self.paid_terms_history = (terms.payment_terms,)

    @event("Signed")
    def _signed(self, signed_on: date) -> None:
        self.status = ContractStatus.signed
        self.signed_on = signed_on

    @event("Registered")
    def _registered(self, registration: Registration) -> None:
        self.registration = registration
        self.registration_history = (registration,)
        self.correction_requested = None

    @event("RegistrationCorrectionRequested")
    def _registration_correction_requested(self, requested_on: date, reason: str) -> None:
        self.correction_requested = (requested_on, reason)

    @event("RegistrationCorrected")
    def _registration_corrected(
        self, registration: Registration, corrected_on: date, reason: str
    ) -> None:
        self.registration = registration
        self.registration_history = (*self.registration_history, registration)
        self.correction_requested = None

    @event("TookEffect")
    def _took_effect(self, effective_on: date, due_items: list[DueItem]) -> None:
        self.status = ContractStatus.in_force
        self.effective_on = effective_on
        if self.is_ufpl:
            self.ufpl_stage = UfplStage.trial
        else:
            self.pays_from = effective_on
        self.settlement.add(due_items, effective_on)

    @event("Completed")
    def _completed(self, completed_on: date) -> None:
        self.status = ContractStatus.completed
        self.ended_on = completed_on

    @event("Terminated")
    def _terminated(self, terminated_on: date, reason: str) -> None:
        self.status = ContractStatus.terminated
        self.ended_on = terminated_on
        self.end_reason = reason

    @event("Expired")
    def _expired(self, expired_on: date) -> None:
        self.status = ContractStatus.expired
        self.ended_on = expired_on

    @event("EndSettled")
    def _end_settled(
        self, ended_on: date, cancelled: list[Cancellation], kept: list[DueItem]
    ) -> None:
        """民法典 第566条: what the end cancelled (not yet due) and kept (still owed)."""
        self.settlement.cancel(cancelled, ended_on)
        self.settlement.add(kept, ended_on)

    @event("RoyaltyReported")
    def _royalty_reported(
        self, report: RoyaltyReport, due_item: DueItem | None, arose_on: date | None = None
    ) -> None:
        # ``arose_on`` is None in reports recorded before it existed: those arose on their due
        # date (domain/arising.py), as the journal booked them.
        self.royalty_reports = (*self.royalty_reports, report)
        if due_item is not None:
            self.settlement.add([due_item], arose_on or due_item.due_on)

    @event("MinimumRoyaltyToppedUp")
    def _minimum_royalty_topped_up(
        self, contract_year: int, royalty_fen: int, due_item: DueItem,
        topped_up_on: date | None = None,
    ) -> None:
        self.minimum_royalty_years = (*self.minimum_royalty_years, contract_year)
        self.settlement.add([due_item], topped_up_on or due_item.due_on)

    @event("MilestoneReached")
    def _milestone_reached(self, name: str, reached_on: date, due_item: DueItem | None) -> None:
        self.milestones_reached = {**self.milestones_reached, name: reached_on}
        if due_item is not None:
            self.settlement.add([due_item], reached_on)

    @event("PaymentReceived")
    def _payment_received(
        self,
        payment_id: str,
        amount_fen: int,
        received_on: date,
        payer: str | None,
        allocations: list[Allocation],
        credit_fen: int,
    ) -> None:
        self.settlement.references.add(payment_id)
        self.settlement.apply_allocations(allocations, received_on)
        if credit_fen:
            self.settlement.credits[payment_id] = credit_fen
        self.receipts = {**self.receipts, payment_id: (amount_fen - credit_fen, received_on)}

    @event("CreditApplied")
    def _credit_applied(
        self,
        credit_id: str,
        applied_on: date,
        allocations: list[Allocation],
        receipt_id: str | None = None,
    ) -> None:
        """The credit applied becomes income: a receipt of its own, dated the application.

        Events recorded before receipts of applied credits existed carry no
        ``receipt_id``; replaying one derives it as the command would have.
        """
        applied = sum(a.amount_fen for a in allocations)
        receipt_id = receipt_id or self._next_credit_receipt_id()
        self.settlement.apply_allocations(allocations, applied_on)
        self.settlement.credits[credit_id] -= applied
        self.settlement.references.add(receipt_id)
        self.credit_receipts = {**self.credit_receipts, receipt_id: credit_id}
        self.receipts = {**self.receipts, receipt_id: (applied, applied_on)}

    @event("CreditRefunded")
    def _credit_refunded(
        self, credit_id: str, amount_fen: int, refunded_on: date, reference: str
    ) -> None:
        self.settlement.references.add(reference)
        self.settlement.credits[credit_id] -= amount_fen

    @event("DueItemsDeferred")
    def _due_items_deferred(
        self, deferrals: list[Deferral], approver: str, reason: str, decided_on: date
    ) -> None:
        self.settlement.apply_deferrals(deferrals, decided_on)

    @event("WrittenOff")
    def _written_off(
        self, due_item_id: str, amount_fen: int, approver: str, reason: str, written_off_on: date
    ) -> None:
        self.settlement.write_off(due_item_id, amount_fen, written_off_on)

    @event("LicenseeRevenueReported")
    def _licensee_revenue_reported(self, report: RevenueReport) -> None:
        self.revenue_reports = (*self.revenue_reports, report)

    @event("PaidTermsRenegotiated")
    def _paid_terms_renegotiated(self, payment_terms: PaymentTerms, agreed_on: date) -> None:
        self.terms = replace(self.terms, payment_terms=payment_terms)
        self.paid_terms_history = (*self.paid_terms_history, payment_terms)

    @event("ConvertedToPaid")
    def _converted_to_paid(
        self,
        trigger: UfplTrigger,
        trigger_met_on: date,
        converted_on: date,
        due_items: list[DueItem],
    ) -> None:
        self.ufpl_stage = UfplStage.paid
        self.pays_from = converted_on
        self.conversion = (trigger, trigger_met_on, converted_on)
        self.settlement.add(due_items, converted_on)

    @event("LicenceReturned")
    def _licence_returned(self, returned_on: date, reason: str) -> None:
        self.ufpl_stage = UfplStage.returned
        self.status = ContractStatus.terminated
        self.ended_on = returned_on
        self.end_reason = reason

    @event("LicenseeDefaulted")
    def _licensee_defaulted(self, defaulted_on: date, description: str) -> None:
        self.risk_events = (
            *self.risk_events,
            RiskEvent(RiskKind.default, defaulted_on, "licensee", description),
        )

    @event("CreditReportFiled")
    def _credit_report_filed(self, agency: str, reported_on: date, content_ref: str) -> None:
        self.risk_events = (
            *self.risk_events,
            RiskEvent(RiskKind.credit_report, reported_on, agency, content_ref),
        )

    @event("InsuranceCompensationPaid")
    def _insurance_compensation_paid(
        self,
        claim_id: str,
        insurer: str,
        amount_fen: int,
        paid_on: date,
        allocations: list[Allocation],
    ) -> None:
        self.settlement.references.add(claim_id)
        self.settlement.apply_allocations(allocations, paid_on)
        self.receipts = {**self.receipts, claim_id: (sum(a.amount_fen for a in allocations), paid_on)}
        self.risk_events = (
            *self.risk_events,
            RiskEvent(RiskKind.insurance_compensation, paid_on, insurer, claim_id, amount_fen),
        )
