"""Builders shared by the rule-pack, distribution, allocation and award tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper

from domain.distribution import BeneficiaryKind, DistributionPolicy, PolicyVersion, policy_version
from domain.enums import InstitutionKind, RulePackId
from domain.rule_packs import RulePackVersion, pack_in_force
from tests.unit.aggregate_checks import assert_storable

INSTITUTION = UUID("00000000-0000-0000-0000-0000000000d1")
CONTRACT = UUID("00000000-0000-0000-0000-0000000000d2")
ON = date(2024, 1, 31)

TEAM = BeneficiaryKind.inventor_team
DEPT = BeneficiaryKind.department
INST = BeneficiaryKind.institution
TTO = BeneficiaryKind.tto
FUND = BeneficiaryKind.transformation_fund

PUBLIC_UNIVERSITY: dict[str, Any] = {
    "institution_is_public_research": True,
    "institution_kind": InstitutionKind.university,
}
ENTERPRISE: dict[str, Any] = {
    "institution_is_public_research": False,
    "institution_kind": InstitutionKind.enterprise,
}

# The policy seen most in practice: team 70 / university 15 / department 15; equity 80/20.
CASH_70 = {TEAM: Decimal(70), INST: Decimal(15), DEPT: Decimal(15)}
EQUITY_80 = {TEAM: Decimal(80), INST: Decimal(20)}
AWKWARD_TEAM = [("张三", Decimal("33.33")), ("李四", Decimal("33.33")), ("王五", Decimal("33.34"))]


def yuan(text: str) -> int:
    """'1,000,000.00' -> fen."""
    whole, _, cents = text.replace(",", "").partition(".")
    return int(whole) * 100 + int((cents or "0").ljust(2, "0"))


def pack(pack_id: RulePackId | str, on: date = ON) -> RulePackVersion:
    return pack_in_force(pack_id, on)


def version(
    pack_id: RulePackId | str = RulePackId.beijing,
    *,
    cash: Any = None,
    equity: Any = None,
    who: dict[str, Any] | None = None,
    effective_from: date = date(2023, 1, 1),
    **changes: Any,
) -> PolicyVersion:
    """A policy version (pure, not recorded) under ``pack_id``'s pack in force on ``ON``."""
    args: dict[str, Any] = {
        "version_label": "v1",
        "effective_from": effective_from,
        "cash_split": CASH_70 if cash is None else cash,
        "equity_split": EQUITY_80 if equity is None else equity,
        "pack": pack(pack_id, max(effective_from, ON)),
        **(PUBLIC_UNIVERSITY if who is None else who),
    }
    args.update(changes)
    return policy_version(**args)


def policy(**changes: Any) -> DistributionPolicy:
    p = DistributionPolicy.create(INSTITUTION)
    args: dict[str, Any] = {
        "version_label": "2023",
        "effective_from": date(2023, 1, 1),
        "cash_split": CASH_70,
        "equity_split": EQUITY_80,
        "pack": pack(RulePackId.beijing),
        **PUBLIC_UNIVERSITY,
    }
    args.update(changes)
    p.adopt_version(**args)
    return p


def store_mapper() -> Mapper[UUID]:
    """The store's own mapper: the transcodings events meet in production."""
    from ledger.serialisation import default_mapper

    return default_mapper()


def assert_rebuilds(aggregate: Aggregate) -> list[Any]:
    """Its events are storable, survive the store's transcoding, and rebuild an equal aggregate."""
    mapper = store_mapper()
    events = list(aggregate.collect_events())
    for e in events:
        assert_storable(e)
    stored: list[Any] = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]
    assert stored == events
    copy: Any = None
    for e in stored:
        copy = e.mutate(copy)
    assert copy == aggregate
    return events
