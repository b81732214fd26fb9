"""Shared enums: stable snake-case codes, registered for events, each with a Chinese label."""

from __future__ import annotations

import re
from enum import StrEnum

from domain import enums
from domain.serialisable import ENUMS

DECLARED = [
    value
    for value in vars(enums).values()
    if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
]


def test_every_enum_is_registered_and_documented() -> None:
    assert len(DECLARED) == 10
    for cls in DECLARED:
        assert cls in ENUMS, cls
        assert cls.__doc__ and re.search(r"[\u4e00-\u9fff]", cls.__doc__), cls


def test_values_are_their_snake_case_names() -> None:
    for cls in DECLARED:
        for member in cls:
            assert member.value == member.name
            assert re.fullmatch(r"[a-z]+(_[a-z]+)*", member.value), member


def test_every_member_has_a_chinese_label() -> None:
    assert set(enums.CHINESE_LABELS) == set(DECLARED)
    for cls in DECLARED:
        assert set(enums.CHINESE_LABELS[cls]) == {m.value for m in cls}, cls
        assert all(label.strip() for label in enums.CHINESE_LABELS[cls].values()), cls
    assert enums.chinese_label(enums.TechnologyField.other) == "其他"
    assert enums.chinese_label(enums.IpType.invention_patent) == "发明专利"
    assert enums.chinese_label(enums.LicenceType.sole) == "排他许可"
