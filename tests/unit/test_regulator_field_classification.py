"""Every field a regulator can read is classified public, pseudonymised or dropped (api/redaction.py).

The walk starts at the response model of every route a regulator's token may
call and follows nested models, dataclasses, lists and dicts. A text field
without a classification fails here, so a field added later cannot reach a
regulator unclassified (at run time it would be dropped, never shown).
Then the mechanism itself: pseudonym shapes, stability within an answer,
generated text with typed parts, and fail-closed defaults.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter

from api.app import ROUTE_MODULES
from api.redaction import (
    ACCOUNT,
    ADJUSTMENT,
    DROPPED,
    DUE_ITEM_ID,
    DUE_ITEM_LABEL,
    FIELD_RULES,
    FIGURE_KEYS,
    OFFICIAL_NUMBER,
    PSEUDONYM_PATTERN,
    REDACTED,
    TEAM_KEY,
    TEAM_NAME,
    Category,
    Keyed,
    RegulatorView,
    holds_records,
    holds_text,
    is_record,
    nullable,
    qualified_name,
    record_fields,
    rule_of,
)
from api.routing import RouteRegistry, RouteSpec
from ledger.tokens import Role

PSEUDONYM = re.compile(PSEUDONYM_PATTERN)
SHORT = re.compile(r"p-[0-9a-f]{8}")


def regulator_routes() -> list[RouteSpec]:
    registry = RouteRegistry()
    for module in ROUTE_MODULES:
        registry.include(module)
    return [s for s in registry.routes if s.roles is not None and Role.REGULATOR in s.roles]


def reachable(tp: Any, found: dict[type, None] | None = None) -> dict[type, None]:
    """Every record class a value of ``tp`` can hold, depth first, in order."""
    found = {} if found is None else found
    origin = typing.get_origin(tp)
    if origin is not None:
        for arg in typing.get_args(tp):
            if arg is not Ellipsis and not isinstance(arg, str | int):
                reachable(arg, found)
        return found
    if is_record(tp) and tp not in found:
        found[tp] = None
        for annotation in record_fields(tp).values():
            reachable(annotation, found)
    return found


def regulator_records() -> dict[type, None]:
    found: dict[type, None] = {}
    for spec in regulator_routes():
        reachable(spec.response, found)
    return found


def test_every_regulator_route_answers_through_a_declared_model() -> None:
    """The render path redacts what a route declares; a route without a model would bypass it."""
    routes = regulator_routes()
    assert len(routes) >= 20
    assert [f"{s.method} {s.path}" for s in routes if s.response is None] == []
    # Regulators read; they write only to their own account (password, second factor, tokens).
    assert all(s.method in ("GET", "HEAD") or s.account for s in routes)


def test_every_text_field_a_regulator_reads_is_classified() -> None:
    records = regulator_records()
    assert len(records) > 50  # views, domain value objects, statistics
    missing = [f"{qualified_name(cls)}.{name}: {annotation}"
               for cls in records for name, annotation in record_fields(cls).items()
               if holds_text(annotation) and rule_of(cls, name) is None]
    assert missing == [], "classify these in api/redaction.py FIELD_RULES:\n" + "\n".join(missing)


def test_every_declared_rule_names_a_field_a_regulator_reads() -> None:
    """No stale entry: a renamed class or field shows up here, not as a silent gap."""
    records = {qualified_name(cls): cls for cls in regulator_records()}
    stale = [f"{owner}.{name}" for owner, fields in FIELD_RULES.items() for name in fields
             if owner not in records or name not in record_fields(records[owner])]
    assert stale == []


def test_rules_fit_their_fields() -> None:
    for cls in regulator_records():
        for name, annotation in record_fields(cls).items():
            rule = rule_of(cls, name)
            if rule is None:
                continue
            where = f"{qualified_name(cls)}.{name}"
            assert holds_text(annotation), f"{where} holds no text: it needs no rule"
            if holds_records(annotation):  # the records inside are classified themselves
                assert isinstance(rule, Keyed) and rule.values is None, where


def test_only_figures_are_free_shaped() -> None:
    """A model with free keys is classified by key (FIGURE_KEYS); only the statistics' Figures is one."""
    free = [qualified_name(cls) for cls in regulator_records()
            if issubclass(cls, BaseModel) and cls.model_config.get("extra") == "allow"]
    assert free == ["api.routes.statistics.Figures"]


def test_the_classification_covers_the_findings_of_issue_21() -> None:
    """Typed ids, references, labels and notes are pseudonymised or dropped; names are #n."""
    expected = {
        "api.routes.distribution.PaymentView.payment_id": Category.pseudonymised,
        "api.routes.distribution.DistributionView.receipt_id": Category.pseudonymised,
        "api.routes.contracts.ReceiptView.receipt_id": Category.pseudonymised,
        "api.routes.contracts.CreditView.credit_id": Category.pseudonymised,
        "domain.award.AwardNotice.notice_id": Category.pseudonymised,
        "domain.allocation.Deduction.reference": Category.pseudonymised,
        "domain.allocation.Deduction.description": Category.dropped,
        "domain.equity.DecisionRecord.decision_makers": Category.pseudonymised,
        "api.routes.ledger_queries.JournalEntryView.description": Category.dropped,
        "api.routes.achievements.InventorView.person_id": Category.dropped,
        "api.routes.distribution.LineView.inventor": Category.pseudonymised,
        "api.routes.institutions.InstitutionView.name": Category.public,
        "api.routes.achievements.AchievementView.title": Category.public,
    }
    for path, category in expected.items():
        owner, name = path.rsplit(".", 1)
        assert FIELD_RULES[owner][name].category is category, path
    assert FIGURE_KEYS["receipt_id"].category is Category.pseudonymised
    assert FIGURE_KEYS["inventor"].category is Category.dropped


def test_types_that_hold_no_text_are_public_by_type() -> None:
    assert not holds_text(int) and not holds_text(date | None) and not holds_text(dict[int, int])
    assert not holds_text(typing.Literal["ok"]) and not holds_text(Category)
    assert holds_text(str) and holds_text(list[str]) and holds_text(dict[str, date]) and holds_text(Any)
    assert holds_text(str | None) and nullable(str | None) and not nullable(str)


# ---- the mechanism ------------------------------------------------------------------------------------


KEY = b"k" * 32


def test_pseudonyms_are_short_keyed_and_stable_within_an_answer() -> None:
    view = RegulatorView(KEY, "/v1/distributions/1")
    first = view.pseudonym("AW-P1-inventor:zhangsan")
    assert SHORT.fullmatch(first)
    assert view.pseudonym("AW-P1-inventor:zhangsan") == first
    assert view.pseudonym("AW-P1-inventor:lisi") != first
    # The same answer again (another request, after a restart): the same pseudonym.
    assert RegulatorView(KEY, "/v1/distributions/1").pseudonym("AW-P1-inventor:zhangsan") == first
    # Another answer, or another key: another pseudonym, so answers cannot be joined on it.
    assert RegulatorView(KEY, "/v1/distributions/2").pseudonym("AW-P1-inventor:zhangsan") != first
    assert RegulatorView(b"x" * 32, "/v1/distributions/1").pseudonym("AW-P1-inventor:zhangsan") != first


def test_two_values_sharing_32_bits_get_longer_pseudonyms() -> None:
    view = RegulatorView(KEY, "/v1/x")
    seen: dict[str, str] = {}
    for n in range(400_000):
        text = f"id-{n}"
        short = RegulatorView(KEY, "/v1/x").pseudonym(text)
        if short in seen:
            a, b = view.pseudonym(seen[short]), view.pseudonym(text)
            assert a == short and len(b) == 2 + 16 and b.startswith(short) and PSEUDONYM.fullmatch(b)
            assert view.pseudonym(text) == b and view.pseudonym(seen[short]) == a
            return
        seen[short] = text
    pytest.fail("no collision of 32 bits among 400,000 values")  # pragma: no cover - p < 1e-8


def test_generated_text_keeps_its_generated_part() -> None:
    view = RegulatorView(KEY, "/v1/contracts/1")
    name = view.pseudonym("量产")
    assert DUE_ITEM_ID.apply(view, None, "installment-2", False) == "installment-2"
    assert DUE_ITEM_ID.apply(view, None, "milestone-量产", False) == f"milestone-{name}"
    assert DUE_ITEM_LABEL.apply(view, None, "里程碑 量产", False) == f"里程碑 {name}"
    assert DUE_ITEM_LABEL.apply(view, None, "分期 installment 2/3", False) == "分期 installment 2/3"
    assert ADJUSTMENT.apply(view, None, ["deduction:TAX-1"], False) == [f"deduction:{view.pseudonym('TAX-1')}"]
    uuid = "7abf40da-a013-5601-9022-765cc6c3bac3"
    for account in ("cash", f"receivable:{uuid}", f"distribution:self:{uuid}", "distribution_payable:inventor:*",
                    "transaction_costs:tax"):
        assert ACCOUNT.apply(view, None, account, False) == account
    assert SHORT.fullmatch(ACCOUNT.apply(view, None, "distribution_payable:inventor:张三", False))
    # Anything in no generated form is pseudonymised whole.
    assert SHORT.fullmatch(DUE_ITEM_ID.apply(view, None, "张三的款项", False))
    # Numbers an authority issued stay; a name typed into one does not.
    for number in ("ZL202210000001.X", "2024110000000001", "CTEX-2023-0101", "2023SR0000005", "CNA202200011.8",
                   "91320594MA1NPQ8K3T"):
        assert OFFICIAL_NUMBER.apply(view, None, number, False) == number
    for typed in ("张三", "zhangsan-2024", "ZL 张三 2022"):
        assert SHORT.fullmatch(OFFICIAL_NUMBER.apply(view, None, typed, False))


def test_names_the_view_did_not_number_are_pseudonymised() -> None:
    view = RegulatorView(KEY, "/v1/distributions/1")
    assert TEAM_NAME.apply(view, None, "#2", False) == "#2"
    assert SHORT.fullmatch(TEAM_NAME.apply(view, None, "张三", False))
    assert TEAM_KEY.apply(view, None, ["inventor:#1", "department", "inventor:张三"], False)[:2] == [
        "inventor:#1", "department"]
    assert DROPPED.apply(view, None, "价格过低", False) == REDACTED
    assert DROPPED.apply(view, None, "价格过低", True) is None


class Unknown(BaseModel):
    """A model nobody classified: its text is dropped at run time (and the walk test would fail)."""

    id: int
    note: str
    maybe: str | None


@dataclasses.dataclass(frozen=True)
class Row:
    reference: str
    amount_fen: int


class Holder(BaseModel):
    rows: list[Row]
    by_key: dict[str, Row]
    unknown: Unknown


def test_an_unclassified_field_is_dropped_not_shown() -> None:
    value = Holder(rows=[Row("TAX-zhangsan", 5)], by_key={"k": Row("REF-lisi", 6)},
                   unknown=Unknown(id=1, note="张三", maybe="李四"))
    view = RegulatorView(KEY, "/v1/test")
    data = view.data(TypeAdapter(Holder), value)
    assert data["unknown"] == {"id": 1, "note": REDACTED, "maybe": None}
    assert data["rows"] == [{"reference": REDACTED, "amount_fen": 5}]
    assert data["by_key"] == {view.pseudonym("k"): {"reference": REDACTED, "amount_fen": 6}}
    assert sorted(set(view.unclassified)) == [f"{qualified_name(Holder)}.by_key",
                                             f"{qualified_name(Row)}.reference",
                                             f"{qualified_name(Unknown)}.maybe",
                                             f"{qualified_name(Unknown)}.note"]
    assert view.applied


class Free(BaseModel):
    model_config = ConfigDict(extra="allow")


def test_figures_are_classified_by_key_and_unknown_text_is_dropped() -> None:
    uuid = "7abf40da-a013-5601-9022-765cc6c3bac3"
    figures = {
        "figure": "distribution_audit", "rows": [{"institution_id": uuid, "paid_fen": 5, "rate": "12.50",
                                                 "inventor": "张三", "on": "2024-01-01"}],
        "floor_breaches": {"allocations": [{"receipt_id": "RC-wangwu", "net_fen": 1}],
                           "policies": [{"version_label": "V-wangwu", "findings": ["national: ≥ 50%"]}]},
        "institution_names": {uuid: "北京示范大学"},
        "surprise": "王五", "by": {"张三": 1},
    }
    view = RegulatorView(KEY, "/v1/statistics/distribution-audit")
    shown = view.figures(figures)
    assert shown["rows"] == [{"institution_id": uuid, "paid_fen": 5, "rate": "12.50", "inventor": None,
                              "on": "2024-01-01"}]
    assert shown["floor_breaches"]["allocations"][0]["receipt_id"] == view.pseudonym("RC-wangwu")
    assert shown["floor_breaches"]["policies"][0] == {"version_label": view.pseudonym("V-wangwu"),
                                                      "findings": ["national: ≥ 50%"]}
    assert shown["institution_names"] == {uuid: "北京示范大学"} and shown["surprise"] is None
    assert shown["by"] == {view.pseudonym("张三"): 1}
    assert set(view.unclassified) == {"surprise", "by.<key>"}
    # The same through a free-shaped model on the render path.
    rendered = RegulatorView(KEY, "/v1/statistics/distribution-audit").data(
        TypeAdapter(Free), Free.model_validate(figures))
    assert rendered == shown
