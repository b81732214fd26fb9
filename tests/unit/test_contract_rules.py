"""Every rule of the contract, settlement, UFPL, equity and self-implementation modules has a test."""

from __future__ import annotations

from pathlib import Path

import domain.contract
import domain.contract_money
import domain.contract_state
import domain.contract_terms
import domain.contract_ufpl
import domain.equity
import domain.payment_terms
import domain.self_implementation
import domain.services
import domain.settlement
import domain.ufpl
from domain.errors import RULES, Rule

MODULES = [
    domain.payment_terms,
    domain.settlement,
    domain.ufpl,
    domain.contract_terms,
    domain.contract_state,
    domain.contract,
    domain.contract_money,
    domain.contract_ufpl,
    domain.equity,
    domain.self_implementation,
    domain.services,
]
GROUPS = {
    "payment_terms",
    "settlement",
    "ufpl",
    "contract",
    "equity",
    "self_implementation",
    "services",
}


def constant_names() -> dict[str, str]:
    """Rule name -> the module constant that holds it."""
    names: dict[str, str] = {}
    for module in MODULES:
        for attr, value in vars(module).items():
            if isinstance(value, Rule):
                names[value.name] = attr
    return names


def test_every_rule_is_asserted_by_some_test() -> None:
    here = Path(__file__)
    sources = "".join(
        p.read_text(encoding="utf-8") for p in here.parent.glob("test_*.py") if p != here
    )
    constants = constant_names()
    untested = [
        name
        for name, declared in RULES.items()
        if declared.group in GROUPS
        and constants.get(name, "?") not in sources
        and f'"{name}"' not in sources
    ]
    assert untested == []


def test_rules_have_meanings_and_snake_case_names() -> None:
    for name, declared in RULES.items():
        if declared.group in GROUPS:
            assert name == name.lower() and " " not in name
            assert declared.meaning.strip()
