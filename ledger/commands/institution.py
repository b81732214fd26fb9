"""Commands on institutions: universities, institutes, enterprises, exchanges."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.enums import EnterpriseSize, InstitutionKind, RulePackId
from domain.inputs import Name, RegionCode
from domain.institution import Institution
from ledger.commands.base import Command, Result, handler, method_commands, written
from ledger.unit_of_work import UnitOfWork


class RegisterInstitution(Command):
    name: Name
    kind: InstitutionKind
    region: RegionCode
    registered_on: date
    public: bool = False
    size: EnterpriseSize | None = None
    city: RegionCode | None = None
    rule_pack: RulePackId = RulePackId.national
    id: UUID | None = None


class RenameInstitution(Command):
    institution_id: UUID
    name: Name


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
