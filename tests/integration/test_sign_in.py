"""People sign in: accounts, sessions, CSRF, lockout, TOTP, personal tokens and the security audit trail.

On the real embedded PostgreSQL and the real routes. Time is the services'
``clock`` (``app[USERS].clock``, ``app[SESSIONS].clock``), moved by the tests;
cookies are sent by hand (``Session``) so that each test says exactly which
cookie a request carries.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
import structlog
from aiohttp import ClientResponse

from api.auth import AUTH_LIMITER, FORWARDED_HOPS, SESSIONS, USERS
from ledger.bootstrap import Ledger
from ledger.passwords import PasswordRejected, check_strength, temporary_password
from ledger.tokens import Role
from ledger.users import TOTP_STEP
from tests.integration.api_support import Api, World, patent, problem

PASSWORD = "Kaiyuan-2024-gold"
NEW_PASSWORD = "Xinmima-2025-silver"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(api: Api) -> Iterator[Clock]:
    app = api.client.app
    assert app is not None
    fake = Clock()
    users, sessions = app[USERS], app[SESSIONS]
    app[AUTH_LIMITER]._failures.clear()  # each test starts with a clean per-address budget
    before = users.clock, sessions.clock
    users.clock = sessions.clock = fake
    yield fake
    users.clock, sessions.clock = before


@dataclass
class Session:
    """One browser: its session cookie and CSRF token, sent by hand."""

    api: Api
    cookie: str | None = None
    csrf: str | None = None
    doc: dict[str, Any] = field(default_factory=dict)

    def headers(self, method: str, **extra: str) -> dict[str, str]:
        out = dict(extra)
        if self.cookie:
            out["Cookie"] = f"ttl_session={self.cookie}"
        if method != "GET" and self.csrf and "X-CSRF-Token" not in out:
            out["X-CSRF-Token"] = self.csrf
        return out

    async def request(self, method: str, path: str, body: Any = None, **headers: str) -> ClientResponse:
        client = self.api.client
        client.session.cookie_jar.clear()
        response = await client.request(method, path, json=body, headers=self.headers(method, **headers))
        client.session.cookie_jar.clear()
        return response


def cookie_of(response: ClientResponse) -> str | None:
    morsel = response.cookies.get("ttl_session")
    return morsel.value if morsel is not None and morsel.value else None


async def sign_in(api: Api, username: str, password: str, code: str | None = None, *,
                  cookie: str | None = None, **headers: str) -> tuple[ClientResponse, Session]:
    browser = Session(api, cookie=cookie)
    body: dict[str, Any] = {"username": username, "password": password}
    if code is not None:
        body["totp_code"] = code
    response = await browser.request("POST", "/v1/session", body, **headers)
    if response.status == 201:
        browser.doc = await response.json()
        browser.cookie = cookie_of(response)
        browser.csrf = browser.doc["csrf_token"]
    return response, browser


async def signed_in(api: Api, username: str, password: str = PASSWORD, code: str | None = None) -> Session:
    response, browser = await sign_in(api, username, password, code)
    assert response.status == 201, await response.text()
    return browser


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def make_user(api: Api, role: Role = Role.INSTITUTION, institution: uuid.UUID | None = None, *,
                    must_change: bool = False, name: str = "") -> tuple[str, uuid.UUID]:
    app = api.client.app
    assert app is not None
    username = unique("user")
    user, _ = await app[USERS].create(username, role, institution_id=institution, display_name=name or username,
                                      password=PASSWORD, must_change_password=must_change)
    return username, user.id


def code_at(secret: str, when: datetime, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(when + timedelta(seconds=steps * TOTP_STEP))


async def enrol(browser: Session, clock: Clock) -> str:
    response = await browser.request("POST", "/v1/session/totp")
    assert response.status == 201, await response.text()
    enrolment = await response.json()
    secret = enrolment["secret"]
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/ttledger:") and f"secret={secret}" in \
        enrolment["otpauth_uri"]
    response = await browser.request("POST", "/v1/session/totp/confirmation", {"code": code_at(secret, clock.now)})
    assert response.status == 200, await response.text()
    assert (await response.json())["user"]["totp_enabled"] is True
    return str(secret)


# ---- signing in and writing with the session --------------------------------------------------------


async def test_sign_in_then_write_with_cookie_and_csrf(api: Api, world: World, clock: Clock) -> None:
    username, user_id = await make_user(api, Role.INSTITUTION, world.ids["U"], name="王老师")
    response, browser = await sign_in(api, username.upper(), PASSWORD)  # usernames ignore case
    assert response.status == 201
    assert browser.doc["via"] == "session" and browser.doc["name"] == "王老师"
    assert browser.doc["user"]["id"] == str(user_id) and browser.doc["next_step"] == "none"
    assert browser.doc["institution_id"] == world["U"] and browser.doc["role"] == "institution"
    assert browser.doc["expires_at"] == (clock.now + timedelta(hours=12)).isoformat().replace("+00:00", "Z")

    response = await browser.request("GET", "/v1/session")
    assert response.status == 200 and (await response.json())["csrf_token"] == browser.csrf
    head = await api.head()
    response = await browser.request("POST", "/v1/achievements", patent("会话登记", world["U"], "ZL202510000001.X"))
    assert response.status == 201, await response.text()
    assert await api.head() == head + 1
    response = await browser.request("POST", f"/v1/institutions/{world['U']}/name", {"name": "北京示范大学"})
    assert response.status == 200, await response.text()


async def test_forged_cross_site_writes_are_refused_and_write_nothing(api: Api, world: World) -> None:
    username, _ = await make_user(api, Role.INSTITUTION, world.ids["U"])
    browser = await signed_in(api, username)
    head = await api.head()
    body = patent("伪造", world["U"], "ZL202510000002.X")
    forged = (
        {"X-CSRF-Token": ""},  # none
        {"X-CSRF-Token": browser.csrf[:-1] + ("A" if browser.csrf[-1] != "A" else "B")},  # wrong
        {"Origin": "https://evil.example"},  # right token, foreign origin
        {"Referer": "https://evil.example/page"},
        {"Origin": "null"},
    )
    for headers in forged:
        response = await browser.request("POST", "/v1/achievements", body, **headers)
        doc = await problem(response, 403)
        assert doc["type"] == "https://ttledger.dev/problems/csrf-check-failed", headers
    # Without the token header at all (a form post from another site).
    no_token = Session(api, cookie=browser.cookie)
    doc = await problem(await no_token.request("POST", "/v1/achievements", body), 403)
    assert doc["type"].endswith("/csrf-check-failed")
    assert await api.head() == head
    # The same origin is fine.
    origin = str(api.client.make_url("/")).rstrip("/")
    response = await browser.request("POST", "/v1/achievements", body, Origin=origin)
    assert response.status == 201, await response.text()


async def test_bearer_tokens_need_no_csrf_header(api: Api, world: World) -> None:
    response = await api.post(f"/v1/institutions/{world['U']}/name", {"name": "北京示范大学"}, who="owner")
    assert response.status == 200


# ---- session lifetime --------------------------------------------------------------------------------


async def test_idle_and_absolute_expiry_and_sign_out(api: Api, world: World, clock: Clock) -> None:
    username, _ = await make_user(api, Role.REGULATOR)
    idle = await signed_in(api, username)
    clock.advance(minutes=29)
    assert (await idle.request("GET", "/v1/whoami")).status == 200
    clock.advance(minutes=29)  # 58 minutes after sign-in, 29 after the last request
    assert (await idle.request("GET", "/v1/whoami")).status == 200
    clock.advance(minutes=30)
    doc = await problem(await idle.request("GET", "/v1/whoami"), 401)
    assert "已过期" in doc["detail"]  # Chinese by default
    assert "expired" in (await (await idle.request("GET", "/v1/whoami?lang=en")).json())["detail"]
    assert (await idle.request("GET", "/v1/whoami")).status == 401  # ended for good

    busy = await signed_in(api, username)
    for _ in range(12 * 3):
        clock.advance(minutes=20)
        response = await busy.request("GET", "/v1/whoami")
        if response.status != 200:
            break
    assert response.status == 401
    assert clock.now - datetime.fromisoformat(busy.doc["expires_at"]) < timedelta(minutes=20)

    gone = await signed_in(api, username)
    response = await gone.request("DELETE", "/v1/session")
    assert response.status == 204
    assert response.cookies["ttl_session"].value == ""
    await problem(await gone.request("GET", "/v1/whoami"), 401)
    events = await api.read(f"/v1/security-events?user={busy.doc['user']['id']}")
    kinds = [e["kind"] for e in events["items"]]
    assert kinds.count("session_expired") == 2 and "sign_out" in kinds


async def test_session_id_rotates_at_sign_in_and_cookie_flags(api: Api, world: World) -> None:
    username, _ = await make_user(api, Role.REGULATOR)
    first = await signed_in(api, username)
    response, second = await sign_in(api, username, PASSWORD, cookie=first.cookie)
    assert response.status == 201
    assert second.cookie and second.cookie != first.cookie
    assert (await first.request("GET", "/v1/whoami")).status == 401  # the cookie sent along ended
    planted = "x" * 43  # a value planted by someone else is never taken over
    response, third = await sign_in(api, username, PASSWORD, cookie=planted)
    assert third.cookie != planted
    header = response.headers["Set-Cookie"]
    attributes = {p.strip().split("=")[0].lower() for p in header.split(";")}
    assert {"httponly", "path", "samesite"} <= attributes and "secure" not in attributes
    assert "SameSite=Lax" in header and "Path=/" in header
    stored = await api.client.app[SESSIONS].db.fetch("SELECT * FROM sessions")  # type: ignore[index]
    dump = json.dumps([{k: str(v) for k, v in dict(r).items()} for r in stored])
    assert third.cookie not in dump and first.cookie not in dump  # only a SHA-256 of each is kept


async def test_secure_cookie_behind_a_tls_proxy(api: Api, ledger: Ledger) -> None:
    from tests.integration.api_support import serve

    async with serve(ledger, forwarded_hops=1) as client:
        assert client.app is not None and client.app[FORWARDED_HOPS] == 1
        username, _ = await make_user(Api(client), Role.REGULATOR)
        response = await client.post("/v1/session", json={"username": username, "password": PASSWORD},
                                     headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        assert response.status == 201
        assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
        response = await client.post("/v1/session", json={"username": username, "password": PASSWORD},
                                     headers={"X-Forwarded-Proto": "http", "X-Forwarded-For": "203.0.113.9"})
        assert "Secure" not in response.headers["Set-Cookie"]


# ---- disabling -----------------------------------------------------------------------------------------


async def test_disabling_a_user_ends_sessions_and_personal_tokens_at_once(api: Api, world: World) -> None:
    username, user_id = await make_user(api, Role.INSTITUTION, world.ids["U"], name="李老师")
    browser = await signed_in(api, username)
    response = await browser.request("POST", "/v1/tokens", {"name": "nightly export"})
    assert response.status == 201, await response.text()
    made = await response.json()
    assert made["role"] == "institution" and made["institution_id"] == world["U"]
    token = {"Authorization": f"Bearer {made['token']}"}
    response = await api.client.get("/v1/whoami", headers=token)
    assert response.status == 200 and (await response.json())["name"] == "李老师"
    response = await api.client.get("/v1/session", headers=token)
    assert (await response.json())["via"] == "token" and (await response.json())["user"]["id"] == str(user_id)
    # A personal token cannot make more tokens (only a session can).
    response = await api.client.post("/v1/tokens", json={"name": "x"}, headers=token)
    assert response.status == 409

    disabled = await api.ok(f"/v1/users/{user_id}/disable", {})
    assert disabled["active"] is False
    await problem(await browser.request("GET", "/v1/whoami"), 401)
    await problem(await api.client.get("/v1/whoami", headers=token), 401)  # cached verification or not
    response, _ = await sign_in(api, username, PASSWORD)
    assert (await problem(response, 401))["type"].endswith("/sign-in-failed")
    enabled = await api.ok(f"/v1/users/{user_id}/enable", {})
    assert enabled["active"] is True
    await problem(await api.client.get("/v1/whoami", headers=token), 401)  # revoked stays revoked
    await signed_in(api, username)


async def test_a_user_revokes_their_own_token_only(api: Api, world: World) -> None:
    one, _ = await make_user(api, Role.INSTITUTION, world.ids["U"])
    two, _ = await make_user(api, Role.INSTITUTION, world.ids["U"])
    first, second = await signed_in(api, one), await signed_in(api, two)
    made = await (await first.request("POST", "/v1/tokens", {"name": "mine"})).json()
    response = await second.request("POST", f"/v1/tokens/{made['id']}/revocation")
    await problem(response, 404)
    response = await first.request("POST", f"/v1/tokens/{made['id']}/revocation")
    assert response.status == 200 and (await response.json()) == {"id": made["id"], "revoked": True}
    await problem(await api.client.get("/v1/whoami", headers={"Authorization": f"Bearer {made['token']}"}), 401)


# ---- lockout and TOTP ----------------------------------------------------------------------------------


async def test_lockout_holds_even_with_the_right_password_then_lifts(api: Api, clock: Clock) -> None:
    username, user_id = await make_user(api, Role.REGULATOR)
    unknown = "nobody-" + uuid.uuid4().hex[:6]
    response, _ = await sign_in(api, unknown, PASSWORD)
    wrong_user = await problem(response, 401)
    response, _ = await sign_in(api, username, "Wrong-password-1")
    wrong_password = await problem(response, 401)
    # The same answer for an unknown username and a wrong password.
    for doc in (wrong_user, wrong_password):
        doc.pop("request_id")
    assert wrong_user == wrong_password
    for _ in range(3):
        await sign_in(api, username, "Wrong-password-1")
    response, _ = await sign_in(api, username, "Wrong-password-1")  # the fifth in a row
    locked = await problem(response, 403)
    until = clock.now + timedelta(minutes=15)
    assert locked["type"].endswith("/account-locked") and locked["locked_until"] == until.isoformat()
    assert f"{until:%Y-%m-%d %H:%M:%S} UTC" in locked["detail"] and "账户已锁定至" in locked["detail"]
    response, _ = await sign_in(api, username, PASSWORD)  # the right password: still locked
    assert (await problem(response, 403))["type"].endswith("/account-locked")
    clock.advance(minutes=14, seconds=59)
    response, _ = await sign_in(api, username, PASSWORD)
    assert response.status == 403
    clock.advance(seconds=1)
    await signed_in(api, username)
    kinds = [e["kind"] for e in (await api.read(f"/v1/security-events?user={user_id}"))["items"]]
    assert kinds.count("account_locked") == 1 and kinds[0] == "sign_in"


async def test_failures_from_one_address_are_throttled(api: Api, clock: Clock) -> None:
    username, _ = await make_user(api, Role.REGULATOR)
    for _ in range(10):
        await sign_in(api, unique("nobody"), PASSWORD)
    response, _ = await sign_in(api, username, PASSWORD)  # even the right password, from this address
    doc = await problem(response, 429)
    assert int(response.headers["Retry-After"]) == doc["retry_after"] > 0


async def test_totp_wrong_and_reused_codes_are_refused(api: Api, clock: Clock) -> None:
    username, user_id = await make_user(api, Role.REGULATOR)
    browser = await signed_in(api, username)
    secret = await enrol(browser, clock)
    clock.advance(seconds=TOTP_STEP * 2)
    response, _ = await sign_in(api, username, PASSWORD)
    assert (await problem(response, 401))["type"].endswith("/totp-required")
    wrong = f"{(int(code_at(secret, clock.now)) + 1) % 1_000_000:06d}"
    response, _ = await sign_in(api, username, PASSWORD, wrong)
    assert (await problem(response, 401))["type"].endswith("/totp-invalid")
    good = code_at(secret, clock.now, -1)  # the previous step is still accepted
    await signed_in(api, username, PASSWORD, good)
    response, _ = await sign_in(api, username, PASSWORD, good)  # the same code again
    assert (await problem(response, 401))["type"].endswith("/totp-invalid")
    response, _ = await sign_in(api, username, PASSWORD, code_at(secret, clock.now, -2))  # too old
    assert response.status == 401
    user = await api.client.app[USERS].get(user_id)  # type: ignore[index]
    assert user is not None and user.failed_sign_ins == 2  # reused, too old: counted (a success reset it)
    await signed_in(api, username, PASSWORD, code_at(secret, clock.now, 1))  # the next step, clock skew


async def test_totp_secrets_are_sealed_at_rest(api: Api, clock: Clock) -> None:
    """The table holds the secret sealed (AES-GCM, a server key, bound to the user): a dump reads nothing,
    and a sealed secret copied onto another user's row does not open there."""
    username, user_id = await make_user(api, Role.REGULATOR)
    browser = await signed_in(api, username)
    secret = await enrol(browser, clock)
    pool = api.client.app[USERS]._db  # type: ignore[index]
    stored = await pool.fetchval("SELECT totp_secret FROM users WHERE id = $1", user_id)
    assert stored.startswith("v1:") and secret not in stored and len(stored) > 40
    other, other_id = await make_user(api, Role.REGULATOR)
    await pool.execute("UPDATE users SET totp_secret = $2, totp_enabled = true WHERE id = $1", other_id, stored)
    clock.advance(seconds=TOTP_STEP * 2)
    response, _ = await sign_in(api, other, PASSWORD, code_at(secret, clock.now))
    assert (await problem(response, 401))["type"].endswith("/totp-invalid")
    await signed_in(api, username, PASSWORD, code_at(secret, clock.now))  # its own row still opens


async def test_administrators_must_enrol_and_roles_can_be_required(api: Api, clock: Clock) -> None:
    username, _ = await make_user(api, Role.ADMIN)
    browser = await signed_in(api, username)
    assert browser.doc["next_step"] == "enrol_totp"
    doc = await problem(await browser.request("GET", "/v1/users"), 403)
    assert doc["type"].endswith("/totp-enrolment-required")
    secret = await enrol(browser, clock)
    assert (await browser.request("GET", "/v1/users")).status == 200
    response, _ = await sign_in(api, username, PASSWORD)
    assert response.status == 401
    await signed_in(api, username, PASSWORD, code_at(secret, clock.now, 1))

    app = api.client.app
    assert app is not None
    operator, _ = await make_user(api, Role.REGULATOR)
    await app[USERS].set_totp_requirement(Role.REGULATOR, True)
    try:
        browser = await signed_in(api, operator)
        assert browser.doc["next_step"] == "enrol_totp"
        await problem(await browser.request("GET", "/v1/whoami"), 403)
    finally:
        await app[USERS].set_totp_requirement(Role.REGULATOR, False)


# ---- passwords --------------------------------------------------------------------------------------------


async def test_first_sign_in_forces_a_password_change(api: Api, world: World, clock: Clock) -> None:
    created = await api.ok("/v1/users", {"username": unique("新用户"), "display_name": "张老师",
                                         "role": "institution", "institution_id": world["U"]}, status=201)
    temporary = created["temporary_password"]
    username = created["user"]["username"]
    assert created["user"]["must_change_password"] is True and len(temporary) == 16
    browser = await signed_in(api, username, temporary)
    other = await signed_in(api, username, temporary)
    assert browser.doc["next_step"] == "change_password"
    doc = await problem(await browser.request("GET", f"/v1/institutions/{world['U']}"), 403)
    assert doc["type"].endswith("/password-change-required")
    doc = await problem(await browser.request("POST", "/v1/tokens", {"name": "x"}), 403)
    assert doc["type"].endswith("/password-change-required")

    for new, rule in (("short1A", "password.min_length"), ("alllowercaseletters", "password.character_classes"),
                      (f"{username}-2025", "password.not_username"), ("Password123", "password.not_common"),
                      (temporary, "password.not_reused")):
        response = await browser.request("POST", "/v1/session/password",
                                         {"current_password": temporary, "new_password": new})
        doc = await problem(response, 422)
        assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("new_password", rule)], new
    response = await browser.request("POST", "/v1/session/password",
                                     {"current_password": "not-the-one-1", "new_password": NEW_PASSWORD})
    doc = await problem(response, 422)
    assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("current_password", "password.current_matches")]

    old_cookie = browser.cookie
    response = await browser.request("POST", "/v1/session/password",
                                     {"current_password": temporary, "new_password": NEW_PASSWORD})
    assert response.status == 200, await response.text()
    changed = await response.json()
    assert changed["next_step"] == "none" and changed["csrf_token"] != browser.csrf
    browser.cookie, browser.csrf = cookie_of(response), changed["csrf_token"]
    assert browser.cookie and browser.cookie != old_cookie
    assert (await browser.request("GET", f"/v1/institutions/{world['U']}")).status == 200
    await problem(await Session(api, cookie=old_cookie).request("GET", "/v1/whoami"), 401)
    await problem(await other.request("GET", "/v1/whoami"), 401)  # the other sessions ended
    response, _ = await sign_in(api, username, temporary)
    assert response.status == 401
    await signed_in(api, username, NEW_PASSWORD)


def test_password_rules_name_the_rule() -> None:
    cases = {"abc": "password.min_length", "x" * 300 + "A": "password.max_length",
             "1234567890123": "password.character_classes", "zhangsan-Secret": "password.not_username",
             "qwertyuiop": "password.character_classes", "Qwertyuiop": "password.not_common",
             "aaaaaaaaaaaA": "password.not_common"}
    for password, rule in cases.items():
        with pytest.raises(PasswordRejected) as caught:
            check_strength(password, username="ZhangSan")
        assert caught.value.rule == rule, password
    for good in ("科技成果转化平台2025", "Kaiyuan-2024-gold", "correct horse battery"):
        check_strength(good, username="zhangsan")
    for _ in range(20):
        check_strength(temporary_password(), username="zhangsan")


async def test_admin_routes_validate_and_reset(api: Api, world: World) -> None:
    doc = await problem(await api.post("/v1/users", {"username": "a\u0007b", "role": "institution"}), 422)
    assert [e["field"] for e in doc["errors"]] == ["username"]
    doc = await problem(await api.post("/v1/users", {"username": unique("op"), "role": "operator"}), 422)
    assert [e["field"] for e in doc["errors"]] == ["institution_id"]
    doc = await problem(await api.post("/v1/users", {"username": unique("w"), "role": "regulator",
                                                     "password": "weak"}), 422)
    assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("password", "password.min_length")]
    name = unique("Dup")
    await api.ok("/v1/users", {"username": name, "role": "regulator"}, status=201)
    doc = await problem(await api.post("/v1/users", {"username": name.lower(), "role": "regulator"}), 409)
    assert doc["type"].endswith("/username-taken")
    username, user_id = await make_user(api, Role.REGULATOR)
    browser = await signed_in(api, username)
    reset = await api.ok(f"/v1/users/{user_id}/password-reset", {})
    assert reset["user"]["must_change_password"] is True
    await problem(await browser.request("GET", "/v1/whoami"), 401)  # a reset ends the sessions
    browser = await signed_in(api, username, reset["temporary_password"])
    assert browser.doc["next_step"] == "change_password"
    listed = await api.read("/v1/users")
    assert str(user_id) in {u["id"] for u in listed["items"]}
    assert not any("hash" in k or "secret" in k for u in listed["items"] for k in u)


# ---- the audit trail holds no secret, nor do the logs -----------------------------------------------------


async def test_nothing_secret_in_security_events_or_logs(api: Api, world: World, clock: Clock) -> None:
    captured: list[dict[str, Any]] = []

    def capture(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        captured.append(dict(event))
        raise structlog.DropEvent

    old = structlog.get_config()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    logging.disable(logging.NOTSET)
    secrets_seen: list[str] = [PASSWORD, NEW_PASSWORD, "Wrong-password-1"]
    try:
        username, user_id = await make_user(api, Role.INSTITUTION, world.ids["U"])
        await sign_in(api, username, "Wrong-password-1")
        browser = await signed_in(api, username)
        secrets_seen += [browser.cookie or "", browser.csrf or ""]
        made = await (await browser.request("POST", "/v1/tokens", {"name": "script"})).json()
        secrets_seen.append(made["token"])
        response = await browser.request("POST", "/v1/session/totp")
        enrolment = await response.json()
        code = code_at(enrolment["secret"], clock.now)
        secrets_seen += [enrolment["secret"], code]
        await browser.request("POST", "/v1/session/totp/confirmation", {"code": code})
        response = await browser.request("POST", "/v1/session/password",
                                         {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
        browser.cookie, browser.csrf = cookie_of(response), (await response.json())["csrf_token"]
        secrets_seen += [browser.cookie or "", browser.csrf or ""]
        assert (await browser.request("POST", f"/v1/tokens/{made['id']}/revocation")).status == 200
        reset = await api.ok(f"/v1/users/{user_id}/password-reset", {})
        secrets_seen.append(reset["temporary_password"])
    finally:
        structlog.configure(**old)
    events = await api.read(f"/v1/security-events?user={user_id}&limit=500")
    kinds = {e["kind"] for e in events["items"]}
    assert {"user_created", "sign_in_failed", "sign_in", "token_created", "totp_enrolled", "password_changed",
            "token_revoked", "password_reset"} <= kinds
    stored = await api.client.app[SESSIONS].db.fetch("SELECT * FROM security_events")  # type: ignore[index]
    dumps = {
        "events": json.dumps([{k: str(v) for k, v in dict(r).items()} for r in stored], ensure_ascii=False),
        "logs": json.dumps(captured, default=str, ensure_ascii=False),
    }
    assert captured, "nothing was logged"
    for where, text in dumps.items():
        for secret in secrets_seen:
            assert secret and secret not in text, (where, secret[:4])
        assert username not in text or where == "events"  # a username is an identity, not a secret


async def test_security_events_filter_and_page(api: Api) -> None:
    page = await api.read("/v1/security-events?kind=user_created&limit=2")
    assert len(page["items"]) == 2 and all(e["kind"] == "user_created" for e in page["items"])
    assert page["next_before"] == page["items"][-1]["id"]
    more = await api.read(f"/v1/security-events?kind=user_created&limit=2&before={page['next_before']}")
    assert all(e["id"] < page["next_before"] for e in more["items"])
    doc = await problem(await api.get("/v1/security-events?kind=nope"), 422)
    assert [e["field"] for e in doc["errors"]] == ["kind"]
    future = await api.read("/v1/security-events?from=2199-01-01T00:00:00Z")
    assert future["items"] == [] and future["next_before"] is None
