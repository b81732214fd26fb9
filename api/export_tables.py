"""The tables of each download: figures (the JSON a route answers) → :class:`api.exports.Table`.

One builder per figure. Group columns come first (an institution also gets
its name, a region its Chinese name), then the figures, then a totals row
(``合计`` / ``total``) when the figure has groups. Amount columns hold integer fen
here and are rendered as yuan by ``api.exports``. Every header, sheet name and label is
given in Chinese and in English; the download shows the request's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from api.exports import TOTAL_LABEL, Column, Kind, Table, Text, flatten, yuan
from domain.institution import PROVINCES

DIMENSIONS: dict[str, tuple[str, str]] = {
    "key": ("分组", "group"),
    "period": ("期间", "period"),
    "kind": ("合同类别", "contract kind"),
    "contract_kind": ("合同类别", "contract kind"),
    "licence_type": ("许可类型", "licence type"),
    "seller_region": ("卖方地区", "seller region"),
    "buyer_region": ("买方地区", "buyer region"),
    "region": ("地区", "region"),
    "seller_kind": ("卖方类型", "seller kind"),
    "buyer_kind": ("买方类型", "buyer kind"),
    "institution_kind": ("机构类型", "institution kind"),
    "buyer_size": ("买方规模", "buyer size"),
    "technology_field": ("技术领域", "technology field"),
    "field": ("技术领域", "technology field"),
    "ip_type": ("知识产权类型", "IP type"),
    "institution": ("机构", "institution"),
    "institution_id": ("机构", "institution"),
    "contract": ("合同", "contract"),
    "contract_id": ("合同", "contract"),
    "buyer": ("买方", "buyer"),
    "seller": ("卖方", "seller"),
    "local": ("本地转化", "local (buyer in the seller's region)"),
    "bucket": ("账龄", "ageing bucket"),
    "inventor": ("完成人", "inventor"),
    "beneficiary": ("受益方", "beneficiary"),
}
SHEETS_ZH: dict[str, str] = {
    "contract_value": "技术合同成交额", "transfer_rate": "成果转化率", "ufpl_funnel": "先使用后付费转化漏斗",
    "receivables": "应收账款", "distribution_audit": "收益分配审计", "floor_breach_policies": "低于法定下限的政策",
    "floor_breach_allocations": "低于法定下限的分配", "recoveries": "追回款项", "self_implementation_awards": "自行实施奖励",
    "invention_bonuses": "职务发明人奖金", "register": "成果登记台账",
}
"""The Chinese sheet name of each table (the English one is the table's name)."""
INSTITUTION_DIMS = frozenset({"institution", "institution_id", "buyer", "seller"})
REGION_DIMS = frozenset({"region", "seller_region", "buyer_region"})
INSTITUTION_NAME = ("机构名称", "institution name")
REGION_NAME = ("地区名称", "region name")


def _fig(key: str, zh: str, en: str, kind: Kind) -> Column:
    return Column(key, zh, en, kind)


def key_columns(dims: Sequence[str]) -> list[Column]:
    out = []
    for dim in dims:
        out.append(Column(dim, *DIMENSIONS.get(dim, (dim, dim))))
        if dim in INSTITUTION_DIMS:
            out.append(Column(f"{dim}_name", *INSTITUTION_NAME))
        elif dim in REGION_DIMS:
            out.append(Column(f"{dim}_name", *REGION_NAME))
    return out


def key_values(row: Mapping[str, Any], dims: Sequence[str], names: Mapping[str, str]) -> list[Any]:
    out = []
    for dim in dims:
        value = row.get(dim)
        out.append(value)
        if dim in INSTITUTION_DIMS:
            out.append(names.get(str(value), "") if value is not None else "")
        elif dim in REGION_DIMS:
            out.append(PROVINCES.get(str(value), "") if value is not None else "")
    return out


def _table(sheet: str, dims: Sequence[str], figures: Sequence[Column], rows: Sequence[Mapping[str, Any]],
           totals: Mapping[str, Any] | None, names: Mapping[str, str],
           value: Callable[[Mapping[str, Any], Column], Any] | None = None) -> Table:
    get = value or (lambda row, column: row.get(column.key))
    keys = key_columns(dims)
    table = Table(sheet, [*keys, *figures], sheet_zh=SHEETS_ZH.get(sheet))
    for row in rows:
        table.rows.append([*key_values(row, dims, names), *(get(row, c) for c in figures)])
    if totals is not None and keys:
        table.rows.append([TOTAL_LABEL, *([None] * (len(keys) - 1)), *(get(totals, c) for c in figures)])
    return table


# --- 技术合同成交额: the /v1/statistics/contracts answer -----------------------------------------------

CONTRACT_FIGURES = [
    _fig("contracts", "合同数", "contracts", "count"),
    _fig("contract_value_fen", "合同成交额（元）", "contract value", "yuan"),
    _fig("transaction_value_fen", "技术交易额（元）", "transaction value", "yuan"),
    _fig("registered_value_fen", "登记额（元）", "registered value", "yuan"),
]


def contract_value_tables(body: Mapping[str, Any]) -> list[Table]:
    group_by = str(body["group_by"])
    header = DIMENSIONS.get(group_by, DIMENSIONS["key"])
    keys = [Column("key", *header)]
    if group_by in REGION_DIMS:
        keys.append(Column("key_name", *REGION_NAME))
    table = Table("contract_value", [*keys, *CONTRACT_FIGURES], sheet_zh=SHEETS_ZH["contract_value"])
    for group in body["groups"]:
        names = [PROVINCES.get(str(group["key"]), "")] if group_by in REGION_DIMS else []
        table.rows.append([group["key"], *names, *(group[c.key] for c in CONTRACT_FIGURES)])
    if group_by != "none":
        totals = body["totals"]
        table.rows.append([TOTAL_LABEL, *([None] * (len(keys) - 1)), *(totals[c.key] for c in CONTRACT_FIGURES)])
    return [table]


# --- the read side's figures (projections/queries.py, projections/register.py) ---------------------

CONTRACT_VALUE_FIGURES = [
    _fig("count", "合同数", "contracts", "count"),
    _fig("contract_value_fen", "合同成交额（元）", "contract value", "yuan"),
    _fig("transaction_value_fen", "技术交易额（元）", "transaction value", "yuan"),
    _fig("registered_count", "登记合同数", "registered contracts", "count"),
    _fig("registered_value_fen", "登记额（元）", "registered value", "yuan"),
    _fig("cash_received_fen", "到账金额（元）", "cash received", "yuan"),
]
YOY_FIGURES = ("count", "contract_value_fen", "transaction_value_fen", "registered_value_fen",
               "cash_received_fen")

TRANSFER_FIGURES = [
    _fig("numerator", "分子", "numerator", "count"),
    _fig("denominator", "分母", "denominator", "count"),
    _fig("rate_percent", "转化率（%）", "rate", "percent"),
]
UFPL_FIGURES = [
    _fig("listed", "挂牌", "listed", "count"),
    _fig("signed", "签约", "signed", "count"),
    _fig("signed_value_fen", "签约金额（元）", "signed value", "yuan"),
    _fig("trials_started", "试用", "trials started", "count"),
    _fig("converted", "转为付费", "converted", "count"),
    _fig("returned", "退回", "returned", "count"),
    _fig("defaulted", "违约", "defaulted", "count"),
    _fig("conversion_rate_percent", "转化率（%）", "conversion rate", "percent"),
    _fig("licensee_revenue_fen", "新增营收（元）", "licensee revenue", "yuan"),
    _fig("insurance_compensation_fen", "保险先行赔付（元）", "insurance compensation", "yuan"),
]
RECEIVABLE_FIGURES = [
    _fig("items", "应收项", "items", "count"),
    _fig("outstanding_fen", "应收余额（元）", "outstanding", "yuan"),
    _fig("overdue_fen", "逾期（元）", "overdue", "yuan"),
    _fig("not_due_fen", "未到期（元）", "not due", "yuan"),
]
DEADLINES = ("paid_in_time", "paid_late", "open", "overdue")
DEADLINE_HEADERS = {"paid_in_time": ("按期发放", "paid in time"), "paid_late": ("逾期发放", "paid late"),
                    "open": ("期限内待发", "open"), "overdue": ("逾期未发", "overdue")}
AUDIT_FIGURES = [
    _fig("receipts", "收入笔数", "receipts", "count"),
    _fig("received_fen", "收入（元）", "received", "yuan"),
    _fig("deducted_fen", "扣除（元）", "deducted", "yuan"),
    _fig("net_fen", "净收入（元）", "net income", "yuan"),
    _fig("allocated_fen", "已分配（元）", "allocated", "yuan"),
    _fig("paid_fen", "已发放（元）", "paid", "yuan"),
    _fig("unpaid_fen", "未发放（元）", "unpaid", "yuan"),
    _fig("team_allocated_fen", "完成人团队分配（元）", "team allocated", "yuan"),
    _fig("team_paid_fen", "完成人团队已发放（元）", "team paid", "yuan"),
    _fig("team_unpaid_fen", "完成人团队未发放（元）", "team unpaid", "yuan"),
    _fig("inventors", "完成人数", "inventors", "count"),
    *(_fig(f"deadline.{s}.lines", f"{DEADLINE_HEADERS[s][0]}（笔）", f"{DEADLINE_HEADERS[s][1]} lines", "count")
      for s in DEADLINES),
    *(_fig(f"deadline.{s}.unpaid_fen", f"{DEADLINE_HEADERS[s][0]}金额（元）", f"{DEADLINE_HEADERS[s][1]} unpaid", "yuan")
      for s in ("open", "overdue")),
]
POLICY_BREACH_COLUMNS = [
    Column("institution_id", *DIMENSIONS["institution_id"]), Column("institution_name", *INSTITUTION_NAME),
    Column("version_label", "政策版本", "policy version"), Column("effective_from", "生效日期", "effective from", "date"),
    Column("pack", "规则包", "rule pack"), Column("team_cash_percent", "团队现金比例（%）", "team cash share", "percent"),
    Column("transfer_floor_percent", "法定下限（%）", "statutory floor", "percent"),
    Column("bound_by_floor", "受下限约束", "bound by floor", "bool"), Column("findings", "发现", "findings"),
]
ALLOCATION_BREACH_COLUMNS = [
    Column("institution_id", *DIMENSIONS["institution_id"]), Column("institution_name", *INSTITUTION_NAME),
    Column("contract_id", *DIMENSIONS["contract_id"]), Column("receipt_id", "收款编号", "receipt"),
    Column("received_on", "收款日期", "received on", "date"), Column("net_fen", "净收入（元）", "net income", "yuan"),
    Column("team_fen", "团队分配（元）", "team amount", "yuan"),
    Column("team_floor_fen", "法定下限（元）", "floor amount", "yuan"),
    Column("team_short_fen", "差额（元）", "short by", "yuan"),
    Column("floor_percent", "下限比例（%）", "floor", "percent"), Column("policy_version", "政策版本", "policy version"),
]
RECOVERY_FIGURES = [
    _fig("raised_fen", "应追回（元）", "raised", "yuan"), _fig("repaid_fen", "已退回（元）", "repaid", "yuan"),
    _fig("offset_fen", "已抵扣（元）", "offset", "yuan"), _fig("outstanding_fen", "待追回（元）", "outstanding", "yuan"),
]
SELF_AWARD_STATUSES = {"paid_in_time": ("按期发放", "paid in time"), "paid_late": ("逾期发放", "paid late"),
                       "open": ("期限内待发", "open"), "overdue": ("逾期未发", "overdue")}
SELF_AWARD_FIGURES = [
    _fig("awards", "奖励笔数", "awards", "count"), _fig("allocated_fen", "已分配（元）", "allocated", "yuan"),
    _fig("paid_fen", "已发放（元）", "paid", "yuan"), _fig("unpaid_fen", "未发放（元）", "unpaid", "yuan"),
    *(_fig(f"deadline.{s}.lines", f"{h[0]}（笔）", f"{h[1]} lines", "count") for s, h in SELF_AWARD_STATUSES.items()),
    *(_fig(f"deadline.{s}.unpaid_fen", f"{SELF_AWARD_STATUSES[s][0]}金额（元）", f"{SELF_AWARD_STATUSES[s][1]} unpaid",
           "yuan")
      for s in ("open", "overdue")),
]
BONUS_STATUSES = {"due": ("未到期", "due"), "met": ("按期发放", "met"), "met_late": ("逾期发放", "met late"),
                  "overdue": ("逾期未发", "overdue"), "agreed": ("另有约定", "agreed")}
BONUS_FIGURES = [
    _fig("patents", "专利数", "patents", "count"), _fig("floor_fen", "法定最低奖金（元）", "floor", "yuan"),
    _fig("paid_fen", "已发放（元）", "paid", "yuan"), _fig("short_fen", "不足（元）", "short of the floor", "yuan"),
    *(_fig(f"status.{s}.patents", f"{h[0]}（件）", f"{h[1]} patents", "count") for s, h in BONUS_STATUSES.items()),
]
REGISTER_COLUMNS = [
    Column("title", "成果名称", "title"), Column("achievement_id", "成果编号", "achievement id"),
    Column("ip_type", "知识产权类型", "IP type"), Column("technology_field", "技术领域", "technology field"),
    Column("service", "职务成果", "service achievement", "bool"),
    Column("registered_on", "登记日期", "registered on", "date"), Column("granted_on", "授权日期", "granted on", "date"),
    Column("lapsed_on", "失效日期", "lapsed on", "date"),
    Column("in_register", "资产单列管理", "in separate register", "bool"),
    Column("listings", "挂牌次数", "listings", "count"), Column("first_listed_on", "首次挂牌", "first listed", "date"),
    Column("first_transferred_on", "转化日期", "transferred on", "date"), Column("first_way", "转化方式", "way"),
    Column("transfers", "转化次数", "transfers", "count"),
]


def _dotted(row: Mapping[str, Any], column: Column) -> Any:
    value: Any = row
    for part in column.key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def figure_tables(figures: Mapping[str, Any], names: Mapping[str, str], table: str = "rows") -> list[Table]:
    """The tables of a query function's figures; ``names`` maps institution ids to names."""
    kind = figures["figure"]
    rows, totals = figures.get("rows", []), figures.get("totals")
    if kind == "contract_value":
        yoy = [_fig(f"yoy.{f.key}_percent", f"同比（%） {f.zh}", f"YoY {f.key}", "percent")
               for f in CONTRACT_VALUE_FIGURES if f.key in YOY_FIGURES] if figures.get("period") else []
        return [_table("contract_value", _dims(figures), [*CONTRACT_VALUE_FIGURES, *yoy], rows, totals, names,
                       _dotted)]
    if kind == "transfer_rate":
        return [_table("transfer_rate", _dims(figures), TRANSFER_FIGURES, rows, totals, names)]
    if kind == "ufpl_funnel":
        return [_table("ufpl_funnel", _dims(figures), UFPL_FIGURES, rows, totals, names)]
    if kind == "receivables":
        buckets = [_fig(f"ageing_fen.{b}", f"账龄 {b} 天（元）", f"ageing {b} days", "yuan") for b in figures["buckets"]]
        return [_table("receivables", list(figures["group_by"]), [*RECEIVABLE_FIGURES, *buckets], rows,
                       totals, names, _dotted)]
    if kind == "distribution_audit":
        return _audit_tables(figures, names, table)
    if kind == "achievement_register":
        return [_table("register", [], REGISTER_COLUMNS, rows, None, names)]
    raise ValueError(f"no tables for figure {kind!r}")  # pragma: no cover - a programming error


def _dims(figures: Mapping[str, Any]) -> list[str]:
    return list(figures["group_by"])


def _audit_tables(figures: Mapping[str, Any], names: Mapping[str, str], table: str) -> list[Table]:
    group_by = figures["group_by"]
    dims = {"institution": ["institution_id"], "contract": ["institution_id", "contract_id"],
            "inventor": ["institution_id"] if figures["anonymised"] else ["institution_id", "inventor"]}[group_by]
    main = _table("distribution_audit", dims, AUDIT_FIGURES, figures["rows"], figures["totals"], names, _dotted)
    breaches = figures["floor_breaches"]
    policies = Table("floor_breach_policies", POLICY_BREACH_COLUMNS, sheet_zh=SHEETS_ZH["floor_breach_policies"], rows=[
        [*key_values(p, ["institution_id"], names), p["version_label"], p["effective_from"], p["pack"],
         p["team_cash_percent"], p["transfer_floor_percent"], p["bound_by_floor"], "; ".join(p["findings"])]
        for p in breaches["policies"]])
    allocations = Table("floor_breach_allocations", ALLOCATION_BREACH_COLUMNS,
                        sheet_zh=SHEETS_ZH["floor_breach_allocations"], rows=[
        [*key_values(a, ["institution_id"], names), a["contract_id"], a["receipt_id"], a["received_on"],
         a["net_fen"], a["team_fen"], a["team_floor_fen"], a["team_short_fen"], a["floor_percent"],
         a["policy_version"]]
        for a in breaches["allocations"]])
    recovery_dims = ["institution_id", "beneficiary"] + ([] if figures["anonymised"] else ["key"])
    recoveries = figures.get("recoveries", {"rows": []})
    self_awards = figures.get("self_implementation_awards", {"rows": [], "totals": None})
    bonuses = figures.get("invention_bonuses", {"rows": [], "totals": None})
    tables = {"rows": main, "floor_breach_policies": policies, "floor_breach_allocations": allocations,
              "recoveries": _table("recoveries", recovery_dims, RECOVERY_FIGURES, recoveries["rows"], None, names),
              "self_implementation_awards": _table("self_implementation_awards", ["institution_id"],
                                                   SELF_AWARD_FIGURES, self_awards["rows"], self_awards["totals"],
                                                   names, _dotted),
              "invention_bonuses": _table("invention_bonuses", ["institution_id"], BONUS_FIGURES, bonuses["rows"],
                                          bonuses["totals"], names, _dotted)}
    first = tables[table]
    return [first, *(t for t in tables.values() if t is not first)]


# --- annual reports: one sheet per section ------------------------------------------------------------

REPORT_COLUMNS = [Column("item", "项目代码", "item"), Column("value", "数值", "value", "auto"),
                  Column("unit", "单位", "unit"), Column("label", "项目", "label")]
YUAN = Text("元", "yuan")
SHARES = Text("股", "shares")
COUNT = Text("计数", "count")
SUMMARY_SHEET = ("概要", "summary")


def _is_amount(section: str, path: str) -> bool:
    dotted = f"{section}.{path}"
    return dotted.endswith("_fen") or "_fen." in dotted


def _texts(pair: tuple[str, str]) -> Text:
    return Text(*pair)


def report_tables(report: Mapping[str, Any]) -> list[Table]:
    """A summary sheet for the report's title and single values, then one sheet per section, named by
    the section's title (for the annual report, the sections a public institution files:
    一、科技成果转化总体情况 …); every item has its code and its label (projections/reports.py)."""
    from projections.reports import SECTIONS, SHEETS, SKIPPED, TITLES, item_label

    title = TITLES.get(str(report.get("report")))
    summary = Table(SUMMARY_SHEET[1], list(REPORT_COLUMNS), sheet_zh=SUMMARY_SHEET[0], rows=[
        ["title", _texts(title) if title else report.get("title"), None, Text("报告名称", "title")]])
    sections: list[Table] = []
    for section, value in report.items():
        if section in SKIPPED:
            continue
        label = _texts(SECTIONS.get(section, (section, section)))
        if not isinstance(value, Mapping):
            counted = isinstance(value, int) and not isinstance(value, bool) and section not in ("year", "known_at")
            summary.rows.append([section, value, COUNT if counted else None, label])
            continue
        zh, en = SHEETS.get(section, (section[:31], section[:31]))
        sheet = Table(en, list(REPORT_COLUMNS), sheet_zh=zh)
        sheet.rows.append([None, None, None, label])  # the section's full title
        for path, leaf in flatten("", value):
            unit = _unit(section, path, leaf)
            sheet.rows.append([path, yuan(leaf) if unit is YUAN else leaf, unit,
                               Text(item_label(path, "zh"), item_label(path, "en"))])
        sections.append(sheet)
    return [summary, *sections]


def _unit(section: str, path: str, leaf: Any) -> Text | None:
    if isinstance(leaf, bool) or not isinstance(leaf, int):
        return None
    if _is_amount(section, path):
        return YUAN
    return SHARES if path.endswith("shares") else COUNT
