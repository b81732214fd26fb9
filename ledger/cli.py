"""The ``ttledger`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import Sequence

import structlog

from ledger.logging import configure_logging
from ledger.settings import Settings

log = structlog.get_logger("ttledger")


async def _demo(settings: Settings) -> int:
    from ledger.bootstrap import open_ledger
    from ledger.demo import load_demo
    from ledger.progress import Progress

    ledger = await open_ledger(settings)
    try:
        progress = Progress("demo data", unit="commands")
        loaded = await load_demo(ledger.bus, progress=progress.update)
        progress.finish()
        head = await ledger.store.head()
    finally:
        await ledger.close()
    if loaded.written:
        print(f"ttledger demo: loaded {loaded.written} commands, log head at position {head}")
    else:
        print(f"ttledger demo: already loaded ({loaded.sent} commands replayed, nothing written)")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from api.app import create_app

    if args.demo:
        asyncio.run(_demo(settings))
    host = args.host or settings.host
    port = args.port or settings.port
    print(f"ttledger: serving on http://{host}:{port}  (Ctrl-C to stop)", file=sys.stderr)
    # run_app handles SIGINT/SIGTERM: it stops accepting, lets in-flight requests
    # finish within the grace period, then runs cleanup_ctx (ledger, database).
    # access_log=None: the API writes its own access line per request (api/middleware.py).
    app = create_app(settings)
    app.on_startup.append(_settle_gc)
    web.run_app(app, host=host, port=port, print=None, shutdown_timeout=10, access_log=None)
    return 0


async def _settle_gc(_app: object) -> None:
    """Keep the cyclic garbage collector off the request path of a long-running server.

    Everything alive once the app has started (modules, routes, models, the
    pool) lives as long as the process: ``gc.freeze`` takes it out of every
    later collection. Requests make short-lived objects by the thousand; with
    the default threshold of 700 allocations the collector ran several times
    per request and its full passes showed as tail latency (bench/api.py).
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


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
    from domain.money import format_yuan
    from ledger.bootstrap import open_ledger
    from ledger.conservation import check_conservation
    from ledger.postings_check import check_books
    from ledger.progress import Progress
    from ledger.receivables_check import reconcile_receivables
    from ledger.verify import verify_log
    from projections.base import TableProjection
    from projections.decoding import fast_mapper
    from projections.receivables import ReceivablesProjection
    from projections.runner import ProjectionRunner

    ledger = await open_ledger(settings)
    try:
        progress = Progress("verify chain", unit="events")
        async with ledger.store.pool.acquire() as conn:
            report = await verify_log(conn, progress=progress.update)
            progress.finish()
            books_progress = Progress("verify books", unit="positions")
            books = await check_books(conn, ledger.repository.mapper, progress=books_progress.update)
            books_progress.finish()
            money_progress = Progress("verify money", unit="records")
            money = await check_conservation(conn, ledger.repository, progress=money_progress.update)
            money_progress.finish()
        # The statistic is read from its projection: bring it up to the log first.
        only: list[TableProjection] = [ReceivablesProjection()]
        runner = ProjectionRunner(ledger.store, fast_mapper(), only, page_size=5000)
        await runner.setup()
        await runner.catch_up()
        receivables_progress = Progress("verify receivables", unit="month ends")
        owed = await reconcile_receivables(ledger.store.pool, progress=receivables_progress.update)
        receivables_progress.finish()
    finally:
        await ledger.close()
    failed = False
    if report.ok:
        print(f"ttledger verify: chain OK, {report.events_checked} events intact up to position {report.head}")
    else:
        failed = True
        print(f"ttledger verify: chain FAILED, {len(report.problems)} problem(s) in {report.events_checked} events:")
        for problem in report.problems:
            print(f"  - {problem}")
    if books.ok:
        print(f"ttledger verify: books OK, {books.entries} journal entries reproduce from the events; "
              "trial balance zero at every position")
    else:
        failed = True
        print(f"ttledger verify: books FAILED: {len(books.missing)} missing, {len(books.unexpected)} unexpected "
              f"rows; unbalanced at positions {list(books.unbalanced_positions)[:10]}")
        for row in (books.missing + books.unexpected)[:20]:
            print(f"  - {row}")
    if owed.ok:
        print(f"ttledger verify: receivables OK, the statistic equals the books' receivable balance at "
              f"{owed.month_ends} month ends ({owed.checked} institution-months)")
    else:
        failed = True
        print(f"ttledger verify: receivables FAILED at {len(owed.differences)} institution-month(s):")
        for end, institution, currency, stat, book in owed.differences[:20]:
            print(f"  - {end} institution {institution} {currency}: statistic {format_yuan(stat)} yuan, "
                  f"books {format_yuan(book)} yuan")
    if money.ok:
        print(f"ttledger verify: money conserved over {money.contracts} contracts, {money.distributions} "
              f"distributions and {money.self_implementations} self-implementations: cash in "
              f"{format_yuan(money.cash_in_fen)} yuan, income recognised {format_yuan(money.recognised_fen)}, "
              f"allocated {format_yuan(money.allocated_fen)}; {len(money.unallocated)} receipt(s) not yet allocated")
        for cid, receipt_id, fen in money.unallocated[:20]:  # not a problem: listed with "·", problems with "-"
            print(f"  · contract {cid} receipt {receipt_id}: {format_yuan(fen)} yuan")
    else:
        failed = True
        print(f"ttledger verify: money FAILED ({len(money.breaches)} breach(es)); the first: {money.first}")
        for breach in money.breaches[1:20]:
            print(f"  - {breach}")
    return 1 if failed else 0


async def _project(settings: Settings) -> int:
    """Follow the log and keep every projection up to date until SIGTERM or SIGINT."""
    import signal

    from ledger.bootstrap import open_ledger
    from projections.decoding import fast_mapper
    from projections.registry import all_projections
    from projections.runner import ProjectionRunner

    ledger = await open_ledger(settings)
    try:
        runner = ProjectionRunner(ledger.store, fast_mapper(), all_projections())
        await runner.setup()
        names = ", ".join(f"{p.name}@{runner.position(p.name)}" for p in runner.projections)
        print(f"ttledger project: following the log ({names}); SIGTERM or Ctrl-C stops",
              file=sys.stderr)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        follower = asyncio.create_task(runner.run_forever(), name="ttledger-projections")
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({follower, stopped}, return_when=asyncio.FIRST_COMPLETED)
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        stopped.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        failures = runner.failures()
        for failure in failures.values():
            print(f"ttledger project: {failure}", file=sys.stderr)
        print(f"ttledger project: stopped at position {runner.lowest_position()}", file=sys.stderr)
        return 1 if failures else 0
    finally:
        await ledger.close()


async def _rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """Drop and replay one projection (or all) from the log, with a progress line."""
    from ledger.bootstrap import open_ledger
    from ledger.progress import Progress
    from projections.decoding import fast_mapper
    from projections.parallel import default_jobs
    from projections.registry import all_projections
    from projections.runner import ProjectionRunner, RebuildInProgress

    known = [p.name for p in all_projections()]
    if args.name is not None and args.name not in known:
        print(f"ttledger rebuild: error: no projection {args.name!r}; known: {', '.join(known)}",
              file=sys.stderr)
        return 2
    ledger = await open_ledger(settings)
    try:
        runner = ProjectionRunner(ledger.store, fast_mapper(), all_projections(), page_size=5000)
        await runner.setup()
        names = [args.name] if args.name else None
        progress = Progress(f"rebuild {args.name or 'all projections'}", unit="events")
        jobs = default_jobs() if args.jobs is None else max(1, args.jobs)
        try:
            head = await runner.rebuild(names, progress=progress.update, jobs=jobs)
        except RebuildInProgress as busy:
            print(f"ttledger rebuild: error: {busy}", file=sys.stderr)
            return 1
        progress.update(head, head)
        progress.finish()
        failures = runner.failures()
        for failure in failures.values():
            print(f"ttledger rebuild: {failure}", file=sys.stderr)
            print(f"ttledger rebuild: {failure.name} stops at position {failure.position} "
                  f"({failure.error}) and stays stopped until the cause is fixed", file=sys.stderr)
        if failures:
            return 1
        # A server following the log (ttledger serve, ttledger project) sees the rebuilt position
        # within a few seconds and resumes a projection it had stopped (projections/runner.py).
        print(f"ttledger rebuild: {', '.join(names or [p.name for p in runner.projections])} "
              f"rebuilt up to position {head}; a running server resumes from there")
        return 0
    finally:
        await ledger.close()


async def _token(args: argparse.Namespace, settings: Settings) -> int:
    from ledger.bootstrap import open_ledger
    from ledger.tokens import TokenError, TokenService

    ledger = await open_ledger(settings)
    try:
        tokens = TokenService(ledger.store.pool)
        if args.token_command == "create":
            try:
                created, plaintext = await tokens.create(
                    args.role, institution_id=args.institution, name=args.name
                )
            except TokenError as exc:
                print(f"ttledger token create: error: {exc}", file=sys.stderr)
                return 2
            # The token alone on stdout (for scripts); everything else on stderr.
            print(plaintext)
            scope = f", institution {created.institution_id}" if created.institution_id else ""
            print(
                f"ttledger: created token {created.id} (role {created.role.value}{scope}). "
                "It is shown this once and stored only as a hash: keep it now.",
                file=sys.stderr,
            )
            return 0
        if args.token_command == "list":
            rows = await tokens.list_tokens(include_revoked=not args.active)
            print(f"{'id':36}  {'role':11}  {'institution':36}  {'prefix':13}  {'created':16}  {'status':16}  name")
            for t in rows:
                status = "active" if t.active else f"revoked {t.revoked_at:%Y-%m-%d %H:%M}"
                print(
                    f"{t.id!s:36}  {t.role.value:11}  {t.institution_id or '-'!s:36}  ttl_{t.prefix}…  "
                    f"{t.created_at:%Y-%m-%d %H:%M}  {status:16}  {t.name}"
                )
            return 0
        if args.token_command == "revoke":
            if await tokens.revoke(args.id):
                print(f"ttledger: token {args.id} revoked (API processes stop accepting it within "
                      "their token cache time, 60 s by default)")
                return 0
            print(f"ttledger token revoke: error: no active token with id {args.id}", file=sys.stderr)
            return 1
    finally:
        await ledger.close()
    raise AssertionError(args.token_command)  # pragma: no cover


async def _user(args: argparse.Namespace, settings: Settings) -> int:
    from ledger.bootstrap import open_ledger
    from ledger.passwords import PasswordRejected
    from ledger.tokens import Role
    from ledger.users import UserError, UserService

    ledger = await open_ledger(settings)
    command = args.user_command
    try:
        users = UserService(ledger.store.pool)
        try:
            if command == "create":
                password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
                user, made = await users.create(args.username, args.role, institution_id=args.institution,
                                                 display_name=args.name, password=password)
                if made is not None:
                    print(made)  # alone on stdout, for scripts
                scope = f", institution {user.institution_id}" if user.institution_id else ""
                print(f"ttledger: created user {user.username} ({user.id}, role {user.role.value}{scope}). "
                      + ("The temporary password above is shown this once; " if made else "")
                      + "the password must be changed at the first sign-in at /sign-in"
                      + (", and an administrator sets up a second factor (TOTP) then." if user.totp_required
                         else "."), file=sys.stderr)
                return 0
            if command == "list":
                rows = await users.list_users()
                print(f"{'id':36}  {'username':20}  {'role':11}  {'institution':36}  {'status':22}  name")
                for u in rows:
                    status = ("disabled" if not u.active else
                              f"locked to {u.locked_until:%H:%M}" if u.locked_until else "active")
                    status += " totp" if u.totp_enabled else ""
                    status += " must-change" if u.must_change_password else ""
                    print(f"{u.id!s:36}  {u.username:20}  {u.role.value:11}  {u.institution_id or '-'!s:36}  "
                          f"{status:22}  {u.display_name}")
                return 0
            target = await users.find(args.username) if command in ("disable", "enable", "reset") else None
            if command in ("disable", "enable", "reset") and target is None:
                print(f"ttledger user {command}: error: no user {args.username!r}", file=sys.stderr)
                return 1
            assert target is not None or command == "require-totp"
            if command == "disable":
                _, revoked = await users.disable(target.id)  # type: ignore[union-attr]
                print(f"ttledger: user {args.username} disabled; sessions ended, {len(revoked)} personal "
                      "token(s) revoked")
                return 0
            if command == "enable":
                await users.enable(target.id)  # type: ignore[union-attr]
                print(f"ttledger: user {args.username} enabled")
                return 0
            if command == "reset":
                password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
                made = await users.reset_password(target.id, password=password)  # type: ignore[union-attr]
                if made is not None:
                    print(made)
                print(f"ttledger: password of {args.username} reset; it must be changed at the next sign-in",
                      file=sys.stderr)
                return 0
            if command == "require-totp":
                role = Role(args.role)
                await users.set_totp_requirement(role, not args.off)
                required = sorted(r.value for r in await users.totp_required_roles())
                print(f"ttledger: second factor required for: {', '.join(required)} (admin always)")
                return 0
        except (UserError, PasswordRejected) as exc:
            print(f"ttledger user {command}: error: {exc}", file=sys.stderr)
            return 2
    finally:
        await ledger.close()
    raise AssertionError(command)  # pragma: no cover


async def _security_events(args: argparse.Namespace, settings: Settings) -> int:
    from ledger.bootstrap import open_ledger
    from ledger.security_events import list_events
    from ledger.users import UserService

    ledger = await open_ledger(settings)
    try:
        user_id = None
        if args.user:
            found = await UserService(ledger.store.pool).find(args.user)
            if found is None:
                print(f"ttledger security-events: error: no user {args.user!r}", file=sys.stderr)
                return 1
            user_id = found.id
        rows = await list_events(ledger.store.pool, user_id=user_id, kind=args.kind, limit=args.limit)
        for e in rows:
            detail = " ".join(f"{k}={v}" for k, v in e.detail.items())
            print(f"{e.id:>8}  {e.at:%Y-%m-%d %H:%M:%S}  {e.kind:24}  user={e.user_id or '-'}  "
                  f"actor={e.actor_user_id or '-'}  {e.address or '-'}  {detail}")
        return 0
    finally:
        await ledger.close()


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a UUID: {value!r}") from None


def _add_token_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ledger.tokens import Role

    token = sub.add_parser("token", help="create, list and revoke API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser(
        "create", help="create a token and print it once",
        description="Create an API token. It is printed once on stdout and stored only as a hash. "
        "Roles operator (an exchange) and institution act for one institution: --institution is required.",
    )
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--institution", type=_uuid, default=None, metavar="ID",
                        help="the institution (or exchange) the token acts for")
    create.add_argument("--name", default="", help="a label: who or what holds the token")
    listing = token_sub.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--active", action="store_true", help="only tokens not revoked")
    revoke = token_sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=_uuid)


def _add_user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ledger.security_events import SecurityEventKind
    from ledger.tokens import Role

    user = sub.add_parser("user", help="create, list, disable, enable and reset users who sign in")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    create = user_sub.add_parser(
        "create", help="create a user; prints a temporary password once",
        description="Create a user who signs in at /sign-in. A temporary password is printed once on stdout "
        "(or read from stdin with --password-stdin); it must be changed at the first sign-in. Administrators "
        "must then set up a second factor. Roles operator and institution need --institution.")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--institution", type=_uuid, default=None, metavar="ID")
    create.add_argument("--name", default="", help="display name, shown as who recorded what")
    create.add_argument("--password-stdin", action="store_true", help="read the temporary password from stdin")
    user_sub.add_parser("list", help="list users (never their passwords or secrets)")
    for name, text in (("disable", "disable a user: sessions end, personal tokens are revoked"),
                       ("enable", "enable a disabled user (and lift a lock)")):
        cmd = user_sub.add_parser(name, help=text)
        cmd.add_argument("username")
    reset = user_sub.add_parser("reset", help="reset a password: prints a temporary one, to change at sign-in")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="read the temporary password from stdin")
    totp = user_sub.add_parser("require-totp", help="require a second factor (TOTP) for every user of a role")
    totp.add_argument("--role", required=True, choices=[r.value for r in Role])
    totp.add_argument("--off", action="store_true", help="no longer require it (administrators always must)")
    events = sub.add_parser("security-events", help="list the security audit trail, newest first")
    events.add_argument("--user", default=None, metavar="USERNAME")
    events.add_argument("--kind", default=None, choices=[k.value for k in SecurityEventKind])
    events.add_argument("--limit", type=int, default=100)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ttledger", description=__doc__)
    parser.add_argument("--log-format", choices=["auto", "json", "console"], default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the database (embedded unless DATABASE_URL is set) and the API")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--demo", action="store_true", help="load the demo dataset first (once)")
    sub.add_parser("migrate", help="start the database, apply migrations, report readiness, exit")
    sub.add_parser("demo", help="load the demo dataset (idempotent: a second run writes nothing)")
    sub.add_parser("verify", help="check the hash chain of the whole event log; exit 1 on any problem")
    sub.add_parser("project", help="run the projections: follow the log until SIGTERM (read side)")
    rebuild = sub.add_parser("rebuild", help="drop and replay one projection, or all, from the log")
    rebuild.add_argument("name", nargs="?", default=None,
                         help="the projection to rebuild: contracts, receivables, transfer or "
                         "distribution (default: all)")
    rebuild.add_argument("--jobs", type=int, default=None,
                         help="worker processes replaying the log side by side (default: half the "
                         "CPUs, at most 4; 1 replays in this process)")
    _add_token_commands(sub)
    _add_user_commands(sub)
    from ledger.import_cli import add_import_command

    add_import_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "token" and args.token_command == "create":
        from ledger.tokens import SCOPED_ROLES, Role

        if Role(args.role) in SCOPED_ROLES and args.institution is None:
            parser.error(f"token create: --institution ID is required for role {args.role} "
                         "(the institution or exchange the token acts for)")
    if args.command == "user" and args.user_command == "create":
        from ledger.tokens import SCOPED_ROLES, Role

        if Role(args.role) in SCOPED_ROLES and args.institution is None:
            parser.error(f"user create: --institution ID is required for role {args.role}")
    settings = Settings()
    configure_logging(args.log_format or settings.log_format, settings.log_level)
    try:
        if args.command == "serve":
            return _serve(args, settings)
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "demo":
            return asyncio.run(_demo(settings))
        if args.command == "verify":
            return asyncio.run(_verify(settings))
        if args.command == "project":
            return asyncio.run(_project(settings))
        if args.command == "rebuild":
            return asyncio.run(_rebuild(args, settings))
        if args.command == "token":
            return asyncio.run(_token(args, settings))
        if args.command == "user":
            return asyncio.run(_user(args, settings))
        if args.command == "security-events":
            return asyncio.run(_security_events(args, settings))
        if args.command == "import":
            from ledger.import_cli import run_import

            return run_import(args, settings)  # runs its own event loop
    except KeyboardInterrupt:
        return 130
    raise AssertionError(args.command)  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
