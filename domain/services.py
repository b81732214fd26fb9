"""Domain services: steps that change a contract and its achievements together.

Pure functions over aggregates the caller loaded; the caller saves every
aggregate they touch in one transaction (ARCHITECTURE.md decision 2).

Check all, then mutate: every check of every aggregate runs before the first
event is recorded, so a rejection leaves all of them without pending events.
The achievement offers ``encumber`` and ``release`` as commands that check
and record in one call; to check them without recording, they are first run
on a deep copy of the achievement (a dry run), which is cheap and exact
because a command's checks depend only on the aggregate's state and the
arguments.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.achievement import Achievement
from domain.contract import ContractStatus, TechnologyContract
from domain.contract_terms import LICENCE_KINDS
from domain.enums import ContractKind
from domain.equity import Company, EquityHolding, EquityValuation
from domain.errors import require, rule
from domain.self_implementation import SelfImplementation
from domain.settlement import END_CANCELS_WHAT_IS_NOT_DUE, KeptItem

G = "services"
OWNERSHIP_KINDS = frozenset({ContractKind.assignment, ContractKind.equity_contribution})

ACHIEVEMENTS_PROVIDED = rule(
    "achievements_provided",
    "Every achievement a contract covers is loaded and given to the step that encumbers or "
    "releases it.",
    group=G,
)
EQUITY_HOLDING_MATCHES_CONTRACT = rule(
    "equity_holding_matches_contract",
    "An equity holding comes from an equity-contribution contract in force or completed, held "
    "by one of its sellers, for the achievements the contract covers.",
    group=G,
)
SELF_IMPLEMENTER_OWNS_ACHIEVEMENT = rule(
    "self_implementer_owns_achievement",
    "Only an owner of an achievement implements it itself (自行实施).",
    source="促进科技成果转化法 第16条",
    group=G,
)


class ContractEnd(StrEnum):
    complete = "complete"
    terminate = "terminate"
    expire = "expire"
    return_licence = "return_licence"


def take_effect(
    contract: TechnologyContract,
    achievements: Mapping[UUID, Achievement],
    owners_public: bool,
    on: date,
) -> None:
    """The contract takes effect and encumbers every achievement it covers.

    At an agreed price, a public owner must have completed its public
    notice (Law Art. 18) for each achievement.
    """
    contract.check_take_effect(on)
    planned: list[tuple[Achievement, dict[str, Any]]] = []
    for i, achievement in enumerate(_covered(contract, achievements)):
        field = f"achievement_ids[{i}]"
        if contract.terms.agreed_price:
            achievement.check_transferable_at_agreed_price(owners_public, on, field)
        args = _encumbrance(contract, achievement, on, field)
        copy.deepcopy(achievement).encumber(**args)
        planned.append((achievement, args))
    for achievement, args in planned:
        achievement.encumber(**args)
    contract.take_effect(on)


def end_contract(
    contract: TechnologyContract,
    achievements: Mapping[UUID, Achievement],
    end: ContractEnd,
    on: date,
    reason: str = "",
    kept: Sequence[KeptItem] = (),
) -> None:
    """End the contract and free its achievements of it.

    The end settles the contract's money in the same command (民法典 第566条):
    what is not yet due is cancelled, except the items ``kept`` names as still
    owed (termination or expiry only); see ``TechnologyContract.terminate``.

    Licences release on any end. An assignment or equity contribution
    releases only when terminated (rescission restores the former owners);
    completed or expired, the rights stay with the assignee. A contract that
    never took effect encumbered nothing.
    """
    _end(copy.deepcopy(contract), end, on, reason, kept)
    releases = list(_covered(contract, achievements)) if _releases(contract, end) else []
    for achievement in releases:
        copy.deepcopy(achievement).release(contract.id, on)
    for achievement in releases:
        achievement.release(contract.id, on)
    _end(contract, end, on, reason, kept)


def open_equity_holding(
    contract: TechnologyContract,
    *,
    institution_id: UUID,
    company: Company,
    valuation: EquityValuation,
    registered_capital_fen: int,
    shares_received: int,
    total_shares: int,
    contributed_on: date,
    id: UUID | None = None,
) -> EquityHolding:
    """The holding that an equity-contribution contract created."""
    require(
        contract.kind == ContractKind.equity_contribution
        and contract.status in (ContractStatus.in_force, ContractStatus.completed),
        EQUITY_HOLDING_MATCHES_CONTRACT,
        "contract_id",
        f"a {contract.status} {contract.kind} contract creates no holding",
        zh=f"{contract.status} 状态的 {contract.kind} 合同不产生持股",
    )
    require(
        institution_id in contract.terms.seller_ids,
        EQUITY_HOLDING_MATCHES_CONTRACT,
        "institution_id",
        "the holder is not a seller of the contract",
        zh="持股方不是该合同的卖方",
    )
    return EquityHolding.record_contribution(
        contract_id=contract.id,
        institution_id=institution_id,
        achievement_ids=contract.terms.achievement_ids,
        company=company,
        valuation=valuation,
        registered_capital_fen=registered_capital_fen,
        shares_received=shares_received,
        total_shares=total_shares,
        contributed_on=contributed_on,
        currency=contract.currency,
        id=id,
    )


def start_self_implementation(
    achievement: Achievement,
    institution_id: UUID,
    started_on: date,
    partner_id: UUID | None = None,
    id: UUID | None = None,
) -> SelfImplementation:
    require(
        institution_id in achievement.owner_ids,
        SELF_IMPLEMENTER_OWNS_ACHIEVEMENT,
        "institution_id",
        f"{institution_id} does not own achievement {achievement.id}",
        zh=f"{institution_id} 不是成果 {achievement.id} 的权利人",
    )
    return SelfImplementation.start(
        institution_id=institution_id,
        achievement_id=achievement.id,
        started_on=started_on,
        partner_id=partner_id,
        id=id,
    )


# --- helpers -------------------------------------------------------------------------


def _covered(
    contract: TechnologyContract, achievements: Mapping[UUID, Achievement]
) -> Sequence[Achievement]:
    found = []
    for i, achievement_id in enumerate(contract.terms.achievement_ids):
        require(
            achievement_id in achievements,
            ACHIEVEMENTS_PROVIDED,
            f"achievement_ids[{i}]",
            f"achievement {achievement_id} was not provided",
            zh=f"未提供成果 {achievement_id}",
        )
        found.append(achievements[achievement_id])
    return found


def _encumbrance(
    contract: TechnologyContract, achievement: Achievement, on: date, field: str
) -> dict[str, Any]:
    terms = contract.terms
    lic = terms.licence if terms.kind in LICENCE_KINDS else None
    # With several sellers (a pool), the one dealing in this achievement is its owner.
    owner = next((s for s in terms.seller_ids if s in achievement.owner_ids), terms.seller_ids[0])
    return {
        "contract_id": contract.id,
        "kind": terms.kind,
        "licence_type": lic.licence_type if lic else None,
        "territory": lic.territory if lic else "CN",
        "term_start": (lic.term_start if lic and lic.term_start else on),
        "term_end": lic.term_end if lic else None,
        "assignee_id": terms.buyer_id if terms.kind in OWNERSHIP_KINDS else None,
        "on": on,
        "field": field,
        "seller_id": owner,
    }


def _releases(contract: TechnologyContract, end: ContractEnd) -> bool:
    if contract.effective_on is None:
        return False
    if contract.kind in OWNERSHIP_KINDS:
        return end == ContractEnd.terminate
    return contract.kind in LICENCE_KINDS


def _end(
    contract: TechnologyContract,
    end: ContractEnd,
    on: date,
    reason: str,
    kept: Sequence[KeptItem] = (),
) -> None:
    require(
        not kept or end in (ContractEnd.terminate, ContractEnd.expire),
        END_CANCELS_WHAT_IS_NOT_DUE,
        "kept",
        f"a {end} keeps no items: only a termination or an expiry names amounts still owed",
        zh=f"{end} 不保留款项：只有解除或到期才载明仍欠的金额",
    )
    if end == ContractEnd.complete:
        contract.complete(on)
    elif end == ContractEnd.terminate:
        contract.terminate(on, reason, kept)
    elif end == ContractEnd.expire:
        contract.expire(on, kept)
    else:
        contract.return_licence(on, reason)
