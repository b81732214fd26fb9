"""Read side at national scale: projection rebuild throughput, query latency, rebuild memory.

    python bench/stats.py [--contracts 100000] [--page-size 5000] [--json] [--keep DIR]

1. Generates a realistic ledger with the domain's own aggregates (every
   command checked by the domain), in proportions like DOMAIN.md's reference
   figures: ~20,000 institutions (universities and institutes sell, firms
   mostly buy; provinces weighted), ~1.3 achievements per contract (service
   achievements in the separate register, patents granted, 15% listed and a
   fifth of those jointly listed on a second exchange), contracts of every
   kind (service and development most common; assignment, licence, UFPL and
   equity contribution about a quarter), with registrations and corrections
   (补正), installments, deferrals, write-offs, royalties, UFPL trials that
   convert, return or default (with insurance compensation), equity holdings
   (share awards, dividends, sales) and income distributions with award
   payments for the public institutions' receipts. Two worker processes
   build slices of the world (each slice owns its achievements and
   contracts) and the main process appends each slice's events with
   ``EventStore.append`` in one commit (hash chain and positions as usual).
   Journal postings are **not** written for the bench (they are a side write
   of ``UnitOfWork`` and no projection reads them).
2. Times ``ProjectionRunner.rebuild()`` of every projection in a child
   process, whose peak RSS (``ru_maxrss``) is the rebuild's memory.
3. Runs 20 typical statistics queries and 19 list, search and work-queue
   queries (10 timed runs each after a warm-up) and reports p50 and p95 over
   all runs of each group.

Starts its own embedded PostgreSQL in a temporary directory (or uses
``--dsn``). Prints a table; with ``--json`` the last line of stdout is a JSON
object with ``rebuild_events_per_s``, ``query_p95_ms``, ``lists_p95_ms``,
``rebuild_peak_rss_mb`` and the rest. Progress goes to stderr. Targets: ≥ 20,000 events/s, p95 < 50 ms,
RSS < 500 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from eventsourcing.persistence import StoredEvent  # noqa: E402

from domain.achievement import Achievement, Inventor, Owner  # noqa: E402
from domain.allocation import Deduction  # noqa: E402
from domain.award import IncomeDistribution  # noqa: E402
from domain.contract import TechnologyContract  # noqa: E402
from domain.contract_terms import ContractTerms, LicenceTerms, Registration  # noqa: E402
from domain.distribution import BeneficiaryKind, DistributionPolicy, policy_version  # noqa: E402
from domain.enums import (  # noqa: E402
    ContractKind,
    EnterpriseSize,
    InstitutionKind,
    IpType,
    LicenceType,
    RulePackId,
    TechnologyField,
    ValuationMethod,
)
from domain.equity import Company, EquityValuation, uscc_check_char  # noqa: E402
from domain.institution import Institution  # noqa: E402
from domain.payment_terms import (  # noqa: E402
    Installment,
    PaymentTerms,
    RoyaltyBase,
    RoyaltyTerms,
    equal_installments,
)
from domain.rule_packs import DeductionCategory, pack_in_force  # noqa: E402
from domain.services import ContractEnd, end_contract, open_equity_holding, take_effect  # noqa: E402
from domain.settlement import Overpayment  # noqa: E402
from domain.ufpl import UfplTerms, UfplTrigger  # noqa: E402
from ledger.database import dsn_for_database, ensure_database  # noqa: E402
from ledger.embedded import EmbeddedPostgres  # noqa: E402
from ledger.logging import configure_logging  # noqa: E402
from ledger.migrate import migrate  # noqa: E402
from ledger.serialisation import default_mapper  # noqa: E402
from ledger.store import Commit, EventStore  # noqa: E402

WAN = 1_000_000
START = date(2019, 1, 1)
DAYS = (date(2025, 12, 31) - START).days
TEAM, INST, DEPT = (BeneficiaryKind.inventor_team, BeneficiaryKind.institution,
                    BeneficiaryKind.department)
NAMESPACE = uuid.UUID("2f6a8e7c-5b1d-4c3e-9f0a-8d7e6c5b4a39")

# Province weights (roughly technology-market size).
PROVINCES = {
    "110000": 14, "310000": 9, "320000": 10, "440000": 11, "330000": 8, "610000": 7, "510000": 6,
    "370000": 6, "420000": 6, "120000": 3, "340000": 4, "430000": 3, "410000": 3, "500000": 2,
    "210000": 2, "350000": 2, "130000": 2, "360000": 1, "220000": 1, "230000": 1,
}
# Contract kinds by count (national statistics: services and development dominate).
KINDS = {
    ContractKind.service: 40, ContractKind.development: 25, ContractKind.consulting: 6,
    ContractKind.assignment: 9, ContractKind.licence: 11, ContractKind.ufpl_licence: 5,
    ContractKind.equity_contribution: 4,
}
SIZES = {EnterpriseSize.micro: 40, EnterpriseSize.small: 35, EnterpriseSize.medium: 15,
         EnterpriseSize.large: 10}
FIELDS = list(TechnologyField)
IP_TYPES = {IpType.invention_patent: 45, IpType.utility_model: 15, IpType.software_copyright: 15,
            IpType.technical_secret: 15, IpType.design: 3, IpType.plant_variety: 2, IpType.other: 5}
# Titles from a technology vocabulary, picked by index (no random draw, so the dataset is the same
# as with plain titles): the lists' Chinese substring search has words to find, 1 in 40 or rarer.
TOPICS = ["石墨烯散热膜", "MEMS气体传感器", "固态锂电池", "钙钛矿光伏", "mRNA疫苗", "碳化硅功率芯片",
          "海洋微藻提取", "量子点显示", "工业机器人减速器", "氢燃料电池", "生物可降解塑料", "高温超导线材",
          "智能电网调度", "基因编辑育种", "柔性显示屏", "激光雷达", "航空发动机叶片", "稀土永磁材料",
          "污水膜处理", "中药有效成分", "脑机接口电极", "北斗定位芯片", "锂电池回收", "光刻胶",
          "纳米催化剂", "低温等离子体", "人工智能质检", "3D打印钛合金", "盐碱地改良", "小麦抗病品种",
          "数控机床主轴", "医用可吸收支架", "集成电路封装", "储能液流电池", "海水淡化膜", "煤气化催化",
          "卫星遥感反演", "工业互联网平台", "精准医疗检测", "新型建筑保温"]
SUFFIXES = ["制备方法", "装置", "系统", "工艺", "材料及其应用"]


def topic(index: int, n: int) -> str:
    return TOPICS[(index * 7919 + n * 104729) % len(TOPICS)]


NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴霞"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pick(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def ident(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts))


# --- the world ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inst:
    id: uuid.UUID
    kind: InstitutionKind
    region: str
    size: EnterpriseSize | None
    public: bool


def institutions(contracts: int, seed: int) -> list[Inst]:
    rng = random.Random(seed)
    n_research = max(20, contracts // 250)
    n_firms = max(200, contracts // 5)
    out = []
    for i in range(n_research):
        kind = InstitutionKind.university if i % 3 else InstitutionKind.research_institute
        out.append(Inst(ident("research", i), kind, pick(rng, PROVINCES), None, rng.random() < 0.92))
    for i in range(max(5, n_research // 12)):
        out.append(Inst(ident("exchange", i), InstitutionKind.exchange, pick(rng, PROVINCES), None, False))
    for i in range(n_firms):
        out.append(Inst(ident("firm", i), InstitutionKind.enterprise, pick(rng, PROVINCES),
                        pick(rng, SIZES), False))
    return out


def policy_for(inst: Inst) -> Any:
    return policy_version(
        version_label="2019", effective_from=date(2019, 1, 1),
        cash_split={TEAM: 70, INST: 15, DEPT: 15}, equity_split={TEAM: 70, INST: 30},
        institution_is_public_research=True, institution_kind=inst.kind,
        pack=pack_in_force(RulePackId.national, date(2019, 1, 1)))


def opening_events(world: list[Inst]) -> list[StoredEvent]:
    """Institutions and the public institutions' distribution policies."""
    mapper = default_mapper()
    out: list[StoredEvent] = []
    for inst in world:
        agg = Institution.register(name=f"机构 {inst.id.hex[:8]}", kind=inst.kind, region=inst.region,
                                   registered_on=date(2018, 1, 1), public=inst.public, size=inst.size,
                                   id=inst.id)
        out.extend(mapper.to_stored_event(e) for e in agg.collect_events())
        if inst.public and inst.kind != InstitutionKind.exchange:
            policy = DistributionPolicy.create(inst.id)
            version = policy_for(inst)
            policy.adopt_version(version.version_label, version.effective_from, version.cash_split,
                                 version.equity_split, institution_is_public_research=True,
                                 institution_kind=inst.kind, pack=version.pack)
            out.extend(mapper.to_stored_event(e) for e in policy.collect_events())
    return out


# --- one slice of the world, built in a worker process ------------------------------------------

_WORLD: list[Inst] = []


def _init_worker(world: list[Inst]) -> None:
    global _WORLD
    _WORLD = world
    default_mapper()


class Slice:
    def __init__(self, index: int, contracts: int, seed: int) -> None:
        self.rng = random.Random(seed * 1_000_003 + index)
        self.index = index
        self.contracts = contracts
        self.mapper = default_mapper()
        self.events: list[StoredEvent] = []
        world = _WORLD
        self.research = [i for i in world if i.kind in (InstitutionKind.university,
                                                         InstitutionKind.research_institute)]
        self.exchanges = [i for i in world if i.kind == InstitutionKind.exchange]
        self.firms = [i for i in world if i.kind == InstitutionKind.enterprise]
        self.policies: dict[uuid.UUID, Any] = {}
        self.national = pack_in_force(RulePackId.national, date(2019, 1, 1))
        self.serial = 0

    def emit(self, *aggregates: Any) -> None:
        for agg in aggregates:
            self.events.extend(self.mapper.to_stored_event(e) for e in agg.collect_events())

    def day(self, lo: int = 0, hi: int = DAYS - 400) -> date:
        return START + timedelta(days=self.rng.randint(lo, hi))

    def amount(self) -> int:
        """Contract value: log-normal, median about 30万元, from a few hundred yuan to 亿s."""
        yuan = math.exp(self.rng.gauss(math.log(300_000), 1.6))
        return max(500, min(int(yuan), 2_000_000_000)) * 100

    def build(self) -> list[tuple[uuid.UUID, int, str, bytes]]:
        achievements = [self.achievement(i) for i in range(int(self.contracts * 1.3))]
        unused = list(achievements)
        self.rng.shuffle(unused)
        listed = [a for a in unused if a.listings]
        for n in range(self.contracts):
            kind = pick(self.rng, KINDS)
            try:
                self.contract(n, kind, unused, listed)
            except Exception as exc:  # a generator bug must not pass silently
                raise RuntimeError(f"slice {self.index} contract {n} ({kind}): {exc!r}") from exc
        return [(e.originator_id, e.originator_version, e.topic, e.state) for e in self.events]

    # --- achievements ---------------------------------------------------------------------

    def achievement(self, i: int) -> Achievement:
        rng = self.rng
        owner = rng.choice(self.research) if rng.random() < 0.9 else rng.choice(self.firms)
        ip = pick(rng, IP_TYPES)
        numbered = ip in (IpType.invention_patent, IpType.utility_model, IpType.design,
                          IpType.software_copyright, IpType.plant_variety)
        registered = self.day(0, DAYS - 700)
        granted = None
        if numbered and (ip != IpType.invention_patent or rng.random() < 0.7):
            granted = registered - timedelta(days=rng.randint(0, 700))
        service = owner.kind != InstitutionKind.enterprise
        team = rng.sample(NAMES, rng.choice((1, 2, 3)))
        shares = [Decimal(100 // len(team))] * len(team)
        shares[0] += Decimal(100) - sum(shares)
        a = Achievement.register(
            title=f"{topic(self.index, i)}{SUFFIXES[i % len(SUFFIXES)]} {self.index}-{i}", ip_type=ip, technology_field=rng.choice(FIELDS),
            owners=[Owner(owner.id, Decimal(100))],
            inventors=[Inventor(n, s) for n, s in zip(team, shares, strict=True)],
            registered_on=registered, official_number=f"N{self.index}-{i}" if numbered else None,
            granted_on=granted, service_achievement=service, id=ident("a", self.index, i))
        a.owner = owner  # type: ignore[attr-defined]
        if service and rng.random() < 0.6:
            a.enter_separate_register(registered + timedelta(days=rng.randint(0, 90)))
        if rng.random() < 0.15:
            first = rng.choice(self.exchanges)
            a.list_on_exchange(first.id, f"L{self.index}-{i}", registered + timedelta(days=30))
            if rng.random() < 0.2:
                second = rng.choice([x for x in self.exchanges if x.id != first.id])
                a.list_on_exchange(second.id, f"J{self.index}-{i}", registered + timedelta(days=45))
        self.emit(a)
        return a

    # --- contracts ------------------------------------------------------------------------

    def contract(self, n: int, kind: ContractKind, unused: list[Achievement],
                 listed: list[Achievement]) -> None:
        rng = self.rng
        covered: list[Achievement] = []
        if kind in (ContractKind.development, ContractKind.consulting, ContractKind.service):
            seller = rng.choice(self.research) if rng.random() < 0.6 else rng.choice(self.firms)
        else:
            pool = listed if kind == ContractKind.ufpl_licence and listed else unused
            if not pool:
                kind = ContractKind.service
                seller = rng.choice(self.research)
            else:
                first = pool.pop()
                if first in unused:
                    unused.remove(first)
                if first in listed:
                    listed.remove(first)
                covered = [first]
                seller = first.owner  # type: ignore[attr-defined]
        buyers = self.firms
        if kind == ContractKind.ufpl_licence:
            buyers = [f for f in self.firms if f.size in (EnterpriseSize.small, EnterpriseSize.micro)]
        buyer = rng.choice(buyers)
        while buyer.id == seller.id:
            buyer = rng.choice(buyers)
        value = self.amount()
        transaction = value * rng.randint(60, 100) // 100
        signed = max(self.day(), *(a.registered_on for a in covered)) if covered else self.day()
        effective = signed + timedelta(days=rng.randint(0, 30))
        terms = self.payment_terms(kind, value)
        extra: dict[str, Any] = {}
        if kind in (ContractKind.licence, ContractKind.ufpl_licence):
            lt = LicenceType.non_exclusive
            if kind == ContractKind.licence:
                lt = rng.choice((LicenceType.exclusive, LicenceType.sole, LicenceType.non_exclusive,
                                 LicenceType.non_exclusive))
            extra["licence"] = LicenceTerms(lt, False, "CN")
        if kind == ContractKind.ufpl_licence:
            extra["ufpl"] = UfplTerms("试用", effective + timedelta(days=365),
                                      (UfplTrigger.first_revenue(),))
        contract = TechnologyContract.draft(
            terms=ContractTerms(kind=kind, title=f"{topic(self.index, n)}技术合同 {self.index}-{n}",
                                seller_ids=(seller.id,),
                                buyer_id=buyer.id, achievement_ids=tuple(a.id for a in covered),
                                contract_value_fen=value, transaction_value_fen=transaction,
                                payment_terms=terms, **extra),
            drafted_on=signed - timedelta(days=rng.randint(1, 20)), id=ident("c", self.index, n))
        if rng.random() < 0.01:  # a draft never signed
            self.emit(contract)
            return
        contract.sign(signed)
        found = {a.id: a for a in covered}
        if rng.random() < 0.03:  # terminated before it took effect: still counted as signed
            contract.terminate(signed + timedelta(days=20), "双方协商解除")
            self.emit(contract)
            return
        take_effect(contract, found, owners_public=False, on=effective)
        if kind != ContractKind.equity_contribution and rng.random() < 0.8:
            reg_kind = ContractKind.licence if kind == ContractKind.ufpl_licence else kind
            on = effective + timedelta(days=rng.randint(1, 40))
            contract.register(Registration("技术合同登记处", f"R{self.index}-{n}", reg_kind,
                                           transaction * rng.randint(85, 100) // 100, on))
            if rng.random() < 0.03:
                contract.correct_registration(
                    Registration("技术合同登记处", f"R{self.index}-{n}", reg_kind, transaction, on),
                    on + timedelta(days=20), "补正: 技术交易额")
        self.emit(contract, *covered)
        if kind == ContractKind.ufpl_licence:
            self.ufpl(contract, found, effective)
        elif kind == ContractKind.equity_contribution:
            self.equity(contract, found, seller, effective)
        else:
            if kind == ContractKind.licence and contract.terms.payment_terms.royalty is not None:
                self.royalties(contract, effective)
            self.settle(contract, found, seller)
        self.emit(contract, *covered)

    def payment_terms(self, kind: ContractKind, value: int) -> PaymentTerms:
        rng = self.rng
        if kind == ContractKind.equity_contribution:
            return PaymentTerms()
        if kind == ContractKind.ufpl_licence:
            return PaymentTerms.lump_sum(value, days_after_start=30)
        if kind == ContractKind.licence and rng.random() < 0.5:
            fee = max(value // 5, 100)
            return PaymentTerms(entry_fee=Installment(fee, days_after_start=15),
                                royalty=RoyaltyTerms.fixed_rate(RoyaltyBase.sales,
                                                                Decimal(rng.choice(("0.03", "0.05", "0.08")))))
        parts = rng.choice((1, 1, 2, 3, 4))
        amounts = equal_installments(value, [START] * parts)
        return PaymentTerms(value, tuple(Installment(i.amount_fen, days_after_start=90 * k)
                                         for k, i in enumerate(amounts)))

    def royalties(self, contract: TechnologyContract, effective: date) -> None:
        start = effective
        for _ in range(self.rng.randint(1, 4)):
            end = start + timedelta(days=181)
            contract.report_royalty(start, end, self.amount() * 3, end + timedelta(days=5))
            start = end + timedelta(days=1)

    def settle(self, contract: TechnologyContract, found: dict[uuid.UUID, Achievement], seller: Inst,
               paid_by_ufpl: bool = False) -> None:
        rng = self.rng
        items = contract.open_items()
        if items and rng.random() < 0.05:
            contract.defer_due_items({items[-1].item_id: items[-1].due_on + timedelta(days=120)},
                                     "技术转移中心", "买方申请延期", items[-1].due_on - timedelta(days=10))
        all_paid = True
        for item in sorted(contract.open_items(), key=lambda i: i.due_on):
            roll = rng.random()
            if roll < 0.07:  # never paid: a receivable that ages
                all_paid = False
                continue
            if roll < 0.08:
                contract.write_off(item.item_id, "校长办公会", "无法收回", item.due_on + timedelta(days=400))
                continue
            on = max(item.due_on + timedelta(days=rng.randint(-5, 45)), contract.effective_on or START)
            amount = item.outstanding_fen if roll > 0.12 else max(1, item.outstanding_fen // 2)
            self.serial += 1
            payment_id = f"P{self.index}-{self.serial}"
            contract.record_payment(payment_id, amount, on, item.item_id, Overpayment.reject)
            all_paid &= amount == item.outstanding_fen
            if seller.public and contract.kind != ContractKind.development and rng.random() < 0.45:
                self.distribute(contract, found, seller, payment_id, amount, on)
        if all_paid and contract.outstanding_fen() == 0 and rng.random() < 0.7:
            last = max([contract.effective_on or START, *(i.due_on for i in contract.due_items)])
            end_contract(contract, found, ContractEnd.complete, last + timedelta(days=30))

    def distribute(self, contract: TechnologyContract, found: dict[uuid.UUID, Achievement],
                   seller: Inst, receipt_id: str, gross: int, on: date) -> None:
        rng = self.rng
        policy = self.policies.get(seller.id)
        if policy is None:
            policy = self.policies[seller.id] = policy_for(seller)
        team = [("成果完成人", Decimal(100))]
        if found:
            a = next(iter(found.values()))
            team = [(i.name, i.share) for i in a.inventors]
        dist = IncomeDistribution.allocate(
            contract_id=contract.id, receipt_id=receipt_id, institution_id=seller.id, received_on=on,
            gross_fen=gross, deductions=[Deduction(DeductionCategory.tax, gross * 6 // 100)]
            if gross > 100 else [], pack=self.national, policy=policy, inventors=team)
        for key, amount in list(dist.allocated.items()):
            if key.startswith("inventor") and amount > 0 and rng.random() < 0.8:
                when = on + timedelta(days=rng.choice((30, 90, 400, 1200)))
                dist.pay_award(key, amount, when, f"{receipt_id}-{key}")
        if rng.random() < 0.5:
            dist.publish_notice(f"N-{receipt_id}", on + timedelta(days=5), on + timedelta(days=20))
        self.emit(dist)

    def ufpl(self, contract: TechnologyContract, found: dict[uuid.UUID, Achievement], effective: date) -> None:
        rng = self.rng
        contract.report_licensee_revenue(effective, effective + timedelta(days=90),
                                         self.amount() * rng.randint(0, 3), effective + timedelta(days=95))
        roll = rng.random()
        if roll < 0.25:
            end_contract(contract, found, ContractEnd.return_licence, effective + timedelta(days=200),
                         "试用后退还")
            return
        if roll < 0.35 or not contract.first_revenue_on:
            return  # still in the trial
        contract.convert_to_paid(effective + timedelta(days=120))
        item = contract.open_items()[0]
        if rng.random() < 0.1:
            contract.record_default(item.due_on + timedelta(days=30), "逾期未付")
            if rng.random() < 0.5:
                self.serial += 1
                contract.record_insurance_compensation(f"CL{self.index}-{self.serial}", "中国人保",
                                                       item.outstanding_fen, item.due_on + timedelta(days=90))
            return
        self.settle(contract, found, contract_seller(contract))

    def equity(self, contract: TechnologyContract, found: dict[uuid.UUID, Achievement], seller: Inst,
               effective: date) -> None:
        rng = self.rng
        end_contract(contract, found, ContractEnd.complete, effective + timedelta(days=15))
        first17 = f"91{seller.region}MA{self.index % 100:02d}{self.serial % 100000:05d}"[:17].ljust(17, "0")
        self.serial += 1
        code = first17 + uscc_check_char(first17)
        value = contract.contract_value_fen
        holding = open_equity_holding(
            contract, institution_id=seller.id, company=Company(f"公司 {contract.id.hex[:6]}", code),
            valuation=EquityValuation(value, ValuationMethod.income, "评估公司", effective),
            registered_capital_fen=value, shares_received=1_000_000, total_shares=3_000_000,
            contributed_on=effective + timedelta(days=15), id=ident("h", contract.id))
        on = effective + timedelta(days=60)
        if rng.random() < 0.5:
            holding.award_shares("成果完成人", 700_000, on)
        if rng.random() < 0.2:
            holding.receive_dividend("D1", value // 50 or 1, on + timedelta(days=365))
        if rng.random() < 0.1:
            holding.sell_shares("S1", 100_000, value // 5, "基金", on + timedelta(days=700))
        self.emit(holding)


_SELLERS: dict[uuid.UUID, Inst] = {}


def contract_seller(contract: TechnologyContract) -> Inst:
    if not _SELLERS:
        _SELLERS.update({i.id: i for i in _WORLD})
    return _SELLERS[contract.terms.seller_ids[0]]


def build_slice(args: tuple[int, int, int]) -> list[tuple[uuid.UUID, int, str, bytes]]:
    index, contracts, seed = args
    return Slice(index, contracts, seed).build()


# --- phases ---------------------------------------------------------------------------------


async def generate(dsn: str, contracts: int, seed: int, slice_size: int = 1000) -> int:
    world = institutions(contracts, seed)
    store = await EventStore.connect(dsn)
    try:
        await store.append(Commit(opening_events(world)))
        slices = [(i, min(slice_size, contracts - i * slice_size), seed)
                  for i in range(math.ceil(contracts / slice_size))]
        started = time.monotonic()
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(2, initializer=_init_worker, initargs=(world,)) as pool:
            for done, rows in enumerate(pool.imap(build_slice, slices), start=1):
                events = [StoredEvent(sid, version, topic, state) for sid, version, topic, state in rows]
                await store.append(Commit(events))
                if done % 10 == 0 or done == len(slices):
                    head = await store.head()
                    rate = head / (time.monotonic() - started)
                    log(f"generate: {done}/{len(slices)} slices, {head:,} events ({rate:,.0f}/s)")
        return await store.head()
    finally:
        await store.close()


def _rebuild_child(dsn: str, page_size: int, jobs: int, queue: Any) -> None:
    """In a child process: rebuild every projection; report time and peak RSS.

    With ``jobs`` > 1 the rebuild runs in worker processes of this child; the
    peak RSS reported is then the sum of every process's peak (this one's and
    each worker's), as if they had all peaked at once.
    """
    configure_logging("console", "warning")

    async def run() -> tuple[int, float, float]:
        from projections.decoding import fast_mapper
        from projections.registry import all_projections
        from projections.runner import ProjectionRunner

        store = await EventStore.connect(dsn)
        try:
            runner = ProjectionRunner(store, fast_mapper(), all_projections(), page_size=page_size)
            await runner.setup()
            last = [0.0]

            def progress(done: int, total: int) -> None:
                now = time.monotonic()
                if now - last[0] > 5:
                    last[0] = now
                    log(f"rebuild: {done:,}/{total:,} events")

            started = time.monotonic()
            head = await runner.rebuild(progress=progress, jobs=jobs)
            elapsed = time.monotonic() - started
            assert runner.failures() == {}, runner.failures()
            return head, elapsed, sum(w.peak_rss_mb for w in runner.last_rebuild_workers)
        finally:
            await store.close()

    head, elapsed, workers_mb = asyncio.run(run())
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"events": head, "seconds": elapsed, "peak_rss_mb": rss_kb / 1024 + workers_mb})


def rebuild_in_child(dsn: str, page_size: int, jobs: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_rebuild_child, args=(dsn, page_size, jobs, queue))
    child.start()
    result = queue.get()
    child.join()
    if child.exitcode:
        raise RuntimeError(f"rebuild child exited with {child.exitcode}")
    return dict(result)


def typical_queries(institution: uuid.UUID, region: str, exchange: uuid.UUID,
                    known_at: int | None = None) -> list[tuple[str, Callable[[Any], Awaitable[Any]]]]:
    """The regulators' everyday figures; with ``known_at``, the same figures as known at that position."""
    from projections import queries as q
    from projections import reports as r

    y24 = {"date_from": date(2024, 1, 1), "date_to": date(2024, 12, 31)}
    k = {"known_at": known_at}
    return [
        ("contract value by year (YoY)", lambda db: q.contract_value(db, **k, group_by=["period"])),
        ("contract value 2024 by kind", lambda db: q.contract_value(db, **k, group_by=["kind"], **y24)),
        ("contract value by quarter × kind", lambda db: q.contract_value(
            db, **k, group_by=["period", "kind"], period="quarter", date_from=date(2023, 1, 1))),
        ("contract value by seller region", lambda db: q.contract_value(db, **k, group_by=["seller_region"], **y24)),
        ("contract value by buyer size × kind", lambda db: q.contract_value(
            db, **k, group_by=["buyer_kind", "buyer_size"], **y24)),
        ("contract value by field × IP type", lambda db: q.contract_value(db, **k, group_by=["field", "ip_type"])),
        ("contract value, registration basis", lambda db: q.contract_value(
            db, **k, group_by=["period"], date_basis="registered")),
        ("contract value of one seller by month", lambda db: q.contract_value(
            db, **k, group_by=["period"], period="month", filters={"seller": institution})),
        ("contract value on one exchange", lambda db: q.contract_value(
            db, **k, group_by=["kind"], filters={"exchange": exchange})),
        ("transfer rate by region", lambda db: q.transfer_rate(db, **k, group_by=["region"])),
        ("transfer rate (register) by institution", lambda db: q.transfer_rate(
            db, **k, formula="transferred_over_separate_register", group_by=["institution"])),
        ("patent transfer rate by year", lambda db: q.transfer_rate(
            db, **k, formula="patents_assigned_plus_licensed_over_granted", group_by=["period"])),
        ("local transfer rate, one region by field", lambda db: q.transfer_rate(
            db, **k, formula="local_transfer_rate", group_by=["field"], filters={"region": region})),
        ("UFPL funnel by year", lambda db: q.ufpl_funnel(db, **k, group_by=["period"])),
        ("UFPL funnel by region", lambda db: q.ufpl_funnel(db, **k, group_by=["region"])),
        ("receivables by ageing bucket", lambda db: q.receivables(db, **k, as_of=date(2025, 6, 30), group_by=["bucket"])),
        ("receivables of one institution by contract", lambda db: q.receivables(
            db, **k, as_of=date(2025, 6, 30), group_by=["contract"], institution_id=institution)),
        ("distribution audit (regulator, anonymised)", lambda db: q.distribution_audit(
            db, **k, as_of=date(2025, 6, 30), group_by="inventor", anonymise=True)),
        ("annual report of one institution", lambda db: r.annual_report(db, **k, institution_id=institution, year=2024)),
        ("AUTM summary 2024", lambda db: r.autm_report(db, **k, year=2024)),
    ]


def restatement_queries(institution: uuid.UUID, known_at: int) -> list[tuple[str, Callable[[Any], Awaitable[Any]]]]:
    """The restatement report of 2025-06-30 between ``known_at`` and the head."""
    from projections.restatement import restatement

    async def between(db: Any, institution_id: uuid.UUID | None) -> Any:
        head = int(await db.fetchval("SELECT position FROM log_head"))
        return await restatement(db, as_of=date(2025, 6, 30), from_known_at=known_at, to_known_at=head,
                                 institution_id=institution_id)

    return [("restatement of one institution", lambda db: between(db, institution)),
            ("restatement of every institution", lambda db: between(db, None))]


def list_queries(institution: uuid.UUID, exchange: uuid.UUID) -> list[tuple[str, Callable[[Any], Awaitable[Any]]]]:
    """What the people who record and the regulators do all day: lists, searches, work queues (issue 13)."""
    from projections import lists as li
    from projections import queues as wq
    from projections import record_lists as rl

    admin, regulator = li.Viewer("admin"), li.Viewer("regulator")
    office, desk = li.Viewer("institution", institution), li.Viewer("operator", exchange)
    first = li.Page("-drafted_on")

    cursors: dict[str, str | None] = {}

    async def fifth_page(db: Any) -> Any:  # the warm-up walks four pages on; the runs read the fifth
        if "fifth" not in cursors:
            page = await li.list_contracts(db, office, li.Page("-signed_on", limit=50))
            for _ in range(3):
                page = await li.list_contracts(db, office, li.Page("-signed_on", page["next_cursor"], 50))
            cursors["fifth"] = page["next_cursor"]
        return await li.list_contracts(db, office, li.Page("-signed_on", cursors["fifth"], 50))

    return [
        ("list: contracts, admin, first page", lambda db: li.list_contracts(db, admin, first)),
        ("list: contracts of one institution", lambda db: li.list_contracts(db, office, first)),
        ("list: contracts of one exchange", lambda db: li.list_contracts(db, desk, first)),
        ("list: registered 2024 by value (regulator)", lambda db: li.list_contracts(
            db, regulator, li.Page("-contract_value_fen"), signed_from=date(2024, 1, 1), signed_to=date(2024, 12, 31))),
        ("list: page 5 (cursor), one institution", fifth_page),
        ("search: contracts 固态锂电池 (admin)", lambda db: li.list_contracts(db, admin, first, q="固态锂电池")),
        ("search: contracts 碳化硅 (one institution)", lambda db: li.list_contracts(db, office, first, q="碳化硅")),
        ("search: contracts 3-12 (admin, rare)", lambda db: li.list_contracts(db, admin, first, q="技术合同 3-12")),
        ("search: achievements 量子点 (admin)", lambda db: li.list_achievements(
            db, admin, li.Page("-registered_on"), q="量子点")),
        ("list: overdue contracts of one institution", lambda db: li.list_contracts(
            db, office, first, overdue_as_of=date(2025, 6, 30))),
        ("list: overdue due items of one institution", lambda db: rl.list_due_items(
            db, office, li.Page("due_on"), overdue_as_of=date(2025, 6, 30))),
        ("list: receipts of one institution, 2024", lambda db: rl.list_receipts(
            db, office, li.Page("-received_on"), received_from=date(2024, 1, 1), received_to=date(2024, 12, 31))),
        ("list: unpaid award lines of one institution", lambda db: rl.list_distribution_lines(
            db, office, li.Page("deadline_on"), unpaid=True)),
        ("list: distributions, regulator", lambda db: rl.list_distributions(db, regulator, li.Page("-received_on"))),
        ("list: listings in force on one exchange", lambda db: rl.list_listings(
            db, desk, li.Page("-listed_on"), exchange=exchange, in_force=True)),
        ("list: registrations, regulator", lambda db: rl.list_registrations(
            db, regulator, li.Page("-registered_on"))),
        ("work queues of one institution", lambda db: wq.work_queues(
            db, as_of=date(2025, 6, 30), within_days=30, scope=wq.Scope(institution_id=institution))),
        ("work queues of one exchange", lambda db: wq.work_queues(
            db, as_of=date(2025, 6, 30), within_days=30, scope=wq.Scope(exchange_id=exchange))),
        ("work queues, admin (100 per queue)", lambda db: wq.work_queues(
            db, as_of=date(2025, 6, 30), within_days=30)),
    ]


async def time_queries(dsn: str, runs: int = 10) -> list[dict[str, Any]]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        busiest = await pool.fetchrow(
            "SELECT seller_id, seller_region FROM ct_contracts WHERE seller_kind = 'university' "
            "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1")
        exchange = await pool.fetchval(
            "SELECT x FROM ct_achievements, unnest(exchange_ids) x GROUP BY x ORDER BY count(*) DESC LIMIT 1")
        await pool.execute("ANALYZE")
        # As known at a position with a tenth of the log recorded after it: figures published
        # and read again after more was recorded (issue 23: point-in-time truth).
        head = int(await pool.fetchval("SELECT position FROM log_head"))
        known_at = head * 9 // 10
        results = []
        groups = [("statistics", typical_queries(busiest["seller_id"], busiest["seller_region"], exchange)),
                  ("known_at", typical_queries(busiest["seller_id"], busiest["seller_region"], exchange, known_at)),
                  ("lists", list_queries(busiest["seller_id"], exchange)),
                  ("restatement", restatement_queries(busiest["seller_id"], known_at))]
        for group, name, query in ((g, n, f) for g, named in groups for n, f in named):
            await query(pool)  # warm-up
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                await query(pool)
                times.append((time.perf_counter() - started) * 1000)
            results.append({"query": name, "group": group, "times_ms": times, "median_ms": statistics.median(times)})
        return results
    finally:
        await pool.close()


async def _has_events(dsn: str) -> bool:
    try:
        return await _event_count(dsn) > 0
    except (asyncpg.InvalidCatalogNameError, asyncpg.UndefinedTableError):
        return False


async def _event_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events"))
    finally:
        await conn.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def table_sizes(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        from projections.registry import all_projections

        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}"))
                for p in all_projections() for t in p.tables}
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=None,
                        help="rebuild worker processes (default as `ttledger rebuild`: half the CPUs, "
                        "at most 4); above 1, the single-process rebuild runs too, as a baseline")
    parser.add_argument("--no-baseline", action="store_true",
                        help="with --jobs > 1: skip the single-process rebuild it is compared with")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per query")
    parser.add_argument("--dsn", default=None, help="an existing server's maintenance DSN")
    parser.add_argument("--database", default=None,
                        help="with --dsn: reuse this database (generated by an earlier run) instead of "
                             "generating a new one, and keep it")
    parser.add_argument("--queries-only", action="store_true",
                        help="with --database: skip the rebuild and time the queries only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.jobs is None:
        from projections.parallel import default_jobs

        args.jobs = default_jobs()
    configure_logging("console", "warning")
    root = Path(tempfile.mkdtemp(prefix="ttledger-bench-stats-"))
    server = None
    try:
        if args.dsn:
            base = args.dsn
        else:
            server = EmbeddedPostgres(root).start()
            base = server.uri("postgres")
        name = args.database or f"bench_stats_{uuid.uuid4().hex[:8]}"
        reuse = bool(args.database and args.dsn and asyncio.run(_has_events(dsn_for_database(base, name))))
        asyncio.run(ensure_database(base, name))
        dsn = dsn_for_database(base, name)

        async def prepare() -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()

        asyncio.run(prepare())
        started = time.monotonic()
        if reuse:
            events = asyncio.run(_event_count(dsn))
            generate_s = 0.0
            log(f"reusing {name}: {events:,} events")
        else:
            events = asyncio.run(generate(dsn, args.contracts, args.seed))
            generate_s = time.monotonic() - started
            log(f"generated {events:,} events for {args.contracts:,} contracts in {generate_s:.0f}s")
        if args.queries_only and reuse:
            rebuild = {"events": events, "seconds": math.nan, "peak_rss_mb": math.nan}
        else:
            rebuild = rebuild_in_child(dsn, args.page_size, args.jobs)
            if args.jobs > 1 and not args.no_baseline:
                # The same rebuild in one process, on the same machine in the same run: the
                # baseline the parallel rebuild is compared with.
                single = rebuild_in_child(dsn, args.page_size, 1)
                rebuild["single_events_per_s"] = single["events"] / single["seconds"]
                rebuild["single_peak_rss_mb"] = single["peak_rss_mb"]
        rate = rebuild["events"] / rebuild["seconds"]
        log(f"rebuild: {rebuild['events']:,} events in {rebuild['seconds']:.1f}s ({rate:,.0f}/s)")
        sizes = asyncio.run(table_sizes(dsn))
        queries = asyncio.run(time_queries(dsn, args.runs))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)

    every = [t for q in queries if q["group"] == "statistics" for t in q["times_ms"]]
    p50, p95 = percentile(every, 0.5), percentile(every, 0.95)
    listed = [t for q in queries if q["group"] == "lists" for t in q["times_ms"]]
    lists_p50, lists_p95 = percentile(listed, 0.5), percentile(listed, 0.95)
    known = [t for q in queries if q["group"] == "known_at" for t in q["times_ms"]]
    known_p50, known_p95 = percentile(known, 0.5), percentile(known, 0.95)
    n_stats = sum(q["group"] == "statistics" for q in queries)
    n_lists = sum(q["group"] == "lists" for q in queries)
    print(f"dataset: {args.contracts:,} contracts, {events:,} events (generated in {generate_s:.0f}s, "
          "no journal postings)")
    print(f"projection rows: {sum(sizes.values()):,} ({', '.join(f'{k} {v:,}' for k, v in sizes.items())})")
    print()
    print(f"{'measure':58} {'value':>14} {'target':>12}")
    print(f"{'rebuild, all projections (events/s)':58} {rate:>14,.0f} {'>= 20,000':>12}")
    print(f"{'rebuild time (s)':58} {rebuild['seconds']:>14.1f} {'':>12}")
    print(f"{'rebuild worker processes (--jobs)':58} {args.jobs:>14} {'':>12}")
    if "single_events_per_s" in rebuild:
        single = rebuild["single_events_per_s"]
        print(f"{'baseline: the same rebuild in one process (events/s)':58} {single:>14,.0f} {'':>12}")
        print(f"{'parallel / one process':58} {rate / single:>14.2f} {'':>12}")
    print(f"{'rebuild peak RSS (MB, child process)':58} {rebuild['peak_rss_mb']:>14.0f} {'< 500':>12}")
    print(f"{f'statistics query p50 (ms, {n_stats} queries x {args.runs} runs)':58} {p50:>14.1f} {'':>12}")
    print(f"{'statistics query p95 (ms)':58} {p95:>14.1f} {'< 50':>12}")
    print(f"{'the same statistics with known_at (90% of the log) p50 (ms)':58} {known_p50:>14.1f} {'':>12}")
    print(f"{'the same statistics with known_at p95 (ms)':58} {known_p95:>14.1f} {'< 100':>12}")
    print(f"{'known_at p95 / without known_at p95':58} {known_p95 / p95:>14.2f} {'':>12}")
    print(f"{f'list, search and queue p50 (ms, {n_lists} queries x {args.runs} runs)':58} {lists_p50:>14.1f} "
          f"{'':>12}")
    print(f"{'list, search and queue p95 (ms)':58} {lists_p95:>14.1f} {'< 50':>12}")
    print()
    print(f"{'query':58} {'median ms':>10} {'max ms':>8}")
    for q in queries:
        name = q["query"] + (" [known_at]" if q["group"] == "known_at" else "")
        print(f"{name[:58]:58} {q['median_ms']:>10.1f} {max(q['times_ms']):>8.1f}")
    if args.json:
        print(json.dumps({
            "contracts": args.contracts,
            "events": events,
            "generate_s": round(generate_s, 1),
            "rebuild_s": round(rebuild["seconds"], 2),
            "rebuild_jobs": args.jobs,
            "rebuild_single_process_events_per_s": round(rebuild.get("single_events_per_s", rate)),
            "rebuild_events_per_s": round(rate),
            "rebuild_peak_rss_mb": round(rebuild["peak_rss_mb"], 1),
            "query_p50_ms": round(p50, 2),
            "query_p95_ms": round(p95, 2),
            "known_at_p50_ms": round(known_p50, 2),
            "known_at_p95_ms": round(known_p95, 2),
            "lists_p50_ms": round(lists_p50, 2),
            "lists_p95_ms": round(lists_p95, 2),
            "queries": [{"query": q["query"], "group": q["group"], "median_ms": round(q["median_ms"], 2),
                         "p95_ms": round(percentile(q["times_ms"], 0.95), 2)} for q in queries],
            "projection_rows": sizes,
        }))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
