"""Commands through the bus on the real store: events, postings and balances together."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from domain.contract import TechnologyContract
from domain.enums import (
    ContractKind,
    InstitutionKind,
    IpType,
    LicenceType,
    RulePackId,
    TechnologyField,
)
from domain.errors import DomainError
from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import achievement as ach
from ledger.commands import contract as con
from ledger.commands import institution as inst
from ledger.postings import account_balances, trial_balance
from ledger.settings import Settings

D = date.fromisoformat
WAN = 10_000 * 100  # 1万元 in fen


@pytest.fixture
async def ledger(fresh_dsn: str):
    opened = await connect_ledger(fresh_dsn, Settings(snapshot_interval=5))
    yield opened
    await opened.close()


async def ids(ledger: Ledger) -> dict[str, UUID]:
    bus = ledger.bus
    out: dict[str, UUID] = {}
    for key, cmd in {
        "university": inst.RegisterInstitution(name="清华大学", kind=InstitutionKind.university, region="110000",
                                               registered_on=D("2020-01-01"), public=True, rule_pack=RulePackId.beijing),
        "firm": inst.RegisterInstitution(name="北京小微科技有限公司", kind=InstitutionKind.enterprise, size="micro",
                                         region="110000", registered_on=D("2021-03-01")),
        "exchange": inst.RegisterInstitution(name="中国技术交易所", kind=InstitutionKind.exchange, region="110000",
                                             registered_on=D("2009-08-01")),
    }.items():
        out[key] = UUID((await bus.handle(cmd)).result["id"])
    registered = await bus.handle(ach.RegisterAchievement(
        title="一种高效锂电池正极材料", ip_type=IpType.invention_patent,
        technology_field=TechnologyField.new_materials,
        owners=[ach.OwnerIn(institution_id=out["university"], share="100")],
        inventors=[ach.InventorIn(name="张三", share="60"), ach.InventorIn(name="李四", share="40")],
        registered_on=D("2023-05-01"), official_number="ZL202310000001.0", granted_on=D("2023-04-20"),
    ))
    out["achievement"] = UUID(registered.result["id"])
    return out


def licence_terms(p: dict[str, UUID]) -> dict[str, object]:
    return {
        "kind": ContractKind.licence, "title": "正极材料专利独占许可", "seller_ids": [p["university"]],
        "buyer_id": p["firm"], "achievement_ids": [p["achievement"]],
        "contract_value_fen": 100 * WAN, "transaction_value_fen": 90 * WAN,
        "licence": {"licence_type": LicenceType.exclusive, "territory": "CN",
                    "term_start": "2024-02-01", "term_end": "2029-01-31"},
        "payment_terms": {"fixed_price_fen": 100 * WAN, "installments": [
            {"amount_fen": 40 * WAN, "due_on": "2024-03-01"},
            {"amount_fen": 30 * WAN, "due_on": "2024-09-01"},
            {"amount_fen": 30 * WAN, "due_on": "2025-03-01"},
        ]},
    }


async def test_licence_from_draft_to_payments_posts_balanced_entries(ledger: Ledger) -> None:
    p = await ids(ledger)
    bus = ledger.bus
    await bus.handle(ach.ListOnExchange(achievement_id=p["achievement"], exchange_id=p["exchange"],
                                        listing_number="CTEX-2024-001", listed_on=D("2024-01-05"),
                                        asking_price_fen=120 * WAN))
    drafted = await bus.handle(con.DraftContract.model_validate(
        {"terms": licence_terms(p), "drafted_on": "2024-01-10"}))
    cid = UUID(drafted.result["id"])
    await bus.handle(con.SignContract(contract_id=cid, on=D("2024-01-20")))
    await bus.handle(con.RegisterContract.model_validate({"contract_id": cid, "registration": {
        "registry": "北京技术市场管理办公室", "registration_number": "2024110000000001",
        "approved_category": "licence", "approved_transaction_value_fen": 90 * WAN, "registered_on": "2024-01-25"}}))
    await bus.handle(con.TakeEffect(contract_id=cid, on=D("2024-02-01")))
    paid = await bus.handle(con.RecordPayment(contract_id=cid, payment_id="BANK-001", amount_fen=50 * WAN,
                                              received_on=D("2024-03-02")))
    assert paid.result["outstanding_fen"] == 50 * WAN
    contract = await ledger.repository.get(TechnologyContract, cid)
    assert contract.version == paid.result["version"]

    balances = await account_balances(ledger.store.pool, p["university"])
    assert balances == {
        "cash": 50 * WAN,
        f"receivable:{cid}": 50 * WAN,
        f"transfer_income:{cid}": -100 * WAN,
    }
    assert set((await trial_balance(ledger.store.pool)).values()) == {0}
    # Each entry points at the event that caused it.
    kinds = await ledger.store.pool.fetch(
        "SELECT e.kind, ev.topic FROM journal_entries e JOIN events ev USING (position) ORDER BY position, seq")
    assert [(k["kind"], k["topic"].rsplit(".", 1)[-1]) for k in kinds] == [
        ("fallen_due", "TookEffect")] * 3 + [("payment_received", "PaymentReceived")]


async def test_overpayment_is_rejected_and_writes_nothing(ledger: Ledger) -> None:
    p = await ids(ledger)
    bus = ledger.bus
    cid = UUID((await bus.handle(con.DraftContract.model_validate(
        {"terms": licence_terms(p), "drafted_on": "2024-01-10"}))).result["id"])
    await bus.handle(con.SignContract(contract_id=cid, on=D("2024-01-20")))
    await bus.handle(con.TakeEffect(contract_id=cid, on=D("2024-02-01")))
    head = await ledger.store.head()
    postings = await ledger.store.pool.fetchval("SELECT count(*) FROM postings")
    with pytest.raises(DomainError) as info:
        await bus.handle(con.RecordPayment(contract_id=cid, payment_id="BANK-X", amount_fen=101 * WAN,
                                           received_on=D("2024-03-02")))
    assert (info.value.rule.name, info.value.field) == ("overpayment_rejected", "amount_fen")
    assert await ledger.store.head() == head
    assert await ledger.store.pool.fetchval("SELECT count(*) FROM postings") == postings


async def test_second_exclusive_licence_is_rejected_across_aggregates(ledger: Ledger) -> None:
    p = await ids(ledger)
    bus = ledger.bus
    first = UUID((await bus.handle(con.DraftContract.model_validate(
        {"terms": licence_terms(p), "drafted_on": "2024-01-10"}))).result["id"])
    second = UUID((await bus.handle(con.DraftContract.model_validate(
        {"terms": licence_terms(p), "drafted_on": "2024-01-11"}))).result["id"])
    for cid in (first, second):
        await bus.handle(con.SignContract(contract_id=cid, on=D("2024-01-20")))
    await bus.handle(con.TakeEffect(contract_id=first, on=D("2024-02-01")))
    head = await ledger.store.head()
    with pytest.raises(DomainError) as info:
        await bus.handle(con.TakeEffect(contract_id=second, on=D("2024-02-01")))
    assert (info.value.rule.name, info.value.field) == ("licence_conflict", "achievement_ids[0]")
    assert await ledger.store.head() == head


async def test_draft_errors_name_the_request_field(ledger: Ledger) -> None:
    p = await ids(ledger)
    terms = licence_terms(p) | {"transaction_value_fen": 101 * WAN}
    with pytest.raises(DomainError) as info:
        await ledger.bus.handle(con.DraftContract.model_validate({"terms": terms, "drafted_on": "2024-01-10"}))
    assert (info.value.rule.name, info.value.field) == (
        "transaction_value_within_contract_value", "terms.transaction_value_fen")
    missing = licence_terms(p) | {"buyer_id": "00000000-0000-4000-8000-000000000000"}
    with pytest.raises(DomainError) as info:
        await ledger.bus.handle(con.DraftContract.model_validate({"terms": missing, "drafted_on": "2024-01-10"}))
    assert (info.value.rule.name, info.value.field) == ("referenced_record_exists", "terms.buyer_id")
