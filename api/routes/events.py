"""The event feed: pages of the global log, and a live server-sent-events stream.

Both give every event with its hash-chain fields, so a consumer can check
that nothing was altered, removed or reordered (docs/api.md, "Event feed").

Admin tokens only. Events are the ledger's raw record: they name inventors
and carry drafts of unregistered contracts, and their hashes cover the exact
stored bytes, so they cannot be redacted for a regulator without breaking
the chain a consumer verifies. Regulators read statistics and redacted views.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from aiohttp import web
from pydantic import BaseModel, Field

from api.problems import HTTPProblem
from api.routing import Call, RouteRegistry
from api.state import API_SETTINGS
from ledger.store import LogEntry
from ledger.tokens import Role

log = structlog.get_logger(__name__)
routes = RouteRegistry()
TAGS = ("events",)
READERS = {Role.ADMIN}
MAX_PAGE = 1000
STREAM_BATCH = 500


class StreamSlots:
    """How many event streams the app serves now (each holds a LISTEN connection)."""

    def __init__(self) -> None:
        self.open = 0
        self.pumps: set[asyncio.Task[None]] = set()

    async def close_all(self, app: web.Application) -> None:
        """``on_shutdown``: end every stream so that shutdown does not wait for idle clients."""
        for pump in list(self.pumps):
            pump.cancel()


STREAMS_KEY = web.AppKey("event_streams", StreamSlots)


class FeedQuery(BaseModel):
    after: int = Field(default=0, ge=0, description="Events after this log position (0: from the start).")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description="At most this many events.")


class StreamQuery(BaseModel):
    after: int = Field(
        default=0, ge=0,
        description="Events after this position; a `Last-Event-ID` header (on reconnection) takes precedence.",
    )


class FeedEvent(BaseModel):
    position: int = Field(description="Global log position (contiguous, from 1).")
    stream_id: UUID = Field(description="The aggregate (record) the event belongs to.")
    version: int = Field(description="The event's version within its stream.")
    topic: str = Field(description="The event class, e.g. `domain.contract:TechnologyContract.PaymentReceived`.")
    recorded_at: datetime
    state: Any = Field(description="The event's state decoded as JSON (`null` if it is not UTF-8 JSON).")
    state_base64: str = Field(description="The exact stored bytes of the state, which the hash covers.")
    prev_hash: str = Field(description="Hash of the previous event (hex); 64 zeros before the first.")
    hash: str = Field(description="This event's hash (hex): see docs/api.md for the formula.")
    recorded_by: dict[str, Any] | None = Field(
        description="Who recorded it (`actor`: kind user, token or system, id, role, institution_id, ...; "
        "`request_id`; `import`), decoded from `metadata_base64`; `null` for events from before actors.")
    metadata_base64: str | None = Field(description="The exact stored bytes of the actor, which the hash covers.")


class FeedPage(BaseModel):
    events: list[FeedEvent]
    next_after: int = Field(description="Pass as `after` for the next page (the last position here).")
    head: int = Field(description="The log head when the page was read.")
    has_more: bool = Field(description="More events after this page, as of the read.")


def _state(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def feed_event(entry: LogEntry) -> dict[str, Any]:
    return {
        "position": entry.position,
        "stream_id": str(entry.stream_id),
        "version": entry.version,
        "topic": entry.topic,
        "recorded_at": entry.recorded_at.isoformat(),
        "state": _state(entry.state),
        "state_base64": base64.b64encode(entry.state).decode("ascii"),
        "prev_hash": entry.prev_hash.hex(),
        "hash": entry.hash.hex(),
        "recorded_by": None if entry.metadata is None else _state(entry.metadata),
        "metadata_base64": None if entry.metadata is None else base64.b64encode(entry.metadata).decode("ascii"),
    }


@routes.get("/v1/events", roles=READERS, query=FeedQuery, response=FeedPage, tags=TAGS)
async def get_events(call: Call[None, FeedQuery]) -> FeedPage:
    """A page of the global event log, in order, with the hash chain."""
    store = call.ledger.store
    head = await store.head()
    page = await store.read(call.query.after, call.query.limit)
    last = page[-1].position if page else call.query.after
    return FeedPage.model_validate({
        "events": [feed_event(e) for e in page], "next_after": last, "head": head, "has_more": last < head,
    })


def _sse_frame(entry: LogEntry) -> bytes:
    data = json.dumps(feed_event(entry), ensure_ascii=False, separators=(",", ":"))
    return f"id: {entry.position}\nevent: ledger-event\ndata: {data}\n\n".encode()


def _last_event_id(request: web.Request, default: int) -> int:
    value = request.headers.get("Last-Event-ID")
    if value is None:
        return default
    value = value.strip()
    if not value.isdigit() or len(value) > 18:
        raise HTTPProblem(400, "invalid-header", "Bad request",
                          "Last-Event-ID must be a log position (the id of the last event received)",
                          detail_zh="Last-Event-ID 须为日志位置（收到的最后一个事件的 id）")
    return int(value)


async def _pump(call: Call[None, StreamQuery], after: int, queue: asyncio.Queue[list[LogEntry]]) -> None:
    async for page in call.ledger.store.follow(after, batch=STREAM_BATCH, poll_interval=1.0):
        await queue.put(page)


async def _relay(response: web.StreamResponse, queue: asyncio.Queue[list[LogEntry]],
                 pump: asyncio.Task[None], heartbeat: float) -> None:
    """Write pages as they come, a comment when idle; return when the log cannot be followed."""
    while True:
        getter = asyncio.ensure_future(queue.get())
        try:
            done, _ = await asyncio.wait({getter, pump}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the client went away (cancelled): leave no pending task behind
            getter.cancel()
            raise
        if getter in done:
            for entry in getter.result():
                await response.write(_sse_frame(entry))
            continue
        getter.cancel()
        if pump in done:  # following the log failed (database down): end the stream
            error = None if pump.cancelled() else pump.exception()
            log.warning("event_stream_ended", error=repr(error)[:200])
            return
        await response.write(b": keep-alive\n\n")


@routes.get("/v1/events/stream", roles=READERS, query=StreamQuery, tags=TAGS,
            status=200, media_types=("text/event-stream",),
            description="`text/event-stream`: one `ledger-event` per event, `id:` its position, the data "
            "as in `GET /v1/events`; a comment line every 15 s (`TTLEDGER_EVENT_STREAM_HEARTBEAT`) "
            "while idle. Reconnecting clients send `Last-Event-ID` and resume after it. 503 when the "
            "server already serves its maximum of streams (`TTLEDGER_MAX_EVENT_STREAMS`).")
async def stream_events(call: Call[None, StreamQuery]) -> web.StreamResponse:
    """A live stream of the log (server-sent events), from a position on."""
    request = call.request
    settings = call.app[API_SETTINGS]
    after = _last_event_id(request, call.query.after)
    slots = call.app[STREAMS_KEY]
    if slots.open >= settings.max_event_streams:
        raise HTTPProblem(503, "too-many-streams", "Service unavailable",
                          f"the server already serves {slots.open} event streams; retry later",
                          detail_zh=f"服务器已在提供 {slots.open} 个事件流，请稍后重试",
                          headers={"Retry-After": "5"})
    slots.open += 1
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
    })
    queue: asyncio.Queue[list[LogEntry]] = asyncio.Queue(maxsize=2)
    pump = asyncio.create_task(_pump(call, after, queue), name="ttledger-event-stream")
    slots.pumps.add(pump)
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        await _relay(response, queue, pump, settings.event_stream_heartbeat)
    except ConnectionResetError:
        pass  # the client went away (noticed on the next write)
    except asyncio.CancelledError:
        # The client went away and the server cancels handlers on disconnect (or it is
        # stopping): a stream that started ends here, as a stream does, with its 200.
        if not response.prepared:
            raise
    except Exception as exc:  # once the stream has started, an error can only end it
        if not response.prepared:
            raise
        log.warning("event_stream_failed", error=repr(exc)[:200])
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        slots.open -= 1
        slots.pumps.discard(pump)
    return response


def install(app: web.Application) -> None:
    slots = app[STREAMS_KEY] = StreamSlots()
    app.on_shutdown.append(slots.close_all)
