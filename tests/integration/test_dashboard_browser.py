"""The dashboard in a real headless Chromium (Debian's ``chromium``) driven by Playwright, on the demo data.

The server is the application on the module's database with the demo dataset
loaded through the bus; users for a regulator and two universities (北京示范大学
``pku``, 上海示范交通大学 ``sjtu``) sign in through the sign-in page (``/sign-in``)
and land on the dashboard, which then calls the API with the session cookie (the
tests read the API's own answers with tokens of the same roles). Every chart
is checked through its ECharts instance (series count, categories, the fen
behind each plotted value) against the API's own answer, and as a canvas with
paint on it; tables are checked cell by cell against amounts formatted here with
Decimal. Screenshots go to ``test-artifacts/screenshots/``.

Without chromium or Playwright the tests skip, saying which is missing, unless
``TTLEDGER_REQUIRE_BROWSER=1`` (CI), where they fail instead. Playwright never
downloads a browser here: it launches Debian's ``chromium`` (``TTLEDGER_CHROMIUM`` names another binary).
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from domain.enums import CHINESE_LABELS, ContractKind
from domain.institution import PROVINCES
from ledger.bootstrap import Ledger
from ledger.demo import demo_id, load_demo
from ledger.tokens import Role, TokenService
from ledger.users import UserService
from tests.integration.api_support import Api

HAN = re.compile(r"[\u4e00-\u9fff]")

CHROMIUM = os.environ.get("TTLEDGER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REQUIRED = os.environ.get("TTLEDGER_REQUIRE_BROWSER") == "1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
UNITS = {"yuan": 100, "wan": 1_000_000, "yi": 10_000_000_000}
ZH_UNITS = {"yuan": "元", "wan": "万元", "yi": "亿元"}
REGULATOR_CHARTS = {"contracts-period": 3, "contracts-kind": 3, "contracts-region": 3, "transfer-institution": 1,
                    "transfer-region": 1, "ufpl": 1, "receivables": 6}
CONTRACT_FIELDS = ("contract_value_fen", "transaction_value_fen", "registered_value_fen")
FUNNEL = ("listed", "signed", "trials_started", "converted", "returned")
SJTU_TITLES = {"高强韧铝合金制备方法", "可降解心血管支架"}
PKU_TITLES = {"MEMS 气体传感器阵列", "工业废水膜分离技术"}

# Collects Content-Security-Policy violations before any script of the page runs.
CSP_WATCH = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
CHART_STATE = """(id) => {
  const el = document.getElementById('chart-' + id);
  const chart = echarts.getInstanceByDom(el);
  const option = chart.getOption();
  const canvas = el.querySelector('canvas');
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  return {series: option.series.map(s => ({name: s.name, type: s.type, data: s.data})),
          categories: option.xAxis && option.xAxis.length ? option.xAxis[0].data : null,
          width: canvas.width, height: canvas.height, painted};
}"""
TABLE_TEXT = """(id) => [...document.querySelectorAll('#table-' + id + ' tr')].map(
  tr => [...tr.children].map(cell => cell.textContent))"""


def browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"chromium is not installed ({CHROMIUM} missing; apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    missing = browser_missing()
    if missing is not None:
        if REQUIRED:
            pytest.fail(f"TTLEDGER_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
async def demo(api: Api, ledger: Ledger) -> Api:
    """The demo dataset, projected; tokens ``regulator``, ``pku`` and ``sjtu`` in ``api.tokens``, and users
    of the same names (password ``PASSWORD``) who sign in on the page."""
    await load_demo(ledger.bus)
    service = TokenService(ledger.store.pool)
    users = UserService(ledger.store.pool)
    _, api.tokens["regulator"] = await service.create(Role.REGULATOR, name="统计处")
    await users.create("regulator", Role.REGULATOR, display_name="统计处", password=PASSWORD,
                       must_change_password=False)
    for key in ("pku", "sjtu"):
        _, api.tokens[key] = await service.create(Role.INSTITUTION, institution_id=demo_id(key), name=key)
        await users.create(key, Role.INSTITUTION, institution_id=demo_id(key), display_name=key,
                           password=PASSWORD, must_change_password=False)
    for _ in range(300):
        ready = await api.read("/readyz", who=None)  # type: ignore[arg-type]
        if ready["projection_lag"] == 0:
            break
        await asyncio.sleep(0.05)
    assert ready["projection_lag"] == 0 and ready["log_head"] > 200
    return api


PASSWORD = "Kanban-2025-signin"


async def sign_in_page(browser: Any, api: Api) -> Any:
    """A fresh context on the dashboard, which sends the unsigned-in visitor to /sign-in."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    page.errors = []  # console errors and uncaught exceptions
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    await page.add_init_script(CSP_WATCH)
    await page.goto(str(api.client.make_url("/dashboard")))
    await page.wait_for_url("**/sign-in")
    await page.wait_for_selector('body[data-ready="true"][data-step="step-password"]')
    return page


async def open_dashboard(browser: Any, api: Api, who: str, name: str) -> Any:
    """A fresh browser context signed in as ``who`` on /sign-in; the dashboard once every panel is drawn."""
    page = await sign_in_page(browser, api)
    await page.fill("#username", who)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in-submit")
    await page.wait_for_url("**/dashboard")
    await page.wait_for_selector('body[data-ready="true"][data-view]')
    page.errors.clear()  # the sign-in page's 401 for "nobody signed in yet" is logged by the browser
    await shot(page, name)
    return page


async def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def clean(page: Any) -> None:
    """No CSP violation, no console error, then close."""
    assert await page.evaluate("window.__csp") == []
    assert page.errors == []
    await page.context.close()


async def api_json(api: Api, url: str, who: str) -> Any:
    return await api.read(url, who=who)


def unit_for(fens: list[int]) -> str:
    largest = max((abs(f) for f in fens), default=0)
    return "yi" if largest >= UNITS["yi"] else "wan" if largest >= UNITS["wan"] else "yuan"


def money(fen: int, unit: str) -> str:
    amount = (Decimal(fen) / UNITS[unit]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{abs(amount) if amount == 0 else amount:,.2f}"  # what rounds to nothing has no sign


async def chart(page: Any, chart_id: str) -> dict[str, Any]:
    state = await page.evaluate(CHART_STATE, chart_id)
    assert state["width"] > 0 and state["height"] > 0 and state["painted"] > 1000, (chart_id, state["painted"])
    return dict(state)


def amounts(series: dict[str, Any], unit: str) -> list[tuple[str, float]]:
    return [(d["fen"], d["value"]) for d in series["data"]]


def expected(fens: list[int], unit: str) -> list[tuple[str, float]]:
    return [(str(f), f / UNITS[unit]) for f in fens]


# ---- the regulator ---------------------------------------------------------------------------------------


async def test_regulator_charts_show_the_api_figures(browser: Any, demo: Api) -> None:
    page = await open_dashboard(browser, demo, "regulator", "regulator-zh")
    assert await page.get_attribute("body", "data-view") == "regulator"
    assert await page.text_content("#who") == "统计处（监管部门）"
    states = {i: await chart(page, i) for i in REGULATOR_CHARTS}
    assert {i: len(s["series"]) for i, s in states.items()} == REGULATOR_CHARTS

    # Contract value over time, by kind, by region: 3 series each, the fen behind every bar.
    for chart_id, group_by, key_header, label in (
        ("contracts-period", "period&period=year", "期间", lambda k: k),
        ("contracts-kind", "kind", "合同类别", lambda k: CHINESE_LABELS[ContractKind][k]),
        ("contracts-region", "seller_region", "地区", lambda k: PROVINCES[k]),
    ):
        doc = await api_json(demo, f"/v1/statistics/contracts?group_by={group_by}", "regulator")
        groups = doc["groups"]
        unit = unit_for([g[f] for g in groups for f in CONTRACT_FIELDS])
        state = states[chart_id]
        assert state["categories"] == [label(g["key"]) for g in groups], chart_id
        assert [s["name"] for s in state["series"]] == ["合同成交额", "技术交易额", "登记额"]
        for series, field in zip(state["series"], CONTRACT_FIELDS, strict=True):
            assert amounts(series, unit) == expected([g[field] for g in groups], unit), (chart_id, field)
        rows = await page.evaluate(TABLE_TEXT, chart_id)
        assert rows[0] == [key_header, "合同数",
                           *(f"{n}（{ZH_UNITS[unit]}）" for n in ("合同成交额", "技术交易额", "登记额"))]
        assert rows[1:] == [[label(g["key"]), str(g["contracts"]), *(money(g[f], unit) for f in CONTRACT_FIELDS)]
                            for g in groups] + [["合计", f"{doc['totals']['contracts']:,}",
                                                 *(money(doc["totals"][f], unit) for f in CONTRACT_FIELDS)]]
        shown = await page.locator(f"#panel-{chart_id} aside.definition dd").all_text_contents()
        assert doc["definition"]["formula"] in shown and str(doc["projection_position"]) in shown
        # The Chinese dashboard shows the Chinese 统计口径 (issue 15), with no "English only" note.
        assert doc["definition"] == doc["definition_zh"] and doc["definition_zh"]["scope"] in shown
        assert all(HAN.search(doc["definition_zh"][k]) for k in ("scope", "date_basis", "status_basis", "formula"))
        notes = await page.locator(f"#panel-{chart_id} aside.definition p").all_text_contents()
        assert not any("英文" in n for n in notes)

    # Transfer rates with the formula shown: one series of percentages, named institutions.
    for chart_id, group_by in (("transfer-institution", "institution"), ("transfer-region", "region")):
        doc = await api_json(demo, f"/v1/statistics/transfer-rate?group_by={group_by}", "regulator")
        state = states[chart_id]
        names = [doc["institution_names"][r["institution"]] for r in doc["rows"]] if group_by == "institution" \
            else [PROVINCES[r["region"]] for r in doc["rows"]]
        assert state["categories"] == names
        assert [d["percent"] for d in state["series"][0]["data"]] == [r["rate_percent"] for r in doc["rows"]]
        formula = await page.text_content(f"#panel-{chart_id} .formula")
        assert formula == f"公式：{doc['formula']['title']} — {doc['formula']['formula']}"
        assert (await page.evaluate(TABLE_TEXT, chart_id))[-1] == [
            "合计", str(doc["totals"]["numerator"]), str(doc["totals"]["denominator"]),
            f"{doc['totals']['rate_percent']}%"]

    # The UFPL funnel: listed → signed → trial → converted / returned.
    doc = await api_json(demo, "/v1/statistics/ufpl-funnel?group_by=period&period=year", "regulator")
    funnel = states["ufpl"]["series"][0]
    assert funnel["type"] == "funnel"
    assert [(d["name"], d["value"]) for d in funnel["data"]] == list(zip(
        ["挂牌", "签约", "开始试用", "转为付费", "退回"], [doc["totals"][s] for s in FUNNEL], strict=True))
    assert (doc["totals"]["converted"], doc["totals"]["returned"]) == (2, 1)  # the demo's Shaanxi trials

    # Receivables ageing as of the page's date: not due, then one series per bucket.
    as_of = await page.input_value("#as-of")
    assert as_of == date.today().isoformat()
    doc = await api_json(demo, f"/v1/statistics/receivables?as_of={as_of}&group_by=institution", "regulator")
    state = states["receivables"]
    unit = unit_for([r[f] for r in doc["rows"] for f in ("outstanding_fen", "not_due_fen")]
                    + [v for r in doc["rows"] for v in r["ageing_fen"].values()])
    assert state["categories"] == [doc["institution_names"][r["institution"]] for r in doc["rows"]]
    assert amounts(state["series"][0], unit) == expected([r["not_due_fen"] for r in doc["rows"]], unit)
    for series, bucket in zip(state["series"][1:], doc["buckets"], strict=True):
        assert amounts(series, unit) == expected([r["ageing_fen"][bucket] for r in doc["rows"]], unit), bucket
    assert (await page.evaluate(TABLE_TEXT, "receivables"))[-1][:4] == [
        "合计", *(money(doc["totals"][f], unit) for f in ("outstanding_fen", "not_due_fen", "overdue_fen"))]
    await clean(page)


async def test_language_and_unit_switch(browser: Any, demo: Api) -> None:
    page = await open_dashboard(browser, demo, "regulator", "regulator-zh-before-switch")
    doc = await api_json(demo, "/v1/statistics/contracts?group_by=period&period=year", "regulator")
    first = doc["groups"][0]

    await page.click("#lang-en")
    await page.wait_for_selector('body[data-ready="true"]')
    assert await page.text_content("#app-title") == "Technology transfer dashboard"
    assert await page.text_content("#panel-contracts-period h2") == "Contract value by period"
    assert await page.text_content("#panel-ufpl h2") == "Use first, pay later: listed → trial → converted / returned"
    assert await page.text_content("#who") == "统计处 (regulator)"
    state = await chart(page, "contracts-period")
    assert [s["name"] for s in state["series"]] == ["Contract value", "Technology transaction value",
                                                    "Registered value"]
    kinds = await chart(page, "contracts-kind")
    assert "Equity contribution" in kinds["categories"] and "作价投资" not in kinds["categories"]
    header = (await page.evaluate(TABLE_TEXT, "contracts-period"))[0]
    assert header == ["Period", "Contracts", "Contract value (10,000 yuan)",
                      "Technology transaction value (10,000 yuan)", "Registered value (10,000 yuan)"]
    assert await page.text_content("#panel-contracts-period aside.definition h3") == "Statistical definition (统计口径)"
    shown = await page.locator("#panel-contracts-period aside.definition dd").all_text_contents()
    assert doc["definition_en"]["formula"] in shown and doc["definition_zh"]["formula"] not in shown
    assert await page.evaluate("localStorage.getItem('ttledger.dashboard.lang')") == "en"
    await shot(page, "regulator-en")

    # The choice survives a reload (the token too: sessionStorage of this tab).
    await page.reload()
    await page.wait_for_selector('body[data-ready="true"][data-view]')
    assert await page.text_content("#panel-contracts-period h2") == "Contract value by period"

    # Amounts in 元 instead of 万元: the same fen, another unit, exactly.
    await page.select_option("#unit", "yuan")
    await page.wait_for_selector('body[data-ready="true"]')
    rows = await page.evaluate(TABLE_TEXT, "contracts-period")
    assert rows[0][2] == "Contract value (yuan)"
    assert rows[1] == [first["key"], str(first["contracts"]), *(money(first[f], "yuan") for f in CONTRACT_FIELDS)]
    state = await chart(page, "contracts-period")
    assert amounts(state["series"][0], "yuan") == expected([g["contract_value_fen"] for g in doc["groups"]], "yuan")

    await page.click("#lang-zh")
    await page.wait_for_selector('body[data-ready="true"]')
    assert await page.text_content("#panel-contracts-period h2") == "技术合同成交额（按期间）"
    assert (await page.evaluate(TABLE_TEXT, "contracts-period"))[0][2] == "合同成交额（元）"
    assert (await chart(page, "contracts-period"))["series"][0]["name"] == "合同成交额"
    assert await page.evaluate("localStorage.getItem('ttledger.dashboard.lang')") == "zh"
    await clean(page)


# ---- the universities ------------------------------------------------------------------------------------


async def university_view(browser: Any, api: Api, who: str) -> Any:
    """The university's page shows its own audit and register, exactly as the API answers them."""
    page = await open_dashboard(browser, api, who, f"university-{who}")
    assert await page.get_attribute("body", "data-view") == "institution"
    me = str(demo_id(who))
    as_of = await page.input_value("#as-of")
    audit = await api_json(api, f"/v1/statistics/distribution-audit?as_of={as_of}&group_by=contract", who)
    assert {r["institution_id"] for r in audit["rows"]} == {me}
    titles = [(await api_json(api, f"/v1/contracts/{r['contract_id']}", who))["title"] for r in audit["rows"]]
    bars = await chart(page, "audit")
    assert bars["categories"] == titles
    amount_fields = ("received_fen", "deducted_fen", "net_fen", "allocated_fen", "paid_fen", "unpaid_fen",
                     "team_unpaid_fen")
    unit = unit_for([r[f] for r in [*audit["rows"], audit["totals"]] for f in amount_fields])
    assert [s["name"] for s in bars["series"]] == ["收入", "扣除", "已分配", "已发放"]
    for series, field in zip(bars["series"], ("received_fen", "deducted_fen", "allocated_fen", "paid_fen"),
                             strict=True):
        assert amounts(series, unit) == expected([r[field] for r in audit["rows"]], unit), field
    pie = await chart(page, "audit-deadlines")
    assert len(pie["series"]) == 1 and pie["series"][0]["type"] == "pie"
    assert [d["value"] for d in pie["series"][0]["data"]] == [
        audit["totals"]["deadline"][s]["lines"] for s in ("paid_in_time", "paid_late", "open", "overdue")]
    cards = await page.locator("#panel-audit .cards strong").all_text_contents()
    assert cards == [money(audit["totals"][f], unit) for f in ("received_fen", "deducted_fen", "net_fen",
                                                                 "allocated_fen", "paid_fen", "unpaid_fen")]
    table = await page.evaluate(TABLE_TEXT, "audit")
    assert [row[0] for row in table[1:-1]] == titles and table[-1][0] == "合计"

    register = await api_json(api, f"/v1/institutions/{me}/achievements", who)
    shown = await page.evaluate(TABLE_TEXT, "register")
    assert [row[0] for row in shown[1:]] == [r["title"] for r in register["rows"]]
    return page


async def test_universities_see_only_their_own_records(browser: Any, demo: Api) -> None:
    pku = await university_view(browser, demo, "pku")
    text = await pku.text_content("body")
    assert all(title in text for title in PKU_TITLES)
    assert not any(title in text for title in SJTU_TITLES)
    register = await pku.evaluate(TABLE_TEXT, "register")
    assert {row[0] for row in register[1:]} == PKU_TITLES
    assert register[1:] and all(len(row) == 9 for row in register[1:])
    assert await pku.evaluate("window.__csp") == [] and pku.errors == []
    # Asking the API for the other university's figures with this token: 404, as for a missing record
    # (the browser logs each 404 as a console error, so the page's own errors were checked first).
    sjtu = demo_id("sjtu")
    for url in (f"/v1/institutions/{sjtu}/achievements",
                f"/v1/statistics/distribution-audit?as_of=2026-01-01&institution_id={sjtu}"):
        status = await pku.evaluate("""async (url) => (await fetch(url, {credentials: 'same-origin'})).status""",
                                    url)
        assert status == 404, url
    await pku.context.close()

    other = await university_view(browser, demo, "sjtu")
    text = await other.text_content("body")
    assert all(title in text for title in SJTU_TITLES) and not any(title in text for title in PKU_TITLES)
    await clean(other)


async def test_downloads_from_the_page(browser: Any, demo: Api, tmp_path: Path) -> None:
    page = await open_dashboard(browser, demo, "pku", "university-pku-downloads")
    prefix = str(demo_id("pku"))[:8]
    async with page.expect_download() as waiting:
        await page.click("#block-register button[data-format='xlsx']")
    download = await waiting.value
    assert download.suggested_filename == f"ttledger-achievement-register-{prefix}.xlsx"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert book.sheetnames == ["成果登记台账", "统计口径"]  # the dashboard's language: Chinese
    assert {row[0] for row in book["成果登记台账"].iter_rows(min_row=2, values_only=True)} == PKU_TITLES

    async with page.expect_download() as waiting:
        await page.click("#block-annual button[data-format='xlsx']")
    download = await waiting.value
    year = date.today().year - 1
    assert download.suggested_filename == f"ttledger-annual-report-{year}-{prefix}.xlsx"
    report = openpyxl.load_workbook(io.BytesIO(Path(await download.path()).read_bytes()))
    assert report.sheetnames[:3] == ["概要", "报告单位", "一、科技成果转化总体情况"]
    assert dict((r[0], r[1]) for r in report["报告单位"].iter_rows(min_row=2, values_only=True))["name"] \
        == "北京示范大学"

    async with page.expect_download() as waiting:
        await page.click("#block-audit button[data-format='csv']")
    download = await waiting.value
    first_line = Path(await download.path()).read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("机构,机构名称,合同,收入笔数,收入（元）")
    await clean(page)


async def test_a_wrong_password_is_refused_on_the_sign_in_page(browser: Any, demo: Api) -> None:
    page = await sign_in_page(browser, demo)
    await page.fill("#username", "pku")
    await page.fill("#password", "Not-the-password-1")
    await page.click("#sign-in-submit")
    await page.wait_for_selector("#sign-in-error:not([hidden])")
    assert await page.text_content("#sign-in-error") == "用户名或密码不正确"  # the browser asks for zh-CN
    assert page.url.endswith("/sign-in") and await page.context.cookies() == []
    assert await page.evaluate("window.__csp") == []
    await page.context.close()


async def test_first_sign_in_changes_the_password_and_enrols_totp(browser: Any, demo: Api, ledger: Ledger) -> None:
    """A new administrator: temporary password → new password → second factor → the dashboard, named."""
    import pyotp

    users = UserService(ledger.store.pool)
    _, temporary = await users.create("首席管理员", Role.ADMIN, display_name="刘管理")
    assert temporary is not None
    page = await sign_in_page(browser, demo)
    await page.fill("#username", "首席管理员")
    await page.fill("#password", temporary)
    await page.click("#sign-in-submit")
    await page.wait_for_selector('body[data-ready="true"][data-step="step-change"]')
    await page.fill("#current-password", temporary)
    await page.fill("#new-password", "short")
    await page.fill("#new-password-again", "short")
    await page.click("#change-submit")
    await page.wait_for_selector("#sign-in-error:not([hidden])")
    assert (await page.text_content("#sign-in-error")).startswith("密码至少 10 个字符")
    await page.fill("#new-password", "Guanli-2025-strong")
    await page.fill("#new-password-again", "Guanli-2025-strong")
    await page.click("#change-submit")
    await page.wait_for_selector('body[data-ready="true"][data-step="step-totp"]')
    secret = await page.text_content("#totp-secret")
    assert secret and (await page.text_content("#totp-uri")).startswith("otpauth://totp/")
    await shot(page, "sign-in-totp-enrolment")
    await page.fill("#totp-confirm-code", pyotp.TOTP(secret).now())
    await page.click("#totp-submit")
    await page.wait_for_url("**/dashboard")
    await page.wait_for_selector('body[data-ready="true"][data-view="regulator"]')
    assert await page.text_content("#who") == "刘管理（管理员）"
    cookie = [c for c in await page.context.cookies() if c["name"] == "ttl_session"]
    assert len(cookie) == 1 and cookie[0]["httpOnly"] and cookie[0]["sameSite"] == "Lax"
    assert await page.evaluate("document.cookie") == ""  # the page's scripts never see the session
    await shot(page, "signed-in-admin")
    # Signing out ends the session and goes back to the sign-in page.
    await page.click("#signout")
    await page.wait_for_url("**/sign-in")
    page.errors.clear()
    status = await page.evaluate("async () => (await fetch('/v1/whoami')).status")
    assert status == 401
    assert await page.evaluate("window.__csp") == []
    await page.context.close()


async def test_a_signed_in_user_records_and_sees_recorded_by_their_name(browser: Any, demo: Api,
                                                                        ledger: Ledger) -> None:
    """A member of staff signs in, records an achievement with the session cookie (and its CSRF token),
    and the record's history page names them: 录入人 王老师. The event's actor is exactly that user."""
    users = UserService(ledger.store.pool)
    user, _ = await users.create("wang", Role.INSTITUTION, institution_id=demo_id("pku"), display_name="王老师",
                                 password=PASSWORD, must_change_password=False)
    page = await open_dashboard(browser, demo, "wang", "signed-in-staff")
    body = {"title": "录入人测试：低温等离子体灭菌工艺", "ip_type": "technical_secret", "technology_field": "biomedicine",
            "owners": [{"institution_id": str(demo_id("pku")), "share": "100"}],
            "inventors": [{"name": "王明", "share": "100"}], "registered_on": "2024-05-01"}
    made = await page.evaluate("""async (body) => {
        const session = await (await fetch('/v1/session', {credentials: 'same-origin'})).json();
        const response = await fetch('/v1/achievements', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token}, body: JSON.stringify(body)});
        return {status: response.status, doc: await response.json()};
    }""", body)
    assert made["status"] == 201, made
    record = made["doc"]["id"]
    await page.goto(str(demo.client.make_url(f"/dashboard#/records/{record}")))
    await page.wait_for_selector('body[data-ready="true"][data-view="record"]')
    assert await page.text_content("#record-history h2") == "记录历史 · Achievement"
    assert await page.text_content("#record-history tbody tr td.recorded-by") == "王老师"
    assert (await page.text_content("#record-history thead")).count("录入人") == 1
    await shot(page, "record-history-recorded-by")
    history = await demo.read(f"/v1/records/{record}/history", who="pku")
    [entry] = history["events"]
    assert {k: entry["recorded_by"][k] for k in ("kind", "id", "via", "role", "institution_id", "name")} == {
        "kind": "user", "id": str(user.id), "via": "session", "role": "institution",
        "institution_id": str(demo_id("pku")), "name": "王老师"}
    seen = await demo.read(f"/v1/records/{record}/history", who="regulator")
    assert seen["events"][0]["recorded_by"]["name"] is None
    assert seen["events"][0]["recorded_by"]["label"] == "institution · 北京示范大学"
    await clean(page)


async def test_amounts_are_formatted_exactly_in_every_unit(browser: Any, demo: Api) -> None:
    """The page's formatter (BigInt, half up) against Decimal, on amounts where a float would slip."""
    fens = [0, 1, 5, 49, 50, 99, 100, 4_999, 5_000, 12_345, 1_234_500, 1_234_549, 1_225_000, -1_225_000,
            999_999_999, 10**10 - 1, 10**10 + 5 * 10**7, 123_456_789_012_345, 2**53 - 1]
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(str(demo.client.make_url("/sign-in")))  # the dashboard would send a stranger there
    await page.wait_for_selector('body[data-ready="true"]')
    shown = await page.evaluate("""async (fens) => {
      const m = await import('/dashboard/static/money.js');
      return {units: ['yuan', 'wan', 'yi'].map(u => fens.map(f => m.formatFen(f, u))),
              picked: [[99], [1000000], [-9999999999], [10000000000], [5, 20000000000]].map(m.pickUnit)};
    }""", fens)
    assert shown["units"] == [[money(f, unit) for f in fens] for unit in ("yuan", "wan", "yi")]
    assert shown["units"][1][12:14] == ["1.23", "-1.23"]  # 1.225万: half up, neither down nor to even
    assert shown["picked"] == ["yuan", "wan", "wan", "yi", "yi"]
    await context.close()
