"""Every statistical definition (统计口径) reads in Chinese and in English."""

from __future__ import annotations

import re
from typing import Any

import pytest

from projections import definitions as d
from projections.definitions_zh import ZH, localize, localize_definition, to_zh
from projections.register import REGISTER_DEFINITION
from projections.reports import ANNUAL_DEFINITION, AUTM_DEFINITION

HAN = re.compile(r"[\u4e00-\u9fff]")
# Two English words in a row are an untranslated sentence; codes (as_of, ufpl_licence, credit-<n>) are not.
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}[a-z]*\b[ ,]+\b[A-Za-z]{2,}\b")


def english_texts() -> dict[str, str]:
    """Every English text a definition is made of, by where it comes from."""
    texts: dict[str, str] = {}
    for name in ("CONTRACT_VALUE", "CONTRACT_VALUE_DATE_BASIS", "UFPL_FUNNEL", "RECEIVABLES", "DISTRIBUTION",
                 "SELF_IMPLEMENTATION_AWARDS", "INVENTION_BONUS"):
        for key, value in getattr(d, name).items():
            texts[f"{name}.{key}"] = value
    for name in ("TRANSFERRED", "UFPL_LISTED", "TRANSFER_RATE_SCOPE"):
        texts[name] = getattr(d, name)
    # the reports' and the register's definitions (projections/reports.py, projections/register.py)
    for name, block in (("ANNUAL_DEFINITION", ANNUAL_DEFINITION), ("AUTM_DEFINITION", AUTM_DEFINITION),
                        ("REGISTER_DEFINITION", REGISTER_DEFINITION)):
        for key, value in block.items():
            texts[f"{name}.{key}"] = value + (d.TRANSFERRED if key == "scope" else "")
    texts["AUTM_DEFINITION.scope(institution)"] = AUTM_DEFINITION["scope"] + "; every institution"
    for formula in d.TRANSFER_RATE_FORMULAS.values():
        for key, value in formula.describe().items():
            if key != "name" and value:
                texts[f"{formula.name}.{key}"] = value
    return texts


@pytest.mark.parametrize(("where", "text"), sorted(english_texts().items()))
def test_every_definition_text_has_chinese(where: str, text: str) -> None:
    assert text.strip(), f"{where} has no English text"
    chinese = to_zh(text)
    assert HAN.search(chinese), f"{where} has no Chinese (add it to ZH in projections/definitions_zh.py)"
    leftover = ENGLISH_RUN.findall(chinese)
    assert not leftover, f"{where}: untranslated English {leftover} (add it to ZH)"


def test_every_chinese_text_is_chinese() -> None:
    for english, chinese in ZH.items():
        assert english and chinese.strip(), english
        assert HAN.search(chinese) or chinese.strip() in ("；", "分子：", "分母："), english


def served(**extra: Any) -> dict[str, Any]:
    formula = d.TRANSFER_RATE_FORMULAS["local_transfer_rate"]
    return {
        "figure": "transfer_rate",
        "formula": formula.describe(),
        "definition": d.definition(
            figure="transfer_rate", title=formula.title, formula=f"{formula.name}: {formula.formula}",
            scope=f"{d.TRANSFER_RATE_SCOPE} Numerator: {formula.numerator} Denominator: {formula.denominator}",
            date_basis=formula.date_basis + "; as of 2024-12-31", status_basis=d.TRANSFERRED,
            currency="none (counts of achievements)", as_of_position=7, formula_name=formula.name, **extra),
        "rows": [{"region": "610000", "rate": "0.5"}],
    }


def test_a_served_definition_in_both_languages() -> None:
    figures = served()
    zh = localize(figures, "zh")
    en = localize(figures, "en")
    assert en["definition"] == figures["definition"] == zh["definition_en"] == en["definition_en"]
    assert zh["definition"] == zh["definition_zh"] == en["definition_zh"]
    for key in ("title", "formula", "scope", "date_basis", "status_basis", "currency"):
        assert HAN.search(zh["definition"][key]), key
        assert not ENGLISH_RUN.findall(zh["definition"][key]), (key, zh["definition"][key])
        assert en["definition"][key].strip(), key
    assert zh["definition"]["formula_name"] == "local_transfer_rate"  # codes stay
    assert zh["definition"]["as_of_position"] == 7 and zh["rows"] == figures["rows"]
    assert "统计截止日 2024-12-31" in zh["definition"]["date_basis"]
    assert HAN.search(zh["formula"]["numerator"])


def test_english_is_unchanged() -> None:
    block = served()["definition"]
    assert localize_definition(block, "en") == block
