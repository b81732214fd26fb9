"""TEMPORARY exploration (deleted afterwards)."""
import asyncio, json
from ledger.demo import load_demo, demo_id
from ledger.tokens import Role, TokenService
from tests.integration.api_support import Api
from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.equity import EquityHolding
from domain.self_implementation import SelfImplementation
from domain.achievement import Achievement

async def test_explore(api: Api, ledger, monkeypatch) -> None:
    import ledger.demo as demo
    from ledger.commands import distribution as dist
    real = dist.PayAward
    def pay(**kw):
        kw["payment_id"] = "AW-" + str(abs(hash(kw["payment_id"])) % 10**8) + "-inventor:sunwei"
        return real(**kw)
    monkeypatch.setattr(demo.dist, "PayAward", pay)
    await load_demo(ledger.bus)
    service = TokenService(ledger.store.pool)
    _, api.tokens["regulator"] = await service.create(Role.REGULATOR, name="r")
    _, api.tokens["admin"] = await service.create(Role.ADMIN, name="a")
    for _ in range(300):
        ready = await api.read("/readyz", who=None)
        if ready["projection_lag"] == 0:
            break
        await asyncio.sleep(0.05)
    rows = await ledger.store.pool.fetch("SELECT DISTINCT stream_id, topic FROM events WHERE version = 1")
    urls = []
    for r in rows:
        t = r["topic"]
        sid = r["stream_id"]
        for name, path in (("IncomeDistribution", "distributions"), ("TechnologyContract", "contracts"),
                           ("EquityHolding", "equity-holdings"), ("SelfImplementation", "self-implementations"),
                           ("Achievement", "achievements"), ("Institution", "institutions"),
                           ("DistributionPolicy", None)):
            if f":{name}." in t:
                if path: urls.append(f"/v1/{path}/{sid}")
                if name == "TechnologyContract": urls.append(f"/v1/contracts/{sid}/journal")
                if name == "Institution":
                    urls += [f"/v1/institutions/{sid}/policy", f"/v1/institutions/{sid}/balances",
                             f"/v1/institutions/{sid}/achievements?format=json"]
    urls += ["/v1/trial-balance", "/v1/statistics/contracts?group_by=kind",
             "/v1/statistics/contract-value?group_by=kind,period,seller,buyer",
             "/v1/statistics/transfer-rate?group_by=institution,region,field,ip_type,period",
             "/v1/statistics/transfer-rate/formulas", "/v1/statistics/ufpl-funnel?group_by=period,region",
             "/v1/statistics/receivables?as_of=2025-06-01&group_by=institution,contract,buyer,contract_kind,bucket",
             "/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=inventor",
             "/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=contract",
             "/v1/reports/autm?year=2024"]
    for inst in ("pku", "sjtu", "zju"):
        urls.append(f"/v1/reports/annual?year=2024&institution_id={demo_id(inst)}")
    out = {}
    for u in urls:
        for who in ("admin", "regulator"):
            resp = await api.get(u, who)
            out[f"{who} {u}"] = [resp.status, await resp.text()]
    with open("/tmp/explore/out.json", "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
