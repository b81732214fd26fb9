"""Institutions: universities, institutes, enterprises and exchanges (``/v1/institutions``)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from api.commands import PathTarget, command_route, path_model
from api.routes.common import ALL_READERS, ReadQuery, load_for_read, read_reply
from api.routing import Call, Reply, RouteRegistry
from api.tenancy import hidden, out_of_scope
from domain.enums import EnterpriseSize, InstitutionKind, RulePackId
from domain.institution import Institution, RulePackPeriod
from ledger.commands import institution as inst
from ledger.tokens import Principal, Role
from ledger.unit_of_work import UnitOfWork

routes = RouteRegistry()
TAGS = ("institutions",)
SELF_SERVICE = {Role.ADMIN, Role.INSTITUTION, Role.OPERATOR}


class InstitutionView(BaseModel):
    id: UUID
    version: int
    name: str
    kind: InstitutionKind
    size: EnterpriseSize | None
    public: bool
    region: str
    city: str | None
    registered_on: date
    rule_pack: RulePackId
    rule_packs: list[RulePackPeriod]


def institution_view(institution: Institution) -> InstitutionView:
    return InstitutionView(
        id=institution.id, version=institution.version, name=institution.name, kind=institution.kind,
        size=institution.size, public=institution.public, region=institution.region, city=institution.city,
        registered_on=institution.registered_on, rule_pack=institution.rule_pack,
        rule_packs=list(institution.rule_packs),
    )


def _registers_itself(who: Principal, cmd: inst.RegisterInstitution) -> None:
    if cmd.id is None or cmd.id != who.institution_id:
        raise out_of_scope(who, "an institution token registers only its own institution: "
                                f"send id {who.institution_id}",
                           f"机构令牌只能登记本机构：请发送 id {who.institution_id}")


async def _own_record(who: Principal, uow: UnitOfWork, cmd: Any, institution: Institution) -> None:
    if who.institution_id != institution.id:
        raise hidden(Institution, institution.id)


command_route(
    routes, "/v1/institutions", inst.RegisterInstitution, roles={Role.ADMIN, Role.INSTITUTION},
    summary="Register an institution",
    description="An institution token may register only itself (`id` = its institution); "
    "admins register anyone. `id` is optional for admins (a new one is made).",
    precheck=_registers_itself, location="/v1/institutions/{id}", tags=TAGS,
)
_target = PathTarget("institution_id", Institution)
command_route(routes, "/v1/institutions/{institution_id}/name", inst.RenameInstitution, roles=SELF_SERVICE,
              summary="Rename an institution", target=_target, scope=_own_record, tags=TAGS)
command_route(routes, "/v1/institutions/{institution_id}/rule-pack", inst.ChangeRulePack, roles=SELF_SERVICE,
              summary="Change the rule pack from a date on", target=_target, scope=_own_record, tags=TAGS)
command_route(routes, "/v1/institutions/{institution_id}/size", inst.SetEnterpriseSize, roles=SELF_SERVICE,
              summary="Set an enterprise's size", target=_target, scope=_own_record, tags=TAGS)


@routes.get("/v1/institutions/{institution_id}", roles=ALL_READERS, path_params=path_model("institution_id"),
            query=ReadQuery, response=InstitutionView, tags=TAGS)
async def get_institution(call: Call[None, ReadQuery]) -> Reply[InstitutionView]:
    """An institution (a scoped token sees only its own)."""
    institution = await load_for_read(call, Institution, call.path.institution_id)
    return read_reply(institution_view(institution), institution.version)


__all__ = ["InstitutionView", "institution_view", "routes"]
