"""Problem details in the language asked for: one example of each kind of refusal, with ``lang=zh`` and
``lang=en`` (and ``Accept-Language``), each checked for the language of its ``title`` and ``detail``.

tests/unit/test_problem_titles.py checks that every problem raised in the code has a Chinese detail;
this table checks that they reach the client in the chosen language.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse

from tests.integration.api_support import Api, World, problem

HAN = re.compile(r"[\u4e00-\u9fff]")
Request = Callable[[Api, World, str], Awaitable[ClientResponse]]


def _q(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def get(path: str, who: str | None = "admin", **headers: str) -> Request:
    async def run(api: Api, w: World, lang: str) -> ClientResponse:
        url = _q(path.format(**{k: w[k] for k in ("U", "U2")}, random=uuid.uuid4()), lang)
        return await api.client.get(url, headers=api.headers(who, **headers))
    return run


def post(path: str, body: Any, who: str = "admin", content_type: str | None = None, **headers: str) -> Request:
    async def run(api: Api, w: World, lang: str) -> ClientResponse:
        sent = body(w) if callable(body) else body
        url = _q(path, lang)
        if content_type is not None:
            return await api.client.post(url, data=str(sent), headers=api.headers(
                who, **{"Content-Type": content_type, **headers}))
        return await api.client.post(url, json=sent, headers=api.headers(who, **headers))
    return run


def _institution(w: World) -> dict[str, Any]:
    return {"id": str(w["U2"]), "name": "上海示范大学", "kind": "university", "region": "310000",
            "registered_on": "2015-01-01"}


CASES: dict[str, tuple[Request, int, str]] = {
    "no token": (get("/v1/institutions", who=None), 401, "unauthenticated"),
    "unknown token": (get("/v1/institutions", who=None, Authorization="Bearer ttl_not-a-token"), 401,
                      "unauthenticated"),
    "role not allowed": (post("/v1/achievements", {}, who="regulator"), 403, "role-not-allowed"),
    "institution scope": (post("/v1/institutions", _institution, who="owner"), 403, "institution-scope"),
    "record not found": (get("/v1/institutions/{random}"), 404, "not-found"),
    "no such route": (get("/v1/no-such-route"), 404, "not-found"),
    "import job not found": (get("/v1/imports/{random}", who="owner"), 404, "not-found"),
    "validation": (get("/v1/statistics/contracts?format=pdf", who="regulator"), 422, "validation"),
    "list query": (get("/v1/achievements?cursor=not-a-cursor"), 422, "validation"),
    "statistics query": (get("/v1/reports/annual?year=2024"), 422, "validation"),
    "bad header": (post("/v1/institutions", _institution, **{"Idempotency-Key": "x" * 300}), 400, "invalid-header"),
    "content type": (post("/v1/institutions", "name=x", content_type="text/plain"), 400, "content-type"),
    "malformed JSON": (post("/v1/institutions", "{", content_type="application/json"), 400, "malformed-json"),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_problem_details_follow_the_language(api: Api, world: World, case: str) -> None:
    request, status, kind = CASES[case]
    zh = await problem(await request(api, world, "zh"), status)
    en_response = await request(api, world, "en")
    assert en_response.headers["Content-Language"] == "en"
    en = await problem(en_response, status)
    assert zh["type"].endswith("/" + kind) and en["type"] == zh["type"]
    assert HAN.search(zh["title"]) and not HAN.search(en["title"]), (zh["title"], en["title"])
    assert HAN.search(zh["detail"]), f"{case}: no Chinese detail: {zh['detail']!r}"
    assert not HAN.search(en["detail"]), f"{case}: Chinese in the English detail: {en['detail']!r}"
    for entry in zh.get("errors") or []:
        assert "detail_zh" not in entry
    if case in ("list query", "statistics query"):
        assert HAN.search(zh["errors"][0]["detail"]) and not HAN.search(en["errors"][0]["detail"])


async def test_accept_language_chooses_when_lang_is_absent(api: Api, world: World) -> None:
    response = await api.client.get("/v1/institutions", headers={"Accept-Language": "en-US,en;q=0.9"})
    doc = await problem(response, 401)
    assert response.headers["Content-Language"] == "en" and not HAN.search(doc["detail"])
    response = await api.client.get("/v1/institutions")  # neither: Chinese
    doc = await problem(response, 401)
    assert response.headers["Content-Language"] == "zh-CN"
    assert doc["detail"] == "请以 'Authorization: Bearer ttl_…' 发送 API 令牌，或在 /sign-in 登录"


async def test_each_validation_error_in_the_chosen_language(api: Api, world: World) -> None:
    """pydantic's own messages are English: each entry gets its Chinese from the error's type (with the
    schema's limits) or, for an input rule, from the rule's Chinese name and meaning."""
    body = {"payment_id": "LANG-1", "amount_fen": "100", "received_on": "2024-03-01", "extra": 1}
    url = f"/v1/contracts/{world['C']}/payments"
    zh = await problem(await api.client.post(url + "?lang=zh", json=body, headers=api.headers("owner")), 422)
    en = await problem(await api.client.post(url + "?lang=en", json=body, headers=api.headers("owner")), 422)
    by_zh = {e["field"]: e["detail"] for e in zh["errors"]}
    by_en = {e["field"]: e["detail"] for e in en["errors"]}
    assert set(by_zh) == set(by_en) == {"amount_fen", "extra"}
    assert by_zh["extra"] == "不接受此项：请求中没有这一字段" and by_en["extra"] == "Extra inputs are not permitted"
    assert by_zh["amount_fen"].startswith("金额") and HAN.search(by_zh["amount_fen"])
    assert not HAN.search(by_en["amount_fen"])
    assert all("detail_zh" not in e for e in zh["errors"] + en["errors"])
    doc = await problem(await api.client.get("/v1/contracts?limit=0&lang=zh", headers=api.headers("owner")), 422)
    assert [(e["field"], e["detail"]) for e in doc["errors"]] == [("limit", "须不小于 1")]
    doc = await problem(await api.client.get("/v1/contracts?limit=0", headers=api.headers(
        "owner", **{"Accept-Language": "en-US,en;q=0.9"})), 422)
    assert doc["errors"][0]["detail"] == "Input should be greater than or equal to 1"
