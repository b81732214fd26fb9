// Lists (#/lists/<kind>): search (q), the list's enumerated, yes/no and date filters, sortable columns
// (the sorts the API declares), "more" with the cursor, amounts in 元 from integer fen. A row opens its
// record. The filters and sorts are read from the OpenAPI document, so they follow the API.

import { allowed, get, operation, spec } from "./api.js";
import { bi, el, remember } from "./dom.js";
import { enumLabel, fieldLabel, UI } from "./i18n.js";
import { unwrap } from "./forms.js";
import { formatFen } from "./money.js";

const W = (zh, en) => ({ zh, en });

export const LISTS = {
  contracts: {
    op: "list_contracts", title: W("技术合同", "Contracts"), create: "draft_contract",
    open: (r) => `#/records/contract/${r.id}`,
    seen: (r) => { remember(r.id, r.title); remember(r.seller_ids?.[0], r.seller_name); remember(r.buyer_id, r.buyer_name); },
    columns: [["title"], ["kind", "ContractKind"], ["status", "ContractStatus"], ["seller_name"], ["buyer_name"],
      ["contract_value_fen"], ["signed_on"], ["registered_on"]],
  },
  achievements: {
    op: "list_achievements", title: W("科技成果", "Achievements"), create: "register_achievement",
    open: (r) => `#/records/achievement/${r.id}`, seen: (r) => remember(r.id, r.title),
    columns: [["title"], ["ip_type", "IpType"], ["technology_field", "TechnologyField"], ["registered_on"], ["granted_on"]],
  },
  institutions: {
    op: "list_institutions", title: W("机构", "Institutions"), create: "register_institution",
    open: (r) => `#/records/institution/${r.id}`, seen: (r) => remember(r.id, r.name),
    columns: [["name"], ["kind", "InstitutionKind"], ["size", "EnterpriseSize"], ["region"], ["registered_on"]],
  },
  "due-items": {
    op: "list_due_items", title: W("应收款项", "Due items"),
    open: (r) => `#/records/contract/${r.contract_id}`, seen: (r) => remember(r.contract_id, r.contract_title),
    columns: [["contract_title"], ["label"], ["due_on"], ["amount_fen"], ["outstanding_fen"]],
  },
  receipts: {
    op: "list_receipts", title: W("收款", "Receipts"),
    open: (r) => `#/records/contract/${r.contract_id}`, seen: (r) => remember(r.contract_id, r.contract_title),
    columns: [["contract_title"], ["receipt_id"], ["source"], ["received_on"], ["amount_fen"]],
  },
  registrations: {
    op: "list_registrations", title: W("认定登记", "Registrations"),
    open: (r) => `#/records/contract/${r.id}`, seen: (r) => remember(r.id, r.title),
    columns: [["title"], ["registration_number"], ["registry"], ["approved_category", "ContractKind"], ["registered_on"],
      ["registered_value_fen"]],
  },
  listings: {
    op: "list_listings", title: W("挂牌", "Listings"),
    open: (r) => `#/records/achievement/${r.achievement_id}`,
    seen: (r) => { remember(r.achievement_id, r.title); remember(r.exchange_id, r.exchange_name); },
    columns: [["title"], ["exchange_name"], ["listing_number"], ["listed_on"], ["delisted_on"], ["asking_price_fen"]],
  },
  distributions: {
    op: "list_distributions", title: W("收益分配", "Distributions"), create: "allocate_receipt",
    open: (r) => `#/records/distribution/${r.id}`,
    columns: [["receipt_id"], ["received_on"], ["deadline_on"], ["gross_fen"], ["net_fen"], ["team_fen"], ["team_paid_fen"]],
  },
  "equity-holdings": {
    op: "list_holdings", title: W("作价投资", "Equity holdings"), create: "record_equity_contribution",
    open: (r) => `#/records/equity_holding/${r.id}`, seen: (r) => remember(r.id, r.company_name),
    columns: [["company_name"], ["contributed_on"], ["valuation_fen"], ["shares_held"]],
  },
};

/** The kinds of list this role may read (an exchange reads no distributions or holdings: 403). */
export async function listsFor(role) {
  const out = [];
  for (const [kind, list] of Object.entries(LISTS)) {
    const op = await operation(list.op);
    if (op && allowed(op, role)) out.push(kind);
  }
  return out;
}

export function cell(row, [key, enumName]) {
  const value = row[key];
  if (/_fen$/.test(key)) return el("td", { className: "money", text: formatFen(value) });
  if (enumName) return el("td", { text: enumLabel(enumName, value) });
  if (Array.isArray(value)) return el("td", { text: value.join(", ") });
  return el("td", { text: value === null || value === undefined ? "" : String(value) });
}

const PAGING = new Set(["q", "sort", "cursor", "limit", "min_position", "recorded_by"]);

function filterControls(doc, op) {
  const controls = [];
  for (const param of op.op.parameters || []) {
    if (param.in !== "query" || PAGING.has(param.name)) continue;
    const { s, name } = unwrap(doc, param.schema);
    let input = null;
    if (s.enum) {
      input = el("select", {}, el("option", { value: "", text: `${UI.any.zh} / ${UI.any.en}` }),
        ...s.enum.map((v) => el("option", { value: v, text: enumLabel(name, v) })));
    } else if (s.type === "boolean") {
      input = el("select", {}, el("option", { value: "", text: `${UI.any.zh} / ${UI.any.en}` }),
        el("option", { value: "true", text: `${UI.yes.zh} / ${UI.yes.en}` }),
        el("option", { value: "false", text: `${UI.no.zh} / ${UI.no.en}` }));
    } else if (s.type === "string" && s.format === "date") {
      input = el("input", { type: "date" });
    }
    if (!input) continue;
    input.name = param.name;
    input.className = "filter";
    controls.push(el("label", {}, bi(fieldLabel(param.name, param.name)), input));
  }
  return controls;
}

/** The list page of ``kind``. */
export async function listPage(kind, { navigate, who }) {
  const list = LISTS[kind];
  const card = el("section", { className: "card list-card", id: `list-${kind}`, "data-kind": kind });
  if (!list) {
    card.append(el("p", { className: "error", text: kind }));
    return card;
  }
  const doc = await spec();
  const op = await operation(list.op);
  const sortParam = (op.op.parameters || []).find((p) => p.name === "sort");
  const sorts = unwrap(doc, sortParam?.schema || {}).s.enum || [];
  const state = { sort: unwrap(doc, sortParam?.schema || {}).s.default || sorts[0] || null, cursor: null };

  const heading = el("div", { className: "toolbar" }, el("h2", {}, bi(list.title)));
  if (list.create) {
    const createOp = await operation(list.create);
    if (createOp && allowed(createOp, who.role)) {
      heading.append(el("a", { className: "button new-record", href: `#/forms/${list.create}` }, `+ ${UI.new.zh} / ${UI.new.en}`));
    }
  }
  const q = el("input", { type: "search", id: "list-q", placeholder: `${UI.search.zh} / ${UI.search.en}` });
  const filters = filterControls(doc, op);
  const go = el("button", { type: "submit", className: "primary", id: "list-search" }, bi(UI.search));
  const toolbar = el("form", { className: "toolbar", id: "list-filters" }, el("label", {}, bi(UI.search), q), ...filters, go);
  const head = el("tr");
  const body = el("tbody");
  const table = el("table", { id: "list-table" }, el("thead", {}, head), body);
  const count = el("span", { className: "muted count" });
  const more = el("button", { type: "button", id: "list-more", hidden: true }, bi(UI.more));
  card.append(heading, toolbar, el("div", { className: "table-wrap" }, table), el("div", { className: "actions" }, more, count));

  const headers = () => {
    head.replaceChildren(...list.columns.map(([key]) => {
      const sortable = sorts.includes(key) || sorts.includes(`-${key}`);
      const th = el("th", { className: `${sortable ? "sortable" : ""} ${/_fen$/.test(key) ? "money" : ""}`.trim(), "data-key": key },
        bi(fieldLabel(key, key)), /_fen$/.test(key) ? el("span", { className: "en", text: `（${UI.yuan.zh}）` }) : null);
      if (state.sort === key) th.setAttribute("aria-sort", "ascending");
      if (state.sort === `-${key}`) th.setAttribute("aria-sort", "descending");
      if (sortable) {
        th.addEventListener("click", () => {
          const ascending = sorts.includes(key) ? key : null;
          const descending = sorts.includes(`-${key}`) ? `-${key}` : null;
          state.sort = state.sort === ascending ? descending || ascending : ascending || descending;
          load(false);
        });
      }
      return th;
    }));
  };

  const url = () => {
    const params = new URLSearchParams();
    if (q.value.trim()) params.set("q", q.value.trim());
    for (const input of toolbar.querySelectorAll(".filter")) if (input.value) params.set(input.name, input.value);
    if (state.sort) params.set("sort", state.sort);
    if (state.cursor) params.set("cursor", state.cursor);
    params.set("limit", "50");
    return `${op.path}?${params}`;
  };

  async function load(append) {
    card.dataset.state = "loading";
    if (!append) state.cursor = null;
    headers();
    let page;
    try {
      page = await get(url());
    } catch (error) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: String(list.columns.length), className: "error", text: error.message })));
      card.dataset.state = "error";
      return;
    }
    if (!append) body.replaceChildren();
    for (const row of page.items) {
      list.seen?.(row);
      const tr = el("tr", { className: "link", "data-id": row.id || row.contract_id || row.achievement_id || "" },
        ...list.columns.map((c) => cell(row, c)));
      tr.addEventListener("click", () => navigate(list.open(row)));
      body.append(tr);
    }
    if (!body.children.length) {
      body.append(el("tr", { className: "empty" }, el("td", { colspan: String(list.columns.length) }, bi(UI.none))));
    }
    state.cursor = page.next_cursor;
    more.hidden = !page.next_cursor;
    count.textContent = `${body.querySelectorAll("tr.link").length}`;
    card.dataset.state = "ready";
  }

  toolbar.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  more.addEventListener("click", () => load(true));
  await load(false);
  return card;
}
