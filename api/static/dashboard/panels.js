// The panels of each view: where a panel's figures come from and how they become charts and tables.
//
// A panel is {id, title, url(ctx), load?(ctx, api), refreshOn, render(data, ctx)}; render returns
// {formula?, cards?, charts: [{id, option, small?}], tables: [{id, title?, download?, columns, rows}],
// definition?}. Amount cells are formatted from integer fen (money.js), never from a float.

import { code, t, withUnit } from "./i18n.js";

/** The 统计口径 of an answer in both languages (the API serves definition_zh and definition_en beside
 * the definition in the language asked for), so a language switch shows the other without a reload. */
function bilingual(data, extra = {}) {
  if (!data.definition) return undefined;
  return {
    zh: { ...(data.definition_zh || data.definition), ...extra },
    en: { ...(data.definition_en || data.definition), ...extra },
  };
}
import { formatCount, formatFen, formatPercent, plotValue } from "./money.js";

const AMOUNT = "num";

function amountColumn(label, unitName) {
  return { label: withUnit(t(label), unitName), className: AMOUNT };
}

function countColumn(label) {
  return { label: t(label), className: AMOUNT };
}

function textColumn(label) {
  return { label: t(label) };
}

function withFormat(url, extra) {
  return url + (url.includes("?") ? "&" : "?") + extra;
}

// --- charts ---------------------------------------------------------------------------------------

function amountItems(rows, field, unit) {
  return rows.map((r) => ({ value: plotValue(r[field], unit), fen: String(r[field]) }));
}

function amountTooltip(unit, unitName) {
  return {
    trigger: "axis",
    renderMode: "richText", // no HTML tooltips: the CSP allows no inline style
    formatter: (params) => {
      const list = Array.isArray(params) ? params : [params];
      const head = list.length ? list[0].axisValueLabel ?? list[0].name : "";
      return [head, ...list.map((p) => `${p.seriesName}: ${formatFen(p.data.fen, unit)} ${unitName}`)].join("\n");
    },
  };
}

function barOption({ categories, series, unit, unitName, axisName, stacked = false, horizontalLabels = false }) {
  return {
    animation: false,
    legend: { top: 0 },
    grid: { left: 12, right: 12, top: 36, bottom: horizontalLabels ? 12 : 48, containLabel: true },
    tooltip: unit ? amountTooltip(unit, unitName) : { trigger: "axis", renderMode: "richText" },
    xAxis: { type: "category", data: categories, axisLabel: { interval: 0, rotate: horizontalLabels ? 0 : 20 } },
    yAxis: { type: "value", name: axisName },
    series: series.map((s) => ({ type: "bar", stack: stacked ? "total" : undefined, ...s })),
  };
}

// --- contract value -------------------------------------------------------------------------------

const CONTRACT_SERIES = [
  ["series.contractValue", "contract_value_fen"],
  ["series.transactionValue", "transaction_value_fen"],
  ["series.registeredValue", "registered_value_fen"],
];

function contractPanel(id, title, groupBy, keyColumn, keyLabel, refreshOn = []) {
  return {
    id,
    title,
    refreshOn,
    url: (ctx) =>
      `/v1/statistics/contracts?group_by=${groupBy}` + (groupBy === "period" ? `&period=${ctx.period}` : ""),
    render(data, ctx) {
      const groups = data.groups;
      const unit = ctx.unit(groups.flatMap((g) => CONTRACT_SERIES.map(([, f]) => g[f])));
      const unitName = ctx.unitName(unit);
      const categories = groups.map((g) => keyLabel(g.key));
      const series = CONTRACT_SERIES.map(([label, field]) => ({ name: t(label), data: amountItems(groups, field, unit) }));
      const row = (label, g) => [label, formatCount(g.contracts), ...CONTRACT_SERIES.map(([, f]) => formatFen(g[f], unit))];
      return {
        charts: [{ id, option: barOption({ categories, series, unit, unitName, axisName: unitName }) }],
        tables: [{
          id,
          download: this.url(ctx),
          columns: [textColumn(keyColumn), countColumn("col.count"),
            ...CONTRACT_SERIES.map(([label]) => amountColumn(label, unitName))],
          rows: groups.map((g) => row(categories[groups.indexOf(g)], g)),
          total: row(t("total"), data.totals),
        }],
        definition: bilingual(data, { as_of_position: data.projection_position }),
      };
    },
  };
}

// --- transfer rate --------------------------------------------------------------------------------

function transferPanel(id, title, groupBy, keyColumn, keyLabel) {
  return {
    id,
    title,
    refreshOn: ["formula"],
    url: (ctx) => `/v1/statistics/transfer-rate?group_by=${groupBy}&formula=${encodeURIComponent(ctx.formula)}`,
    render(data, ctx) {
      const rows = data.rows;
      const categories = rows.map((r) => keyLabel(r[groupBy], data));
      const rateSeries = {
        name: t("series.rate"),
        data: rows.map((r) => ({ value: r.rate_percent === null ? null : Number(r.rate_percent), percent: r.rate_percent })),
        label: { show: true, position: "top", formatter: (p) => formatPercent(p.data.percent) },
      };
      const row = (label, r) => [label, formatCount(r.numerator), formatCount(r.denominator), formatPercent(r.rate_percent)];
      return {
        formula: `${t("def.formula")}${t("colon")}${data.formula.title} — ${data.formula.formula}`,
        charts: [{ id, option: { ...barOption({ categories, series: [rateSeries], axisName: "%" }), tooltip: { trigger: "axis", renderMode: "richText" } } }],
        tables: [{
          id,
          download: this.url(ctx),
          columns: [textColumn(keyColumn), countColumn("col.numerator"), countColumn("col.denominator"), countColumn("col.rate")],
          rows: rows.map((r, i) => row(categories[i], r)),
          total: row(t("total"), data.totals),
        }],
        definition: bilingual(data),
      };
    },
  };
}

function institutionName(id, data) {
  return (data.institution_names || {})[id] || (id ? `${id.slice(0, 8)}…` : t("unknown"));
}

// --- use first, pay later -------------------------------------------------------------------------

const FUNNEL = ["listed", "signed", "trials_started", "converted", "returned"];

const ufplPanel = {
  id: "ufpl",
  title: "panel.ufpl",
  refreshOn: ["period"],
  url: (ctx) => `/v1/statistics/ufpl-funnel?group_by=period&period=${ctx.period}`,
  render(data, ctx) {
    const totals = data.totals;
    const amounts = ["signed_value_fen", "licensee_revenue_fen", "insurance_compensation_fen"];
    const unit = ctx.unit([...data.rows, totals].flatMap((r) => amounts.map((f) => r[f])));
    const unitName = ctx.unitName(unit);
    const funnel = {
      type: "funnel",
      name: t("series.stages"),
      sort: "none",
      left: "10%",
      width: "80%",
      label: { show: true, position: "inside", formatter: (p) => `${p.name} ${p.value}` },
      data: FUNNEL.map((stage) => ({ name: t(`stage.${stage}`), value: totals[stage], stage })),
    };
    const row = (label, r) => [label, ...["listed", "signed"].map((f) => formatCount(r[f])),
      formatFen(r.signed_value_fen, unit), ...["trials_started", "converted", "returned", "defaulted"].map((f) => formatCount(r[f])),
      formatPercent(r.conversion_rate_percent), formatFen(r.licensee_revenue_fen, unit), formatFen(r.insurance_compensation_fen, unit)];
    return {
      charts: [{ id: "ufpl", option: { animation: false, tooltip: { trigger: "item", renderMode: "richText" }, series: [funnel] } }],
      tables: [{
        id: "ufpl",
        download: this.url(ctx),
        columns: [textColumn("col.period"), countColumn("stage.listed"), countColumn("stage.signed"),
          amountColumn("col.signedValue", unitName), countColumn("stage.trials_started"), countColumn("stage.converted"),
          countColumn("stage.returned"), countColumn("stage.defaulted"), countColumn("col.conversionRate"),
          amountColumn("col.licenseeRevenue", unitName), amountColumn("col.insurance", unitName)],
        rows: data.rows.map((r) => row(r.period, r)),
        total: row(t("total"), totals),
      }],
      definition: bilingual(data),
    };
  },
};

// --- receivables ----------------------------------------------------------------------------------

const receivablesPanel = {
  id: "receivables",
  title: "panel.receivables",
  refreshOn: ["asOf"],
  url: (ctx) => `/v1/statistics/receivables?as_of=${ctx.asOf}&group_by=institution`,
  render(data, ctx) {
    const rows = data.rows;
    const buckets = data.buckets;
    const unit = ctx.unit(rows.flatMap((r) => [r.outstanding_fen, r.not_due_fen, ...buckets.map((b) => r.ageing_fen[b])]));
    const unitName = ctx.unitName(unit);
    const categories = rows.map((r) => institutionName(r.institution, data));
    const series = [
      { name: t("series.notDue"), data: amountItems(rows, "not_due_fen", unit) },
      ...buckets.map((b) => ({
        name: t(`bucket.${b}`),
        data: rows.map((r) => ({ value: plotValue(r.ageing_fen[b], unit), fen: String(r.ageing_fen[b]) })),
      })),
    ];
    const row = (label, r) => [label, formatFen(r.outstanding_fen, unit), formatFen(r.not_due_fen, unit),
      formatFen(r.overdue_fen, unit), ...buckets.map((b) => formatFen(r.ageing_fen[b], unit))];
    return {
      charts: [{ id: "receivables", option: barOption({ categories, series, unit, unitName, axisName: unitName, stacked: true }) }],
      tables: [{
        id: "receivables",
        download: this.url(ctx),
        columns: [textColumn("col.institution"), amountColumn("col.outstanding", unitName),
          amountColumn("series.notDue", unitName), amountColumn("col.overdue", unitName),
          ...buckets.map((b) => amountColumn(`bucket.${b}`, unitName))],
        rows: rows.map((r, i) => row(categories[i], r)),
        total: row(t("total"), data.totals),
      }],
      definition: bilingual(data),
    };
  },
};

// --- the institution's distribution audit ---------------------------------------------------------

const AUDIT_SERIES = [
  ["col.received", "received_fen"],
  ["col.deducted", "deducted_fen"],
  ["col.allocated", "allocated_fen"],
  ["col.paid", "paid_fen"],
];
const DEADLINES = ["paid_in_time", "paid_late", "open", "overdue"];

const auditPanel = {
  id: "audit",
  title: "panel.audit",
  refreshOn: ["asOf"],
  url: (ctx) => `/v1/statistics/distribution-audit?as_of=${ctx.asOf}&group_by=contract`,
  async load(ctx, api) {
    const data = await api(this.url(ctx));
    // Contract titles label the rows; the token reads its own contracts.
    const ids = [...new Set(data.rows.map((r) => r.contract_id))];
    const titles = await Promise.all(ids.map((id) => api(`/v1/contracts/${id}`).then((c) => c.title, () => null)));
    data.contract_titles = Object.fromEntries(ids.map((id, i) => [id, titles[i]]));
    return data;
  },
  render(data, ctx) {
    const rows = data.rows;
    const totals = data.totals;
    const amounts = ["received_fen", "deducted_fen", "net_fen", "allocated_fen", "paid_fen", "unpaid_fen", "team_unpaid_fen"];
    const unit = ctx.unit([...rows, totals].flatMap((r) => amounts.map((f) => r[f])));
    const unitName = ctx.unitName(unit);
    const categories = rows.map((r) => data.contract_titles[r.contract_id] || `${r.contract_id.slice(0, 8)}…`);
    const bars = barOption({
      categories, unit, unitName, axisName: unitName,
      series: AUDIT_SERIES.map(([label, field]) => ({ name: t(label), data: amountItems(rows, field, unit) })),
    });
    const deadlines = {
      animation: false,
      tooltip: { trigger: "item", renderMode: "richText" },
      legend: { bottom: 0 },
      series: [{
        type: "pie",
        name: t("series.deadlines"),
        radius: ["35%", "65%"],
        label: { formatter: (p) => `${p.name}: ${p.value}` },
        data: DEADLINES.map((s) => ({ name: t(`deadline.${s}`), value: totals.deadline[s].lines, status: s })),
      }],
    };
    const deadlineCells = (r) => DEADLINES.map((s) => formatCount(r.deadline?.[s]?.lines ?? 0));
    const row = (label, r) => [label, formatCount(r.receipts), ...amounts.map((f) => formatFen(r[f], unit)),
      formatCount(r.inventors ?? ""), ...deadlineCells(r)];
    const breaches = data.floor_breaches;
    return {
      cards: [["col.received", totals.received_fen], ["col.deducted", totals.deducted_fen], ["col.net", totals.net_fen],
        ["col.allocated", totals.allocated_fen], ["col.paid", totals.paid_fen], ["col.unpaid", totals.unpaid_fen]]
        .map(([label, fen]) => ({ label: withUnit(t(label), unitName), value: formatFen(fen, unit) })),
      charts: [{ id: "audit", option: bars }, { id: "audit-deadlines", option: deadlines, small: true }],
      tables: [
        {
          id: "audit",
          download: this.url(ctx),
          columns: [textColumn("col.contract"), countColumn("col.receipts"),
            ...["col.received", "col.deducted", "col.net", "col.allocated", "col.paid", "col.unpaid", "col.teamUnpaid"]
              .map((label) => amountColumn(label, unitName)),
            countColumn("col.inventors"), ...DEADLINES.map((s) => countColumn(`deadline.${s}`))],
          rows: rows.map((r, i) => row(categories[i], r)),
          total: row(t("total"), { ...totals, inventors: "" }),
        },
        {
          id: "breach-policies",
          title: "panel.breachPolicies",
          download: withFormat(this.url(ctx), "table=floor_breach_policies"),
          columns: [textColumn("col.version"), textColumn("col.effectiveFrom"), textColumn("col.pack"),
            countColumn("col.teamShare"), countColumn("col.floor"), textColumn("col.findings")],
          rows: breaches.policies.map((p) => [p.version_label, p.effective_from, p.pack, formatPercent(p.team_cash_percent),
            formatPercent(p.transfer_floor_percent), p.findings.join("；")]),
        },
        {
          id: "breach-allocations",
          title: "panel.breachAllocations",
          download: withFormat(this.url(ctx), "table=floor_breach_allocations"),
          columns: [textColumn("col.contract"), textColumn("col.receipt"), textColumn("col.receivedOn"),
            amountColumn("col.net", unitName), amountColumn("col.team", unitName), amountColumn("col.teamFloor", unitName),
            amountColumn("col.short", unitName)],
          rows: breaches.allocations.map((a) => [data.contract_titles[a.contract_id] || a.contract_id, a.receipt_id,
            a.received_on, formatFen(a.net_fen, unit), formatFen(a.team_fen, unit), formatFen(a.team_floor_fen, unit),
            formatFen(a.team_short_fen, unit)]),
        },
      ],
      definition: bilingual(data),
    };
  },
};

// --- the institution's register of achievements ---------------------------------------------------

const registerPanel = {
  id: "register",
  title: "panel.register",
  refreshOn: [],
  url: (ctx) => `/v1/institutions/${ctx.who.institution_id}/achievements`,
  render(data, ctx) {
    const yesNo = (v) => t(v ? "yes" : "no");
    return {
      cards: [["summary.achievements", data.totals.achievements], ["col.inRegister", data.totals.in_register],
        ["stage.listed", data.totals.listed], ["summary.transferred", data.totals.transferred]]
        .map(([label, n]) => ({ label: t(label), value: formatCount(n) })),
      charts: [],
      tables: [{
        id: "register",
        download: this.url(ctx),
        columns: [textColumn("col.title"), textColumn("col.ipType"), textColumn("col.field"), textColumn("col.registeredOn"),
          textColumn("col.grantedOn"), textColumn("col.inRegister"), countColumn("col.listings"),
          textColumn("col.transferredOn"), textColumn("col.way")],
        rows: data.rows.map((r) => [r.title, code("ip_type", r.ip_type), code("field", r.technology_field), r.registered_on,
          r.granted_on || "—", yesNo(r.in_register), formatCount(r.listings), r.first_transferred_on || "—",
          r.first_way ? t(`way.${r.first_way}`) : "—"]),
      }],
      definition: bilingual(data),
    };
  },
};

// --- annual reports (downloads only) -------------------------------------------------------------

function reportsPanel(withAnnual) {
  return {
    id: "reports",
    title: "panel.reports",
    refreshOn: ["year"],
    url: () => null,
    render(_data, ctx) {
      const tables = [];
      if (withAnnual) tables.push({ id: "annual", title: "reports.annual", download: `/v1/reports/annual?year=${ctx.year}` });
      tables.push({ id: "autm", title: "reports.autm", download: `/v1/reports/autm?year=${ctx.year}` });
      return { charts: [], tables };
    },
  };
}

// --- the views ------------------------------------------------------------------------------------

export function regulatorPanels() {
  return [
    contractPanel("contracts-period", "panel.contractsPeriod", "period", "col.period", (k) => k, ["period"]),
    contractPanel("contracts-kind", "panel.contractsKind", "kind", "col.kind", (k) => code("kind", k)),
    contractPanel("contracts-region", "panel.contractsRegion", "seller_region", "col.region", (k) => code("region", k)),
    transferPanel("transfer-institution", "panel.transferInstitution", "institution", "col.institution", institutionName),
    transferPanel("transfer-region", "panel.transferRegion", "region", "col.region", (k) => code("region", k)),
    ufplPanel,
    receivablesPanel,
    reportsPanel(false),
  ];
}

export function institutionPanels() {
  return [auditPanel, registerPanel, reportsPanel(true)];
}
