"""Answers of statistics reads, kept until the projections move.

A statistic is a function of its query, of who asks (a regulator sees
inventors only as counts) and of the projections' positions. While the
in-process runner has not applied a new event, the same GET gets the same
bytes, so they are kept and served again without touching the database; the
first event applied changes the positions and every kept answer stops
matching. Dashboards poll the same figures over and over, which is the case
this serves (``bench/api.py`` measures it).

Each answer carries an ``ETag`` made of the same things; ``If-None-Match``
with it gets ``304 Not Modified`` while the figures have not moved.

Only authenticated GETs of ``/v1/statistics/`` and ``/v1/reports/`` are kept
(``CACHED_PREFIXES``), only successful ones, and only when this process runs
the projections (otherwise it cannot know when they move). Authentication
and validation run before the cache is consulted, so a revoked token or a bad
parameter is refused as ever. A ``min_position`` beyond the runner's
position skips the cache and waits as usual, and a request with
``Cache-Control: no-cache`` has its figures computed afresh.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from api.state import PROJECTIONS

CACHED_PREFIXES = ("/v1/statistics/", "/v1/reports/")
MAX_ENTRIES = 512
MAX_BODY_BYTES = 4 * 1024 * 1024

Freshness = tuple[int, ...]


@dataclass(frozen=True)
class Kept:
    freshness: Freshness
    etag: str
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]

    def response(self) -> web.Response:
        return web.Response(body=self.body, status=self.status, headers=dict(self.headers))


class ResponseCache:
    """At most ``max_entries`` answers, least recently used out first."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        self._kept: OrderedDict[tuple[Any, ...], Kept] = OrderedDict()
        self._computing: dict[tuple[Any, ...], asyncio.Future[Kept | None]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._kept)

    async def answer(
        self,
        request: web.Request,
        key: tuple[Any, ...],
        min_position: int | None,
        compute: Callable[[], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        fresh = freshness(request.app)
        # (While a projection is stopped its mark is negative, so a min_position read skips the cache
        # and meets the handler's answer to it: wait, or 503 naming the stopped projection.)
        if fresh is None or (min_position is not None and min_position > min(fresh, default=0)):
            return await compute()
        etag = _etag(key, fresh)
        kept = self._kept.get(key)
        if kept is not None and kept.freshness == fresh and not _no_cache(request):
            self._kept.move_to_end(key)
            self.hits += 1
            return _answer(request, kept)
        # Requests that miss together wait for one computation (after the projections
        # move, every open dashboard asks at once).
        pending = self._computing.get(key)
        if pending is not None and not _no_cache(request):
            shared = await asyncio.shield(pending)
            if shared is not None and shared.freshness == fresh:
                self.hits += 1
                return _answer(request, shared)
        self.misses += 1
        future: asyncio.Future[Kept | None] = asyncio.get_running_loop().create_future()
        self._computing[key] = future
        kept_now: Kept | None = None
        try:
            response = await compute()
            # The freshness read before computing: the figures are at least that fresh, so
            # a kept answer is never staler than its key says.
            if (isinstance(response, web.Response) and response.status == 200
                    and isinstance(response.body, bytes) and len(response.body) <= self.max_body_bytes):
                response.headers["ETag"] = etag
                headers = tuple((k, v) for k, v in response.headers.items() if k.lower() != "content-length")
                kept_now = Kept(fresh, etag, response.status, response.body, headers)
                self._kept[key] = kept_now
                self._kept.move_to_end(key)
                while len(self._kept) > self.max_entries:
                    self._kept.popitem(last=False)
                if _matches(request, etag):
                    return web.Response(status=304, headers={"ETag": etag})
            return response
        finally:
            if self._computing.get(key) is future:
                del self._computing[key]
            future.set_result(kept_now)


def _answer(request: web.Request, kept: Kept) -> web.Response:
    if _matches(request, kept.etag):
        return web.Response(status=304, headers={"ETag": kept.etag})
    return kept.response()


RESPONSE_CACHE = web.AppKey("response_cache", ResponseCache)


def cacheable(method: str, path: str) -> bool:
    return method == "GET" and path.startswith(CACHED_PREFIXES)


def freshness(app: web.Application) -> Freshness | None:
    """The positions of every projection this process runs, or None without a runner.

    A stopped projection (or one rebuilt elsewhere) adds a mark of its own, so
    an answer kept before a projection stopped or resumed is never served
    after it, nor validated by its ``ETag``. The staleness marks themselves
    (api/staleness.py) are added to every answer as it leaves, kept or not.
    """
    runner = app.get(PROJECTIONS)
    if runner is None:
        return None
    try:
        positions = tuple(runner.position(p.name) for p in runner.projections)
    except KeyError:  # not set up yet
        return None
    failures, rebuilding = runner.failures(), runner.rebuilding()
    if not failures and not rebuilding:
        return positions
    marks = tuple(-failures[p.name].position if p.name in failures else -1 if p.name in rebuilding else 0
                  for p in runner.projections)
    return positions + marks


def request_key(operation_id: str, role: Any, institution_id: Any, query: Any,
                path: Any, lang: str = "zh") -> tuple[Any, ...]:
    """What the answer depends on besides the positions: the route, who asks, what, in which language."""
    shown_query = query.model_dump_json(exclude={"min_position"}) if isinstance(query, BaseModel) else None
    shown_path = tuple(sorted(path.items())) if isinstance(path, dict) else repr(path)
    return (operation_id, str(role), str(institution_id), shown_query, shown_path, lang)


def _etag(key: tuple[Any, ...], fresh: Freshness) -> str:
    digest = hashlib.blake2b(repr((key, fresh)).encode(), digest_size=12).hexdigest()
    return f'W/"{digest}"'


def _no_cache(request: web.Request) -> bool:
    """``Cache-Control: no-cache`` asks for figures computed afresh (they are kept again)."""
    return "no-cache" in request.headers.get("Cache-Control", "").lower()


def _matches(request: web.Request, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match")
    if not wanted:
        return False
    return any(tag.strip() in (etag, "*") for tag in wanted.split(","))
