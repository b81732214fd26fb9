"""``GET /v1/statistics/contract-value``: 技术合同成交额 by any dimensions, over the world of api_support.

The world's signed contracts: a licence (C) from 北京示范大学 to a small firm, signed 2024-01-15,
contract value 100万, transaction value 90万, registered at 90万, 10万 received; and an equity
contribution (CE) to the same firm, signed 2023-08-10, 600万, not registered.
"""

from __future__ import annotations

import csv
import io
import re

from tests.integration.api_support import WAN, Api, World, problem


async def read(api: Api, query: str, who: str = "regulator") -> dict:
    response = await api.get(f"/v1/statistics/contract-value?min_position={await api.head()}&{query}", who)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_grouped_by_kind_and_year_with_growth(api: Api, world: World) -> None:
    result = await read(api, "group_by=kind,period&period=year")
    rows = {(r["kind"], r["period"]): r for r in result["rows"]}
    assert set(rows) == {("licence", "2024"), ("equity_contribution", "2023")}
    licence = rows[("licence", "2024")]
    assert (licence["count"], licence["contract_value_fen"], licence["transaction_value_fen"],
            licence["registered_count"], licence["registered_value_fen"], licence["cash_received_fen"]) == (
        1, 100 * WAN, 90 * WAN, 1, 90 * WAN, 10 * WAN)
    assert rows[("equity_contribution", "2023")]["contract_value_fen"] == 600 * WAN
    assert result["totals"]["contract_value_fen"] == 700 * WAN
    assert "contract_value" in result["definition"]["figure"]
    assert result["definition"]["as_of_position"] == await api.head()


async def test_filters_by_seller_kind_and_registration_basis(api: Api, world: World) -> None:
    only_licences = await read(api, "kind=licence,ufpl_licence")
    assert only_licences["totals"]["count"] == 1
    by_seller = await read(api, f"seller={world['U']}&group_by=buyer_size")
    assert [(r["buyer_size"], r["count"]) for r in by_seller["rows"]] == [("small", 2)]
    registered = await read(api, "date_basis=registered&group_by=period")
    assert [(r["count"], r["registered_value_fen"]) for r in registered["rows"]] == [(1, 90 * WAN)]
    other_seller = await read(api, f"seller={world['U2']}")
    assert other_seller["totals"]["count"] == 0


HAN = re.compile(r"[\u4e00-\u9fff]")


async def test_csv_download(api: Api, world: World) -> None:
    response = await api.get("/v1/statistics/contract-value?group_by=kind&format=csv", "regulator")
    assert response.status == 200 and response.content_type == "text/csv"
    assert response.headers["Content-Disposition"].endswith('.csv"')
    lines = list(csv.reader(io.StringIO(await response.text())))
    header = lines[0]
    kind, value = header.index("合同类别"), header.index("合同成交额（元）")  # Chinese by default (选择语言)
    rows = {row[kind]: row for row in lines[1:] if len(row) == len(header)}
    assert rows["licence"][value] == "1000000.00"  # 100万 yuan
    assert rows["equity_contribution"][value] == "6000000.00"
    response = await api.get("/v1/statistics/contract-value?group_by=kind&format=csv&lang=en", "regulator")
    english = list(csv.reader(io.StringIO(await response.text())))
    assert english[0][kind] == "contract kind" and not any(HAN.search(h) for h in english[0]), english[0]


async def test_bad_input_is_named_and_roles_hold(api: Api, world: World) -> None:
    doc = await problem(await api.get("/v1/statistics/contract-value?group_by=colour", "regulator"), 422)
    assert doc["errors"][0]["field"] == "group_by"
    doc = await problem(await api.get("/v1/statistics/contract-value?seller=not-a-uuid", "regulator"), 422)
    assert doc["errors"][0]["field"] == "seller"
    doc = await problem(await api.get("/v1/statistics/contract-value?period=decade", "regulator"), 422)
    assert doc["errors"][0]["field"] == "period"
    await problem(await api.get("/v1/statistics/contract-value", "owner"), 403)
    await problem(await api.get("/v1/statistics/contract-value", None), 401)


async def test_a_nul_character_is_refused_naming_the_field(api: Api, world: World) -> None:
    for query, field in (("seller_kind=uni%00versity", "seller_kind"), ("currency=CN%00", "currency")):
        doc = await problem(await api.get(f"/v1/statistics/contract-value?{query}", "regulator"), 422)
        assert doc["errors"][0]["field"] == field, doc
