"""``ttledger import``: bulk import of payments, achievements or contracts from XLSX or CSV.

    ttledger import FILE --kind achievements|contracts|payments [--dry-run] [--report OUT.xlsx] [--lang zh|en]
    ttledger import --template KIND OUT.xlsx

The work is done by ledger/importer.py; this module parses the arguments,
opens the ledger, shows progress (ledger/progress.py) and prints a short
table. Exit codes: 0 all rows imported (or valid, in a dry run), 1 a row or
the file was refused, 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import structlog

from ledger.import_kinds import KINDS
from ledger.settings import Settings

log = structlog.get_logger("ttledger.import")


def add_import_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "import", help="import payments, achievements or contracts from an XLSX or CSV file",
        description="Import existing registers from an XLSX or CSV file, one command (or a few) per row. "
        "Re-running the same file writes nothing new; a run that stopped resumes. --template KIND OUT.xlsx "
        "writes a template to fill in.")
    parser.add_argument("file", nargs="?", type=Path, help="the XLSX or CSV file to import")
    parser.add_argument("--kind", choices=KINDS, help="what the file's rows are")
    parser.add_argument("--dry-run", action="store_true",
                        help="check every row through the command handlers and write nothing")
    parser.add_argument("--report", type=Path, default=None, metavar="REPORT.xlsx",
                        help="write the report (row, column, rule, message) as XLSX")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the report (default zh)")
    parser.add_argument("--template", nargs=2, metavar=("KIND", "OUT.xlsx"), default=None,
                        help="write a template for KIND to OUT.xlsx and exit")
    parser.add_argument("--concurrency", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from ledger.importer import template_xlsx

    if args.template is not None:
        kind, out = args.template
        if kind not in KINDS:
            print(f"ttledger import: error: --template KIND is one of {', '.join(KINDS)}", file=sys.stderr)
            return 2
        Path(out).write_bytes(template_xlsx(kind))
        print(f"ttledger import: template for {kind} written to {out}")
        return 0
    if args.file is None or args.kind is None:
        print("ttledger import: error: give FILE and --kind (or --template KIND OUT.xlsx)", file=sys.stderr)
        return 2
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"ttledger import: error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args, settings, data))
    except KeyboardInterrupt:
        print("ttledger import: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


async def _run(args: argparse.Namespace, settings: Settings, data: bytes) -> int:
    from ledger.bootstrap import open_ledger
    from ledger.importer import DEFAULT_CONCURRENCY, import_file, report_table, report_xlsx
    from ledger.progress import Progress

    ledger = await open_ledger(settings)
    try:
        progress = Progress(f"import {args.kind}" + (" (dry run)" if args.dry_run else ""), unit="rows")
        report = await import_file(data, args.kind, ledger.bus, dry_run=args.dry_run, progress=progress.update,
                                   concurrency=args.concurrency or DEFAULT_CONCURRENCY)
        progress.finish()
    finally:
        await ledger.close()
    if args.report is not None:
        args.report.write_bytes(report_xlsx(report, args.lang))
    print(report_table(report, args.lang))
    if args.report is not None:
        print(f"{'报告' if args.lang == 'zh' else 'report'}: {args.report}")
    return 0 if report.ok else 1
