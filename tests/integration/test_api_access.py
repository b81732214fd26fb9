"""Roles and tenancy, table-driven: every route × every kind of principal → the expected answer.

The principals (``api_support.PRINCIPALS``) against the world of
``api_support.build_world``, whose records all belong to the university U
(the buyer F is party to the licence C; the exchange X listed A):

    admin           everything
    regulator       reads only; registered contracts; never the event feed
    owner           institution U: its own records
    buyer           institution F: party to C as buyer, nothing else
    stranger        institution U2: nothing of this world
    exchange        operator X: A (listed on X) and C (covers A)
    other_exchange  operator Y: nothing of this world

Expected answers:

    OK      access granted: anything but 400, 401, 403, 404, 413 and 5xx (the command
            may still break a domain rule: that is 422, or 409 if it exists)
    ROLE    403 role-not-allowed (before anything is read)
    SCOPE   403 institution-scope (the record is in view, the change is not the token's)
    HIDDEN  404, exactly as for a record that does not exist
    REF     422 referenced_record_exists on a body field, as for a missing record

The table must name every route of the app (a new route fails this test
until its row is added), and every path of it is requested by every principal.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from api.routing import ROUTES
from ledger.bootstrap import Ledger
from ledger.tokens import Role
from tests.integration.api_support import (
    PRINCIPALS,
    WAN,
    Api,
    World,
    equity_contribution,
    licence_terms,
    patent,
    registration,
)

OK, ROLE, SCOPE, HIDDEN, REF = "ok", "role", "scope", "hidden", "ref"
WHO = ("admin", "regulator", "owner", "buyer", "stranger", "exchange", "other_exchange")


def row(admin: str = OK, regulator: str = ROLE, owner: str = OK, buyer: str = HIDDEN, stranger: str = HIDDEN,
        exchange: str = ROLE, other_exchange: str = ROLE) -> dict[str, str]:
    return dict(zip(WHO, (admin, regulator, owner, buyer, stranger, exchange, other_exchange), strict=True))


# What each kind of route expects; the table below picks one per route.
READ_ALL_OF_U = row(regulator=OK, exchange=HIDDEN, other_exchange=HIDDEN)  # U's own record: owner and readers
INSTITUTION_CHANGE = row(exchange=HIDDEN, other_exchange=HIDDEN)           # U's record, open to scoped roles
OWNER_CHANGE = row()                                                       # U's achievements, holdings, ...
OWNER_READ = row(regulator=OK)                                             # U's holdings, distributions, policy
ACHIEVEMENT_READ = row(regulator=OK, exchange=OK, other_exchange=HIDDEN)
LISTING = row(exchange=OK, other_exchange=SCOPE)                           # body names exchange X
CONTRACT_READ = row(regulator=OK, buyer=OK, exchange=OK, other_exchange=HIDDEN)
SELLER_CHANGE = row(buyer=SCOPE, exchange=OK, other_exchange=HIDDEN)
BUYER_CHANGE = row(buyer=OK, exchange=OK, other_exchange=HIDDEN)
CREATE_FOR_U = row(buyer=SCOPE, stranger=SCOPE)                            # body names U as owner/institution
ADMIN_AND_REGULATOR = row(regulator=OK, owner=ROLE, buyer=ROLE, stranger=ROLE)
ADMIN_ONLY = row(owner=ROLE, buyer=ROLE, stranger=ROLE)
EVERYONE = row(regulator=OK, buyer=OK, stranger=OK, exchange=OK, other_exchange=OK)

TABLE: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/whoami"): EVERYONE,
    # Lists answer every role with what it may see (tests/integration/test_lists.py checks the rows).
    ("GET", "/v1/institutions"): EVERYONE,
    ("GET", "/v1/achievements"): EVERYONE,
    ("GET", "/v1/contracts"): EVERYONE,
    **{("GET", p): EVERYONE for p in ("/v1/due-items", "/v1/receipts", "/v1/registrations", "/v1/listings")},
    **{("GET", p): row(regulator=OK, buyer=OK, stranger=OK) for p in (  # an exchange holds none of these
        "/v1/equity-holdings", "/v1/self-implementations", "/v1/distributions", "/v1/distribution-lines",
        "/v1/award-payments")},
    ("GET", "/v1/tokens"): ADMIN_ONLY,
    # Bulk import: every recording role starts its own jobs (each row checked as its route would).
    ("POST", "/v1/imports"): row(buyer=OK, stranger=OK, exchange=OK, other_exchange=OK),
    # A job that is nobody's (NO_JOB): 404 to every role that may read jobs.
    **{("GET", p): row(admin=HIDDEN, owner=HIDDEN, exchange=HIDDEN, other_exchange=HIDDEN)
       for p in ("/v1/imports/{job_id}", "/v1/imports/{job_id}/report.xlsx")},
    ("GET", "/v1/imports/templates/{kind}.xlsx"): row(buyer=OK, stranger=OK, exchange=OK, other_exchange=OK),
    # institutions
    ("POST", "/v1/institutions"): row(owner=SCOPE, buyer=SCOPE, stranger=OK),  # body: U2 registers itself
    ("POST", "/v1/institutions/{institution_id}/name"): INSTITUTION_CHANGE,
    ("POST", "/v1/institutions/{institution_id}/rule-pack"): INSTITUTION_CHANGE,
    ("POST", "/v1/institutions/{institution_id}/size"): INSTITUTION_CHANGE,
    ("GET", "/v1/institutions/{institution_id}"): READ_ALL_OF_U,
    # achievements
    ("POST", "/v1/achievements"): CREATE_FOR_U,
    **{("POST", f"/v1/achievements/{{achievement_id}}/{p}"): OWNER_CHANGE for p in (
        "grant", "lapse", "separate-register/entry", "separate-register/exit", "rights-grant", "valuations",
        "proofs-of-concept", "notices", "notices/objections", "notices/conclusion", "invention-bonuses")},
    ("POST", "/v1/achievements/{achievement_id}/listings"): LISTING,
    ("POST", "/v1/achievements/{achievement_id}/delistings"): LISTING,
    ("GET", "/v1/achievements/{achievement_id}"): ACHIEVEMENT_READ,
    # contracts
    ("POST", "/v1/contracts"): row(buyer=SCOPE, stranger=SCOPE, exchange=OK, other_exchange=SCOPE),
    **{("POST", f"/v1/contracts/{{contract_id}}/{p}"): SELLER_CHANGE for p in (
        "terms", "signature", "registration", "registration-corrections", "correction-requests", "effect", "end",
        "minimum-royalty-top-ups", "milestones", "payments", "credit-applications", "credit-refunds",
        "deferrals", "write-offs", "paid-terms", "conversion", "defaults", "credit-reports",
        "insurance-compensations")},
    ("POST", "/v1/contracts/{contract_id}/royalty-reports"): BUYER_CHANGE,
    ("POST", "/v1/contracts/{contract_id}/licensee-revenue"): BUYER_CHANGE,
    ("GET", "/v1/contracts/{contract_id}"): CONTRACT_READ,
    ("GET", "/v1/contracts/{contract_id}/journal"): CONTRACT_READ,
    ("GET", "/v1/records/{record_id}/history"): CONTRACT_READ,  # the record C: whoever sees it
    # equity and self-implementation
    ("POST", "/v1/equity-holdings"): CREATE_FOR_U,
    **{("POST", f"/v1/equity-holdings/{{holding_id}}/{p}"): OWNER_CHANGE for p in (
        "share-awards", "dividends", "contribution-decision", "revaluations", "impairments", "dilutions", "sales",
        "policy-awards")},
    ("GET", "/v1/equity-holdings/{holding_id}"): OWNER_READ,
    ("POST", "/v1/self-implementations"): CREATE_FOR_U,
    **{("POST", f"/v1/self-implementations/{{self_implementation_id}}/{p}"): OWNER_CHANGE for p in (
        "profits", "profit-corrections", "stop", "awards", "award-payments")},
    ("GET", "/v1/self-implementations/{self_implementation_id}"): OWNER_READ,
    # distribution
    ("POST", "/v1/institutions/{institution_id}/policy"): OWNER_CHANGE,
    ("GET", "/v1/institutions/{institution_id}/policy"): OWNER_READ,
    ("POST", "/v1/deductions"): row(buyer=SCOPE, stranger=REF),  # subject: the licence C
    ("POST", "/v1/distributions"): row(buyer=SCOPE, stranger=REF),  # contract: the licence C
    ("POST", "/v1/distributions/{distribution_id}/payments"): OWNER_CHANGE,
    ("POST", "/v1/distributions/{distribution_id}/notices"): OWNER_CHANGE,
    ("POST", "/v1/deductions/reversals"): row(buyer=SCOPE, stranger=REF),  # subject: the licence C
    ("POST", "/v1/distributions/{distribution_id}/recoveries/repayments"): OWNER_CHANGE,
    ("POST", "/v1/distributions/{distribution_id}/recoveries/offsets"): OWNER_CHANGE,
    ("GET", "/v1/distributions/{distribution_id}"): OWNER_READ,
    # the books, statistics, the event feed
    ("GET", "/v1/institutions/{institution_id}/balances"): READ_ALL_OF_U,
    ("GET", "/v1/trial-balance"): ADMIN_AND_REGULATOR,
    ("GET", "/v1/statistics/contracts"): ADMIN_AND_REGULATOR,
    ("GET", "/v1/statistics/contract-value"): ADMIN_AND_REGULATOR,
    ("GET", "/v1/statistics/transfer-rate"): ADMIN_AND_REGULATOR,
    ("GET", "/v1/statistics/transfer-rate/formulas"): ADMIN_AND_REGULATOR,
    ("GET", "/v1/statistics/ufpl-funnel"): ADMIN_AND_REGULATOR,
    ("GET", "/v1/statistics/receivables"): ADMIN_AND_REGULATOR,
    ("GET", "/v1/statistics/distribution-audit"): OWNER_READ,  # U's own figures (QUERIES names U)
    ("GET", "/v1/statistics/restatement"): OWNER_READ,
    ("GET", "/v1/reports/annual"): OWNER_READ,
    ("GET", "/v1/reports/autm"): OWNER_READ,
    ("GET", "/v1/institutions/{institution_id}/achievements"): OWNER_READ,
    ("GET", "/v1/queues"): row(buyer=OK, stranger=OK, exchange=OK, other_exchange=OK),  # own items only
    ("GET", "/v1/events"): ADMIN_ONLY,
    ("GET", "/v1/events/stream"): ADMIN_ONLY,
    # people (api/routes/accounts.py; the self-service routes are public and authenticate in the handler)
    ("GET", "/v1/session"): EVERYONE,
    # The caller's own account (account=True): every role; with a token, 409 session-required.
    **{("POST", p): EVERYONE for p in ("/v1/session/password", "/v1/session/totp", "/v1/session/totp/confirmation",
                                       "/v1/tokens")},
    # The machine token T is nobody's personal token: only an administrator revokes it.
    ("POST", "/v1/tokens/{token_id}/revocation"): row(regulator=HIDDEN, owner=HIDDEN, exchange=HIDDEN,
                                                       other_exchange=HIDDEN),
    ("GET", "/v1/users"): ADMIN_ONLY,
    ("POST", "/v1/users"): ADMIN_ONLY,
    **{("POST", f"/v1/users/{{user_id}}/{p}"): ADMIN_ONLY for p in ("disable", "enable", "password-reset")},
    ("GET", "/v1/security-events"): ADMIN_ONLY,
}


def bodies(w: World) -> dict[tuple[str, str], Any]:
    """A schema-valid body per write route (domain-valid or not: access is decided first)."""
    decision = {"decision_makers": ["校长办公会"], "basis": "评估报告", "decided_on": "2024-07-01"}
    c = "/v1/contracts/{contract_id}/"
    a = "/v1/achievements/{achievement_id}/"
    h = "/v1/equity-holdings/{holding_id}/"
    s = "/v1/self-implementations/{self_implementation_id}/"
    out: dict[str, Any] = {
        "/v1/institutions": {"id": w["U2"], "name": "上海示范大学", "kind": "university", "region": "310000",
                             "registered_on": "2015-01-01"},
        "/v1/institutions/{institution_id}/name": {"name": "北京示范大学"},
        "/v1/institutions/{institution_id}/rule-pack": {"rule_pack": "national", "effective_from": "2014-01-01"},
        "/v1/institutions/{institution_id}/size": {"size": "small"},
        "/v1/institutions/{institution_id}/policy": {
            "version_label": "2022版", "effective_from": "2022-01-01", "cash_split": {"inventor_team": 70,
            "institution": 30}, "equity_split": {"inventor_team": 80, "institution": 20}},
        "/v1/achievements": patent("访问测试", w["U"], "ZL202210000042.X"),
        a + "grant": {"granted_on": "2023-01-10", "number": "ZL1"},
        a + "lapse": {"on": "2021-01-01", "reason": " "},
        a + "separate-register/entry": {"on": "2023-02-01"},
        a + "invention-bonuses": {"amount_fen": 0, "paid_on": "2001-01-01", "payment_id": "IB"},
        a + "separate-register/exit": {"on": "2023-03-01", "reason": " "},
        a + "rights-grant": {"kind": "joint_ownership", "granted_on": "2023-01-01", "retained_share": "1"},
        a + "valuations": {"method": "market", "amount_fen": 0, "valued_on": "2022-09-01"},
        a + "proofs-of-concept": {"funder": " ", "amount_fen": 1, "stage": "x", "funded_on": "2022-10-01"},
        a + "notices": {"starts_on": "2023-02-20", "ends_on": "2023-02-01", "agreed_price_fen": 1},
        a + "notices/objections": {"objector": "x", "reason": "y", "raised_on": "2023-02-05"},
        a + "notices/conclusion": {"outcome": "no_objection", "on": "2023-02-21"},
        a + "listings": {"exchange_id": w["X"], "listing_number": "CTEX-2023-0101", "listed_on": "2023-01-15"},
        a + "delistings": {"exchange_id": w["X"], "on": "2001-01-01"},
        "/v1/contracts": {"terms": licence_terms(w, transaction_value_fen=101 * WAN), "drafted_on": "2024-01-05"},
        c + "terms": {"terms": licence_terms(w), "amended_on": "2024-01-06"},
        c + "signature": {"on": "2024-01-15"},
        c + "registration": {"registration": registration(90 * WAN)},
        c + "registration-corrections": {"registration": registration(90 * WAN), "corrected_on": "2023-01-01",
                                         "reason": "x"},
        c + "correction-requests": {"requested_on": "2001-01-01", "reason": "x"},
        c + "effect": {"on": "2024-02-01"},
        c + "end": {"end": "complete", "on": "2001-01-01"},
        c + "royalty-reports": {"period_start": "2001-01-01", "period_end": "2001-12-31", "base_fen": 1,
                                "reported_on": "2002-01-01"},
        c + "minimum-royalty-top-ups": {"contract_year": 1, "on": "2025-02-15"},
        c + "milestones": {"name": "no such milestone", "on": "2024-06-01"},
        c + "payments": {"payment_id": "P1", "amount_fen": 1, "received_on": "2024-03-01"},
        c + "credit-applications": {"credit_id": "none", "on": "2025-03-01"},
        c + "credit-refunds": {"credit_id": "none", "amount_fen": 1, "on": "2025-03-01", "reference": "R"},
        c + "deferrals": {"new_due_dates": {}, "approver": "x", "reason": "y", "decided_on": "2024-06-05"},
        c + "write-offs": {"due_item_id": "none", "approver": "x", "reason": "y", "on": "2025-04-01"},
        c + "licensee-revenue": {"period_start": "2001-01-01", "period_end": "2001-06-30", "revenue_fen": 1,
                                 "reported_on": "2001-07-05"},
        c + "paid-terms": {"payment_terms": {}, "agreed_on": "2024-01-25"},
        c + "conversion": {"on": "2024-07-10"},
        c + "defaults": {"on": "2025-03-10", "description": " "},
        c + "credit-reports": {"agency": " ", "reported_on": "2025-03-12", "content_ref": "x"},
        c + "insurance-compensations": {"claim_id": "P1", "insurer": "x", "amount_fen": 1, "paid_on": "2025-03-25"},
        "/v1/equity-holdings": equity_contribution(w) | {"registered_capital_fen": 0},
        h + "share-awards": {"inventor": " ", "shares": 1, "awarded_on": "2023-10-02"},
        h + "dividends": {"dividend_id": "D", "amount_fen": 0, "received_on": "2024-06-30"},
        h + "contribution-decision": {"decision": {**decision, "decided_on": "2099-01-01"}},
        h + "revaluations": {"new_value_fen": -1, "decision": decision},
        h + "impairments": {"amount_fen": 0, "decision": decision},
        h + "dilutions": {"new_total_shares": 1, "on": "2024-09-01", "reason": "x"},
        h + "sales": {"sale_id": "S", "shares": 0, "proceeds_fen": 1, "buyer": "x", "sold_on": "2025-05-20"},
        h + "policy-awards": {"awarded_on": "2001-01-01"},
        "/v1/self-implementations": {"achievement_id": w["A5"], "institution_id": w["U"], "started_on": "2023-01-01",
                                     "partner_id": w["U"]},
        s + "profits": {"year": 2023, "profit_fen": 1, "reported_on": "2001-03-01"},
        s + "profit-corrections": {"year": 1999, "profit_fen": 1, "corrected_on": "2024-04-01", "reason": "x"},
        s + "stop": {"on": "2001-01-01", "reason": "x"},
        s + "awards": {"year": 1999, "allocated_on": "2024-05-01"},
        s + "award-payments": {"year": 1999, "inventor": "王明", "amount_fen": 1, "paid_on": "2024-06-01",
                               "payment_id": "SP"},
        "/v1/deductions": {"subject_id": w["C"], "reference": "T", "category": "tax", "amount_fen": 0,
                           "incurred_on": "2024-03-10", "description": "x"},
        "/v1/distributions": {"contract_id": w["C"], "receipt_id": "no-such-receipt"},
        "/v1/distributions/{distribution_id}/payments": {"key": "none", "amount_fen": 1, "paid_on": "2024-06-30",
                                                         "payment_id": "AW"},
        "/v1/distributions/{distribution_id}/notices": {"notice_id": "N", "starts_on": "2024-04-20",
                                                        "ends_on": "2024-04-01"},
        "/v1/deductions/reversals": {"subject_id": w["C"], "reference": "no-such-deduction",
                                     "reversed_on": "2024-05-01", "reason": "x"},
        "/v1/distributions/{distribution_id}/recoveries/repayments": {
            "key": "none", "amount_fen": 1, "repaid_on": "2024-06-30", "reference": "R"},
        "/v1/distributions/{distribution_id}/recoveries/offsets": {
            "key": "none", "against_distribution_id": w["D"], "amount_fen": 1, "offset_on": "2024-06-30",
            "offset_id": "O"},
    }
    out |= {
        "/v1/users": {"username": "access-matrix", "role": "regulator"},
        "/v1/users/{user_id}/disable": {}, "/v1/users/{user_id}/enable": {},
        "/v1/users/{user_id}/password-reset": {},
        # A wrong current password and a wrong code: refused on the account itself, never a write.
        "/v1/session/password": {"current_password": "Not-the-password-1", "new_password": "Matrix-2025-changed"},
        "/v1/session/totp": None, "/v1/session/totp/confirmation": {"code": "000000"},
        "/v1/imports": None,  # an empty file: a dry run that reports it
        "/v1/tokens": {"name": "access matrix"}, "/v1/tokens/{token_id}/revocation": None,
    }
    return {("POST", path): body for path, body in out.items()}


PATH_IDS = {"institution_id": "U", "achievement_id": "A", "contract_id": "C", "holding_id": "H",
            "distribution_id": "D", "self_implementation_id": "S", "record_id": "C",
            "user_id": "V", "token_id": "T"}
# Figures read per institution name U in the query, so that their tenancy is what is decided.
QUERIES = {
    "/v1/statistics/distribution-audit": "?as_of=2026-01-01&institution_id={institution_id}",
    "/v1/statistics/restatement": "?as_of=2026-01-01&from_known_at=1&institution_id={institution_id}",
    "/v1/reports/annual": "?year=2024&institution_id={institution_id}",
    "/v1/reports/autm": "?year=2024&institution_id={institution_id}",
    "/v1/imports": "?kind=payments",
}


NO_JOB = "00000000-0000-4000-8000-00000000000a"


def url_of(path: str, w: World) -> str:
    path += QUERIES.get(path, "")
    for param, key in PATH_IDS.items():
        path = path.replace("{" + param + "}", w[key])
    return path.replace("{job_id}", NO_JOB).replace("{kind}", "payments")




async def answer(api: Api, method: str, path: str, url: str, who: str, body: Any) -> tuple[int, dict[str, Any]]:
    headers = api.headers(who)
    if path == "/v1/events/stream" and who == "admin":
        response = await api.client.get(url, headers=headers)
        status = response.status
        response.close()
        return status, {}
    response = await api.client.request(method, url, json=body, headers=headers)
    try:
        doc = await response.json(content_type=None)
    except ValueError:
        doc = {}
    return response.status, doc if isinstance(doc, dict) else {}


def check(expected: str, status: int, doc: dict[str, Any]) -> bool:
    kind = str(doc.get("type", "")).rsplit("/", 1)[-1]
    if expected == OK:
        return status not in (400, 401, 403, 404, 413) and status < 500  # 400: the request never reached access
    if expected == ROLE:
        return status == 403 and kind == "role-not-allowed"
    if expected == SCOPE:
        return status == 403 and kind == "institution-scope"
    if expected == HIDDEN:
        return status == 404 and kind == "not-found"
    assert expected == REF
    return status == 422 and any(e.get("rule") == "referenced_record_exists" for e in doc.get("errors", []))


async def test_the_table_names_every_route(api: Api) -> None:
    app = api.client.app
    assert app is not None
    declared = {(m, p) for m, p, roles in app[ROUTES].table() if roles is not None}
    assert declared == set(TABLE), (declared - set(TABLE), set(TABLE) - declared)


async def test_every_write_in_the_table_sends_a_body(world: World) -> None:
    """Without one, a write would be refused as 400 before access is decided, and pass as OK unseen."""
    writes = {key for key in TABLE if key[0] != "GET"}
    assert writes == set(bodies(world)), (writes - set(bodies(world)), set(bodies(world)) - writes)


async def test_role_and_tenancy_matrix(api: Api, world: World) -> None:
    body_of = bodies(world)
    failures = []
    # Principals other than admin first: their answers must not depend on what admin may change.
    for who in (*WHO[1:], WHO[0]):
        for (method, path), expected in TABLE.items():
            url = url_of(path, world)
            status, doc = await answer(api, method, path, url, who, body_of.get((method, path)))
            if not check(expected[who], status, doc):
                failures.append((who, method, path, expected[who], status, doc.get("type"), doc.get("detail")))
    assert failures == []


async def test_hidden_records_look_exactly_like_missing_ones(api: Api, world: World) -> None:
    """A stranger's 404 for U's contract and anyone's 404 for no contract differ only in the id."""
    hidden = await api.get(f"/v1/contracts/{world['C']}", who="stranger")
    missing_id = uuid.uuid4()
    missing = await api.get(f"/v1/contracts/{missing_id}", who="stranger")
    one, two = await hidden.json(), await missing.json()
    for doc in (one, two):
        doc.pop("request_id"), doc.pop("instance")
    assert one == {**two, "aggregate_id": world["C"],
                   "detail": two["detail"].replace(str(missing_id), world["C"])}


async def test_no_refused_request_writes(api: Api, world: World) -> None:
    head = await api.head()
    body_of = bodies(world)
    for (method, path), expected in TABLE.items():
        if method != "POST":
            continue
        for who in ("stranger", "other_exchange", "regulator"):
            if expected[who] != OK:
                await answer(api, method, path, url_of(path, world), who, body_of[(method, path)])
    await asyncio.sleep(0)
    assert await api.head() == head


# ---- the same table with browser sessions -----------------------------------------------------------------

SESSION_PASSWORD = "Matrix-2025-sessions"


async def session_headers(api: Api, ledger: Ledger, world: World) -> dict[str, dict[str, str]]:
    """A signed-in user per principal (the admin with a second factor): its cookie and CSRF header."""
    import pyotp

    from ledger.users import UserService

    users = UserService(ledger.store.pool)
    out: dict[str, dict[str, str]] = {}
    for who, (role, institution) in PRINCIPALS.items():
        username = f"matrix-{who}-{uuid.uuid4().hex[:6]}"
        user, _ = await users.create(username, role, institution_id=world.ids[institution] if institution else None,
                                     display_name=f"session {who}", password=SESSION_PASSWORD,
                                     must_change_password=False)
        body: dict[str, Any] = {"username": username, "password": SESSION_PASSWORD}
        if role is Role.ADMIN:
            secret, _ = await users.begin_totp(user.id)
            now = time.time()
            await users.confirm_totp(user.id, pyotp.TOTP(secret).at(now))
            body["totp_code"] = pyotp.TOTP(secret).at(now + 30)  # the next step: a code is used once
        response = await api.client.post("/v1/session", json=body)
        assert response.status == 201, await response.text()
        doc = await response.json()
        out[who] = {"Cookie": f"ttl_session={response.cookies['ttl_session'].value}",
                    "X-CSRF-Token": doc["csrf_token"]}
        api.client.session.cookie_jar.clear()
    return out


async def test_role_and_tenancy_matrix_with_sessions(api: Api, ledger: Ledger, world: World) -> None:
    """Each principal as a signed-in person (cookie and CSRF header) gets the answers its token gets."""
    headers_of = await session_headers(api, ledger, world)
    body_of = bodies(world)
    failures = []
    for who in (*WHO[1:], WHO[0]):
        for (method, path), expected in TABLE.items():
            url = url_of(path, world)
            api.client.session.cookie_jar.clear()
            if path == "/v1/events/stream" and who == "admin":
                response = await api.client.get(url, headers=headers_of[who])
                status, doc = response.status, {}
                response.close()
            else:
                response = await api.client.request(method, url, json=body_of.get((method, path)),
                                                    headers=headers_of[who])
                try:
                    doc = await response.json(content_type=None)
                except ValueError:
                    doc = {}
                status = response.status
            if not check(expected[who], status, doc if isinstance(doc, dict) else {}):
                failures.append((who, method, path, expected[who], status, doc.get("type"), doc.get("detail")))
    assert failures == []
