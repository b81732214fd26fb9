"""The record lists of api/routes/record_lists.py, worked by hand on the world of ``api_support.build_world``.

Added here (module fixture ``more``):

- on licence C (U -> F): payment P2 of 3万 received 2024-05-10 from 北京微纳传感科技有限公司财务部 when
  nothing was due, held as credit; milestone 量产 (5万, payable at once) reached 2024-06-01; the credit
  applied 2024-06-05 (receipt ``credit-1``: 3万 to the milestone, 2万 left outstanding); a royalty report
  for 2024-02-01..2025-01-31 on sales of 200万 (3% = 6万, due 30 days after the period: 2025-03-02);
  the registry's request for a correction (补正) on 2024-04-10;
- the distribution D2 of ``credit-1`` (3万 net): team 70% = 2.1万 (张三 60% = 1.26万, 李四 40% = 0.84万),
  department 15% = 0.45万, institution 15% = 0.45万;
- award payments from D (10万 net: 张三 4.2万, 李四 2.8万, department 1.5万, institution 1.5万):
  AW-1 2万 to 张三 on 2024-04-01, AW-3 1.5万 to the department on 2024-05-01 (both within the
  36-month deadline 2027-03-01), AW-2 2.8万 to 李四 on 2027-06-01 (late);
- A delisted from exchange X on 2024-06-30 and listed there again as CTEX-2024-0202 (2024-09-01, 180万);
- the decision record (集体决策) of holding H, decided 2023-08-25;
- U2's patent B (上海量子点显示材料), listed on exchange Y as SSTE-2024-0009 (2024-05-20, 面议), and U2's
  unregistered licence CS of B to G: one installment of 50万 due 2024-07-01, 20万 paid 2024-07-10 (SP1);
- a revoked token of F.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from api.redaction import stored_key
from ledger.bootstrap import Ledger
from ledger.serialisation import default_mapper
from ledger.tokens import Role, TokenService
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.api_support import USCC, WAN, Api, World, patent, problem

PSEUDONYM = re.compile(r"p-[0-9a-f]{8}(?:[0-9a-f]{8})?")
LISTS = ("due-items", "receipts", "registrations", "listings", "equity-holdings", "self-implementations",
         "distributions", "distribution-lines", "award-payments")
NOT_FOR_EXCHANGES = ("equity-holdings", "self-implementations", "distributions", "distribution-lines",
                     "award-payments")


@pytest.fixture(scope="module")
async def more(api: Api, world: World, ledger: Ledger) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    c, d = f"/v1/contracts/{world['C']}", f"/v1/distributions/{world['D']}"
    await api.ok(f"{c}/payments", {"payment_id": "P2", "amount_fen": 3 * WAN, "received_on": "2024-05-10",
                                   "payer": "北京微纳传感科技有限公司财务部", "overpayment": "credit"}, who="owner")
    await api.ok(f"{c}/milestones", {"name": "量产", "on": "2024-06-01"}, who="owner")
    applied = await api.ok(f"{c}/credit-applications", {"credit_id": "P2", "on": "2024-06-05"}, who="owner")
    assert applied["receipt_id"] == "credit-1"
    await api.ok(f"{c}/royalty-reports", {"period_start": "2024-02-01", "period_end": "2025-01-31",
                                          "base_fen": 200 * WAN, "reported_on": "2025-02-10"}, who="owner")
    await api.ok(f"{c}/correction-requests", {"requested_on": "2024-04-10", "reason": "技术交易额与发票不符"},
                 who="owner")
    made = await api.ok("/v1/distributions", {"contract_id": world["C"], "receipt_id": "credit-1"}, who="owner",
                        status=201)
    ids["D2"] = made["id"]
    for key, amount, on, payment_id in (("inventor:张三", 2 * WAN, "2024-04-01", "AW-1"),
                                        ("inventor:李四", 28_000_00, "2027-06-01", "AW-2"),
                                        ("department", 15_000_00, "2024-05-01", "AW-3")):
        await api.ok(f"{d}/payments", {"key": key, "amount_fen": amount, "paid_on": on, "payment_id": payment_id},
                     who="owner")
    a = f"/v1/achievements/{world['A']}"
    await api.ok(f"{a}/delistings", {"exchange_id": world["X"], "on": "2024-06-30"}, who="exchange")
    await api.ok(f"{a}/listings", {"exchange_id": world["X"], "listing_number": "CTEX-2024-0202",
                                   "listed_on": "2024-09-01", "asking_price_fen": 180 * WAN}, who="exchange")
    await api.ok(f"/v1/equity-holdings/{world['H']}/contribution-decision", {"decision": {
        "decided_on": "2023-08-25", "decision_makers": ["校长办公会"], "basis": "2023年第11次校长办公会纪要"}},
        who="owner")
    made = await api.ok("/v1/achievements", patent("上海量子点显示材料", world["U2"], "ZL202310000009.X"),
                        who="stranger", status=201)
    b = ids["B"] = made["id"]
    await api.ok(f"/v1/achievements/{b}/listings", {"exchange_id": world["Y"], "listing_number": "SSTE-2024-0009",
                                                    "listed_on": "2024-05-20"}, who="other_exchange")
    terms = {"kind": "licence", "title": "量子点显示材料许可", "seller_ids": [world["U2"]], "buyer_id": world["G"],
             "achievement_ids": [b], "contract_value_fen": 50 * WAN, "transaction_value_fen": 50 * WAN,
             "licence": {"licence_type": "non_exclusive", "term_start": "2024-06-01", "term_end": "2029-05-31"},
             "payment_terms": {"fixed_price_fen": 50 * WAN,
                               "installments": [{"amount_fen": 50 * WAN, "due_on": "2024-07-01"}]}}
    made = await api.ok("/v1/contracts", {"terms": terms, "drafted_on": "2024-05-25"}, who="stranger", status=201)
    cs = ids["CS"] = made["id"]
    await api.ok(f"/v1/contracts/{cs}/signature", {"on": "2024-06-01"}, who="stranger")
    await api.ok(f"/v1/contracts/{cs}/effect", {"on": "2024-06-01"}, who="stranger")
    await api.ok(f"/v1/contracts/{cs}/payments", {"payment_id": "SP1", "amount_fen": 20 * WAN,
                                                  "received_on": "2024-07-10", "payer": "北京绿源环保科技有限公司"},
                 who="stranger")
    service = TokenService(ledger.store.pool)
    revoked, _ = await service.create(Role.INSTITUTION, institution_id=world.ids["F"], name="test revoked")
    assert await service.revoke(revoked.id)
    ids["revoked_token"] = str(revoked.id)
    return ids


async def page(api: Api, path: str, who: str = "admin") -> dict[str, Any]:
    """One page, once the projections have caught up with the log (tokens read the log's own table)."""
    if not path.startswith("/v1/tokens"):
        path += f"{'&' if '?' in path else '?'}min_position={await api.head()}"
    response = await api.get(path, who)
    body = await response.json()
    assert response.status == 200, body
    assert int(response.headers["X-Projection-Position"]) == body["as_of_position"]
    return dict(body)


async def walk(api: Api, path: str, who: str = "admin") -> tuple[list[dict[str, Any]], list[str]]:
    """Every row of the list, walking its pages; and the cursors it passed."""
    rows: list[dict[str, Any]] = []
    cursors: list[str] = []
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        body = await page(api, path + (f"{sep}cursor={cursor}" if cursor else ""), who)
        rows.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, cursors
        assert body["items"], "a page with a next cursor has rows"
        cursors.append(cursor)


async def rows_of(api: Api, path: str, who: str = "admin") -> list[dict[str, Any]]:
    return (await walk(api, path, who))[0]


def decoded(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")


@pytest.fixture(scope="module")
async def digest(ledger: Ledger) -> Callable[[str], str]:
    """What a cursor carries for typed text: md5 keyed by a secret derived from the pseudonym key
    (api/routes/lists.py ``cursor_salt``), so a plain md5 of a name matches nothing."""
    salt = hmac.new(await stored_key(ledger.store.pool), b"ttledger list cursor", hashlib.sha256).hexdigest()
    return lambda text: hashlib.md5((salt + text).encode("utf-8")).hexdigest()


# ---- each list, worked by hand, as the owner sees it ------------------------------------------------


async def test_due_items(api: Api, world: World, more: dict[str, Any]) -> None:
    c, cs = world["C"], more["CS"]
    rows = await rows_of(api, "/v1/due-items", "admin")
    got = [(r["contract_id"], r["item_id"], r["kind"], r["amount_fen"], r["paid_fen"], r["outstanding_fen"],
            r["fell_due_on"], r["due_on"], r["last_paid_on"]) for r in rows]
    assert got == [  # by due date
        (c, "entry-fee", "entry_fee", 10 * WAN, 10 * WAN, 0, "2024-02-01", "2024-03-01", "2024-03-01"),
        (c, "milestone-量产", "milestone", 5 * WAN, 3 * WAN, 2 * WAN, "2024-06-01", "2024-06-01", "2024-06-05"),
        (cs, "installment-1", "installment", 50 * WAN, 20 * WAN, 30 * WAN, "2024-06-01", "2024-07-01",
         "2024-07-10"),
        (c, "royalty-2024-02-01", "royalty", 6 * WAN, 0, 6 * WAN, "2025-02-10", "2025-03-02", None),
    ]
    milestone = rows[1]
    assert (milestone["label"], milestone["contract_title"], milestone["institution_id"], milestone["buyer_id"],
            milestone["currency"], milestone["deferrals"]) == (
        "里程碑 量产", "MEMS 气体传感器专利独占许可", world["U"], world["F"], "CNY", 0)

    async def found(query: str, who: str = "admin") -> list[tuple[str, str]]:
        return [(r["contract_id"], r["item_id"]) for r in await rows_of(api, f"/v1/due-items?{query}", who)]

    owner = await found("", "owner")
    assert owner == [(c, "entry-fee"), (c, "milestone-量产"), (c, "royalty-2024-02-01")]
    assert await found("overdue_as_of=2024-06-01") == []  # the milestone falls due that day, not before
    assert await found("overdue_as_of=2024-06-02") == [(c, "milestone-量产")]
    assert await found("overdue_as_of=2024-07-02") == [(c, "milestone-量产"), (cs, "installment-1")]
    assert await found("overdue_as_of=2025-03-03", "owner") == [(c, "milestone-量产"), (c, "royalty-2024-02-01")]
    assert await found("outstanding=false") == [(c, "entry-fee")]
    assert await found("outstanding=true&kind=royalty") == [(c, "royalty-2024-02-01")]
    assert await found("due_from=2024-06-01&due_to=2024-07-01") == [(c, "milestone-量产"), (cs, "installment-1")]
    assert await found(f"contract={cs}") == [(cs, "installment-1")]
    assert await found(f"party={world['G']}") == [(cs, "installment-1")]
    assert await found(f"party={world['F']}&kind=entry_fee") == [(c, "entry-fee")]
    assert await found("q=量子点") == [(cs, "installment-1")]
    assert await found("q=微纳传感") == [(c, "entry-fee"), (c, "milestone-量产"), (c, "royalty-2024-02-01")]
    assert await found("sort=-amount_fen") == [(cs, "installment-1"), (c, "entry-fee"), (c, "royalty-2024-02-01"),
                                               (c, "milestone-量产")]
    assert await found("sort=outstanding_fen&limit=1") == [(c, "entry-fee"), (c, "milestone-量产"),
                                                           (c, "royalty-2024-02-01"), (cs, "installment-1")]


async def test_receipts(api: Api, world: World, more: dict[str, Any]) -> None:
    c, cs = world["C"], more["CS"]
    rows = await rows_of(api, "/v1/receipts", "owner")
    got = [(r["contract_id"], r["receipt_id"], r["source"], r["received_on"], r["amount_fen"], r["applied_fen"],
            r["credit_fen"], r["payer"]) for r in rows]
    assert got == [  # the latest first
        (c, "credit-1", "credit", "2024-06-05", 3 * WAN, 3 * WAN, 0, None),
        (c, "P2", "payment", "2024-05-10", 3 * WAN, 0, 3 * WAN, "北京微纳传感科技有限公司财务部"),
        (c, "P1", "payment", "2024-03-01", 10 * WAN, 10 * WAN, 0, None),
    ]
    assert {(r["seller_id"], r["buyer_id"], r["currency"], r["contract_title"]) for r in rows} == {
        (world["U"], world["F"], "CNY", "MEMS 气体传感器专利独占许可")}
    assert rows[0]["position"] > rows[1]["position"] > rows[2]["position"]

    async def found(query: str, who: str = "admin") -> list[str]:
        return [r["receipt_id"] for r in await rows_of(api, f"/v1/receipts?{query}", who)]

    assert await found("") == ["SP1", "credit-1", "P2", "P1"]
    assert await found("source=credit") == ["credit-1"]
    assert await found("source=payment") == ["SP1", "P2", "P1"]
    assert await found("source=insurance") == []
    assert await found("received_from=2024-05-01&received_to=2024-06-30") == ["credit-1", "P2"]
    assert await found(f"amount_min={3 * WAN}&amount_max={10 * WAN}") == ["credit-1", "P2", "P1"]
    assert await found(f"amount_min={10 * WAN + 1}") == ["SP1"]
    # Equal amounts: in the order they were recorded (the log position).
    assert await found("sort=amount_fen&limit=1") == ["P2", "credit-1", "P1", "SP1"]
    assert await found("sort=-amount_fen&limit=2") == ["SP1", "P1", "credit-1", "P2"]
    assert await found("q=微纳") == ["credit-1", "P2", "P1"]
    assert await found("q=绿源") == ["SP1"]  # the buyer of CS
    assert await found(f"contract={cs}") == ["SP1"]
    assert await found(f"party={world['U2']}") == ["SP1"]
    assert await found(f"party={world['F']}&source=payment") == ["P2", "P1"]


async def test_registrations(api: Api, world: World, more: dict[str, Any]) -> None:
    [row] = await rows_of(api, "/v1/registrations", "owner")
    assert row == {
        "id": world["C"], "title": "MEMS 气体传感器专利独占许可", "kind": "licence", "status": "in_force",
        "registry": "北京技术市场管理办公室", "registration_number": "2024110000000001",
        "approved_category": "licence", "registered_on": "2024-01-25", "registered_value_fen": 90 * WAN,
        "contract_value_fen": 100 * WAN, "transaction_value_fen": 90 * WAN, "currency": "CNY", "corrections": 0,
        "correction_requested_on": "2024-04-10", "signed_on": "2024-01-15", "seller_id": world["U"],
        "buyer_id": world["F"]}

    async def found(query: str) -> list[str]:
        return [r["id"] for r in await rows_of(api, f"/v1/registrations?{query}")]

    assert await found("") == [world["C"]]  # CE and CS are not registered
    assert await found("correction_requested=true") == [world["C"]]
    assert await found("correction_requested=false") == []
    assert await found("corrected=true") == []
    assert await found("registered_from=2024-01-25&registered_to=2024-01-25") == [world["C"]]
    assert await found("registered_from=2024-01-26") == []
    assert await found("registration_number=2024110000000001&approved_category=licence") == [world["C"]]
    assert await found("approved_category=assignment") == []
    assert await found("registry=北京技术市场管理办公室&q=微纳") == [world["C"]]
    assert await found(f"party={world['U2']}") == []


async def test_listings(api: Api, world: World, more: dict[str, Any],
                       digest: Callable[[str], str]) -> None:
    rows = await rows_of(api, "/v1/listings")
    got = [(r["listing_number"], r["exchange_id"], r["exchange_name"], r["achievement_id"], r["title"],
            r["asking_price_fen"], r["listed_on"], r["delisted_on"]) for r in rows]
    a, b = world["A"], more["B"]
    assert got == [  # the latest first
        ("CTEX-2024-0202", world["X"], "中国技术交易所", a, "MEMS 气体传感器阵列", 180 * WAN, "2024-09-01", None),
        ("SSTE-2024-0009", world["Y"], "上海技术交易所", b, "上海量子点显示材料", None, "2024-05-20", None),
        ("CTEX-2023-0101", world["X"], "中国技术交易所", a, "MEMS 气体传感器阵列", 200 * WAN, "2023-01-15",
         "2024-06-30"),
    ]
    assert (rows[0]["ip_type"], rows[0]["technology_field"], rows[0]["owner_ids"], rows[0]["currency"]) == (
        "invention_patent", "electronic_information", [world["U"]], "CNY")

    async def found(query: str, who: str = "admin") -> list[str]:
        return [r["listing_number"] for r in await rows_of(api, f"/v1/listings?{query}", who)]

    assert await found("in_force=true") == ["CTEX-2024-0202", "SSTE-2024-0009"]
    assert await found("in_force=false") == ["CTEX-2023-0101"]
    assert await found(f"exchange={world['X']}&sort=listed_on") == ["CTEX-2023-0101", "CTEX-2024-0202"]
    assert await found(f"achievement={b}") == ["SSTE-2024-0009"]
    assert await found("listed_from=2024-01-01&listed_to=2024-06-30") == ["SSTE-2024-0009"]
    assert await found("q=量子点") == ["SSTE-2024-0009"]
    assert await found("q=mems&in_force=true") == ["CTEX-2024-0202"]
    # By title: the two listings of A share theirs and the exchange, so the keyed digest of the number decides.
    mems = sorted(["CTEX-2023-0101", "CTEX-2024-0202"], key=digest)
    assert await found("sort=title&limit=1") == [*mems, "SSTE-2024-0009"]
    assert await found("sort=-title&limit=1") == ["SSTE-2024-0009", *mems[::-1]]


async def test_holdings_and_self_implementations(api: Api, world: World, more: dict[str, Any]) -> None:
    [h] = await rows_of(api, "/v1/equity-holdings", "owner")
    assert h == {
        "id": world["H"], "contract_id": world["CE"], "institution_id": world["U"],
        "company_name": "北京微纳传感科技有限公司", "company_code": USCC, "contributed_on": "2023-09-10",
        "valuation_fen": 600 * WAN, "shares_received": 6_000_000, "shares_held": 6_000_000,
        "total_shares": 30_000_000, "new_company": True, "cashed_in_fen": 0, "dividends_fen": 0, "currency": "CNY",
        "decided_on": "2023-08-25"}

    async def found(path: str, who: str = "admin") -> list[str]:
        return [r["id"] for r in await rows_of(api, path, who)]

    assert await found("/v1/equity-holdings?q=微纳") == [world["H"]]
    assert await found("/v1/equity-holdings?q=量子") == []
    assert await found("/v1/equity-holdings?decision_recorded=true") == [world["H"]]
    assert await found("/v1/equity-holdings?decision_recorded=false") == []
    assert await found(f"/v1/equity-holdings?company_code={USCC}&contract={world['CE']}") == [
        world["H"]]
    assert await found("/v1/equity-holdings?contributed_from=2023-09-11") == []
    assert await found(f"/v1/equity-holdings?institution={world['U2']}") == []

    [s] = await rows_of(api, "/v1/self-implementations", "owner")
    assert s == {"id": world["S"], "institution_id": world["U"], "achievement_id": world["A5"],
                 "achievement_title": "海洋微藻提取工艺", "partner_id": None, "started_on": "2023-01-01",
                 "stopped_on": None, "allocated_fen": 0, "paid_fen": 0}
    assert await found("/v1/self-implementations?q=微藻&active=true") == [world["S"]]
    assert await found("/v1/self-implementations?active=false") == []
    assert await found("/v1/self-implementations?started_to=2022-12-31") == []
    assert await found(f"/v1/self-implementations?achievement={world['A5']}") == [world["S"]]


async def test_distributions(api: Api, world: World, more: dict[str, Any]) -> None:
    rows = await rows_of(api, "/v1/distributions", "owner")
    got = [(r["id"], r["receipt_id"], r["received_on"], r["deadline_on"], r["gross_fen"], r["deducted_fen"],
            r["net_fen"], r["team_fen"], r["team_floor_fen"], r["below_floor"], r["team_paid_fen"]) for r in rows]
    d, d2 = world["D"], more["D2"]
    assert got == [  # the latest receipt first; the team paid 2万 (张三) + 2.8万 (李四) from D
        (d2, "credit-1", "2024-06-05", "2027-06-05", 3 * WAN, 0, 3 * WAN, 21_000_00, 21_000_00, False, 0),
        (d, "P1", "2024-03-01", "2027-03-01", 10 * WAN, 0, 10 * WAN, 7 * WAN, 7 * WAN, False, 48_000_00),
    ]
    assert {(r["contract_id"], r["institution_id"], r["pack_id"], r["policy_version"], r["floor_percent"],
             r["adjustments"]) for r in rows} == {(world["C"], world["U"], "beijing", "2022版", "70", 0)}
    # The single record agrees.
    single = await api.read(f"/v1/distributions/{d}", who="owner")
    assert (single["net_fen"], single["deadline_on"], single["paid_fen"]) == (10 * WAN, "2027-03-01", 63_000_00)

    async def found(query: str) -> list[str]:
        return [r["id"] for r in await rows_of(api, f"/v1/distributions?{query}")]

    assert await found("sort=net_fen") == [d2, d]
    assert await found("sort=deadline_on&limit=1") == [d, d2]
    assert await found("received_from=2024-04-01") == [d2]
    assert await found("deadline_to=2027-03-01") == [d]
    assert await found("below_floor=true") == []
    assert await found(f"below_floor=false&contract={world['C']}&institution={world['U']}") == [d2, d]


def line_key(row: dict[str, Any], world: World, more: dict[str, Any]) -> tuple[str, str]:
    return ("D" if row["distribution_id"] == world["D"] else "D2", row["key"])


async def test_distribution_lines(api: Api, world: World, more: dict[str, Any],
                                 digest: Callable[[str], str]) -> None:
    rows = await rows_of(api, "/v1/distribution-lines?limit=200&sort=-received_on", "owner")
    got = {line_key(r, world, more): (r["beneficiary"], r["inventor"], r["allocated_fen"], r["paid_fen"],
                                      r["unpaid_fen"], r["paid_late_fen"], r["first_paid_on"], r["fully_paid_on"],
                                      r["deadline_on"]) for r in rows}
    assert got == {
        ("D", "inventor:张三"): ("inventor_team", "张三", 42_000_00, 2 * WAN, 22_000_00, 0, "2024-04-01", None,
                               "2027-03-01"),
        ("D", "inventor:李四"): ("inventor_team", "李四", 28_000_00, 28_000_00, 0, 28_000_00, "2027-06-01",
                               "2027-06-01", "2027-03-01"),
        ("D", "department"): ("department", None, 15_000_00, 15_000_00, 0, 0, "2024-05-01", "2024-05-01",
                              "2027-03-01"),
        ("D", "institution"): ("institution", None, 15_000_00, 0, 15_000_00, 0, None, None, "2027-03-01"),
        ("D2", "inventor:张三"): ("inventor_team", "张三", 12_600_00, 0, 12_600_00, 0, None, None, "2027-06-05"),
        ("D2", "inventor:李四"): ("inventor_team", "李四", 8_400_00, 0, 8_400_00, 0, None, None, "2027-06-05"),
        ("D2", "department"): ("department", None, 4_500_00, 0, 4_500_00, 0, None, None, "2027-06-05"),
        ("D2", "institution"): ("institution", None, 4_500_00, 0, 4_500_00, 0, None, None, "2027-06-05"),
    }
    # The later receipt first; within a distribution, the keyed digest of the line key decides (descending too).
    keys = sorted(["inventor:张三", "inventor:李四", "department", "institution"], key=digest, reverse=True)
    order = [("D2", k) for k in keys] + [("D", k) for k in keys]
    assert [line_key(r, world, more) for r in rows] == order
    # The single record agrees.
    single = await api.read(f"/v1/distributions/{world['D']}", who="owner")
    assert {("D", line["key"]): line["allocated_fen"] for line in single["lines"]} == {
        k: v[2] for k, v in got.items() if k[0] == "D"}

    async def found(query: str) -> set[tuple[str, str]]:
        return {line_key(r, world, more) for r in await rows_of(api, f"/v1/distribution-lines?{query}", "owner")}

    assert await found("inventor=张三") == {("D", "inventor:张三"), ("D2", "inventor:张三")}
    assert await found("unpaid=false") == {("D", "inventor:李四"), ("D", "department")}
    assert await found(f"unpaid=true&distribution={world['D']}") == {("D", "inventor:张三"), ("D", "institution")}
    assert await found("beneficiary=department") == {("D", "department"), ("D2", "department")}
    assert await found("beneficiary=tto") == set()
    assert await found("deadline_from=2027-03-02&beneficiary=inventor_team") == {
        ("D2", "inventor:张三"), ("D2", "inventor:李四")}
    assert await found(f"contract={world['C']}&institution={world['U']}") == set(got)
    assert await found("inventor=王五") == set()


async def test_award_payments(api: Api, world: World, more: dict[str, Any]) -> None:
    rows = await rows_of(api, "/v1/award-payments", "owner")
    got = [(r["payment_id"], r["key"], r["beneficiary"], r["inventor"], r["amount_fen"], r["paid_on"],
            r["within_deadline"], r["received_on"], r["deadline_on"]) for r in rows]
    assert got == [  # the latest first
        ("AW-2", "inventor:李四", "inventor_team", "李四", 28_000_00, "2027-06-01", False, "2024-03-01",
         "2027-03-01"),
        ("AW-3", "department", "department", None, 15_000_00, "2024-05-01", True, "2024-03-01", "2027-03-01"),
        ("AW-1", "inventor:张三", "inventor_team", "张三", 2 * WAN, "2024-04-01", True, "2024-03-01", "2027-03-01"),
    ]
    assert {(r["distribution_id"], r["contract_id"], r["institution_id"]) for r in rows} == {
        (world["D"], world["C"], world["U"])}

    async def found(query: str) -> list[str]:
        return [r["payment_id"] for r in await rows_of(api, f"/v1/award-payments?{query}", "owner")]

    assert await found("within_deadline=true") == ["AW-3", "AW-1"]
    assert await found("within_deadline=false") == ["AW-2"]
    assert await found("inventor=张三") == ["AW-1"]
    assert await found("paid_from=2024-04-01&paid_to=2024-12-31&sort=paid_on") == ["AW-1", "AW-3"]
    assert await found("sort=amount_fen&limit=1") == ["AW-3", "AW-1", "AW-2"]
    assert await found(f"distribution={more['D2']}") == []
    assert await found(f"institution={world['U2']}") == []


# ---- tenancy ---------------------------------------------------------------------------------------

ALL_DUE = {("C", "2024-03-01"), ("C", "2024-06-01"), ("C", "2025-03-02"), ("CS", "2024-07-01")}
ALL_RECEIPTS = {("C", "2024-03-01"), ("C", "2024-05-10"), ("C", "2024-06-05"), ("CS", "2024-07-10")}
ALL_LINES = {(d, b, a) for d, team, other in (("D", (42_000_00, 28_000_00), 15_000_00),
                                              ("D2", (12_600_00, 8_400_00), 4_500_00))
             for b, a in (("inventor_team", team[0]), ("inventor_team", team[1]),
                          ("department", other), ("institution", other))}
EVERYTHING: dict[str, set[Any]] = {
    "due-items": ALL_DUE, "receipts": ALL_RECEIPTS, "registrations": {"C"},
    "listings": {"CTEX-2023-0101", "CTEX-2024-0202", "SSTE-2024-0009"}, "equity-holdings": {"H"},
    "self-implementations": {"S"}, "distributions": {"D", "D2"}, "distribution-lines": ALL_LINES,
    "award-payments": {"2024-04-01", "2024-05-01", "2027-06-01"},
}
U_CONTRACTS: dict[str, set[Any]] = {"due-items": {d for d in ALL_DUE if d[0] == "C"},
                                    "receipts": {r for r in ALL_RECEIPTS if r[0] == "C"}, "registrations": {"C"}}
NOTHING_OF_U: dict[str, set[Any]] = {"equity-holdings": set(), "self-implementations": set(), "distributions": set(),
                "distribution-lines": set(), "award-payments": set()}
TENANCY: dict[str, dict[str, set[Any]]] = {
    "admin": EVERYTHING,
    # Registered contracts only (C); every institution's distributions, holdings and achievements.
    "regulator": {**EVERYTHING, **U_CONTRACTS},
    "owner": {**EVERYTHING, **U_CONTRACTS, "listings": {"CTEX-2023-0101", "CTEX-2024-0202"}},
    "buyer": {**U_CONTRACTS, "listings": set(), **NOTHING_OF_U},
    "stranger": {"due-items": {("CS", "2024-07-01")}, "receipts": {("CS", "2024-07-10")}, "registrations": set(),
                 "listings": {"SSTE-2024-0009"}, **NOTHING_OF_U},
    # An exchange: the contracts covering an achievement ever listed on it (C covers A; CS covers B).
    "exchange": {**U_CONTRACTS, "listings": {"CTEX-2023-0101", "CTEX-2024-0202"}},
    "other_exchange": {"due-items": {("CS", "2024-07-01")}, "receipts": {("CS", "2024-07-10")},
                       "registrations": set(), "listings": {"SSTE-2024-0009"}},
}


@pytest.mark.parametrize("who", sorted(TENANCY))
async def test_each_role_sees_what_it_may_see(api: Api, world: World, more: dict[str, Any], who: str) -> None:
    names = {str(v): k for k, v in world.ids.items()}
    names.update({more[k]: k for k in ("CS", "D2")})

    def label(name: str, row: dict[str, Any]) -> Any:  # what a regulator's pseudonyms leave to compare
        if name == "due-items":
            return names[row["contract_id"]], row["due_on"]
        if name == "receipts":
            return names[row["contract_id"]], row["received_on"]
        if name == "listings":
            return row["listing_number"]
        if name == "distribution-lines":
            return names[row["distribution_id"]], row["beneficiary"], row["allocated_fen"]
        if name == "award-payments":
            return row["paid_on"]
        return names[row["id"]]

    for name in LISTS:
        if name in TENANCY[who]:
            rows = await rows_of(api, f"/v1/{name}?limit=2", who)
            assert {label(name, r) for r in rows} == TENANCY[who][name], name
            assert len(rows) == len(TENANCY[who][name]), name
        else:
            assert who in ("exchange", "other_exchange") and name in NOT_FOR_EXCHANGES
            doc = await problem(await api.get(f"/v1/{name}", who), 403)
            assert doc["type"].endswith("/role-not-allowed") and doc["role"] == "operator", doc
    if who != "admin":
        doc = await problem(await api.get("/v1/tokens", who), 403)
        assert doc["type"].endswith("/role-not-allowed")
    # A filter never widens what a token sees.
    if who not in ("admin", "stranger", "other_exchange"):
        assert await rows_of(api, f"/v1/receipts?contract={more['CS']}&q=量子点", who) == []
        assert await rows_of(api, f"/v1/due-items?party={world['U2']}", who) == []
    if who in ("buyer", "stranger"):
        assert await rows_of(api, f"/v1/distribution-lines?institution={world['U']}&inventor=张三", who) == []
        assert await rows_of(api, f"/v1/equity-holdings?q=微纳&institution={world['U']}", who) == []


# ---- what a regulator reads ------------------------------------------------------------------------


async def test_the_regulator_reads_pseudonyms(api: Api, world: World, more: dict[str, Any]) -> None:
    names = ("张三", "李四")
    lines, cursors = await walk(api, "/v1/distribution-lines?limit=1", "regulator")
    assert len(lines) == len(ALL_LINES) and len(cursors) == len(ALL_LINES) - 1
    for line in lines:
        assert PSEUDONYM.fullmatch(line["key"]), line
        if line["beneficiary"] == "inventor_team":
            assert PSEUDONYM.fullmatch(line["inventor"]), line
        else:
            assert line["inventor"] is None
    # One pseudonym per person within an answer: two inventors, each on two distributions.
    everything = (await page(api, "/v1/distribution-lines?limit=200", "regulator"))["items"]
    inventors = [line["inventor"] for line in everything if line["inventor"] is not None]
    assert len(inventors) == 4 and len(set(inventors)) == 2
    payments, payment_cursors = await walk(api, "/v1/award-payments?limit=1", "regulator")
    assert [p["paid_on"] for p in payments] == ["2027-06-01", "2024-05-01", "2024-04-01"]
    for p in payments:
        assert PSEUDONYM.fullmatch(p["payment_id"]) and PSEUDONYM.fullmatch(p["key"]), p
    assert [p["inventor"] is None for p in payments] == [False, True, False]
    assert payments[0]["inventor"] != payments[2]["inventor"]
    receipts, receipt_cursors = await walk(api, "/v1/receipts?limit=1", "regulator")
    assert [(r["received_on"], r["amount_fen"], r["payer"]) for r in receipts] == [
        ("2024-06-05", 3 * WAN, None), ("2024-05-10", 3 * WAN, None), ("2024-03-01", 10 * WAN, None)]
    assert all(PSEUDONYM.fullmatch(r["receipt_id"]) for r in receipts)
    distributions = await rows_of(api, "/v1/distributions", "regulator")
    assert [(d["received_on"], d["net_fen"], d["team_paid_fen"], d["pack_id"]) for d in distributions] == [
        ("2024-06-05", 3 * WAN, 0, "beijing"), ("2024-03-01", 10 * WAN, 48_000_00, "beijing")]
    assert all(PSEUDONYM.fullmatch(d["receipt_id"]) and PSEUDONYM.fullmatch(d["policy_version"])
               for d in distributions), distributions
    due, due_cursors = await walk(api, "/v1/due-items?limit=1", "regulator")
    # Generated ids and labels are public; a milestone's typed name is not.
    assert [(d["item_id"], d["label"]) for d in (due[0], due[2])] == [
        ("entry-fee", "入门费 entry fee"), ("royalty-2024-02-01", "提成 2024-02-01..2025-01-31")]
    assert PSEUDONYM.fullmatch(due[1]["item_id"].removeprefix("milestone-")), due[1]
    assert PSEUDONYM.fullmatch(due[1]["label"].removeprefix("里程碑 ")), due[1]
    # No name, payment id, receipt id, payer or milestone in anything the regulator was sent.
    sent = json.dumps([lines, everything, payments, receipts, distributions, due], ensure_ascii=False)
    sent += "".join(decoded(c) for c in (*cursors, *payment_cursors, *receipt_cursors, *due_cursors))
    for secret in (*names, "AW-", "P1", "P2", "credit-1", "财务部", "量产"):
        assert secret not in sent, secret
    # The cursor keys a line by a digest of its key (32 hex digits), never the key's text.
    for cursor in cursors:
        doc = json.loads(decoded(cursor))
        assert doc["s"] == "deadline_on" and len(doc["v"]) == 3, doc
        assert re.fullmatch(r"[0-9a-f]{32}", doc["v"][2]), doc
    # ... keyed by the server's secret: hashing a list of names offline matches none of them.
    plain = {hashlib.md5(k.encode("utf-8")).hexdigest() for k in ("inventor:张三", "inventor:李四", "department",
                                                                 "institution")}
    assert not plain & {json.loads(decoded(c))["v"][2] for c in cursors}
    for path in ("/v1/distribution-lines?inventor=张三", "/v1/award-payments?inventor=李四"):
        doc = await problem(await api.get(path, "regulator"), 422)
        assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("inventor", "list_query_valid")], doc
    # The owner reads the names.
    assert {r["inventor"] for r in await rows_of(api, "/v1/award-payments", "owner")} == {"张三", "李四", None}


# ---- pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/v1/distribution-lines", "/v1/distribution-lines?sort=-allocated_fen", "/v1/due-items",
    "/v1/due-items?sort=-outstanding_fen", "/v1/receipts?sort=amount_fen", "/v1/listings?sort=-title",
    "/v1/award-payments?sort=paid_on", "/v1/distributions?sort=-deadline_on", "/v1/tokens?sort=name",
])
async def test_pages_walk_every_row_once_in_order(api: Api, world: World, more: dict[str, Any], path: str) -> None:
    sep = "&" if "?" in path else "?"
    everything = (await page(api, f"{path}{sep}limit=200"))["items"]
    assert len(everything) >= 2
    for limit in (1, 2):
        walked, cursors = await walk(api, f"{path}{sep}limit={limit}")
        assert walked == everything
        assert len(cursors) == (len(everything) - 1) // limit
    sort = path.partition("sort=")[2] or {"/v1/distribution-lines": "deadline_on", "/v1/due-items": "due_on"}[path]
    values = [row[sort.lstrip("-")] for row in everything]
    assert values == sorted(values, reverse=sort.startswith("-"))


async def test_the_lines_and_due_items_in_hand_order(api: Api, world: World, more: dict[str, Any],
                                                    digest: Callable[[str], str]) -> None:
    """deadline_on, then the distribution id, then the keyed digest of the key; due_on is unique here."""
    walked = await rows_of(api, "/v1/distribution-lines?limit=1", "owner")
    keys = sorted(["inventor:张三", "inventor:李四", "department", "institution"], key=digest)
    assert [line_key(r, world, more) for r in walked] == [("D", k) for k in keys] + [("D2", k) for k in keys]
    due = await rows_of(api, "/v1/due-items?limit=1&sort=-due_on")
    assert [d["due_on"] for d in due] == ["2025-03-02", "2024-07-01", "2024-06-01", "2024-03-01"]


# ---- bad parameters --------------------------------------------------------------------------------


async def test_bad_parameters_are_named(api: Api, world: World, more: dict[str, Any]) -> None:
    lines = await page(api, "/v1/distribution-lines?limit=1")
    due = await page(api, "/v1/due-items?limit=1")
    forged = base64.urlsafe_b64encode(json.dumps({"s": "deadline_on", "v": ["2027-03-01", world["D"]]}).encode())
    for path, field in (
        ("/v1/due-items?sort=colour", "sort"),
        ("/v1/due-items?sort=received_on", "sort"),  # another list's sort
        ("/v1/receipts?limit=0", "limit"),
        ("/v1/listings?limit=201", "limit"),
        ("/v1/award-payments?limit=many", "limit"),
        ("/v1/distribution-lines?cursor=not-a-cursor", "cursor"),
        ("/v1/equity-holdings?cursor=%E7%9F%B3", "cursor"),
        (f"/v1/due-items?sort=-amount_fen&cursor={due['next_cursor']}", "cursor"),  # made for due_on
        (f"/v1/distribution-lines?sort=-deadline_on&cursor={lines['next_cursor']}", "cursor"),
        (f"/v1/distribution-lines?cursor={forged.decode()}", "cursor"),  # no keyed digest
        (f"/v1/award-payments?sort=-paid_on&cursor={lines['next_cursor']}", "cursor"),  # another list's
        (f"/v1/receipts?amount_min={2 * WAN}&amount_max={WAN}", "amount_min"),
        ("/v1/receipts?amount_min=-1", "amount_min"),
        ("/v1/receipts?received_from=2024-06-01&received_to=2024-05-01", "received_from"),
        ("/v1/award-payments?paid_from=2024-06-01&paid_to=2024-05-01", "paid_from"),
        ("/v1/listings?listed_from=2024-06-01&listed_to=2024-05-01", "listed_from"),
        ("/v1/distributions?deadline_from=2027-06-01&deadline_to=2027-01-01", "deadline_from"),
        ("/v1/due-items?due_from=2024-06-01&due_to=2024-05-31", "due_from"),
        ("/v1/receipts?source=cash", "source"),
        ("/v1/due-items?kind=barter", "kind"),
        ("/v1/distribution-lines?beneficiary=friend", "beneficiary"),
        ("/v1/tokens?role=king", "role"),
        ("/v1/registrations?approved_category=gift", "approved_category"),
        ("/v1/due-items?contract=nope", "contract"),
        ("/v1/due-items?overdue_as_of=2024-13-01", "overdue_as_of"),
        ("/v1/receipts?q=%00", "q"),
    ):
        doc = await problem(await api.get(path, "admin"), 422)
        [error] = doc["errors"]
        assert error["field"] == field, (path, doc)
        # The list's own checks (cursors, ranges) are ``list_query_valid``; the query model's are pydantic's.
        checked_by_the_list = field == "cursor" or ("_to=" in path or "amount_max" in path)
        if checked_by_the_list:
            assert error["rule"] == "list_query_valid", (path, doc)
        elif field == "q":
            assert error["rule"] == "text_no_control_characters", (path, doc)
        else:
            assert error["rule"].startswith("validation.") and error["in"] == "query", (path, doc)
    await problem(await api.client.get("/v1/receipts"), 401)


# ---- tokens --------------------------------------------------------------------------------------


async def test_tokens(api: Api, world: World, more: dict[str, Any]) -> None:
    rows = await rows_of(api, "/v1/tokens?limit=3")
    columns = {"id", "name", "role", "institution_id", "prefix", "created_at", "revoked_at"}
    assert all(set(r) == columns for r in rows)
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {f"test {who}" for who in api.tokens} | {"test revoked", "world T"}
    for who, token in api.tokens.items():
        row = by_name[f"test {who}"]
        assert row["prefix"] == token[4:12] and row["revoked_at"] is None
        assert token not in json.dumps(rows)
    assert (by_name["test owner"]["role"], by_name["test owner"]["institution_id"]) == ("institution", world["U"])
    assert (by_name["test exchange"]["role"], by_name["test exchange"]["institution_id"]) == ("operator", world["X"])
    assert by_name["test admin"]["institution_id"] is None
    # Newest first by default.
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)
    assert rows[0]["name"] == "test revoked"

    async def found(query: str) -> list[str]:
        return [r["name"] for r in await rows_of(api, f"/v1/tokens?{query}")]

    regulators = {r["name"]: r for r in await rows_of(api, "/v1/tokens?role=regulator")}
    assert set(regulators) == {"test regulator", "world T"}  # world T: api_support's spare machine token
    assert regulators["test regulator"]["prefix"] == api.tokens["regulator"][4:12]
    assert await found("active=false") == ["test revoked"]
    assert [r["id"] for r in await rows_of(api, "/v1/tokens?active=false")] == [more["revoked_token"]]
    assert await found(f"institution={world['F']}&sort=name") == ["test buyer", "test revoked"]
    assert await found(f"institution={world['F']}&active=true") == ["test buyer"]
    assert await found("role=operator&sort=-name") == ["test other_exchange", "test exchange"]
    assert await found("q=exchange&sort=name&limit=1") == ["test exchange", "test other_exchange"]


# ---- a rebuild --------------------------------------------------------------------------------------


async def test_the_same_answers_after_a_rebuild(api: Api, ledger: Ledger, world: World, more: dict[str, Any]) -> None:
    paths = [(f"/v1/{name}?limit=2", who) for name in LISTS for who in ("admin", "regulator")] + [
        ("/v1/due-items?overdue_as_of=2025-03-03&limit=1", "owner"), ("/v1/receipts?q=微纳&limit=2", "buyer"),
        ("/v1/distribution-lines?inventor=张三&limit=1", "owner"), ("/v1/listings?limit=1", "exchange"),
        ("/v1/registrations?correction_requested=true", "owner"),
        ("/v1/equity-holdings?decision_recorded=true", "owner")]
    before = [await walk(api, path, who) for path, who in paths]
    head = await api.head()
    other = ProjectionRunner(ledger.store, default_mapper(), all_projections())
    await other.setup()
    await other.rebuild(["contracts", "receivables", "distribution"])
    assert [await walk(api, path, who) for path, who in paths] == before
    assert all(rows for rows, _ in before)
    assert (await page(api, "/v1/receipts"))["as_of_position"] == head
