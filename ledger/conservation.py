"""Conservation: no fen appears or vanishes between cash received and each beneficiary (issue 12).

``ttledger verify`` runs this after the hash chain and the books. Every
record is rebuilt from its events alone (no snapshots), and what the records
say is compared with what the postings say, two derivations that share
nothing but the log:

* **cash** — for every contract, the cash its events brought in equals the
  income recognised on it (its receipts: payments applied to due items,
  credits when applied, insurance compensation settling due items) + the
  credit still held + what was refunded + what an insurer paid beyond what was
  due. A refunded credit is never income.
* **receipts** — every receipt is allocated at most once, and a distribution's
  gross income is exactly its receipt; receipts not yet allocated are listed.
* **awards** — for every distribution and self-implementation award, and every
  beneficiary, what was allocated equals what was paid plus what is still
  payable (the balance of ``distribution_payable:<beneficiary>`` posted by
  that record); an overpaid line is owed back, never a negative payment: per
  institution and beneficiary, the recoveries outstanding equal the balance of
  ``award_recoverable:<beneficiary>``.
* **ended contracts** — a terminated or expired contract owes only what fell
  due by its end, what the ending kept, and royalties for use before the end
  (民法典 第566条).

The first failure is reported with the contract (or distribution) it is on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
from eventsourcing.domain import Aggregate

from domain.award import IncomeDistribution
from domain.contract import TechnologyContract
from domain.contract_state import ContractStatus
from domain.self_implementation import SelfImplementation
from domain.settlement import USE_CHARGES, DueKind
from ledger.repository import Repository

ENDING = frozenset({ContractStatus.terminated, ContractStatus.expired})
KEPT_KINDS = frozenset({*USE_CHARGES, DueKind.compensation})
CHECKED = (TechnologyContract, IncomeDistribution, SelfImplementation)


@dataclass(frozen=True)
class Breach:
    """One place where money does not add up."""

    invariant: str
    record: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant} on {self.record}: {self.detail}"


@dataclass
class ConservationReport:
    contracts: int = 0
    distributions: int = 0
    self_implementations: int = 0
    cash_in_fen: int = 0
    recognised_fen: int = 0
    allocated_fen: int = 0
    unallocated: list[tuple[UUID, str, int]] = field(default_factory=list)
    """Receipts recognised but not yet allocated: (contract, receipt, fen)."""
    breaches: list[Breach] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches

    @property
    def first(self) -> Breach | None:
        return self.breaches[0] if self.breaches else None


async def _postings_by_stream(conn: asyncpg.Connection) -> dict[UUID, dict[str, int]]:
    """Each stream's net postings per account (debits positive)."""
    rows = await conn.fetch(
        "SELECT j.stream_id, p.account, sum(p.amount_fen)::bigint AS total "
        "FROM postings p JOIN journal_entries j USING (position, seq) GROUP BY 1, 2")
    out: dict[UUID, dict[str, int]] = defaultdict(dict)
    for r in rows:
        out[r["stream_id"]][r["account"]] = int(r["total"])
    return out


async def _cash_flows(conn: asyncpg.Connection) -> dict[UUID, tuple[int, int]]:
    """Per stream: cash debited (in) and cash credited (out), from the postings."""
    rows = await conn.fetch(
        "SELECT j.stream_id, sum(greatest(p.amount_fen, 0))::bigint AS cash_in, "
        "sum(greatest(-p.amount_fen, 0))::bigint AS cash_out "
        "FROM postings p JOIN journal_entries j USING (position, seq) WHERE p.account = 'cash' GROUP BY 1")
    return {r["stream_id"]: (int(r["cash_in"]), int(r["cash_out"])) for r in rows}


async def _records(conn: asyncpg.Connection, repository: Repository, report: ConservationReport,
                   progress: Callable[[int, int], None] | None) -> list[Aggregate]:
    prefixes = tuple(f"{cls.__module__}:{cls.__qualname__}." for cls in CHECKED)
    streams = [r["stream_id"] for r in await conn.fetch(
        "SELECT stream_id, topic FROM events WHERE version = 1 ORDER BY position")
        if str(r["topic"]).startswith(prefixes)]
    records: list[Aggregate] = []
    for n, stream_id in enumerate(streams, start=1):
        try:
            record = await repository.load(stream_id)
        except Exception as exc:  # an altered event: the chain check names it; here it is unreadable
            report.breaches.append(Breach("record_readable", f"stream {stream_id}", type(exc).__name__))
            continue
        if record is not None:
            records.append(record)
        if progress is not None and n % 500 == 0:
            progress(n, len(streams))
    if progress is not None:
        progress(len(streams), len(streams))
    return records


def _check_contract(c: TechnologyContract, cash: tuple[int, int], postings: dict[str, int],
                    report: ConservationReport) -> None:
    cash_in, refunded = cash
    recognised = sum(fen for fen, _ in c.receipts.values())
    held = sum(c.credits.values())
    # What an insurer paid beyond the due items it settled (先行赔付), posted to its own account.
    insurer_excess = -postings.get(f"insurance_recoveries:{c.id}", 0)
    report.contracts += 1
    report.cash_in_fen += cash_in
    report.recognised_fen += recognised
    if cash_in != recognised + held + refunded + insurer_excess:
        report.breaches.append(Breach(
            "cash_conserved", f"contract {c.id}",
            f"cash in {cash_in} fen ≠ recognised {recognised} + credit held {held} + refunded {refunded} "
            f"+ paid by the insurer beyond what was due {insurer_excess}"))
    if -postings.get(f"customer_credit:{c.id}", 0) != held:
        report.breaches.append(Breach(
            "credit_conserved", f"contract {c.id}",
            f"credit held {held} fen ≠ customer_credit balance {-postings.get(f'customer_credit:{c.id}', 0)}"))
    if c.status in ENDING and c.ended_on is not None:
        for state in c.settlement.items.values():
            if state.outstanding_fen > 0 and state.item.kind not in KEPT_KINDS \
                    and min(state.item.due_on, state.due_on) > c.ended_on:
                report.breaches.append(Breach(
                    "ended_contract_owes_only_what_remains", f"contract {c.id}",
                    f"{state.item.item_id} ({state.outstanding_fen} fen) fell due after the end "
                    f"on {c.ended_on} and was not kept"))


def _check_payables(record: str, unpaid: dict[str, int], postings: dict[str, int],
                    report: ConservationReport) -> None:
    """What the record says is still payable per beneficiary is what its postings left payable."""
    keys = set(unpaid) | {a.removeprefix("distribution_payable:") for a in postings
                          if a.startswith("distribution_payable:")}
    for key in sorted(keys):
        payable = -postings.get(f"distribution_payable:{key}", 0)
        if unpaid.get(key, 0) != payable:
            report.breaches.append(Breach(
                "awards_conserved", record,
                f"{key}: allocated − paid + raised for recovery {unpaid.get(key, 0)} fen ≠ payable {payable}"))


async def check_conservation(conn: asyncpg.Connection, repository: Repository, *,
                             progress: Callable[[int, int], None] | None = None) -> ConservationReport:
    """Every invariant above over the whole log, records rebuilt from their events."""
    replay = Repository(repository.store, repository.mapper, snapshot_interval=0)
    report = ConservationReport()
    records = await _records(conn, replay, report, progress)
    postings = await _postings_by_stream(conn)
    cash = await _cash_flows(conn)
    contracts = {r.id: r for r in records if isinstance(r, TechnologyContract)}
    allocated_receipts: dict[tuple[UUID, str], UUID] = {}
    # Recoveries are raised on one distribution and may be offset on another of the same institution.
    to_recover: dict[tuple[UUID, str], int] = defaultdict(int)
    recoverable: dict[tuple[UUID, str], int] = defaultdict(int)
    for record in records:
        if isinstance(record, TechnologyContract):
            _check_contract(record, cash.get(record.id, (0, 0)), postings.get(record.id, {}), report)
        elif isinstance(record, IncomeDistribution):
            report.distributions += 1
            key = (record.contract_id, record.receipt_id)
            where = f"distribution {record.id} (contract {record.contract_id}, receipt {record.receipt_id})"
            if key in allocated_receipts:
                report.breaches.append(Breach("receipt_allocated_once", where,
                                              f"also allocated by {allocated_receipts[key]}"))
            allocated_receipts[key] = record.id
            contract = contracts.get(record.contract_id)
            receipt = contract.receipts.get(record.receipt_id) if contract is not None else None
            if receipt is None or receipt[0] != record.gross_fen:
                report.breaches.append(Breach(
                    "distribution_is_its_receipt", where,
                    f"gross {record.gross_fen} fen ≠ receipt {receipt[0] if receipt else 'missing'}"))
            report.allocated_fen += record.gross_fen
            # The institution keeps its own share: nothing is payable on it (ledger/posting_rules.py).
            unpaid = {k: record.unpaid_fen(k) for k in record.lines if str(record.lines[k][0]) != "institution"}
            _check_payables(where, unpaid, postings.get(record.id, {}), report)
            for line_key, fen in record.outstanding_recoveries().items():
                to_recover[(record.institution_id, line_key)] += fen
            for account, fen in postings.get(record.id, {}).items():
                if account.startswith("award_recoverable:"):
                    recoverable[(record.institution_id, account.removeprefix("award_recoverable:"))] += fen
        elif isinstance(record, SelfImplementation):
            report.self_implementations += 1
            allocated: dict[str, int] = defaultdict(int)
            for award in record.awards:
                for name, fen in award.lines:
                    allocated[f"inventor:{name}"] += fen
            for payment in getattr(record, "award_payments", ()):  # absent from an older snapshot shape
                allocated[f"inventor:{payment.inventor}"] -= payment.amount_fen
            _check_payables(f"self-implementation {record.id}", allocated, postings.get(record.id, {}), report)
    for pair in sorted(set(to_recover) | set(recoverable), key=str):
        if to_recover[pair] != recoverable[pair]:
            report.breaches.append(Breach(
                "recoveries_conserved", f"institution {pair[0]}",
                f"{pair[1]}: recoveries outstanding {to_recover[pair]} fen ≠ award_recoverable "
                f"balance {recoverable[pair]}"))
    for cid, contract in contracts.items():
        for receipt_id, (fen, _) in sorted(contract.receipts.items()):
            if (cid, receipt_id) not in allocated_receipts and fen:
                report.unallocated.append((cid, receipt_id, fen))
    return report
