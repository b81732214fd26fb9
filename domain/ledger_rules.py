"""Rules that the write side enforces across aggregates or in storage.

Declared here, in the domain, so that the rule catalogue (docs/rules.md)
lists every error code a client can meet, wherever it is checked.
"""

from __future__ import annotations

from domain.errors import rule

G = "ledger"

ENTRY_BALANCED = rule(
    "entry_balanced",
    "Every journal entry's debits equal its credits, in one institution and one currency; the "
    "database refuses an unbalanced entry too.",
    source="ARCHITECTURE.md decision 7",
    group=G,
)
REFERENCED_RECORD_EXISTS = rule(
    "referenced_record_exists",
    "A command that names another record (an owner institution, an exchange, an achievement, a "
    "contract) names one that is registered and of the right kind.",
    group=G,
)
STREAM_VERSION_IS_CURRENT = rule(
    "stream_version_is_current",
    "A command writes on the version of a record it read; if the record moved on meanwhile, the "
    "command is refused (HTTP 409) and nothing is written.",
    group=G,
)
IDEMPOTENCY_KEY_REUSE = rule(
    "idempotency_key_reuse",
    "An idempotency key is used for one request only: a retry with the same payload returns the "
    "first result and writes nothing; the same key with another payload is refused.",
    group=G,
)
PAYLOAD_STORABLE = rule(
    "payload_storable",
    "The store writes no event that the database or the read side cannot hold: no NUL character "
    "(U+0000), no lone surrogate, no bytes that are not UTF-8, no integer outside the signed "
    "64-bit range, no number that is not finite. The whole command is refused (HTTP 422) and nothing is "
    "written, whichever command produced the event.",
    group=G,
)
