"""The rule catalogue is complete, current, and every rule is enforced and tested."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from domain import catalogue
from domain.errors import RULES, Rule

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "rules.md"
# Groups whose rules must each be named by a unit test (one test per rule).
TESTED_GROUPS = {"institution", "achievement", "public_notice", "encumbrance"}


@pytest.fixture(scope="module")
def modules() -> list[str]:
    return catalogue.import_domain_modules()


def rule_constants(modules: list[str]) -> dict[str, tuple[str, str]]:
    """Rule name -> (constant name, module) for every rule bound at module level."""
    found: dict[str, tuple[str, str]] = {}
    for name in modules:
        for attr, value in vars(sys.modules[name]).items():
            if isinstance(value, Rule) and RULES.get(value.name) is value:
                found.setdefault(value.name, (attr, name))
    return found


def test_docs_rules_md_is_current(modules: list[str]) -> None:
    assert DOC.read_text(encoding="utf-8") == catalogue.render(), (
        "docs/rules.md is stale: run python -m domain.catalogue --write docs/rules.md"
    )


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "rules.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert catalogue.main(["--check", str(stale)]) == 1
    assert catalogue.main(["--write", str(stale)]) == 0
    assert catalogue.main(["--check", str(stale)]) == 0


def test_rule_names_are_snake_case_and_meaningful(modules: list[str]) -> None:
    for declared in RULES.values():
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", declared.name), declared.name
        assert declared.meaning.strip().endswith("."), declared.name


def test_every_rule_is_enforced_in_the_domain(modules: list[str]) -> None:
    """Each rule's constant is used beyond its declaration, in the domain or the write side."""
    constants = rule_constants(modules)
    unbound = sorted(set(RULES) - set(constants))
    assert not unbound, f"rules not bound to a module constant: {unbound}"
    source = "\n".join(
        p.read_text(encoding="utf-8")
        for folder in ("domain", "ledger", "api")
        for p in (ROOT / folder).rglob("*.py")
    )
    unused = [
        name
        for name, (const, _) in constants.items()
        if len(re.findall(rf"\b{const}\b", source)) < 2
    ]
    assert not unused, f"rules declared but never enforced: {sorted(unused)}"


def test_every_rule_of_the_tested_groups_is_named_by_a_test(modules: list[str]) -> None:
    tests = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "unit").glob("test_*.py")
    )
    constants = rule_constants(modules)
    untested = [
        name
        for name, declared in RULES.items()
        if declared.group in TESTED_GROUPS and not re.search(rf"\b{constants[name][0]}\b", tests)
    ]
    assert not untested, f"rules without a unit test: {sorted(untested)}"
