"""What every command shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from pydantic import BaseModel, ConfigDict

from domain.errors import DomainError
from domain.ledger_rules import REFERENCED_RECORD_EXISTS
from ledger.unit_of_work import UnitOfWork


class Command(BaseModel):
    """Immutable, strict about unknown fields: a typo in a field name is an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


C = TypeVar("C", bound=Command)
Result = dict[str, Any]
Handler = Callable[[Any, UnitOfWork], Awaitable[Result]]
HANDLERS: dict[type[Command], Handler] = {}


def handler(command_type: type[C]) -> Callable[[Callable[[C, UnitOfWork], Awaitable[Result]]], Callable[[C, UnitOfWork], Awaitable[Result]]]:
    """Register ``fn`` as the handler of ``command_type``."""

    def register(fn: Callable[[C, UnitOfWork], Awaitable[Result]]) -> Callable[[C, UnitOfWork], Awaitable[Result]]:
        if command_type in HANDLERS:
            raise ValueError(f"{command_type.__name__} has two handlers")
        HANDLERS[command_type] = fn
        return fn

    return register


def written(aggregate: Aggregate, **extra: Any) -> Result:
    """The usual result of a command: the aggregate's id and its new version."""
    return {"id": str(aggregate.id), "version": aggregate.version, **extra}


A = TypeVar("A", bound=Aggregate)


async def existing(uow: UnitOfWork, cls: type[A], aggregate_id: UUID, field: str) -> A:
    """Load a record another command refers to; a missing one is a rule error on ``field``."""
    from ledger.repository import AggregateNotFound

    try:
        return await uow.get(cls, aggregate_id)
    except AggregateNotFound:
        raise DomainError(
            REFERENCED_RECORD_EXISTS, field, f"no {cls.__name__.lower()} {aggregate_id}",
            detail_zh=f"未找到记录（{cls.__name__.lower()} {aggregate_id}）"
        ) from None


def method_commands(
    aggregate_cls: type[A],
    id_field: str,
    methods: Mapping[Any, str],
    extra: Callable[[A], dict[str, Any]] | None = None,
) -> None:
    """Register handlers for commands that call one method of one aggregate.

    The command's ``id_field`` names the aggregate; its other fields are the
    method's keyword arguments. Most commands are of this kind; the ones that
    touch several aggregates have handlers of their own.
    """
    for command_type, method in methods.items():

        async def handle(cmd: Any, uow: UnitOfWork, method: str = method) -> Result:
            aggregate = await uow.get(aggregate_cls, getattr(cmd, id_field))
            getattr(aggregate, method)(**fields_of(cmd, id_field))
            return written(aggregate, **(extra(aggregate) if extra else {}))

        handle.__name__ = method
        handler(command_type)(handle)


def fields_of(cmd: Command, *skip: str) -> dict[str, Any]:
    """The command's fields as keyword arguments, leaving out ``skip`` (ids of the target)."""
    return {k: getattr(cmd, k) for k in type(cmd).model_fields if k not in skip}


class under:
    """Prefix the field path of a domain error raised inside, so it matches the request body.

    A domain rule says ``title``; the request carried it as ``terms.title``.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, DomainError) and not exc.field.startswith(self.prefix + "."):
            exc.field = f"{self.prefix}.{exc.field}" if exc.field else self.prefix
