"""A failed projection is loud and contained (issue 21, deliverable 3; docs/reliability.md).

Two ways of stopping a projection, both against the real embedded PostgreSQL:

* **a poisoned log**: a raw row appended with SQL, hash chain and all, as a log
  written before the store refused such payloads holds it: an institution
  renamed to a name with U+0000. The real ``contracts`` and ``transfer``
  projections stop on it (``CharacterNotInRepertoireError``), the others and
  the write side go on;
* **a projection that cannot handle one event** (test-only: the server's
  ``receivables`` projection fails on one payment while ``armed``), so that the
  fix and ``ttledger rebuild receivables`` bringing it back can be tested too.

What is asserted, exactly: ``/readyz`` and ``/metrics`` name the stopped
projection, the position it stays at, the event it stopped on and the error's
class, and never the event's content; the other projections reach the head
and commands still succeed; a statistics answer read from the stopped
projection carries the position it reflects (headers and a ``stale`` member,
kept answers too), one that does not read it carries nothing; after the fix, a
rebuild in another process brings it back in the running server, and every mark
disappears; a restarted runner stops again on the same event.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest

from api import consistency
from api.app import create_app
from api.response_cache import RESPONSE_CACHE
from api.routing import ROUTES
from api.staleness import declared_reads
from api.state import PROJECTIONS
from domain.institution import Institution
from ledger.bootstrap import Ledger, connect_ledger
from ledger.settings import Settings
from ledger.store import NOTIFY_CHANNEL, chain_hash
from ledger.tokens import Role, TokenService
from ledger.users import UserService
from ledger.verify import verify_log
from projections.contracts import ContractsProjection
from projections.distribution import DistributionProjection
from projections.lookups import INSTITUTION_RENAMED
from projections.receivables import T_PAYMENT, ReceivablesProjection
from projections.registry import projection_names
from projections.runner import (
    REBUILD_LOCK_CLASS,
    Envelope,
    ProjectionFailed,
    ProjectionRunner,
    RebuildInProgress,
    short_message,
)
from projections.transfer import TransferProjection
from tests.integration.api_support import WAN, Api, World, problem, serve
from tests.integration.test_dashboard_browser import PASSWORD, browser, clean, open_dashboard

__all__ = ["browser"]  # the fixture, shared with the dashboard's own browser tests

POISON_PAYMENT = "POISON-ZHANGSAN"
"""A payment the test-only receivables projection cannot apply (any id ``POISON-…``); never in an answer."""
SECRET = "ZHANGSAN"
UUID_ERROR = "InvalidTextRepresentationError"
UUID_MESSAGE = "invalid input syntax for type uuid: '…'"


class BrittleReceivables(ReceivablesProjection):
    """``receivables`` that cannot apply the payment ``POISON_PAYMENT`` while ``armed``.

    It fails as a projection fails on data it did not expect: the database
    refuses a value (here the payment id where a uuid goes), and the error
    quotes that value.
    """

    armed = True

    async def apply_page(self, conn: asyncpg.Connection, events: Sequence[Envelope]) -> None:
        for e in events:
            if self.armed and e.topic == T_PAYMENT and e.event.payment_id.startswith("POISON-"):
                await conn.execute("SELECT $1::text::uuid", e.event.payment_id)
        await super().apply_page(conn, events)


# ---- the pure parts ---------------------------------------------------------------------------------


def test_short_message_keeps_the_error_and_drops_the_quoted_values() -> None:
    assert short_message('invalid byte sequence for encoding "UTF8": 0x00') == (
        'invalid byte sequence for encoding "UTF8": 0x00')
    assert short_message('invalid input syntax for type uuid: "POISON-ZHANGSAN"') == UUID_MESSAGE
    assert short_message("'张三'") == "'…'"
    assert short_message("invalid input for query argument $1: 'Zhang San' (expected str)\nDETAIL: more") == (
        "invalid input for query argument $1: '…' (expected str)")
    assert short_message("x" * 500) == "x" * 159 + "…"
    assert short_message("tab\there\x00nul") == "tab here nul"
    assert short_message("can't adapt 'Zhang'") == "can'…'"  # an apostrophe does not unbalance it
    assert short_message("KeyError: 'Zhang San") == "KeyError: '…'"  # nor a quote cut short


def test_a_worker_s_report_gives_the_same_class_and_message() -> None:
    """A parallel rebuild's worker reports ``repr(cause)`` (projections/parallel.py), maybe cut short."""
    failed = ProjectionFailed.reported(
        "contracts", 41, INSTITUTION_RENAMED,
        "CharacterNotInRepertoireError('invalid byte sequence for encoding \"UTF8\": 0x00')")
    assert (failed.error, failed.message) == (
        "CharacterNotInRepertoireError", 'invalid byte sequence for encoding "UTF8": 0x00')
    failed = ProjectionFailed.reported("contracts", 41, INSTITUTION_RENAMED, "KeyError('Zhang Sa")
    assert (failed.error, failed.message) == ("KeyError", "'…'")


def test_every_route_reading_projections_declares_which() -> None:
    """A route that touches the read side declares its projections (``@reads``), so it is marked when stale."""
    routes = create_app(Settings())[ROUTES].routes
    declared = {s.operation_id: declared_reads(s.handler) for s in routes}
    touching = {s.operation_id for s in routes
                if any(word in inspect.getsource(s.handler)
                       for word in ("wait_for_projections", "_figures(", "projections."))}
    assert touching, "no route reads the projections?"
    assert {op for op in touching if declared[op] is None} == set()
    known = set(projection_names())
    for op, names in declared.items():
        assert names is None or set(names) <= known, op
    assert declared["get_receivables"] == ("receivables", "contracts")
    assert declared["get_contract_value_figures"] == ("contracts",)
    assert declared["get_transfer_rate_formulas"] == ()
    assert declared["get_achievement_register"] == ("contracts", "transfer")


# ---- a test-only projection stops; the fix and a rebuild in another process bring it back ----------


@pytest.fixture(scope="module")
def brittle() -> BrittleReceivables:
    return BrittleReceivables()


@pytest.fixture(scope="module")
async def api(ledger: Ledger, brittle: BrittleReceivables) -> AsyncIterator[Api]:
    """The API with the brittle ``receivables`` among the real projections (reads wait 1 s at most)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(consistency, "_all_projections", lambda: [
            ContractsProjection(), brittle, TransferProjection(), DistributionProjection()])
        async with serve(ledger, read_wait_timeout=1.0) as client:
            runner = client.server.app[PROJECTIONS]
            runner.recheck_interval = 0.2
            yield Api(client)


async def ready(api: Api) -> dict[str, Any]:
    return await api.read("/readyz", who=None)  # type: ignore[arg-type]


async def until(api: Api, check: Any, what: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = await ready(api)
        if check(doc):
            return doc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {doc}")
        await asyncio.sleep(0.05)


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in doc["projections"]}


async def metrics(api: Api) -> str:
    response = await api.client.get("/metrics")
    assert response.status == 200
    return await response.text()


async def pay(api: Api, world: World, payment_id: str, amount_fen: int = WAN) -> dict[str, Any]:
    """A payment on the world's licence (held as credit when nothing is due)."""
    return await api.ok(f"/v1/contracts/{world['C']}/payments",
                        {"payment_id": payment_id, "amount_fen": amount_fen, "received_on": "2024-06-01",
                         "overpayment": "credit"}, who="owner")


RECEIVABLES = "/v1/statistics/receivables?as_of=2024-12-31"
CONTRACT_VALUE = "/v1/statistics/contract-value?group_by=kind"


async def test_a_stopped_projection_is_loud_contained_and_comes_back(
        api: Api, world: World, ledger: Ledger, brittle: BrittleReceivables, migrated_dsn: str) -> None:
    await until(api, lambda d: d["projection_lag"] == 0, "caught up")
    before = await api.get(RECEIVABLES, who="regulator")
    assert before.status == 200 and "X-Projection-Stopped" not in before.headers
    assert "stale" not in await before.json()

    written = await pay(api, world, POISON_PAYMENT)
    poison = await ledger.store.pool.fetchval(
        "SELECT max(position) FROM events WHERE topic = $1 AND position <= $2", T_PAYMENT, written["position"])
    stopped = await until(api, lambda d: d["projections_stopped"] == ["receivables"], "receivables stopped")

    # The write side and the other projections go on.
    later = await pay(api, world, "P-AFTER-THE-STOP")
    head = later["position"]
    doc = await until(api, lambda d: all(p["position"] == d["log_head"] for p in d["projections"]
                                         if p["name"] != "receivables") and d["log_head"] >= head,
                      "the other projections at the head")
    head = doc["log_head"]

    # /readyz names it, where it stays, the event it stopped on and why; never the payment id.
    assert doc["status"] == "ready" and doc["projections_stopped"] == ["receivables"]
    assert by_name(doc)["receivables"] == {
        "name": "receivables", "state": "stopped", "position": poison - 1, "lag": head - poison + 1,
        "failed_at": poison, "topic": T_PAYMENT, "error": UUID_ERROR, "message": UUID_MESSAGE}
    assert {n: (p["state"], p["failed_at"], p["error"]) for n, p in by_name(doc).items() if n != "receivables"} == {
        n: ("running", None, None) for n in ("contracts", "transfer", "distribution")}
    assert doc["projection_position"] == poison - 1 and doc["projection_lag"] == head - poison + 1
    assert stopped["projections_stopped"] == ["receivables"]
    assert SECRET not in json.dumps(doc)

    # /metrics says the same.
    text = await metrics(api)
    assert 'ttledger_projection_stopped{projection="receivables"} 1.0' in text
    assert 'ttledger_projection_stopped{projection="contracts"} 0.0' in text
    assert (f'ttledger_projection_failed_position{{error="{UUID_ERROR}",projection="receivables"}} '
            f'{float(poison)}') in text
    assert f'ttledger_projection_position{{projection="receivables"}} {float(poison - 1)}' in text
    assert f'ttledger_projection_position{{projection="contracts"}} {float(head)}' in text
    assert "ttledger_projections_failed 1.0" in text
    assert SECRET not in text

    # An answer read from it says the position it reflects, kept answers too.
    expected_stale = {"log_head": head, "projections": [{
        "projection": "receivables", "state": "stopped", "position": poison - 1, "failed_at": poison,
        "error": UUID_ERROR, "message": UUID_MESSAGE}]}
    cache = api.client.server.app[RESPONSE_CACHE]
    for attempt in range(2):
        hits = cache.hits
        response = await api.get(RECEIVABLES, who="regulator")
        body = await response.json()
        assert response.status == 200
        assert response.headers["X-Projection-Position"] == str(poison - 1)
        assert response.headers["X-Projection-Stopped"] == (
            f"receivables;position={poison - 1};failed-at={poison};error={UUID_ERROR}")
        assert response.headers["X-Log-Head"] == str(head)
        assert body["stale"] == expected_stale
        assert body["definition"]["as_of_position"] == poison - 1
        assert cache.hits == hits + attempt  # the second answer is the kept one, marks and all
        assert SECRET not in json.dumps(body)
    download = await api.get(RECEIVABLES + "&format=csv", who="regulator")
    assert download.status == 200 and download.headers["X-Projection-Stopped"].startswith("receivables;")

    # An answer that does not read it is neither delayed nor marked.
    response = await api.get(CONTRACT_VALUE + f"&min_position={head}", who="regulator")
    assert response.status == 200 and response.headers["X-Projection-Position"] == str(head)
    assert "X-Projection-Stopped" not in response.headers and "stale" not in await response.json()

    # Read-your-writes past the stop cannot be served: 503 at once, naming the projection.
    started = time.monotonic()
    refused = await problem(await api.get(RECEIVABLES + f"&min_position={head}", who="regulator"), 503)
    assert time.monotonic() - started < 0.9  # not the 1 s read wait
    assert refused["type"].endswith("/position-not-reached") and refused["position"] == poison - 1
    assert refused["stopped"] == expected_stale["projections"]

    # A restarted server stops again on the same event (here: a second runner, as a restart makes one).
    restarted = ProjectionRunner(ledger.store, ledger.repository.mapper, [BrittleReceivables()])
    await restarted.setup()
    await restarted.catch_up()
    again = restarted.failures()["receivables"]
    assert (again.position, again.error, again.message) == (poison, UUID_ERROR, UUID_MESSAGE)

    # The fix (a release that handles the payment), then `ttledger rebuild receivables` in another process.
    brittle.armed = False
    rebuild = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "ledger.cli", "rebuild", "receivables", "--jobs", "1"],
        env={**os.environ, "DATABASE_URL": migrated_dsn, "TTLEDGER_LOG_FORMAT": "json"},
        capture_output=True, text=True, timeout=120)
    assert rebuild.returncode == 0, rebuild.stderr
    assert "receivables rebuilt up to position" in rebuild.stdout

    # The running server notices and resumes: every mark goes.
    doc = await until(api, lambda d: d["projections_stopped"] == [] and d["projection_lag"] == 0, "resumed")
    assert {p["state"] for p in doc["projections"]} == {"running"}
    text = await metrics(api)
    assert 'ttledger_projection_stopped{projection="receivables"} 0.0' in text
    assert "ttledger_projection_failed_position{" not in text and "ttledger_projections_failed 0.0" in text
    response = await api.get(RECEIVABLES, who="regulator")
    body = await response.json()
    assert response.status == 200 and "X-Projection-Stopped" not in response.headers and "stale" not in body
    assert response.headers["X-Projection-Position"] == str(doc["log_head"])
    assert body["definition"]["as_of_position"] == doc["log_head"]
    assert (await api.get(RECEIVABLES + f"&min_position={doc['log_head']}", who="regulator")).status == 200
    # It follows the log again, and what it built equals a rebuild from the log.
    after = await pay(api, world, "P-AFTER-THE-FIX")
    await until(api, lambda d: by_name(d)["receivables"]["position"] >= after["position"], "following again")
    built = {t: await table(ledger, t) for t in ("rcv_contracts", "rcv_items")}
    await ProjectionRunner(ledger.store, ledger.repository.mapper, [ReceivablesProjection()]).rebuild(["receivables"])
    assert {t: await table(ledger, t) for t in built} == built


async def table(ledger: Ledger, name: str) -> list[tuple[Any, ...]]:
    rows = await ledger.store.pool.fetch(f"SELECT * FROM {name} ORDER BY 1, 2")
    return [tuple(r) for r in rows]


async def test_the_dashboard_shows_a_stopped_projection(
        browser: Any, api: Api, world: World, ledger: Ledger, brittle: BrittleReceivables) -> None:
    """A banner over the view (Chinese first, English beside it) and a note on the panel read from it."""
    await until(api, lambda d: d["projection_lag"] == 0 and not d["projections_stopped"], "caught up")
    brittle.armed = True
    await pay(api, world, "POISON-LISI")
    doc = await until(api, lambda d: d["projections_stopped"] == ["receivables"], "receivables stopped")
    stopped = by_name(doc)["receivables"]
    await UserService(ledger.store.pool).create("regulator", Role.REGULATOR, display_name="统计处",
                                                password=PASSWORD, must_change_password=False)
    page = await open_dashboard(browser, api, "regulator", "projection-stopped")
    banner = await page.text_content("#projection-banner")
    assert await page.is_visible("#projection-banner")
    assert await page.get_attribute("#projection-banner", "data-projections") == "receivables"
    assert banner.startswith("统计投影已停止：应收账款（receivables） 停在日志位置 " + str(stopped["position"]))
    assert (f"Projection stopped: receivables stays at log position {stopped['position']}; "
            f"event {stopped['failed_at']} could not be applied ({UUID_ERROR}: {UUID_MESSAGE})") in banner
    assert "LISI" not in await page.content()
    note = await page.text_content("#panel-receivables .stale")
    assert note.startswith(f"数据可能已过时：截至日志位置 {stopped['position']}")
    assert f"Figures may be stale: as of log position {stopped['position']}" in note
    assert await page.get_attribute("#panel-receivables", "data-stale") == "true"
    assert await page.query_selector("#panel-ufpl .stale") is None  # reads contracts only
    await clean(page)
    # Fixed and rebuilt: the banner and the note are gone at the next load.
    brittle.armed = False
    await ProjectionRunner(ledger.store, ledger.repository.mapper, [ReceivablesProjection()]).rebuild(["receivables"])
    await until(api, lambda d: not d["projections_stopped"] and d["projection_lag"] == 0, "resumed")
    page = await open_dashboard(browser, api, "regulator", "projection-resumed")
    assert not await page.is_visible("#projection-banner")
    assert await page.query_selector("#panel-receivables .stale") is None
    await clean(page)


class GatedStore:
    """The store, except that reading the log past the first page waits for ``go``: a long rebuild.

    The wait falls between two pages, outside any transaction, as a slow replay's reads do.
    """

    def __init__(self, store: Any) -> None:
        self._store, self.go, self.reads = store, asyncio.Event(), 0
        outer = self

        class Pool:
            def __getattr__(self, name: str) -> Any:
                return getattr(store.pool, name)

            async def fetch(self, sql: str, *args: Any) -> Any:
                if "FROM events WHERE position > $1" in sql:
                    outer.reads += 1
                    if outer.reads > 1:
                        await outer.go.wait()
                return await store.pool.fetch(sql, *args)

        self.pool = Pool()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_rebuild_in_another_process_is_left_alone_and_followed_after(
        api: Api, world: World, ledger: Ledger) -> None:
    """While ``ttledger rebuild`` runs elsewhere, the server keeps off the projection, then resumes from it."""
    await until(api, lambda d: d["projection_lag"] == 0 and not d["projections_stopped"], "caught up")
    held = GatedStore(ledger.store)
    other = ProjectionRunner(held, ledger.repository.mapper, [TransferProjection()], page_size=5)  # type: ignore[arg-type]
    underway = asyncio.Event()
    rebuilding = asyncio.create_task(other.rebuild(["transfer"], progress=lambda at, head: underway.set()))
    try:
        await asyncio.wait_for(underway.wait(), 10)  # a page replayed: the rebuild holds the lock
        await pay(api, world, "P-DURING-THE-REBUILD")
        doc = await until(api, lambda d: by_name(d)["transfer"]["state"] == "rebuilding", "seen rebuilding")
        assert doc["projections_stopped"] == []
        response = await api.get("/v1/statistics/transfer-rate", who="regulator")
        assert response.status == 200
        assert response.headers["X-Projection-Rebuilding"].startswith("transfer;position=")
        assert (await response.json())["stale"]["projections"][0]["state"] == "rebuilding"
        assert 'ttledger_projection_rebuilding{projection="transfer"} 1.0' in await metrics(api)
        await asyncio.sleep(0.5)
        assert by_name(await ready(api))["transfer"]["state"] == "rebuilding"  # still kept off
        held.go.set()
        await asyncio.wait_for(rebuilding, 60)  # undisturbed: no tracking conflict from the server
    finally:
        if not rebuilding.done():
            rebuilding.cancel()
    doc = await until(api, lambda d: by_name(d)["transfer"]["state"] == "running"
                      and d["projection_lag"] == 0, "followed after the rebuild")
    assert by_name(doc)["transfer"]["position"] == doc["log_head"]
    response = await api.get("/v1/statistics/transfer-rate", who="regulator")
    assert "X-Projection-Rebuilding" not in response.headers and "stale" not in await response.json()
    # What the server applied after that rebuild equals a rebuild from scratch.
    built = {t: await table(ledger, t) for t in TransferProjection().tables}
    await ProjectionRunner(ledger.store, ledger.repository.mapper, [TransferProjection()]).rebuild(["transfer"])
    assert {t: await table(ledger, t) for t in built} == built


async def test_a_second_rebuild_of_the_same_projection_is_refused(ledger: Ledger) -> None:
    conn = await asyncpg.connect(ledger.store.dsn)
    try:
        assert await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext('distribution'))", REBUILD_LOCK_CLASS)
        with pytest.raises(RebuildInProgress, match="distribution"):
            await ProjectionRunner(ledger.store, ledger.repository.mapper,
                                   [DistributionProjection()]).rebuild(["distribution"])
    finally:
        await conn.close()


# ---- a poisoned log stops the real projections --------------------------------------------------------


async def append_raw(conn: asyncpg.Connection, stream_id: Any, version: int, topic: str, state: bytes) -> int:
    """Append one event as a row, hash chain and all, as an old or tampered-with log may hold it."""
    async with conn.transaction():
        head = await conn.fetchrow("SELECT position, hash FROM log_head FOR UPDATE")
        position = head["position"] + 1
        digest = chain_hash(bytes(head["hash"]), position, stream_id, version, topic, state)
        await conn.execute(
            "INSERT INTO events (position, stream_id, version, topic, state, prev_hash, hash) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)", position, stream_id, version, topic, state,
            bytes(head["hash"]), digest)
        await conn.execute("UPDATE log_head SET position = $1, hash = $2", position, digest)
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, str(position))
    return position


@pytest.fixture
async def poisoned(fresh_dsn: str) -> AsyncIterator[tuple[Api, Ledger]]:
    ledger = await connect_ledger(fresh_dsn, Settings())
    try:
        async with serve(ledger) as client:
            api = Api(client)
            service = TokenService(ledger.store.pool)
            _, api.tokens["admin"] = await service.create(Role.ADMIN, name="admin")
            _, api.tokens["regulator"] = await service.create(Role.REGULATOR, name="regulator")
            yield api, ledger
    finally:
        await ledger.store.close()


async def test_a_poisoned_event_from_an_older_log_stops_nothing(poisoned: tuple[Api, Ledger]) -> None:
    """A NUL written before the store refused it is read as U+FFFD: every projection applies it.

    This is how such a log recovers: ``ttledger rebuild contracts`` (or a restart) reads the
    event again, now storable, and the hash chain still verifies because the log is untouched.
    """
    api, ledger = poisoned
    body = {"name": "北京示范大学", "kind": "university", "region": "110000", "public": True,
            "rule_pack": "beijing", "registered_on": "2015-01-01"}
    made = await api.ok("/v1/institutions", body, status=201)
    await until(api, lambda d: d["projection_lag"] == 0, "caught up")
    # The stored form of a rename, with U+0000 in the new name (JSON \u0000), appended as a raw row.
    institution = await ledger.repository.get(Institution, made["id"])  # type: ignore[arg-type]
    institution.rename("PLACEHOLDER-NAME")
    event = institution.collect_events()[0]
    stored = ledger.repository.mapper.to_stored_event(event)
    assert b"PLACEHOLDER-NAME" in stored.state and stored.topic == INSTITUTION_RENAMED
    state = stored.state.replace(b"PLACEHOLDER-NAME", "张三\\u0000实验室\\ud800".encode())
    async with ledger.store.pool.acquire() as conn:
        poison = await append_raw(conn, institution.id, stored.originator_version, stored.topic, state)
    doc = await until(api, lambda d: d["log_head"] == poison and d["projection_lag"] == 0, "past the poison")
    assert doc["projections_stopped"] == []
    async with ledger.store.pool.acquire() as conn:
        name = await conn.fetchval("SELECT name FROM ct_institutions WHERE institution_id = $1", institution.id)
        report = await verify_log(conn)
    assert name == "张三\ufffd实验室\ufffd"
    assert report.ok and report.head == poison
