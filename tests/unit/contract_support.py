"""Builders and assertions shared by the contract, equity and self-implementation tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper

from domain.achievement import Achievement, Inventor, Owner
from domain.contract import TechnologyContract
from domain.contract_terms import ContractTerms, LicenceTerms
from domain.enums import ContractKind, IpType, TechnologyField
from domain.errors import RULES, DomainError, Rule
from domain.payment_terms import PaymentTerms
from domain.ufpl import UfplTerms, UfplTrigger

SELLER = UUID("00000000-0000-0000-0000-00000000000a")
CO_SELLER = UUID("00000000-0000-0000-0000-00000000000b")
BUYER = UUID("00000000-0000-0000-0000-0000000000b0")
ACHIEVEMENT = UUID("00000000-0000-0000-0000-0000000000c1")
ACHIEVEMENT_2 = UUID("00000000-0000-0000-0000-0000000000c2")

WAN = 1_000_000  # 1万元 in fen


def d(text: str) -> date:
    return date.fromisoformat(text)


def make_terms(kind: ContractKind = ContractKind.assignment, **changes: Any) -> ContractTerms:
    """Valid terms of ``kind``: a 10万元 lump sum, one seller, one achievement where allowed."""
    service = kind in (ContractKind.development, ContractKind.consulting, ContractKind.service)
    base = ContractTerms(
        kind=kind,
        title=f"{kind} contract",
        seller_ids=(SELLER,),
        buyer_id=BUYER,
        achievement_ids=() if service else (ACHIEVEMENT,),
        contract_value_fen=10 * WAN,
        transaction_value_fen=8 * WAN,
        payment_terms=PaymentTerms.lump_sum(10 * WAN, days_after_start=30),
        licence=LicenceTerms()
        if kind in (ContractKind.licence, ContractKind.ufpl_licence)
        else None,
        ufpl=(
            UfplTerms("pilot line only", d("2025-06-30"), (UfplTrigger.first_revenue(),))
            if kind == ContractKind.ufpl_licence
            else None
        ),
    )
    return replace(base, **changes)


def drafted(kind: ContractKind = ContractKind.assignment, **changes: Any) -> TechnologyContract:
    return TechnologyContract.draft(terms=make_terms(kind, **changes), drafted_on=d("2024-01-02"))


def signed(kind: ContractKind = ContractKind.assignment, **changes: Any) -> TechnologyContract:
    contract = drafted(kind, **changes)
    contract.sign(d("2024-01-10"))
    return contract


def in_force(kind: ContractKind = ContractKind.assignment, **changes: Any) -> TechnologyContract:
    contract = signed(kind, **changes)
    contract.take_effect(d("2024-02-01"))
    return contract


def assert_rejected(
    aggregate: Aggregate | None, broken: Rule, field: str, command: Callable[[], object]
) -> DomainError:
    """``command`` breaks ``broken`` at ``field`` and records nothing."""
    version = aggregate.version if aggregate is not None else None
    pending = len(aggregate.pending_events) if aggregate is not None else None
    before = repr(aggregate)
    with pytest.raises(DomainError) as caught:
        command()
    assert caught.value.rule is broken, caught.value
    assert caught.value.field == field, caught.value
    if aggregate is not None:
        assert aggregate.version == version
        assert len(aggregate.pending_events) == pending
        assert repr(aggregate) == before
    return caught.value


def store_mapper() -> Mapper[UUID]:
    """The store's own mapper: the transcodings events meet in production."""
    from ledger.serialisation import default_mapper

    return default_mapper()


def assert_rebuilds(aggregate: Aggregate) -> list[Any]:
    """Its events survive the store's transcodings and rebuild an equal aggregate; returns them."""
    mapper = store_mapper()
    events = list(aggregate.collect_events())
    stored = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]
    assert stored == events
    copy: Any = None
    for e in stored:
        copy = e.mutate(copy)
    assert copy == aggregate
    assert_snapshot_restores(aggregate)
    return events


def assert_snapshot_restores(aggregate: Aggregate) -> None:
    """A snapshot taken now, stored and loaded, restores an equal aggregate."""
    from ledger.serialisation import default_mapper
    from ledger.snapshots import ShapedSnapshot

    mapper = default_mapper()
    stored = mapper.to_stored_event(ShapedSnapshot.take(aggregate))
    restored = mapper.to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
    assert restored == aggregate
    assert vars(restored) == vars(aggregate)


def event_names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def new_id() -> UUID:
    return uuid4()


def achievement(achievement_id: UUID = ACHIEVEMENT, owner: UUID = SELLER) -> Achievement:
    """A technical secret (no official number needed) owned wholly by ``owner``."""
    return Achievement.register(
        title=f"成果 {achievement_id.hex[-2:]}",
        ip_type=IpType.technical_secret,
        technology_field=TechnologyField.new_materials,
        owners=[Owner(owner, Decimal(100))],
        inventors=[Inventor("李四", Decimal(60)), Inventor("王五", Decimal(40))],
        registered_on=d("2023-06-01"),
        id=achievement_id,
    )


def foreign_rule(name: str) -> Rule:
    """A rule declared by another module, looked up by its stable name."""
    return RULES[name]
