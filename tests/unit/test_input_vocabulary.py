"""The input vocabulary (domain/inputs.py): every request field has a type, a range and a length.

The walk below fails when a field of any request body or query reaches the
API as a bare ``str``, ``int`` or ``Decimal``, or as a list without a maximum
length, so a field added later inherits the rules or the test names it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from annotated_types import MaxLen
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from api.routes import ALL
from domain.inputs import (
    CURRENCY_CODE_FORMAT,
    DATE_IN_RANGE,
    IDENTIFIER_FORMAT,
    LIST_LENGTH,
    MAX_FEN,
    MONEY_IN_RANGE,
    MONEY_WHOLE_FEN,
    NUMBER_IN_RANGE,
    OFFICIAL_NUMBER_FORMAT,
    PERCENT_IN_RANGE,
    REGION_CODE_FORMAT,
    TEXT_IS_STRING,
    TEXT_LENGTH,
    TEXT_NO_CONTROL_CHARACTERS,
    WHOLE_NUMBER,
    clean_text,
)
from ledger.commands.achievement import RegisterAchievement
from ledger.commands.contract import DeferDueItems, RecordPayment
from ledger.commands.distribution import AdoptDistributionPolicy
from ledger.commands.equity import SellShares
from ledger.commands.institution import RegisterInstitution

CONTRACT = "00000000-0000-0000-0000-000000000001"


def _vocabulary(metadata: tuple[Any, ...]) -> bool:
    return any(getattr(getattr(m, "func", None), "__module__", "") == "domain.inputs" for m in metadata)


def _bounded(metadata: tuple[Any, ...]) -> bool:
    return any(isinstance(m, MaxLen) or (isinstance(m, FieldInfo) and _bounded(tuple(m.metadata)))
               for m in metadata)


def _untyped(tp: Any, path: str, metadata: tuple[Any, ...], out: list[str], seen: set[Any], *,
             query: bool) -> None:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(tp)
        _untyped(base, path, (*metadata, *extra), out, seen, query=query)
        return
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                _untyped(arg, path, metadata, out, seen, query=query)
        return
    if origin in (list, tuple, set, frozenset, dict):
        fixed = origin is tuple and Ellipsis not in typing.get_args(tp)
        if not query and not fixed and not _bounded(metadata):
            out.append(f"{path}: a list without a maximum length")
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        for i, arg in enumerate(args):
            _untyped(arg, path + ("{key}" if origin is dict and i == 0 else "[]"), (), out, seen, query=query)
        return
    if tp in (str, Decimal) or (tp is int and not query):
        if not _vocabulary(metadata):
            out.append(f"{path}: a bare {tp.__name__}")
        return
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return
        seen.add(tp)
        for name, info in tp.model_fields.items():
            _untyped(info.annotation, f"{path}.{name}", tuple(info.metadata), out, seen, query=query)
    elif dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if tp in seen:
            return
        seen.add(tp)
        hints = typing.get_type_hints(tp, include_extras=True)
        for f in dataclasses.fields(tp):
            _untyped(hints[f.name], f"{path}.{f.name}", (), out, seen, query=query)


def test_every_request_field_has_a_vocabulary_type() -> None:
    found: list[str] = []
    for registry in ALL:
        for spec in registry.routes:
            if spec.body is not None:
                _untyped(spec.body, f"{spec.method} {spec.path} body", (), found, set(), query=False)
            if spec.query is not None:
                _untyped(spec.query, f"{spec.method} {spec.path} query", (), found, set(), query=True)
    assert found == []


def _errors(model: type[BaseModel], body: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        model.model_validate_json(json.dumps(body), strict=True)
    except ValidationError as exc:
        return [(".".join(str(p) for p in e["loc"]), e["type"]) for e in exc.errors()]
    return []


def _payment(**fields: Any) -> dict[str, Any]:
    return {"contract_id": CONTRACT, "payment_id": "P-1", "amount_fen": 100, "received_on": "2025-01-02",
            **fields}


@pytest.mark.parametrize("amount", ["100", True, False, 1e3, 100.0, None, [100]])
def test_money_is_whole_fen_never_a_string_boolean_or_float(amount: Any) -> None:
    assert _errors(RecordPayment, _payment(amount_fen=amount)) == [("amount_fen", MONEY_WHOLE_FEN.name)]


def test_money_is_bounded_so_no_balance_overflows() -> None:
    assert _errors(RecordPayment, _payment(amount_fen=MAX_FEN)) == []
    assert _errors(RecordPayment, _payment(amount_fen=MAX_FEN + 1)) == [("amount_fen", MONEY_IN_RANGE.name)]
    assert _errors(RecordPayment, _payment(amount_fen=-MAX_FEN - 1)) == [("amount_fen", MONEY_IN_RANGE.name)]
    assert _errors(RecordPayment, _payment(amount_fen=2**70)) == [("amount_fen", MONEY_IN_RANGE.name)]


def _sale(**fields: Any) -> dict[str, Any]:
    return {"holding_id": CONTRACT, "sale_id": "S-1", "shares": 10, "proceeds_fen": 100, "buyer": "某投资公司",
            "sold_on": "2025-01-02", **fields}


def test_counts_are_whole_numbers_within_bounds() -> None:
    assert _errors(SellShares, _sale(shares="10")) == [("shares", WHOLE_NUMBER.name)]
    assert _errors(SellShares, _sale(shares=True)) == [("shares", WHOLE_NUMBER.name)]
    assert _errors(SellShares, _sale(shares=-1)) == [("shares", NUMBER_IN_RANGE.name)]


@pytest.mark.parametrize("text", ["清华\x00大学", "a\x1bb", "a\x7fb", "a\u2028b", "a\nb", "a\ufffeb", "a\x85b"])
def test_text_holds_no_control_characters(text: str) -> None:
    assert _errors(SellShares, _sale(buyer=text)) == [("buyer", TEXT_NO_CONTROL_CHARACTERS.name)]


def test_lone_surrogates_are_refused_in_python_too() -> None:
    with pytest.raises(ValidationError) as caught:
        SellShares.model_validate(_sale(buyer="a\ud800b"))
    assert caught.value.errors()[0]["type"] == TEXT_NO_CONTROL_CHARACTERS.name


def test_text_is_a_string() -> None:
    assert _errors(SellShares, _sale(buyer=12)) == [("buyer", TEXT_IS_STRING.name)]


def test_text_is_nfc_normalised_trimmed_and_measured_after() -> None:
    decomposed = "Cafe\u0301"  # e + combining acute accent
    assert clean_text(f"  {decomposed}\t ".replace("\t", " "), 200) == "Caf\u00e9"
    assert _errors(SellShares, _sale(buyer="x" * 200)) == []
    assert _errors(SellShares, _sale(buyer="  " + "x" * 200 + "  ")) == []
    assert _errors(SellShares, _sale(buyer="x" * 201)) == [("buyer", TEXT_LENGTH.name)]
    assert _errors(SellShares, _sale(buyer="x" * 1_000_000)) == [("buyer", TEXT_LENGTH.name)]


def test_multi_line_notes_keep_line_breaks() -> None:
    assert clean_text("一\r\n二\r三\n", 4000, multi_line=True) == "一\n二\n三"
    with pytest.raises(PydanticCustomError) as caught:
        clean_text("一\x00二", 4000, multi_line=True)
    assert caught.value.type == TEXT_NO_CONTROL_CHARACTERS.name


@pytest.mark.parametrize("payment_id", ["", "-P", "P 1", "AW-R1-inventor:张三", "x" * 65, "P\x001"])
def test_client_identifiers_follow_the_documented_pattern(payment_id: str) -> None:
    assert _errors(RecordPayment, _payment(payment_id=payment_id)) == [("payment_id", IDENTIFIER_FORMAT.name)]


@pytest.mark.parametrize("payment_id", ["P1", "2025/INV-0001", "bank:TX#98765", "a" * 64])
def test_client_identifiers_accepted(payment_id: str) -> None:
    assert _errors(RecordPayment, _payment(payment_id=payment_id)) == []


def _achievement(**fields: Any) -> dict[str, Any]:
    return {"title": "一种传感器", "ip_type": "invention_patent", "technology_field": "electronic_information",
            "owners": [{"institution_id": CONTRACT, "share": "100"}],
            "inventors": [{"name": "张三", "share": 100}], "registered_on": "2024-01-02", **fields}


def test_official_numbers_keep_any_script_but_no_stray_characters() -> None:
    assert _errors(RegisterAchievement, _achievement(official_number="ZL 202310123456.7")) == []
    assert _errors(RegisterAchievement, _achievement(official_number="沪技交挂（2024）001")) == []
    assert _errors(RegisterAchievement, _achievement(official_number="ZL;DROP")) == [
        ("official_number", OFFICIAL_NUMBER_FORMAT.name)]


@pytest.mark.parametrize("share", [True, "abc", "NaN", "Infinity", -1, "100.5", "0.1234567"])
def test_percentages_are_finite_decimals_from_0_to_100(share: Any) -> None:
    errors = _errors(RegisterAchievement, _achievement(inventors=[{"name": "张三", "share": share}]))
    assert errors == [("inventors.0.share", PERCENT_IN_RANGE.name)]


def test_percentages_from_json_numbers_are_exact() -> None:
    model = RegisterAchievement.model_validate_json(json.dumps(_achievement(
        inventors=[{"name": "张三", "share": 33.3}, {"name": "李四", "share": "66.7"}])), strict=True)
    assert [i.share for i in model.inventors] == [Decimal("33.3"), Decimal("66.7")]


def test_lists_are_bounded() -> None:
    many = [{"name": f"人{i}", "share": 1} for i in range(101)]
    assert _errors(RegisterAchievement, _achievement(inventors=many)) == [("inventors", "too_long")]
    from api.problems import _validation_rule

    assert _validation_rule("too_long") == LIST_LENGTH.name


def test_policy_keys_and_tiers_are_typed() -> None:
    body = {"institution_id": CONTRACT, "version_label": "2024", "effective_from": "2024-01-01",
            "cash_split": {"inventor_team": 70, "institution\x00": 30}, "equity_split": {"inventor_team": "70"},
            "tiers": [["1000", {"inventor_team": 80}]]}
    assert sorted(_errors(AdoptDistributionPolicy, body)) == sorted([
        ("cash_split.institution\x00.[key]", TEXT_NO_CONTROL_CHARACTERS.name),
        ("tiers.0.0", MONEY_WHOLE_FEN.name),
    ])


def test_region_codes_are_gb_t_2260() -> None:
    body = {"name": "某大学", "kind": "university", "region": "990000", "registered_on": "2024-01-01"}
    assert _errors(RegisterInstitution, body) == [("region", REGION_CODE_FORMAT.name)]
    assert _errors(RegisterInstitution, body | {"region": "610000", "city": "6101"}) == [
        ("city", REGION_CODE_FORMAT.name)]
    assert _errors(RegisterInstitution, body | {"region": "610000"}) == []


def test_currency_codes_are_three_capitals() -> None:
    from ledger.commands.achievement import RecordValuation

    body = {"achievement_id": CONTRACT, "method": "market", "amount_fen": 100, "valued_on": "2024-01-02",
            "currency": "cny"}
    assert _errors(RecordValuation, body) == [("currency", CURRENCY_CODE_FORMAT.name)]


def test_due_dates_keyed_by_due_item() -> None:
    body = {"contract_id": CONTRACT, "new_due_dates": {"installment-1": "2025-01-01"}, "approver": "王五",
            "reason": "资金周转\n经校务会同意", "decided_on": "2024-12-01"}
    assert _errors(DeferDueItems, body) == []
    assert _errors(DeferDueItems, body | {"approver": "王\n五"}) == [("approver", TEXT_NO_CONTROL_CHARACTERS.name)]


def test_the_date_range_is_documented() -> None:
    from domain.inputs import FIRST_DATE, LAST_DATE, check_date_range

    assert check_date_range(FIRST_DATE) and check_date_range(LAST_DATE)
    assert not check_date_range(date(1899, 12, 31)) and not check_date_range(date(2200, 1, 1))
    assert DATE_IN_RANGE.name == "date_in_range"
