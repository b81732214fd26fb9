"""``POST /v1/imports``: the bulk import from the browser, as a job, with each row checked like its route.

Over the world of api_support: licence C of 北京示范大学 (U) to F, registered, entry fee 10万 paid
(P1), a milestone and royalties still to come. The owner (U's token) imports payments on C; the
stranger (上海示范大学, U2) tries the same file and every row is refused as C is not its record;
a regulator may not import at all.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

from openpyxl import load_workbook

from ledger.bootstrap import Ledger
from tests.integration.api_support import Api, World, problem

HEADER = ["contract", "payment_id", "amount_yuan", "received_on", "payer", "overpayment"]


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


async def run_job(api: Api, who: str, data: bytes, *, dry_run: bool, lang: str = "zh") -> dict[str, Any]:
    response = await api.client.post(f"/v1/imports?kind=payments&dry_run={str(dry_run).lower()}&lang={lang}"
                                     "&file_name=bank.csv", data=data,
                                     headers={**api.headers(who), "Content-Type": "text/csv"})
    job = await response.json()
    assert response.status == 202, job
    assert response.headers["Location"] == f"/v1/imports/{job['id']}"
    for _ in range(400):
        if job["state"] != "running":
            break
        await asyncio.sleep(0.025)
        job = await api.read(f"/v1/imports/{job['id']}", who=who)
    assert job["state"] == "done", job
    return job


def rows_of(c: str) -> list[list[str]]:
    return [
        [c, "IMP-1", "2000.00", "2024-04-01", "北京微纳传感科技有限公司", "credit"],   # row 2
        [c, "IMP-2", "12.345", "2024-04-02", "", "credit"],                           # row 3: three decimals
        ["not-a-contract", "IMP-3", "10.00", "2024-04-03", "", "credit"],              # row 4: no such contract
        [c, "IMP-4", "3000.50", "2024-04-04", "", "credit"],                          # row 5
    ]


async def test_a_dry_run_then_the_import_as_the_owner(api: Api, world: World, ledger: Ledger) -> None:
    data = csv_bytes(rows_of(str(world["C"])))
    head = await api.head()
    dry = await run_job(api, "owner", data, dry_run=True, lang="en")
    assert (dry["kind"], dry["dry_run"], dry["file_name"], dry["done"], dry["total"]) == (
        "payments", True, "bank.csv", 4, 4)
    assert [(i["row"], i["rule"]) for i in dry["issues"]] == [(3, "money_whole_fen"), (4, "referenced_record_exists")]
    assert dry["issues"][0]["column"] == "amount_yuan" and "decimal" in dry["issues"][0]["message"]
    assert (dry["summary"]["valid"], dry["summary"]["failed"], dry["summary"]["written"]) == (2, 2, 0)
    assert await api.head() == head  # a dry run writes nothing

    real = await run_job(api, "owner", data, dry_run=False)
    assert (real["summary"]["written"], real["summary"]["failed"]) == (2, 2)
    assert await api.head() == head + 2
    rows = await ledger.store.pool.fetch(
        "SELECT state, metadata FROM events WHERE position > $1 ORDER BY position", head)
    token = await ledger.store.pool.fetchval("SELECT id FROM api_tokens WHERE name = 'test owner'")
    seen = []
    for row in rows:
        meta = json.loads(bytes(row["metadata"]))
        seen.append((json.loads(bytes(row["state"]))["payment_id"], meta["import"]["row"], meta["actor"]["id"]))
        assert meta["actor"]["role"] == "institution" and meta["import"]["job"].startswith("import-")
    assert seen == [("IMP-1", 2, str(token)), ("IMP-4", 5, str(token))]
    view = await api.read(f"/v1/contracts/{world['C']}", who="owner")
    credits = {c["credit_id"]: c["amount_fen"] for c in view["credits"]}
    assert (credits.get("IMP-1"), credits.get("IMP-4")) == (200_000, 300_050)  # 2000.00 and 3000.50 元, held

    again = await run_job(api, "owner", data, dry_run=False)
    assert (again["summary"]["written"], again["summary"]["replayed"]) == (0, 2)
    assert await api.head() == head + 2

    report = await api.get(f"/v1/imports/{real['id']}/report.xlsx", who="owner")
    assert report.status == 200
    book = load_workbook(io.BytesIO(await report.read()))
    sheet = book["issues"]
    assert [c.value for c in sheet[1]] == ["行 row", "列 column", "规则 rule", "说明 message"]
    assert [(r[0].value, r[2].value) for r in sheet.iter_rows(min_row=2)] == [
        (3, "money_whole_fen"), (4, "referenced_record_exists")]


async def test_rows_are_checked_as_their_routes_check_them(api: Api, world: World) -> None:
    """The stranger (U2) may import payments, but not onto U's contract: each row is refused as the route
    would (C is out of its view, answered as missing), and nothing is written."""
    data = csv_bytes([*rows_of(str(world["C"]))[:1], [str(world["C"]), "IMP-9", "1.00", "2024-04-05", "", "credit"]])
    head = await api.head()
    job = await run_job(api, "stranger", data, dry_run=False)
    assert [(i["row"], i["rule"]) for i in job["issues"]] == [(2, "referenced_record_exists"),
                                                              (3, "referenced_record_exists")]
    assert job["summary"]["written"] == 0 and await api.head() == head
    # The buyer sees C but may record only royalty reports and licensee revenue on it.
    job = await run_job(api, "buyer", data, dry_run=True)
    assert {i["rule"] for i in job["issues"]} == {"institution-scope"}
    # Someone else's job is not theirs to read; a regulator imports nothing.
    await problem(await api.get(f"/v1/imports/{job['id']}", who="stranger"), 404)
    doc = await problem(await api.client.post("/v1/imports?kind=payments", data=data,
                                              headers=api.headers("regulator")), 403)
    assert doc["type"].endswith("/role-not-allowed")


async def test_bad_requests_are_refused_before_any_job(api: Api, world: World) -> None:
    head = await api.head()
    doc = await problem(await api.client.post("/v1/imports?kind=grants", data=b"x", headers=api.headers("owner")),
                        422)
    assert [e["field"] for e in doc["errors"]] == ["kind"]
    empty = await run_job(api, "owner", b"", dry_run=True)
    assert [i["row"] for i in empty["issues"]] == [0]
    job = await run_job(api, "owner", b"\x00\x01 not a spreadsheet", dry_run=True)
    assert [(i["row"], i["rule"]) for i in job["issues"]] == [(0, "import_file_readable")], job["issues"]
    assert job["summary"]["written"] == 0
    assert await api.head() == head


async def test_templates_download(api: Api) -> None:
    for kind in ("payments", "achievements", "contracts"):
        response = await api.get(f"/v1/imports/templates/{kind}.xlsx", who="exchange")
        assert response.status == 200
        assert response.headers["Content-Disposition"] == f'attachment; filename="ttledger-{kind}-template.xlsx"'
        book = load_workbook(io.BytesIO(await response.read()))
        assert book.worksheets[0].max_column >= 4
