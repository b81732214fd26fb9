"""Bulk import (ledger/importer.py) on the real store: dry run, real run, re-run, resume, reports.

Each test gets an empty ledger with two institutions, an achievement and a
licence in force (100万元 in three installments, registration number
``2024110000000001``), then imports files built here as CSV or XLSX.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from openpyxl import Workbook, load_workbook

from domain.enums import InstitutionKind, IpType, RulePackId, TechnologyField
from ledger.bootstrap import Ledger, connect_ledger
from ledger.commands import achievement as ach
from ledger.commands import contract as con
from ledger.commands import institution as inst
from ledger.import_cli import add_import_command, run_import
from ledger.import_kinds import COLUMNS, CellError, record_id, yuan_fen
from ledger.importer import (
    REPORT_HEADERS,
    ImportReport,
    file_sha256,
    import_file,
    job_name,
    template_xlsx,
)
from ledger.settings import Settings

D = date.fromisoformat
WAN = 10_000 * 100
REG_NO = "2024110000000001"
UNIVERSITY = "清华示范大学"
FIRM = "北京小微科技有限公司"


@pytest.fixture
async def ledger(fresh_dsn: str):
    opened = await connect_ledger(fresh_dsn, Settings(snapshot_interval=5))
    yield opened
    await opened.close()


async def contract_in_force(ledger: Ledger, p: dict[str, UUID], title: str, registration: str | None) -> UUID:
    bus = ledger.bus
    cid = UUID((await bus.handle(con.DraftContract.model_validate({"drafted_on": "2024-01-10", "terms": {
        "kind": "licence", "title": title, "seller_ids": [p["university"]], "buyer_id": p["firm"],
        "achievement_ids": [p["achievement"]], "contract_value_fen": 100 * WAN, "transaction_value_fen": 90 * WAN,
        "payment_terms": {"fixed_price_fen": 100 * WAN, "installments": [
            {"amount_fen": 40 * WAN, "due_on": "2024-03-01"}, {"amount_fen": 30 * WAN, "due_on": "2024-09-01"},
            {"amount_fen": 30 * WAN, "due_on": "2025-03-01"}]}}}))).result["id"])
    await bus.handle(con.SignContract(contract_id=cid, on=D("2024-01-20")))
    if registration:
        await bus.handle(con.RegisterContract.model_validate({"contract_id": cid, "registration": {
            "registry": "北京技术市场管理办公室", "registration_number": registration,
            "approved_category": "licence", "approved_transaction_value_fen": 90 * WAN,
            "registered_on": "2024-01-25"}}))
    await bus.handle(con.TakeEffect(contract_id=cid, on=D("2024-02-01")))
    return cid


@pytest.fixture
async def world(ledger: Ledger) -> dict[str, UUID]:
    bus = ledger.bus
    p: dict[str, UUID] = {}
    p["university"] = UUID((await bus.handle(inst.RegisterInstitution(
        name=UNIVERSITY, kind=InstitutionKind.university, region="110000", registered_on=D("2020-01-01"),
        public=True, rule_pack=RulePackId.beijing))).result["id"])
    p["firm"] = UUID((await bus.handle(inst.RegisterInstitution(
        name=FIRM, kind=InstitutionKind.enterprise, size="micro", region="110000",
        registered_on=D("2021-03-01")))).result["id"])
    p["achievement"] = UUID((await bus.handle(ach.RegisterAchievement(
        title="一种高效锂电池正极材料", ip_type=IpType.invention_patent, technology_field=TechnologyField.new_materials,
        owners=[ach.OwnerIn(institution_id=p["university"], share="100")],
        inventors=[ach.InventorIn(name="张三", share="60"), ach.InventorIn(name="李四", share="40")],
        registered_on=D("2023-05-01"), official_number="ZL202310000001.0", granted_on=D("2023-04-20")))).result["id"])
    p["contract"] = await contract_in_force(ledger, p, "正极材料专利普通许可", REG_NO)
    return p


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def issues(report: ImportReport) -> list[tuple[int, str, str]]:
    return [(i.row, i.column, i.rule) for i in report.issues]


async def payments_received(ledger: Ledger, cid: UUID) -> int:
    return int(await ledger.store.pool.fetchval(
        "SELECT count(*) FROM events WHERE stream_id = $1 AND topic LIKE '%.PaymentReceived'", cid))


# ---- cells --------------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "fen"), [("12.30", 1230), ("12.3", 1230), ("1,234.56", 123456), ("7", 700),
                                           (12.3, 1230), (1000.0, 100000), (42, 4200), ("-5", -500),
                                           ("0.01", 1), ("100000000.99", 10000000099)])
def test_yuan_cells_become_exact_fen(cell: Any, fen: int) -> None:
    assert yuan_fen(cell, "amount_yuan") == fen


@pytest.mark.parametrize("cell", ["12.345", 12.345, "1e3", "1E3", 1e20, "abc", "", True, "12.3.4", "¥12", None])
def test_yuan_cells_that_are_not_whole_fen_are_refused(cell: Any) -> None:
    with pytest.raises(CellError) as info:
        yuan_fen(cell, "amount_yuan")
    assert (info.value.column, info.value.rule) == ("amount_yuan", "money_whole_fen")


# ---- payments -----------------------------------------------------------------------------

EN = ["contract", "payment_id", "amount_yuan", "received_on", "payer", "overpayment"]
ZH = ["合同", "付款编号", "金额(元)", "到账日期", "付款方", "超额处理"]


async def test_bad_rows_dry_run_reports_them_and_writes_nothing_real_run_writes_the_rest(
        ledger: Ledger, world: dict[str, UUID]) -> None:
    cid = str(world["contract"])
    rows = [
        [REG_NO, "BANK-001", "400000.00", "2024-03-02", FIRM, ""],       # row 2: by registration number
        [cid, "BANK-002", "12.345", "2024-03-03", "", ""],              # row 3: three decimals
        ["2099110000009999", "BANK-003", "10.00", "2024-03-04", "", ""],  # row 4: unknown contract
        [cid, "BANK-004", "700000.00", "2024-09-02", "", "拒收"],        # row 5: 60万 left after row 2
        [cid, "BANK-005", "300000.00", "2024-09-02", "", "reject"],     # row 6
    ]
    data = csv_bytes(EN, rows)
    head = await ledger.store.head()
    dry = await import_file(data, "payments", ledger.bus, dry_run=True)
    assert issues(dry) == [(3, "amount_yuan", "money_whole_fen"), (4, "contract", "referenced_record_exists"),
                           (5, "amount_yuan", "overpayment_rejected")]
    assert (dry.rows, dry.valid, dry.failed, dry.written) == (5, 2, 3, 0)
    assert dry.head_before == dry.head_after == head == await ledger.store.head()
    assert await ledger.store.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0

    real = await import_file(data, "payments", ledger.bus)
    assert issues(real) == issues(dry)
    assert (real.rows, real.written, real.replayed, real.failed, real.commands) == (5, 2, 0, 3, 2)
    assert real.head_after == head + 2
    assert await payments_received(ledger, world["contract"]) == 2
    cash = await ledger.store.pool.fetchval(
        "SELECT sum(amount_fen) FROM postings WHERE account = 'cash'")
    assert cash == 70 * WAN

    again = await import_file(data, "payments", ledger.bus)
    assert (again.written, again.replayed, again.failed, again.commands) == (0, 2, 3, 0)
    assert again.head_after == again.head_before == head + 2
    # A dry run of a file already imported says so for its rows, and still reports the bad ones.
    dry_again = await import_file(data, "payments", ledger.bus, dry_run=True)
    assert (dry_again.valid, dry_again.replayed, dry_again.failed) == (0, 2, 3)


async def test_events_name_the_import_job_and_row(ledger: Ledger, world: dict[str, UUID]) -> None:
    data = csv_bytes(ZH, [[REG_NO, "B-1", "10.00", "2024-03-02", "", ""],
                          ["", "", "", "", "", ""],
                          [REG_NO, "B-2", "20.00", "2024-03-03", "", ""]])
    head = await ledger.store.head()
    report = await import_file(data, "payments", ledger.bus)
    assert report.ok and report.written == 2
    rows = await ledger.store.pool.fetch(
        "SELECT metadata, actor_id FROM events WHERE position > $1 ORDER BY position", head)
    docs = [json.loads(bytes(r["metadata"])) for r in rows]
    job = job_name(file_sha256(data))
    assert job == report.job == f"import-{file_sha256(data)[:12]}"
    assert sorted(d["import"]["row"] for d in docs) == [2, 4]  # the blank row 3 is skipped, numbers kept
    for d in docs:
        assert d == {"v": 1, "actor": {"kind": "system", "name": "cli:import"},
                     "import": {"job": job, "row": d["import"]["row"]}}
    assert all(r["actor_id"] is None for r in rows)


async def test_xlsx_with_chinese_headers_date_and_number_cells(ledger: Ledger, world: dict[str, UUID]) -> None:
    header = ["合同", "付款编号", "金额（元）", "到账日期", "付款方", "超额处理"]  # full-width brackets too
    rows = [[REG_NO, 1001, 400000, datetime(2024, 3, 2), FIRM, None],
            [str(world["contract"]), "B-1002", 12.3, "2024-03-03", None, "转为预收"]]
    report = await import_file(xlsx_bytes(header, rows), "payments", ledger.bus)
    assert report.ok, report.issues
    assert report.written == 2
    amounts = await ledger.store.pool.fetch(
        "SELECT amount_fen FROM postings WHERE account = 'cash' ORDER BY position")
    assert [r["amount_fen"] for r in amounts] == [40 * WAN, 1230]


async def test_english_and_bilingual_headers_are_accepted_in_any_case(ledger: Ledger,
                                                                       world: dict[str, UUID]) -> None:
    header = ["CONTRACT", "付款编号 payment_id", " Amount_Yuan ", "received_on"]
    report = await import_file(csv_bytes(header, [[REG_NO, "E-1", "1.00", "2024-03-02"]]), "payments", ledger.bus)
    assert report.ok and report.written == 1


async def test_unknown_or_missing_columns_refuse_the_file(ledger: Ledger, world: dict[str, UUID]) -> None:
    head = await ledger.store.head()
    unknown = await import_file(csv_bytes([*EN, "notes"], [[REG_NO, "X-1", "1.00", "2024-03-02", "", "", "x"]]),
                                "payments", ledger.bus)
    assert issues(unknown) == [(1, "notes", "import_columns_known")]
    missing = await import_file(csv_bytes(["contract", "payment_id", "received_on"], [[REG_NO, "X-1", "2024-03-02"]]),
                                "payments", ledger.bus)
    assert issues(missing) == [(1, "amount_yuan", "import_columns_known")]
    garbage = await import_file(b"PK\x03\x04not a zip", "payments", ledger.bus)
    assert issues(garbage) == [(0, "", "import_file_readable")]
    assert await ledger.store.head() == head


async def test_a_crashed_run_resumes_without_duplicates(ledger: Ledger, world: dict[str, UUID]) -> None:
    second = await contract_in_force(ledger, world, "第二份许可", "2024110000000002")
    third = await contract_in_force(ledger, world, "第三份许可", None)
    contracts = [world["contract"], second, third]
    rows = [[str(contracts[i % 3]), f"P-{i:03d}", "1000.00", "2024-03-02", "", ""] for i in range(60)]
    data = csv_bytes(EN, rows)

    def crash_after(k: int):  # type: ignore[no-untyped-def]
        def progress(done: int, total: int) -> None:
            if done >= k:
                raise RuntimeError("power cut")
        return progress

    with pytest.raises(RuntimeError, match="power cut"):
        await import_file(data, "payments", ledger.bus, progress=crash_after(25), concurrency=8)
    before = sum([await payments_received(ledger, c) for c in contracts])
    assert 25 <= before < 60
    resumed = await import_file(data, "payments", ledger.bus)
    assert resumed.ok
    assert resumed.replayed == before
    assert resumed.written == 60 - before
    assert [await payments_received(ledger, c) for c in contracts] == [20, 20, 20]
    # Each contract's payments were recorded in file order.
    for i, c in enumerate(contracts):
        ids = await ledger.store.pool.fetch(
            "SELECT position FROM events WHERE stream_id = $1 AND topic LIKE '%.PaymentReceived' ORDER BY position", c)
        assert len(ids) == 20
        ordered = await ledger.repository.load(c)
        assert ordered is not None
        assert list(ordered.receipts)[:20] == [f"P-{n:03d}" for n in range(i, 60, 3)]
    assert (await import_file(data, "payments", ledger.bus)).written == 0


# ---- templates, achievements and contracts ----------------------------------------------------


def fill_template(kind: str, rows: list[dict[str, Any]]) -> bytes:
    book = load_workbook(io.BytesIO(template_xlsx(kind)))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    keys = [str(h).split(" ")[-1] for h in header]
    for row in rows:
        sheet.append([row.get(k) for k in keys])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_template_has_bilingual_headers_and_a_notes_sheet() -> None:
    book = load_workbook(io.BytesIO(template_xlsx("payments")))
    assert book.sheetnames == ["payments", "notes"]
    assert [c.value for c in book["payments"][1]] == [
        "合同 contract", "付款编号 payment_id", "金额(元) amount_yuan", "到账日期 received_on", "付款方 payer",
        "超额处理 overpayment"]
    assert book["payments"].max_row == 1
    notes = list(book["notes"].iter_rows(values_only=True))
    assert notes[0] == ("列 column", "英文名 name", "类型 type", "必填 required", "说明 notes", "示例 example")
    amount = next(r for r in notes if r[1] == "amount_yuan")
    assert amount[0] == "金额(元)" and amount[3] == "是 yes" and amount[5] == "12345.60"
    assert next(r for r in notes if r[1] == "payer")[3] == "否 no"
    assert notes[-1] == tuple(c.example for c in COLUMNS["payments"])
    for kind in ("achievements", "contracts"):
        assert len(next(load_workbook(io.BytesIO(template_xlsx(kind))).worksheets[0].iter_rows(values_only=True))) \
            == len(COLUMNS[kind])


async def test_filled_templates_import_achievements_then_contracts_then_payments(
        ledger: Ledger, world: dict[str, UUID]) -> None:
    achievements = fill_template("achievements", [
        {"title": "耐高温涂层材料", "ip_type": "发明专利", "technology_field": "新材料及其应用", "owner": UNIVERSITY,
         "inventors": "陈刚:50;赵丽:50", "registered_on": datetime(2023, 6, 1), "official_number": "ZL202310000009.1",
         "granted_on": "2023-05-20", "service_achievement": "是", "state_funded": "否"},
        {"title": "边缘计算调度软件", "ip_type": "software_copyright", "technology_field": "electronic_information",
         "owner": str(world["university"]), "inventors": "孙伟:100", "registered_on": "2023-07-01",
         "official_number": "2023SR0000001", "service_achievement": "true"},
        {"title": "坏行", "ip_type": "发明专利", "technology_field": "新材料及其应用", "owner": "不存在的大学",
         "inventors": "甲:100", "registered_on": "2023-07-01"},
        {"title": "坏行2", "ip_type": "发明专利", "technology_field": "新材料及其应用", "owner": UNIVERSITY,
         "inventors": "甲 100", "registered_on": "2023-07-01"},
    ])
    dry = await import_file(achievements, "achievements", ledger.bus, dry_run=True)
    assert issues(dry) == [(4, "owner", "referenced_record_exists"), (5, "inventors", "import_list_format")]
    report = await import_file(achievements, "achievements", ledger.bus)
    assert issues(report) == issues(dry) and report.written == 2
    coating, software = UUID(report.created[2][0]), UUID(report.created[3][0])
    assert report.created[2] == dry.created[2]  # ids derive from the file and row
    loaded = await ledger.repository.load(coating)
    assert loaded is not None and loaded.title == "耐高温涂层材料" and loaded.ip_type == IpType.invention_patent

    contracts = fill_template("contracts", [
        {"kind": "技术转让", "title": "涂层专利转让", "seller": UNIVERSITY, "buyer": FIRM, "achievements": str(coating),
         "contract_value_yuan": "500000.00", "transaction_value_yuan": "450000.00", "drafted_on": "2024-04-01",
         "due_on": "2024-06-30", "signed_on": "2024-04-10", "registration_number": "2024110000000077",
         "registered_on": "2024-04-15", "registry": "北京技术市场管理办公室", "effective_on": "2024-04-20"},
        {"kind": "licence", "title": "软件许可", "seller": str(world["university"]), "buyer": FIRM,
         "achievements": str(software), "contract_value_yuan": 80000, "transaction_value_yuan": 80000,
         "drafted_on": "2024-04-01", "licence_type": "独占许可"},
        {"kind": "development", "title": "坏：交易额高于成交额", "seller": UNIVERSITY, "buyer": FIRM,
         "contract_value_yuan": "100.00", "transaction_value_yuan": "200.00", "drafted_on": "2024-04-01",
         "signed_on": "2024-04-02"},
        {"kind": "development", "title": "坏：登记缺登记机构", "seller": UNIVERSITY, "buyer": FIRM,
         "contract_value_yuan": "100.00", "transaction_value_yuan": "100.00", "drafted_on": "2024-04-01",
         "signed_on": "2024-04-02", "registration_number": "2024110000000078", "registered_on": "2024-04-03"},
        {"kind": "development", "title": "坏：登记早于签订", "seller": UNIVERSITY, "buyer": FIRM,
         "contract_value_yuan": "100.00", "transaction_value_yuan": "100.00", "drafted_on": "2024-04-01",
         "signed_on": "2024-04-05", "registration_number": "2024110000000079", "registered_on": "2024-04-03",
         "registry": "北京技术市场管理办公室"},
    ])
    head = await ledger.store.head()
    dry = await import_file(contracts, "contracts", ledger.bus, dry_run=True)
    assert issues(dry) == [(4, "transaction_value_yuan", "transaction_value_within_contract_value"),
                           (5, "registry", "import_value_required"),
                           (6, "registered_on", "contract_dates_in_order")]
    assert await ledger.store.head() == head
    report = await import_file(contracts, "contracts", ledger.bus)
    assert issues(report) == issues(dry) and (report.written, report.commands) == (2, 5)
    # Row 6 was checked whole before anything was written: its draft and signature are not in the log.
    assert await ledger.repository.load(record_id(file_sha256(contracts), 6, "contract")) is None
    assert await ledger.store.head() == head + 5 + 1  # draft, sign, register, take effect (+1 encumbrance), draft
    payments = csv_bytes(EN, [["2024110000000077", "T-1", "500000", "2024-06-30", FIRM, ""]])
    paid = await import_file(payments, "payments", ledger.bus)
    assert paid.ok and paid.written == 1


async def test_report_xlsx_and_the_cli(ledger: Ledger, world: dict[str, UUID], tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="ttledger")
    add_import_command(parser.add_subparsers(dest="command"))
    settings = Settings(DATABASE_URL=ledger.store.dsn, _env_file=None)  # type: ignore[call-arg]

    async def cli(argv: list[str]) -> int:
        # The CLI runs its own event loop (asyncio.run), as `ttledger import` does: in a thread here.
        return await asyncio.to_thread(run_import, parser.parse_args(argv), settings)
    template = tmp_path / "payments-template.xlsx"
    assert await cli(["import", "--template", "payments", str(template)]) == 0
    assert load_workbook(template).sheetnames == ["payments", "notes"]

    data = tmp_path / "payments.csv"
    data.write_bytes(csv_bytes(EN, [[REG_NO, "C-1", "12.345", "2024-03-02", "", ""],
                                    [REG_NO, "C-2", "10.00", "2024-03-02", "", ""]]))
    report_path = tmp_path / "report.xlsx"
    head = await ledger.store.head()
    code = await cli(["import", str(data), "--kind", "payments", "--dry-run", "--report", str(report_path),
                      "--lang", "en"])
    assert code == 1
    assert await ledger.store.head() == head
    book = load_workbook(report_path)
    rows = list(book["issues"].iter_rows(values_only=True))
    assert rows[0] == REPORT_HEADERS == ("行 row", "列 column", "规则 rule", "说明 message")
    assert rows[1][:3] == (2, "amount_yuan", "money_whole_fen") and "two decimals" in str(rows[1][3])
    assert len(rows) == 2
    summary = dict(book["summary"].iter_rows(min_row=2, values_only=True))
    assert summary["rows"] == 2 and summary["valid"] == 1 and summary["dry_run"] == "True"

    code = await cli(["import", str(data), "--kind", "payments", "--report", str(report_path)])
    assert code == 1
    zh = list(load_workbook(report_path)["issues"].iter_rows(values_only=True))
    assert zh[1][:3] == (2, "金额(元)", "money_whole_fen") and "两位小数" in str(zh[1][3])
    assert await ledger.store.head() == head + 1
    ok = tmp_path / "ok.csv"
    ok.write_bytes(csv_bytes(EN, [[REG_NO, "C-3", "1.00", "2024-03-02", "", ""]]))
    assert await cli(["import", str(ok), "--kind", "payments"]) == 0
