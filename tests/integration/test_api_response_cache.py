"""Statistics answers kept until the projections move (api/response_cache.py), over HTTP."""

from __future__ import annotations

import json

from api.auth import TOKENS
from api.response_cache import RESPONSE_CACHE, ResponseCache
from ledger.bootstrap import Ledger
from ledger.tokens import TokenService
from tests.integration.api_support import Api, World, problem

STATS = "/v1/statistics/contracts?group_by=kind"


def cache_of(api: Api) -> ResponseCache:
    return api.client.server.app[RESPONSE_CACHE]


async def figures(api: Api, path: str, who: str, **headers: str) -> tuple[int, bytes, str]:
    response = await api.get(path, who, **headers)
    assert response.status in (200, 304), await response.text()
    return response.status, await response.read(), response.headers.get("ETag", "")


async def test_the_same_read_is_answered_again_until_an_event_is_applied(api: Api, world: World) -> None:
    cache = cache_of(api)
    status, first, etag = await figures(api, STATS + "&min_position=" + str(await api.head()), "regulator")
    assert status == 200 and etag.startswith('W/"')
    hits = cache.hits
    status, again, again_etag = await figures(api, STATS, "regulator")
    assert (status, again, again_etag) == (200, first, etag)
    assert cache.hits == hits + 1

    misses = cache.misses
    status, fresh, fresh_etag = await figures(api, STATS, "regulator", **{"Cache-Control": "no-cache"})
    assert (status, fresh, fresh_etag, cache.misses) == (200, first, etag, misses + 1)

    # A client that holds the figures is told they have not moved.
    status, body, same = await figures(api, STATS, "regulator", **{"If-None-Match": etag})
    assert (status, body, same) == (304, b"", etag)

    # A new contract signed: once its events are applied the answer is computed afresh.
    before = {g["key"]: g["contracts"] for g in json.loads(first)["groups"]}
    made = await api.ok("/v1/contracts", {"terms": {
        "kind": "service", "title": "检测服务", "seller_ids": [str(world["U"])], "buyer_id": str(world["G"]),
        "achievement_ids": [], "contract_value_fen": 3_000_000, "transaction_value_fen": 3_000_000},
        "drafted_on": "2024-04-01"}, who="owner", status=201)
    signed = await api.ok(f"/v1/contracts/{made['id']}/signature", {"on": "2024-04-02"}, who="owner")
    status, after, after_etag = await figures(
        api, f"{STATS}&min_position={signed['position']}", "regulator", **{"If-None-Match": etag})
    assert status == 200 and after_etag != etag
    counts = {g["key"]: g["contracts"] for g in json.loads(after)["groups"]}
    assert counts.get("service", 0) == before.get("service", 0) + 1


async def test_answers_are_kept_per_reader_and_per_query(api: Api, world: World) -> None:
    head = await api.head()
    audit = f"/v1/statistics/distribution-audit?as_of=2026-01-01&group_by=inventor&min_position={head}"
    _, named, admin_etag = await figures(api, audit, "admin")
    _, anonymous, regulator_etag = await figures(api, audit, "regulator")
    assert admin_etag != regulator_etag
    assert named != anonymous
    assert json.loads(anonymous)["anonymised"] is True and json.loads(named)["anonymised"] is False
    _, by_region, region_etag = await figures(api, "/v1/statistics/contracts?group_by=seller_region", "regulator")
    _, by_kind, kind_etag = await figures(api, STATS, "regulator")
    assert region_etag != kind_etag and by_region != by_kind


async def test_a_revoked_token_is_refused_though_its_answer_is_kept(api: Api, world: World,
                                                                     ledger: Ledger) -> None:
    created, token = await TokenService(ledger.store.pool).create("regulator", name="short-lived")
    headers = {"Authorization": f"Bearer {token}"}
    first = await api.client.get(STATS, headers=headers)
    assert first.status == 200
    # Revoked through the app's own token service, as `DELETE /v1/tokens/...` or the CLI
    # in this process would: it forgets its verification at once.
    assert await api.client.server.app[TOKENS].revoke(created.id)
    await problem(await api.client.get(STATS, headers=headers), 401)
    again = await api.get(STATS, "regulator")
    assert again.status == 200 and await again.read() == await first.read()


async def test_a_bad_parameter_is_refused_before_the_cache(api: Api, world: World) -> None:
    await figures(api, STATS, "regulator")
    refused = await api.get("/v1/statistics/contracts?group_by=nonsense", "regulator")
    doc = await problem(refused, 422)
    assert doc["errors"][0]["field"] == "group_by"
    forbidden = await api.get(STATS, "owner")
    await problem(forbidden, 403)


async def test_readers_that_miss_together_share_one_computation(api: Api, world: World) -> None:
    import asyncio

    cache = cache_of(api)
    path = f"/v1/statistics/ufpl-funnel?group_by=period&min_position={await api.head()}"
    misses = cache.misses
    answers = await asyncio.gather(*(figures(api, path, "regulator") for _ in range(12)))
    assert cache.misses == misses + 1
    assert len({(status, body, etag) for status, body, etag in answers}) == 1
    assert answers[0][0] == 200
