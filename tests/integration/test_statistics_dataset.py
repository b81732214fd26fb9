"""A small ledger with hand-computed statistics, written through the unit of work.

Every figure the statistics tests expect is worked out in the comments here.
1万元 = ``WAN`` = 1,000,000 fen. Institutions and exchanges:

    U1  university, public, Shaanxi 610000       X1  exchange, Shaanxi 610000
    U2  university, public, Zhejiang 330000      X2  exchange, Shanghai 310000
    R1  research institute, public, Beijing      ES  enterprise small, Shaanxi
    EM  enterprise micro, Sichuan 510000         EL  enterprise large, Zhejiang
    ED  enterprise medium, Shaanxi               SU  enterprise micro, Shaanxi (a start-up)

Achievements (owner; IP type; separate register; listings):

    A1  U1 invention patent granted 2022-05-01, register 2023-01-10, listed X1 and X2 (joint)
    A2  U1 invention patent granted 2023-03-01, register 2023-01-10
    A3  U1 utility model granted 2022-08-01, register 2023-01-10
    A4  U1 technical secret, register 2023-06-01, listed X1
    A5  U2 invention patent pending, listed X2
    A6  R1 software copyright registered 2022-01-01
    A7  U1 invention patent granted 2021-04-01, register 2023-01-10 (never transferred)
    A8  U2 invention patent granted 2020-06-01 (UFPL licence returned)

Contracts (seller -> buyer, kind, contract / transaction / registered value in 万元):

    C1  U1->ES assignment of A1, 100/95/80 corrected to 90, signed 2024-03-10, in force 2024-04-01,
        installments 40 (2024-05-01), 30 (2024-08-01, deferred to 2025-02-01), 30 (2024-11-01);
        paid 40 on 2024-05-01 and 10 on 2024-12-01 (to installment 3, the oldest due)
    C2  U1->EL exclusive licence of A2, 50/50/50, signed 2024-06-01, in force 2024-06-15,
        entry fee 10 paid 2024-07-01, royalty 5% of 200 sales = 10 due 2025-01-30 paid 2025-02-10
    C3  U1->EM UFPL licence of A4, 30/30, signed 2024-02-01, trial from 2024-02-10,
        revenue 100 reported 2024-07-05, converted 2024-07-10, 30 due 2024-08-09 paid that day
    C4  U2->SU UFPL licence of A8, 20/20, signed 2024-03-01, trial from 2024-03-05, returned 2024-09-01
    C5  U2->EM UFPL licence of A5, 40/40, signed 2024-05-01, trial from 2024-05-10, revenue 50,
        converted 2024-09-10, 40 due 2024-10-10, default 2024-11-01, insurer paid 25 on 2024-12-01
    C6  U1->SU equity contribution of A3, 200/200, signed 2024-09-01, in force 2024-09-15,
        completed 2024-10-01; holding of 2,000,000 of 5,000,000 shares in a new company;
        shares awarded 李四 800,000 and 王五 600,000 (2024-10-15); dividend 2 (2025-03-01);
        100,000 shares sold for 15 (2025-06-01)
    C7  R1->ED development, 60/50/50, signed 2023-11-01, registered 2023-11-20, in force 2023-11-10,
        60 due 2023-11-10, 50 paid 2023-11-15 (10 outstanding)
    C8  U1->ES service, 40/40, signed 2023-05-01, terminated 2023-06-01 (never took effect)
    C9  U1->EL assignment of A7, 999: drafted only
    C10 R1->EM non-exclusive licence of A6, 5/5/5, signed 2025-01-15, registered 2025-02-10,
        in force 2025-02-01, 5 paid 2025-02-01
    C11 EL->ES service, 10/10, signed 2025-03-01, in force 2025-03-05, 10 paid 2025-03-10

Income distributions (team 70 / institution 15 / department 15 for U1, national pack):

    D1  U1, C1 receipt of 40 on 2024-05-01, deductions tax 2 + valuation 1: net 37;
        team 25.9 = 李四 15.54 + 王五 10.36; institution 5.55; department 5.55.
        Notice 2024-05-10..2024-05-24; paid 李四 15.54 and 王五 5 on 2024-06-01
    D2  U1, C2 receipt of 10 on 2024-07-01, tax 1: net 9; adjusted 2024-08-01 (+maintenance 1):
        net 8; team 5.6 = 张三 5.6; institution 1.2; department 1.2; nothing paid
    D3  R1 (Beijing pack, team 70 / institution 30), C7 receipt of 50 on 2023-11-15: net 50;
        赵六 35, institution 15; 赵六 paid 35 on 2027-02-01 (after the deadline 2026-11-15)
    D4  EL (enterprise, national pack, team 30 / institution 70: below the 50% floor),
        C11 receipt of 10 on 2025-03-10: 钱七 3, institution 7
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.achievement import Achievement, Inventor, Owner
from domain.allocation import Deduction
from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.contract_terms import ContractTerms, LicenceTerms, Registration
from domain.distribution import BeneficiaryKind, DistributionPolicy
from domain.enums import (
    ContractKind,
    EnterpriseSize,
    InstitutionKind,
    IpType,
    LicenceType,
    RulePackId,
    TechnologyField,
    ValuationMethod,
)
from domain.equity import Company, EquityValuation
from domain.institution import Institution
from domain.payment_terms import Installment, PaymentTerms, RoyaltyBase, RoyaltyTerms
from domain.rule_packs import DeductionCategory, pack_in_force
from domain.services import ContractEnd, end_contract, open_equity_holding, take_effect
from domain.ufpl import UfplTerms, UfplTrigger
from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.store import EventStore
from ledger.unit_of_work import UnitOfWork

WAN = 1_000_000  # 1万元 in fen
NS = UUID("7b0c2b1e-0f4e-4a59-9a55-1c2d3e4f5a6b")
TEAM = BeneficiaryKind.inventor_team
INST = BeneficiaryKind.institution
DEPT = BeneficiaryKind.department


def d(text: str) -> date:
    return date.fromisoformat(text)


def ident(name: str) -> UUID:
    """Stable ids, so that expected rows can name them."""
    return uuid5(NS, name)


U1, U2, R1, ES, EM, EL, ED, SU, X1, X2 = (
    ident(n) for n in ("U1", "U2", "R1", "ES", "EM", "EL", "ED", "SU", "X1", "X2")
)
A = {n: ident(f"A{n}") for n in range(1, 9)}
C = {n: ident(f"C{n}") for n in range(1, 12)}

AfterCommit = Callable[[], Awaitable[Any]]


@dataclass
class Dataset:
    """The aggregates, kept in memory between commits; each step is one unit of work."""

    store: EventStore
    after_commit: AfterCommit | None = None
    objects: dict[UUID, Aggregate] = field(default_factory=dict)
    distributions: dict[str, UUID] = field(default_factory=dict)
    holding_id: UUID | None = None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.store, Repository(self.store, default_mapper(), snapshot_interval=0))

    async def commit(self, *aggregates: Aggregate) -> None:
        uow = self.uow()
        for aggregate in aggregates:
            self.objects[aggregate.id] = aggregate
            uow.add(aggregate)
        await uow.commit()
        if self.after_commit is not None:
            await self.after_commit()

    async def change(self, cls: type[Any], aggregate_id: UUID, step: Callable[[Any], None]) -> None:
        """Load through the unit of work, run ``step``, commit."""
        uow = self.uow()
        aggregate = await uow.get(cls, aggregate_id)
        step(aggregate)
        await uow.commit()
        self.objects[aggregate_id] = aggregate
        if self.after_commit is not None:
            await self.after_commit()

    def contract(self, n: int) -> TechnologyContract:
        found = self.objects[C[n]]
        assert isinstance(found, TechnologyContract)
        return found

    def achievement(self, n: int) -> Achievement:
        found = self.objects[A[n]]
        assert isinstance(found, Achievement)
        return found


def _institution(key: UUID, name: str, kind: InstitutionKind, region: str, *,
                 size: EnterpriseSize | None = None, public: bool = False,
                 pack: RulePackId = RulePackId.national, registered_on: str = "2020-01-01") -> Institution:
    return Institution.register(name=name, kind=kind, region=region, registered_on=d(registered_on),
                                public=public, size=size, rule_pack=pack, id=key)


def _achievement(n: int, owner: UUID, ip_type: IpType, field_: TechnologyField, *,
                 granted: str | None, inventors: list[tuple[str, int]], number: bool = True) -> Achievement:
    return Achievement.register(
        title=f"成果 A{n}",
        ip_type=ip_type,
        technology_field=field_,
        owners=[Owner(owner, Decimal(100))],
        inventors=[Inventor(name, Decimal(share)) for name, share in inventors],
        registered_on=d("2022-01-01"),
        official_number=f"ZL-A{n}" if number else None,
        granted_on=d(granted) if granted else None,
        id=A[n],
    )


def _terms(kind: ContractKind, seller: UUID, buyer: UUID, achievements: tuple[int, ...],
           value: int, transaction: int, payment_terms: PaymentTerms, **more: Any) -> ContractTerms:
    return ContractTerms(
        kind=kind,
        title=f"{kind} {seller.hex[:4]}",
        seller_ids=(seller,),
        buyer_id=buyer,
        achievement_ids=tuple(A[n] for n in achievements),
        contract_value_fen=value,
        transaction_value_fen=transaction,
        payment_terms=payment_terms,
        **more,
    )


def _registration(kind: ContractKind, value: int, on: str, number: str) -> Registration:
    return Registration("技术合同登记处", number, kind, value, d(on))


async def build(store: EventStore, after_commit: AfterCommit | None = None) -> Dataset:
    ds = Dataset(store, after_commit)
    await _institutions(ds)
    await _achievements(ds)
    await _contracts(ds)
    await _distributions(ds)
    return ds


async def _institutions(ds: Dataset) -> None:
    I = InstitutionKind  # noqa: E741
    await ds.commit(
        _institution(U1, "西北大学", I.university, "610000", public=True),
        _institution(U2, "浙江某大学", I.university, "330000", public=True),
        _institution(R1, "北京某研究所", I.research_institute, "110000", public=True,
                     pack=RulePackId.beijing),
        _institution(X1, "西安科技大市场", I.exchange, "610000"),
        _institution(X2, "上海技术交易所", I.exchange, "310000"),
    )
    await ds.commit(
        _institution(ES, "陕西小企业", I.enterprise, "610000", size=EnterpriseSize.small),
        _institution(EM, "四川微企业", I.enterprise, "510000", size=EnterpriseSize.micro),
        _institution(EL, "浙江大企业", I.enterprise, "330000", size=EnterpriseSize.large),
        _institution(ED, "陕西中企业", I.enterprise, "610000", size=EnterpriseSize.medium),
        # Established 2024-01-15, around U2's UFPL licence (C4) and U1's equity contribution (C6).
        _institution(SU, "西安初创公司", I.enterprise, "610000", size=EnterpriseSize.micro, registered_on="2024-01-15"),
    )


async def _achievements(ds: Dataset) -> None:
    P, F = IpType, TechnologyField
    two = [("李四", 60), ("王五", 40)]
    a1 = _achievement(1, U1, P.invention_patent, F.new_materials, granted="2022-05-01", inventors=two)
    a2 = _achievement(2, U1, P.invention_patent, F.electronic_information, granted="2023-03-01",
                      inventors=[("张三", 100)])
    a3 = _achievement(3, U1, P.utility_model, F.advanced_manufacturing, granted="2022-08-01",
                      inventors=two)
    a4 = _achievement(4, U1, P.technical_secret, F.biomedicine, granted=None, inventors=two,
                      number=False)
    a5 = _achievement(5, U2, P.invention_patent, F.new_energy_and_energy_saving, granted=None,
                      inventors=[("孙八", 100)])
    a6 = _achievement(6, R1, P.software_copyright, F.electronic_information, granted="2022-01-01",
                      inventors=[("赵六", 100)])
    a7 = _achievement(7, U1, P.invention_patent, F.agriculture, granted="2021-04-01", inventors=two)
    a8 = _achievement(8, U2, P.invention_patent, F.new_materials, granted="2020-06-01",
                      inventors=[("孙八", 100)])
    for a in (a1, a2, a3, a7):
        a.enter_separate_register(d("2023-01-10"))
    a4.enter_separate_register(d("2023-06-01"))
    a1.list_on_exchange(X1, "X1-0001", d("2023-02-01"))
    a1.list_on_exchange(X2, "X2-0001", d("2023-02-15"))  # joint listing of the same achievement
    a4.list_on_exchange(X1, "X1-0002", d("2023-07-01"))
    a5.list_on_exchange(X2, "X2-0002", d("2023-08-01"))
    await ds.commit(a1, a2, a3, a4)
    await ds.commit(a5, a6, a7, a8)


def _ufpl(trial_end: str) -> UfplTerms:
    return UfplTerms("试用范围", d(trial_end), (UfplTrigger.first_revenue(),))


async def _contracts(ds: Dataset) -> None:
    K = ContractKind
    # C1: assignment with installments, a corrected registration and a deferral.
    c1 = TechnologyContract.draft(
        terms=_terms(K.assignment, U1, ES, (1,), 100 * WAN, 95 * WAN, PaymentTerms(
            100 * WAN, (Installment(40 * WAN, d("2024-05-01")), Installment(30 * WAN, d("2024-08-01")),
                        Installment(30 * WAN, d("2024-11-01"))))),
        drafted_on=d("2024-03-01"), id=C[1])
    c1.sign(d("2024-03-10"))
    c1.register(_registration(K.assignment, 80 * WAN, "2024-03-20", "REG-C1"))
    await ds.commit(c1)
    await ds.change(TechnologyContract, C[1], lambda c: c.correct_registration(
        _registration(K.assignment, 90 * WAN, "2024-03-20", "REG-C1"), d("2024-04-15"), "补正: 技术交易额"))
    c1 = ds.contract(1)
    take_effect(c1, {A[1]: ds.achievement(1)}, owners_public=True, on=d("2024-04-01"))
    await ds.commit(c1, ds.achievement(1))
    await ds.change(TechnologyContract, C[1], lambda c: c.record_payment("C1-P1", 40 * WAN, d("2024-05-01")))
    await ds.change(TechnologyContract, C[1], lambda c: c.defer_due_items(
        {"installment-2": d("2025-02-01")}, "技术转移中心", "买方申请延期", d("2024-07-20")))
    await ds.change(TechnologyContract, C[1], lambda c: c.record_payment("C1-P2", 10 * WAN, d("2024-12-01")))

    # C2: exclusive licence, entry fee and royalty.
    c2 = TechnologyContract.draft(
        terms=_terms(K.licence, U1, EL, (2,), 50 * WAN, 50 * WAN, PaymentTerms(
            entry_fee=Installment(10 * WAN, days_after_start=15),
            royalty=RoyaltyTerms.fixed_rate(RoyaltyBase.sales, Decimal("0.05"))),
            licence=LicenceTerms(LicenceType.exclusive, False, "CN")),
        drafted_on=d("2024-05-20"), id=C[2])
    c2.sign(d("2024-06-01"))
    take_effect(c2, {A[2]: ds.achievement(2)}, owners_public=True, on=d("2024-06-15"))
    c2.register(_registration(K.licence, 50 * WAN, "2024-07-01", "REG-C2"))
    c2.record_payment("C2-E1", 10 * WAN, d("2024-07-01"))
    await ds.commit(c2, ds.achievement(2))
    await ds.change(TechnologyContract, C[2], lambda c: c.report_royalty(
        d("2024-06-15"), d("2024-12-31"), 200 * WAN, d("2025-01-05")))
    await ds.change(TechnologyContract, C[2], lambda c: c.record_payment("C2-R1", 10 * WAN, d("2025-02-10")))

    # C3: UFPL licence that converts and is paid.
    c3 = TechnologyContract.draft(
        terms=_terms(K.ufpl_licence, U1, EM, (4,), 30 * WAN, 30 * WAN,
                     PaymentTerms.lump_sum(30 * WAN, days_after_start=30), ufpl=_ufpl("2024-12-31")),
        drafted_on=d("2024-01-20"), id=C[3])
    c3.sign(d("2024-02-01"))
    take_effect(c3, {A[4]: ds.achievement(4)}, owners_public=True, on=d("2024-02-10"))
    await ds.commit(c3, ds.achievement(4))
    c3 = ds.contract(3)
    c3.report_licensee_revenue(d("2024-02-10"), d("2024-06-30"), 100 * WAN, d("2024-07-05"))
    c3.convert_to_paid(d("2024-07-10"))
    c3.record_payment("C3-P1", 30 * WAN, d("2024-08-09"))
    await ds.commit(c3)

    # C4: UFPL licence returned from the trial (to the start-up).
    c4 = TechnologyContract.draft(
        terms=_terms(K.ufpl_licence, U2, SU, (8,), 20 * WAN, 20 * WAN,
                     PaymentTerms.lump_sum(20 * WAN, days_after_start=30), ufpl=_ufpl("2025-02-28")),
        drafted_on=d("2024-02-20"), id=C[4])
    c4.sign(d("2024-03-01"))
    take_effect(c4, {A[8]: ds.achievement(8)}, owners_public=True, on=d("2024-03-05"))
    c4.report_licensee_revenue(d("2024-03-05"), d("2024-06-30"), 0, d("2024-07-02"))
    await ds.commit(c4, ds.achievement(8))
    c4 = ds.contract(4)
    end_contract(c4, {A[8]: ds.achievement(8)}, ContractEnd.return_licence, d("2024-09-01"), "试用后退还")
    await ds.commit(c4, ds.achievement(8))

    # C5: UFPL licence that converts, defaults and is compensated by the insurer.
    c5 = TechnologyContract.draft(
        terms=_terms(K.ufpl_licence, U2, EM, (5,), 40 * WAN, 40 * WAN,
                     PaymentTerms.lump_sum(40 * WAN, days_after_start=30), ufpl=_ufpl("2025-04-30")),
        drafted_on=d("2024-04-20"), id=C[5])
    c5.sign(d("2024-05-01"))
    take_effect(c5, {A[5]: ds.achievement(5)}, owners_public=True, on=d("2024-05-10"))
    c5.report_licensee_revenue(d("2024-05-10"), d("2024-08-31"), 50 * WAN, d("2024-09-05"))
    c5.convert_to_paid(d("2024-09-10"))
    await ds.commit(c5, ds.achievement(5))
    c5 = ds.contract(5)
    c5.record_default(d("2024-11-01"), "逾期未付")
    c5.record_insurance_compensation("CLAIM-1", "中国人保", 25 * WAN, d("2024-12-01"))
    await ds.commit(c5)

    # C6: equity contribution into a new company.
    c6 = TechnologyContract.draft(
        terms=_terms(K.equity_contribution, U1, SU, (3,), 200 * WAN, 200 * WAN, PaymentTerms()),
        drafted_on=d("2024-08-20"), id=C[6])
    c6.sign(d("2024-09-01"))
    take_effect(c6, {A[3]: ds.achievement(3)}, owners_public=True, on=d("2024-09-15"))
    end_contract(c6, {A[3]: ds.achievement(3)}, ContractEnd.complete, d("2024-10-01"))
    holding = open_equity_holding(
        c6, institution_id=U1, company=Company("西安初创公司", "91610100MA6U000016"),
        valuation=EquityValuation(200 * WAN, ValuationMethod.income, "某评估公司", d("2024-08-15")),
        registered_capital_fen=200 * WAN, shares_received=2_000_000, total_shares=5_000_000,
        contributed_on=d("2024-10-01"), id=ident("H1"))
    ds.holding_id = holding.id
    await ds.commit(c6, ds.achievement(3), holding)
    holding.award_shares("李四", 800_000, d("2024-10-15"))
    holding.award_shares("王五", 600_000, d("2024-10-15"))
    holding.receive_dividend("DIV-1", 2 * WAN, d("2025-03-01"))
    holding.sell_shares("SALE-1", 100_000, 15 * WAN, "某基金", d("2025-06-01"))
    await ds.commit(holding)

    # C7: development contract of 2023 with 10万 still outstanding.
    c7 = TechnologyContract.draft(
        terms=_terms(K.development, R1, ED, (), 60 * WAN, 50 * WAN,
                     PaymentTerms.lump_sum(60 * WAN, days_after_start=0)),
        drafted_on=d("2023-10-20"), id=C[7])
    c7.sign(d("2023-11-01"))
    take_effect(c7, {}, owners_public=True, on=d("2023-11-10"))
    c7.register(_registration(K.development, 50 * WAN, "2023-11-20", "REG-C7"))
    c7.record_payment("C7-P1", 50 * WAN, d("2023-11-15"))
    await ds.commit(c7)

    # C8: service contract signed and terminated before it took effect.
    c8 = TechnologyContract.draft(
        terms=_terms(K.service, U1, ES, (), 40 * WAN, 40 * WAN, PaymentTerms.lump_sum(40 * WAN)),
        drafted_on=d("2023-04-20"), id=C[8])
    c8.sign(d("2023-05-01"))
    c8.terminate(d("2023-06-01"), "买方放弃")
    # C9: a draft only.
    c9 = TechnologyContract.draft(
        terms=_terms(K.assignment, U1, EL, (7,), 999 * WAN, 999 * WAN, PaymentTerms.lump_sum(999 * WAN)),
        drafted_on=d("2024-05-05"), id=C[9])
    await ds.commit(c8, c9)

    # C10: non-exclusive licence of 2025.
    c10 = TechnologyContract.draft(
        terms=_terms(K.licence, R1, EM, (6,), 5 * WAN, 5 * WAN, PaymentTerms.lump_sum(5 * WAN),
                     licence=LicenceTerms(LicenceType.non_exclusive)),
        drafted_on=d("2025-01-10"), id=C[10])
    c10.sign(d("2025-01-15"))
    take_effect(c10, {A[6]: ds.achievement(6)}, owners_public=True, on=d("2025-02-01"))
    c10.record_payment("C10-P1", 5 * WAN, d("2025-02-01"))
    c10.register(_registration(K.licence, 5 * WAN, "2025-02-10", "REG-C10"))
    await ds.commit(c10, ds.achievement(6))

    # C11: an enterprise's service contract of 2025.
    c11 = TechnologyContract.draft(
        terms=_terms(K.service, EL, ES, (), 10 * WAN, 10 * WAN, PaymentTerms.lump_sum(10 * WAN)),
        drafted_on=d("2025-02-20"), id=C[11])
    c11.sign(d("2025-03-01"))
    take_effect(c11, {}, owners_public=False, on=d("2025-03-05"))
    c11.record_payment("C11-P1", 10 * WAN, d("2025-03-10"))
    await ds.commit(c11)


async def _distributions(ds: Dataset) -> None:
    national = pack_in_force(RulePackId.national, d("2024-01-01"))
    beijing = pack_in_force(RulePackId.beijing, d("2023-01-01"))
    u1 = DistributionPolicy.create(U1)
    u1.adopt_version("2023", d("2023-01-01"), {TEAM: 70, INST: 15, DEPT: 15}, {TEAM: 70, INST: 30},
                     institution_is_public_research=True,
                     institution_kind=InstitutionKind.university, pack=national)
    r1 = DistributionPolicy.create(R1)
    r1.adopt_version("2023", d("2023-01-01"), {TEAM: 70, INST: 30}, {TEAM: 70, INST: 30},
                     institution_is_public_research=True,
                     institution_kind=InstitutionKind.research_institute, pack=beijing)
    el = DistributionPolicy.create(EL)
    el.adopt_version("2024", d("2024-01-01"), {TEAM: 30, INST: 70}, {TEAM: 30, INST: 70},
                     institution_is_public_research=False,
                     institution_kind=InstitutionKind.enterprise, pack=national)
    await ds.commit(u1, r1, el)
    assert el.versions[-1].below_floor

    tax, valuation, maintenance = (DeductionCategory.tax, DeductionCategory.valuation,
                                   DeductionCategory.maintenance)
    d1 = IncomeDistribution.allocate(
        contract_id=C[1], receipt_id="C1-P1", institution_id=U1, received_on=d("2024-05-01"),
        gross_fen=40 * WAN, deductions=[Deduction(tax, 2 * WAN), Deduction(valuation, 1 * WAN)],
        pack=national, policy=u1.policy_in_force(d("2024-05-01")),
        inventors=[("李四", Decimal(60)), ("王五", Decimal(40))])
    d1.publish_notice("N1", d("2024-05-10"), d("2024-05-24"))
    await ds.commit(d1)
    d1.pay_award("inventor:李四", 15_540_000, d("2024-06-01"), "AW-1")
    d1.pay_award("inventor:王五", 5 * WAN, d("2024-06-01"), "AW-2")
    await ds.commit(d1)

    d2 = IncomeDistribution.allocate(
        contract_id=C[2], receipt_id="C2-E1", institution_id=U1, received_on=d("2024-07-01"),
        gross_fen=10 * WAN, deductions=[Deduction(tax, 1 * WAN)], pack=national,
        policy=u1.policy_in_force(d("2024-07-01")), inventors=[("张三", Decimal(100))])
    await ds.commit(d2)
    d2.adjust("ADJ-1", [Deduction(maintenance, 1 * WAN)], d("2024-08-01"))
    await ds.commit(d2)

    d3 = IncomeDistribution.allocate(
        contract_id=C[7], receipt_id="C7-P1", institution_id=R1, received_on=d("2023-11-15"),
        gross_fen=50 * WAN, deductions=[], pack=beijing, policy=r1.policy_in_force(d("2023-11-15")),
        inventors=[("赵六", Decimal(100))])
    await ds.commit(d3)
    d3.pay_award("inventor:赵六", 35 * WAN, d("2027-02-01"), "AW-3")
    await ds.commit(d3)

    d4 = IncomeDistribution.allocate(
        contract_id=C[11], receipt_id="C11-P1", institution_id=EL, received_on=d("2025-03-10"),
        gross_fen=10 * WAN, deductions=[], pack=national, policy=el.policy_in_force(d("2025-03-10")),
        inventors=[("钱七", Decimal(100))])
    await ds.commit(d4)
    ds.distributions = {"D1": d1.id, "D2": d2.id, "D3": d3.id, "D4": d4.id}


async def test_the_dataset_writes_and_every_rule_holds(fresh_dsn: str) -> None:
    store = await EventStore.connect(fresh_dsn)
    try:
        ds = await build(store)
        assert ds.contract(1).outstanding_fen() == 50 * WAN
        assert ds.contract(5).outstanding_fen() == 15 * WAN
        assert ds.contract(7).outstanding_fen() == 10 * WAN
        assert await store.head() > 60
    finally:
        await store.close()
