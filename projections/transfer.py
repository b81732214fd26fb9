"""Projection ``transfer``: one row per achievement with the dates that transfer rates need.

``tr_achievements`` keeps, per achievement, the dates that put it in a
transfer-rate denominator (registered, entered the separate register,
granted) and the first date it was transferred (转化), with the way and
whether the buyer is in the owner's region. ``tr_transfers`` keeps one row
per (contract, achievement) transfer, for the annual report's "achievements
transferred by way".

An achievement is transferred by a contract of one of these kinds:

- assignment (转让) and equity contribution (作价投资): on the date the contract takes effect;
- licence (许可): on the date the contract takes effect;
- use-first-pay-later licence (先使用后付费): on the date it converts to paid terms
  (a trial that is returned never transfers the achievement).

Development, consulting and service contracts cover no achievement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from domain.achievement import Achievement
from domain.contract import TechnologyContract
from projections import lookups
from projections.base import Row, Rows, TableProjection, TableSpec, cols, topic
from projections.lookups import INSTITUTION_TOPICS, apply_institution_event, text
from projections.runner import Envelope

A = Achievement
C = TechnologyContract

WAYS = {
    "assignment": "assignment",
    "licence": "licence",
    "equity_contribution": "equity",
    "ufpl_licence": "ufpl",
}

INSTITUTIONS = lookups.institution_spec("tr_institutions")
CONTRACTS = TableSpec(
    "tr_contracts",
    cols(
        "contract_id uuid, kind text, seller_id uuid, buyer_id uuid, buyer_region text, "
        "achievement_ids uuid[]"
    ),
    ("contract_id",),
)
ACHIEVEMENTS = TableSpec(
    "tr_achievements",
    cols(
        "achievement_id uuid, owner_id uuid, owner_kind text, owner_region text, "
        "technology_field text, ip_type text, service boolean, registered_on date, granted_on date, "
        "register_entered_on date, register_exited_on date, lapsed_on date, "
        "first_transferred_on date, first_way text, first_contract_id uuid, first_local boolean, "
        "assigned_on date, licensed_on date, equity_on date, transfers integer"
    ),
    ("achievement_id",),
    ("(owner_id)", "(registered_on)", "(first_transferred_on)"),
    versioned=True,
)
TRANSFERS = TableSpec(
    "tr_transfers",
    cols(
        "contract_id uuid, achievement_id uuid, way text, transferred_on date, seller_id uuid, "
        "owner_id uuid, owner_region text, buyer_id uuid, buyer_region text, local boolean, "
        "technology_field text, ip_type text"
    ),
    ("contract_id", "achievement_id"),
    ("(owner_id, transferred_on)", "(seller_id, transferred_on)"),
    versioned=True,
)

T_A_REGISTERED = topic(A, "Registered")
T_A_GRANTED = topic(A, "Granted")
T_A_LAPSED = topic(A, "Lapsed")
T_A_ENTERED = topic(A, "SeparateRegisterEntered")
T_A_EXITED = topic(A, "SeparateRegisterExited")
ACHIEVEMENT_TOPICS = frozenset({T_A_REGISTERED, T_A_GRANTED, T_A_LAPSED, T_A_ENTERED, T_A_EXITED})
T_DRAFTED = topic(C, "Drafted")
T_AMENDED = topic(C, "TermsAmended")
T_TOOK_EFFECT = topic(C, "TookEffect")
T_CONVERTED = topic(C, "ConvertedToPaid")
CONTRACT_TOPICS = frozenset({T_DRAFTED, T_AMENDED, T_TOOK_EFFECT, T_CONVERTED})


class TransferProjection(TableProjection):
    name = "transfer"
    rebuild_cost = 1.4  # CPU of a lone rebuild, relative (bench/stats.py's dataset)
    specs = (INSTITUTIONS, CONTRACTS, ACHIEVEMENTS, TRANSFERS)
    topics = INSTITUTION_TOPICS | ACHIEVEMENT_TOPICS | CONTRACT_TOPICS

    async def apply_page(self, conn: asyncpg.Connection, events: Sequence[Envelope]) -> None:
        institutions = Rows(INSTITUTIONS)
        contracts = Rows(CONTRACTS)
        achievements = Rows(ACHIEVEMENTS)
        transfers = Rows(TRANSFERS)
        want_institutions: set[Any] = set()
        want_achievements: set[Any] = set()
        want_contracts: set[Any] = set()
        for envelope in events:
            t, e = envelope.entry.topic, envelope.event
            if t in CONTRACT_TOPICS:
                if t in (T_DRAFTED, T_AMENDED):
                    want_institutions.add(e.terms.buyer_id)
                    want_achievements.update(e.terms.achievement_ids)
                else:
                    want_contracts.add(e.originator_id)
            elif t in ACHIEVEMENT_TOPICS:
                want_achievements.add(e.originator_id)
                if t == T_A_REGISTERED:
                    want_institutions.add(e.owners[0].institution_id)
            else:
                want_institutions.add(e.originator_id)
        await contracts.load(conn, want_contracts)
        for row in contracts.rows.values():
            want_achievements.update(row["achievement_ids"])
        await achievements.load(conn, want_achievements)
        await institutions.load(conn, want_institutions)

        for envelope in events:
            t, e = envelope.entry.topic, envelope.event
            if t in (T_DRAFTED, T_AMENDED):
                terms = e.terms
                buyer = lookups.attrs(institutions, terms.buyer_id)
                contracts.add(
                    CONTRACTS.blank(
                        contract_id=e.originator_id,
                        kind=text(terms.kind),
                        seller_id=terms.seller_ids[0],
                        buyer_id=terms.buyer_id,
                        buyer_region=buyer.get("region"),
                        achievement_ids=list(terms.achievement_ids),
                    )
                )
            elif t == T_TOOK_EFFECT:
                contract = contracts.get(e.originator_id)
                if contract is not None and contract["kind"] in WAYS and contract["kind"] != "ufpl_licence":
                    self._transfer(achievements, transfers, contract, e.effective_on)
            elif t == T_CONVERTED:
                contract = contracts.get(e.originator_id)
                if contract is not None:
                    self._transfer(achievements, transfers, contract, e.converted_on)
            elif t in ACHIEVEMENT_TOPICS:
                self._achievement(institutions, achievements, t, e)
            else:
                apply_institution_event(institutions, t, e)
        for table in (institutions, contracts, achievements, transfers):
            await table.flush(conn)

    @staticmethod
    def _achievement(institutions: Rows, achievements: Rows, t: str, e: Any) -> None:
        if t == T_A_REGISTERED:
            owner = e.owners[0].institution_id
            who = lookups.attrs(institutions, owner)
            achievements.add(
                ACHIEVEMENTS.blank(
                    achievement_id=e.originator_id,
                    owner_id=owner,
                    owner_kind=who.get("kind"),
                    owner_region=who.get("region"),
                    technology_field=text(e.technology_field),
                    ip_type=text(e.ip_type),
                    service=bool(e.service_achievement),
                    registered_on=e.registered_on,
                    granted_on=e.granted_on,
                    transfers=0,
                )
            )
            return
        row = achievements.get(e.originator_id)
        if row is None:  # pragma: no cover - never before its registration
            return
        if t == T_A_GRANTED:
            row["granted_on"] = e.granted_on
        elif t == T_A_LAPSED:
            row["lapsed_on"] = e.on
        elif t == T_A_ENTERED:
            row["register_entered_on"], row["register_exited_on"] = e.on, None
        elif t == T_A_EXITED:
            row["register_exited_on"] = e.on
        achievements.touch(row)

    @staticmethod
    def _transfer(achievements: Rows, transfers: Rows, contract: Row, on: Any) -> None:
        way = WAYS[contract["kind"]]
        for achievement_id in contract["achievement_ids"]:
            row = achievements.get(achievement_id)
            if row is None:  # an achievement unknown to the ledger: nothing to count
                continue
            local = contract["buyer_region"] is not None and contract["buyer_region"] == row["owner_region"]
            transfers.add(
                TRANSFERS.blank(
                    contract_id=contract["contract_id"],
                    achievement_id=achievement_id,
                    way=way,
                    transferred_on=on,
                    seller_id=contract["seller_id"],
                    owner_id=row["owner_id"],
                    owner_region=row["owner_region"],
                    buyer_id=contract["buyer_id"],
                    buyer_region=contract["buyer_region"],
                    local=local,
                    technology_field=row["technology_field"],
                    ip_type=row["ip_type"],
                )
            )
            row["transfers"] += 1
            first = row["first_transferred_on"]
            if first is None or on < first:
                row.update(first_transferred_on=on, first_way=way,
                           first_contract_id=contract["contract_id"], first_local=local)
            column = {"assignment": "assigned_on", "equity": "equity_on"}.get(way, "licensed_on")
            if row[column] is None or on < row[column]:
                row[column] = on
            achievements.touch(row)
