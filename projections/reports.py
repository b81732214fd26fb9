"""Annual reports: the institution's transformation report (Law Art. 21) and an AUTM-style summary.

Both read the projections' tables only, return JSON-able dicts with their
``definition`` block, and have a CSV rendering (``*_csv``) of the same
figures: one line per figure, ``section,item,breakdown,value,unit``.

Both take ``known_at``, a log position: the figures are then those of the events
recorded up to it (projections/queries.py, "As known at"), so a report filed
once can be produced again with the same figures after back-dated entries. Each
report states the pair it answers for: ``as_of`` (the business date, the year's
last day) and ``known_at`` (what the ledger knew).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

from projections.definitions import TRANSFERRED, definition
from projections.queries import (
    Db,
    Sql,
    StatisticsQueryError,
    check_known_at,
    known,
    known_position,
    position_of,
    read_snapshot,
)

WAYS = ("assignment", "licence", "ufpl", "equity")
CONTRACT_KINDS = (
    "assignment", "licence", "ufpl_licence", "equity_contribution", "development", "consulting",
    "service",
)
TRANSFER_KINDS = ("assignment", "licence", "ufpl_licence", "equity_contribution")
INCOME_CATEGORIES = ("running_royalty", "other", "cashed_in_equity", "dividend")

ANNUAL_DEFINITION: dict[str, str] = {
    "title": "Annual transformation report (Law on Promoting the Transformation of Scientific and "
             "Technological Achievements, Art. 21)",
    "formula": (
        "achievements_transferred: distinct achievements per way (assignment 转让, licence "
        "许可, UFPL conversion 先使用后付费, equity 作价投资) transferred in the year by "
        "contracts whose lead seller is the institution, total = distinct achievements; "
        "contracts: count and Σ contract / transaction / registered value by kind; income: "
        "Σ income received by category; distribution: receipts allocated in the year, "
        "inventor awards allocated (persons = distinct inventors), cash awards paid in the "
        "year, shares awarded in the year"
    ),
    "scope": (
        "Contracts on which the institution is a seller (any seller; CNY only); income and "
        "transfers booked to the institution as lead seller or holder of the equity; "
        "receipts, awards and share awards of the institution. "
    ),
    "date_basis": (
        "calendar year: transfers by transfer date, contracts by signing date, income by "
        "receipt date, allocations by receipt date, award payments by payment date, share "
        "awards by award date"
    ),
    "status_basis": "contracts signed or later (terminated ones included); drafts never",
    "currency": "CNY; amounts in fen",
}
"""The annual report's definition (统计口径) in English; projections/definitions_zh.py has its Chinese.
The scope is followed by ``definitions.TRANSFERRED``."""

AUTM_DEFINITION: dict[str, str] = {
    "title": "AUTM-style licensing summary",
    "formula": (
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
    "scope": (
        "Licence income on assignment, licence, UFPL licence and equity-contribution "
        "contracts (development, consulting and service fees are not licence income), "
        "booked to the lead seller or the holding institution"
    ),
    "date_basis": "calendar year: contracts by signing date, income by receipt date, "
    "start-ups by the company's establishment date",
    "status_basis": "contracts signed or later (terminated ones included); drafts never",
    "currency": "CNY; amounts in fen",
}
"""The AUTM summary's definition in English; its scope is followed by ``; institution <id>`` or
``; every institution``."""


def _uuid(value: UUID | str, name: str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise StatisticsQueryError(name, f"{value!r} is not a UUID", f"{value!r} 不是 UUID") from None


def _year(year: int) -> tuple[date, date]:
    if not 1900 <= year <= 9999:
        raise StatisticsQueryError("year", f"{year!r} is not a year", f"{year!r} 不是年份")
    return date(year, 1, 1), date(year, 12, 31)


async def _positions(conn: Any) -> dict[str, int]:
    return {name: await position_of(conn, name) for name in ("contracts", "transfer", "distribution")}


# --- the institution's annual transformation report (促进科技成果转化法 第21条) -------------------


async def annual_report(db: Db, *, institution_id: UUID | str, year: int,
                        known_at: int | None = None) -> dict[str, Any]:
    """科技成果转化年度报告 of one institution for one calendar year, as known at ``known_at``."""
    inst = _uuid(institution_id, "institution_id")
    start, end = _year(year)
    check_known_at(known_at)
    who_sql = Sql([inst])  # $1: the institution
    sql = Sql([inst, start, end])  # $1, $2, $3: the institution and the year; then known_at

    def t(table: str) -> str:
        return known(sql, table, known_at)

    async with read_snapshot(db) as conn:
        positions = await _positions(conn)
        used = known_position(known_at, positions)
        p = sql.params
        who = await conn.fetchrow(
            "SELECT name, kind, region, public FROM "
            f"{known(who_sql, 'ct_institutions', known_at)} WHERE institution_id = $1", *who_sql.params)
        ways = await conn.fetch(
            "SELECT way, count(DISTINCT achievement_id) AS n, count(*) FILTER (WHERE local) AS local "
            f"FROM {t('tr_transfers')} WHERE seller_id = $1 AND transferred_on BETWEEN $2 AND $3 GROUP BY way",
            *p)
        distinct = await conn.fetchrow(
            "SELECT count(DISTINCT achievement_id) AS n, "
            f"count(DISTINCT achievement_id) FILTER (WHERE local) AS local FROM {t('tr_transfers')} "
            "WHERE seller_id = $1 AND transferred_on BETWEEN $2 AND $3", *p)
        contracts = await conn.fetch(
            "SELECT kind, count(*) AS n, sum(contract_value_fen)::bigint AS contract_value_fen, "
            "sum(transaction_value_fen)::bigint AS transaction_value_fen, "
            "count(registered_on) AS registered, "
            "coalesce(sum(registered_value_fen), 0)::bigint AS registered_value_fen "
            f"FROM {t('ct_contracts')} WHERE $1 = ANY(seller_ids) AND signed_on BETWEEN $2 AND $3 "
            "AND currency = 'CNY' GROUP BY kind", *p)
        income = await conn.fetch(
            f"SELECT category, sum(amount_fen)::bigint AS amount FROM {t('ct_income')} "
            "WHERE institution_id = $1 AND received_on BETWEEN $2 AND $3 AND currency = 'CNY' "
            "GROUP BY category", *p)
        receipts = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(gross_fen), 0)::bigint AS gross, "
            "coalesce(sum(deducted_fen), 0)::bigint AS deducted, coalesce(sum(net_fen), 0)::bigint AS net, "
            f"coalesce(sum(team_fen), 0)::bigint AS team FROM {t('dist_receipts')} "
            "WHERE institution_id = $1 AND received_on BETWEEN $2 AND $3", *p)
        allocated = await conn.fetchrow(
            "SELECT count(DISTINCT inventor) FILTER (WHERE allocated_fen > 0) AS persons, "
            f"coalesce(sum(allocated_fen), 0)::bigint AS amount FROM {t('dist_lines')} "
            "WHERE institution_id = $1 AND beneficiary = 'inventor_team' "
            "AND received_on BETWEEN $2 AND $3", *p)
        paid = await conn.fetchrow(
            "SELECT count(DISTINCT inventor) AS persons, coalesce(sum(amount_fen), 0)::bigint AS amount, "
            "coalesce(sum(amount_fen) FILTER (WHERE NOT within_deadline), 0)::bigint AS late "
            f"FROM {t('dist_payments')} WHERE institution_id = $1 AND beneficiary = 'inventor_team' "
            "AND paid_on BETWEEN $2 AND $3", *p)
        shares = await conn.fetchrow(
            "SELECT count(DISTINCT inventor) AS persons, coalesce(sum(shares), 0)::bigint AS shares "
            f"FROM {t('dist_share_awards')} WHERE institution_id = $1 AND awarded_on BETWEEN $2 AND $3",
            *p)
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
        "title": ANNUAL_TITLE[0],
        "institution": {
            "id": str(inst),
            "name": who["name"] if who else None,
            "kind": who["kind"] if who else None,
            "region": who["region"] if who else None,
            "public": who["public"] if who else None,
        },
        "year": year,
        "as_of": end.isoformat(),
        "known_at": used,
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
            title=ANNUAL_DEFINITION["title"],
            formula=ANNUAL_DEFINITION["formula"],
            scope=ANNUAL_DEFINITION["scope"] + TRANSFERRED,
            date_basis=ANNUAL_DEFINITION["date_basis"],
            status_basis=ANNUAL_DEFINITION["status_basis"],
            currency=ANNUAL_DEFINITION["currency"],
            as_of_position=min(positions.values()),
            as_of_positions=positions,
            as_of=end.isoformat(),
            known_at=used,
        ),
    }


# --- AUTM-style licensing survey ---------------------------------------------------------------


STARTUP_CONTRACT_KINDS = "('licence', 'ufpl_licence', 'equity_contribution')"
STARTUP_LICENSEE = ("(b.kind = 'enterprise' AND c.signed_on IS NOT NULL "
                    "AND c.signed_on <= b.registered_on + INTERVAL '1 year')")
"""A company the contract ``c`` helped form: its buyer ``b``, an enterprise, signed within a year of its
establishment (the AUTM start-up proxy, see ``autm_report``'s definition)."""


async def autm_report(db: Db, *, year: int, institution_id: UUID | str | None = None,
                      known_at: int | None = None) -> dict[str, Any]:
    """AUTM-style metrics for one calendar year, for one institution or all, as known at ``known_at``."""
    start, end = _year(year)
    inst = _uuid(institution_id, "institution_id") if institution_id is not None else None
    check_known_at(known_at)
    seller = "($3::uuid IS NULL OR $3 = ANY(seller_ids))"
    sql = Sql([start, end, inst])  # $1, $2: the year; $3: the institution or NULL; then known_at
    contracts = known(sql, "ct_contracts", known_at)
    c, b = known(sql, "ct_contracts", known_at, "c"), known(sql, "ct_institutions", known_at, "b")
    income_t = known(sql, "ct_income", known_at)
    p = sql.params
    async with read_snapshot(db) as conn:
        position = await position_of(conn, "contracts")
        used = known_position(known_at, {"contracts": position})
        licences = await conn.fetch(
            "SELECT CASE WHEN licence_type IN ('exclusive', 'sole') THEN 'exclusive' ELSE 'non_exclusive' END AS excl, "
            f"CASE WHEN {STARTUP_LICENSEE} THEN 'startup' "
            "WHEN c.buyer_size = 'large' THEN 'large' "
            "WHEN c.buyer_size IN ('medium', 'small', 'micro') THEN 'small' ELSE 'other' END AS licensee, "
            f"count(*) AS n, coalesce(sum(contract_value_fen), 0)::bigint AS value FROM {c} "
            f"LEFT JOIN {b} ON b.institution_id = c.buyer_id "
            f"WHERE c.kind IN ('licence', 'ufpl_licence') AND c.signed_on BETWEEN $1 AND $2 AND {seller} "
            "AND c.currency = 'CNY' GROUP BY 1, 2", *p)
        equity_deals = await conn.fetchval(
            f"SELECT count(*) FROM {contracts} WHERE kind = 'equity_contribution' "
            f"AND signed_on BETWEEN $1 AND $2 AND {seller} AND currency = 'CNY'", *p)
        income = await conn.fetch(
            f"SELECT category, source, sum(amount_fen)::bigint AS amount FROM {income_t} "
            "WHERE received_on BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR institution_id = $3) "
            "AND contract_kind IN ('assignment', 'licence', 'ufpl_licence', 'equity_contribution') "
            "AND currency = 'CNY' GROUP BY 1, 2", *p)
        startups = await conn.fetchval(
            f"SELECT count(*) FROM {b} WHERE b.kind = 'enterprise' "
            f"AND b.registered_on BETWEEN $1 AND $2 AND EXISTS (SELECT 1 FROM {c} "
            f"WHERE c.buyer_id = b.institution_id AND c.kind IN {STARTUP_CONTRACT_KINDS} AND {STARTUP_LICENSEE} "
            "AND ($3::uuid IS NULL OR $3 = ANY(c.seller_ids)))", *p)
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
        "title": AUTM_TITLE[1],
        "year": year,
        "as_of": end.isoformat(),
        "known_at": used,
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
            title=AUTM_DEFINITION["title"],
            formula=AUTM_DEFINITION["formula"],
            scope=AUTM_DEFINITION["scope"] + (f"; institution {inst}" if inst else "; every institution"),
            date_basis=AUTM_DEFINITION["date_basis"],
            status_basis=AUTM_DEFINITION["status_basis"],
            currency=AUTM_DEFINITION["currency"],
            as_of_position=position,
            as_of=end.isoformat(),
            known_at=used,
        ),
    }


# --- section titles and item labels, in Chinese and English ----------------------------------------

ANNUAL_TITLE = ("科技成果转化年度报告（《促进科技成果转化法》第二十一条）",
                "Annual report on the transformation of scientific and technological achievements "
                "(Law on Promoting the Transformation of Scientific and Technological Achievements, Art. 21)")
AUTM_TITLE = ("AUTM 式许可活动统计摘要", "AUTM-style licensing summary")
TITLES: dict[str, tuple[str, str]] = {"annual_transformation_report": ANNUAL_TITLE, "autm_summary": AUTM_TITLE}

SECTIONS: dict[str, tuple[str, str]] = {
    # 科技成果转化年度报告: the sections a public institution files (促进科技成果转化法 第二十一条)
    "institution": ("报告单位", "Reporting institution"),
    "year": ("报告年度", "Year"),
    "as_of": ("截至日期（业务日期）", "As of (business date)"),
    "known_at": ("知悉时点（日志位置：只计记录到该位置的事件）",
                 "Known at (log position: only events recorded up to it count)"),
    "achievements_transferred": ("一、科技成果转化总体情况", "I. Overall transformation of achievements"),
    "contracts": ("二、科技成果转化合同情况（转让、许可、作价投资）",
                  "II. Transformation contracts (assignment, licence, equity investment)"),
    "income": ("三、科技成果转化收入情况", "III. Income from transformation"),
    "distribution": ("四、收益分配与奖励情况（对完成、转化职务科技成果作出重要贡献人员的奖励）",
                     "IV. Income distribution and awards (to persons who made important contributions to "
                     "completing and transforming service achievements)"),
    # AUTM-style summary
    "institution_id": ("机构", "Institution"),
    "licences_and_options_executed": ("签订的许可（含期权）", "Licences and options executed"),
    "licences_containing_equity": ("含股权的许可（作价投资）", "Licences containing equity"),
    "licence_income_fen": ("许可收入", "Licence income"),
    "startups_formed": ("新设初创企业", "Start-ups formed"),
}
"""Each section of the reports: its title in Chinese and in English (downloads name sheets by them)."""

SHEETS: dict[str, tuple[str, str]] = {
    "institution": ("报告单位", "Institution"),
    "achievements_transferred": ("一、科技成果转化总体情况", "I. Overall transformation"),
    "contracts": ("二、科技成果转化合同情况", "II. Contracts"),
    "income": ("三、科技成果转化收入情况", "III. Income"),
    "distribution": ("四、收益分配与奖励情况", "IV. Distribution and awards"),
    "licences_and_options_executed": ("签订的许可（含期权）", "Licences and options executed"),
    "licence_income_fen": ("许可收入", "Licence income"),
}
"""A section's sheet name (at most 31 characters: the title without its parenthesis)."""

ITEMS: dict[str, tuple[str, str]] = {
    "id": ("编号", "id"), "name": ("名称", "name"), "kind": ("类型", "kind"), "region": ("地区", "region"),
    "public": ("公立", "public"), "total": ("合计", "total"), "local": ("本地转化", "local"),
    "by_way": ("按转化方式", "by way"), "local_by_way": ("本地转化按转化方式", "local, by way"),
    "assignment": ("转让", "assignment"), "licence": ("许可", "licence"), "ufpl": ("先使用后付费", "UFPL"),
    "equity": ("作价投资", "equity"), "by_kind": ("按合同类别", "by kind"),
    "ufpl_licence": ("先使用后付费许可", "UFPL licence"), "equity_contribution": ("作价投资", "equity contribution"),
    "development": ("技术开发", "development"), "consulting": ("技术咨询", "consulting"),
    "service": ("技术服务", "service"), "count": ("合同份数", "contracts"),
    "contract_value_fen": ("合同成交额", "contract value"),
    "transaction_value_fen": ("技术交易额", "transaction value"),
    "registered_count": ("登记合同数", "registered contracts"), "registered_value_fen": ("登记额", "registered value"),
    "by_category_fen": ("按收入类别", "by category"), "running_royalty": ("提成收入", "running royalty"),
    "other": ("其他", "other"), "cashed_in_equity": ("股权变现收入", "cashed-in equity"),
    "dividend": ("分红", "dividend"), "total_fen": ("合计", "total"), "receipts": ("收款笔数", "receipts"),
    "received_fen": ("收入", "received"), "deducted_fen": ("扣除", "deducted"),
    "net_income_fen": ("净收入", "net income"),
    "allocated_to_inventors": ("分配给成果完成人", "allocated to inventors"), "persons": ("人数", "persons"),
    "amount_fen": ("金额", "amount"), "cash_awards_paid": ("已发放现金奖励", "cash awards paid"),
    "paid_after_deadline_fen": ("其中逾期发放", "paid after the deadline"),
    "share_awards": ("股权奖励", "share awards"), "shares": ("股数", "shares"),
    "exclusive": ("独占或排他许可", "exclusive"), "non_exclusive": ("普通许可", "non-exclusive"),
    "to_startups": ("许可给初创企业", "to start-ups"), "to_small_companies": ("许可给中小微企业", "to small companies"),
    "to_large_companies": ("许可给大型企业", "to large companies"), "to_others": ("许可给其他", "to others"),
    "running_royalties": ("提成收入", "running royalties"), "other_breakdown": ("其他收入构成", "other, by kind"),
    "fixed_and_milestone_payments": ("固定及里程碑付款", "fixed and milestone payments"),
    "insurance_compensation": ("保险先行赔付", "insurance compensation"), "dividends": ("分红", "dividends"),
}
"""The label of each part of an item's path (``by_kind.licence.count`` → 按合同类别·许可·合同份数)."""

SKIPPED = frozenset({"report", "title", "definition", "definition_zh", "definition_en", "sections", "labels"})


def pick(texts: tuple[str, str], lang: str) -> str:
    return texts[0] if lang == "zh" else texts[1]


def item_label(path: str, lang: str) -> str:
    """An item's label in ``lang``: its path's parts' labels joined (a part without one stays as it is)."""
    joint = "·" if lang == "zh" else " · "
    return joint.join(pick(ITEMS.get(part, (part, part)), lang) for part in path.split("."))


def localize_report(report: dict[str, Any], lang: str) -> dict[str, Any]:
    """The report with its ``title`` in ``lang``, and ``sections`` (each section's title) and ``labels``
    (each item's label, by ``section.item``) in ``lang``; the figures are unchanged."""
    out = dict(report)
    if report.get("report") in TITLES:
        out["title"] = pick(TITLES[report["report"]], lang)
    out["sections"] = {key: pick(SECTIONS[key], lang) for key in report if key in SECTIONS}
    out["labels"] = {
        f"{key}.{path}": item_label(path, lang)
        for key, value in report.items() if key not in SKIPPED and isinstance(value, dict)
        for path, _ in _flatten("", value)
    }
    return out


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


UNITS: dict[str, tuple[str, str]] = {"fen": ("分", "fen"), "shares": ("股", "shares"), "count": ("计数", "count")}
CSV_HEADER: dict[str, list[str]] = {"zh": ["部分", "项目代码", "项目", "数值", "单位"],
                                    "en": ["section", "item", "label", "value", "unit"]}
DEFINITION_LABEL: dict[str, str] = {"zh": "统计口径", "en": "definition"}


def report_csv(report: dict[str, Any], lang: str = "zh") -> str:
    """A report as CSV in ``lang``: ``section,item,label,value,unit`` per figure (the section's title,
    the item's code and its label), then the definition lines."""
    lang = "zh" if lang == "zh" else "en"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER[lang])
    for key, value in report.items():
        if key in SKIPPED:
            continue
        title = pick(SECTIONS.get(key, (key, key)), lang)
        for path, leaf in _flatten("", value):
            counted = isinstance(leaf, int) and not isinstance(leaf, bool) and key not in ("year", "known_at")
            unit = pick(UNITS[_unit(f"{key}.{path}")], lang) if counted else ""
            writer.writerow([title, path, item_label(path, lang) if path else title,
                             "" if leaf is None else leaf, unit])
    for key, value in report["definition"].items():
        for path, leaf in _flatten("", value):
            writer.writerow([DEFINITION_LABEL[lang], f"{key}.{path}" if path else key, "", leaf, ""])
    return out.getvalue()


def annual_report_csv(report: dict[str, Any], lang: str = "zh") -> str:
    return report_csv(report, lang)


def autm_report_csv(report: dict[str, Any], lang: str = "zh") -> str:
    return report_csv(report, lang)
