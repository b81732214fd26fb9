"""Commands on institutions: universities, institutes, enterprises, exchanges."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.enums import EnterpriseSize, InstitutionKind, RulePackId
from domain.institution import Institution
from ledger.commands.base import Command, Result, handler, method_commands, written
from ledger.unit_of_work import UnitOfWork


class RegisterInstitution(Command):
    name: str
    kind: InstitutionKind
    region: str
    registered_on: date
    public: bool = False
    size: EnterpriseSize | None = None
    city: str | None = None
    rule_pack: RulePackId = RulePackId.national
    id: UUID | None = None


class RenameInstitution(Command):
    institution_id: UUID
    name: str


class ChangeRulePack(Command):
    institution_id: UUID
    rule_pack: RulePackId
    effective_from: date


class SetEnterpriseSize(Command):
    institution_id: UUID
    size: EnterpriseSize


@handler(RegisterInstitution)
async def register_institution(cmd: RegisterInstitution, uow: UnitOfWork) -> Result:
    institution = Institution.register(**cmd.model_dump())
    uow.add(institution)
    return written(institution)


method_commands(Institution, "institution_id", {
    RenameInstitution: "rename",
    ChangeRulePack: "change_rule_pack",
    SetEnterpriseSize: "set_size",
})
