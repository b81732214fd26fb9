"""Achievements (科技成果): register, rights, valuations, listings, notices (``/v1/achievements``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.commands import PathTarget, command_route, path_model
from api.redaction import REDACTED
from api.routes.common import ALL_READERS, ReadQuery, load_for_read, read_reply, redacts
from api.routing import Call, Reply, RouteRegistry
from api.tenancy import hidden, out_of_scope, require_one_of, sees_achievement
from domain.achievement import Achievement, Encumbrance, Listing, Owner, PublicNotice
from domain.achievement_values import ProofOfConcept, RegisterSpell, RightsGrant, Valuation
from domain.enums import IpType, TechnologyField
from ledger.commands import Command
from ledger.commands import achievement as ach
from ledger.tokens import Principal, Role
from ledger.unit_of_work import UnitOfWork

routes = RouteRegistry()
TAGS = ("achievements",)
OWNERS = {Role.ADMIN, Role.INSTITUTION}
LISTERS = {Role.ADMIN, Role.INSTITUTION, Role.OPERATOR}


class InventorView(BaseModel):
    """A member of the inventor team; a regulator sees the share only."""

    name: str | None = Field(default=None, description="Absent for a regulator's token.")
    share: Decimal = Field(description="Contribution share in percent.")
    person_id: str | None = None


class AchievementView(BaseModel):
    id: UUID
    version: int
    title: str
    ip_type: IpType
    technology_field: TechnologyField
    owners: list[Owner]
    inventors: list[InventorView]
    inventor_count: int
    official_number: str | None
    granted_on: date | None
    service_achievement: bool
    state_funded: bool
    registered_on: date
    lapsed_on: date | None
    lapse_reason: str | None
    in_separate_register: bool
    register_spells: list[RegisterSpell]
    rights_grant: RightsGrant | None
    valuations: list[Valuation]
    listings: list[Listing]
    notices: list[PublicNotice]
    proofs_of_concept: list[ProofOfConcept]
    encumbrances: list[Encumbrance]


def achievement_view(a: Achievement, *, redact: bool) -> AchievementView:
    inventors = [
        InventorView(share=i.share) if redact else InventorView(name=i.name, share=i.share, person_id=i.person_id)
        for i in a.inventors
    ]
    notices = list(a.notices)
    if redact:
        notices = [replace(n, objections=tuple(replace(o, objector=REDACTED) for o in n.objections))
                   for n in notices]
    return AchievementView(
        id=a.id, version=a.version, title=a.title, ip_type=a.ip_type, technology_field=a.technology_field,
        owners=list(a.owners), inventors=inventors, inventor_count=len(a.inventors),
        official_number=a.official_number, granted_on=a.granted_on,
        service_achievement=a.service_achievement, state_funded=a.state_funded,
        registered_on=a.registered_on, lapsed_on=a.lapsed_on, lapse_reason=a.lapse_reason,
        in_separate_register=a.in_separate_register(), register_spells=list(a.register_spells),
        rights_grant=a.rights_grant, valuations=list(a.valuations), listings=list(a.listings),
        notices=notices, proofs_of_concept=list(a.proofs_of_concept), encumbrances=list(a.encumbrances),
    )


# ---- tenancy -------------------------------------------------------------------------------


def _registers_own(who: Principal, cmd: ach.RegisterAchievement) -> None:
    require_one_of(who, (o.institution_id for o in cmd.owners), "among the owners")


async def _owner(who: Principal, uow: UnitOfWork, cmd: Any, achievement: Achievement) -> None:
    """Changes come from a current owner; a former owner (or an exchange) sees but may not change."""
    if not sees_achievement(who, achievement):
        raise hidden(Achievement, achievement.id)
    if who.role is Role.OPERATOR or who.institution_id not in achievement.owner_ids:
        raise out_of_scope(who, "only a current owner of the achievement changes it", "只有成果的现权利人才能修改它")


def _own_exchange(who: Principal, cmd: ach.ListOnExchange | ach.Delist) -> None:
    if who.role is Role.OPERATOR and cmd.exchange_id != who.institution_id:
        raise out_of_scope(who, f"an exchange's token lists on its own exchange only ({who.institution_id})",
                           f"交易所的令牌只能在本交易所挂牌（{who.institution_id}）")


async def _lister(who: Principal, uow: UnitOfWork, cmd: Any, achievement: Achievement) -> None:
    """An exchange lists any achievement on itself (checked before); an institution lists its own."""
    if who.role is Role.OPERATOR:
        return
    await _owner(who, uow, cmd, achievement)


command_route(
    routes, "/v1/achievements", ach.RegisterAchievement, roles=OWNERS, summary="Register an achievement",
    description="An institution token must be among the `owners`.",
    precheck=_registers_own, location="/v1/achievements/{id}", tags=TAGS,
)
_target = PathTarget("achievement_id", Achievement)
_OWNER_COMMANDS: list[tuple[str, type[Command], str]] = [
    ("grant", ach.RecordPatentGrant, "Record the grant (授权) of a right"),
    ("lapse", ach.RecordLapse, "Record a lapse (expiry, abandonment, invalidation)"),
    ("separate-register/entry", ach.EnterSeparateRegister, "Enter the separate asset register (资产单列管理)"),
    ("separate-register/exit", ach.ExitSeparateRegister, "Leave the separate asset register"),
    ("rights-grant", ach.GrantRights, "Grant ownership or a long-term use right to the inventors (赋权)"),
    ("valuations", ach.RecordValuation, "Record a valuation (评估定价)"),
    ("proofs-of-concept", ach.RecordProofOfConcept, "Record proof-of-concept funding (概念验证)"),
    ("notices", ach.PublishNotice, "Publish a public notice of an agreed price (公示)"),
    ("notices/objections", ach.RecordObjection, "Record an objection to the notice in progress"),
    ("notices/conclusion", ach.ConcludeNotice, "Conclude the notice in progress"),
    ("invention-bonuses", ach.RecordInventionBonus,
     "Pay the inventors' bonus for the granted patent (专利法实施细则 第92–94条)"),
]
for _path, _command, _summary in _OWNER_COMMANDS:
    command_route(routes, f"/v1/achievements/{{achievement_id}}/{_path}", _command, roles=OWNERS,
                  summary=_summary, target=_target, scope=_owner, tags=TAGS)
_LISTING_COMMANDS: list[tuple[str, type[Command], str]] = [
    ("listings", ach.ListOnExchange, "List on an exchange (挂牌); a joint listing is a further listing"),
    ("delistings", ach.Delist, "Delist from an exchange"),
]
for _path, _command, _summary in _LISTING_COMMANDS:
    command_route(routes, f"/v1/achievements/{{achievement_id}}/{_path}", _command, roles=LISTERS,
                  summary=_summary, description="An exchange's token names itself as `exchange_id`; "
                  "an institution's token lists achievements it owns.",
                  target=_target, precheck=_own_exchange, scope=_lister, tags=TAGS)


@routes.get("/v1/achievements/{achievement_id}", roles=ALL_READERS, path_params=path_model("achievement_id"),
            query=ReadQuery, response=AchievementView, tags=TAGS)
async def get_achievement(call: Call[None, ReadQuery]) -> Reply[AchievementView]:
    """An achievement with its owners, team, register, rights, valuations, listings and notices.

    A regulator's token sees the inventor team as shares and a count, without names or ID numbers.
    """
    achievement = await load_for_read(call, Achievement, call.path.achievement_id)
    return read_reply(achievement_view(achievement, redact=redacts(call)), achievement.version)
