"""Annual reports: the institution's transformation report (Law Art. 21) and an AUTM-style summary.

Both read the projections' tables only, return JSON-able dicts with their
``definition`` block, and have a CSV rendering (``*_csv``) of the same
figures: one line per figure, ``section,item,breakdown,value,unit``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

from projections.definitions import TRANSFERRED, definition
from projections.queries import Db, StatisticsQueryError, position_of, read_snapshot

WAYS = ("assignment", "licence", "ufpl", "equity")
CONTRACT_KINDS = (
    "assignment", "licence", "ufpl_licence", "equity_contribution", "development", "consulting",
    "service",
)
TRANSFER_KINDS = ("assignment", "licence", "ufpl_licence", "equity_contribution")
INCOME_CATEGORIES = ("running_royalty", "other", "cashed_in_equity", "dividend")


def _uuid(value: UUID | str, name: str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise StatisticsQueryError(name, f"{value!r} is not a UUID") from None


def _year(year: int) -> tuple[date, date]:
    if not 1900 <= year <= 9999:
        raise StatisticsQueryError("year", f"{year!r} is not a year")
    return date(year, 1, 1), date(year, 12, 31)


async def _positions(conn: Any) -> dict[str, int]:
    return {name: await position_of(conn, name) for name in ("contracts", "transfer", "distribution")}


# --- the institution's annual transformation report (促进科技成果转化法 第21条) -------------------


async def annual_report(db: Db, *, institution_id: UUID | str, year: int) -> dict[str, Any]:
    """科技成果转化年度报告 of one institution for one calendar year."""
    inst = _uuid(institution_id, "institution_id")
    start, end = _year(year)
    async with read_snapshot(db) as conn:
        who = await conn.fetchrow(
            "SELECT name, kind, region, public FROM ct_institutions WHERE institution_id = $1", inst)
        ways = await conn.fetch(
            "SELECT way, count(DISTINCT achievement_id) AS n, count(*) FILTER (WHERE local) AS local "
            "FROM tr_transfers WHERE seller_id = $1 AND transferred_on BETWEEN $2 AND $3 GROUP BY way",
            inst, start, end)
        distinct = await conn.fetchrow(
            "SELECT count(DISTINCT achievement_id) AS n, "
            "count(DISTINCT achievement_id) FILTER (WHERE local) AS local FROM tr_transfers "
            "WHERE seller_id = $1 AND transferred_on BETWEEN $2 AND $3", inst, start, end)
        contracts = await conn.fetch(
            "SELECT kind, count(*) AS n, sum(contract_value_fen)::bigint AS contract_value_fen, "
            "sum(transaction_value_fen)::bigint AS transaction_value_fen, "
            "count(registered_on) AS registered, "
            "coalesce(sum(registered_value_fen), 0)::bigint AS registered_value_fen "
            "FROM ct_contracts WHERE $1 = ANY(seller_ids) AND signed_on BETWEEN $2 AND $3 "
            "AND currency = 'CNY' GROUP BY kind", inst, start, end)
        income = await conn.fetch(
            "SELECT category, sum(amount_fen)::bigint AS amount FROM ct_income "
            "WHERE institution_id = $1 AND received_on BETWEEN $2 AND $3 AND currency = 'CNY' "
            "GROUP BY category", inst, start, end)
        receipts = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(gross_fen), 0)::bigint AS gross, "
            "coalesce(sum(deducted_fen), 0)::bigint AS deducted, coalesce(sum(net_fen), 0)::bigint AS net, "
            "coalesce(sum(team_fen), 0)::bigint AS team FROM dist_receipts "
            "WHERE institution_id = $1 AND received_on BETWEEN $2 AND $3", inst, start, end)
        allocated = await conn.fetchrow(
            "SELECT count(DISTINCT inventor) FILTER (WHERE allocated_fen > 0) AS persons, "
            "coalesce(sum(allocated_fen), 0)::bigint AS amount FROM dist_lines "
            "WHERE institution_id = $1 AND beneficiary = 'inventor_team' "
            "AND received_on BETWEEN $2 AND $3", inst, start, end)
        paid = await conn.fetchrow(
            "SELECT count(DISTINCT inventor) AS persons, coalesce(sum(amount_fen), 0)::bigint AS amount, "
            "coalesce(sum(amount_fen) FILTER (WHERE NOT within_deadline), 0)::bigint AS late "
            "FROM dist_payments WHERE institution_id = $1 AND beneficiary = 'inventor_team' "
            "AND paid_on BETWEEN $2 AND $3", inst, start, end)
        shares = await conn.fetchrow(
            "SELECT count(DISTINCT inventor) AS persons, coalesce(sum(shares), 0)::bigint AS shares "
            "FROM dist_share_awards WHERE institution_id = $1 AND awarded_on BETWEEN $2 AND $3",
            inst, start, end)
        positions = await _positions(conn)
    by_way = {w: 0 for w in WAYS}
    local_by_way = {w: 0 for w in WAYS}
    for r in ways:
        by_way[r["way"]] = int(r["n"])
        local_by_way[r["way"]] = int(r["local"])
    by_kind = {
        k: {"count": 0, "contract_value_fen": 0, "transaction_value_fen": 0, "registered_count": 0,
            "registered_value_fen": 0}
        for k in CONTRACT_KINDS
    }
    for r in contracts:
        by_kind[r["kind"]] = {
            "count": int(r["n"]), "contract_value_fen": int(r["contract_value_fen"]),
            "transaction_value_fen": int(r["transaction_value_fen"]),
            "registered_count": int(r["registered"]), "registered_value_fen": int(r["registered_value_fen"]),
        }
    income_by = {c: 0 for c in INCOME_CATEGORIES}
    for r in income:
        income_by[r["category"]] = int(r["amount"])
    return {
        "report": "annual_transformation_report",
        "title": "科技成果转化年度报告 (促进科技成果转化法 第21条)",
        "institution": {
            "id": str(inst),
            "name": who["name"] if who else None,
            "kind": who["kind"] if who else None,
            "region": who["region"] if who else None,
            "public": who["public"] if who else None,
        },
        "year": year,
        "achievements_transferred": {
            "total": int(distinct["n"]),
            "local": int(distinct["local"]),
            "by_way": by_way,
            "local_by_way": local_by_way,
        },
        "contracts": {
            "by_kind": by_kind,
            "total": {f: sum(v[f] for v in by_kind.values()) for f in next(iter(by_kind.values()))},
        },
        "income": {"by_category_fen": income_by, "total_fen": sum(income_by.values())},
        "distribution": {
            "receipts": int(receipts["n"]),
            "received_fen": int(receipts["gross"]),
            "deducted_fen": int(receipts["deducted"]),
            "net_income_fen": int(receipts["net"]),
            "allocated_to_inventors": {"persons": int(allocated["persons"]),
                                       "amount_fen": int(allocated["amount"])},
            "cash_awards_paid": {"persons": int(paid["persons"]), "amount_fen": int(paid["amount"]),
                                 "paid_after_deadline_fen": int(paid["late"])},
            "share_awards": {"persons": int(shares["persons"]), "shares": int(shares["shares"])},
        },
        "definition": definition(
            figure="annual_transformation_report",
            title="科技成果转化年度报告",
            formula=(
                "achievements_transferred: distinct achievements per way (assignment 转让, licence "
                "许可, UFPL conversion 先使用后付费, equity 作价投资) transferred in the year by "
                "contracts whose lead seller is the institution, total = distinct achievements; "
                "contracts: count and Σ contract / transaction / registered value by kind; income: "
                "Σ income received by category; distribution: receipts allocated in the year, "
                "inventor awards allocated (persons = distinct inventors), cash awards paid in the "
                "year, shares awarded in the year"
            ),
            scope=(
                "Contracts on which the institution is a seller (any seller; CNY only); income and "
                "transfers booked to the institution as lead seller or holder of the equity; "
                "receipts, awards and share awards of the institution. " + TRANSFERRED
            ),
            date_basis=(
                "calendar year: transfers by transfer date, contracts by signing date, income by "
                "receipt date, allocations by receipt date, award payments by payment date, share "
                "awards by award date"
            ),
            status_basis="contracts signed or later (terminated ones included); drafts never",
            currency="CNY; amounts in fen",
            as_of_position=min(positions.values()),
            as_of_positions=positions,
        ),
    }


# --- AUTM-style licensing survey ---------------------------------------------------------------


STARTUP_CONTRACT_KINDS = "('licence', 'ufpl_licence', 'equity_contribution')"
STARTUP_LICENSEE = ("(b.kind = 'enterprise' AND c.signed_on IS NOT NULL "
                    "AND c.signed_on <= b.registered_on + INTERVAL '1 year')")
"""A company the contract ``c`` helped form: its buyer ``b``, an enterprise, signed within a year of its
establishment (the AUTM start-up proxy, see ``autm_report``'s definition)."""


async def autm_report(db: Db, *, year: int, institution_id: UUID | str | None = None) -> dict[str, Any]:
    """AUTM-style metrics for one calendar year, for one institution or all."""
    start, end = _year(year)
    inst = _uuid(institution_id, "institution_id") if institution_id is not None else None
    seller = "($3::uuid IS NULL OR $3 = ANY(seller_ids))"
    async with read_snapshot(db) as conn:
        licences = await conn.fetch(
            "SELECT CASE WHEN licence_type IN ('exclusive', 'sole') THEN 'exclusive' ELSE 'non_exclusive' END AS excl, "
            f"CASE WHEN {STARTUP_LICENSEE} THEN 'startup' "
            "WHEN c.buyer_size = 'large' THEN 'large' "
            "WHEN c.buyer_size IN ('medium', 'small', 'micro') THEN 'small' ELSE 'other' END AS licensee, "
            "count(*) AS n, coalesce(sum(contract_value_fen), 0)::bigint AS value FROM ct_contracts c "
            "LEFT JOIN ct_institutions b ON b.institution_id = c.buyer_id "
            f"WHERE c.kind IN ('licence', 'ufpl_licence') AND c.signed_on BETWEEN $1 AND $2 AND {seller} "
            "AND c.currency = 'CNY' GROUP BY 1, 2", start, end, inst)
        equity_deals = await conn.fetchval(
            "SELECT count(*) FROM ct_contracts WHERE kind = 'equity_contribution' "
            f"AND signed_on BETWEEN $1 AND $2 AND {seller} AND currency = 'CNY'", start, end, inst)
        income = await conn.fetch(
            "SELECT category, source, sum(amount_fen)::bigint AS amount FROM ct_income "
            "WHERE received_on BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR institution_id = $3) "
            "AND contract_kind IN ('assignment', 'licence', 'ufpl_licence', 'equity_contribution') "
            "AND currency = 'CNY' GROUP BY 1, 2", start, end, inst)
        startups = await conn.fetchval(
            "SELECT count(*) FROM ct_institutions b WHERE b.kind = 'enterprise' "
            "AND b.registered_on BETWEEN $1 AND $2 AND EXISTS (SELECT 1 FROM ct_contracts c "
            f"WHERE c.buyer_id = b.institution_id AND c.kind IN {STARTUP_CONTRACT_KINDS} AND {STARTUP_LICENSEE} "
            "AND ($3::uuid IS NULL OR $3 = ANY(c.seller_ids)))", start, end, inst)
        position = await position_of(conn, "contracts")
    executed = {"total": 0, "exclusive": 0, "non_exclusive": 0,
                "to_startups": 0, "to_small_companies": 0, "to_large_companies": 0, "to_others": 0}
    target = {"startup": "to_startups", "small": "to_small_companies", "large": "to_large_companies",
              "other": "to_others"}
    for r in licences:
        n = int(r["n"])
        executed["total"] += n
        executed[r["excl"]] += n
        executed[target[r["licensee"]]] += n
    other_breakdown = {"fixed_and_milestone_payments": 0, "insurance_compensation": 0, "dividends": 0}
    running = cashed = 0
    for r in income:
        amount = int(r["amount"])
        if r["category"] == "running_royalty":
            running += amount
        elif r["category"] == "cashed_in_equity":
            cashed += amount
        elif r["category"] == "dividend":
            other_breakdown["dividends"] += amount
        elif r["source"] == "insurance":
            other_breakdown["insurance_compensation"] += amount
        else:
            other_breakdown["fixed_and_milestone_payments"] += amount
    other = sum(other_breakdown.values())
    return {
        "report": "autm_summary",
        "title": "AUTM-style licensing summary",
        "year": year,
        "institution_id": str(inst) if inst else None,
        "licences_and_options_executed": executed,
        "licences_containing_equity": int(equity_deals),
        "licence_income_fen": {
            "running_royalties": running,
            "cashed_in_equity": cashed,
            "other": other,
            "other_breakdown": other_breakdown,
            "total": running + cashed + other,
        },
        "startups_formed": int(startups),
        "definition": definition(
            figure="autm_summary",
            title="AUTM-style licensing summary",
            formula=(
                "licences executed = licence and UFPL-licence contracts signed in the year (an "
                "option is not a separate contract kind in the ledger); exclusive = exclusive 独占 "
                "or sole 排他 licences, non-exclusive = 普通; to start-ups = licensee is a company "
                "formed around one of the institution's licences or contributions (below), else by the "
                "licensee's size: small = "
                "medium, small or micro enterprises (AUTM: < 500 employees), large = large "
                "enterprises, others = not enterprises; licences containing equity = equity-"
                "contribution contracts (作价投资) signed in the year; running royalties = receipts "
                "settling royalty due items reported on sales, profit or added value; cashed-in "
                "equity = SharesSold proceeds (cash actually received); other = entry fees, "
                "installments, milestone payments and minimum-royalty top-ups, insurance "
                "compensation, and dividends; start-ups formed = companies established (registered) in "
                "the year that signed a licence, UFPL licence or equity contribution (作价投资) with "
                "the institution within a year of their establishment: the proxy for AUTM's "
                "'start-up companies dependent upon the licensing of the institution's technology "
                "for initiation' (AUTM Licensing Activity Survey, definitions). A company formed "
                "earlier that receives a contribution later is not a start-up of the later year; "
                "one whose licence is recorded after the year ends is added to its year (a restatement)"
            ),
            scope=(
                "Licence income on assignment, licence, UFPL licence and equity-contribution "
                "contracts (development, consulting and service fees are not licence income), "
                "booked to the lead seller or the holding institution"
                + (f"; institution {inst}" if inst else "; every institution")
            ),
            date_basis="calendar year: contracts by signing date, income by receipt date, "
            "start-ups by the company's establishment date",
            status_basis="contracts signed or later (terminated ones included); drafts never",
            currency="CNY; amounts in fen",
            as_of_position=position,
        ),
    }


# --- CSV ---------------------------------------------------------------------------------------


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}" if prefix else str(k), v)
    else:
        yield prefix, value


def _unit(path: str) -> str:
    if path.endswith("_fen") or "_fen." in path or path.startswith("licence_income_fen"):
        return "fen"
    if path.endswith("shares"):
        return "shares"
    return "count"


def report_csv(report: dict[str, Any]) -> str:
    """A report as CSV: ``section,item,value,unit`` per figure, then the definition lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "value", "unit"])
    skip = {"report", "title", "definition"}
    for key, value in report.items():
        if key in skip:
            continue
        for path, leaf in _flatten("", value):
            writer.writerow([key, path, "" if leaf is None else leaf, _unit(f"{key}.{path}")])
    for key, value in report["definition"].items():
        for path, leaf in _flatten("", value):
            writer.writerow(["definition", f"{key}.{path}" if path else key, leaf, ""])
    return out.getvalue()


def annual_report_csv(report: dict[str, Any]) -> str:
    return report_csv(report)


def autm_report_csv(report: dict[str, Any]) -> str:
    return report_csv(report)
