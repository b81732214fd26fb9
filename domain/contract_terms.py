"""What a technology contract agrees, and what the registry approves of it.

``ContractTerms`` is everything amendable while the contract is drafted, in
one value object, so drafting and amending validate the same way and an
event carries the whole agreement. ``Registration`` is the registry's
decision (认定登记), replaced by corrections (补正), never edited.

Three figures are kept apart (DOMAIN.md): the contract value (合同成交额,
what the parties agreed), the technology transaction value (技术交易额, the
part that pays for technology; never above the contract value) and the
registered value (登记额, the transaction value the registry approved).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Annotated
from uuid import UUID

from domain.enums import ContractKind, LicenceType
from domain.errors import require, rule
from domain.inputs import CurrencyCode, Fen, Label, Name, OfficialNumber, Title, items
from domain.money import DEFAULT_CURRENCY
from domain.payment_terms import MILESTONE_NAMES_UNIQUE, PaymentTerms, check_payment_terms
from domain.serialisable import value_object
from domain.ufpl import UfplTerms, check_no_fixed_payment_in_trial, check_ufpl_terms

G = "contract"

# Kinds that cover no achievement: the work is done for the buyer (Civil Code Art. 851, 878).
SERVICE_KINDS = frozenset({ContractKind.development, ContractKind.consulting, ContractKind.service})
LICENCE_KINDS = frozenset({ContractKind.licence, ContractKind.ufpl_licence})
# The categories a registry approves (Civil Code Art. 843; 技术合同认定登记管理办法).
REGISTRY_CATEGORIES = frozenset(
    {
        ContractKind.development,
        ContractKind.assignment,
        ContractKind.licence,
        ContractKind.consulting,
        ContractKind.service,
    }
)

CONTRACT_TITLE_REQUIRED = rule(
    "contract_title_required", "A contract has a non-blank title.", group=G
)
CONTRACT_PARTIES_VALID = rule(
    "contract_parties_valid",
    "A contract has one or more distinct sellers and a buyer who is not one of them.",
    source="民法典 第843条",
    group=G,
)
CONTRACT_ACHIEVEMENTS_MATCH_KIND = rule(
    "contract_achievements_match_kind",
    "Development, consulting and service contracts cover no achievement; assignment, licence, "
    "UFPL licence and equity contribution cover one or more distinct achievements.",
    source="民法典 第843条, 第862条",
    group=G,
)
CONTRACT_VALUE_NOT_NEGATIVE = rule(
    "contract_value_not_negative",
    "The contract value (合同成交额) and the technology transaction value are whole fen, not negative.",
    group=G,
)
TRANSACTION_VALUE_WITHIN_CONTRACT_VALUE = rule(
    "transaction_value_within_contract_value",
    "The technology transaction value (技术交易额) is never above the contract value (合同成交额).",
    source="技术合同认定登记管理办法",
    group=G,
)
FIXED_PAYMENTS_WITHIN_CONTRACT_VALUE = rule(
    "fixed_payments_within_contract_value",
    "Fixed price, entry fee and milestone payments together do not exceed the contract value.",
    group=G,
)
CURRENCY_CODE_VALID = rule(
    "currency_code_valid", "A currency is a three-letter ISO 4217 code such as CNY.", group=G
)
LICENCE_TERMS_MATCH_KIND = rule(
    "licence_terms_match_kind",
    "Only licences and UFPL licences carry licence terms; a licence silent on its type is "
    "non-exclusive (普通许可).",
    source="最高法技术合同解释 第25条",
    group=G,
)
LICENCE_TERMS_VALID = rule(
    "licence_terms_valid",
    "A licence names a territory and its term, when given, ends after it starts.",
    source="最高法技术合同解释 第25条",
    group=G,
)
UFPL_TERMS_MATCH_KIND = rule(
    "ufpl_terms_match_kind",
    "A UFPL licence has trial terms; no other kind of contract has them.",
    group=G,
)
REGISTRATION_VALID = rule(
    "registration_valid",
    "A registration names the registry, its number and one of the five Civil Code categories.",
    source="技术合同认定登记管理办法",
    group=G,
)
REGISTERED_VALUE_WITHIN_CONTRACT_VALUE = rule(
    "registered_value_within_contract_value",
    "The approved technology transaction value (登记额) is not negative and never above the "
    "contract value.",
    source="技术合同认定登记管理办法",
    group=G,
)


@value_object
@dataclass(frozen=True)
class LicenceTerms:
    """SPC interpretation Art. 25: 独占 exclusive, 排他 sole, 普通 non-exclusive (the default)."""

    licence_type: LicenceType = LicenceType.non_exclusive
    sublicensable: bool = False
    territory: Label = "CN"
    term_start: date | None = None
    term_end: date | None = None


@value_object
@dataclass(frozen=True)
class ContractTerms:
    kind: ContractKind
    title: Title
    seller_ids: Annotated[tuple[UUID, ...], items(20)]
    buyer_id: UUID
    achievement_ids: Annotated[tuple[UUID, ...], items(100)] = ()
    contract_value_fen: Fen = 0
    transaction_value_fen: Fen = 0
    currency: CurrencyCode = DEFAULT_CURRENCY
    agreed_price: bool = False  # price agreed, not set by listing or auction: public notice applies
    payment_terms: PaymentTerms = field(default_factory=PaymentTerms)
    licence: LicenceTerms | None = None
    ufpl: UfplTerms | None = None

    def normalised(self) -> ContractTerms:
        """A licence silent on its terms gets the non-exclusive default (SPC Art. 25)."""
        if self.kind in LICENCE_KINDS and self.licence is None:
            return replace(self, licence=LicenceTerms())
        return self


@value_object
@dataclass(frozen=True)
class Registration:
    """认定登记: the registry's approval, or a correction (补正) replacing it."""

    registry: Name
    registration_number: OfficialNumber
    approved_category: ContractKind
    approved_transaction_value_fen: Fen
    registered_on: date


def check_contract_terms(terms: ContractTerms) -> None:
    """Raise ``DomainError`` for the first broken rule; ``terms`` should be normalised."""
    require(bool(terms.title.strip()), CONTRACT_TITLE_REQUIRED, "title", "title is blank",
            zh="名称为空白")
    _check_parties(terms)
    _check_achievements(terms)
    _check_figures(terms)
    _check_licence(terms)
    _check_ufpl(terms)
    check_payment_terms(terms.payment_terms)
    fixed = terms.payment_terms.fixed_total_fen
    require(
        fixed <= terms.contract_value_fen,
        FIXED_PAYMENTS_WITHIN_CONTRACT_VALUE,
        "payment_terms",
        f"fixed payments of {fixed} fen exceed the contract value {terms.contract_value_fen} fen",
        zh=f"固定付款合计 {fixed} 分，超过合同成交额 {terms.contract_value_fen} 分",
    )


def _check_parties(terms: ContractTerms) -> None:
    require(bool(terms.seller_ids), CONTRACT_PARTIES_VALID, "seller_ids", "no seller",
            zh="没有卖方")
    require(
        len(set(terms.seller_ids)) == len(terms.seller_ids),
        CONTRACT_PARTIES_VALID,
        "seller_ids",
        "a seller is listed twice",
        zh="同一卖方被列出两次",
    )
    require(
        terms.buyer_id not in terms.seller_ids,
        CONTRACT_PARTIES_VALID,
        "buyer_id",
        "the buyer is also a seller",
        zh="买方同时是卖方",
    )


def _check_achievements(terms: ContractTerms) -> None:
    ids = terms.achievement_ids
    if terms.kind in SERVICE_KINDS:
        require(
            not ids,
            CONTRACT_ACHIEVEMENTS_MATCH_KIND,
            "achievement_ids",
            f"a {terms.kind} contract covers no achievement",
            zh=f"{terms.kind} 合同未涉及成果",
        )
        return
    require(
        bool(ids),
        CONTRACT_ACHIEVEMENTS_MATCH_KIND,
        "achievement_ids",
        f"a {terms.kind} contract covers an achievement",
        zh=f"{terms.kind} 合同不涉及成果",
    )
    require(
        len(set(ids)) == len(ids),
        CONTRACT_ACHIEVEMENTS_MATCH_KIND,
        "achievement_ids",
        "an achievement is listed twice",
        zh="同一成果被列出两次",
    )


def _check_figures(terms: ContractTerms) -> None:
    for name in ("contract_value_fen", "transaction_value_fen"):
        value = getattr(terms, name)
        require(value >= 0, CONTRACT_VALUE_NOT_NEGATIVE, name, f"{value} is negative",
                zh=f"{value} 为负数")
    require(
        terms.transaction_value_fen <= terms.contract_value_fen,
        TRANSACTION_VALUE_WITHIN_CONTRACT_VALUE,
        "transaction_value_fen",
        f"{terms.transaction_value_fen} fen is above the contract value {terms.contract_value_fen} fen",
        zh=f"技术交易额 {terms.transaction_value_fen} 分高于合同成交额 {terms.contract_value_fen} 分",
    )
    c = terms.currency
    require(
        len(c) == 3 and c.isascii() and c.isalpha() and c.isupper(),
        CURRENCY_CODE_VALID,
        "currency",
        repr(c),
        zh=f"{c!r} 不是三个大写字母的币种代码",
    )


def _check_licence(terms: ContractTerms) -> None:
    lic = terms.licence
    if terms.kind not in LICENCE_KINDS:
        require(
            lic is None,
            LICENCE_TERMS_MATCH_KIND,
            "licence",
            f"a {terms.kind} contract has no licence terms",
            zh=f"{terms.kind} 合同没有许可条款",
        )
        return
    require(lic is not None, LICENCE_TERMS_MATCH_KIND, "licence", "normalise the terms first",
            zh="请先将条款规范化")
    assert lic is not None
    require(
        bool(lic.territory.strip()), LICENCE_TERMS_VALID, "licence.territory", "territory is blank",
        zh="地域范围为空白"
    )
    if lic.term_start is not None and lic.term_end is not None:
        require(
            lic.term_start < lic.term_end,
            LICENCE_TERMS_VALID,
            "licence.term_end",
            f"term ends {lic.term_end}, not after it starts {lic.term_start}",
            zh=f"期限结束于 {lic.term_end}，不晚于其开始 {lic.term_start}",
        )


def _check_ufpl(terms: ContractTerms) -> None:
    is_ufpl = terms.kind == ContractKind.ufpl_licence
    require(
        (terms.ufpl is not None) == is_ufpl,
        UFPL_TERMS_MATCH_KIND,
        "ufpl",
        "a UFPL licence needs trial terms"
        if is_ufpl
        else f"a {terms.kind} contract has no trial terms",
        zh="先使用后付费许可须有试用条款" if is_ufpl else f"{terms.kind} 合同没有试用条款",
    )
    if terms.ufpl is None:
        return
    term_start = terms.licence.term_start if terms.licence else None
    check_ufpl_terms(terms.ufpl, term_start)
    check_no_fixed_payment_in_trial(terms.payment_terms, terms.ufpl.trial_end_on)
    seen = {m.name for m in terms.payment_terms.milestones}
    for i, trigger in enumerate(terms.ufpl.triggers):
        if trigger.milestone is None:
            continue
        require(
            trigger.milestone not in seen,
            MILESTONE_NAMES_UNIQUE,
            f"ufpl.triggers[{i}].milestone",
            f"{trigger.milestone!r} names another milestone too",
            zh=f"{trigger.milestone!r} 同时是另一个里程碑的名称",
        )
        seen.add(trigger.milestone)


def check_registration(
    reg: Registration, contract_value_fen: int, field: str = "registration"
) -> None:
    require(
        bool(reg.registry.strip()), REGISTRATION_VALID, f"{field}.registry", "registry is blank",
        zh="登记机构为空白"
    )
    require(
        bool(reg.registration_number.strip()),
        REGISTRATION_VALID,
        f"{field}.registration_number",
        "registration number is blank",
        zh="登记编号为空白",
    )
    require(
        reg.approved_category in REGISTRY_CATEGORIES,
        REGISTRATION_VALID,
        f"{field}.approved_category",
        f"{reg.approved_category} is not a registry category",
        zh=f"{reg.approved_category} 不是认定登记的合同类别",
    )
    value = reg.approved_transaction_value_fen
    require(
        0 <= value <= contract_value_fen,
        REGISTERED_VALUE_WITHIN_CONTRACT_VALUE,
        f"{field}.approved_transaction_value_fen",
        f"{value} fen is negative or above the contract value {contract_value_fen} fen",
        zh=f"{value} 分为负数或高于合同成交额 {contract_value_fen} 分",
    )
