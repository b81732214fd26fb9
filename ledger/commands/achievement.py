"""Commands on achievements (科技成果): register, asset register, rights, valuation, listing, notice."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from domain.achievement import Achievement
from domain.achievement_values import Inventor, Owner
from domain.enums import (
    InstitutionKind,
    IpType,
    NoticeOutcome,
    RightsGrantKind,
    TechnologyField,
    ValuationMethod,
)
from domain.errors import require
from domain.inputs import (
    CurrencyCode,
    Fen,
    Identifier,
    Label,
    Name,
    Note,
    OfficialNumber,
    Percent,
    Title,
    items,
)
from domain.institution import Institution
from domain.ledger_rules import REFERENCED_RECORD_EXISTS
from domain.money import DEFAULT_CURRENCY
from ledger.commands.base import (
    Command,
    Result,
    existing,
    fields_of,
    handler,
    method_commands,
    written,
)
from ledger.unit_of_work import UnitOfWork


class OwnerIn(Command):
    institution_id: UUID
    share: Percent


class InventorIn(Command):
    name: Name
    share: Percent
    person_id: Identifier | None = None


class RegisterAchievement(Command):
    title: Title
    ip_type: IpType
    technology_field: TechnologyField
    owners: Annotated[list[OwnerIn], items(50)]
    inventors: Annotated[list[InventorIn], items(100)]
    registered_on: date
    official_number: OfficialNumber | None = None
    granted_on: date | None = None
    service_achievement: bool = True
    state_funded: bool = False
    id: UUID | None = None


class AchievementCommand(Command):
    achievement_id: UUID


class RecordPatentGrant(AchievementCommand):
    granted_on: date
    number: OfficialNumber


class RecordInventionBonus(AchievementCommand):
    """Pay the inventors' bonus for a granted patent (专利法实施细则 2023 第92–94条), in part or in full."""

    amount_fen: Fen
    paid_on: date
    payment_id: Identifier
    agreed: Note | None = None
    """The agreement or the unit's own rule (第92条) when the amount was agreed, not the statutory floor."""


class RecordLapse(AchievementCommand):
    on: date
    reason: Note


class EnterSeparateRegister(AchievementCommand):
    on: date


class ExitSeparateRegister(AchievementCommand):
    on: date
    reason: Note


class GrantRights(AchievementCommand):
    kind: RightsGrantKind
    granted_on: date
    inventor_shares: Annotated[list[Percent], items(100)] = []
    retained_share: Percent | None = None
    use_right_start: date | None = None
    use_right_end: date | None = None


class RecordValuation(AchievementCommand):
    method: ValuationMethod
    amount_fen: Fen
    valued_on: date
    assessor: Name | None = None
    currency: CurrencyCode = DEFAULT_CURRENCY


class ListOnExchange(AchievementCommand):
    exchange_id: UUID
    listing_number: OfficialNumber
    listed_on: date
    asking_price_fen: Fen | None = None
    currency: CurrencyCode = DEFAULT_CURRENCY


class Delist(AchievementCommand):
    exchange_id: UUID
    on: date


class RecordProofOfConcept(AchievementCommand):
    funder: Name
    amount_fen: Fen
    stage: Label
    funded_on: date
    outcome: Note | None = None
    currency: CurrencyCode = DEFAULT_CURRENCY


class PublishNotice(AchievementCommand):
    starts_on: date
    ends_on: date
    agreed_price_fen: Fen
    currency: CurrencyCode = DEFAULT_CURRENCY


class RecordObjection(AchievementCommand):
    objector: Name
    reason: Note
    raised_on: date


class ConcludeNotice(AchievementCommand):
    outcome: NoticeOutcome
    on: date


@handler(RegisterAchievement)
async def register_achievement(cmd: RegisterAchievement, uow: UnitOfWork) -> Result:
    for i, owner in enumerate(cmd.owners):
        await existing(uow, Institution, owner.institution_id, f"owners[{i}].institution_id")
    achievement = Achievement.register(
        title=cmd.title,
        ip_type=cmd.ip_type,
        technology_field=cmd.technology_field,
        owners=[Owner(o.institution_id, o.share) for o in cmd.owners],
        inventors=[Inventor(i.name, i.share, i.person_id) for i in cmd.inventors],
        registered_on=cmd.registered_on,
        official_number=cmd.official_number,
        granted_on=cmd.granted_on,
        service_achievement=cmd.service_achievement,
        state_funded=cmd.state_funded,
        id=cmd.id,
    )
    uow.add(achievement)
    return written(achievement)


method_commands(Achievement, "achievement_id", {
    RecordPatentGrant: "record_grant",
    RecordLapse: "record_lapse",
    EnterSeparateRegister: "enter_separate_register",
    ExitSeparateRegister: "exit_separate_register",
    GrantRights: "grant_rights",
    RecordValuation: "record_valuation",
    Delist: "delist",
    RecordProofOfConcept: "record_proof_of_concept",
    PublishNotice: "publish_notice",
    RecordObjection: "record_objection",
    ConcludeNotice: "conclude_notice",
    RecordInventionBonus: "record_invention_bonus",
})


@handler(ListOnExchange)
async def list_on_exchange(cmd: ListOnExchange, uow: UnitOfWork) -> Result:
    exchange = await existing(uow, Institution, cmd.exchange_id, "exchange_id")
    require(exchange.kind == InstitutionKind.exchange, REFERENCED_RECORD_EXISTS, "exchange_id",
            f"institution {cmd.exchange_id} is a {exchange.kind}, not an exchange",
            zh=f"机构 {cmd.exchange_id} 的类型为 {exchange.kind}，不是交易所")
    achievement = await uow.get(Achievement, cmd.achievement_id)
    achievement.list_on_exchange(**fields_of(cmd, "achievement_id"))
    return written(achievement)
