"""The history of one record: each of its events with who recorded it and when.

Reads the stream's events (position, version, topic, recorded_at, metadata)
and names each actor: a user by ``users.display_name``, a token by
``api_tokens.name``, the system by its job, an institution by its name from
the projections. Names are looked up when shown, never stored with events
(ledger/actor.py), so the history a regulator reads (``for_regulator``) keeps
the actor's role and institution and drops every person: ids and names.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from ledger.actor import Actor


def event_name(topic: str) -> str:
    """``domain.contract:TechnologyContract.PaymentReceived`` → ``PaymentReceived``."""
    return topic.rsplit(".", 1)[-1].rsplit(":", 1)[-1]


async def actor_names(conn: asyncpg.Pool | asyncpg.Connection, actors: list[Actor]) -> dict[UUID, str]:
    """Display names of the users and tokens among ``actors`` (those that still exist)."""
    users = sorted({a.id for a in actors if a.kind == "user" and a.id is not None}, key=str)
    tokens = sorted({a.id for a in actors if a.kind == "token" and a.id is not None}, key=str)
    names: dict[UUID, str] = {}
    if users and await conn.fetchval("SELECT to_regclass('users') IS NOT NULL"):
        for row in await conn.fetch("SELECT id, display_name FROM users WHERE id = ANY($1::uuid[])", users):
            names[row["id"]] = row["display_name"]
    if tokens:
        for row in await conn.fetch("SELECT id, name FROM api_tokens WHERE id = ANY($1::uuid[])", tokens):
            names[row["id"]] = row["name"]
    return names


async def institution_names(conn: asyncpg.Pool | asyncpg.Connection, ids: list[UUID]) -> dict[UUID, str]:
    if not ids or not await conn.fetchval("SELECT to_regclass('ct_institutions') IS NOT NULL"):
        return {}
    rows = await conn.fetch("SELECT institution_id, name FROM ct_institutions WHERE institution_id = ANY($1::uuid[])",
                            sorted(set(ids), key=str))
    return {r["institution_id"]: r["name"] for r in rows}


def recorded_by(actor: Actor | None, names: dict[UUID, str], institutions: dict[UUID, str], *,
                for_regulator: bool) -> dict[str, Any] | None:
    """The actor as shown: kind, role, institution (id and name), and, unless for a regulator, who."""
    if actor is None:
        return None
    shown: dict[str, Any] = {
        "kind": actor.kind, "role": actor.role,
        "institution_id": str(actor.institution_id) if actor.institution_id else None,
        "institution_name": institutions.get(actor.institution_id) if actor.institution_id else None,
        "via": actor.via,
    }
    if actor.kind == "system":
        shown["name"] = actor.name
        shown["label"] = f"系统 system ({actor.name})"
    elif for_regulator:
        # A regulator sees the role and the institution that recorded, never the person.
        shown["name"] = None
        role = actor.role or ""
        shown["label"] = f"{role} · {shown['institution_name'] or '—'}"
    else:
        shown["id"] = str(actor.id) if actor.id else None
        shown["token_id"] = str(actor.token_id) if actor.token_id else None
        shown["name"] = names.get(actor.id) if actor.id else None
        shown["request_id"] = actor.request_id
        if actor.import_job is not None:
            shown["import_job"], shown["import_row"] = actor.import_job, actor.import_row
        shown["label"] = shown["name"] or (str(actor.id) if actor.id else actor.kind)
    return shown


async def record_history(pool: asyncpg.Pool, stream_id: UUID, *, for_regulator: bool,
                         limit: int = 1000) -> list[dict[str, Any]]:
    """The record's events, oldest first, each with ``recorded_at`` and ``recorded_by``."""
    rows = await pool.fetch(
        "SELECT position, version, topic, recorded_at, metadata FROM events WHERE stream_id = $1 "
        "ORDER BY version LIMIT $2", stream_id, limit)
    actors = [Actor.from_metadata(r["metadata"]) for r in rows]
    present = [a for a in actors if a is not None]
    names = {} if for_regulator else await actor_names(pool, present)
    institutions = await institution_names(pool, [a.institution_id for a in present if a.institution_id])
    return [
        {"position": r["position"], "version": r["version"], "event": event_name(r["topic"]),
         "recorded_at": r["recorded_at"], "recorded_by": recorded_by(a, names, institutions,
                                                                     for_regulator=for_regulator)}
        for r, a in zip(rows, actors, strict=True)
    ]
