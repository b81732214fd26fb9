"""Who may see and change which records: roles and tenancy (docs/api.md, "Roles and tenancy").

The role check (403 ``role-not-allowed``) happens before a handler runs; this
module decides, for a role that may use the route, whether *this* record is
its business:

| role | sees | changes |
| --- | --- | --- |
| admin | everything | everything |
| institution | itself; achievements it owns or owned; contracts where it is a seller or the buyer; its equity holdings, self-implementations, distributions and policy; its own books | the same records, except that a buyer only reports royalties and licensee revenue, and a former owner no longer changes the achievement |
| operator (an exchange) | itself; achievements ever listed on its exchange; contracts covering one of them | listings and delistings on its own exchange; those contracts |
| regulator | everything except contracts not registered (认定登记); inventors only as shares, counts and amounts | nothing |

A record outside a token's view is answered exactly as a record that does
not exist: ``404`` for the record named in the path, ``422``
``referenced_record_exists`` for one named in the body. A record in view that
the token may not change is ``403`` ``institution-scope``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from api.auth import require_institution
from domain.achievement import Achievement
from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.distribution import DistributionPolicy
from domain.equity import EquityHolding
from domain.errors import DomainError
from domain.institution import Institution
from domain.ledger_rules import REFERENCED_RECORD_EXISTS
from domain.self_implementation import SelfImplementation
from ledger.repository import AggregateNotFound
from ledger.tokens import Principal, Role

A = TypeVar("A", bound=Aggregate)
Loader = Callable[[type[A], UUID], Awaitable[A]]
"""``Repository.get`` or ``UnitOfWork.get``: how a check loads the records it needs."""

SEES_ALL = frozenset({Role.ADMIN, Role.REGULATOR})


def hidden(record: Aggregate | type[Aggregate], aggregate_id: UUID) -> AggregateNotFound:
    """The 404 for a record outside the token's view: the same as for a missing one."""
    kind = record.__name__ if isinstance(record, type) else type(record).__name__
    return AggregateNotFound(kind, aggregate_id)


def missing_reference(cls: type[Aggregate], aggregate_id: UUID, field: str) -> DomainError:
    """The 422 for a body reference outside the token's view: as ``ledger.commands.base.existing``."""
    return DomainError(REFERENCED_RECORD_EXISTS, field, f"no {cls.__name__.lower()} {aggregate_id}",
                       detail_zh=f"未找到记录（{cls.__name__.lower()} {aggregate_id}）")


def out_of_scope(who: Principal, detail: str, detail_zh: str) -> Exception:
    """403 ``institution-scope``: ``detail`` says why in English, ``detail_zh`` in Chinese."""
    from api.problems import forbidden

    return forbidden("institution-scope", detail, detail_zh=detail_zh, role=who.role.value)


WHAT_ZH: dict[str, str] = {
    "among the owners": "权利人之一",
    "the command's institution_id": "指令中的 institution_id 所指机构",
    "among the sellers (terms.seller_ids)": "卖方之一（terms.seller_ids）",
    "a seller of the contract (the buyer has no deductions)": "合同的卖方（买方没有扣除项）",
    "whose cost it is (institution_id)": "承担该成本的机构（institution_id）",
    "the contract's lead seller, who distributes": "负责分配的合同牵头卖方",
}
"""The Chinese of each ``what`` a route passes to :func:`require_acting_for` and :func:`require_one_of`."""


def _not_what(who: Principal, what: str) -> Exception:
    return out_of_scope(who, f"this token acts for institution {who.institution_id}, which is not {what}",
                        f"此令牌代表机构 {who.institution_id}，不是{WHAT_ZH.get(what, what)}")


def acts_for(who: Principal, institution_id: UUID | None) -> bool:
    return who.institution_id is not None and who.institution_id == institution_id


# ---- what a token sees ---------------------------------------------------------------


def ever_owners(achievement: Achievement) -> set[UUID]:
    """Current owners and every owner before an assignment (they keep their history)."""
    owners = {o.institution_id for o in achievement.owners}
    for before in achievement.owners_before.values():
        owners.update(o.institution_id for o in before)
    return owners


def listed_on(achievement: Achievement, exchange_id: UUID | None) -> bool:
    """Listed on that exchange at any time (a deal outlives the listing it came from)."""
    return exchange_id is not None and any(lst.exchange_id == exchange_id for lst in achievement.listings)


def sees_institution(who: Principal, institution: Institution) -> bool:
    return who.role in SEES_ALL or acts_for(who, institution.id)


def sees_achievement(who: Principal, achievement: Achievement) -> bool:
    if who.role in SEES_ALL:
        return True
    if who.role is Role.OPERATOR:
        return listed_on(achievement, who.institution_id)
    return who.institution_id in ever_owners(achievement)


def is_party(who: Principal, contract: TechnologyContract) -> bool:
    terms = contract.terms
    return who.institution_id in terms.seller_ids or acts_for(who, terms.buyer_id)


async def handled_by_exchange(who: Principal, achievement_ids: Iterable[UUID], load: Loader[Any]) -> bool:
    """One of the achievements was listed on the operator's exchange."""
    for achievement_id in achievement_ids:
        try:
            achievement = await load(Achievement, achievement_id)
        except AggregateNotFound:
            continue
        if listed_on(achievement, who.institution_id):
            return True
    return False


async def sees_contract(who: Principal, contract: TechnologyContract, load: Loader[Any]) -> bool:
    if who.role is Role.ADMIN:
        return True
    if who.role is Role.REGULATOR:
        return contract.registration is not None
    if who.role is Role.OPERATOR:
        return await handled_by_exchange(who, contract.terms.achievement_ids, load)
    return is_party(who, contract)


def sees_holding(who: Principal, holding: EquityHolding) -> bool:
    return who.role in SEES_ALL or acts_for(who, holding.institution_id)


def sees_self_implementation(who: Principal, implementation: SelfImplementation) -> bool:
    return who.role in SEES_ALL or acts_for(who, implementation.institution_id) or acts_for(
        who, implementation.partner_id
    )


def sees_distribution(who: Principal, distribution: IncomeDistribution) -> bool:
    return who.role in SEES_ALL or acts_for(who, distribution.institution_id)


def sees_policy(who: Principal, policy: DistributionPolicy) -> bool:
    return who.role in SEES_ALL or acts_for(who, policy.institution_id)


def sees_books(who: Principal, institution_id: UUID) -> bool:
    return who.role in SEES_ALL or acts_for(who, institution_id)


async def visible(who: Principal, record: Aggregate, load: Loader[Any]) -> bool:
    """Whether ``who`` may see ``record``, whatever its kind."""
    if who.role is Role.ADMIN:
        return True
    if isinstance(record, TechnologyContract):
        return await sees_contract(who, record, load)
    checks: dict[type[Any], Callable[[Principal, Any], bool]] = {
        Institution: sees_institution,
        Achievement: sees_achievement,
        EquityHolding: sees_holding,
        SelfImplementation: sees_self_implementation,
        IncomeDistribution: sees_distribution,
        DistributionPolicy: sees_policy,
    }
    check = checks.get(type(record))
    return check is not None and check(who, record)


async def load_visible(who: Principal, cls: type[A], aggregate_id: UUID, load: Loader[A]) -> A:
    """Load a record named in the path: 404 if it is missing or out of view."""
    record = await load(cls, aggregate_id)
    if not await visible(who, record, load):
        raise hidden(cls, aggregate_id)
    return record


async def load_referenced(who: Principal, cls: type[A], aggregate_id: UUID, field: str, load: Loader[A]) -> A:
    """Load a record named in the body: 422 ``referenced_record_exists`` if missing or out of view."""
    try:
        record = await load(cls, aggregate_id)
    except AggregateNotFound:
        raise missing_reference(cls, aggregate_id, field) from None
    if not await visible(who, record, load):
        raise missing_reference(cls, aggregate_id, field)
    return record


# ---- what a token changes --------------------------------------------------------------


def require_acting_for(who: Principal, institution_id: UUID, what: str) -> None:
    """403 ``institution-scope`` unless ``who`` is admin or acts for ``institution_id``."""
    if who.role is Role.ADMIN or acts_for(who, institution_id):
        return
    raise _not_what(who, what)


def require_one_of(who: Principal, institution_ids: Iterable[UUID], what: str) -> None:
    ids = list(institution_ids)
    if who.role is Role.ADMIN or who.institution_id in ids:
        return
    raise _not_what(who, what)


__all__ = [
    "Loader",
    "acts_for",
    "ever_owners",
    "handled_by_exchange",
    "hidden",
    "is_party",
    "listed_on",
    "load_referenced",
    "load_visible",
    "missing_reference",
    "out_of_scope",
    "require_acting_for",
    "require_institution",
    "require_one_of",
    "sees_books",
    "visible",
]
