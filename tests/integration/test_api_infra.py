"""The HTTP machinery on the real database: problems, auth, roles, limits, OpenAPI, docs, headers, logs.

The routes under ``/v1/test`` are declared here, with the same registry the
domain routes use, to exercise every path of the machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import structlog
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field

from api.app import create_app
from api.auth import TOKENS, FailureLimiter
from api.problems import PROBLEM_CONTENT_TYPE, field_path
from api.routing import ANY_ROLE, PUBLIC, ROUTES, Call, Reply, RouteRegistry, ensure_version, etag
from api.state import ApiSettings
from domain.errors import DomainError, Rule
from ledger.bootstrap import Ledger, connect_ledger
from ledger.bus import MessageBus
from ledger.database import Database
from ledger.repository import Repository
from ledger.serialisation import default_mapper
from ledger.settings import Settings
from ledger.store import EventStore
from ledger.tokens import Role, TokenService
from ledger.unit_of_work import UnitOfWork
from tests.integration.helpers import Counter

# ---- test-only routes --------------------------------------------------------------

SHARES_RULE = Rule("owner_shares_sum_to_100", "The owners' shares sum to exactly 100%.", group="test")


class Owner(BaseModel):
    name: str = Field(min_length=1)
    share: Decimal = Field(gt=0, le=100)


class RegisterThing(BaseModel):
    title: str = Field(min_length=1)
    owners: list[Owner] = Field(min_length=1)


class ThingCreated(BaseModel):
    title: str
    owners: int
    role: str
    idempotency_key: str | None
    expected_version: int | None


class ThingQuery(BaseModel):
    limit: int = Field(default=10, ge=1, le=100)
    tag: list[str] = Field(default_factory=list)


class StartCounter(BaseModel):
    name: str


class CounterPath(BaseModel):
    counter_id: uuid.UUID


class Increment(BaseModel):
    by: int = Field(ge=1)


class CounterView(BaseModel):
    counter_id: uuid.UUID
    count: int
    version: int


test_routes = RouteRegistry()


@test_routes.post(
    "/v1/test/things", roles={Role.ADMIN, Role.INSTITUTION}, body=RegisterThing, response=ThingCreated,
    status=201, idempotency_key=True, if_match=True, tags=("test",),
)
async def create_thing(call: Call[RegisterThing, None]) -> ThingCreated:
    """Check the owners' shares (a domain rule) and echo what the machinery parsed."""
    total = sum(o.share for o in call.body.owners)
    if total != 100:
        last = len(call.body.owners) - 1
        raise DomainError(SHARES_RULE, f"owners[{last}].share", f"the shares sum to {total}, not 100")
    return ThingCreated(
        title=call.body.title, owners=len(call.body.owners), role=call.principal.role.value,
        idempotency_key=call.idempotency_key, expected_version=call.expected_version,
    )


@test_routes.get("/v1/test/things", roles={Role.ADMIN, Role.REGULATOR}, query=ThingQuery,
                 response=list[Owner], tags=("test",))
async def list_things(call: Call[None, ThingQuery]) -> list[dict[str, Any]]:
    return [{"name": t, "share": "1.5"} for t in call.query.tag][: call.query.limit]


async def _start(cmd: StartCounter, uow: UnitOfWork) -> dict[str, Any]:
    counter = Counter(cmd.name)
    uow.add(counter)
    return {"counter_id": str(counter.id), "count": 0, "version": counter.version}


@test_routes.post("/v1/test/counters", roles={Role.ADMIN}, body=StartCounter, response=CounterView,
                  status=201, idempotency_key=True)
async def start_counter(call: Call[StartCounter, None]) -> Reply[CounterView]:
    outcome = await call.ledger.bus.execute(call.body, _start, idempotency_key=call.idempotency_key)
    view = CounterView.model_validate(outcome.result)
    return Reply(view, status=200 if outcome.replayed else None, headers={"ETag": etag(view.version)})


@test_routes.post("/v1/test/counters/{counter_id}/increment", roles={Role.ADMIN}, path_params=CounterPath,
                  body=Increment, response=CounterView, if_match=True)
async def increment_counter(call: Call[Increment, None]) -> Reply[CounterView]:
    counter_id: uuid.UUID = call.path.counter_id

    async def handle(cmd: Increment, uow: UnitOfWork) -> dict[str, Any]:
        counter = await uow.get(Counter, counter_id)
        ensure_version(counter.id, counter.version, call.expected_version)
        counter.increment(cmd.by)
        return {"counter_id": str(counter.id), "count": counter.count, "version": counter.version}

    outcome = await call.ledger.bus.execute(
        call.body, handle, retry_on_conflict=call.expected_version is None
    )
    view = CounterView.model_validate(outcome.result)
    return Reply(view, headers={"ETag": etag(view.version)})


@test_routes.get("/v1/test/counters/{counter_id}", roles=ANY_ROLE, path_params=CounterPath,
                 response=CounterView)
async def get_counter(call: Call[None, None]) -> CounterView:
    counter = await call.ledger.repository.get(Counter, call.path.counter_id)
    return CounterView(counter_id=counter.id, count=counter.count, version=counter.version)


@test_routes.get("/v1/test/boom", roles=PUBLIC)
async def boom(call: Call[None, None]) -> None:
    raise RuntimeError("secret internals: password=hunter2")


@test_routes.get("/v1/test/head", roles=PUBLIC, response=dict[str, int])
async def log_head(call: Call[None, None]) -> dict[str, int]:
    return {"head": await call.ledger.store.head()}


@test_routes.get("/v1/test/wrong-response", roles=PUBLIC, response=CounterView)
async def wrong_response(call: Call[None, None]) -> dict[str, str]:
    return {"nonsense": "yes"}


# ---- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def ledger(migrated_dsn: str) -> AsyncIterator[Ledger]:
    opened = await connect_ledger(migrated_dsn, Settings())
    yield opened
    await opened.store.close()


@pytest.fixture(scope="module")
async def tokens(ledger: Ledger) -> dict[Role, str]:
    """One token per role (scoped roles for a fresh institution)."""
    service = TokenService(ledger.store.pool)
    out: dict[Role, str] = {}
    for role in Role:
        institution = uuid.uuid4() if role in (Role.OPERATOR, Role.INSTITUTION) else None
        _, out[role] = await service.create(role, institution_id=institution, name=f"test {role.value}")
    return out


def api_settings(**overrides: Any) -> ApiSettings:
    return ApiSettings(**{"cors_origins": "", "max_body_bytes": 1024 * 1024, **overrides})


@contextlib.asynccontextmanager
async def serve(ledger: Ledger, **overrides: Any) -> AsyncIterator[TestClient]:
    app = create_app(Settings(), ledger, api_settings=api_settings(**overrides), routes=[test_routes])
    server = TestServer(app)
    # As ``ttledger serve`` runs it: without aiohttp's own access log (the API writes its own).
    await server.start_server(access_log=None)
    async with TestClient(server) as client:
        yield client


@pytest.fixture
async def client(ledger: Ledger) -> AsyncIterator[TestClient]:
    async with serve(ledger) as c:
        yield c


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


async def problem(response: ClientResponse, status: int) -> dict[str, Any]:
    body = await response.text()
    assert response.status == status, body
    assert response.content_type == PROBLEM_CONTENT_TYPE, body
    doc = json.loads(body)
    assert doc["status"] == status
    assert doc["instance"] == response.url.path
    assert doc["request_id"] == response.headers["X-Request-Id"]
    assert doc["type"] == "about:blank" or doc["type"].startswith("https://ttledger.dev/problems/")
    assert doc["title"] and doc["detail"]
    return dict(doc)


GOOD_THING = {"title": "A catalyst", "owners": [{"name": "a", "share": "60"}, {"name": "b", "share": "40"}]}


# ---- problems ------------------------------------------------------------------------


async def test_unknown_route_and_wrong_method_are_problems(client: TestClient) -> None:
    doc = await problem(await client.get("/v1/nothing-here"), 404)
    assert doc["type"].endswith("/not-found")
    doc = await problem(await client.delete("/healthz"), 405)
    assert doc["type"].endswith("/method-not-allowed")


async def test_validation_errors_name_exact_fields_and_rules(client: TestClient, tokens: dict[Role, str]) -> None:
    body = {"owners": [{"name": "a", "share": "60"}, {"name": "", "share": "forty"}, {"share": 0}]}
    doc = await problem(await client.post("/v1/test/things", json=body, headers=bearer(tokens[Role.ADMIN])), 422)
    assert doc["type"] == "https://ttledger.dev/problems/validation"
    found = {(e["field"], e["rule"]) for e in doc["errors"]}
    assert found == {
        ("title", "validation.missing"),
        ("owners[1].name", "validation.string_too_short"),
        ("owners[1].share", "validation.decimal_parsing"),
        ("owners[2].name", "validation.missing"),
        ("owners[2].share", "validation.greater_than"),
    }
    assert all(e["in"] == "body" and e["detail"] for e in doc["errors"])
    assert "forty" not in json.dumps(doc)  # the input is never echoed

    doc = await problem(
        await client.get("/v1/test/things?limit=0&tag=x&lang=en", headers=bearer(tokens[Role.ADMIN])), 422
    )
    assert doc["errors"] == [{"field": "limit", "rule": "validation.greater_than_equal",
                              "detail": "Input should be greater than or equal to 1", "in": "query"}]

    doc = await problem(await client.get("/v1/test/counters/not-a-uuid", headers=bearer(tokens[Role.ADMIN])), 422)
    assert doc["errors"][0]["field"] == "counter_id" and doc["errors"][0]["in"] == "path"


async def test_query_lists_and_response_models(client: TestClient, tokens: dict[Role, str]) -> None:
    response = await client.get("/v1/test/things?tag=x&tag=y&limit=5", headers=bearer(tokens[Role.ADMIN]))
    assert response.status == 200
    assert await response.json() == [{"name": "x", "share": "1.5"}, {"name": "y", "share": "1.5"}]
    response = await client.get("/v1/test/things?tag=only", headers=bearer(tokens[Role.ADMIN]))
    assert await response.json() == [{"name": "only", "share": "1.5"}]
    # A regulator's answer passes through the redaction: this test model's text is classified
    # nowhere (api/redaction.py), so it is dropped, never shown.
    response = await client.get("/v1/test/things?tag=only", headers=bearer(tokens[Role.REGULATOR]))
    assert await response.json() == [{"name": "(redacted)", "share": "1.5"}]


async def test_domain_error_is_422_with_the_rule_and_field(client: TestClient, tokens: dict[Role, str]) -> None:
    body = {"title": "t", "owners": [{"name": "a", "share": "60"}, {"name": "b", "share": "30"}]}
    doc = await problem(await client.post("/v1/test/things", json=body, headers=bearer(tokens[Role.ADMIN])), 422)
    assert doc["type"] == "https://ttledger.dev/problems/owner_shares_sum_to_100"
    assert doc["title"] == SHARES_RULE.meaning
    [error] = doc["errors"]
    assert (error["field"], error["rule"]) == ("owners[1].share", "owner_shares_sum_to_100")
    assert "90" in error["detail"]


async def test_malformed_bodies_are_400(client: TestClient, tokens: dict[Role, str]) -> None:
    auth = bearer(tokens[Role.ADMIN])
    cases: list[tuple[bytes, str, str]] = [
        (b'{"title": "x", "owners": [', "application/json", "malformed-json"),
        (b"\xff\xfe\x00garbage", "application/json", "malformed-json"),
        (b"", "application/json", "body-required"),
        (json.dumps(GOOD_THING).encode(), "text/plain", "content-type"),
        (json.dumps(GOOD_THING).encode(), "application/x-www-form-urlencoded", "content-type"),
    ]
    for raw, ctype, kind in cases:
        response = await client.post("/v1/test/things", data=raw, headers={**auth, "Content-Type": ctype})
        doc = await problem(response, 400)
        assert doc["type"].endswith("/" + kind), (raw, doc)
    for header, value in (("Idempotency-Key", "x" * 300), ("If-Match", 'W/"3"'), ("If-Match", "three")):
        response = await client.post("/v1/test/things", json=GOOD_THING, headers={**auth, header: value})
        assert (await problem(response, 400))["type"].endswith("/invalid-header")


async def test_bad_input_never_gives_500(client: TestClient, tokens: dict[Role, str]) -> None:
    auth = bearer(tokens[Role.ADMIN])
    bodies: list[bytes] = [
        b"null", b"[]", b"42", b'"s"', b"[" * 10_000 + b"]" * 10_000,
        b'{"title": 1e999999, "owners": [{"name": "\\ud800", "share": 1e400}]}',
        b'{"title": "x", "owners": [{"name": "a", "share": 12345678901234567890123456789012345678901234567890}]}',
        b'{"title": "x", "owners": {"0": {}}}', b'{"title": "\x00", "owners": [null]}',
        "{\"title\": \"成果\", \"owners\": [{\"name\": \"清华\", \"share\": \"100\"}]}".encode(),
    ]
    for raw in bodies:
        response = await client.post("/v1/test/things", data=raw, headers={**auth, "Content-Type": "application/json"})
        assert response.status < 500, (raw[:60], await response.text())
    for path in ("/v1/test/things?limit=%ff", "/v1/test/things?limit=1&limit=2", "/v1/test/counters/%00",
                 "/v1/test/things?limit=" + "9" * 5000):
        response = await client.get(path, headers=auth)
        assert response.status < 500, (path, await response.text())


async def test_body_too_large_is_413(ledger: Ledger, tokens: dict[Role, str]) -> None:
    big = {"title": "x" * 5000, "owners": [{"name": "a", "share": "100"}]}
    async with serve(ledger, max_body_bytes=4096) as client:
        doc = await problem(await client.post("/v1/test/things", json=big, headers=bearer(tokens[Role.ADMIN])), 413)
        assert "4096" in doc["detail"]
    async with serve(ledger) as client:  # the default limit is 1 MiB
        huge = {"title": "x" * (1024 * 1024), "owners": [{"name": "a", "share": "100"}]}
        await problem(await client.post("/v1/test/things", json=huge, headers=bearer(tokens[Role.ADMIN])), 413)
        fits = {"title": "x" * (1000 * 1000), "owners": [{"name": "a", "share": "100"}]}
        response = await client.post("/v1/test/things", json=fits, headers=bearer(tokens[Role.ADMIN]))
        assert response.status == 201


async def test_unexpected_errors_are_500_without_internals(client: TestClient) -> None:
    doc = await problem(await client.get("/v1/test/boom"), 500)
    text = json.dumps(doc)
    assert "secret" not in text and "hunter2" not in text and "RuntimeError" not in text
    assert doc["type"].endswith("/internal-error")
    await problem(await client.get("/v1/test/wrong-response"), 500)


# ---- writes through the bus: conflicts and idempotency ------------------------------


async def test_if_match_conflict_is_409_with_the_current_version(client: TestClient, tokens: dict[Role, str]) -> None:
    auth = bearer(tokens[Role.ADMIN])
    created = await client.post("/v1/test/counters", json={"name": "c"}, headers=auth)
    assert created.status == 201, await created.text()
    counter = await created.json()
    assert created.headers["ETag"] == '"1"'
    url = f"/v1/test/counters/{counter['counter_id']}/increment"
    ok = await client.post(url, json={"by": 2}, headers={**auth, "If-Match": '"1"'})
    assert ok.status == 200, await ok.text()
    assert (await ok.json())["version"] == 2 and ok.headers["ETag"] == '"2"'

    stale = await client.post(url, json={"by": 1}, headers={**auth, "If-Match": '"1"'})
    doc = await problem(stale, 409)
    assert doc["type"] == "https://ttledger.dev/problems/stream_version_is_current"
    assert doc["stream_id"] == counter["counter_id"]
    assert (doc["expected_version"], doc["current_version"]) == (1, 2)
    assert stale.headers["ETag"] == '"2"'

    unpinned = await client.post(url, json={"by": 1}, headers=auth)  # no If-Match: last writer wins
    assert unpinned.status == 200
    missing = await client.get(f"/v1/test/counters/{uuid.uuid4()}", headers=auth)
    doc = await problem(missing, 404)
    assert doc["aggregate"] == "Counter"


async def test_idempotency_key_replays_and_refuses_reuse(client: TestClient, tokens: dict[Role, str]) -> None:
    auth = bearer(tokens[Role.ADMIN], **{"Idempotency-Key": f"key-{uuid.uuid4()}"})
    first = await client.post("/v1/test/counters", json={"name": "once"}, headers=auth)
    again = await client.post("/v1/test/counters", json={"name": "once"}, headers=auth)
    assert (first.status, again.status) == (201, 200)
    assert await first.json() == await again.json()
    other = await client.post("/v1/test/counters", json={"name": "other"}, headers=auth)
    doc = await problem(other, 409)
    assert doc["type"] == "https://ttledger.dev/problems/idempotency_key_reuse"
    assert doc["errors"][0]["rule"] == "idempotency_key_reuse"
    assert doc["errors"][0]["field"] == "Idempotency-Key"


async def test_handlers_receive_headers_they_accept(client: TestClient, tokens: dict[Role, str]) -> None:
    headers = bearer(tokens[Role.INSTITUTION], **{"Idempotency-Key": "abc-1", "If-Match": "7"})
    response = await client.post("/v1/test/things", json=GOOD_THING, headers=headers)
    assert response.status == 201, await response.text()
    assert await response.json() == {"title": "A catalyst", "owners": 2, "role": "institution",
                                     "idempotency_key": "abc-1", "expected_version": 7}


# ---- authentication and roles ---------------------------------------------------------


async def test_missing_and_wrong_tokens_are_401(client: TestClient, tokens: dict[Role, str]) -> None:
    doc = await problem(response := await client.get("/v1/whoami"), 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="ttledger"'
    assert doc["type"].endswith("/unauthenticated")
    for header in ("Bearer ttl_" + "A" * 43, "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer ",
                   "Bearer " + tokens[Role.ADMIN][:-1] + "?"):
        response = await client.get("/v1/whoami", headers={"Authorization": header})
        await problem(response, 401)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    response = await client.get("/v1/whoami", headers=bearer(tokens[Role.OPERATOR]))
    assert response.status == 200
    who = await response.json()
    assert who["role"] == "operator" and who["institution_id"] and "token" not in who


async def test_revoked_token_is_refused(client: TestClient) -> None:
    assert client.app is not None
    service = client.app[TOKENS]
    created, token = await service.create(Role.ADMIN, name="short-lived")
    assert (await client.get("/v1/whoami", headers=bearer(token))).status == 200
    await service.revoke(created.id)
    await problem(await client.get("/v1/whoami", headers=bearer(token)), 401)


async def test_role_not_allowed_is_403(client: TestClient, tokens: dict[Role, str]) -> None:
    response = await client.post("/v1/test/things", json=GOOD_THING, headers=bearer(tokens[Role.REGULATOR]))
    doc = await problem(response, 403)
    assert doc["type"].endswith("/role-not-allowed") and doc["role"] == "regulator"
    # Roles are checked before the body is read: a bad body still gets 403.
    response = await client.post("/v1/test/things", data=b"{", headers=bearer(tokens[Role.OPERATOR]))
    await problem(response, 403)


async def test_every_route_enforces_its_roles(client: TestClient, tokens: dict[Role, str]) -> None:
    """Table-driven over the app's whole registry, domain routes included as they are added."""
    assert client.app is not None
    table = client.app[ROUTES].table()
    assert len(table) >= 10
    for method, path, roles in table:
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        if roles is None:
            response = await client.request(method, url)
            assert response.status != 401, (method, path)
            continue
        await problem(await client.request(method, url), 401)
        for role in Role:
            response = await client.request(method, url, headers=bearer(tokens[role]), data=b"")
            if role in roles:
                assert response.status not in (401, 500), (method, path, role, await response.text())
                if response.status == 403:
                    assert not (await response.json())["type"].endswith("/role-not-allowed")
            else:
                doc = await problem(response, 403)
                assert doc["type"].endswith("/role-not-allowed"), (method, path, role)
        account = next(s.account for s in client.app[ROUTES].routes if (s.method, s.path) == (method, path))
        assert Role.REGULATOR not in roles or method in ("GET", "HEAD") or account, "regulators only read"


def test_registry_refuses_unsafe_declarations() -> None:
    routes = RouteRegistry()

    async def handler(call: Call[None, None]) -> None:
        return None

    with pytest.raises(ValueError, match="read-only"):
        routes.post("/v1/x", roles={Role.REGULATOR})(handler)
    with pytest.raises(ValueError, match="PUBLIC"):
        routes.post("/v1/x", roles=set())(handler)
    with pytest.raises(TypeError):
        routes.route("GET", "/v1/x", roles=PUBLIC, query=dict)(handler)  # type: ignore[arg-type]
    routes.get("/v1/x", roles=PUBLIC)(handler)
    with pytest.raises(ValueError, match="declared twice"):
        routes.get("/v1/x", roles=PUBLIC, operation_id="other")(handler)
    with pytest.raises(ValueError, match="path_params"):
        routes.get("/v1/y/{id}", roles=PUBLIC, path_params=CounterPath, operation_id="y")(handler)


async def test_failed_authentication_is_rate_limited_per_address(ledger: Ledger, tokens: dict[Role, str]) -> None:
    async with serve(ledger) as client:
        for _ in range(10):
            await problem(await client.get("/v1/whoami", headers=bearer("ttl_" + "B" * 43)), 401)
        response = await client.get("/v1/whoami", headers=bearer(tokens[Role.ADMIN]))
        doc = await problem(response, 429)  # blocked even with a good token now
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert doc["retry_after"] == int(response.headers["Retry-After"])
        # Public routes and requests without a token are not affected.
        assert (await client.get("/healthz")).status == 200


def test_failure_limiter_window_slides() -> None:
    now = [0.0]
    limiter = FailureLimiter(limit=3, window=60, clock=lambda: now[0], max_clients=2)
    for t in (0, 10, 20):
        now[0] = t
        assert limiter.retry_after("a") is None
        limiter.fail("a")
    assert limiter.retry_after("a") == 40  # the first failure leaves the window at t=60
    now[0] = 60.5
    assert limiter.retry_after("a") is None
    limiter.fail("b")
    limiter.fail("c")  # over max_clients: the oldest address is forgotten
    assert limiter.retry_after("a") is None


# ---- the database going away ------------------------------------------------------------


async def test_unreachable_database_is_503(tokens: dict[Role, str]) -> None:
    dead = "postgresql://postgres@127.0.0.1:9/nowhere"  # port 9 (discard): nothing listens
    pool = await asyncpg.create_pool(dead, min_size=0, max_size=1)
    assert pool is not None
    store = EventStore(pool, dead)
    repository = Repository(store, default_mapper())
    down = Ledger(Database(dead), store, repository, MessageBus(store, repository))
    try:
        async with serve(down) as client:
            for path in ("/readyz", "/v1/test/head"):
                response = await client.get(path)
                doc = await problem(response, 503)
                assert doc["type"].endswith("/database-unavailable")
                assert int(response.headers["Retry-After"]) > 0
            # A token cannot be checked: 503, not 401, and not counted as a failure.
            for _ in range(12):
                await problem(await client.get("/v1/whoami", headers=bearer(tokens[Role.ADMIN])), 503)
    finally:
        await pool.close()


async def test_closed_pool_is_503(migrated_dsn: str) -> None:
    closing = await connect_ledger(migrated_dsn, Settings())
    async with serve(closing) as client:
        assert (await client.get("/v1/test/head")).status == 200
        await closing.store.close()
        doc = await problem(await client.get("/v1/test/head"), 503)
        assert "数据库" in doc["detail"]  # Chinese by default (api/language.py)


# ---- OpenAPI and docs -------------------------------------------------------------------


async def test_openapi_document_is_valid_3_1(client: TestClient) -> None:
    from openapi_spec_validator import validate

    response = await client.get("/v1/openapi.json")
    assert response.status == 200 and response.content_type == "application/json"
    doc = await response.json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    op = doc["paths"]["/v1/test/things"]["post"]
    assert op["security"] == [{"bearer": []}]
    assert op["x-roles"] == ["admin", "institution"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/RegisterThing"}
    assert {"400", "401", "403", "409", "413", "422", "429", "503"} <= set(op["responses"])
    assert op["responses"]["422"] == {"$ref": "#/components/responses/Problem422"}
    problem_schema = doc["components"]["responses"]["Problem422"]["content"][PROBLEM_CONTENT_TYPE]["schema"]
    assert problem_schema == {"$ref": "#/components/schemas/Problem"}
    assert "errors" in doc["components"]["schemas"]["Problem"]["properties"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    names = [p.get("name") or p.get("$ref") for p in op["parameters"]]
    assert names == ["#/components/parameters/Lang", "#/components/parameters/IdempotencyKey",
                     "#/components/parameters/IfMatch"]
    assert doc["components"]["parameters"]["Lang"]["schema"] == {"type": "string", "enum": ["zh", "en"]}
    listing = doc["paths"]["/v1/test/things"]["get"]
    assert [(p.get("name"), p.get("in")) for p in listing["parameters"]] == [
        ("limit", "query"), ("tag", "query"), (None, None)]
    assert listing["parameters"][-1] == {"$ref": "#/components/parameters/Lang"}
    increment = doc["paths"]["/v1/test/counters/{counter_id}/increment"]["post"]
    assert increment["parameters"][0]["schema"]["format"] == "uuid"
    assert doc["paths"]["/healthz"]["get"]["security"] == []


async def test_docs_page_uses_only_local_assets(client: TestClient) -> None:
    response = await client.get("/docs")
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs, html
    for ref in refs:
        assert (ref.startswith("/") and not ref.startswith("//")) or ref == "data:,", ref
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "http" not in csp and "unsafe-eval" not in csp
    assert "<script>" not in html  # no inline script: the CSP forbids it
    for ref in (r for r in refs if r.startswith("/docs/static/")):
        asset = await client.get(ref)
        assert asset.status == 200, ref
        body = await asset.read()
        assert b"https://cdn" not in body and b"unpkg.com" not in body, ref
    assert (await client.get("/docs/static/../app.py")).status in (403, 404)


# ---- headers ------------------------------------------------------------------------


async def test_security_headers_and_request_ids(client: TestClient) -> None:
    for path in ("/healthz", "/v1/openapi.json", "/v1/nowhere", "/docs", "/v1/test/boom"):
        response = await client.get(path)
        h = response.headers
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["Referrer-Policy"] == "no-referrer"
        assert h["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert re.fullmatch(r"[0-9a-f]{32}", h["X-Request-Id"])
        if path.startswith("/v1"):
            assert h["Cache-Control"] == "no-store"
        assert not any(k.lower().startswith("access-control-") for k in h), path
    sane = await client.get("/healthz", headers={"X-Request-Id": "trace-42.a:b"})
    assert sane.headers["X-Request-Id"] == "trace-42.a:b"
    insane = await client.get("/healthz", headers={"X-Request-Id": "<script>" + "x" * 300})
    assert re.fullmatch(r"[0-9a-f]{32}", insane.headers["X-Request-Id"])


async def test_cors_only_for_configured_origins(ledger: Ledger) -> None:
    async with serve(ledger, cors_origins="https://portal.example.cn, https://other.example") as client:
        ok = await client.get("/healthz", headers={"Origin": "https://portal.example.cn"})
        assert ok.headers["Access-Control-Allow-Origin"] == "https://portal.example.cn"
        assert "X-Request-Id" in ok.headers["Access-Control-Expose-Headers"]
        foreign = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in foreign.headers
        preflight = await client.options("/v1/whoami", headers={
            "Origin": "https://other.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert preflight.status == 204
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
        refused = await client.options("/v1/whoami", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
        await problem(refused, 403)


# ---- logs --------------------------------------------------------------------------------


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every structlog line rendered as the server renders it (JSON), plus stdlib logging."""
    from ledger.logging import configure_logging

    old = structlog.get_config()
    buffer = io.StringIO()
    configure_logging("json", "debug")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer), cache_logger_on_first_use=False)
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        structlog.configure(**old)


async def test_logs_carry_request_ids_and_never_tokens(ledger: Ledger, tokens: dict[Role, str]) -> None:
    token = tokens[Role.ADMIN]
    wrong = token[:12] + "Z" * 35
    with captured_logs() as buffer:
        async with serve(ledger) as client:
            await client.get("/v1/whoami", headers=bearer(token, **{"X-Request-Id": "req-ok"}))
            await client.get("/v1/whoami", headers=bearer(wrong, **{"X-Request-Id": "req-bad"}))
            await client.post("/v1/test/things", json=GOOD_THING, headers=bearer(token))
            await client.get("/v1/test/boom", headers={"X-Request-Id": "req-boom", **bearer(token)})
            await client.get(f"/v1/nowhere/{token}")
        await asyncio.sleep(0)
    text = buffer.getvalue()
    for secret in (token, wrong, token[12:], wrong[12:]):
        assert secret not in text
    assert "Bearer" not in text and "uthorization" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [e for e in lines if e.get("event") == "http_request"]
    assert {e["request_id"] for e in access} >= {"req-ok", "req-bad", "req-boom"}
    ok = next(e for e in access if e["request_id"] == "req-ok")
    assert (ok["method"], ok["route"], ok["status"]) == ("GET", "/v1/whoami", 200)
    assert isinstance(ok["duration_ms"], float)
    crash = [e for e in lines if e.get("event") == "unhandled_error"]
    assert crash and crash[0]["request_id"] == "req-boom" and "RuntimeError" in crash[0]["exception"]
    assert any(e.get("event") == "authentication_failed" and e["request_id"] == "req-bad" for e in lines)


def test_field_paths() -> None:
    assert field_path(("owners", 1, "share")) == "owners[1].share"
    assert field_path((0, "a")) == "[0].a"
    assert field_path(()) == ""
    assert field_path(("a", "b", 2, 3)) == "a.b[2][3]"


async def test_language_is_negotiated_and_announced(client: TestClient, tokens: dict[Role, str]) -> None:
    """``?lang=`` or ``Accept-Language`` chooses the language (Chinese by default); every answer says which."""
    auth = bearer(tokens[Role.ADMIN])
    body = {"owners": [{"name": "a", "share": "100"}]}  # no title: a validation error
    response = await client.post("/v1/test/things", json=body, headers=auth)
    zh = await problem(response, 422)
    assert response.headers["Content-Language"] == "zh-CN" and "Accept-Language" in response.headers["Vary"]
    assert zh["title"] == "请求未通过校验"
    response = await client.post("/v1/test/things?lang=en", json=body, headers=auth)
    en = await problem(response, 422)
    assert response.headers["Content-Language"] == "en" and en["title"] == "The request is not valid"
    response = await client.post("/v1/test/things", json=body, headers={**auth, "Accept-Language": "en-US,en;q=0.9"})
    assert response.headers["Content-Language"] == "en"
    response = await client.get("/healthz", headers={"Accept-Language": "zh-CN"})
    assert response.headers["Content-Language"] == "zh-CN"
    # A language we do not have is refused, naming the parameter.
    bad = await problem(await client.get("/v1/test/things?lang=fr", headers=auth), 422)
    assert bad["errors"][0]["field"] == "lang" and bad["errors"][0]["in"] == "query"
