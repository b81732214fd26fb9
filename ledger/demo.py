"""The demo dataset: a small, realistic technology-transfer market, loaded through commands.

Universities in five provinces under their own rule packs (Beijing,
Shanghai, Zhejiang, Shandong; Shaanxi and Sichuan on the national pack),
three exchanges and a dozen small firms; contracts of every kind, including
use-first-pay-later trials that convert and one that is returned, an equity
contribution with dividends and a share sale, installments that are overdue
or deferred, and distributions with award payments.

Every command goes through the bus with an idempotency key and
deterministic ids, so loading twice writes nothing the second time. Amounts
echo DOMAIN.md's reference figures at a small scale (amounts in fen).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog
from pydantic import BaseModel

from domain.equity import uscc_check_char
from ledger.actor import Actor, current_actor
from ledger.bus import MessageBus
from ledger.commands import achievement as ach
from ledger.commands import contract as con
from ledger.commands import distribution as dist
from ledger.commands import equity as eq
from ledger.commands import institution as inst

log = structlog.get_logger(__name__)

DEMO_VERSION = "demo-v1"
WAN = 10_000 * 100  # 1万元 in fen
D = date.fromisoformat


def demo_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"https://ttledger.dev/{DEMO_VERSION}/{name}")


@dataclass
class DemoLoader:
    bus: MessageBus
    progress: Callable[[int, int], None] | None = None
    sent: int = 0
    written: int = 0
    ids: dict[str, UUID] = field(default_factory=dict)

    async def run(self, command: BaseModel) -> dict[str, Any]:
        self.sent += 1
        outcome = await self.bus.handle(command, idempotency_key=f"{DEMO_VERSION}:{self.sent}")
        if not outcome.replayed:
            self.written += 1
        if self.progress is not None:
            self.progress(self.sent, TOTAL_COMMANDS_ESTIMATE)
        return outcome.result

    # --- building blocks ------------------------------------------------------------------

    async def institution(self, key: str, **fields: Any) -> UUID:
        self.ids[key] = demo_id(key)
        await self.run(inst.RegisterInstitution(id=self.ids[key], **fields))
        return self.ids[key]

    async def achievement(self, key: str, owner: str, inventors: list[tuple[str, str]], **fields: Any) -> UUID:
        self.ids[key] = demo_id(key)
        await self.run(ach.RegisterAchievement(
            id=self.ids[key], owners=[ach.OwnerIn(institution_id=self.ids[owner], share="100")],
            inventors=[ach.InventorIn(name=n, share=s) for n, s in inventors], **fields))
        return self.ids[key]

    async def contract(self, key: str, drafted_on: str, **terms: Any) -> UUID:
        self.ids[key] = demo_id(key)
        terms["seller_ids"] = [self.ids[s] for s in terms["seller_ids"]]
        terms["buyer_id"] = self.ids[terms["buyer_id"]]
        terms["achievement_ids"] = [self.ids[a] for a in terms.get("achievement_ids", [])]
        await self.run(con.DraftContract.model_validate(
            {"id": self.ids[key], "terms": terms, "drafted_on": drafted_on}))
        return self.ids[key]

    async def sign_register_effect(self, key: str, signed: str, effective: str, registered: str | None,
                                   category: str, registered_value_fen: int) -> None:
        cid = self.ids[key]
        await self.run(con.SignContract(contract_id=cid, on=D(signed)))
        if registered is not None:
            await self.run(con.RegisterContract.model_validate({"contract_id": cid, "registration": {
                "registry": "技术合同登记机构", "registration_number": f"{registered[:4]}{demo_id(key).int % 10**12:012d}",
                "approved_category": category, "approved_transaction_value_fen": registered_value_fen,
                "registered_on": registered}}))
        await self.run(con.TakeEffect(contract_id=cid, on=D(effective)))

    async def pay(self, key: str, payment_id: str, amount_fen: int, on: str, **extra: Any) -> None:
        await self.run(con.RecordPayment(contract_id=self.ids[key], payment_id=payment_id,
                                         amount_fen=amount_fen, received_on=D(on), **extra))

    async def distribute(self, key: str, receipt_id: str, paid_on: str, pay_share: float = 1.0) -> None:
        """Allocate a receipt and pay the inventors' awards (all, or a first part)."""
        result = await self.run(dist.AllocateReceipt(contract_id=self.ids[key], receipt_id=receipt_id))
        distribution_id = UUID(result["id"])
        # Award payment ids number the lines: an id a recorder types never carries a person's name.
        for n, (line_key, amount) in enumerate(sorted(result["lines"].items()), start=1):
            if line_key.startswith("inventor:") and amount > 0:
                part = amount if pay_share >= 1 else int(amount * 100 * pay_share) // 100
                if part:
                    await self.run(dist.PayAward(distribution_id=distribution_id, key=line_key, amount_fen=part,
                                                 paid_on=D(paid_on), payment_id=f"AW-{receipt_id}-{n}"))


TOTAL_COMMANDS_ESTIMATE = 180


async def load_demo(bus: MessageBus, progress: Callable[[int, int], None] | None = None) -> DemoLoader:
    """Load the demo dataset; a second call writes nothing. Its events name the system actor ``demo``."""
    d = DemoLoader(bus, progress)
    token = current_actor.set(Actor.system("demo"))
    try:
        await _institutions(d)
        await _policies(d)
        await _achievements(d)
        await _assignments(d)
        await _licences(d)
        await _ufpl(d)
        await _equity(d)
        await _services(d)
    finally:
        current_actor.reset(token)
    log.info("demo_loaded", commands=d.sent, written=d.written)
    return d


async def _institutions(d: DemoLoader) -> None:
    for key, name, region, pack in [
        ("pku", "北京示范大学", "110000", "beijing"),
        ("sjtu", "上海示范交通大学", "310000", "shanghai"),
        ("zju", "浙江示范大学", "330000", "zhejiang"),
        ("sdu", "山东示范大学", "370000", "shandong"),
        ("xjtu", "西安示范交通大学", "610000", "national"),
    ]:
        await d.institution(key, name=name, kind="university", region=region, public=True, rule_pack=pack,
                            registered_on=D("2015-01-01"))
    await d.institution("cas-sc", name="四川示范研究院", kind="research_institute", region="510000",
                        public=True, registered_on=D("2015-01-01"))
    for key, name, region in [("ctex", "中国技术交易所", "110000"), ("stex", "上海技术交易所", "310000"),
                              ("xatm", "西安科技大市场", "610000")]:
        await d.institution(key, name=name, kind="exchange", region=region, registered_on=D("2010-01-01"))
    for key, name, region, size in [
        ("f-bj1", "北京微纳传感科技有限公司", "110000", "small"),
        ("f-bj2", "北京绿源环保科技有限公司", "110000", "micro"),
        ("f-sh1", "上海新材智造有限公司", "310000", "medium"),
        ("f-sh2", "上海启明医疗器械有限公司", "310000", "small"),
        ("f-zj1", "杭州云端数据有限公司", "330000", "small"),
        ("f-zj2", "宁波精工机械有限公司", "330000", "micro"),
        ("f-sd1", "济南海洋生物科技有限公司", "370000", "small"),
        ("f-sx1", "西安秦创新能源有限公司", "610000", "micro"),
        ("f-sx2", "咸阳先进制造有限公司", "610000", "small"),
        ("f-sc1", "成都智农科技有限公司", "510000", "micro"),
        ("f-gd1", "深圳大湾区电子有限公司", "440000", "large"),
        ("f-js1", "苏州纳米材料有限公司", "320000", "medium"),
    ]:
        await d.institution(key, name=name, kind="enterprise", size=size, region=region,
                            registered_on=D("2018-01-01"))


async def _policies(d: DemoLoader) -> None:
    splits = {
        "pku": {"inventor_team": 70, "department": 15, "institution": 15},
        "sjtu": {"inventor_team": 70, "department": 10, "institution": 10, "tto": 10},
        "zju": {"inventor_team": 75, "institution": 15, "transformation_fund": 10},
        "sdu": {"inventor_team": 70, "tto": 10, "institution": 20},
        "xjtu": {"inventor_team": 70, "department": 15, "institution": 15},
        "cas-sc": {"inventor_team": 60, "institution": 30, "transformation_fund": 10},
    }
    for key, cash in splits.items():
        await d.run(dist.AdoptDistributionPolicy(
            institution_id=d.ids[key], version_label="2022版", effective_from=D("2022-01-01"),
            cash_split=cash, equity_split={"inventor_team": 80, "institution": 20}))


async def _achievements(d: DemoLoader) -> None:
    team2 = [("王明", "60"), ("刘芳", "40")]
    team3 = [("陈刚", "50"), ("赵丽", "30"), ("孙伟", "20")]
    specs = [
        ("a-sensor", "pku", "MEMS 气体传感器阵列", "invention_patent", "electronic_information", team3),
        ("a-membrane", "pku", "工业废水膜分离技术", "invention_patent", "environmental_protection", team2),
        ("a-alloy", "sjtu", "高强韧铝合金制备方法", "invention_patent", "new_materials", team3),
        ("a-stent", "sjtu", "可降解心血管支架", "invention_patent", "biomedicine", team2),
        ("a-edge", "zju", "边缘计算调度软件", "software_copyright", "electronic_information", team2),
        ("a-gear", "zju", "精密减速器齿形设计", "utility_model", "advanced_manufacturing", team3),
        ("a-algae", "sdu", "海洋微藻提取工艺", "technical_secret", "biomedicine", team2),
        ("a-battery", "xjtu", "固态锂电池电解质", "invention_patent", "new_energy_and_energy_saving", team3),
        ("a-turbine", "xjtu", "小型燃气轮机控制系统", "invention_patent", "advanced_manufacturing", team2),
        ("a-drone", "xjtu", "植保无人机路径规划", "software_copyright", "agriculture", team2),
        ("a-seed", "cas-sc", "抗旱水稻新品种", "plant_variety", "agriculture", team3),
        ("a-coating", "cas-sc", "耐高温涂层材料", "invention_patent", "new_materials", team2),
    ]
    numbers = {"invention_patent": "ZL2022{:08d}.X", "utility_model": "ZL2023{:08d}.5",
               "software_copyright": "2023SR{:07d}", "plant_variety": "CNA2022{:05d}.8"}
    for i, (key, owner, title, ip_type, technology_field, team) in enumerate(specs):
        number = numbers.get(ip_type)
        granted = ip_type in ("invention_patent", "utility_model")
        await d.achievement(key, owner, team, title=title, ip_type=ip_type, technology_field=technology_field,
                            registered_on=D("2022-06-01"),
                            official_number=number.format(i + 1) if number else None,
                            granted_on=D("2022-05-01") if granted else None)
        await d.run(ach.RecordValuation(achievement_id=d.ids[key], method="market", amount_fen=(50 + 30 * i) * WAN,
                                        valued_on=D("2022-09-01"), assessor="中联资产评估集团"))
    for key in ("a-sensor", "a-membrane", "a-battery", "a-turbine", "a-drone", "a-coating"):
        await d.run(ach.EnterSeparateRegister(achievement_id=d.ids[key], on=D("2022-07-01")))
    # Listings; the battery electrolyte is listed jointly on two exchanges (counted once).
    for key, exchange, number, price in [
        ("a-sensor", "ctex", "CTEX-2023-0101", 200), ("a-membrane", "ctex", "CTEX-2023-0102", 80),
        ("a-alloy", "stex", "STEX-2023-1001", 300), ("a-stent", "stex", "STEX-2023-1002", 500),
        ("a-battery", "xatm", "XATM-2023-0007", 400), ("a-battery", "stex", "STEX-2023-1003", 400),
        ("a-turbine", "xatm", "XATM-2023-0008", 150), ("a-drone", "xatm", "XATM-2023-0009", 20),
        ("a-gear", "stex", "STEX-2023-1004", 60), ("a-seed", "xatm", "XATM-2023-0010", 30),
    ]:
        await d.run(ach.ListOnExchange(achievement_id=d.ids[key], exchange_id=d.ids[exchange],
                                       listing_number=number, listed_on=D("2023-01-15"),
                                       asking_price_fen=price * WAN))


def _installments(total_wan: int, parts: list[tuple[int, str]]) -> dict[str, Any]:
    assert sum(p for p, _ in parts) == total_wan
    return {"fixed_price_fen": total_wan * WAN,
            "installments": [{"amount_fen": p * WAN, "due_on": on} for p, on in parts]}


async def _assignments(d: DemoLoader) -> None:
    # Beijing: assignment in three installments; the last one deferred, the second overdue.
    await d.contract("c-sensor", "2023-03-01", kind="assignment", title="MEMS 气体传感器专利权转让",
                     seller_ids=["pku"], buyer_id="f-bj1", achievement_ids=["a-sensor"],
                     contract_value_fen=180 * WAN, transaction_value_fen=180 * WAN,
                     payment_terms=_installments(180, [(60, "2023-04-01"), (60, "2024-04-01"), (60, "2025-04-01")]))
    await d.sign_register_effect("c-sensor", "2023-03-10", "2023-03-15", "2023-03-20", "assignment", 180 * WAN)
    await d.pay("c-sensor", "BJ-2023-0401", 60 * WAN, "2023-04-03")
    await d.run(dist.RecordDeduction(subject_id=d.ids["c-sensor"], reference="TAX-S1", category="tax",
                                     amount_fen=3 * WAN, incurred_on=D("2023-04-10"), description="增值税及附加"))
    await d.run(dist.RecordDeduction(subject_id=d.ids["a-sensor"], reference="FEE-S1", category="maintenance",
                                     amount_fen=12_000 * 100, incurred_on=D("2023-01-10"), description="专利年费",
                                     institution_id=d.ids["pku"]))
    await d.distribute("c-sensor", "BJ-2023-0401", "2023-06-30")
    await d.run(con.DeferDueItems(contract_id=d.ids["c-sensor"], new_due_dates={"installment-3": D("2026-04-01")},
                                  approver="技术转移中心主任", reason="买方产线延期投产", decided_on=D("2025-03-01")))
    # Shanghai: lump-sum assignment of the alloy patent, paid in full.
    await d.contract("c-alloy", "2023-05-01", kind="assignment", title="高强韧铝合金专利转让",
                     seller_ids=["sjtu"], buyer_id="f-sh1", achievement_ids=["a-alloy"],
                     contract_value_fen=320 * WAN, transaction_value_fen=300 * WAN,
                     payment_terms=_installments(320, [(320, "2023-06-30")]))
    await d.sign_register_effect("c-alloy", "2023-05-10", "2023-05-20", "2023-06-01", "assignment", 300 * WAN)
    await d.pay("c-alloy", "SH-2023-0630", 320 * WAN, "2023-06-28")
    await d.distribute("c-alloy", "SH-2023-0630", "2023-09-30", pay_share=0.5)
    # Shaanxi: turbine control system; 2025 installment left unpaid (overdue).
    await d.contract("c-turbine", "2024-02-01", kind="assignment", title="燃气轮机控制系统技术转让",
                     seller_ids=["xjtu"], buyer_id="f-sx2", achievement_ids=["a-turbine"],
                     contract_value_fen=150 * WAN, transaction_value_fen=150 * WAN,
                     payment_terms=_installments(150, [(50, "2024-03-01"), (100, "2025-03-01")]))
    await d.sign_register_effect("c-turbine", "2024-02-10", "2024-02-15", "2024-02-20", "assignment", 150 * WAN)
    await d.pay("c-turbine", "SX-2024-0301", 50 * WAN, "2024-03-05")
    await d.distribute("c-turbine", "SX-2024-0301", "2024-05-01")


async def _licences(d: DemoLoader) -> None:
    # Shanghai: exclusive licence of the stent with entry fee and a sales royalty; registration corrected.
    await d.contract("c-stent", "2024-01-05", kind="licence", title="可降解支架独占许可",
                     seller_ids=["sjtu"], buyer_id="f-sh2", achievement_ids=["a-stent"],
                     contract_value_fen=500 * WAN, transaction_value_fen=450 * WAN,
                     licence={"licence_type": "exclusive", "territory": "CN", "term_start": "2024-02-01",
                              "term_end": "2034-01-31"},
                     payment_terms={"entry_fee": {"amount_fen": 100 * WAN, "due_on": "2024-03-01"},
                                    "royalty": {"base": "sales", "tiering": "fixed",
                                                "tiers": [{"threshold": 0, "rate": "0.03"}],
                                                "reporting_period": "year", "minimum_annual_fen": 10 * WAN}})
    await d.sign_register_effect("c-stent", "2024-01-15", "2024-02-01", "2024-01-25", "licence", 400 * WAN)
    await d.run(con.CorrectRegistration.model_validate({
        "contract_id": d.ids["c-stent"], "corrected_on": "2024-03-15", "reason": "补正：技术交易额核定有误",
        "registration": {"registry": "上海市技术合同认定登记中心", "registration_number": "2024310000000777",
                         "approved_category": "licence", "approved_transaction_value_fen": 450 * WAN,
                         "registered_on": "2024-01-25"}}))
    await d.pay("c-stent", "SH-2024-0301", 100 * WAN, "2024-03-01")
    await d.run(con.ReportRoyalty(contract_id=d.ids["c-stent"], period_start=D("2024-02-01"),
                                  period_end=D("2025-01-31"), base_fen=2_000 * WAN, reported_on=D("2025-02-10")))
    await d.pay("c-stent", "SH-2025-0301", 60 * WAN, "2025-03-01")
    await d.distribute("c-stent", "SH-2024-0301", "2024-06-30")
    await d.distribute("c-stent", "SH-2025-0301", "2025-06-30", pay_share=0.0)
    # Zhejiang: non-exclusive software licences to two firms.
    for n, buyer, value in [(1, "f-zj1", 40), (2, "f-gd1", 90)]:
        key = f"c-edge-{n}"
        await d.contract(key, "2024-06-01", kind="licence", title=f"边缘计算调度软件普通许可 {n}",
                         seller_ids=["zju"], buyer_id=buyer, achievement_ids=["a-edge"],
                         contract_value_fen=value * WAN, transaction_value_fen=value * WAN,
                         licence={"licence_type": "non_exclusive", "term_start": "2024-07-01",
                                  "term_end": "2027-06-30"},
                         payment_terms=_installments(value, [(value, "2024-07-31")]))
        await d.sign_register_effect(key, "2024-06-20", "2024-07-01", "2024-07-05", "licence", value * WAN)
        await d.pay(key, f"ZJ-2024-{n}", value * WAN, "2024-07-30")
        await d.distribute(key, f"ZJ-2024-{n}", "2024-10-31")
    await d.run(dist.RecordDeduction(subject_id=d.ids["c-edge-2"], reference="FISCAL-1", category="fiscal_rnd_funds",
                                     amount_fen=20 * WAN, incurred_on=D("2024-08-01"),
                                     description="财政科研经费（浙江不计为成本）"))


async def _ufpl(d: DemoLoader) -> None:
    # Shaanxi UFPL: three trials to small firms; two convert, one is returned.
    trials = [
        ("c-ufpl-battery", "a-battery", "f-sx1", 120, "first_revenue"),
        ("c-ufpl-drone", "a-drone", "f-sc1", 30, "date"),
        ("c-ufpl-seed", "a-seed", "f-sc1", 25, "milestone"),
    ]
    for key, achievement, buyer, value, trigger in trials:
        seller = "xjtu" if achievement != "a-seed" else "cas-sc"
        triggers = {"first_revenue": [{"kind": "first_revenue"}],
                    "date": [{"kind": "date", "on": "2025-01-01"}],
                    "milestone": [{"kind": "milestone", "milestone": "田间试验通过"}]}[trigger]
        await d.contract(key, "2024-01-10", kind="ufpl_licence", title=f"先使用后付费许可：{achievement}",
                         seller_ids=[seller], buyer_id=buyer, achievement_ids=[achievement],
                         contract_value_fen=value * WAN, transaction_value_fen=value * WAN,
                         licence={"licence_type": "non_exclusive", "term_start": "2024-02-01",
                                  "term_end": "2029-01-31"},
                         ufpl={"trial_scope": "中试线试用", "trial_end_on": "2025-01-31", "triggers": triggers},
                         payment_terms={"fixed_price_fen": value * WAN, "installments": [
                             {"amount_fen": value * WAN // 2, "days_after_start": 30},
                             {"amount_fen": value * WAN - value * WAN // 2, "days_after_start": 395}]})
        await d.sign_register_effect(key, "2024-01-20", "2024-02-01", "2024-01-25", "licence", value * WAN)
    battery = d.ids["c-ufpl-battery"]
    await d.run(con.ReportLicenseeRevenue(contract_id=battery, period_start=D("2024-02-01"),
                                          period_end=D("2024-06-30"), revenue_fen=380 * WAN,
                                          reported_on=D("2024-07-10")))
    await d.run(con.ConvertToPaid(contract_id=battery, on=D("2024-07-15")))
    await d.pay("c-ufpl-battery", "SX-UFPL-0814", 60 * WAN, "2024-08-14")
    await d.distribute("c-ufpl-battery", "SX-UFPL-0814", "2024-12-01")
    await d.run(con.ReportLicenseeRevenue(contract_id=d.ids["c-ufpl-drone"], period_start=D("2024-02-01"),
                                          period_end=D("2024-12-31"), revenue_fen=95 * WAN,
                                          reported_on=D("2025-01-10")))
    await d.run(con.ConvertToPaid(contract_id=d.ids["c-ufpl-drone"], on=D("2025-01-02")))
    await d.run(con.RecordDefault(contract_id=d.ids["c-ufpl-drone"], on=D("2025-03-15"),
                                  description="首期款逾期未付"))
    await d.run(con.RecordInsuranceCompensation(contract_id=d.ids["c-ufpl-drone"], claim_id="PICC-2025-001",
                                                insurer="中国人保财险", amount_fen=15 * WAN, paid_on=D("2025-04-01")))
    await d.run(con.EndContract(contract_id=d.ids["c-ufpl-seed"], end="return_licence", on=D("2025-01-31"),
                                reason="田间试验未达预期，按约定无偿退回"))


_USCC = "91320594MA1NPQ8K3" + uscc_check_char("91320594MA1NPQ8K3")


async def _equity(d: DemoLoader) -> None:
    await d.contract("c-coating", "2023-08-01", kind="equity_contribution", title="耐高温涂层作价入股",
                     seller_ids=["cas-sc"], buyer_id="f-js1", achievement_ids=["a-coating"],
                     contract_value_fen=600 * WAN, transaction_value_fen=600 * WAN)
    # 作价投资 contracts are registered in the assignment category (技术转让).
    await d.sign_register_effect("c-coating", "2023-08-10", "2023-09-01", "2023-08-20", "assignment",
                                 600 * WAN)
    d.ids["h-coating"] = demo_id("h-coating")
    await d.run(eq.RecordEquityContribution.model_validate({
        "id": d.ids["h-coating"], "contract_id": d.ids["c-coating"], "institution_id": d.ids["cas-sc"],
        "company": {"name": "苏州纳米材料有限公司", "unified_social_credit_code": _USCC},
        "valuation": {"amount_fen": 600 * WAN, "method": "income", "assessor": "四川天健资产评估",
                      "valued_on": "2023-07-15"},
        "registered_capital_fen": 600 * WAN, "shares_received": 6_000_000, "total_shares": 30_000_000,
        "contributed_on": "2023-09-10"}))
    holding = d.ids["h-coating"]
    for inventor, shares in (("陈刚", 2_400_000), ("赵丽", 1_440_000), ("孙伟", 960_000)):
        await d.run(eq.AwardShares(holding_id=holding, inventor=inventor, shares=shares, awarded_on=D("2023-10-01")))
    await d.run(eq.ReceiveDividend(holding_id=holding, dividend_id="DIV-2024", amount_fen=18 * WAN,
                                   received_on=D("2024-06-30")))
    await d.run(eq.RecordDilution(holding_id=holding, new_total_shares=40_000_000, on=D("2024-09-01"),
                                  reason="A 轮融资增资扩股"))
    await d.run(eq.SellShares(holding_id=holding, sale_id="SALE-2025-01", shares=600_000, proceeds_fen=96 * WAN,
                              buyer="苏州产业投资基金", sold_on=D("2025-05-20")))


async def _services(d: DemoLoader) -> None:
    names = {"development": "技术开发合同", "consulting": "技术咨询合同", "service": "技术服务合同"}
    for key, kind, seller, buyer, value, on in [
        ("c-dev-1", "development", "sdu", "f-sd1", 85, "2024-04-01"),
        ("c-consult-1", "consulting", "zju", "f-zj2", 12, "2024-09-01"),
        ("c-service-1", "service", "pku", "f-bj2", 28, "2025-02-01"),
        ("c-dev-2", "development", "sjtu", "f-sh1", 210, "2025-05-01"),
    ]:
        start = D(on)
        await d.contract(key, on, kind=kind, title=f"{names[kind]} {key}",
                         seller_ids=[seller], buyer_id=buyer, contract_value_fen=value * WAN,
                         transaction_value_fen=value * WAN,
                         payment_terms=_installments(value, [(value, (start + timedelta(days=60)).isoformat())]))
        await d.sign_register_effect(key, (start + timedelta(days=5)).isoformat(),
                                     (start + timedelta(days=10)).isoformat(),
                                     (start + timedelta(days=15)).isoformat(), kind, value * WAN)
        await d.pay(key, f"{key}-P1", value * WAN, (start + timedelta(days=58)).isoformat())
