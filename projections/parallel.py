"""Rebuild projections in several processes at once.

A rebuild is bound by Python: decoding a million events and applying them
keeps one core busy while PostgreSQL uses a part of another. The statistics
projections own disjoint tables and positions, so they can replay the log
side by side: each worker process reads the log itself, decodes only the
topics its projections want and applies them exactly as the single-process
runner would (the same ``ProjectionRunner.catch_up``), so the tables come out
identical (tests/integration/test_projections_rebuild.py compares them).

Workers are started with ``spawn``: a forked child would inherit the parent's
event loop and database connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue as queue_module
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)

PROGRESS_EVERY_S = 0.25


def default_jobs() -> int:
    """Half the CPUs, at most 4: the other half is PostgreSQL's.

    On a 2-core machine that is 1: one process already keeps one core busy with
    Python and PostgreSQL the other, and two workers ran no faster (bench/stats.py
    measured 0.97 times the single-process rate).
    """
    import os

    return max(1, min(4, (os.cpu_count() or 1) // 2))


@dataclass(frozen=True)
class WorkerResult:
    names: tuple[str, ...]
    head: int
    failures: dict[str, tuple[int, str, str]]  # name -> (position, topic, error)
    peak_rss_mb: float


class RebuildWorkerFailed(RuntimeError):
    """A worker process died or raised; its projections are left part-way (rebuild again)."""


def plan(costs: dict[str, float], jobs: int) -> list[tuple[str, ...]]:
    """Split projections into at most ``jobs`` groups of similar cost (largest first)."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(jobs, len(costs))))]
    loads = [0.0] * len(groups)
    for name in sorted(costs, key=lambda n: (-costs[n], n)):
        lightest = loads.index(min(loads))
        groups[lightest].append(name)
        loads[lightest] += costs[name]
    return [tuple(g) for g in groups if g]


async def catch_up_in_workers(
    dsn: str,
    groups: Sequence[tuple[str, ...]],
    page_size: int,
    head: int,
    progress: Callable[[int, int], None] | None = None,
    log_format: str = "console",
) -> list[WorkerResult]:
    """Replay the log into the (already emptied) projections of each group, one process per group."""
    ctx = multiprocessing.get_context("spawn")
    messages: Any = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(i, dsn, group, page_size, messages, log_format), daemon=True)
        for i, group in enumerate(groups)
    ]
    for w in workers:
        w.start()
    loop = asyncio.get_running_loop()
    done = [0] * len(workers)
    results: dict[int, WorkerResult] = {}
    try:
        while len(results) < len(workers):
            try:
                message = await loop.run_in_executor(None, messages.get, True, 0.5)
            except queue_module.Empty:
                for i, w in enumerate(workers):
                    if i not in results and not w.is_alive():
                        raise RebuildWorkerFailed(
                            f"rebuild worker for {', '.join(groups[i])} exited with code {w.exitcode}"
                        ) from None
                continue
            kind, index = message[0], message[1]
            if kind == "progress":
                done[index] = message[2]
            elif kind == "done":
                results[index] = message[2]
                done[index] = max(done[index], results[index].head)
            elif kind == "error":
                raise RebuildWorkerFailed(f"rebuild worker for {', '.join(groups[index])} failed: {message[2]}")
            if progress is not None:
                progress(min(done), head)
    finally:
        for w in workers:
            if w.is_alive() and len(results) < len(workers):
                w.terminate()
        for w in workers:
            await loop.run_in_executor(None, w.join, 10)
    return [results[i] for i in range(len(workers))]


def _worker(index: int, dsn: str, names: tuple[str, ...], page_size: int, messages: Any,
            log_format: str) -> None:
    from ledger.logging import configure_logging

    configure_logging(log_format, "warning")
    try:
        result = asyncio.run(_replay(index, dsn, names, page_size, messages))
    except BaseException as exc:  # reported to the parent, which raises it there
        messages.put(("error", index, repr(exc)[:500]))
        raise SystemExit(1) from exc
    messages.put(("done", index, result))


async def _replay(index: int, dsn: str, names: tuple[str, ...], page_size: int, messages: Any) -> WorkerResult:
    from ledger.store import EventStore
    from projections.decoding import fast_mapper
    from projections.registry import all_projections
    from projections.runner import ProjectionRunner, batch_gc

    store = await EventStore.connect(dsn, min_size=1, max_size=len(names) + 1)
    try:
        chosen = [p for p in all_projections() if p.name in names]
        runner = ProjectionRunner(store, fast_mapper(), chosen, page_size=page_size)
        for p in chosen:
            runner.start_at(p.name, await store.position_of(p.name))
        last = [0.0]

        def report(position: int, _head: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                messages.put(("progress", index, position))

        with batch_gc():
            head = await runner.catch_up(report)
        failures = {name: (f.position, f.topic, repr(f.cause)[:500])
                    for name, f in runner.failures().items()}
    finally:
        with contextlib.suppress(Exception):
            await store.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return WorkerResult(names=names, head=head, failures=failures, peak_rss_mb=rss_mb)
