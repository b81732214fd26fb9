"""The workbench (``/workbench``) in a real headless Chromium, on the demo data.

An exchange's operator (中国技术交易所, ``ctex``) and a university's office (北京示范大学, ``pku``) sign
in on ``/sign-in`` and are sent back to the workbench (``?next=``). Everything they record goes through
the forms the page generates from the OpenAPI document: pickers for the parties and achievements,
amounts typed in 元, errors shown beside their fields, one write per opened form however often it is
submitted. What they recorded is then read back through the API (exact fen) and on the pages.
Screenshots go to ``test-artifacts/screenshots/workbench-*.png``.

The browser, the CSP watch and ``clean`` are the dashboard tests' (tests/integration/test_dashboard_browser.py):
without chromium or Playwright these tests skip as those do.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ledger.bootstrap import Ledger
from ledger.demo import demo_id, load_demo
from ledger.tokens import Role, TokenService
from ledger.users import UserService
from tests.integration import test_dashboard_browser as dashboard_tests
from tests.integration.api_support import Api
from tests.integration.test_dashboard_browser import CSP_WATCH, PASSWORD, SCREENSHOTS, clean

browser = dashboard_tests.browser  # the dashboard tests' headless Chromium (module-scoped fixture)

MEMBRANE = "工业废水膜分离技术"  # pku's achievement listed on ctex (demo)
SJTU_CONTRACT_TITLE = "高强韧铝合金"


@pytest.fixture(scope="module")
async def demo(api: Api, ledger: Ledger) -> Api:
    """The demo dataset, projected; users ``ctex-op`` (operator of 中国技术交易所) and ``pku-tto`` (北京示范大学)
    who sign in on the page, and tokens of the same principals (and ``admin``) for reading the API."""
    await load_demo(ledger.bus)
    tokens = TokenService(ledger.store.pool)
    users = UserService(ledger.store.pool)
    _, api.tokens["admin"] = await tokens.create(Role.ADMIN, name="admin")
    for who, role, key, display in (("ctex-op", Role.OPERATOR, "ctex", "交易所经办人"),
                                    ("pku-tto", Role.INSTITUTION, "pku", "北大技术转移办")):
        _, api.tokens[who] = await tokens.create(role, institution_id=demo_id(key), name=who)
        await users.create(who, role, institution_id=demo_id(key), display_name=display, password=PASSWORD,
                           must_change_password=False)
    await settle(api)
    return api


async def settle(api: Api) -> None:
    for _ in range(300):
        ready = await api.read("/readyz", who=None)  # type: ignore[arg-type]
        if ready["projection_lag"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("projections did not catch up")


async def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"workbench-{name}.png"), full_page=True)


async def open_workbench(browser: Any, api: Api, who: str, hash_: str = "") -> Any:
    """A fresh context: the workbench sends the stranger to /sign-in?next=…, which sends them back."""
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    await page.add_init_script(CSP_WATCH)
    await page.goto(str(api.client.make_url("/workbench")) + hash_)
    await page.wait_for_url("**/sign-in?next=*")
    assert page.url.endswith("/sign-in?next=" + quote("/workbench" + hash_, safe=""))
    await page.wait_for_selector('body[data-ready="true"][data-step="step-password"]')
    await page.fill("#username", who)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in-submit")
    await page.wait_for_url("**/workbench**")
    await ready(page)
    page.errors.clear()  # the sign-in page's 401 for "nobody signed in yet"
    return page


async def ready(page: Any) -> None:
    await page.wait_for_selector('body[data-ready="true"][data-view]')


async def go(page: Any, hash_: str) -> None:
    await page.evaluate("h => { document.body.dataset.ready = 'false'; window.location.hash = h; }", hash_)
    await ready(page)


def field(path: str) -> str:
    return f'[data-path="{path}"]'


async def type_in(page: Any, path: str, value: str) -> None:
    await page.fill(f"{field(path)} > input, {field(path)} > textarea", value)


async def choose(page: Any, path: str, value: str) -> None:
    await page.select_option(f"{field(path)} > select", value)


async def pick(page: Any, path: str, query: str, label: str) -> None:
    """Search a picker and click the named record: no id is typed anywhere."""
    await page.fill(f"{field(path)} input.picker-search", query)
    button = page.locator(f"{field(path)} ul.results button", has_text=label)
    await button.first.click()
    assert label in await page.text_content(f"{field(path)} .choice")


async def submit_and_land(page: Any, kind: str) -> str:
    """Submit the form; the page goes to the record's page. Its id."""
    await page.click("#form-submit")
    await page.wait_for_function("k => location.hash.startsWith('#/records/' + k + '/')", arg=kind)
    await ready(page)
    await page.wait_for_selector("#record-head")
    return str(page.url.rsplit("/", 1)[-1])


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:,.2f}"


async def page_text(page: Any, selector: str) -> str:
    return str(await page.text_content(selector))


async def test_the_operator_sees_the_workbench(browser: Any, demo: Api) -> None:
    page = await open_workbench(browser, demo, "ctex-op")
    await shot(page, "operator-queue")
    menu = await page_text(page, "#menu")
    assert "技术合同" in menu and "收益分配" not in menu and "作价投资" not in menu
    queues = await demo.read("/v1/queues?within_days=30&limit=100", who="ctex-op")
    item = next(i for g in queues["queues"] for i in g["items"])
    assert await page.locator(".queue-item").count() == sum(len(g["items"]) for g in queues["queues"])

    # A clearing command's button opens its form for that record, with what the queue knows filled in.
    await page.locator(f'.queue-item[data-record="{item["record"]["id"]}"] a.clear').first.click()
    await ready(page)
    await page.wait_for_selector('form[data-operation="record_payment"]')
    assert await page.input_value(f'{field("due_item_id")} > input') == item["details"]["due_item_id"]
    assert await page.input_value(f'{field("amount_fen")} > input') == \
        f'{Decimal(item["amounts"]["outstanding_fen"]) / 100:.2f}'
    assert (await page_text(page, '[data-path="contract_id"] .record-name')).startswith("MEMS")
    await shot(page, "queue-payment-form")
    await clean(page)


async def test_sign_in_goes_back_only_to_a_path_of_this_site(browser: Any, demo: Api) -> None:
    for next_, lands in (("//example.org/x", "/dashboard"), ("https://example.org/", "/dashboard"),
                         ("/\\example.org", "/dashboard"), ("/workbench#/lists/contracts", "/workbench#/lists/contracts")):
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(str(demo.client.make_url("/sign-in")) + "?next=" + quote(next_, safe=""))
        await page.wait_for_selector('body[data-ready="true"][data-step="step-password"]')
        await page.fill("#username", "pku-tto")
        await page.fill("#password", PASSWORD)
        await page.click("#sign-in-submit")
        await page.wait_for_url(lambda url, lands=lands: url.split("/", 3)[-1] == lands.lstrip("/"))
        await context.close()


async def open_command(page: Any, operation: str) -> None:
    """On a record page: click the command's button; its generated form opens."""
    button = page.locator(f'#record-commands a[data-operation="{operation}"]')
    await button.first.click()
    await page.wait_for_function("op => location.hash.startsWith('#/forms/' + op)", arg=operation)
    await ready(page)
    await page.wait_for_selector(f'form[data-operation="{operation}"]')


async def test_an_operator_records_a_listing_a_deal_its_registration_and_a_payment(browser: Any, demo: Api) -> None:
    page = await open_workbench(browser, demo, "ctex-op")
    ctex = str(demo_id("ctex"))

    # The achievement from the list, by a search: delist the old listing, list it anew (both through forms).
    await go(page, "#/lists/achievements")
    await page.fill("#list-q", "膜分离")
    await page.click("#list-search")
    await page.wait_for_selector('#list-achievements[data-state="ready"] tbody tr.link')
    await page.locator("#list-table tbody tr.link", has_text=MEMBRANE).click()
    await ready(page)
    await page.wait_for_selector("#record-head")
    achievement = page.url.rsplit("/", 1)[-1]
    assert await page_text(page, "#record-title") == MEMBRANE
    await open_command(page, "delist")
    assert "中国技术交易所" in await page_text(page, f"{field('exchange_id')} .choice")  # the operator's own exchange
    await type_in(page, "on", "2025-04-01")
    await submit_and_land(page, "achievement")
    await open_command(page, "list_on_exchange")
    await type_in(page, "listing_number", "CTEX-2025-0888")
    await type_in(page, "listed_on", "2025-04-02")
    await type_in(page, "asking_price_fen", "880000.50")
    await shot(page, "listing-form")
    assert await submit_and_land(page, "achievement") == achievement
    view = await demo.read(f"/v1/achievements/{achievement}", who="ctex-op")
    listing = [x for x in view["listings"] if x["listing_number"] == "CTEX-2025-0888"]
    assert listing == [{"exchange_id": ctex, "listing_number": "CTEX-2025-0888", "asking_price_fen": 88_000_050,
                        "currency": "CNY", "listed_on": "2025-04-02", "delisted_on": None}]
    assert "880,000.50" in await page_text(page, "#table-listings")

    # A draft contract: parties and achievement picked by name, amounts in 元, one installment.
    await go(page, "#/lists/contracts")
    await page.click("a.new-record")
    await ready(page)
    await page.wait_for_selector('form[data-operation="draft_contract"]')
    await choose(page, "terms.kind", "assignment")
    await type_in(page, "terms.title", "工作台测试：膜分离技术转让")
    await pick(page, "terms.seller_ids[0]", "北京示范", "北京示范大学")
    await pick(page, "terms.buyer_id", "微纳", "北京微纳传感科技有限公司")
    await page.click('button.add-row[data-for="terms.achievement_ids"]')
    await pick(page, "terms.achievement_ids[0]", "膜分离", MEMBRANE)
    await type_in(page, "terms.contract_value_fen", "500000")
    await type_in(page, "terms.transaction_value_fen", "500000")
    await page.check(f"{field('terms.payment_terms')} > legend input.fill-in")
    await type_in(page, "terms.payment_terms.fixed_price_fen", "500000")
    await page.click('button.add-row[data-for="terms.payment_terms.installments"]')
    await type_in(page, "terms.payment_terms.installments[0].amount_fen", "500000.00")
    await type_in(page, "terms.payment_terms.installments[0].due_on", "2025-07-01")
    await type_in(page, "drafted_on", "2025-05-01")
    await shot(page, "draft-contract-form")
    contract = await submit_and_land(page, "contract")
    drafted = await demo.read(f"/v1/contracts/{contract}", who="ctex-op")
    assert drafted["seller_ids"] == [str(demo_id("pku"))] and drafted["buyer_id"] == str(demo_id("f-bj1"))
    assert drafted["achievement_ids"] == [achievement] and drafted["contract_value_fen"] == 50_000_000
    assert drafted["status"] == "drafted"

    # Signature, registration (认定登记), effect, then a payment typed in 元.
    await open_command(page, "sign_contract")
    await type_in(page, "on", "2025-05-10")
    await submit_and_land(page, "contract")
    await open_command(page, "register_contract")
    await type_in(page, "registration.registry", "北京技术市场管理办公室")
    await type_in(page, "registration.registration_number", "2025110000000888")
    await choose(page, "registration.approved_category", "assignment")
    await type_in(page, "registration.approved_transaction_value_fen", "480000")
    await type_in(page, "registration.registered_on", "2025-05-20")
    await submit_and_land(page, "contract")
    await open_command(page, "take_effect")
    await type_in(page, "on", "2025-05-15")
    await submit_and_land(page, "contract")
    await open_command(page, "record_payment")
    await type_in(page, "payment_id", "WB-2025-0001")
    await type_in(page, "amount_fen", "12345.67")
    await type_in(page, "received_on", "2025-06-01")
    await shot(page, "payment-form")
    await submit_and_land(page, "contract")

    done = await demo.read(f"/v1/contracts/{contract}", who="ctex-op")
    assert done["status"] == "in_force" and done["signed_on"] == "2025-05-10"
    assert done["registration"]["registration_number"] == "2025110000000888"
    assert done["registration"]["approved_transaction_value_fen"] == 48_000_000
    assert [(r["receipt_id"], r["amount_fen"]) for r in done["receipts"]] == [("WB-2025-0001", 1_234_567)]
    assert done["outstanding_fen"] == 50_000_000 - 1_234_567

    # The record page shows them, exactly; the history names the person who recorded.
    assert await page_text(page, "#record-title") == "工作台测试：膜分离技术转让"
    assert "12,345.67" in await page_text(page, "#table-receipts")
    assert yuan(done["outstanding_fen"]) in await page_text(page, '#record-head dd[data-key="outstanding_fen"]')
    assert "2025110000000888" in await page_text(page, "#contract-registration")
    assert "480,000.00" in await page_text(page, "#contract-registration")
    journal = await demo.read(f"/v1/contracts/{contract}/journal", who="ctex-op")
    assert journal["entries"] and "12,345.67" in await page_text(page, "#table-journal")
    recorded = await page.locator("#record-history td.recorded-by").all_text_contents()
    assert recorded and set(recorded) == {"交易所经办人"}
    await shot(page, "contract-record")

    # The lists show them (the projections follow the log).
    await settle(demo)
    await go(page, "#/lists/receipts")
    await page.fill("#list-q", "工作台测试")
    await page.click("#list-search")
    await page.wait_for_selector('#list-receipts[data-state="ready"] tbody tr.link')
    rows = await page.locator("#list-table tbody tr.link").all_text_contents()
    assert len(rows) == 1 and "WB-2025-0001" in rows[0] and "12,345.67" in rows[0]
    await go(page, "#/lists/registrations")
    await page.fill("#list-q", "工作台测试")
    await page.click("#list-search")
    await page.wait_for_selector('#list-registrations[data-state="ready"] tbody tr.link')
    row = await page.locator("#list-table tbody tr.link").first.text_content()
    assert "2025110000000888" in row and "480,000.00" in row
    await go(page, "#/lists/contracts")
    await page.locator('#list-table th[data-key="contract_value_fen"]').click()  # sort by value
    await page.wait_for_selector('#list-contracts[data-state="ready"] th[aria-sort][data-key="contract_value_fen"]')
    listed = await demo.read("/v1/contracts?sort=contract_value_fen", who="ctex-op")
    titles = await page.locator("#list-table tbody tr.link td:first-child").all_text_contents()
    assert titles == [c["title"] for c in listed["items"]]
    assert "工作台测试：膜分离技术转让" in titles
    await shot(page, "contracts-list")
    await clean(page)


async def a_contract_in_force(demo: Api) -> str:
    """c-membrane-like deal for the error and double-submit tests: pku's licence covering a ctex listing."""
    listed = await demo.read("/v1/contracts?q=" + quote("工作台测试"), who="ctex-op")
    if listed["items"]:
        return str(listed["items"][0]["id"])
    contracts = await demo.read("/v1/contracts?status=in_force&limit=200", who="ctex-op")
    return str(contracts["items"][0]["id"])


async def payment_form(page: Any, contract: str) -> None:
    await go(page, f"#/records/contract/{contract}")
    await page.wait_for_selector("#record-head")
    await open_command(page, "record_payment")


async def test_a_bad_field_is_shown_beside_it_and_writes_nothing(browser: Any, demo: Api) -> None:
    contract = await a_contract_in_force(demo)
    page = await open_workbench(browser, demo, "ctex-op", f"#/records/contract/{contract}")
    await page.wait_for_selector("#record-head")
    await open_command(page, "record_payment")
    head = await demo.head()

    # Three decimals: refused on the page, beside the amount; nothing is sent.
    await type_in(page, "payment_id", "WB-BAD-1")
    await type_in(page, "amount_fen", "1.234")
    await type_in(page, "received_on", "2025-06-02")
    await page.click("#form-submit")
    await page.wait_for_selector(f'{field("amount_fen")} > .field-error:not([hidden])')
    assert await page_text(page, f'{field("amount_fen")} > .field-error') == "金额最多两位小数（分） / at most two decimals (fen)"
    assert await page.get_attribute("form.generated", "data-state") == "invalid"
    await shot(page, "error-three-decimals")

    # A date the server refuses (before 1900): its problem+json error lands beside the date.
    await type_in(page, "amount_fen", "1.23")
    await type_in(page, "received_on", "1899-12-31")
    await page.click("#form-submit")
    await page.wait_for_selector(f'{field("received_on")} > .field-error:not([hidden])')
    assert await page.is_hidden(f'{field("amount_fen")} > .field-error')
    rule = await page.get_attribute(f'{field("received_on")} .error-line', "data-rule")
    assert rule and "date" in rule
    assert await page.is_visible(".form-summary")
    await shot(page, "error-date-out-of-range")
    assert await demo.head() == head
    receipts = (await demo.read(f"/v1/contracts/{contract}", who="ctex-op"))["receipts"]
    assert not any(r["receipt_id"] == "WB-BAD-1" for r in receipts)
    page.errors.clear()  # the browser logs the 422
    await clean(page)


async def test_a_double_submit_writes_once(browser: Any, demo: Api) -> None:
    contract = await a_contract_in_force(demo)
    page = await open_workbench(browser, demo, "ctex-op", f"#/records/contract/{contract}")
    await page.wait_for_selector("#record-head")

    # Two fast clicks: one request, one payment.
    await open_command(page, "record_payment")
    before = await demo.read(f"/v1/contracts/{contract}", who="ctex-op")
    await type_in(page, "payment_id", "WB-DBL-1")
    await type_in(page, "amount_fen", "100.01")
    await type_in(page, "received_on", "2025-06-03")
    await page.dblclick("#form-submit")
    await page.wait_for_function("() => location.hash.startsWith('#/records/contract/')")
    await ready(page)
    after = await demo.read(f"/v1/contracts/{contract}", who="ctex-op")
    assert after["version"] == before["version"] + 1
    assert [r["amount_fen"] for r in after["receipts"] if r["receipt_id"] == "WB-DBL-1"] == [10_001]

    # The answer is lost on the way back (the server wrote): submitting the same form again replays it.
    await open_command(page, "record_payment")
    key = await page.get_attribute("form.generated", "data-idempotency-key")
    sent: list[dict[str, Any]] = []

    async def lose_first_answer(route: Any) -> None:
        sent.append({"key": route.request.headers.get("idempotency-key"), "body": json.loads(route.request.post_data)})
        if len(sent) == 1:
            await route.fetch()  # the server answers; the browser never sees it
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route(f"**/v1/contracts/{contract}/payments", lose_first_answer)
    await type_in(page, "payment_id", "WB-DBL-2")
    await type_in(page, "amount_fen", "200.02")
    await type_in(page, "received_on", "2025-06-04")
    await page.click("#form-submit")
    await page.wait_for_selector('form.generated[data-state="network-error"]')
    assert "不会重复录入" in await page_text(page, ".form-status")
    await shot(page, "network-error-retry")
    middle = await demo.read(f"/v1/contracts/{contract}", who="ctex-op")
    assert middle["version"] == after["version"] + 1  # written once already
    await page.click("#form-submit")
    await page.wait_for_function("() => location.hash.startsWith('#/records/contract/')")
    await ready(page)
    final = await demo.read(f"/v1/contracts/{contract}", who="ctex-op")
    assert final["version"] == middle["version"]
    assert [r["amount_fen"] for r in final["receipts"] if r["receipt_id"] == "WB-DBL-2"] == [20_002]
    assert [s["key"] for s in sent] == [key, key] and sent[0]["body"] == sent[1]["body"]
    assert sent[0]["body"]["amount_fen"] == 20_002
    page.errors.clear()  # the aborted request is logged
    await clean(page)


async def test_an_institution_neither_sees_nor_changes_another_institutions_records(browser: Any, demo: Api) -> None:
    sjtu_contracts = await demo.read(f"/v1/contracts?party={demo_id('sjtu')}&limit=200", who="admin")
    sjtu_only = [c for c in sjtu_contracts["items"]
                 if str(demo_id("pku")) not in c["seller_ids"] and c["buyer_id"] != str(demo_id("pku"))]
    assert sjtu_only
    other = sjtu_only[0]
    page = await open_workbench(browser, demo, "pku-tto", f"#/records/contract/{other['id']}")
    await page.wait_for_selector("#record-missing")
    assert await page_text(page, "#record-missing") == "未找到该记录，或您无权查看 Not found, or not yours to see"
    assert await page.locator("#record-commands").count() == 0
    await shot(page, "institution-not-found")

    # The form of a command on that contract: the API refuses it as for a missing record, nothing is written.
    head = await demo.head()
    await go(page, f"#/forms/record_payment?contract_id={other['id']}")
    await type_in(page, "payment_id", "PKU-NOT-MINE")
    await type_in(page, "amount_fen", "1.00")
    await type_in(page, "received_on", "2025-06-05")
    await page.click("#form-submit")
    await page.wait_for_selector('form.generated[data-state="not-found"]')
    assert await demo.head() == head

    # Its own lists: no sjtu contract, the menu offers distributions (an operator's does not).
    await go(page, "#/lists/contracts")
    await page.wait_for_selector('#list-contracts[data-state="ready"]')
    titles = await page.locator("#list-table tbody tr.link td:first-child").all_text_contents()
    mine = await demo.read("/v1/contracts?limit=200", who="pku-tto")
    assert titles == [c["title"] for c in mine["items"]] and other["title"] not in titles
    assert not any(SJTU_CONTRACT_TITLE in t for t in titles)
    assert "收益分配" in await page_text(page, "#menu")
    await go(page, "#/lists/distributions")
    await page.wait_for_selector('#list-distributions[data-state="ready"]')
    await shot(page, "institution-distributions")
    page.errors.clear()  # the 404s the browser logs
    await clean(page)


async def test_workbench_files_labels_and_their_security_headers(api: Api) -> None:
    """Served without a browser too: the dashboard's CSP and headers, exact file names only, one label source."""
    from api.dashboard import DASHBOARD_CSP
    from domain.enums import CHINESE_LABELS, ContractKind

    for path, content_type in (("/workbench", "text/html; charset=utf-8"),
                               ("/workbench/static/forms.js", "text/javascript; charset=utf-8"),
                               ("/workbench/static/workbench.css", "text/css; charset=utf-8"),
                               ("/workbench/labels.json", "application/json; charset=utf-8")):
        response = await api.client.get(path)
        assert response.status == 200, path
        assert response.headers["Content-Type"] == content_type
        assert response.headers["Content-Security-Policy"] == DASHBOARD_CSP
        assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Content-Type-Options"] == "nosniff"
    labels = await (await api.client.get("/workbench/labels.json")).json()
    assert labels["ContractKind"] == {k.value: v for k, v in CHINESE_LABELS[ContractKind].items()}
    page = await (await api.client.get("/workbench")).text()
    assert "<script>" not in page and "style=" not in page and "http" not in page.split("<body")[1]
    for bad in ("/workbench/static/..%2f..%2fworkbench.py", "/workbench/static/nothing.js",
                "/workbench/static/FORMS.JS", "/workbench/static/forms.js%00", "/workbench/static/%2e%2e/app.py"):
        assert (await api.client.get(bad)).status == 404, bad
    response = await api.client.get("/workbench/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (308, "/workbench")


async def test_a_version_conflict_explains_itself_and_reloads(browser: Any, demo: Api) -> None:
    contract = await a_contract_in_force(demo)
    page = await open_workbench(browser, demo, "ctex-op", f"#/records/contract/{contract}")
    await page.wait_for_selector("#record-head")
    await open_command(page, "record_payment")
    assert "version=" in page.url
    await type_in(page, "payment_id", "WB-409-1")
    await type_in(page, "amount_fen", "3.00")
    await type_in(page, "received_on", "2025-06-06")
    # Someone else records on the contract meanwhile.
    await demo.ok(f"/v1/contracts/{contract}/payments",
                  {"payment_id": "WB-409-0", "amount_fen": 100, "received_on": "2025-06-06"}, who="ctex-op")
    before = await demo.read(f"/v1/contracts/{contract}", who="ctex-op")
    await page.click("#form-submit")
    await page.wait_for_selector(".conflict:not([hidden])")
    assert "记录已被他人修改" in await page_text(page, ".conflict")
    assert "The record changed since you opened it" in await page_text(page, ".conflict")
    await shot(page, "conflict")
    assert (await demo.read(f"/v1/contracts/{contract}", who="ctex-op"))["version"] == before["version"]
    await page.click(".conflict button.reload")
    await page.wait_for_selector(".conflict", state="hidden")
    assert await page.input_value(f'{field("amount_fen")} > input') == "3.00"  # what was typed stays
    await page.click("#form-submit")
    await page.wait_for_function("() => location.hash.startsWith('#/records/contract/')")
    await ready(page)
    after = await demo.read(f"/v1/contracts/{contract}", who="ctex-op")
    assert [r["amount_fen"] for r in after["receipts"] if r["receipt_id"] == "WB-409-1"] == [300]
    page.errors.clear()  # the browser logs the 409
    await clean(page)


async def test_an_import_with_one_bad_row_shows_it_and_the_dry_run_writes_nothing(browser: Any, demo: Api,
                                                                                tmp_path: Path) -> None:
    """北大技术转移办 uploads two payments on a pku contract: the dry run reports row 3 (三位小数) and
    writes nothing; the real run writes the good row once, and the report names the same row."""
    contracts = await demo.read(f"/v1/contracts?party={demo_id('pku')}&status=in_force&limit=1", who="admin")
    contract = contracts["items"][0]["id"]
    path = tmp_path / "bank.csv"
    path.write_text("合同,付款编号,金额(元),到账日期,付款方,超额处理\n"
                    f"{contract},WB-IMP-1,1234.56,2025-01-02,,转为预收\n"
                    f"{contract},WB-IMP-2,12.345,2025-01-03,,转为预收\n", encoding="utf-8")
    page = await open_workbench(browser, demo, "pku-tto", "#/import")
    await page.wait_for_selector("#import")
    head = await demo.head()
    await page.select_option("#import-kind", "payments")
    await page.set_input_files("#import-file", str(path))
    await page.click("#import-dry-run")
    await page.wait_for_selector("#import-report-table")
    cells = await page.eval_on_selector_all("#import-report-table tbody tr",
                                            "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert [(c[0], c[2]) for c in cells] == [("3", "money_whole_fen")]
    assert "有效 valid 1" in await page_text(page, "#import-progress")
    assert await demo.head() == head  # the dry run wrote nothing
    await shot(page, "import-dry-run")
    await page.click("#import-real")
    await page.wait_for_function("() => (document.querySelector('#import-progress')?.textContent || '')"
                                 ".includes('写入 written 1')")
    assert await demo.head() == head + 1
    view = await demo.read(f"/v1/contracts/{contract}", who="pku-tto")
    assert any(r["receipt_id"] == "WB-IMP-1" or r.get("credit_id") == "WB-IMP-1"
               for r in [*view.get("receipts", []), *view.get("credits", [])])
    await shot(page, "import-real")
    await clean(page)


async def test_a_university_office_distributes_a_receipt_and_pays_an_award(browser: Any, demo: Api) -> None:
    """北大技术转移办, through the forms only: allocates a receipt its contract received (收益分配), then
    pays an inventor's award from it in 元; the distribution's page and the API agree to the fen."""
    # A payment that just came in on one of pku's contracts (recorded over the API: not what is tested).
    due = await demo.read(f"/v1/due-items?party={demo_id('pku')}&outstanding=true&limit=200", who="pku-tto")
    item = next(i for i in due["items"] if i["institution_id"] == str(demo_id("pku")) and i["kind"] == "installment")
    paid_fen = min(item["outstanding_fen"], 5_000_00)
    await demo.ok(f"/v1/contracts/{item['contract_id']}/payments", {
        "payment_id": "WB-RECEIPT-1", "amount_fen": paid_fen, "received_on": "2025-06-20",
        "due_item_id": item["item_id"]}, who="pku-tto")
    await settle(demo)
    receipts = await demo.read(f"/v1/receipts?contract={item['contract_id']}&limit=200", who="pku-tto")
    [receipt] = [r for r in receipts["items"] if r["receipt_id"] == "WB-RECEIPT-1"]
    page = await open_workbench(browser, demo, "pku-tto", "#/forms/allocate_receipt")
    await page.wait_for_selector('form[data-operation="allocate_receipt"]')
    await pick(page, "contract_id", receipt["contract_title"][:6], receipt["contract_title"])
    await type_in(page, "receipt_id", receipt["receipt_id"])
    await shot(page, "allocate-receipt-form")
    distribution = await submit_and_land(page, "distribution")
    view = await demo.read(f"/v1/distributions/{distribution}", who="pku-tto")
    assert (view["contract_id"], view["receipt_id"]) == (receipt["contract_id"], receipt["receipt_id"])
    line = next(line for line in view["lines"] if line["key"].startswith("inventor:"))
    await open_command(page, "pay_award")
    await type_in(page, "key", line["key"])
    await type_in(page, "amount_fen", "1000.01")
    await type_in(page, "paid_on", "2025-07-01")
    await type_in(page, "payment_id", "WB-AWARD-1")
    await submit_and_land(page, "distribution")
    paid = await demo.read(f"/v1/distributions/{distribution}", who="pku-tto")
    [payment] = [p for p in paid["payments"] if p["payment_id"] == "WB-AWARD-1"]
    assert (payment["key"], payment["amount_fen"]) == (line["key"], 100_001)
    assert "1,000.01" in await page_text(page, "#table-award-payments")
    await shot(page, "distribution-record")
    await clean(page)
