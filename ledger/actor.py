"""Who recorded an event: the actor stored beside every event and covered by the hash chain.

"Who recorded this payment, and who approved this distribution?" is the first
question of an audit. Each commit carries one :class:`Actor` (the command's
issuer): a signed-in user, an API token (a machine, or a user's personal
token), or the system (CLI work, the demo). It is stored as canonical JSON in
``events.metadata`` (the same bytes on every event of the commit), with its
id in ``events.actor_id`` for filtering, and ``chain_hash`` covers the bytes.
Events written before actors existed have no metadata and keep their hash.

The actor names ids, never a person's name: the name is looked up when shown
(``users.display_name``, ``api_tokens.name``), so a regulator, who sees role
and institution only, never receives it with the event. A bulk import adds
its job and the row.

The current actor is a context variable: the API sets it per request after
authentication (api/routing.py), the CLI at start; ``UnitOfWork.commit``
reads it. Tasks copy the context they were created in, so a command run for a
request carries that request's actor even when the store's group commit
writes it from another task.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

ACTOR_KINDS = ("user", "token", "system")
METADATA_VERSION = 1


@dataclass(frozen=True)
class Actor:
    """The issuer of a command.

    ``kind`` is ``user`` (a person: signed in, or through a personal token, ``token_id`` then
    says which), ``token`` (a machine token) or ``system``. ``id`` is the user's or the token's id
    (``None`` for the system, whose ``name`` says which job: ``cli:demo``, ``cli:import``).
    """

    kind: str
    id: UUID | None = None
    role: str | None = None
    institution_id: UUID | None = None
    token_id: UUID | None = None
    via: str | None = None
    """``session`` or ``token`` for a person."""
    name: str | None = None
    """Only for the system: the job. A person's name is never stored with the event."""
    request_id: str | None = None
    import_job: str | None = None
    import_row: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"actor kind {self.kind!r} is not one of {ACTOR_KINDS}")

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls("system", name=name)

    def for_row(self, job: str, row: int) -> Actor:
        """This actor, recording row ``row`` of import job ``job``."""
        return replace(self, import_job=job, import_row=row)

    def to_json(self) -> dict[str, Any]:
        actor: dict[str, Any] = {"kind": self.kind}
        for key in ("id", "role", "institution_id", "token_id", "via", "name"):
            value = getattr(self, key)
            if value is not None:
                actor[key] = str(value)
        doc: dict[str, Any] = {"v": METADATA_VERSION, "actor": actor}
        if self.request_id is not None:
            doc["request_id"] = self.request_id
        if self.import_job is not None:
            doc["import"] = {"job": self.import_job, "row": self.import_row}
        return doc

    def metadata(self) -> bytes:
        """The canonical bytes stored and hashed: sorted keys, no spaces, UTF-8."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_metadata(cls, raw: bytes | None) -> Actor | None:
        """The actor stored with an event (``None`` for an event from before actors)."""
        if raw is None:
            return None
        doc = json.loads(bytes(raw).decode("utf-8"))
        actor = doc.get("actor") or {}
        imported = doc.get("import") or {}

        def uuid_of(key: str) -> UUID | None:
            value = actor.get(key)
            return UUID(value) if value else None

        return cls(
            kind=actor.get("kind", "system"), id=uuid_of("id"), role=actor.get("role"),
            institution_id=uuid_of("institution_id"), token_id=uuid_of("token_id"), via=actor.get("via"),
            name=actor.get("name"), request_id=doc.get("request_id"), import_job=imported.get("job"),
            import_row=imported.get("row"),
        )


DEFAULT_ACTOR = Actor.system("ttledger")
"""Code that records without saying who (a test calling the bus directly)."""

current_actor: ContextVar[Actor] = ContextVar("ttledger_actor", default=DEFAULT_ACTOR)


def actor_of_principal(principal: Any, request_id: str | None = None) -> Actor:
    """The actor of an authenticated API request (``ledger.tokens.Principal``)."""
    user_id = getattr(principal, "user_id", None)
    role = principal.role.value if hasattr(principal.role, "value") else str(principal.role)
    if user_id is not None:
        via = getattr(principal, "via", "token")
        return Actor("user", id=user_id, role=role, institution_id=principal.institution_id,
                     token_id=principal.token_id if via == "token" else None, via=via, request_id=request_id)
    return Actor("token", id=principal.token_id, role=role, institution_id=principal.institution_id,
                 token_id=principal.token_id, via="token", request_id=request_id)
