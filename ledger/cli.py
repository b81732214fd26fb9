"""The ``ttledger`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import structlog

from ledger.logging import configure_logging
from ledger.settings import Settings

log = structlog.get_logger("ttledger")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from api.app import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    print(f"ttledger: serving on http://{host}:{port}  (Ctrl-C to stop)", file=sys.stderr)
    # run_app handles SIGINT/SIGTERM: it stops accepting, lets in-flight requests
    # finish within the grace period, then runs cleanup_ctx (ledger, database).
    web.run_app(create_app(settings), host=host, port=port, print=None, shutdown_timeout=10)
    return 0


async def _migrate(settings: Settings) -> int:
    from ledger.bootstrap import open_ledger

    ledger = await open_ledger(settings)
    try:
        head = await ledger.store.head()
        print(f"ttledger: database ready, schema up to date, log head at position {head}")
    finally:
        await ledger.close()
    return 0


async def _verify(settings: Settings) -> int:
    from ledger.bootstrap import open_ledger
    from ledger.progress import Progress
    from ledger.verify import verify_log

    ledger = await open_ledger(settings)
    try:
        progress = Progress("verify", unit="events")
        async with ledger.store.pool.acquire() as conn:
            report = await verify_log(conn, progress=progress.update)
        progress.finish()
    finally:
        await ledger.close()
    if report.ok:
        print(f"ttledger verify: OK, {report.events_checked} events, chain intact up to position {report.head}")
        return 0
    print(f"ttledger verify: FAILED, {len(report.problems)} problem(s) in {report.events_checked} events:")
    for problem in report.problems:
        print(f"  - {problem}")
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ttledger", description=__doc__)
    parser.add_argument("--log-format", choices=["auto", "json", "console"], default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the database (embedded unless DATABASE_URL is set) and the API")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--demo", action="store_true", help="load the demo dataset first (once)")
    sub.add_parser("migrate", help="start the database, apply migrations, report readiness, exit")
    sub.add_parser("verify", help="check the hash chain of the whole event log; exit 1 on any problem")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(args.log_format or settings.log_format, settings.log_level)
    try:
        if args.command == "serve":
            return _serve(args, settings)
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "verify":
            return asyncio.run(_verify(settings))
    except KeyboardInterrupt:
        return 130
    raise AssertionError(args.command)  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
