"""Encumbrances: what contracts in force do to an achievement.

An assignment or equity contribution moves ownership to the assignee; a
licence (UFPL licences included) restricts further licences when it is
exclusive (独占) or sole (排他). The Achievement aggregate keeps the tuple of
encumbrances; these pure functions decide whether a new one may be added or
an old one released.

Territory is free text: "" or "CN" is the whole country and overlaps every
territory; other territories overlap only when equal (case and surrounding
blanks ignored), so "Beijing" and "110000" are treated as different places.
Terms are closed date ranges; an open end (None) runs for ever.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from domain.achievement_values import check_not_before
from domain.enums import ContractKind, LicenceType
from domain.errors import require, rule
from domain.serialisable import value_object

OWNERSHIP_TRANSFERS = frozenset({ContractKind.assignment, ContractKind.equity_contribution})
LICENCES = frozenset({ContractKind.licence, ContractKind.ufpl_licence})
# Sole excludes every other licensee just as exclusive does; it differs only in
# letting the licensor practise (SPC interpretation Art. 25).
EXCLUDING = frozenset({LicenceType.exclusive, LicenceType.sole})
WHOLE_COUNTRY = frozenset({"", "CN"})

G = "encumbrance"
ENCUMBRANCE_CONTRACT_ONCE = rule(
    "encumbrance_contract_once", "A contract encumbers an achievement once.", group=G
)
ENCUMBRANCE_TERMS_MATCH_KIND = rule(
    "encumbrance_terms_match_kind",
    "Only a licence has a licence type; an assignment or equity contribution names its assignee "
    "and other contracts name none.",
    group=G,
)
LICENCE_CONFLICT = rule(
    "licence_conflict",
    "An achievement under an exclusive or sole licence in force is not licensed again for an "
    "overlapping territory and term, and no exclusive or sole licence is granted over a licence "
    "in force for an overlapping territory and term.",
    source="最高人民法院关于审理技术合同纠纷案件适用法律若干问题的解释 Art. 25",
    group=G,
)
ACHIEVEMENT_ASSIGNED_AWAY = rule(
    "achievement_assigned_away",
    "An achievement assigned away or contributed to a company is not assigned, licensed or "
    "contributed again by its former owner; the assignee now owns it.",
    source="民法典 Art. 862",
    group=G,
)
SELLER_IS_OWNER = rule(
    "seller_is_owner",
    "Only a current owner assigns, licenses or contributes an achievement.",
    group=G,
)
ENCUMBRANCE_IN_FORCE_TO_RELEASE = rule(
    "encumbrance_in_force_to_release",
    "Only an encumbrance in force is released, by the contract that made it.",
    group=G,
)
OWNERSHIP_RELEASED_LAST_FIRST = rule(
    "ownership_released_last_first",
    "An assignment or equity contribution is released only while it is the latest ownership "
    "change in force, so that the owners before it can be restored.",
    group=G,
)


@value_object
@dataclass(frozen=True)
class Encumbrance:
    """One contract's hold on the achievement, from ``effective_on`` until released."""

    contract_id: UUID
    kind: ContractKind
    licence_type: LicenceType | None
    territory: str
    term_start: date
    term_end: date | None
    assignee_id: UUID | None
    effective_on: date
    released_on: date | None = None

    @property
    def moves_ownership(self) -> bool:
        return self.kind in OWNERSHIP_TRANSFERS

    @property
    def is_licence(self) -> bool:
        return self.kind in LICENCES

    def in_force(self, on: date) -> bool:
        """Taken effect, within its term and not yet released on ``on``."""
        return (
            self.effective_on <= on
            and self.term_start <= on
            and (self.term_end is None or on <= self.term_end)
            and (self.released_on is None or on < self.released_on)
        )

    def binding_until(self) -> date | None:
        """Last day the encumbrance binds: its term end, cut short by a release."""
        if self.released_on is None:
            return self.term_end
        last_day = self.released_on - timedelta(days=1)
        return last_day if self.term_end is None else min(self.term_end, last_day)


def new_encumbrance(
    held: Sequence[Encumbrance],
    *,
    contract_id: UUID,
    kind: ContractKind,
    licence_type: LicenceType | None,
    territory: str,
    term_start: date,
    term_end: date | None,
    assignee_id: UUID | None,
    on: date,
    field: str,
) -> Encumbrance:
    """The encumbrance a contract taking effect adds, or a ``DomainError``.

    A licence silent on its type is non-exclusive (DOMAIN.md, SPC Art. 25).
    """
    recorded = any(e.contract_id == contract_id for e in held)
    require(not recorded, ENCUMBRANCE_CONTRACT_ONCE, field, f"contract {contract_id} is recorded",
            zh=f"合同 {contract_id} 已记录")
    is_licence = kind in LICENCES
    moves = kind in OWNERSHIP_TRANSFERS
    no_type = is_licence or licence_type is None
    require(no_type, ENCUMBRANCE_TERMS_MATCH_KIND, field, f"a {kind} has no licence type",
            zh=f"{kind} 没有许可方式")
    named = moves == (assignee_id is not None)
    require(named, ENCUMBRANCE_TERMS_MATCH_KIND, field, f"assignee_id does not suit a {kind}",
            zh=f"assignee_id 不适用于 {kind}")
    if term_end is not None:
        check_not_before(term_end, term_start, field, strictly=True)
    if is_licence and licence_type is None:
        licence_type = LicenceType.non_exclusive
    new = Encumbrance(
        contract_id, kind, licence_type, territory.strip(), term_start, term_end, assignee_id, on
    )
    if is_licence:
        for old in held:
            require(not conflicts(old, new), LICENCE_CONFLICT, field, _clash(old),
                    zh=_clash_zh(old))
    return new


def conflicts(old: Encumbrance, new: Encumbrance) -> bool:
    """Two licences clash when either excludes others and they overlap in place and time."""
    if not (old.is_licence and new.is_licence):
        return False
    if old.licence_type not in EXCLUDING and new.licence_type not in EXCLUDING:
        return False
    old_end = old.binding_until()
    if old_end is not None and old_end < old.term_start:
        return False  # released before its term began
    return territories_overlap(old.territory, new.territory) and periods_overlap(
        old.term_start, old_end, new.term_start, new.term_end
    )


def check_seller(
    held: Sequence[Encumbrance],
    owner_ids: Collection[UUID],
    former_owner_ids: Collection[UUID],
    seller_id: UUID | None,
    field: str,
) -> None:
    """Only the owner of record deals in an achievement.

    Without ``seller_id`` the seller is taken to be the owner before any
    assignment, so a later assignee must name itself to deal in it.
    """
    if seller_id is None:
        away = any(e.moves_ownership and e.released_on is None for e in held)
        require(not away, ACHIEVEMENT_ASSIGNED_AWAY, field, "the achievement was assigned away",
                zh="成果已转让")
        return
    if seller_id in owner_ids:
        return
    former = seller_id in former_owner_ids
    require(not former, ACHIEVEMENT_ASSIGNED_AWAY, field, f"{seller_id} assigned it away",
            zh=f"{seller_id} 已将其转让")
    require(False, SELLER_IS_OWNER, field, f"{seller_id} does not own the achievement",
            zh=f"{seller_id} 不是该成果的权利人")


def check_release(held: Sequence[Encumbrance], contract_id: UUID, on: date) -> None:
    current = [e for e in held if e.contract_id == contract_id and e.released_on is None]
    require(
        bool(current),
        ENCUMBRANCE_IN_FORCE_TO_RELEASE,
        "contract_id",
        f"contract {contract_id} holds nothing in force here",
        zh=f"合同 {contract_id} 在此没有有效的权利负担",
    )
    this = current[0]
    check_not_before(on, this.effective_on, "on")
    if this.moves_ownership:
        latest = [e for e in held if e.moves_ownership and e.released_on is None][-1]
        require(
            latest.contract_id == contract_id,
            OWNERSHIP_RELEASED_LAST_FIRST,
            "contract_id",
            f"contract {latest.contract_id} changed ownership later",
            zh=f"合同 {latest.contract_id} 其后变更了权属",
        )


def territories_overlap(a: str, b: str) -> bool:
    a, b = a.strip().upper(), b.strip().upper()
    return a in WHOLE_COUNTRY or b in WHOLE_COUNTRY or a == b


def periods_overlap(start_a: date, end_a: date | None, start_b: date, end_b: date | None) -> bool:
    return (end_b is None or start_a <= end_b) and (end_a is None or start_b <= end_a)


def _clash(old: Encumbrance) -> str:
    return f"overlaps the {old.licence_type} licence of contract {old.contract_id}"


def _clash_zh(old: Encumbrance) -> str:
    return f"与合同 {old.contract_id} 的 {old.licence_type} 许可重叠"
