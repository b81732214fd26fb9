"""``GET /v1/institutions``, ``/v1/achievements`` and ``/v1/contracts``: filters, search, tenancy, pages.

Over the world of api_support, with seven more licences of 海洋微藻提取工艺 (A5) from 北京示范大学 (U)
to 北京绿源环保科技有限公司 (G), titled 石墨烯散热膜许可 1..7 (values 1..7万, drafted 2024-04-01..07,
the odd ones signed, number 3 registered, number 5 with an unpaid installment), and one licence of
上海示范大学 (U2, the "stranger") to G that no other institution may see.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from ledger.bootstrap import Ledger
from projections.contracts import CONTRACTS, ContractsProjection
from projections.lists import like_pattern
from projections.receivables import ReceivablesProjection
from projections.runner import ProjectionRunner
from tests.integration.api_support import WAN, Api, World, patent, problem, registration

SEVEN = 7


def _licence(w: World, seller: str, achievement: str, title: str, value: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "licence", "title": title, "seller_ids": [w[seller]], "buyer_id": w["G"],
            "achievement_ids": [achievement], "contract_value_fen": value, "transaction_value_fen": value,
            "licence": {"licence_type": "non_exclusive", "term_start": "2024-05-01", "term_end": "2029-04-30"},
            **extra}


@pytest.fixture(scope="module")
async def more(api: Api, world: World) -> dict[str, Any]:
    ids: dict[str, Any] = {"graphene": []}
    for i in range(1, SEVEN + 1):
        extra: dict[str, Any] = {}
        if i == 5:
            extra["payment_terms"] = {"fixed_price_fen": i * WAN,
                                      "installments": [{"amount_fen": i * WAN, "days_after_start": 30}]}
        made = await api.ok("/v1/contracts", {"terms": _licence(world, "U", world["A5"], f"石墨烯散热膜许可 {i}",
                                                                i * WAN, **extra),
                                              "drafted_on": f"2024-04-0{i}"}, who="owner", status=201)
        ids["graphene"].append(made["id"])
        c = f"/v1/contracts/{made['id']}"
        if i % 2:
            await api.ok(f"{c}/signature", {"on": f"2024-04-1{i}"}, who="owner")
        if i == 3:
            await api.ok(f"{c}/registration", {"registration": registration(
                3 * WAN, on="2024-04-20", number="2024110000000003")}, who="owner")
        if i == 5:
            await api.ok(f"{c}/effect", {"on": "2024-05-01"}, who="owner")
    made = await api.ok("/v1/achievements", patent("上海量子点显示材料", world["U2"], "ZL202310000009.X"),
                        who="stranger", status=201)
    ids["A_U2"] = made["id"]
    made = await api.ok("/v1/contracts", {"terms": _licence(world, "U2", made["id"], "量子点显示材料许可",
                                                            50 * WAN), "drafted_on": "2024-06-01"},
                        who="stranger", status=201)
    ids["C_U2"] = made["id"]
    ids["head"] = await api.head()
    return ids


async def page(api: Api, path: str, who: str = "admin") -> dict[str, Any]:
    sep = "&" if "?" in path else "?"
    response = await api.get(f"{path}{sep}min_position={await api.head()}", who)
    body = await response.json()
    assert response.status == 200, body
    assert int(response.headers["X-Projection-Position"]) == body["as_of_position"]
    return dict(body)


async def ids_of(api: Api, path: str, who: str = "admin") -> list[str]:
    """Every id of the list, walking its pages."""
    out: list[str] = []
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        body = await page(api, path + (f"{sep}cursor={cursor}" if cursor else ""), who)
        out.extend(item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out


async def test_pages_walk_every_row_once_in_order(api: Api, world: World, more: dict[str, Any]) -> None:
    everything = (await page(api, "/v1/contracts?limit=200&sort=contract_value_fen"))["items"]
    assert len(everything) == 2 + SEVEN + 1
    expected = [i["id"] for i in sorted(everything, key=lambda i: (i["contract_value_fen"], uuid.UUID(i["id"])))]
    assert [i["id"] for i in everything] == expected
    for limit in (1, 2, 3, 10):
        walked = await ids_of(api, f"/v1/contracts?limit={limit}&sort=contract_value_fen")
        assert walked == expected
    # Descending, with empty dates last: the unsigned drafts after every signed contract.
    walked = await ids_of(api, "/v1/contracts?limit=2&sort=-signed_on")
    items = {i["id"]: i for i in everything}
    signed = [i for i in walked if items[i]["signed_on"] is not None]
    assert walked[: len(signed)] == signed and len(walked) == len(everything) == len(set(walked))
    assert [items[i]["signed_on"] for i in signed] == sorted((items[i]["signed_on"] for i in signed), reverse=True)
    # Titles, both ways.
    by_title = await ids_of(api, "/v1/contracts?limit=4&sort=title")
    assert by_title == [i["id"] for i in sorted(everything, key=lambda i: (i["title"], uuid.UUID(i["id"])))]
    assert await ids_of(api, "/v1/contracts?limit=4&sort=-title") == by_title[::-1]


async def test_contract_filters(api: Api, world: World, more: dict[str, Any]) -> None:
    graphene = more["graphene"]

    async def found(query: str) -> set[str]:
        return set(await ids_of(api, f"/v1/contracts?{query}"))

    assert await found(f"party={world['U2']}") == {more["C_U2"]}
    assert await found(f"party={world['F']}") == {world["C"], world["CE"]}
    assert await found("kind=equity_contribution") == {world["CE"]}
    assert await found("status=drafted") == {graphene[1], graphene[3], graphene[5], more["C_U2"]}
    assert await found("status=in_force") == {world["C"], world["CE"], graphene[4]}
    assert await found(f"exchange={world['X']}") == {world["C"]}
    assert await found(f"exchange={world['Y']}") == set()
    assert await found("registration_number=2024110000000003") == {graphene[2]}
    assert await found("signed_from=2024-04-11&signed_to=2024-04-15") == {graphene[0], graphene[2], graphene[4]}
    assert await found("registered_from=2024-04-01") == {graphene[2]}
    assert await found("registered_to=2024-03-31") == {world["C"]}
    assert await found(f"amount_min={2 * WAN}&amount_max={4 * WAN}") == set(graphene[1:4])
    assert await found(f"amount_min={500 * WAN}") == {world["CE"]}
    assert world["C"] not in await found("overdue_as_of=2024-01-01")
    assert graphene[4] not in await found("overdue_as_of=2024-05-01")
    assert graphene[4] in await found("overdue_as_of=2024-12-31")
    # Filters combine.
    assert await found(f"party={world['U']}&kind=licence&status=signed&amount_min={3 * WAN}") == {
        graphene[2], graphene[6]}


async def test_chinese_substring_search(api: Api, world: World, more: dict[str, Any]) -> None:
    async def found(path: str, who: str = "admin") -> set[str]:
        return set(await ids_of(api, path, who))

    graphene = set(more["graphene"])
    assert await found("/v1/contracts?q=石墨烯") == graphene  # three characters: the trigram index
    assert await found("/v1/contracts?q=散热") == graphene  # two: ILIKE on the same column
    assert await found("/v1/contracts?q=膜许可%205") == {more["graphene"][4]}
    assert await found("/v1/contracts?q=量子点") == {more["C_U2"]}
    # Parties' names: the seller's and the buyer's.
    assert await found("/v1/contracts?q=上海示范") == {more["C_U2"]}
    assert await found("/v1/contracts?q=微纳传感") == {world["C"], world["CE"]}
    assert await found("/v1/contracts?q=mems") == {world["C"]}  # case-insensitive
    assert await found("/v1/contracts?q=%25") == set()  # % is a character, not a wildcard
    assert await found("/v1/contracts?q=石墨烯&status=signed") == {more["graphene"][i] for i in (0, 2, 6)}
    assert await found("/v1/institutions?q=示范大学") == {world["U"], world["U2"]}
    assert await found("/v1/institutions?q=技术交易所") == {world["X"], world["Y"]}
    assert await found("/v1/achievements?q=传感器") == {world["A"]}
    assert await found("/v1/achievements?q=量子点显示") == {more["A_U2"]}


async def test_the_trigram_index_serves_a_three_character_search(ledger: Ledger, more: dict[str, Any]) -> None:
    index = CONTRACTS.index_names()[CONTRACTS.indexes.index("USING gin (search_text gin_trgm_ops)")]
    async with ledger.store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT contract_id FROM ct_contracts WHERE search_text ILIKE $1", like_pattern("石墨烯")))
    assert index in plan, plan


async def test_other_filters(api: Api, world: World, more: dict[str, Any]) -> None:
    async def found(path: str) -> set[str]:
        return set(await ids_of(api, path))

    assert await found("/v1/institutions?kind=exchange") == {world["X"], world["Y"]}
    assert await found("/v1/institutions?region=310000") == {world["Y"], world["U2"]}
    assert await found("/v1/institutions?size=micro") == {world["G"]}
    assert await found("/v1/institutions?public=true") == {world["U"], world["U2"]}
    # 北 (U+5317) sorts after 上 (U+4E0A).
    assert await ids_of(api, "/v1/institutions?kind=university&sort=-name") == [world["U"], world["U2"]]
    assert await found(f"/v1/achievements?owner={world['U2']}") == {more["A_U2"]}
    assert await found("/v1/achievements?ip_type=technical_secret") == {world["A5"]}
    assert await found(f"/v1/achievements?listed_on={world['X']}") == {world["A"]}
    assert await found("/v1/achievements?granted_from=2022-01-01&granted_to=2022-12-31") == {
        world["A"], world["A4"], more["A_U2"]}
    assert await found("/v1/achievements?granted_from=2022-05-02") == set()
    assert await found("/v1/achievements?service=false&technology_field=biomedicine") == set()


TENANCY: dict[str, dict[str, set[str]]] = {
    # who -> list -> the world's keys (more's keys start with "more:")
    "admin": {"contracts": {"C", "CE", "more:graphene", "more:C_U2"}},
    "regulator": {"contracts": {"C", "more:graphene:3"}},
    "owner": {"contracts": {"C", "CE", "more:graphene"}, "institutions": {"U"}, "achievements": {"A", "A4", "A5"}},
    "buyer": {"contracts": {"C", "CE"}, "institutions": {"F"}, "achievements": {"A4"}},  # A4 assigned to F
    "stranger": {"contracts": {"more:C_U2"}, "institutions": {"U2"}, "achievements": {"more:A_U2"}},
    "exchange": {"contracts": {"C"}, "institutions": {"X"}, "achievements": {"A"}},
    "other_exchange": {"contracts": set(), "institutions": {"Y"}, "achievements": set()},
}


@pytest.mark.parametrize("who", sorted(TENANCY))
async def test_each_role_sees_what_it_may_see(api: Api, world: World, more: dict[str, Any], who: str) -> None:
    def resolve(keys: set[str]) -> set[str]:
        out: set[str] = set()
        for key in keys:
            if key == "more:graphene":
                out.update(more["graphene"])
            elif key.startswith("more:graphene:"):
                out.add(more["graphene"][int(key.rsplit(":", 1)[1]) - 1])
            elif key.startswith("more:"):
                out.add(more[key[5:]])
            else:
                out.add(world[key])
        return out

    for name, keys in TENANCY[who].items():
        assert set(await ids_of(api, f"/v1/{name}?limit=3", who)) == resolve(keys), name
    # Another institution's contract never appears, whatever the filter or search.
    if who not in ("admin", "stranger"):
        assert more["C_U2"] not in await ids_of(api, f"/v1/contracts?party={world['U2']}&q=量子点", who)
    if who in ("admin", "regulator"):
        assert len(await ids_of(api, "/v1/institutions", who)) == 6
        assert len(await ids_of(api, "/v1/achievements", who)) == 4
    # The directory (名录) lists every institution to every role: the party a form picks.
    everyone = set(await ids_of(api, "/v1/institutions", "admin"))
    assert set(await ids_of(api, "/v1/institutions?directory=true&limit=2", who)) == everyone
    assert set(await ids_of(api, "/v1/institutions?directory=true&kind=exchange", who)) == {world["X"], world["Y"]}


async def test_bad_parameters_are_named(api: Api, world: World, more: dict[str, Any]) -> None:
    first = await page(api, "/v1/contracts?limit=1&sort=title")
    forged = base64.urlsafe_b64encode(json.dumps({"s": "title", "v": [1, "x"]}).encode()).decode()
    for query, field in (
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=%E7%9F%B3", "cursor"),
        (f"cursor={first['next_cursor']}", "cursor"),  # made for sort=title, used with the default sort
        (f"sort=title&cursor={forged}", "cursor"),
        ("sort=colour", "sort"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("kind=barter", "kind"),
        ("party=nobody", "party"),
        ("signed_from=2024-05-01&signed_to=2024-04-01", "signed_from"),
        ("amount_min=9&amount_max=1", "amount_min"),
        ("q=%00", "q"),
    ):
        doc = await problem(await api.get(f"/v1/contracts?{query}", "admin"), 422)
        assert doc["errors"][0]["field"] == field, (query, doc)
    doc = await problem(await api.get("/v1/institutions?region=999999", "admin"), 422)
    assert doc["errors"][0]["field"] == "region"
    doc = await problem(await api.get("/v1/achievements?granted_from=2024-01-02&granted_to=2024-01-01"), 422)
    assert doc["errors"][0]["field"] == "granted_from"
    await problem(await api.get("/v1/contracts", None), 401)


async def test_the_regulator_reads_titles_and_names(api: Api, world: World, more: dict[str, Any]) -> None:
    body = await page(api, "/v1/contracts?registration_number=2024110000000003", "regulator")
    [item] = body["items"]
    assert (item["title"], item["seller_name"], item["buyer_name"], item["registration_number"]) == (
        "石墨烯散热膜许可 3", "北京示范大学", "北京绿源环保科技有限公司", "2024110000000003")


async def test_the_same_answers_after_a_rebuild(api: Api, ledger: Ledger, world: World, more: dict[str, Any]) -> None:
    paths = [("/v1/contracts?limit=3&sort=-signed_on", "admin"), ("/v1/contracts?q=示范&limit=2", "owner"),
             ("/v1/contracts?overdue_as_of=2025-01-01", "admin"), ("/v1/achievements?limit=2", "buyer"),
             ("/v1/achievements?limit=2&sort=title", "exchange"), ("/v1/institutions?limit=2&q=北京", "admin")]
    before = [await ids_of(api, path, who) for path, who in paths]
    head = await api.head()
    runner = ProjectionRunner(ledger.store, ledger.repository.mapper, [ContractsProjection(), ReceivablesProjection()])
    assert await runner.rebuild(["contracts", "receivables"]) == head
    assert [await ids_of(api, path, who) for path, who in paths] == before
    assert all(before)
