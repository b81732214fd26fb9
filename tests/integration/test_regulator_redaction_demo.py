"""The demo dataset read as a regulator: no inventor's name, no payment, receipt or award id (issue 21).

The finding: with the demo data, ``GET /v1/distributions/{id}`` with a
regulator's token showed award payment ids such as ``AW-…-inventor:<name>``.
Here every record view of the demo is read as an admin, which collects the
inventors' names and every typed id; read as a regulator, no string of any
answer holds a name or equals such an id, and the ids are pseudonyms.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.bootstrap import Ledger
from ledger.demo import load_demo
from ledger.tokens import Role, TokenService
from tests.integration.api_support import Api

PSEUDONYM = re.compile(r"p-[0-9a-f]{8}")
VIEWS = {"Achievement": "achievements", "TechnologyContract": "contracts", "IncomeDistribution": "distributions",
         "EquityHolding": "equity-holdings", "SelfImplementation": "self-implementations"}


def strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from strings(value)
    elif isinstance(doc, str):
        yield doc


@pytest.fixture(scope="module")
async def demo(api: Api, ledger: Ledger) -> Api:
    """The demo dataset, projected; tokens ``admin`` and ``regulator``."""
    await load_demo(ledger.bus)
    service = TokenService(ledger.store.pool)
    _, api.tokens["admin"] = await service.create(Role.ADMIN, name="admin")
    _, api.tokens["regulator"] = await service.create(Role.REGULATOR, name="统计处")
    for _ in range(300):
        if (await api.read("/readyz", who=None))["projection_lag"] == 0:  # type: ignore[arg-type]
            break
        await asyncio.sleep(0.05)
    return api


async def test_demo_distributions_and_records_name_no_one_to_a_regulator(demo: Api, ledger: Ledger) -> None:
    api = demo
    rows = await ledger.store.pool.fetch("SELECT stream_id, topic FROM events WHERE version = 1 ORDER BY position")
    urls = [f"/v1/{path}/{r['stream_id']}" for r in rows for name, path in VIEWS.items()
            if f":{name}." in r["topic"]]
    assert sum("/distributions/" in u for u in urls) >= 8

    names: set[str] = set()
    typed: set[str] = set()
    for url in urls:
        doc = await api.read(url, who="admin")
        names |= {i["name"] for i in doc.get("inventors", []) if i.get("name")}
        typed |= {p["payment_id"] for p in doc.get("payments", [])}
        typed |= {r["receipt_id"] for r in doc.get("receipts", [])}
        typed |= {d["reference"] for d in doc.get("deductions", []) if d.get("reference")}
        if "receipt_id" in doc:
            typed.add(doc["receipt_id"])
    assert len(names) >= 5 and len(typed) >= 20

    for url in urls:
        seen = await api.get(url, who="regulator")
        if seen.status == 404:  # unregistered contracts are not a regulator's to read
            assert "/contracts/" in url
            continue
        doc = await seen.json()
        assert seen.status == 200, (url, doc)
        shown = set(strings(doc))
        assert shown & typed == set(), url
        assert [s for s in shown for n in names if n in s] == [], url
        if "/distributions/" in url:
            assert PSEUDONYM.fullmatch(doc["receipt_id"])
            assert all(PSEUDONYM.fullmatch(p["payment_id"]) for p in doc["payments"])
            assert all(re.fullmatch(r"inventor:#\d+", p["key"]) for p in doc["payments"])
    # A statistic names no one either.
    audit = await api.get("/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=inventor", who="regulator")
    text = await audit.text()
    assert audit.status == 200 and not [n for n in names if n in text]


CONTRACT_DIMS = ("period", "kind", "licence_type", "seller", "seller_kind", "seller_region", "buyer", "buyer_kind",
                 "buyer_size", "buyer_region", "field", "ip_type", "local")


async def test_every_figure_of_the_demo_is_classified(demo: Api, ledger: Ledger,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key of every statistic, grouped every way, has a classification: nothing is dropped unseen."""
    import api.redaction as redaction

    dropped: list[Any] = []

    class Spy:
        def warning(self, event: str, **kw: Any) -> None:
            dropped.append((event, kw))

    monkeypatch.setattr(redaction, "log", Spy())
    formulas = (await demo.read("/v1/statistics/transfer-rate/formulas", who="regulator"))["formulas"]
    institutions = [str(r["stream_id"]) for r in await ledger.store.pool.fetch(
        "SELECT stream_id FROM events WHERE version = 1 AND topic LIKE '%:Institution.%'")]
    urls = [f"/v1/statistics/contract-value?group_by={d}" for d in CONTRACT_DIMS]
    urls += ["/v1/statistics/contract-value?group_by=period,kind&period=quarter",
             "/v1/statistics/contracts?group_by=seller_region", "/v1/statistics/contracts?group_by=period"]
    urls += [f"/v1/statistics/transfer-rate?formula={f['name']}&group_by={d}" for f in formulas
             for d in ("institution", "institution_kind", "region", "field", "ip_type", "period")]
    urls += [f"/v1/statistics/ufpl-funnel?group_by={d}" for d in ("period", "institution", "region", "field")]
    urls += [f"/v1/statistics/receivables?as_of=2025-06-01&group_by={d}"
             for d in ("institution", "contract", "buyer", "contract_kind", "bucket")]
    urls += [f"/v1/statistics/distribution-audit?as_of=2026-01-01&group_by={d}"
             for d in ("institution", "contract", "inventor")]
    urls += ["/v1/reports/autm?year=2024", "/v1/reports/autm?year=2025"]
    urls += [f"/v1/reports/annual?year=2024&institution_id={i}" for i in institutions]
    urls += [f"/v1/institutions/{i}/achievements" for i in institutions]
    for url in urls:
        response = await demo.get(url, who="regulator")
        assert response.status == 200, (url, await response.text())
        assert dropped == [], url
