"""Downloads (CSV, XLSX) of every dashboard table, the register route, institution scoping, the pages' headers.

Figures are those of ``api_support.build_world``: U's licence C (100万, transaction and registered
90万, signed 2024-01-15, effective 2024-02-01) and equity contract CE (600万, signed 2023-08-10,
not registered); U's receipt P1 of 10万 on C allocated 70/15/15 (team 7万 for 张三 and 李四,
nothing paid yet, deadline 2027-03-01); U's achievements A (licensed), A4 (contributed for
shares) and A5 (not transferred). Amounts in a download are yuan: 10万 = 100000.00.
"""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl
from aiohttp import ClientResponse

from api.dashboard import DASHBOARD_CSP
from tests.integration.api_support import Api, World, problem

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AUDIT_HEADER = [
    "机构", "机构名称", "收入笔数", "收入（元）",
    "扣除（元）", "净收入（元）", "已分配（元）", "已发放（元）",
    "未发放（元）", "完成人团队分配（元）", "完成人团队已发放（元）",
    "完成人团队未发放（元）", "完成人数", "按期发放（笔）",
    "逾期发放（笔）", "期限内待发（笔）", "逾期未发（笔）",
    "期限内待发金额（元）", "逾期未发金额（元）",
]
AUDIT_FIGURES = ["1", "100000.00", "0.00", "100000.00", "100000.00", "0.00", "100000.00", "70000.00", "0.00",
                 "70000.00"]


def with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


async def fetch(api: Api, url: str, who: str) -> ClientResponse:
    head = await api.head()
    response = await api.get(with_query(url, f"min_position={head}"), who=who)
    assert response.status == 200, await response.text()
    return response


async def csv_rows(api: Api, url: str, who: str, filename: str) -> list[list[str]]:
    response = await fetch(api, with_query(url, "format=csv"), who)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}.csv"'
    return list(csv.reader(io.StringIO((await response.read()).decode("utf-8"))))


async def workbook(api: Api, url: str, who: str, filename: str) -> tuple[openpyxl.Workbook, bytes]:
    response = await fetch(api, with_query(url, "format=xlsx"), who)
    assert response.headers["Content-Type"] == XLSX
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}.xlsx"'
    body = await response.read()
    return openpyxl.load_workbook(io.BytesIO(body)), body


def values(sheet: Any) -> list[list[Any]]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def exact(cell: Any) -> Decimal:
    """The number a cell holds, as the decimal its stored digits spell (no float arithmetic)."""
    assert isinstance(cell, int | float) and not isinstance(cell, bool), cell
    return Decimal(repr(cell)) if isinstance(cell, float) else Decimal(cell)


def definition_rows(rows: list[list[str]], definition: dict[str, Any]) -> None:
    """After the table: one blank line, then ``统计口径,<key>,<text>`` for each definition entry."""
    blank = rows.index([])
    assert rows[blank + 1:] == [["统计口径", key, str(value)] for key, value in definition.items()
                                if not isinstance(value, dict)] + [
        ["统计口径", f"{key}.{sub}", str(leaf)] for key, value in definition.items() if isinstance(value, dict)
        for sub, leaf in value.items()]


# ---- contract value ----------------------------------------------------------------------------------


async def test_contract_value_by_period_as_csv(api: Api, world: World) -> None:
    url = "/v1/statistics/contracts?group_by=period"
    rows = await csv_rows(api, url, "regulator", "ttledger-contract-value-by-year")
    assert rows[:5] == [
        ["期间", "合同数", "合同成交额（元）", "技术交易额（元）",
         "登记额（元）"],
        ["2023", "1", "6000000.00", "6000000.00", "0.00"],
        ["2024", "1", "1000000.00", "900000.00", "900000.00"],
        ["合计", "2", "7000000.00", "6900000.00", "900000.00"],
        [],
    ]
    doc = await (await fetch(api, url, "regulator")).json()
    assert [(g["key"], g["contracts"]) for g in doc["groups"]] == [("2023", 1), ("2024", 1)]
    definition_rows(rows, {**doc["definition"], "as_of_position": doc["projection_position"],
                           "known_at": doc["known_at"]})
    quarters = await csv_rows(api, f"{url}&period=quarter", "regulator", "ttledger-contract-value-by-quarter")
    assert [r[:2] for r in quarters[1:3]] == [["2023-Q3", "1"], ["2024-Q1", "1"]]


async def test_contract_value_by_kind_as_xlsx_holds_exact_numbers(api: Api, world: World) -> None:
    book, body = await workbook(api, "/v1/statistics/contracts?group_by=kind", "regulator",
                                "ttledger-contract-value-by-kind")
    assert book.sheetnames == ["技术合同成交额", "统计口径"]
    sheet = book["技术合同成交额"]
    assert values(sheet)[0] == ["合同类别", "合同数", "合同成交额（元）",
                                "技术交易额（元）", "登记额（元）"]
    table = [[r[0], r[1], *(exact(v) for v in r[2:])] for r in values(sheet)[1:]]
    assert table == [
        ["equity_contribution", 1, Decimal("6000000.00"), Decimal("6000000.00"), Decimal("0")],
        ["licence", 1, Decimal("1000000.00"), Decimal("900000.00"), Decimal("900000.00")],
        ["合计", 2, Decimal("7000000.00"), Decimal("6900000.00"), Decimal("900000.00")],
    ]
    assert {sheet.cell(row=r, column=c).number_format for r in (2, 3, 4) for c in (3, 4, 5)} == {"#,##0.00"}
    assert sheet["B2"].number_format == "#,##0"
    # The cell stores the amount's digits, never a float's long tail.
    xml = zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>900000</v>" in xml and "<v>6000000</v>" in xml
    definition = values(book["统计口径"])
    assert definition[0] == ["统计口径", "内容"]
    assert definition[1][0] == "scope" and [r[0] for r in definition[-2:]] == ["as_of_position", "known_at"]


async def test_contract_value_by_region_names_the_province(api: Api, world: World) -> None:
    rows = await csv_rows(api, "/v1/statistics/contracts?group_by=seller_region", "regulator",
                          "ttledger-contract-value-by-seller-region")
    assert rows[:3] == [
        ["卖方地区", "地区名称", "合同数", "合同成交额（元）",
         "技术交易额（元）", "登记额（元）"],
        ["110000", "北京市", "2", "7000000.00", "6900000.00", "900000.00"],
        ["合计", "", "2", "7000000.00", "6900000.00", "900000.00"],
    ]


# ---- the read side's figures ---------------------------------------------------------------------------


async def test_transfer_rate_by_institution_names_it(api: Api, world: World) -> None:
    url = "/v1/statistics/transfer-rate?group_by=institution"
    rows = await csv_rows(api, url, "regulator", "ttledger-transfer-rate-transferred-over-registered-institution")
    assert rows[:4] == [
        ["机构", "机构名称", "分子", "分母", "转化率（%）"],
        [world["U"], "北京示范大学", "2", "3", "66.67"],
        ["合计", "", "2", "3", "66.67"],
        [],
    ]
    doc = await (await fetch(api, url, "regulator")).json()
    assert doc["institution_names"] == {world["U"]: "北京示范大学"}
    book, _ = await workbook(api, url, "regulator", "ttledger-transfer-rate-transferred-over-registered-institution")
    sheet = book["成果转化率"]
    assert exact(sheet["E2"].value) == Decimal("66.67") and sheet["E2"].number_format == "0.00"


async def test_ufpl_funnel_and_receivables_tables(api: Api, world: World) -> None:
    rows = await csv_rows(api, "/v1/statistics/ufpl-funnel?group_by=period", "regulator",
                          "ttledger-ufpl-funnel-period")
    assert rows[0][:4] == ["期间", "挂牌", "签约", "签约金额（元）"]
    # A is a service invention of a public university listed on X in 2023: listed once, nothing signed.
    assert rows[1:3] == [["2023", "1", "0", "0.00", "0", "0", "0", "0", "", "0.00", "0.00"],
                         ["合计", "1", "0", "0.00", "0", "0", "0", "0", "", "0.00", "0.00"]]
    rows = await csv_rows(api, "/v1/statistics/receivables?as_of=2026-01-01&group_by=institution,bucket",
                          "regulator", "ttledger-receivables-2026-01-01-institution-bucket")
    assert rows[0][:5] == ["机构", "机构名称", "账龄", "应收项",
                           "应收余额（元）"]
    assert rows[0][-1] == "账龄 >365 天（元）"
    assert rows[1] == ["合计", "", "", "0", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00"]


async def test_the_university_downloads_its_distribution_audit(api: Api, world: World) -> None:
    url = "/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=contract"
    rows = await csv_rows(api, url, "owner", "ttledger-distribution-audit-2026-01-01-by-contract")
    assert rows[0] == [*AUDIT_HEADER[:2], "合同", *AUDIT_HEADER[2:]]
    assert rows[1] == [world["U"], "北京示范大学", world["C"], *AUDIT_FIGURES, "2", "0", "0", "2", "0", "70000.00",
                       "0.00"]
    assert rows[2] == ["合计", "", "", *AUDIT_FIGURES, "", "0", "0", "2", "0", "70000.00", "0.00"]
    # The owner's own audit names its inventors; the regulator's never does.
    owner = await (await fetch(api, "/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=inventor",
                               "owner")).text()
    regulator = await (await fetch(api, "/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=inventor",
                                   "regulator")).text()
    assert "张三" in owner and "张三" not in regulator
    book, _ = await workbook(api, url, "owner", "ttledger-distribution-audit-2026-01-01-by-contract")
    assert book.sheetnames == ["收益分配审计", "低于法定下限的政策", "低于法定下限的分配", "追回款项", "自行实施奖励",
                               "职务发明人奖金", "统计口径"]
    assert values(book["追回款项"])[0] == [
        "机构", "机构名称", "受益方", "分组", "应追回（元）",
        "已退回（元）", "已抵扣（元）", "待追回（元）"]
    assert values(book["职务发明人奖金"])[0][:6] == [
        "机构", "机构名称", "专利数", "法定最低奖金（元）",
        "已发放（元）", "不足（元）"]
    assert values(book["低于法定下限的政策"]) == [[
        "机构", "机构名称", "政策版本", "生效日期",
        "规则包", "团队现金比例（%）", "法定下限（%）",
        "受下限约束", "发现"]]
    figures = [exact(v) for v in values(book["收益分配审计"])[1][4:14]]
    assert figures == [*(Decimal(v) for v in AUDIT_FIGURES[1:]), Decimal(2)]
    breaches = await csv_rows(api, f"{url}&table=floor_breach_allocations", "owner",
                              "ttledger-distribution-audit-2026-01-01-by-contract")
    assert breaches[0][:4] == ["机构", "机构名称", "合同", "收款编号"]
    assert breaches[1] == []  # none below the floor: the definition follows at once


async def test_the_register_of_achievements(api: Api, world: World) -> None:
    url = f"/v1/institutions/{world['U']}/achievements"
    doc = await (await fetch(api, with_query(url, "format=json"), "owner")).json()
    assert doc["institution_name"] == "北京示范大学"
    assert doc["totals"] == {"achievements": 3, "in_register": 0, "listed": 1, "transferred": 2}
    rows = await csv_rows(api, url, "owner", f"ttledger-achievement-register-{world['U'][:8]}")
    assert rows[0] == ["成果名称", "成果编号", "知识产权类型", "技术领域",
                       "职务成果", "登记日期", "授权日期",
                       "失效日期", "资产单列管理", "挂牌次数",
                       "首次挂牌", "转化日期", "转化方式", "转化次数"]
    by_title = {r[0]: r for r in rows[1:4]}
    assert by_title["MEMS 气体传感器阵列"] == [
        "MEMS 气体传感器阵列", world["A"], "invention_patent", "electronic_information", "true", "2022-06-01",
        "2022-05-01", "", "false", "1", "2023-01-15", "2024-02-01", "licence", "1"]
    assert by_title["耐高温涂层材料"][11:14] == ["2023-09-01", "equity", "1"]
    assert by_title["海洋微藻提取工艺"][11:14] == ["", "", "0"]
    assert rows[4] == []
    book, _ = await workbook(api, url, "regulator", f"ttledger-achievement-register-{world['U'][:8]}")
    assert book.sheetnames == ["成果登记台账", "统计口径"]
    assert len(values(book["成果登记台账"])) == 4


# ---- the annual reports as workbooks --------------------------------------------------------------------


async def test_the_annual_report_as_xlsx_one_sheet_per_section(api: Api, world: World) -> None:
    url = "/v1/reports/annual?year=2024"
    book, _ = await workbook(api, url, "owner", f"ttledger-annual-report-2024-{world['U'][:8]}")
    # The sections a public institution files (促进科技成果转化法 第二十一条), in Chinese by default.
    assert book.sheetnames == ["概要", "报告单位", "一、科技成果转化总体情况", "二、科技成果转化合同情况",
                               "三、科技成果转化收入情况", "四、收益分配与奖励情况", "统计口径"]
    known_at = (await (await fetch(api, url, "owner")).json())["known_at"]
    assert values(book["概要"]) == [["项目代码", "数值", "单位", "项目"],
                                    ["title", "科技成果转化年度报告（《促进科技成果转化法》第二十一条）", None, "报告名称"],
                                    ["year", 2024, None, "报告年度"],
                                    # The pair the report answers for: the business date and what was known.
                                    ["as_of", "2024-12-31", None, "截至日期（业务日期）"],
                                    ["known_at", known_at, None, "知悉时点（日志位置：只计记录到该位置的事件）"]]

    def items(sheet: str) -> dict[str, tuple[Any, Any]]:
        return {r[0]: (r[1], r[2]) for r in values(book[sheet])[1:]}

    assert items("报告单位")["name"] == ("北京示范大学", None)
    assert items("一、科技成果转化总体情况")["by_way.licence"] == (1, "计数")
    contracts = items("二、科技成果转化合同情况")
    assert exact(contracts["by_kind.licence.contract_value_fen"][0]) == Decimal("1000000.00")
    assert contracts["by_kind.licence.contract_value_fen"][1] == "元"
    assert exact(items("三、科技成果转化收入情况")["by_category_fen.other"][0]) == Decimal("100000.00")
    distribution = items("四、收益分配与奖励情况")
    assert exact(distribution["allocated_to_inventors.amount_fen"][0]) == Decimal("70000.00")
    assert distribution["allocated_to_inventors.persons"] == (2, "计数")
    sheet = values(book["四、收益分配与奖励情况"])
    assert sheet[1] == [None, None, None, "四、收益分配与奖励情况（对完成、转化职务科技成果作出重要贡献人员的奖励）"]
    labels = {r[0]: r[3] for r in sheet[2:]}
    assert labels["allocated_to_inventors.amount_fen"] == "分配给成果完成人·金额"
    row = next(r for r in book["二、科技成果转化合同情况"].iter_rows(min_row=2)
               if r[0].value == "by_kind.licence.contract_value_fen")
    assert row[1].number_format == "#,##0.00"
    definition = {r[0]: r[1] for r in values(book["统计口径"])[1:]}
    assert definition["title"] == "科技成果转化年度报告（《促进科技成果转化法》第二十一条）"
    assert definition["scope"].startswith("本单位作为卖方")
    # The JSON names each section and item in the chosen language, the figures unchanged.
    doc = await (await fetch(api, url, "owner")).json()
    assert doc["sections"]["contracts"] == "二、科技成果转化合同情况（转让、许可、作价投资）"
    assert doc["labels"]["distribution.cash_awards_paid.amount_fen"] == "已发放现金奖励·金额"
    assert doc["title"] == doc["definition"]["title"] == "科技成果转化年度报告（《促进科技成果转化法》第二十一条）"
    en = await (await fetch(api, f"{url}&lang=en", "owner")).json()
    assert en["sections"]["income"] == "III. Income from transformation"
    assert en["title"].startswith("Annual report on the transformation")
    assert en["distribution"] == doc["distribution"]
    # The report's own CSV: section titles, item codes and labels, units, 统计口径 in Chinese.
    rows = await csv_rows(api, url, "owner", f"ttledger-annual-report-2024-{world['U'][:8]}")
    assert rows[0] == ["部分", "项目代码", "项目", "数值", "单位"]
    assert ["二、科技成果转化合同情况（转让、许可、作价投资）", "by_kind.licence.contract_value_fen",
            "按合同类别·许可·合同成交额", "100000000", "分"] in rows
    assert any(r[0] == "统计口径" and r[1] == "scope" and "本单位作为卖方" in r[3] for r in rows)
    rows = await csv_rows(api, f"{url}&lang=en", "owner", f"ttledger-annual-report-2024-{world['U'][:8]}")
    assert rows[0] == ["section", "item", "label", "value", "unit"]
    assert ["II. Transformation contracts (assignment, licence, equity investment)",
            "by_kind.licence.contract_value_fen", "by kind · licence · contract value", "100000000", "fen"] in rows
    english, _ = await workbook(api, f"{url}&lang=en", "owner", f"ttledger-annual-report-2024-{world['U'][:8]}")
    assert english.sheetnames == ["summary", "Institution", "I. Overall transformation", "II. Contracts",
                                  "III. Income", "IV. Distribution and awards", "definition"]
    assert values(english["summary"])[0] == ["item", "value", "unit", "label"]

    autm, _ = await workbook(api, "/v1/reports/autm?year=2024", "regulator", "ttledger-autm-summary-2024")
    assert autm.sheetnames == ["概要", "签订的许可（含期权）", "许可收入", "统计口径"]
    assert {r[0]: r[1] for r in values(autm["统计口径"])[1:]}["title"] == "AUTM 式许可活动统计摘要"
    autm_en, _ = await workbook(api, "/v1/reports/autm?year=2024&lang=en", "regulator", "ttledger-autm-summary-2024")
    assert autm_en.sheetnames == ["summary", "Licences and options executed", "Licence income", "definition"]


async def test_downloads_in_english(api: Api, world: World) -> None:
    """``lang=en`` (or ``Accept-Language: en``): English headers, labels and sheet names only."""
    url = "/v1/statistics/contracts?group_by=period&lang=en"
    rows = await csv_rows(api, url, "regulator", "ttledger-contract-value-by-year")
    assert rows[:4] == [
        ["period", "contracts", "contract value", "transaction value", "registered value"],
        ["2023", "1", "6000000.00", "6000000.00", "0.00"],
        ["2024", "1", "1000000.00", "900000.00", "900000.00"],
        ["total", "2", "7000000.00", "6900000.00", "900000.00"],
    ]
    definition = rows[rows.index([]) + 1:]
    assert {r[0] for r in definition} == {"definition"}
    doc = await (await fetch(api, url, "regulator")).json()
    assert next(r[2] for r in definition if r[1] == "scope") == doc["definition"]["scope"] == \
        doc["definition_en"]["scope"] != doc["definition_zh"]["scope"]
    book, _ = await workbook(api, "/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=contract&lang=en",
                             "owner", "ttledger-distribution-audit-2026-01-01-by-contract")
    assert book.sheetnames == ["distribution_audit", "floor_breach_policies", "floor_breach_allocations",
                               "recoveries", "self_implementation_awards", "invention_bonuses", "definition"]
    assert values(book["distribution_audit"])[0][:4] == ["institution", "institution name", "contract", "receipts"]
    assert values(book["definition"])[0] == ["definition", "text"]
    register = f"/v1/institutions/{world['U']}/achievements?lang=en"
    rows = await csv_rows(api, register, "owner", f"ttledger-achievement-register-{world['U'][:8]}")
    assert rows[0][:3] == ["title", "achievement id", "IP type"]
    # Chinese by default, and with Accept-Language: zh-CN; nothing English in the headers.
    head = await api.head()
    response = await api.get(f"/v1/statistics/contracts?group_by=kind&format=csv&min_position={head}",
                             who="regulator", **{"Accept-Language": "zh-CN,en;q=0.5"})
    assert response.headers["Content-Language"] == "zh-CN"
    header = (await response.text()).splitlines()[0]
    assert header == "合同类别,合同数,合同成交额（元）,技术交易额（元）,登记额（元）"


# ---- refusals ------------------------------------------------------------------------------------------


async def test_refusals(api: Api, world: World) -> None:
    head = await api.head()
    doc = await problem(await api.get("/v1/statistics/contracts?format=pdf", who="regulator"), 422)
    assert [(e["field"], e["rule"], e["in"]) for e in doc["errors"]] == [("format", "validation.enum", "query")]
    doc = await problem(await api.get("/v1/reports/annual?year=2024&format=xls", who="owner"), 422)
    assert doc["errors"][0]["field"] == "format"
    doc = await problem(await api.get(
        "/v1/statistics/distribution-audit?as_of=2026-01-01&format=csv&table=everything", who="owner"), 422)
    assert doc["errors"][0]["field"] == "table"
    # Wrong role: 403 before anything is read.
    for url, who in (("/v1/statistics/contracts?format=xlsx", "owner"),
                     ("/v1/statistics/distribution-audit?as_of=2026-01-01&format=xlsx", "exchange"),
                     (f"/v1/institutions/{world['U']}/achievements?format=csv", "exchange")):
        doc = await problem(await api.get(url, who=who), 403)
        assert doc["type"].endswith("/role-not-allowed"), url
    # Another institution's figures are answered as missing ones.
    for url in (f"/v1/statistics/distribution-audit?as_of=2026-01-01&institution_id={world['U']}&format=csv",
                f"/v1/reports/annual?year=2024&institution_id={world['U']}&format=xlsx",
                f"/v1/reports/autm?year=2024&institution_id={world['U']}",
                f"/v1/institutions/{world['U']}/achievements?format=xlsx"):
        for who in ("stranger", "buyer"):
            doc = await problem(await api.get(url, who=who), 404)
            assert doc["type"].endswith("/not-found") and doc["aggregate_id"] == world["U"], (url, who)
    # Without an institution named, a university reads its own: the stranger U2 has nothing.
    empty = await (await fetch(api, "/v1/statistics/distribution-audit?as_of=2026-01-01", "stranger")).json()
    assert empty["rows"] == [] and empty["institution_names"] == {}
    doc = await problem(await api.get("/v1/statistics/distribution-audit?as_of=2026-01-01&institution_id=x",
                                      who="owner"), 422)
    assert doc["errors"][0]["field"] == "institution_id"
    assert await api.head() == head


async def test_openapi_lists_the_downloads(api: Api) -> None:
    doc = await (await api.client.get("/v1/openapi.json")).json()
    for path in ("/v1/statistics/contracts", "/v1/statistics/transfer-rate", "/v1/statistics/ufpl-funnel",
                 "/v1/statistics/receivables", "/v1/statistics/distribution-audit", "/v1/reports/annual",
                 "/v1/reports/autm", "/v1/institutions/{institution_id}/achievements"):
        op = doc["paths"][path]["get"]
        assert set(op["responses"]["200"]["content"]) == {"application/json", "text/csv", XLSX}, path
        fmt = next(p for p in op["parameters"] if p["name"] == "format")
        assert fmt["schema"]["$ref"] == "#/components/schemas/ExportFormat", path
    assert doc["components"]["schemas"]["ExportFormat"]["enum"] == ["json", "csv", "xlsx"]
    assert doc["paths"]["/v1/statistics/distribution-audit"]["get"]["x-roles"] == ["admin", "institution",
                                                                                  "regulator"]


# ---- the pages -------------------------------------------------------------------------------------------


async def test_dashboard_pages_and_their_security_headers(api: Api) -> None:
    expected = {"Content-Security-Policy": DASHBOARD_CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
    assert "script-src 'self'" in DASHBOARD_CSP and "'unsafe-inline'" not in DASHBOARD_CSP
    for path, content_type in (("/dashboard", "text/html; charset=utf-8"),
                               ("/dashboard/static/app.js", "text/javascript; charset=utf-8"),
                               ("/dashboard/static/dashboard.css", "text/css; charset=utf-8"),
                               ("/dashboard/static/vendor/echarts/echarts.min.js", "text/javascript; charset=utf-8")):
        response = await api.client.get(path)
        assert response.status == 200, path
        assert response.headers["Content-Type"] == content_type, path
        assert {k: response.headers[k] for k in expected} == expected, path
    page = await (await api.client.get("/dashboard")).text()
    assert "<script>" not in page and " style=" not in page  # nothing inline: the CSP would block it
    assert 'src="/dashboard/static/vendor/echarts/echarts.min.js"' in page and "http" not in page.split("<body")[1]
    # Found by a hostile client: an encoded NUL made the path resolution raise (a 500, no leak).
    for bad in ("/dashboard/static/..%2f..%2fapp.py", "/dashboard/static/vendor/echarts/LICENSE",
                "/dashboard/static/nothing.js", "/dashboard/static/vendor",
                "/dashboard/static/..%2fdashboard%2fapp.js%00.js", "/dashboard/static/app.js%00",
                "/dashboard/static/%2e%2e/%2e%2e/dashboard.py", "/dashboard/static/app.js%2f",
                "/dashboard/static/%ff%fe.js", "/dashboard/static/" + "a/" * 300 + "x.js",
                "/dashboard/static/vendor//echarts/echarts.min.js",
                "/dashboard/static/APP.JS", "/dashboard/static/app.js%5c..%5c..%5capp.py"):
        response = await api.client.get(bad)
        assert response.status == 404, bad
        assert response.content_type == "application/problem+json", bad
    response = await api.client.get("/dashboard/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (308, "/dashboard")
