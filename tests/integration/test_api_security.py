"""Security of the HTTP API (issue 7, part 7), on the real database and the real routes.

* tokens are argon2id hashes, never stored or compared in clear; an unknown
  token costs a full argon2 check, as a known one does;
* failed authentication is rate-limited per client address (429 with
  ``Retry-After``), and a blocked client writes nothing;
* request bodies have a size limit (413), chunked or not, and nothing is written;
* dates arrive as the ISO strings the OpenAPI document promises (a Unix time is refused);
* no token or secret reaches the logs of a real ``ttledger serve`` process,
  nor the output of the command line;
* CORS is off unless configured, and every response carries the security headers.

All SQL being parameterised is checked statically (tests/unit/test_sql_parameterised.py);
the role × route matrix is tests/integration/test_api_access.py.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from api.routing import ROUTES
from api.security import API_CSP, DOCS_CSP
from ledger.bootstrap import Ledger
from ledger.tokens import Role, TokenService, token_prefix
from tests.integration.api_support import Api, World, patent, problem, serve
from tests.integration.live_server import live_server
from tests.integration.test_api_access import NO_JOB, PATH_IDS, bodies

ROOT = Path(__file__).resolve().parents[2]


# ---- tokens ------------------------------------------------------------------------------------


async def test_tokens_are_stored_as_argon2id_hashes_only(ledger: Ledger, world: World) -> None:
    rows = await ledger.store.pool.fetch("SELECT * FROM api_tokens")
    assert len(rows) >= len(world.tokens)
    stored = json.dumps([{k: str(v) for k, v in dict(r).items()} for r in rows])
    for token in world.tokens.values():
        assert token not in stored and token[len("ttl_") + 8:] not in stored
    for row in rows:
        assert row["hash"].startswith("$argon2id$v=19$"), row["hash"][:20]
    prefixes = {r["prefix"] for r in rows}
    assert {token_prefix(t) for t in world.tokens.values()} <= prefixes
    assert all(len(p) == 8 for p in prefixes)


async def test_every_check_pays_one_argon2_verification(ledger: Ledger, world: World,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown prefix, known prefix with a wrong secret, the right token: one constant-time verify each."""
    service = TokenService(ledger.store.pool, cache_ttl=0)
    calls: list[str] = []
    verify = service._verify

    def counted(hashed: str, token: str) -> bool:
        calls.append(token)
        return verify(hashed, token)

    monkeypatch.setattr(service, "_verify", counted)
    good = world.tokens["admin"]
    unknown = "ttl_" + "Q" * 43
    wrong = good[:12] + ("A" if good[12] != "A" else "B") + good[13:]
    assert await service.authenticate(unknown) is None
    assert await service.authenticate(wrong) is None
    who = await service.authenticate(good)
    assert who is not None and who.role is Role.ADMIN
    assert calls == [unknown, wrong, good]
    assert await service.authenticate("not a token") is None  # refused by its shape alone
    assert len(calls) == 3


def test_secrets_are_never_compared_with_equality() -> None:
    """Token checks go through argon2's constant-time verify; no ``==`` touches a token, hash or digest.

    (The verification cache is keyed by the SHA-256 of a token: a dict lookup on a
    digest an attacker cannot steer, and it holds only tokens that already verified.)
    """
    secret_words = ("token", "hash", "digest", "secret", "password", "credential")
    offenders = []
    for file in ("ledger/tokens.py", "api/auth.py"):
        tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                for side in (node.left, *node.comparators):
                    text = ast.unparse(side).lower()
                    if any(w in text for w in secret_words) and not text.endswith(("_id", ".role")):
                        offenders.append(f"{file}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []
    assert "self._hasher.verify(hashed, token)" in (ROOT / "ledger/tokens.py").read_text(encoding="utf-8")


# ---- failed authentication -------------------------------------------------------------------


async def test_failed_authentication_blocks_the_address_and_a_blocked_client_writes_nothing(
    ledger: Ledger, world: World
) -> None:
    async with serve(ledger, auth_failure_limit=4, forwarded_hops=1) as client:
        api = Api(client, dict(world.tokens))
        here = {"X-Forwarded-For": "203.0.113.7"}
        head = await api.head()
        for i in range(4):
            bad = "ttl_" + chr(ord("A") + i) * 43
            await problem(await client.get("/v1/whoami", headers={"Authorization": f"Bearer {bad}", **here}), 401)
        body = patent("被封锁客户端的成果", world["U"], "ZL202210009999.X")
        response = await api.post("/v1/achievements", body, who="owner", **here)
        doc = await problem(response, 429)
        assert doc["type"].endswith("/too-many-requests")
        retry = int(response.headers["Retry-After"])
        assert 1 <= retry <= 60 and doc["retry_after"] == retry
        assert await api.head() == head  # refused before anything was read or written
        # Another address is not affected; the same good token works from there.
        other = await api.get("/v1/whoami", who="owner", **{"X-Forwarded-For": "198.51.100.9"})
        assert other.status == 200
        # A request without any token is 401 and does not count (nor is it blocked differently).
        await problem(await client.get("/v1/whoami", headers={"X-Forwarded-For": "192.0.2.1"}), 401)


# ---- body size ---------------------------------------------------------------------------------


async def test_oversize_bodies_are_413_problems_and_write_nothing(ledger: Ledger, world: World) -> None:
    limit = 2048
    async with serve(ledger, max_body_bytes=limit) as client:
        api = Api(client, dict(world.tokens))
        head = await api.head()
        big = patent("超长" * 2000, world["U"], "ZL202210008888.X")
        doc = await problem(await api.post("/v1/achievements", big, who="owner"), 413)
        assert doc["type"].endswith("/payload-too-large") and str(limit) in doc["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds as it streams
            yield b'{"title": "'
            for _ in range(64):
                yield b"x" * 256
            yield b'"}'

        response = await client.post("/v1/achievements", data=chunks(), headers={
            "Authorization": f"Bearer {world.tokens['owner']}", "Content-Type": "application/json"})
        await problem(response, 413)
        fits = await api.post("/v1/achievements", {"title": "x"}, who="owner")
        assert fits.status == 422  # under the limit, read and validated
        assert await api.head() == head


# ---- dates -------------------------------------------------------------------------------------


async def test_dates_must_be_iso_strings_not_unix_times(api: Api, world: World) -> None:
    head = await api.head()
    contract = f"/v1/contracts/{world['C']}"
    # Bodies are read strictly: a JSON number is never a date; a string of digits is not ISO 8601.
    for value, rule in ((0, "validation.date_type"), (86400, "validation.date_type"),
                        ("86400", "validation.iso_date"), ("2024-01-15T00:00:00", "validation.date_parsing")):
        doc = await problem(await api.post(f"{contract}/signature", {"on": value}, who="owner"), 422)
        assert [(e["field"], e["rule"], e["in"]) for e in doc["errors"]] == [("on", rule, "body")], value
    doc = await problem(await api.post(f"{contract}/signature", {"on": "86400"}, who="owner"), 422)
    assert doc["errors"][0]["detail"] == "a date is an ISO 8601 string, YYYY-MM-DD"
    doc = await problem(await api.post(f"{contract}/deferrals", {
        "new_due_dates": {"installment-1": "86400"}, "approver": "x", "reason": "y", "decided_on": "2024-06-05"},
        who="owner"), 422)
    assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("new_due_dates.installment-1", "validation.iso_date")]
    doc = await problem(await api.get(f"{contract}?as_of=86400", who="owner"), 422)
    assert [(e["field"], e["rule"], e["in"]) for e in doc["errors"]] == [("as_of", "validation.iso_date", "query")]
    # Found by fuzzing: asyncpg reads 0001-01-01 and 9999-12-31 as -infinity and infinity (a 500 in SQL).
    # Every date of a request lies in the documented range 1900-01-01..2199-12-31 (domain/inputs.py).
    for day in ("0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01"):
        doc = await problem(await api.get(f"/v1/statistics/receivables?as_of={day}", who="regulator"), 422)
        assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("as_of", "date_in_range")]
        doc = await problem(await api.post(f"{contract}/signature", {"on": day}, who="owner"), 422)
        assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("on", "date_in_range")]
    for day in ("1900-01-01", "2199-12-31"):
        assert (await api.get(f"/v1/statistics/receivables?as_of={day}", who="regulator")).status == 200
    # And integers beyond 64 bits, which no column holds (a 500 from the driver before).
    doc = await problem(await api.get(f"/v1/events?after={2**64}"), 422)
    assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("after", "validation.int64_range")]
    doc = await problem(await api.post(f"{contract}/payments", {
        "payment_id": "P-big", "amount_fen": 10**30, "received_on": "2024-03-05"}, who="owner"), 422)
    assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("amount_fen", "money_in_range")]
    assert (await api.get(f"{contract}?as_of=2024-03-01", who="owner")).status == 200
    assert await api.head() == head


def test_xlsx_downloads_survive_control_characters() -> None:
    """Found by fuzzing: a name with a control character made every XLSX download of it a 500."""
    import io

    from openpyxl import load_workbook

    from api.exports import Column, Table, to_xlsx

    table = Table("rows", [Column("name", "名称", "Name"), Column("n", "数", "Count", "count")], [["清华\x07大学", 3]])
    book = load_workbook(io.BytesIO(to_xlsx([table], {"formula": "a\x01b"})))
    assert [c.value for c in book["rows"][2]] == ["清华\ufffd大学", 3]


# ---- CORS and security headers -------------------------------------------------------------------


def _concrete(path: str, w: World) -> str:
    for param, key in PATH_IDS.items():
        path = path.replace("{" + param + "}", w[key])
    return path.replace("{job_id}", NO_JOB).replace("{kind}", "payments")


async def test_no_cors_and_every_security_header_on_every_route(api: Api, world: World) -> None:
    app = api.client.app
    assert app is not None
    body_of = bodies(world)
    evil = {"Origin": "https://evil.example"}
    checked = 0
    paths = [(m, p) for m, p, _ in app[ROUTES].table()] + [
        ("GET", "/v1/openapi.json"), ("GET", "/docs"), ("GET", "/v1/no-such-route"), ("POST", "/healthz")]
    for method, path in paths:
        url = _concrete(path, world)
        if path == "/v1/events/stream":
            url += "?after=999999999"
        for who in ("admin", "regulator", None):
            response = await api.client.request(method, url, json=body_of.get((method, path)),
                                                headers=api.headers(who, **evil))
            await response.read() if path != "/v1/events/stream" else None
            h = response.headers
            where = (method, path, who, response.status)
            assert not [k for k in h if k.lower().startswith("access-control-")], where
            assert (h["X-Content-Type-Options"], h["Referrer-Policy"], h["X-Frame-Options"]) == (
                "nosniff", "no-referrer", "DENY"), where
            assert h["Content-Security-Policy"] == (DOCS_CSP if path == "/docs" else API_CSP), where
            if path.startswith("/v1"):
                assert h["Cache-Control"] == "no-store", where
            response.close()
            checked += 1
        preflight = await api.client.options(url, headers={**evil, "Access-Control-Request-Method": method,
                                                            "Access-Control-Request-Headers": "authorization"})
        assert not [k for k in preflight.headers if k.lower().startswith("access-control-")], (method, path)
        assert preflight.status == (404 if path == "/v1/no-such-route" else 405), (method, path, preflight.status)
    assert checked == 3 * len(paths)
    assert "default-src 'none'" in API_CSP and "frame-ancestors 'none'" in API_CSP
    assert "unsafe-eval" not in DOCS_CSP and "script-src 'self'" in DOCS_CSP


# ---- nothing secret in the logs ------------------------------------------------------------------


async def test_a_token_sent_as_request_id_is_replaced(api: Api, world: World) -> None:
    """A token pasted into X-Request-Id by mistake would be logged and echoed: the server makes its own id."""
    token = world.tokens["regulator"]
    response = await api.get("/v1/whoami", who="regulator", **{"X-Request-Id": token})
    assert response.status == 200
    assert response.headers["X-Request-Id"] != token and len(response.headers["X-Request-Id"]) == 32
    kept = await api.get("/v1/whoami", who="regulator", **{"X-Request-Id": "trace-7"})
    assert kept.headers["X-Request-Id"] == "trace-7"


def _with_password(dsn: str, password: str) -> str:
    parts = urlsplit(dsn)
    user = parts.username or "postgres"
    host = parts.hostname or ""
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _cli(args: list[str], dsn: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, "TTLEDGER_LOG_FORMAT": "json"}
    return subprocess.run([sys.executable, "-m", "ledger.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


async def test_no_token_or_password_reaches_any_log(migrated_dsn: str, tmp_path: Path) -> None:
    """Everything ``ttledger serve`` and the command line print, while tokens are made, used,
    refused and revoked and the DATABASE_URL carries a password, holds none of those secrets."""
    password = "Pw-7f3e9a1c-do-not-log"  # the embedded server trusts local connections: ignored, but present
    dsn = _with_password(migrated_dsn, password)
    assert password in dsn
    outputs: list[str] = []
    tokens: dict[str, str] = {}
    for name, args in {"admin": ["--role", "admin"], "regulator": ["--role", "regulator"]}.items():
        made = _cli(["token", "create", *args, "--name", f"log test {name}"], dsn)
        assert made.returncode == 0, made.stderr
        tokens[name] = made.stdout.strip()  # stdout is the token, by design; stderr is checked below
        outputs.append(made.stderr)
    listed = _cli(["token", "list"], dsn)
    outputs += [listed.stdout, listed.stderr]
    wrong = tokens["admin"][:14] + ("A" if tokens["admin"][14] != "A" else "B") + tokens["admin"][15:]
    log_path = tmp_path / "serve.log"
    with live_server(dsn, log_path, TTLEDGER_LOG_LEVEL="debug") as server:
        async with aiohttp.ClientSession(base_url=server.base_url) as http:
            async def call(method: str, url: str, token: str | None, **kw: Any) -> int:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with http.request(method, url, headers={**headers, **kw.pop("headers", {})}, **kw) as r:
                    await r.read()
                    return r.status

            assert await call("GET", "/v1/whoami", tokens["admin"]) == 200
            assert await call("GET", "/v1/whoami", wrong) == 401
            assert await call("GET", "/v1/whoami", None, headers={"Authorization": f"Basic {tokens['admin']}"}) == 401
            assert await call("GET", f"/v1/whoami?token={tokens['regulator']}", tokens["regulator"]) == 200
            assert await call("GET", f"/v1/nowhere/{tokens['admin']}", tokens["admin"]) == 404
            assert await call("GET", "/v1/whoami", tokens["admin"],
                              headers={"X-Request-Id": tokens["regulator"][:60]}) in (200, 401)
            assert await call("POST", "/v1/institutions", tokens["admin"], json={
                "name": tokens["admin"], "kind": "university", "region": password}) == 422
            assert await call("POST", "/v1/institutions", tokens["admin"], data=tokens["admin"].encode(),
                              headers={"Content-Type": "application/json"}) == 400
            assert await call("GET", "/v1/trial-balance", tokens["regulator"]) == 200
        revoke_id = next(line.split()[0] for line in _cli(["token", "list"], dsn).stdout.splitlines()
                         if "log test admin" in line)
        revoked = _cli(["token", "revoke", revoke_id], dsn)
        outputs += [revoked.stdout, revoked.stderr]
        async with aiohttp.ClientSession(base_url=server.base_url) as http:
            await asyncio.sleep(0)
            async with http.get("/v1/whoami", headers={"Authorization": f"Bearer {tokens['admin']}"}) as r:
                assert r.status in (200, 401)  # 401 once this process's cache entry is gone
    # A DATABASE_URL with a password that cannot connect: the error does not print it either.
    unreachable = f"postgresql://postgres:{password}@127.0.0.1:9/nowhere"
    failed = _cli(["verify"], unreachable, timeout=60)
    assert failed.returncode != 0
    outputs += [failed.stdout, failed.stderr]
    verified = _cli(["verify"], dsn)
    outputs += [verified.stdout, verified.stderr]
    server_log = log_path.read_text(encoding="utf-8")
    events = [json.loads(line) for line in server_log.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "http_request" for e in events)
    assert any(e.get("event") == "authentication_failed" for e in events)
    everything = "\n".join([server_log, *outputs])
    for secret in (*tokens.values(), wrong, password):
        assert secret not in everything
        assert secret[-24:] not in everything  # not even a tail of it
    assert "Bearer" not in server_log and "uthorization" not in server_log


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_tracebacks_in_the_logs_never_show_local_variables(fmt: str) -> None:
    """An unexpected error is logged with its traceback; a token in a local of a frame stays out."""
    import io

    import structlog

    from ledger.logging import configure_logging

    old = structlog.get_config()
    buffer = io.StringIO()
    try:
        configure_logging(fmt, "info")
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer),
                            cache_logger_on_first_use=False)

        def verify(token: str) -> None:
            dsn = "postgresql://app:Pw-local-secret@db/ledger"
            raise RuntimeError(f"checking failed ({len(token)} characters, {len(dsn)})")

        try:
            verify("ttl_" + "L" * 43)
        except RuntimeError:
            structlog.get_logger("test").exception("unhandled_error")
    finally:
        structlog.configure(**old)
    text = buffer.getvalue()
    assert "RuntimeError" in text and "checking failed" in text  # the traceback is there
    assert "L" * 43 not in text and "Pw-local-secret" not in text


async def test_log_capture_sees_what_it_greps(migrated_dsn: str, tmp_path: Path) -> None:
    """The grep above would find a secret: the capture holds what the server prints."""
    marker = "ttl_" + "M" * 43
    with live_server(migrated_dsn, tmp_path / "serve.log") as server:
        async with aiohttp.ClientSession(base_url=server.base_url) as http, http.get(
            "/healthz", headers={"X-Request-Id": "probe-" + marker[4:40]}
        ) as response:
            assert response.status == 200
        text = server.log_text()
    assert marker[4:40] in text  # a sane request id is logged verbatim: the capture works
