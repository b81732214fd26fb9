"""Bulk import throughput (ledger/importer.py): dry run, real run, re-run, contracts, and a baseline.

    python bench/import.py [--contracts 500] [--payments 20000] [--contract-rows 1000]
                           [--baseline-rows 2000] [--concurrency 48] [--json]

Starts its own embedded PostgreSQL (default durability) in a temporary
directory, builds a ledger through the bus (two institutions, one achievement
and one registered licence in force per contract, each with 12 installments),
writes a payments CSV of ``--payments`` rows spread round-robin over the
contracts (half naming the contract by UUID, half by registration number) and
a contracts CSV of ``--contract-rows`` development contracts (draft, sign,
register: three commands a row, parties by name), then times

* ``payments dry run``: every row through the handlers, nothing written (checked);
* ``payments import``: the real run;
* ``payments re-run``: the same file again, which must write nothing (checked);
* ``contracts import``: the real run of the contracts file;
* ``baseline``: ``--baseline-rows`` further payments sent one by one through
  ``bus.handle`` with an idempotency key, as a loop over the rows would.

Rows/s include reading the file and resolving names and numbers. With
``--json`` the last line of stdout is one JSON object. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from domain.enums import InstitutionKind, IpType, TechnologyField  # noqa: E402
from ledger.bootstrap import Ledger, connect_ledger  # noqa: E402
from ledger.commands import achievement as ach  # noqa: E402
from ledger.commands import contract as con  # noqa: E402
from ledger.commands import institution as inst  # noqa: E402
from ledger.database import dsn_for_database, ensure_database  # noqa: E402
from ledger.embedded import EmbeddedPostgres  # noqa: E402
from ledger.importer import ImportReport, import_file  # noqa: E402
from ledger.logging import configure_logging  # noqa: E402
from ledger.settings import Settings  # noqa: E402

D = date.fromisoformat
WAN = 10_000 * 100
SELLER = "示范大学（基准）"
BUYER = "示范科技有限公司（基准）"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def registration_number(i: int) -> str:
    return f"2024BENCH{i:07d}"


async def setup(ledger: Ledger, contracts: int) -> list[UUID]:
    bus = ledger.bus
    seller = UUID((await bus.handle(inst.RegisterInstitution(
        name=SELLER, kind=InstitutionKind.university, region="110000", registered_on=D("2015-01-01"),
        public=True))).result["id"])
    buyer = UUID((await bus.handle(inst.RegisterInstitution(
        name=BUYER, kind=InstitutionKind.enterprise, size="small", region="110000",
        registered_on=D("2016-01-01")))).result["id"])

    async def one(i: int) -> UUID:
        achievement = UUID((await bus.handle(ach.RegisterAchievement(
            title=f"基准成果 {i}", ip_type=IpType.technical_secret, technology_field=TechnologyField.new_materials,
            owners=[ach.OwnerIn(institution_id=seller, share="100")], inventors=[ach.InventorIn(name="张三", share="100")],
            registered_on=D("2023-01-01")))).result["id"])
        cid = UUID((await bus.handle(con.DraftContract.model_validate({"drafted_on": "2024-01-10", "terms": {
            "kind": "licence", "title": f"基准许可 {i}", "seller_ids": [seller], "buyer_id": buyer,
            "achievement_ids": [achievement], "contract_value_fen": 1200 * WAN, "transaction_value_fen": 1200 * WAN,
            "payment_terms": {"fixed_price_fen": 1200 * WAN, "installments": [
                {"amount_fen": 100 * WAN, "due_on": f"2024-{m:02d}-01"} for m in range(1, 13)]}}}))).result["id"])
        await bus.handle(con.SignContract(contract_id=cid, on=D("2024-01-20")))
        await bus.handle(con.RegisterContract.model_validate({"contract_id": cid, "registration": {
            "registry": "北京技术市场管理办公室", "registration_number": registration_number(i),
            "approved_category": "licence", "approved_transaction_value_fen": 1200 * WAN,
            "registered_on": "2024-01-25"}}))
        await bus.handle(con.TakeEffect(contract_id=cid, on=D("2024-02-01")))
        return cid

    out: list[UUID] = []
    for start in range(0, contracts, 50):
        out += await asyncio.gather(*(one(i) for i in range(start, min(contracts, start + 50))))
    return out


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def payments_file(contracts: list[UUID], rows: int) -> bytes:
    body = []
    for n in range(rows):
        i = n % len(contracts)
        ref = str(contracts[i]) if n % 2 == 0 else registration_number(i)
        body.append([ref, f"PAY-{n:07d}", f"{10 + n % 90}.{n % 100:02d}", "2025-01-15", BUYER, ""])
    return csv_bytes(["合同 contract", "付款编号 payment_id", "金额(元) amount_yuan", "到账日期 received_on",
                      "付款方 payer", "超额处理 overpayment"], body)


def contracts_file(rows: int) -> bytes:
    body = [["development", f"基准开发合同 {n}", SELLER, BUYER, "", "50000.00", "50000.00", "2024-04-01",
             "2024-04-05", f"2024DEV{n:07d}", "2024-04-10", "北京技术市场管理办公室"] for n in range(rows)]
    return csv_bytes(["kind", "title", "seller", "buyer", "achievements", "contract_value_yuan",
                      "transaction_value_yuan", "drafted_on", "signed_on", "registration_number", "registered_on",
                      "registry"], body)


async def baseline(ledger: Ledger, contracts: list[UUID], rows: int) -> float:
    """The same kind of rows sent one by one through the bus: what a plain loop over the file does."""
    started = time.monotonic()
    for n in range(rows):
        await ledger.bus.handle(con.RecordPayment(
            contract_id=contracts[n % len(contracts)], payment_id=f"BASE-{n:07d}", amount_fen=1000 + n % 100,
            received_on=D("2025-01-15"), payer=BUYER), idempotency_key=f"bench-baseline:{n}")
    return rows / (time.monotonic() - started)


async def run(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    ledger = await connect_ledger(dsn, Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        progress(f"setting up {args.contracts} contracts in force ...")
        t = time.monotonic()
        contracts = await setup(ledger, args.contracts)
        progress(f"  done in {time.monotonic() - t:.1f}s; log head {await ledger.store.head()}")
        payments = payments_file(contracts, args.payments)
        rows: list[dict[str, Any]] = []

        def record(phase: str, report: ImportReport, written_expected: int | None = None) -> None:
            assert not report.issues, report.issues[:5]
            if written_expected is not None:
                assert report.written == written_expected, (phase, report.written)
            rows.append({"phase": phase, "rows": report.rows, "seconds": round(report.seconds, 3),
                         "rows_per_s": round(report.rows_per_s, 1), "written": report.written,
                         "replayed": report.replayed, "events": report.head_after - report.head_before})
            progress(f"  {phase}: {report.rows:,} rows in {report.seconds:.2f}s = {report.rows_per_s:,.0f} rows/s")

        dry = await import_file(payments, "payments", ledger.bus, dry_run=True, concurrency=args.concurrency)
        assert dry.head_after == dry.head_before and dry.valid == args.payments
        record("payments dry run", dry)
        real = await import_file(payments, "payments", ledger.bus, concurrency=args.concurrency)
        record("payments import", real, args.payments)
        again = await import_file(payments, "payments", ledger.bus, concurrency=args.concurrency)
        assert again.head_after == again.head_before and again.replayed == args.payments
        record("payments re-run", again, 0)
        contracts_report = await import_file(contracts_file(args.contract_rows), "contracts", ledger.bus,
                                             concurrency=args.concurrency)
        record("contracts import", contracts_report, args.contract_rows)
        base = await baseline(ledger, contracts, args.baseline_rows)
        rows.append({"phase": "baseline (one by one)", "rows": args.baseline_rows, "rows_per_s": round(base, 1)})
        progress(f"  baseline: {args.baseline_rows:,} payments one by one = {base:,.0f} rows/s")
        return {"rows": rows, "baseline_rows_per_s": round(base, 1)}
    finally:
        await ledger.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=500)
    parser.add_argument("--payments", type=int, default=20_000)
    parser.add_argument("--contract-rows", type=int, default=1_000)
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("console", "warning")
    root = Path(tempfile.mkdtemp(prefix="ttledger-bench-import-"))
    server = EmbeddedPostgres(root).start()
    try:
        asyncio.run(ensure_database(server.uri("postgres"), "bench_import"))
        result = asyncio.run(run(args, dsn_for_database(server.uri("postgres"), "bench_import")))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    by_phase = {r["phase"]: r for r in result["rows"]}
    real = by_phase["payments import"]["rows_per_s"]
    ratio = real / result["baseline_rows_per_s"] if result["baseline_rows_per_s"] else 0.0
    print(f"{'phase':24} {'rows':>8} {'seconds':>8} {'rows/s':>10} {'written':>8} {'replayed':>8}")
    for r in result["rows"]:
        print(f"{r['phase']:24} {r['rows']:>8,} {r.get('seconds', ''):>8} {r['rows_per_s']:>10,.1f} "
              f"{r.get('written', ''):>8} {r.get('replayed', ''):>8}")
    print(f"payments import vs one-by-one baseline: {ratio:.1f}x (target >= 2,000 rows/s: "
          f"{'met' if real >= 2000 else 'not met'})")
    if args.json:
        print(json.dumps({
            "contracts": args.contracts, "concurrency": args.concurrency,
            "payments_dry_run_rows_per_s": by_phase["payments dry run"]["rows_per_s"],
            "payments_import_rows_per_s": real,
            "payments_rerun_rows_per_s": by_phase["payments re-run"]["rows_per_s"],
            "contracts_import_rows_per_s": by_phase["contracts import"]["rows_per_s"],
            "baseline_rows_per_s": result["baseline_rows_per_s"], "ratio": round(ratio, 2),
            "phases": result["rows"],
        }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
