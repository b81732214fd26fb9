"""The books: account balances, the trial balance and a contract's journal entries.

Postings are written in the same transaction as the events that cause them
(decision 7), so these reads are as current as the log: ``min_position``
only waits for the log head.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, Field

from api.commands import path_model
from api.consistency import refuse_beyond_head, wait_for_log
from api.redaction import merge_inventor_accounts
from api.routes.common import ALL_READERS, MIN_POSITION, ReadQuery, load_for_read, redacts
from api.routing import Call, RouteRegistry
from api.tenancy import hidden, sees_books
from domain.contract import TechnologyContract
from domain.institution import Institution
from ledger.postings import account_balances, trial_balance
from ledger.tokens import Role

routes = RouteRegistry()
TAGS = ("books",)


class BalancesQuery(BaseModel):
    as_of: date | None = Field(default=None, description="Entries dated up to this business date; all by default.")
    known_at: int | None = Field(default=None, ge=1, le=2**62, description="知悉时点：只计该日志位置及之前写入的分录。"
                                 "As known at this log position: only entries written up to it. At most the log head.")
    min_position: int | None = MIN_POSITION


class Balance(BaseModel):
    account: str = Field(description="`kind` or `kind:qualifier`, e.g. `receivable:<contract id>`.")
    balance_fen: int = Field(description="Debits positive, credits negative.")


class Balances(BaseModel):
    institution_id: UUID
    as_of: date | None
    known_at: int = Field(description="The log position the balances are as known at (the head when not given).")
    balances: list[Balance]
    total_fen: int = Field(description="Sum of every balance: 0 when the books balance.")
    inventor_accounts: int | None = Field(
        default=None,
        description="For a regulator's token: how many inventors' payable accounts were summed into "
        "`distribution_payable:inventor:*`.",
    )


class TrialBalanceQuery(BaseModel):
    up_to_position: int | None = Field(default=None, ge=0, description="Postings up to this log position.")
    min_position: int | None = MIN_POSITION


class TrialBalanceLine(BaseModel):
    institution_id: UUID
    currency: str
    total_fen: int


class TrialBalance(BaseModel):
    up_to_position: int | None
    balanced: bool = Field(description="Every institution's postings sum to zero in every currency.")
    lines: list[TrialBalanceLine]


class PostingView(BaseModel):
    line: int
    account: str
    amount_fen: int


class JournalEntryView(BaseModel):
    position: int = Field(description="Log position of the event that caused the entry.")
    seq: int
    institution_id: UUID
    currency: str
    entry_date: date
    kind: str
    description: str
    reverses_position: int | None
    reverses_seq: int | None
    postings: list[PostingView]


class Journal(BaseModel):
    contract_id: UUID
    entries: list[JournalEntryView]


@routes.get("/v1/institutions/{institution_id}/balances", roles=ALL_READERS,
            path_params=path_model("institution_id"), query=BalancesQuery, response=Balances, tags=TAGS)
async def get_balances(call: Call[None, BalancesQuery]) -> Balances:
    """An institution's account balances, from its postings.

    A regulator's token sees the inventors' payable accounts summed into one.
    """
    institution_id: UUID = call.path.institution_id
    if not sees_books(call.principal, institution_id):
        raise hidden(Institution, institution_id)
    await wait_for_log(call.app, call.query.min_position)
    head = await refuse_beyond_head(call.app, known_at=call.query.known_at)
    known_at = head if call.query.known_at is None else call.query.known_at  # named in the answer: bound by it
    balances = await account_balances(call.ledger.store.pool, institution_id, as_of=call.query.as_of,
                                      known_at=known_at)
    merged = None
    if redacts(call):
        balances, merged = merge_inventor_accounts(balances)
    return Balances(
        institution_id=institution_id, as_of=call.query.as_of, known_at=known_at,
        balances=[Balance(account=a, balance_fen=b) for a, b in balances.items()],
        total_fen=sum(balances.values()), inventor_accounts=merged,
    )


@routes.get("/v1/trial-balance", roles={Role.ADMIN, Role.REGULATOR}, query=TrialBalanceQuery,
            response=TrialBalance, tags=TAGS)
async def get_trial_balance(call: Call[None, TrialBalanceQuery]) -> TrialBalance:
    """Sum of all postings per institution and currency: zero everywhere when the books balance."""
    await wait_for_log(call.app, call.query.min_position)
    totals = await trial_balance(call.ledger.store.pool, up_to_position=call.query.up_to_position)
    lines = [TrialBalanceLine(institution_id=i, currency=c, total_fen=t)
             for (i, c), t in sorted(totals.items(), key=lambda kv: (str(kv[0][0]), kv[0][1]))]
    return TrialBalance(up_to_position=call.query.up_to_position,
                        balanced=all(line.total_fen == 0 for line in lines), lines=lines)


@routes.get("/v1/contracts/{contract_id}/journal", roles=ALL_READERS, path_params=path_model("contract_id"),
            query=ReadQuery, response=Journal, tags=TAGS)
async def get_contract_journal(call: Call[None, ReadQuery]) -> Journal:
    """The journal entries the contract's own events posted (fallen due, payments, credits, write-offs)."""
    contract = await load_for_read(call, TechnologyContract, call.path.contract_id)
    rows = await call.ledger.store.pool.fetch(
        "SELECT e.position, e.seq, e.institution_id, e.currency, e.entry_date, e.kind, e.description, "
        "e.reverses_position, e.reverses_seq, "
        "array_agg(p.line ORDER BY p.line) AS lines, array_agg(p.account ORDER BY p.line) AS accounts, "
        "array_agg(p.amount_fen ORDER BY p.line) AS amounts "
        "FROM journal_entries e JOIN postings p USING (position, seq) "
        # The contract's events by the (stream_id, version) index, then their entries by primary key.
        "WHERE e.position IN (SELECT position FROM events WHERE stream_id = $1) "
        "GROUP BY e.position, e.seq ORDER BY e.position, e.seq",
        contract.id,
    )
    entries = [
        JournalEntryView(
            position=r["position"], seq=r["seq"], institution_id=r["institution_id"], currency=r["currency"],
            entry_date=r["entry_date"], kind=r["kind"], description=r["description"],
            reverses_position=r["reverses_position"], reverses_seq=r["reverses_seq"],
            postings=[PostingView(line=ln, account=a, amount_fen=m)
                      for ln, a, m in zip(r["lines"], r["accounts"], r["amounts"], strict=True)],
        )
        for r in rows
    ]
    return Journal(contract_id=contract.id, entries=entries)
