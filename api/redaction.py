"""What a regulator's token sees: figures, shares, amounts and dates; no person and no typed text.

A regulator (科技厅, 火炬中心) reads statistics and audits distribution
compliance. It needs every amount, date, status and count, and must see none
of the personal information that a recorder can type into a record: the
names of inventors, and any identifier, reference or note (a payment id such
as ``AW-2024-0301-inventor:zhangsan`` names a person as surely as a name
field does).

**Every field is classified.** Each field of every response model a
regulator can read is one of (``Category``):

* **public**: shown as recorded. Numbers, booleans, dates, UUIDs of records,
  enumerations and literals are public by their type; among the text fields,
  public are what the ledger itself generates (rule packs, definitions,
  findings), the names of organisations (institutions, companies, registries:
  organisations, not persons, and published for statistics), titles of
  achievements and contracts (published in listings, notices 公示 and
  registrations), and numbers an authority issued and published (patent,
  registration, listing and unified social credit numbers, in the shape of
  such a number: other text typed into them is pseudonymised).
* **pseudonymised**: a stand-in that is stable within one answer, so that
  the same id still matches itself (a receipt in ``receipts`` and in
  ``credits``, a deduction's reference and its adjustment) but tells nothing. Inventors become
  ``#1``, ``#2``, ... in the order of the record's own team (the view builders
  do this with :class:`Pseudonyms`, so amounts still add up per person and
  the team size shows); every other typed identifier, reference, label or
  person (payment, receipt, award, notice, credit and claim ids, deduction
  references, policy version labels, milestone names, assessors, funders,
  decision makers) becomes ``p-`` and 8 hexadecimal digits: the start of an
  HMAC-SHA256 of the value, keyed by the server's pseudonym key and the path
  of the answer (``/v1/distributions/<id>``). The same value gets the same
  pseudonym in the same answer, today and after a restart, and a different
  one in another answer. Generated text that embeds a typed part keeps its
  generated part (``milestone-p-1a2b3c4d``, ``deduction:p-…``).
* **dropped**: reasons, descriptions, notes and ID numbers: ``null`` where
  the field may be null, else ``(redacted)``.

The classification is declared in one table, ``FIELD_RULES`` (by class, for
the API's views and the domain's value objects alike), and free-shaped
answers (the statistics' ``Figures``) are classified by key in
``FIGURE_KEYS``. One function applies it: the route registry's render path
(``api/routing.py``) passes every JSON answer to a regulator through
:meth:`RegulatorView.dump_json`, and a download (CSV, XLSX) is built from
figures passed through :meth:`RegulatorView.figures` (a regulator's download
that did not is refused as a server error rather than sent). The test
``tests/unit/test_regulator_field_classification.py`` walks every response
model a regulator can read and fails on a text field without a
classification; at run time such a field, or an unknown key of a figure, is
dropped (and logged), never shown.

The pseudonym key is ``TTLEDGER_PSEUDONYM_KEY`` when set, else a random
256-bit key created once in the database (``server_secrets``), so pseudonyms
need no configuration and survive restarts (docs/decisions/0014-regulator-redaction.md).

The event feed carries events verbatim (their hashes cover the exact bytes),
so it cannot be redacted: it is open to admin tokens only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import types
import typing
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any
from uuid import UUID

import structlog
from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from api.state import LEDGER, SETTINGS
from ledger.tokens import Principal, Role

log = structlog.get_logger(__name__)

INVENTOR_PREFIX = "inventor:"
REDACTED = "(redacted)"
PSEUDONYM_PREFIX = "p-"
PSEUDONYM_DIGITS = 8
PSEUDONYM_PATTERN = r"p-[0-9a-f]{8}(?:[0-9a-f]{8})?"
"""A pseudonym: ``p-`` and 8 hex digits (16 in the rare answer where two values share the first 8)."""


# ---- names of inventors: ``#n`` in the order of the team --------------------------------------------


class Pseudonyms:
    """Stable stand-ins for names within one view: the first name seen is ``#1``."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names: dict[str, str] = {}
        for name in names:
            self(name)

    def __call__(self, name: str) -> str:
        found = self._names.get(name)
        if found is None:
            found = self._names[name] = f"#{len(self._names) + 1}"
        return found

    def key(self, key: str) -> str:
        """A distribution line key: ``inventor:<name>`` becomes ``inventor:#n``; others stay."""
        if key.startswith(INVENTOR_PREFIX):
            return INVENTOR_PREFIX + self(key[len(INVENTOR_PREFIX):])
        return key


class Names:
    """Identity: what every other role sees."""

    def __call__(self, name: str) -> str:
        return name

    def key(self, key: str) -> str:
        return key


def names_for(redact: bool, team: Iterable[str] = ()) -> Pseudonyms | Names:
    return Pseudonyms(team) if redact else Names()


INVENTOR_ACCOUNT = "distribution_payable:inventor:"
INVENTORS_ACCOUNT = "distribution_payable:inventor:*"


def merge_inventor_accounts(balances: dict[str, int]) -> tuple[dict[str, int], int]:
    """Balances with every inventor's payable account summed into one; and how many were merged."""
    merged: dict[str, int] = {}
    count = 0
    for account, amount in balances.items():
        if account.startswith(INVENTOR_ACCOUNT):
            count += 1
            merged[INVENTORS_ACCOUNT] = merged.get(INVENTORS_ACCOUNT, 0) + amount
        else:
            merged[account] = amount
    return dict(sorted(merged.items())), count


# ---- the classification ---------------------------------------------------------------------------


class Category(StrEnum):
    public = "public"
    pseudonymised = "pseudonymised"
    dropped = "dropped"


class Rule:
    """How a regulator sees one field; ``apply`` works on the field's JSON form."""

    category: Category = Category.public

    def apply(self, view: RegulatorView, value: Any, data: Any, nullable: bool) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        return self.category.value


class Public(Rule):
    """Shown as recorded."""

    def apply(self, view: RegulatorView, value: Any, data: Any, nullable: bool) -> Any:
        return data


class Pseudonymised(Rule):
    """Each text becomes ``p-`` and 8 hex digits, the same for the same text within the answer."""

    category = Category.pseudonymised

    def apply(self, view: RegulatorView, value: Any, data: Any, nullable: bool) -> Any:
        return _each_text(data, view.pseudonym)


class Dropped(Rule):
    """Never shown: ``null`` where the field may be null, else ``(redacted)``."""

    category = Category.dropped

    def apply(self, view: RegulatorView, value: Any, data: Any, nullable: bool) -> Any:
        if data is None or nullable:
            return None
        return _each_text(data, lambda _: REDACTED)


@dataclasses.dataclass(frozen=True)
class Team(Rule):
    """A name the view builder already replaced by ``#n`` (team order); anything else is pseudonymised."""

    forms: str
    category = Category.pseudonymised

    def apply(self, view: RegulatorView, value: Any, data: Any, nullable: bool) -> Any:
        form = re.compile(self.forms)
        return _each_text(data, lambda text: text if form.fullmatch(text) else view.pseudonym(text))

    def describe(self) -> str:
        return "pseudonymised (#n, the order of the team)"


@dataclasses.dataclass(frozen=True)
class Composed(Rule):
    """Text the ledger composes: a value of one of ``forms`` is shown; after a prefix of
    ``typed_after`` comes typed text, which is pseudonymised; any other value is pseudonymised whole."""

    forms: str = r"(?!)"
    typed_after: tuple[str, ...] = ()
    category = Category.pseudonymised

    def apply(self, view: RegulatorView, value: Any, data: Any, nullable: bool) -> Any:
        form = re.compile(self.forms)

        def one(text: str) -> str:
            if form.fullmatch(text):
                return text
            for prefix in self.typed_after:
                if text.startswith(prefix):
                    return prefix + view.pseudonym(text[len(prefix):])
            return view.pseudonym(text)

        return _each_text(data, one)

    def describe(self) -> str:
        return "public where generated; typed parts pseudonymised"


@dataclasses.dataclass(frozen=True)
class Keyed(Rule):
    """A mapping: its keys by ``keys``; its values by ``values``, or walked (``None``) when they are records."""

    keys: Rule
    values: Rule | None = None
    category = Category.pseudonymised

    def apply(self, view: RegulatorView, value: Any, data: Any, nullable: bool) -> Any:
        if not isinstance(data, dict):
            return data
        items = list(value.items()) if isinstance(value, Mapping) and len(value) == len(data) else None
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(data.items()):
            shown = self.keys.apply(view, key, key, False)
            if self.values is None:
                out[shown] = view.walk(items[i][1], item) if items is not None else item
            else:
                out[shown] = self.values.apply(view, None, item, True)
        return out

    def describe(self) -> str:
        values = self.values.describe() if self.values else "as their records"
        return f"keys {self.keys.describe()}; values {values}"


def _each_text(data: Any, change: Callable[[str], Any]) -> Any:
    """``change`` applied to a text, or to each text of a list."""
    if isinstance(data, str):
        return change(data)
    if isinstance(data, list):
        return [_each_text(item, change) for item in data]
    return data


PUBLIC = Public()
PSEUDONYMISED = Pseudonymised()
DROPPED = Dropped()
TEAM_NAME = Team(r"#\d+")
"""An inventor's name, ``#n`` for a regulator (the view builder numbers the team)."""
TEAM_KEY = Team(r"inventor:#\d+|[a-z_]+")
"""A distribution line key: ``inventor:#n``, or a beneficiary (``department``, ``institution``)."""

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ACCOUNT = Composed(rf"[a-z_]+(?::(?:[a-z_]+|\*|{_UUID}|self:{_UUID}))?|distribution_payable:inventor:\*")
"""An account of the books: a kind, qualified by a kind or a record's UUID (postings name no one else)."""
DUE_ITEM_ID = Composed(r"entry-fee|installment-\d+|royalty-\d{4}-\d{2}-\d{2}|minimum-royalty-year-\d+",
                       typed_after=("milestone-",))
"""A due item: generated from the terms, but a milestone's item carries the milestone's name."""
DUE_ITEM_LABEL = Composed(r"入门费 entry fee|一次总付 lump sum|分期 installment \d+/\d+|"
                          r"提成 \d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}|最低提成 year \d+",
                          typed_after=("里程碑 ",))
ADJUSTMENT = Composed(typed_after=("deduction:",))
"""An adjustment of a distribution: ``deduction:<the deduction's reference>``."""
OFFICIAL_NUMBER = Composed(r"(?=(?:[^0-9]*[0-9]){4})[A-Z0-9][A-Z0-9.\-/]*")
"""A number an authority issued (patent, registration, listing, credit code): public in that shape
(capitals, digits, ``.-/``, at least 4 digits); any other text typed into it is pseudonymised."""
RISK_PARTY = Composed(r"licensee")
"""Who a risk event concerns: ``licensee`` (a default), else the insurer or credit agency as typed."""

FIELD_RULES: dict[str, dict[str, Rule]] = {
    # ---- api/app.py -----------------------------------------------------------------------------
    "api.app.WhoAmI": {"role": PUBLIC, "name": PUBLIC},  # the caller's own token
    # ---- api/routes/accounts.py: the caller's own session and account -----------------------------
    "api.routes.accounts.SessionView": {"name": PUBLIC, "csrf_token": PUBLIC},
    # The caller's own secrets, shown once to the caller (a regulator's own account, not the ledger).
    "api.routes.accounts.TotpEnrolment": {"secret": PUBLIC, "otpauth_uri": PUBLIC},
    "api.routes.accounts.CreatedToken": {"token": PUBLIC, "name": PUBLIC, "prefix": PUBLIC},
    "api.routes.accounts.UserView": {"username": PUBLIC, "display_name": PUBLIC},
    # ---- institutions ---------------------------------------------------------------------------
    "api.routes.institutions.InstitutionView": {"name": PUBLIC, "region": PUBLIC, "city": PUBLIC},
    # ---- achievements ---------------------------------------------------------------------------
    "api.routes.achievements.AchievementView": {
        "title": PUBLIC, "official_number": OFFICIAL_NUMBER, "lapse_reason": DROPPED,
    },
    "api.routes.achievements.InventorView": {"name": DROPPED, "person_id": DROPPED},
    "domain.achievement_values.RegisterSpell": {"exit_reason": DROPPED},
    "domain.achievement_values.Valuation": {"assessor": PSEUDONYMISED, "currency": PUBLIC},
    "domain.achievement_values.Listing": {"listing_number": OFFICIAL_NUMBER, "currency": PUBLIC},
    "domain.achievement_values.ProofOfConcept": {
        "funder": PSEUDONYMISED, "currency": PUBLIC, "stage": DROPPED, "outcome": DROPPED,
    },
    "domain.public_notice.PublicNotice": {"currency": PUBLIC},
    "domain.public_notice.Objection": {"objector": DROPPED, "reason": DROPPED},
    "domain.encumbrance.Encumbrance": {"territory": PUBLIC},
    # ---- contracts ------------------------------------------------------------------------------
    "api.routes.contracts.ContractView": {
        "title": PUBLIC, "currency": PUBLIC, "end_reason": DROPPED,
        "milestones_reached": Keyed(keys=PSEUDONYMISED, values=PUBLIC),
    },
    "domain.contract_terms.ContractTerms": {"title": PUBLIC, "currency": PUBLIC},
    "domain.contract_terms.LicenceTerms": {"territory": PUBLIC},
    "domain.contract_terms.Registration": {"registry": PUBLIC, "registration_number": OFFICIAL_NUMBER},
    "domain.payment_terms.Milestone": {"name": PSEUDONYMISED},
    "domain.ufpl.UfplTerms": {"trial_scope": DROPPED},
    "domain.ufpl.UfplTrigger": {"milestone": PSEUDONYMISED},
    "api.routes.contracts.DueItemView": {"item_id": DUE_ITEM_ID, "label": DUE_ITEM_LABEL},
    "api.routes.contracts.OpenItemView": {"item_id": DUE_ITEM_ID, "label": DUE_ITEM_LABEL},
    "api.routes.contracts.CreditView": {"credit_id": PSEUDONYMISED},
    "api.routes.contracts.ReceiptView": {"receipt_id": PSEUDONYMISED, "credit_id": PSEUDONYMISED},
    "domain.contract_money.RiskEvent": {"party": RISK_PARTY, "text": DROPPED},
    # ---- lists (api/routes/lists.py) ------------------------------------------------------------
    "api.routes.lists.InstitutionItem": {"name": PUBLIC, "region": PUBLIC, "city": PUBLIC},
    "api.routes.lists.InstitutionPage": {"next_cursor": PUBLIC},  # a sort value (name, title, date, amount)
    "api.routes.lists.AchievementItem": {"title": PUBLIC},
    "api.routes.lists.AchievementPage": {"next_cursor": PUBLIC},
    "api.routes.lists.ContractItem": {
        "title": PUBLIC, "currency": PUBLIC, "seller_name": PUBLIC, "buyer_name": PUBLIC,
        "registration_number": OFFICIAL_NUMBER,
    },
    "api.routes.lists.ContractPage": {"next_cursor": PUBLIC},
    # ---- record history (api/routes/history.py): built without the person for a regulator ---------
    "api.routes.history.RecordedBy": {"kind": PUBLIC, "role": PUBLIC, "institution_name": PUBLIC, "via": PUBLIC,
                                      "name": DROPPED, "label": PUBLIC, "request_id": DROPPED,
                                      "import_job": DROPPED},
    "api.routes.history.HistoryEntry": {"event": PUBLIC},
    "api.routes.history.RecordHistory": {"kind": PUBLIC},
    # ---- record lists (api/routes/record_lists.py): cursors hold no typed text (md5 keys) -------
    "api.routes.record_lists.DueItemRow": {"contract_title": PUBLIC, "item_id": DUE_ITEM_ID,
                                           "label": DUE_ITEM_LABEL, "currency": PUBLIC},
    "api.routes.record_lists.DueItemPage": {"next_cursor": PUBLIC},
    "api.routes.record_lists.ReceiptRow": {"contract_title": PUBLIC, "receipt_id": PSEUDONYMISED,
                                           "payer": DROPPED, "currency": PUBLIC},
    "api.routes.record_lists.ReceiptPage": {"next_cursor": PUBLIC},
    "api.routes.record_lists.RegistrationRow": {"title": PUBLIC, "registry": PUBLIC,
                                                "registration_number": OFFICIAL_NUMBER, "currency": PUBLIC},
    "api.routes.record_lists.RegistrationPage": {"next_cursor": PUBLIC},
    "api.routes.record_lists.ListingRow": {"exchange_name": PUBLIC, "listing_number": OFFICIAL_NUMBER,
                                           "title": PUBLIC, "currency": PUBLIC},
    "api.routes.record_lists.ListingPage": {"next_cursor": PUBLIC},
    "api.routes.record_lists.HoldingRow": {"company_name": PUBLIC, "company_code": OFFICIAL_NUMBER,
                                           "currency": PUBLIC},
    "api.routes.record_lists.HoldingPage": {"next_cursor": PUBLIC},
    "api.routes.record_lists.SelfImplementationRow": {"achievement_title": PUBLIC},
    "api.routes.record_lists.SelfImplementationPage": {"next_cursor": PUBLIC},
    "api.routes.record_lists.DistributionRow": {"receipt_id": PSEUDONYMISED, "pack_id": PUBLIC,
                                                "policy_version": PSEUDONYMISED},
    "api.routes.record_lists.DistributionPage": {"next_cursor": PUBLIC},
    "api.routes.record_lists.LineRow": {"key": PSEUDONYMISED, "inventor": PSEUDONYMISED},
    "api.routes.record_lists.LinePage": {"next_cursor": PUBLIC},
    "api.routes.record_lists.AwardPaymentRow": {"payment_id": PSEUDONYMISED, "key": PSEUDONYMISED,
                                                "inventor": PSEUDONYMISED},
    "api.routes.record_lists.AwardPaymentPage": {"next_cursor": PUBLIC},
    # ---- equity and self-implementation ---------------------------------------------------------
    "api.routes.equity.HoldingView": {"currency": PUBLIC},
    "domain.equity.Company": {"name": PUBLIC, "unified_social_credit_code": OFFICIAL_NUMBER},
    "domain.equity.EquityValuation": {"assessor": PSEUDONYMISED},
    "domain.equity.DecisionRecord": {"decision_makers": PSEUDONYMISED, "basis": DROPPED},
    "api.routes.equity.ShareAwardView": {"inventor": TEAM_NAME},
    "api.routes.equity.SelfImplementationView": {"stop_reason": DROPPED},
    "domain.self_implementation.ProfitReport": {"correction_reason": DROPPED},
    "api.routes.equity.SelfAwardView": {"pack_id": PUBLIC, "pack_version": PUBLIC},
    "api.routes.equity.SelfAwardLine": {"inventor": TEAM_NAME},
    "api.routes.equity.SelfAwardPaymentView": {"payment_id": PSEUDONYMISED, "inventor": TEAM_NAME},
    # ---- distribution ---------------------------------------------------------------------------
    "domain.distribution.PolicyVersion": {"version_label": PSEUDONYMISED},
    "domain.distribution.InventorShare": {"inventor": TEAM_NAME},
    "domain.distribution.FloorFinding": {"field": PUBLIC, "source": PUBLIC, "message": PUBLIC},
    # Rule packs are the ledger's own text (domain/rule_packs.py), not a recorder's.
    "domain.rule_packs.RulePackVersion": {
        "pack_id": PUBLIC, "version": PUBLIC, "region": PUBLIC, "name_zh": PUBLIC, "name_en": PUBLIC,
        "source": PUBLIC, "source_en": PUBLIC, "tto_award_source": PUBLIC, "notes": PUBLIC,
    },
    "domain.rule_packs.NetIncomeDefinition": {"description_zh": PUBLIC, "description_en": PUBLIC},
    "domain.rule_packs.ExcludedDeduction": {"reason_zh": PUBLIC, "reason_en": PUBLIC},
    "domain.rule_packs.NoticeRequirement": {"source": PUBLIC},
    "api.routes.distribution.DistributionView": {
        "receipt_id": PSEUDONYMISED, "pack_id": PUBLIC, "pack_version": PUBLIC,
        "policy_version": PSEUDONYMISED, "floor_percent": PUBLIC, "adjustments": ADJUSTMENT,
    },
    "domain.allocation.Deduction": {"description": DROPPED, "reference": PSEUDONYMISED},
    "domain.allocation.NetIncome": {"pack_id": PUBLIC, "pack_version": PUBLIC},
    "domain.allocation.IgnoredDeduction": {"reason": PUBLIC, "reason_zh": PUBLIC},  # the pack's reasons
    "api.routes.distribution.LineView": {
        "key": TEAM_KEY, "inventor": TEAM_NAME, "tax_relief_reasons": PUBLIC,  # generated (domain/award.py)
    },
    "api.routes.distribution.PaymentView": {"payment_id": PSEUDONYMISED, "key": TEAM_KEY},
    "domain.award.AwardNotice": {"notice_id": PSEUDONYMISED, "recipients": TEAM_KEY},
    # ---- the books ------------------------------------------------------------------------------
    "api.routes.ledger_queries.Balance": {"account": ACCOUNT},
    "api.routes.ledger_queries.TrialBalanceLine": {"currency": PUBLIC},
    # The description of a journal entry quotes payment ids, approvers, reasons and names.
    "api.routes.ledger_queries.JournalEntryView": {"currency": PUBLIC, "kind": PUBLIC, "description": DROPPED},
    "api.routes.ledger_queries.PostingView": {"account": ACCOUNT},
    # ---- statistics -----------------------------------------------------------------------------
    "api.routes.statistics.Definition": {
        "scope": PUBLIC, "date_basis": PUBLIC, "status_basis": PUBLIC, "formula": PUBLIC,
    },
    "api.routes.statistics.ContractValueGroup": {"key": PUBLIC},  # an enumeration, a period or "all"
    "api.routes.statistics.Figures": {"definition": PUBLIC},  # and its further keys: FIGURE_KEYS
    # The restatement report: the ledger's own names and words; an entry's description as in a journal.
    "api.routes.restatement.RestatedFigure": {"figure": PUBLIC, "label": PUBLIC},
    "api.routes.restatement.RestatedEntry": {"event": PUBLIC, "kind": PUBLIC, "description": DROPPED},
    "api.routes.restatement.ContractState": {"status": PUBLIC},
    "api.routes.restatement.RestatementDefinition": {
        "title": PUBLIC, "scope": PUBLIC, "date_basis": PUBLIC, "formula": PUBLIC,
    },
    "api.routes.restatement.Restatement": {"currency": PUBLIC},
}
"""The classification of every text field a regulator can read, by ``module.QualifiedName`` of its class.

A field whose type holds no text (numbers, booleans, dates, UUIDs, enumerations,
literals) is public by its type; a field holding records is walked into.
"""

FIGURE_KEYS: dict[str, Rule] = {
    # The ledger's own words: figure and report names, definitions (统计口径), formulas, dimensions.
    "definition": PUBLIC, "formula": PUBLIC, "formulas": PUBLIC, "listed_definition": PUBLIC,
    "definition_zh": PUBLIC, "definition_en": PUBLIC,  # the same 统计口径 in each language
    "sections": PUBLIC, "labels": PUBLIC,  # a report's section titles and item labels
    "figure": PUBLIC, "report": PUBLIC, "title": PUBLIC, "group_by": PUBLIC, "filters": PUBLIC,
    "period": PUBLIC, "basis": PUBLIC, "key": PUBLIC, "currency": PUBLIC, "buckets": PUBLIC,
    "bucket": PUBLIC, "kind": PUBLIC, "contract_kind": PUBLIC, "institution_kind": PUBLIC,
    "licence_type": PUBLIC, "field": PUBLIC, "technology_field": PUBLIC, "ip_type": PUBLIC,
    "first_way": PUBLIC, "region": PUBLIC, "seller_region": PUBLIC, "buyer_region": PUBLIC,
    "seller_kind": PUBLIC, "buyer_kind": PUBLIC, "buyer_size": PUBLIC, "formula_name": PUBLIC,
    "pack": PUBLIC, "pack_id": PUBLIC, "findings": PUBLIC, "as_of_positions": PUBLIC, "local": PUBLIC,
    # Organisations and titles (public, see the module docstring).
    "institution_names": PUBLIC, "institution_name": PUBLIC, "institution.name": PUBLIC,
    "seller_name": PUBLIC, "buyer_name": PUBLIC, "institution_id_name": PUBLIC,
    # Typed by a recorder.
    "receipt_id": PSEUDONYMISED, "version_label": PSEUDONYMISED, "policy_version": PSEUDONYMISED,
    "inventor": DROPPED,
}
"""The classification of the text under each key of a free-shaped figure (``Figures``), at any depth
(``parent.key`` for a key of one parent only).

Under other keys, numbers, booleans, UUIDs, dates and decimals are shown and
any other text is dropped (and logged as unclassified).
"""

_SHAPE_PUBLIC = re.compile(rf"{_UUID}|\d{{4}}-\d{{2}}-\d{{2}}(?:[T ][0-9:.+\-Z]+)?|-?\d+(?:\.\d+)?|")
_CODE_KEY = re.compile(rf"[A-Za-z0-9_.<>=+\-]*|{_UUID}")


# ---- types: which fields hold text ----------------------------------------------------------------


_NO_TEXT = (int, float, bool, Decimal, date, datetime, time, timedelta, UUID, type(None))


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def is_record(tp: Any) -> bool:
    """A pydantic model or a dataclass: walked into, field by field."""
    return isinstance(tp, type) and (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp))


def record_fields(cls: type) -> dict[str, Any]:
    """``name → annotation`` of a record's fields (``Annotated`` metadata kept)."""
    if issubclass(cls, BaseModel):
        return {name: info.annotation for name, info in cls.model_fields.items()}
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(typing.cast(Any, cls))}


def _bare(tp: Any) -> Any:
    """The type without its ``Annotated`` metadata."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def holds_text(tp: Any) -> bool:
    """Whether a value of this type can carry text of its own (records are walked, not counted)."""
    tp = _bare(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return False
    if origin is not None:
        if origin in (typing.Union, types.UnionType):
            return any(holds_text(a) for a in args)
        return any(holds_text(a) for a in args if a is not Ellipsis) if args else True
    if tp is typing.Any or tp is object:
        return True
    if isinstance(tp, type):
        return not (issubclass(tp, Enum) or issubclass(tp, _NO_TEXT) or is_record(tp))
    return True  # a type this walk does not know: assume it can hold text


def holds_records(tp: Any) -> bool:
    tp = _bare(tp)
    if typing.get_origin(tp) is not None:
        return any(holds_records(a) for a in typing.get_args(tp) if a is not Ellipsis)
    return is_record(tp)


def nullable(tp: Any) -> bool:
    tp = _bare(tp)
    if tp is None or tp is type(None) or tp is typing.Any:
        return True
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def rule_of(cls: type, name: str) -> Rule | None:
    return FIELD_RULES.get(qualified_name(cls), {}).get(name)


def free_shaped(cls: type) -> bool:
    """A model whose further keys are free (``extra="allow"``): classified by ``FIGURE_KEYS``."""
    return issubclass(cls, BaseModel) and cls.model_config.get("extra") == "allow"


class _Unclassified(Rule):
    """A text field nobody classified: its text dropped, its keys pseudonymised, its records walked;
    and logged (the classification test fails on it)."""

    category = Category.dropped

    def __init__(self, where: str) -> None:
        self.where = where

    def apply(self, view: RegulatorView, value: Any, data: Any, nullable: bool) -> Any:
        if data is None:
            return None
        view.unclassified.append(self.where)
        log.warning("regulator_field_unclassified", field=self.where)
        if nullable and isinstance(data, str):
            return None
        return _closed(view, value, data)


def _closed(view: RegulatorView, value: Any, data: Any) -> Any:
    if is_record(type(value)):
        return view.walk(value, data)
    if isinstance(data, str):
        return REDACTED
    if isinstance(data, list):
        values = list(value) if isinstance(value, list | tuple) and len(value) == len(data) else [None] * len(data)
        return [_closed(view, v, d) for v, d in zip(values, data, strict=True)]
    if isinstance(data, dict):
        inner = list(value.values()) if isinstance(value, Mapping) and len(value) == len(data) else [None] * len(data)
        return {view.pseudonym(str(k)): _closed(view, v, d) for v, (k, d) in zip(inner, data.items(), strict=True)}
    return data


@dataclasses.dataclass(frozen=True)
class _Step:
    name: str
    rule: Rule | None
    """``None``: the field holds records, walked into."""
    nullable: bool


_PLANS: dict[type, list[_Step]] = {}


def _plan(cls: type) -> list[_Step]:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = []
        for name, tp in record_fields(cls).items():
            rule = rule_of(cls, name)
            if rule is None and holds_text(tp):
                rule = _Unclassified(f"{qualified_name(cls)}.{name}")
            if rule is not None or holds_records(tp):
                plan.append(_Step(name, rule, nullable(tp)))
        _PLANS[cls] = plan
    return plan


# ---- the view --------------------------------------------------------------------------------------


class RegulatorView:
    """The redaction of one answer to a regulator: pseudonyms keyed by the server key and the answer's path."""

    def __init__(self, key: bytes, scope: str) -> None:
        self._key = key
        self._scope = scope.encode("utf-8", "surrogatepass") + b"\x00"
        self._given: dict[str, str] = {}
        self._owners: dict[str, str] = {}
        self.applied = False
        """Whether an answer passed through this view (a download that did not is refused)."""
        self.unclassified: list[str] = []

    def pseudonym(self, text: str) -> str:
        """``p-`` and 8 hex digits of HMAC-SHA256(key, path ‖ 0 ‖ text); the same text, the same pseudonym."""
        found = self._given.get(text)
        if found is not None:
            return found
        digest = hmac.new(self._key, self._scope + text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        found = PSEUDONYM_PREFIX + digest[:PSEUDONYM_DIGITS]
        if self._owners.get(found, text) != text:  # two values of one answer share 32 bits: use 64
            found = PSEUDONYM_PREFIX + digest[:2 * PSEUDONYM_DIGITS]
        self._given[text] = found
        self._owners[found] = text
        return found

    # -- records

    def dump_json(self, adapter: TypeAdapter[Any], value: Any) -> bytes:
        """The JSON of a validated answer as a regulator sees it (the render path of api/routing.py)."""
        data = self.data(adapter, value)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def data(self, adapter: TypeAdapter[Any], value: Any) -> Any:
        """The JSON-shaped form of a validated answer, redacted."""
        self.applied = True
        return self.walk(value, adapter.dump_python(value, mode="json"))

    def model(self, value: BaseModel) -> Any:
        """A model's JSON-shaped form, redacted (for a download built from a model)."""
        return self.data(TypeAdapter(type(value)), value)

    def walk(self, value: Any, data: Any) -> Any:
        """``data`` (the JSON form of ``value``) with every field as its classification says."""
        if is_record(type(value)):
            if not isinstance(data, dict):
                return data
            for step in _plan(type(value)):
                key = step.name if step.name in data else _alias(type(value), step.name)
                if key not in data:
                    continue
                inner = getattr(value, step.name, None)
                if step.rule is None:
                    data[key] = self.walk(inner, data[key])
                else:
                    data[key] = step.rule.apply(self, inner, data[key], step.nullable)
            extra = getattr(value, "__pydantic_extra__", None) if isinstance(value, BaseModel) else None
            for key in extra or ():
                if key in data:
                    data[key] = self._free(data[key], key, figure_rule("", key))
            return data
        if isinstance(value, list | tuple) and isinstance(data, list) and len(value) == len(data):
            return [self.walk(v, d) for v, d in zip(value, data, strict=True)]
        if isinstance(value, Mapping) and isinstance(data, dict) and len(value) == len(data):
            return {k: self.walk(v, d) for v, (k, d) in zip(value.values(), data.items(), strict=True)}
        return data

    # -- free-shaped figures

    def figures(self, figures: Mapping[str, Any]) -> dict[str, Any]:
        """A query function's figures (``Figures``) as a regulator sees them: build downloads from these."""
        self.applied = True
        return {key: self._free(value, key, figure_rule("", key)) for key, value in figures.items()}

    def _free(self, data: Any, path: str, rule: Rule | None) -> Any:
        if rule is not None:
            return rule.apply(self, None, data, True)
        if isinstance(data, dict):
            parent = path.rsplit(".", 1)[-1].removesuffix("[]")
            out: dict[str, Any] = {}
            for key, item in data.items():
                shown = key
                if not (isinstance(key, str) and _CODE_KEY.fullmatch(key)):
                    shown = self.pseudonym(str(key))
                    self._unclassified(f"{path}.<key>")
                out[shown] = self._free(item, f"{path}.{key}", figure_rule(parent, str(key)))
            return out
        if isinstance(data, list | tuple):
            return [self._free(item, f"{path}[]", None) for item in data]
        if isinstance(data, str) and not _SHAPE_PUBLIC.fullmatch(data):
            self._unclassified(path)
            return None
        return data

    def _unclassified(self, where: str) -> None:
        self.unclassified.append(where)
        log.warning("regulator_figure_unclassified", key=where)


def figure_rule(parent: str, key: str) -> Rule | None:
    """The rule of ``key`` in a figure: ``parent.key`` in ``FIGURE_KEYS`` first, then ``key``."""
    return FIGURE_KEYS.get(f"{parent}.{key}") or FIGURE_KEYS.get(key)


def _alias(cls: type, name: str) -> str:
    if issubclass(cls, BaseModel):
        info = cls.model_fields[name]
        return info.serialization_alias or info.alias or name
    return name


# ---- the key -----------------------------------------------------------------------------------------

SECRET_NAME = "pseudonym_key"
_STORED_KEYS: weakref.WeakKeyDictionary[object, bytes] = weakref.WeakKeyDictionary()


async def stored_key(pool: Any) -> bytes:
    """The database's random pseudonym key, created on first use (``server_secrets``, migration 0005)."""
    await pool.execute("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                       SECRET_NAME, secrets.token_bytes(32))
    return bytes(await pool.fetchval("SELECT value FROM server_secrets WHERE name = $1", SECRET_NAME))


async def pseudonym_key(app: web.Application) -> bytes:
    """``TTLEDGER_PSEUDONYM_KEY`` when set, else the key kept in the database (read once per process)."""
    configured = app[SETTINGS].pseudonym_key
    if configured is not None:
        return configured.get_secret_value().encode("utf-8")
    store = app[LEDGER].store
    key = _STORED_KEYS.get(store)
    if key is None:
        key = _STORED_KEYS[store] = await stored_key(store.pool)
    return key


async def regulator_view(request: web.Request, who: Principal | None) -> RegulatorView | None:
    """The redaction of this request's answer: for a regulator's token only (else ``None``)."""
    if who is None or who.role is not Role.REGULATOR:
        return None
    return RegulatorView(await pseudonym_key(request.app), request.path)


def figures_for(view: RegulatorView | None, figures: Mapping[str, Any]) -> Any:
    """Figures as the caller sees them: redacted for a regulator, as they are for anyone else."""
    return figures if view is None else view.figures(figures)


def model_for(view: RegulatorView | None, model: BaseModel) -> Any:
    """A model's JSON-shaped form as the caller sees it (for a download built from a model)."""
    return model.model_dump(mode="json") if view is None else view.model(model)


def classification() -> dict[str, dict[str, str]]:
    """``class → field → category`` of the declared rules (docs and tests)."""
    return {cls: {name: rule.describe() for name, rule in fields.items()} for cls, fields in FIELD_RULES.items()}
