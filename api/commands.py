"""Every command of ``ledger.commands`` as a POST route, declared in one line each.

:func:`command_route` turns a command model into a route:

* the JSON body is the command, except the id of the record the path names
  (``/v1/contracts/{contract_id}/payments`` fills ``contract_id``), so a 422
  names fields exactly as the body spells them;
* ``Idempotency-Key`` is accepted on every write. Keys are kept per tenant
  (the admins share one space; each institution and each exchange has its
  own), so two clients choosing the same key never collide or learn of each
  other;
* ``If-Match`` is accepted on commands to an existing record: the record's
  version is checked inside the command's unit of work, and the commit is
  conditioned on it and on every record the command read (found or absent),
  so a race after that check is reported (409), never retried, and nothing
  is written;
* the tenancy check of the route (``api/tenancy.py``) runs inside the same
  unit of work, on the records the command loads anyway, so it costs no
  extra read and a refused command writes nothing;
* the answer is :class:`Written` (``id``, ``version``, the log ``position``
  and what the command reports), with ``ETag``, ``X-Log-Position`` and, for
  creations, ``201`` and ``Location``. A retry with the same key gets the
  same status and body, with ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from pydantic import BaseModel, ConfigDict, Field, create_model

from api.routing import Call, Reply, RouteRegistry, ensure_version, etag
from ledger.commands import HANDLERS, Command
from ledger.tokens import Principal, Role
from ledger.unit_of_work import UnitOfWork

POSITION_HEADER = "X-Log-Position"
REPLAYED_HEADER = "Idempotent-Replayed"


# ---- answers ------------------------------------------------------------------------


class Written(BaseModel):
    """What a write returns: the record written, its new version and the log position."""

    model_config = ConfigDict(extra="allow")

    id: UUID = Field(description="The record the command created or changed.")
    version: int = Field(description="Its version after the command (send it back in `If-Match`).")
    position: int = Field(
        description="Global log position after the command: pass it as `min_position` to read your write."
    )


class ContractMoneyWritten(Written):
    outstanding_fen: int = Field(description="What is outstanding on the contract after the command, in fen.")


class CreditAppliedWritten(ContractMoneyWritten):
    receipt_id: str = Field(description="The income receipt the credit applied became (`credit-<n>`): "
                            "allocate it with `POST /v1/distributions`.")


class HoldingWritten(Written):
    shares_held: int = Field(description="Shares the institution holds after the command.")


class PolicyAdopted(Written):
    pack: str = Field(description="The rule pack (and its version) the policy was checked against.")
    below_floor: bool = Field(description="The policy gives the inventor team less than the pack's floor.")


class DeductionRecorded(Written):
    """``id`` is the income book of the subject (contract or achievement) and institution."""

    adjusted_distribution_id: UUID | None = Field(
        default=None, description="The distribution a late deduction adjusted, if any."
    )


class ReceiptAllocated(Written):
    net_fen: int = Field(description="Net income of the receipt, in fen.")
    lines: dict[str, int] = Field(description="Fen allocated to each line (beneficiary or `inventor:<name>`).")


class AwardPaid(Written):
    unpaid_fen: int = Field(description="What is still unpaid on the line after this payment, in fen.")


class DeductionReversed(Written):
    """``id`` is the income book of the subject (contract or achievement) and institution."""

    adjusted_distribution_id: UUID | None = Field(
        default=None, description="The distribution that had used the deduction and was adjusted, if any."
    )
    delta_fen: int | None = Field(
        default=None, description="What the reversal added to that distribution's net income, in fen."
    )


class RecoveryWritten(Written):
    outstanding_fen: int = Field(description="What is still to recover on the line after the command, in fen.")
    against_unpaid_fen: int | None = Field(
        default=None, description="For an offset: what is still unpaid on the later award's line, in fen."
    )


class SharesAwardedByPolicy(Written):
    awarded: dict[str, int] = Field(description="Shares awarded to each inventor.")
    team_percent: Decimal
    floor_percent: Decimal


class SelfImplementationAwarded(Written):
    award_fen: int
    lines: dict[str, int] = Field(description="Fen of the award to each inventor.")


# ---- declaring command routes ------------------------------------------------------------

ScopeCheck = Callable[[Principal, UnitOfWork, Any, Any], Awaitable[None]]
"""``(who, uow, command, target)``: raise to refuse; run for every role but admin."""
PreCheck = Callable[[Principal, Any], None]
"""``(who, command)``: a check on the body alone, before anything is read."""
VersionOf = Callable[[UnitOfWork, Any, Any], Awaitable[tuple[UUID, int]]]
"""``(uow, command, target)`` → the stream and version ``If-Match`` is compared with."""


@dataclass(frozen=True)
class PathTarget:
    """The existing record a route's path names: its parameter (also the command's field) and class."""

    param: str
    cls: type[Aggregate]
    version_of: VersionOf | None = None


async def _own_version(uow: UnitOfWork, command: Any, target: Any) -> tuple[UUID, int]:
    return target.id, target.version


_PATH_MODELS: dict[str, type[BaseModel]] = {}
_BODY_MODELS: dict[tuple[type[Command], str], type[BaseModel]] = {}


def path_model(param: str) -> type[BaseModel]:
    """The path model of a route whose path names one record by a UUID ``param``."""
    model = _PATH_MODELS.get(param)
    if model is None:
        name = "".join(part.title() for part in param.removesuffix("_id").split("_")) + "Path"
        fields: dict[str, Any] = {param: (UUID, Field(description="Record id."))}
        model = create_model(name, __module__=__name__, **fields)
        _PATH_MODELS[param] = model
    return model


def body_model(command: type[Command], without: str) -> type[BaseModel]:
    """The command without the field the path fills: the body clients send."""
    key = (command, without)
    model = _BODY_MODELS.get(key)
    if model is None:
        fields: dict[str, Any] = {
            name: (info.annotation, info) for name, info in command.model_fields.items() if name != without
        }
        model = create_model(  # type: ignore[call-overload]
            command.__name__, __base__=Command, __module__=__name__, __doc__=command.__doc__, **fields
        )
        _BODY_MODELS[key] = model
    return model  # type: ignore[no-any-return]


def operation_id(command: type[Command]) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", command.__name__).lower()


def tenant_key(who: Principal, key: str | None) -> str | None:
    """The idempotency key as stored: scoped to the tenant that sent it."""
    if key is None:
        return None
    tenant = "*" if who.role is Role.ADMIN else f"{who.role.value}:{who.institution_id}"
    return f"{tenant}|{key}"


@dataclass(frozen=True)
class CommandGuard:
    """What a command's route checks before it runs (roles, the body alone, tenancy on its record):
    kept per command so that a bulk import over the API applies exactly the same checks per row."""

    roles: frozenset[Role]
    target: PathTarget | None
    scope: ScopeCheck | None
    precheck: PreCheck | None

    async def check(self, who: Principal, uow: UnitOfWork, command: Any) -> None:
        if who.role is Role.ADMIN:
            return
        if who.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise PermissionError(f"role {who.role.value} may not issue {type(command).__name__}; allowed: {allowed}")
        if self.precheck is not None:
            self.precheck(who, command)
        record = await uow.get(self.target.cls, getattr(command, self.target.param)) if self.target else None
        if self.scope is not None:
            await self.scope(who, uow, command, record)


GUARDS: dict[type[Command], CommandGuard] = {}
"""The checks of each command's route (``command_route``), for the bulk import (api/routes/imports.py)."""


def command_route(
    routes: RouteRegistry,
    path: str,
    command: type[Command],
    *,
    roles: Iterable[Role],
    summary: str,
    tags: Iterable[str],
    target: PathTarget | None = None,
    scope: ScopeCheck | None = None,
    precheck: PreCheck | None = None,
    response: type[Written] = Written,
    location: str | None = None,
    send_etag: bool = True,
    description: str = "",
) -> None:
    """Declare ``POST path`` running ``command`` (see the module docstring)."""
    handler = HANDLERS[command]
    version_of = (target.version_of or _own_version) if target is not None else None
    roles = frozenset(roles)
    GUARDS.setdefault(command, CommandGuard(roles, target, scope, precheck))

    async def post(call: Call[Any, None]) -> Reply[Written]:
        who = call.principal
        if target is not None:
            # The body is the command minus the path's id, already validated field by field.
            cmd = command.model_construct(**dict(call.body), **{target.param: getattr(call.path, target.param)})
        else:
            cmd = call.body
        if precheck is not None and who.role is not Role.ADMIN:
            precheck(who, cmd)
        expected = call.expected_version

        async def run(c: Any, uow: UnitOfWork) -> dict[str, Any]:
            record = await uow.get(target.cls, getattr(c, target.param)) if target is not None else None
            if scope is not None and who.role is not Role.ADMIN:
                await scope(who, uow, c, record)
            if expected is not None and version_of is not None:
                stream_id, version = await version_of(uow, c, record)
                ensure_version(stream_id, version, expected)
                # The write is conditioned on what was compared, and on everything else read.
                uow.expect_version(stream_id, version)
            return await handler(c, uow)

        outcome = await call.ledger.bus.execute(
            cmd, run, idempotency_key=tenant_key(who, call.idempotency_key),
            retry_on_conflict=expected is None,
        )
        written = response.model_validate({**outcome.result, "position": outcome.position})
        headers = {POSITION_HEADER: str(outcome.position)}
        if send_etag:
            headers["ETag"] = etag(written.version)
        if location is not None:
            headers["Location"] = location.format(id=written.id)
        if outcome.replayed:
            headers[REPLAYED_HEADER] = "true"
        return Reply(written, headers=headers)

    post.__name__ = operation_id(command)
    post.__doc__ = summary
    routes.post(
        path,
        roles=roles,
        body=body_model(command, target.param) if target is not None else command,
        path_params=path_model(target.param) if target is not None else None,
        response=response,
        status=201 if location is not None else 200,
        idempotency_key=True,
        if_match=target is not None,
        summary=summary,
        description=description or (command.__doc__ or "").strip(),
        tags=tuple(tags),
    )(post)
