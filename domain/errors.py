"""Domain errors, each tied to one named rule.

Modelled on TigerBeetle's reference: every error a command can meet names the
invariant it would break, so an operator can look the rule up in
docs/rules.md (generated from this registry) and an API client can branch on
a stable code instead of parsing prose.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.rule_texts_zh import RULE_TEXTS_ZH


@dataclass(frozen=True)
class Rule:
    """One invariant of the domain.

    ``name`` is the stable error code (snake case, never reused once
    published); ``meaning`` says what must hold; ``source`` cites the law,
    regulation or policy the rule comes from, or is ``None`` when the rule is
    a bookkeeping invariant of the ledger itself. ``name_zh`` and
    ``meaning_zh`` are the Chinese name and meaning, ``citation`` the Chinese
    legal citation of the source (《…》第…条) or ``""``: all three come from
    ``domain/rule_texts_zh.py``, applied when the rule is declared.
    """

    name: str
    meaning: str
    source: str | None = None
    group: str = "general"
    name_zh: str = ""
    meaning_zh: str = ""
    citation: str = ""

    def meaning_in(self, lang: str) -> str:
        """The meaning in ``lang`` (``zh`` or ``en``); English when no Chinese text exists."""
        return self.meaning_zh if lang == "zh" and self.meaning_zh else self.meaning


RULES: dict[str, Rule] = {}


def rule(name: str, meaning: str, *, source: str | None = None, group: str = "general") -> Rule:
    """Declare a rule once, at import time of the module that enforces it."""
    if name in RULES:
        raise ValueError(f"rule {name!r} is declared twice")
    name_zh, meaning_zh, citation = RULE_TEXTS_ZH.get(name, ("", "", ""))
    declared = Rule(name=name, meaning=meaning, source=source, group=group,
                    name_zh=name_zh, meaning_zh=meaning_zh, citation=citation)
    RULES[name] = declared
    return declared


class DomainError(Exception):
    """A command broke a rule; nothing was recorded.

    ``field`` is the dotted path of the offending input (``owners[1].share``)
    so the API can point at it in a problem+json ``errors`` entry. ``detail``
    says what is wrong in English, ``detail_zh`` the same in Chinese, with the
    same figures (tests/unit/test_error_texts_zh.py fails on a raise without
    it); ``None`` only for an error built elsewhere without one.
    """

    def __init__(self, rule: Rule, field: str, detail: str, detail_zh: str | None = None) -> None:
        self.rule = rule
        self.field = field
        self.detail = detail
        self.detail_zh = detail_zh
        super().__init__(f"{rule.name}: {field}: {detail}")

    def detail_in(self, lang: str) -> str:
        """The detail in ``lang`` (``zh`` or ``en``); English when no Chinese text exists."""
        return self.detail_zh if lang == "zh" and self.detail_zh else self.detail

    def as_dict(self) -> dict[str, str | None]:
        """The problem+json ``errors`` entry; ``detail_zh`` becomes its ``detail`` in a Chinese answer
        (api/problems.py ``localized_error``)."""
        return {
            "rule": self.rule.name,
            "field": self.field,
            "detail": self.detail,
            "detail_zh": self.detail_zh,
            "meaning": self.rule.meaning,
            "source": self.rule.source,
            "name_zh": self.rule.name_zh,
            "citation": self.rule.citation or None,
        }


def require(condition: bool, broken: Rule, field: str, detail: str, zh: str | None = None) -> None:
    """Raise ``DomainError`` for ``broken`` unless ``condition`` holds; ``detail`` in English, ``zh`` the
    same in Chinese."""
    if not condition:
        raise DomainError(broken, field, detail, zh)
