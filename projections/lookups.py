"""Institution attributes that several projections copy onto their own rows.

Each projection owns its copy of the institution table (``<prefix>_institutions``)
so that it can be rebuilt alone and still copy onto a contract the attributes
an institution had *when the contract was drafted*, in log order, whatever
another projection's position.
"""

from __future__ import annotations

from typing import Any

from domain.institution import Institution
from projections.base import Row, Rows, TableSpec, cols, topic

INSTITUTION_REGISTERED = topic(Institution, "Registered")
INSTITUTION_RENAMED = topic(Institution, "Renamed")
INSTITUTION_SIZE_SET = topic(Institution, "SizeSet")
INSTITUTION_RULE_PACK_CHANGED = topic(Institution, "RulePackChanged")
INSTITUTION_TOPICS = frozenset(
    {INSTITUTION_REGISTERED, INSTITUTION_RENAMED, INSTITUTION_SIZE_SET, INSTITUTION_RULE_PACK_CHANGED}
)


def text(value: Any) -> str | None:
    """Enum members and other values as plain text for a text column."""
    return None if value is None else str(value)


def institution_spec(name: str, indexes: tuple[str, ...] = (), *, versioned: bool = False) -> TableSpec:
    return TableSpec(
        name,
        cols(
            "institution_id uuid, name text, kind text, size text, public boolean, region text, "
            "city text, rule_pack text, registered_on date"
        ),
        ("institution_id",),
        indexes,
        versioned=versioned,
    )


def apply_institution_event(table: Rows, topic_: str, event: Any) -> None:
    if topic_ == INSTITUTION_REGISTERED:
        table.add(
            table.spec.blank(
                institution_id=event.originator_id,
                name=event.name,
                kind=text(event.kind),
                size=text(event.size),
                public=bool(event.public),
                region=event.region,
                city=event.city,
                rule_pack=text(event.rule_pack),
                registered_on=event.registered_on,
            )
        )
        return
    row = table.get(event.originator_id)
    if row is None:  # pragma: no cover - an institution event always follows its registration
        return
    if topic_ == INSTITUTION_RENAMED:
        row["name"] = event.name
    elif topic_ == INSTITUTION_SIZE_SET:
        row["size"] = text(event.size)
    elif topic_ == INSTITUTION_RULE_PACK_CHANGED:
        row["rule_pack"] = text(event.rule_pack)
    table.touch(row)


def attrs(table: Rows, institution_id: Any) -> Row:
    """The institution's row, or an empty one when it is unknown to the ledger."""
    return table.get(institution_id) or {}
