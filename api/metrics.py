"""Prometheus metrics at ``/metrics`` (text exposition format).

Each app has its own ``CollectorRegistry`` (so several apps in one process,
as in the tests, do not collide):

* ``ttledger_http_request_duration_seconds`` (histogram): by ``method``,
  ``route`` (the route template, e.g. ``/v1/contracts/{contract_id}``, so the
  label set stays small; ``-`` for paths no route matches) and ``status``;
* ``ttledger_events_appended_total`` (counter): events this process appended
  (``EventStore.appended_events``);
* ``ttledger_log_head`` (gauge): the global position of the newest event;
* ``ttledger_projection_position`` (gauge, by ``projection``) and
  ``ttledger_projection_lag_events`` (gauge): log head minus the lowest
  projection position;
* ``ttledger_projections_failed`` (gauge): projections stopped on an event;
* ``ttledger_projection_stopped`` (gauge, by ``projection``): 1 while that
  projection is stopped on an event, else 0 (alert on ``max(...) > 0``);
* ``ttledger_projection_failed_position`` (gauge, by ``projection`` and
  ``error``, the error's class): the position of the event it stopped on,
  only while it is stopped; its ``ttledger_projection_position`` is the
  position its tables reflect;
* ``ttledger_projection_rebuilding`` (gauge, by ``projection``): 1 while
  another process rebuilds it;
* ``ttledger_tokens_cached`` (gauge): verified tokens held in memory.

The log head and projection figures are read when ``/metrics`` is scraped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.state import LEDGER, PROJECTIONS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _LedgerCollector(Collector):
    """Figures read from the app's ledger and runner at scrape time."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self.head = 0

    def collect(self) -> Iterator[Metric]:
        from api.auth import TOKENS

        app = self._app
        ledger = app.get(LEDGER)
        appended = CounterMetricFamily(
            "ttledger_events_appended", "Events appended to the log by this process."
        )
        appended.add_metric([], float(ledger.store.appended_events if ledger is not None else 0))
        yield appended
        yield GaugeMetricFamily("ttledger_log_head", "Global position of the newest event.", value=self.head)
        runner = app.get(PROJECTIONS)
        if runner is not None:
            positions = GaugeMetricFamily(
                "ttledger_projection_position", "Last log position each projection applied.",
                labels=["projection"],
            )
            for p in runner.projections:
                try:
                    positions.add_metric([p.name], runner.position(p.name))
                except KeyError:  # not set up yet
                    positions.add_metric([p.name], 0)
            yield positions
            yield GaugeMetricFamily(
                "ttledger_projection_lag_events",
                "Log head minus the lowest projection position (events not yet in statistics).",
                value=max(0, self.head - runner.lowest_position()),
            )
            failures = runner.failures()
            rebuilding = runner.rebuilding()
            yield GaugeMetricFamily(
                "ttledger_projections_failed", "Projections stopped on an event they could not apply.",
                value=len(failures),
            )
            stopped = GaugeMetricFamily(
                "ttledger_projection_stopped",
                "1 while the projection is stopped on an event it could not apply, else 0.",
                labels=["projection"],
            )
            busy = GaugeMetricFamily(
                "ttledger_projection_rebuilding", "1 while another process rebuilds the projection, else 0.",
                labels=["projection"],
            )
            for p in runner.projections:
                stopped.add_metric([p.name], 1 if p.name in failures else 0)
                busy.add_metric([p.name], 1 if p.name in rebuilding else 0)
            yield stopped
            yield busy
            failed_at = GaugeMetricFamily(
                "ttledger_projection_failed_position",
                "Log position of the event a stopped projection failed on, by error class.",
                labels=["projection", "error"],
            )
            for name, failure in sorted(failures.items()):
                failed_at.add_metric([name, failure.error], failure.position)
            yield failed_at
        tokens = app.get(TOKENS)
        if tokens is not None:
            yield GaugeMetricFamily(
                "ttledger_tokens_cached", "Verified API tokens held in the in-memory cache.",
                value=tokens.cache_info()["entries"],
            )


class Metrics:
    """The app's collectors; the middleware calls :meth:`observe` once per request."""

    def __init__(self, app: web.Application) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "ttledger_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._ledger = _LedgerCollector(app)
        self.registry.register(self._ledger)
        self._children: dict[tuple[str, str, int], object] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.latency.labels(method, route, str(status))
        child.observe(seconds)  # type: ignore[attr-defined]

    async def render(self, app: web.Application) -> bytes:
        ledger = app.get(LEDGER)
        if ledger is not None:
            # The database down: metrics still answer, with the last head seen.
            with contextlib.suppress(Exception):
                self._ledger.head = await ledger.store.head()
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)


async def metrics_handler(request: web.Request) -> web.Response:
    body = await request.app[METRICS].render(request.app)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
