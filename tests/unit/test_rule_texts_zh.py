"""Every rule has its Chinese name and meaning; citations name only sources the rule declares."""

from __future__ import annotations

import re

import pytest

from domain import catalogue
from domain.errors import RULES
from domain.rule_texts_zh import RULE_TEXTS_ZH

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module", autouse=True)
def modules() -> list[str]:
    return catalogue.import_domain_modules()


def test_every_rule_has_a_chinese_name_and_meaning() -> None:
    missing = [name for name, r in RULES.items() if not (r.name_zh.strip() and r.meaning_zh.strip())]
    assert not missing, f"rules without name_zh/meaning_zh (add them to domain/rule_texts_zh.py): {missing}"
    for declared in RULES.values():
        assert HAN.search(declared.name_zh) and HAN.search(declared.meaning_zh), declared.name
        assert declared.meaning.strip(), declared.name  # and the English stays


def test_the_table_names_only_declared_rules() -> None:
    assert sorted(set(RULE_TEXTS_ZH) - set(RULES)) == []


def test_citations_are_chinese_citations_of_declared_sources() -> None:
    for declared in RULES.values():
        if not declared.citation:
            continue
        assert declared.source, f"{declared.name} cites {declared.citation} but declares no source"
        assert declared.citation.startswith("《"), declared.name


@pytest.mark.parametrize(("name", "expected"), [
    ("money_whole_fen", "金额须为整数分"),
])
def test_example_names(name: str, expected: str) -> None:
    assert RULES[name].name_zh == expected


def test_statutory_citations_name_the_article() -> None:
    assert "《中华人民共和国促进科技成果转化法》第四十五条" in RULES["distribution_floor_public_institution"].citation
    assert "《北京市促进科技成果转化条例》第十二条" in RULES["distribution_floor_public_institution"].citation
    assert RULES["award_notice_min_days"].citation == "《浙江省促进科技成果转化条例》第三十九条"


def test_meaning_in_falls_back_to_english() -> None:
    declared = RULES["money_whole_fen"]
    assert declared.meaning_in("zh") == declared.meaning_zh
    assert declared.meaning_in("en") == declared.meaning


def test_catalogue_shows_both_languages_and_the_citation() -> None:
    text = catalogue.render()
    assert "| `money_whole_fen` | 金额须为整数分 |" in text
    assert "《浙江省促进科技成果转化条例》第三十九条" in text
