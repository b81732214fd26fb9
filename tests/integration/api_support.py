"""Helpers for the HTTP API tests: a served app, tokens per principal, and a small world built over HTTP.

The world (``build_world``) is what the route and access tests share:

    U   university, public, Beijing pack     X   exchange, Beijing
    F   enterprise (small), the buyer        Y   exchange, Shanghai
    G   enterprise (micro), UFPL licensee     U2  university, Shanghai (a stranger to everything)

    A   U's granted invention patent (张三 60 / 李四 40), listed on X
    C   licence of A, U -> F: entry fee 10万 (paid, receipt P1), 3% sales royalty with a 10万 minimum,
        milestone 量产 5万; signed, registered, in force
    D   the distribution of C's receipt P1 under U's policy (team 70 / department 15 / institution 15)
    A4  U's patent contributed to F for shares under equity contract CE; H the holding
    A5  U's technical secret, implemented by U itself: S
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.problems import PROBLEM_CONTENT_TYPE
from api.state import ApiSettings
from domain.equity import uscc_check_char
from ledger.bootstrap import Ledger
from ledger.settings import Settings
from ledger.tokens import Role, TokenService

WAN = 1_000_000  # 1万元 in fen
USCC = "91320594MA1NPQ8K3" + uscc_check_char("91320594MA1NPQ8K3")


@contextlib.asynccontextmanager
async def serve(ledger: Ledger, **overrides: Any) -> AsyncIterator[TestClient]:
    settings = ApiSettings(**{"cors_origins": "", "event_stream_heartbeat": 0.2, **overrides})
    app = create_app(Settings(), ledger, api_settings=settings)
    server = TestServer(app)
    await server.start_server(access_log=None)
    async with TestClient(server) as client:
        yield client


async def problem(response: ClientResponse, status: int) -> dict[str, Any]:
    body = await response.text()
    assert response.status == status, body
    assert response.content_type == PROBLEM_CONTENT_TYPE, body
    doc = json.loads(body)
    assert doc["status"] == status and doc["request_id"] == response.headers["X-Request-Id"]
    return dict(doc)


@dataclass
class Api:
    """A client with one token per principal; ``who`` names the principal of a request."""

    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        out = dict(extra)
        if who is not None:
            out["Authorization"] = f"Bearer {self.tokens[who]}"
        return out

    async def post(self, path: str, body: Any, who: str = "admin", **headers: str) -> ClientResponse:
        return await self.client.post(path, json=body, headers=self.headers(who, **headers))

    async def get(self, path: str, who: str = "admin", **headers: str) -> ClientResponse:
        return await self.client.get(path, headers=self.headers(who, **headers))

    async def ok(self, path: str, body: Any, who: str = "admin", status: int | None = None,
                 **headers: str) -> dict[str, Any]:
        """POST and expect success; return the JSON body."""
        response = await self.post(path, body, who, **headers)
        text = await response.text()
        assert response.status in ((status,) if status else (200, 201)), (path, response.status, text)
        return dict(json.loads(text))

    async def read(self, path: str, who: str = "admin") -> dict[str, Any]:
        response = await self.get(path, who)
        text = await response.text()
        assert response.status == 200, (path, response.status, text)
        return dict(json.loads(text))

    async def head(self) -> int:
        return int((await self.read("/readyz", who=None))["log_head"])  # type: ignore[arg-type]


PRINCIPALS: dict[str, tuple[Role, str | None]] = {
    "admin": (Role.ADMIN, None),
    "regulator": (Role.REGULATOR, None),
    "owner": (Role.INSTITUTION, "U"),
    "buyer": (Role.INSTITUTION, "F"),
    "stranger": (Role.INSTITUTION, "U2"),
    "exchange": (Role.OPERATOR, "X"),
    "other_exchange": (Role.OPERATOR, "Y"),
}


@dataclass
class World:
    ids: dict[str, uuid.UUID]
    tokens: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return str(self.ids[key])


async def make_tokens(ledger: Ledger, ids: dict[str, uuid.UUID]) -> dict[str, str]:
    service = TokenService(ledger.store.pool)
    out: dict[str, str] = {}
    for name, (role, institution) in PRINCIPALS.items():
        _, out[name] = await service.create(role, institution_id=ids[institution] if institution else None,
                                            name=f"test {name}")
    return out


def licence_terms(w: dict[str, uuid.UUID] | World, achievement: str = "A", **extra: Any) -> dict[str, Any]:
    get = (lambda k: str(w[k])) if isinstance(w, dict) else w.__getitem__
    return {
        "kind": "licence", "title": "MEMS 气体传感器专利独占许可", "seller_ids": [get("U")], "buyer_id": get("F"),
        "achievement_ids": [get(achievement)], "contract_value_fen": 100 * WAN,
        "transaction_value_fen": 90 * WAN,
        "licence": {"licence_type": "exclusive", "territory": "CN", "term_start": "2024-02-01",
                    "term_end": "2034-01-31"},
        "payment_terms": {
            "entry_fee": {"amount_fen": 10 * WAN, "due_on": "2024-03-01"},
            "royalty": {"base": "sales", "tiering": "fixed", "tiers": [{"threshold": 0, "rate": "0.03"}],
                        "reporting_period": "year", "minimum_annual_fen": 10 * WAN},
            "milestones": [{"name": "量产", "amount_fen": 5 * WAN}],
        },
        **extra,
    }


def ufpl_terms(w: World, achievement_id: str, title: str) -> dict[str, Any]:
    """A use-first-pay-later licence of 30万元 from U to G: trial to 2025-01-31, paid on first revenue."""
    return {"kind": "ufpl_licence", "title": title, "seller_ids": [w["U"]], "buyer_id": w["G"],
            "achievement_ids": [achievement_id], "contract_value_fen": 30 * WAN,
            "transaction_value_fen": 30 * WAN,
            "licence": {"licence_type": "non_exclusive", "term_start": "2024-02-01", "term_end": "2029-01-31"},
            "ufpl": {"trial_scope": "中试线试用", "trial_end_on": "2025-01-31",
                     "triggers": [{"kind": "first_revenue"}]},
            "payment_terms": {"fixed_price_fen": 30 * WAN,
                              "installments": [{"amount_fen": 30 * WAN, "days_after_start": 30}]}}


def registration(value_fen: int, on: str = "2024-01-25", number: str = "2024110000000001") -> dict[str, Any]:
    return {"registry": "北京技术市场管理办公室", "registration_number": number,
            "approved_category": "licence", "approved_transaction_value_fen": value_fen, "registered_on": on}


def patent(title: str, owner: str, number: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": title, "ip_type": "invention_patent", "technology_field": "electronic_information",
        "owners": [{"institution_id": owner, "share": "100"}],
        "inventors": [{"name": "张三", "share": "60", "person_id": "110101199001011234"},
                      {"name": "李四", "share": "40"}],
        "registered_on": "2022-06-01", "official_number": number, "granted_on": "2022-05-01", **extra,
    }


def equity_contribution(w: World) -> dict[str, Any]:
    return {
        "contract_id": w["CE"], "institution_id": w["U"],
        "company": {"name": "北京微纳传感科技有限公司", "unified_social_credit_code": USCC},
        "valuation": {"amount_fen": 600 * WAN, "method": "income", "assessor": "中联资产评估集团",
                      "valued_on": "2023-07-15"},
        "registered_capital_fen": 600 * WAN, "shares_received": 6_000_000, "total_shares": 30_000_000,
        "contributed_on": "2023-09-10",
    }


async def build_world(api: Api, ledger: Ledger) -> World:
    ids = {k: uuid.uuid4() for k in ("U", "F", "G", "X", "Y", "U2")}
    api.tokens.update(await make_tokens(ledger, ids))
    w = World(ids, api.tokens)
    for key, body in {
        "U": {"name": "北京示范大学", "kind": "university", "region": "110000", "public": True,
              "rule_pack": "beijing", "registered_on": "2015-01-01"},
        "F": {"name": "北京微纳传感科技有限公司", "kind": "enterprise", "size": "small", "region": "110000",
              "registered_on": "2018-01-01"},
        "G": {"name": "北京绿源环保科技有限公司", "kind": "enterprise", "size": "micro", "region": "110000",
              "registered_on": "2018-01-01"},
        "X": {"name": "中国技术交易所", "kind": "exchange", "region": "110000", "registered_on": "2009-08-01"},
        "Y": {"name": "上海技术交易所", "kind": "exchange", "region": "310000", "registered_on": "2010-01-01"},
        "U2": {"name": "上海示范大学", "kind": "university", "region": "310000", "public": True,
               "rule_pack": "shanghai", "registered_on": "2015-01-01"},
    }.items():
        await api.ok("/v1/institutions", {**body, "id": w[key]}, status=201)
    await api.ok(f"/v1/institutions/{w['U']}/policy", {
        "version_label": "2022版", "effective_from": "2022-01-01",
        "cash_split": {"inventor_team": 70, "department": 15, "institution": 15},
        "equity_split": {"inventor_team": 80, "institution": 20}}, who="owner")
    made = await api.ok("/v1/achievements", patent("MEMS 气体传感器阵列", w["U"], "ZL202210000001.X"),
                        who="owner", status=201)
    ids["A"] = uuid.UUID(made["id"])
    await api.ok(f"/v1/achievements/{w['A']}/listings", {
        "exchange_id": w["X"], "listing_number": "CTEX-2023-0101", "listed_on": "2023-01-15",
        "asking_price_fen": 200 * WAN}, who="exchange")
    made = await api.ok("/v1/contracts", {"terms": licence_terms(w), "drafted_on": "2024-01-05"},
                        who="owner", status=201)
    ids["C"] = uuid.UUID(made["id"])
    c = f"/v1/contracts/{w['C']}"
    await api.ok(f"{c}/signature", {"on": "2024-01-15"}, who="owner")
    await api.ok(f"{c}/registration", {"registration": registration(90 * WAN)}, who="owner")
    await api.ok(f"{c}/effect", {"on": "2024-02-01"}, who="owner")
    await api.ok(f"{c}/payments", {"payment_id": "P1", "amount_fen": 10 * WAN, "received_on": "2024-03-01"},
                 who="owner")
    made = await api.ok("/v1/distributions", {"contract_id": w["C"], "receipt_id": "P1"}, who="owner",
                        status=201)
    ids["D"] = uuid.UUID(made["id"])
    # Equity contribution of A4 to F.
    made = await api.ok("/v1/achievements", patent("耐高温涂层材料", w["U"], "ZL202210000004.X"),
                        who="owner", status=201)
    ids["A4"] = uuid.UUID(made["id"])
    made = await api.ok("/v1/contracts", {"terms": {
        "kind": "equity_contribution", "title": "耐高温涂层作价入股", "seller_ids": [w["U"]], "buyer_id": w["F"],
        "achievement_ids": [w["A4"]], "contract_value_fen": 600 * WAN, "transaction_value_fen": 600 * WAN},
        "drafted_on": "2023-08-01"}, who="owner", status=201)
    ids["CE"] = uuid.UUID(made["id"])
    await api.ok(f"/v1/contracts/{w['CE']}/signature", {"on": "2023-08-10"}, who="owner")
    await api.ok(f"/v1/contracts/{w['CE']}/effect", {"on": "2023-09-01"}, who="owner")
    made = await api.ok("/v1/equity-holdings", equity_contribution(w), who="owner", status=201)
    ids["H"] = uuid.UUID(made["id"])
    # Self-implementation of A5, a technical secret.
    made = await api.ok("/v1/achievements", {
        "title": "海洋微藻提取工艺", "ip_type": "technical_secret", "technology_field": "biomedicine",
        "owners": [{"institution_id": w["U"], "share": "100"}],
        "inventors": [{"name": "王明", "share": "100"}], "registered_on": "2022-06-01"}, who="owner", status=201)
    ids["A5"] = uuid.UUID(made["id"])
    made = await api.ok("/v1/self-implementations", {"achievement_id": w["A5"], "institution_id": w["U"],
                                                      "started_on": "2023-01-01"}, who="owner", status=201)
    ids["S"] = uuid.UUID(made["id"])
    # V: a person who signs in, for the user administration routes (tests/integration/test_sign_in.py).
    made = await api.ok("/v1/users", {"username": f"world-v-{uuid.uuid4().hex[:6]}", "display_name": "V",
                                      "role": "regulator"}, status=201)
    ids["V"] = uuid.UUID(made["user"]["id"])
    # T: a machine token nobody authenticates with, for the token revocation route.
    made_token, _ = await TokenService(ledger.store.pool).create(Role.REGULATOR, name="world T")
    ids["T"] = made_token.id
    return w
