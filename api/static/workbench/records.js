// Record pages (#/records/<kind>/<id>): a contract with its terms, due items, receipts, credits,
// registration and corrections, journal and history (录入人 / recorded by); an achievement, an
// institution, a distribution (simpler); each with buttons for the commands this role may issue on it,
// opening the generated form with the record's version (If-Match). A record out of view is 404: "not
// found", the same as a missing one.

import { allowed, ApiError, get, operations } from "./api.js";
import { bi, el, nameOf, remember, when } from "./dom.js";
import { enumLabel, fieldLabel, operationLabel, UI } from "./i18n.js";
import { formatFen } from "./money.js";

const W = (zh, en) => ({ zh, en });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const KINDS = {
  contract: { read: "/v1/contracts/", collection: "contracts", title: W("技术合同", "Contract"),
    primary: ["sign_contract", "register_contract", "request_registration_correction", "correct_registration",
      "take_effect", "record_payment", "end_contract", "amend_terms"] },
  achievement: { read: "/v1/achievements/", collection: "achievements", title: W("科技成果", "Achievement"),
    primary: ["list_on_exchange", "delist", "record_patent_grant", "record_valuation", "publish_notice"] },
  institution: { read: "/v1/institutions/", collection: "institutions", title: W("机构", "Institution"),
    primary: ["rename_institution", "set_enterprise_size", "adopt_distribution_policy"] },
  distribution: { read: "/v1/distributions/", collection: "distributions", title: W("收益分配", "Distribution"),
    primary: ["pay_award", "publish_award_notice"] },
  equity_holding: { read: "/v1/equity-holdings/", collection: "equity-holdings", title: W("作价投资", "Equity holding"),
    primary: ["record_contribution_decision", "receive_dividend"] },
  self_implementation: { read: "/v1/self-implementations/", collection: "self-implementations",
    title: W("自行实施", "Self-implementation"), primary: ["report_profit", "pay_self_implementation_award"] },
};

// ---- pieces -----------------------------------------------------------------------------------------

function display(key, value, enumName) {
  if (value === null || value === undefined) return "";
  if (/_fen$/.test(key) && (typeof value === "number" || typeof value === "string")) return `${formatFen(value)} 元`;
  if (enumName) return enumLabel(enumName, value);
  if (typeof value === "boolean") return value ? `${UI.yes.zh} / ${UI.yes.en}` : `${UI.no.zh} / ${UI.no.en}`;
  if (Array.isArray(value)) return value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A definition list of ``keys`` of ``record``: [key, enumName?, render?]. */
function facts(record, keys) {
  const list = el("dl", { className: "facts" });
  for (const [key, enumName, render] of keys) {
    const value = record[key];
    if (value === null || value === undefined || (Array.isArray(value) && !value.length)) continue;
    list.append(el("dt", {}, bi(fieldLabel(key, key))),
      el("dd", { "data-key": key, text: render ? render(value) : display(key, value, enumName) }));
  }
  return list;
}

/** A table of objects, one column per scalar key (amounts in 元). */
function table(id, rows, columns = null) {
  const keys = columns || [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] !== "object" || r[k] === null)))];
  const head = el("tr", {}, ...keys.map((k) => el("th", { className: /_fen$/.test(k) ? "money" : "" }, bi(fieldLabel(k, k)))));
  const body = el("tbody", {}, ...(rows.length ? rows.map((r) => el("tr", {}, ...keys.map((k) => el("td", {
    className: /_fen$/.test(k) ? "money" : "", "data-key": k,
    text: /_fen$/.test(k) && r[k] !== null && r[k] !== undefined ? formatFen(r[k]) : display(k, r[k]),
  })))) : [el("tr", { className: "empty" }, el("td", { colspan: String(keys.length || 1) }, bi(UI.none)))]));
  return el("div", { className: "table-wrap" }, el("table", { id }, el("thead", {}, head), body));
}

function section(id, title, ...content) {
  return el("section", { className: "card", id }, el("h3", {}, bi(title)), ...content);
}

/** A tree of terms (payment terms, licence, UFPL) as nested lists; amounts in 元. */
function tree(value, key = "") {
  if (value === null || value === undefined) return el("span", { className: "muted", text: "—" });
  if (Array.isArray(value)) {
    if (!value.length) return el("span", { className: "muted", text: "—" });
    return el("ol", {}, ...value.map((v) => el("li", {}, tree(v, key))));
  }
  if (typeof value === "object") {
    return el("dl", { className: "facts" }, ...Object.entries(value).flatMap(([k, v]) => [
      el("dt", {}, bi(fieldLabel(k, k))), el("dd", { "data-key": k }, tree(v, k))]));
  }
  return el("span", { text: display(key, value) });
}

async function historySection(id) {
  try {
    const doc = await get(`/v1/records/${id}/history`);
    const rows = doc.events.map((e) => el("tr", { "data-version": String(e.version) },
      el("td", { text: String(e.version) }), el("td", { text: e.event }), el("td", { text: when(e.recorded_at) }),
      el("td", { className: "recorded-by", text: e.recorded_by ? e.recorded_by.label : "—" })));
    return section("record-history", UI.history, el("div", { className: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { text: "#" }), el("th", {}, bi(UI.event)), el("th", {}, bi(UI.at)),
        el("th", {}, bi(UI.recordedBy)))), el("tbody", {}, ...rows))));
  } catch (error) {
    return section("record-history", UI.history, el("p", { className: "error", text: error.message }));
  }
}

/** The buttons of the commands this role may issue on the record: POST <collection>/{id}/…. */
async function commandButtons(kind, id, version, role) {
  const spec = KINDS[kind];
  const prefix = `/v1/${spec.collection}/{`;
  const ops = (await operations()).filter((o) => o.method === "POST" && o.path.startsWith(prefix)
    && /^\/v1\/[^/]+\/\{[^}]+\}\/.+/.test(o.path) && allowed(o, role));
  const link = (o) => {
    const [, param] = /\{([^}]+)\}/.exec(o.path);
    const params = new URLSearchParams({ [param]: id });
    if (version !== null && version !== undefined) params.set("version", String(version));
    return el("a", { className: "button command", href: `#/forms/${o.operationId}?${params}`, "data-operation": o.operationId },
      bi(operationLabel(o.operationId, o.op.summary)));
  };
  const primary = spec.primary.map((p) => ops.find((o) => o.operationId === p)).filter(Boolean);
  const rest = ops.filter((o) => !primary.includes(o));
  const box = el("div", { className: "actions", id: "record-commands" }, ...primary.map(link));
  if (rest.length) {
    box.append(el("details", {}, el("summary", {}, bi(UI.moreCommands)), el("div", { className: "actions" }, ...rest.map(link))));
  }
  return box;
}

let viewer = null;

/** An institution's name: read when this token sees it (its own, or every one for admin), else as listed. */
async function institutionName(id) {
  if (!UUID.test(String(id))) return String(id);
  const seesAll = viewer && (viewer.role === "admin" || viewer.role === "regulator");
  if (!seesAll && String(id) !== String(viewer?.institution_id)) return nameOf(id);
  try {
    const inst = await get(`/v1/institutions/${id}`);
    remember(inst.id, inst.name);
    return inst.name;
  } catch {
    return nameOf(id);
  }
}

async function achievementTitle(id) {
  try {
    const a = await get(`/v1/achievements/${id}`);
    remember(a.id, a.title);
    return a.title;
  } catch {
    return nameOf(id);
  }
}

// ---- the pages --------------------------------------------------------------------------------------

async function contractBody(c) {
  // The parties' names as the contract list gives them (a scoped token reads no other institution).
  const listed = await get(`/v1/contracts?limit=50&q=${encodeURIComponent(c.title)}`).catch(() => ({ items: [] }));
  for (const item of listed.items) {
    if (item.id !== c.id) continue;
    remember(item.seller_ids?.[0], item.seller_name);
    remember(item.buyer_id, item.buyer_name);
  }
  const sellers = await Promise.all(c.seller_ids.map(institutionName));
  const buyer = await institutionName(c.buyer_id);
  const achievements = await Promise.all(c.achievement_ids.map(achievementTitle));
  const parts = [
    facts({ ...c, sellers: sellers.join("、"), buyer, achievements: achievements.join("、") }, [
      ["kind", "ContractKind"], ["status", "ContractStatus"], ["sellers", null, (v) => v], ["buyer", null, (v) => v],
      ["achievements", null, (v) => v], ["contract_value_fen"], ["transaction_value_fen"], ["registered_value_fen"],
      ["drafted_on"], ["signed_on"], ["effective_on"], ["ended_on"], ["end_reason"], ["outstanding_fen"], ["overdue_fen"],
    ]),
  ];
  const journal = await get(`/v1/contracts/${c.id}/journal`).catch(() => ({ entries: [] }));
  const postings = journal.entries.flatMap((e) => e.postings.map((p) => ({
    position: e.position, entry_date: e.entry_date, kind: e.kind, description: e.description, account: p.account,
    amount_fen: p.amount_fen })));
  return [
    ...parts,
    section("contract-terms", W("合同条款", "Terms"), tree({ payment_terms: c.terms.payment_terms, licence: c.terms.licence,
      ufpl: c.terms.ufpl })),
    section("contract-due-items", W("应收款项", "Due items"), table("table-due-items", c.due_items,
      ["item_id", "kind", "label", "due_on", "amount_fen", "paid_fen", "outstanding_fen"])),
    section("contract-receipts", W("收款", "Receipts"), table("table-receipts", c.receipts,
      ["receipt_id", "received_on", "amount_fen", "credit_id"])),
    section("contract-credits", W("预收款", "Credits"), table("table-credits", c.credits, ["credit_id", "amount_fen"])),
    section("contract-registration", W("认定登记与补正", "Registration and corrections"),
      c.registration ? facts(c.registration, [["registry"], ["registration_number"], ["approved_category", "ContractKind"],
        ["approved_transaction_value_fen"], ["registered_on"]]) : el("p", { className: "muted" }, bi(UI.none)),
      table("table-registrations", c.registration_history)),
    section("contract-journal", UI.journal, table("table-journal", postings,
      ["position", "entry_date", "kind", "description", "account", "amount_fen"])),
  ];
}

async function achievementBody(a) {
  const owners = await Promise.all(a.owners.map(async (o) => `${await institutionName(o.institution_id)} ${o.share}%`));
  const listings = await Promise.all(a.listings.map(async (l) => ({ exchange: await institutionName(l.exchange_id), ...l })));
  return [
    facts({ ...a, owners: owners.join("、") }, [["ip_type", "IpType"], ["technology_field", "TechnologyField"],
      ["owners", null, (v) => v], ["official_number"], ["registered_on"], ["granted_on"], ["lapsed_on"],
      ["in_separate_register"], ["inventor_count"]]),
    section("achievement-listings", W("挂牌", "Listings"), table("table-listings", listings,
      ["exchange", "listing_number", "listed_on", "delisted_on", "asking_price_fen"])),
    section("achievement-valuations", W("评估", "Valuations"), table("table-valuations", a.valuations)),
  ];
}

async function institutionBody(i) {
  return [facts(i, [["kind", "InstitutionKind"], ["size", "EnterpriseSize"], ["public"], ["region"], ["city"],
    ["registered_on"], ["rule_pack", "RulePackId"]])];
}

async function distributionBody(d) {
  return [
    facts(d, [["contract_id", null, nameOf], ["receipt_id"], ["received_on"], ["deadline_on"], ["gross_fen"], ["net_fen"],
      ["allocated_fen"], ["paid_fen"], ["unpaid_fen"], ["floor_percent"], ["below_floor"]]),
    section("distribution-lines", W("分配明细", "Lines"), table("table-lines", d.lines,
      ["key", "beneficiary", "inventor", "allocated_fen", "paid_fen", "unpaid_fen", "deadline_status"])),
    section("distribution-payments", W("奖励发放", "Payments"), table("table-award-payments", d.payments)),
  ];
}

async function genericBody(r) {
  const scalars = Object.keys(r).filter((k) => typeof r[k] !== "object" || r[k] === null).map((k) => [k]);
  return [facts(r, scalars)];
}

const BODIES = { contract: contractBody, achievement: achievementBody, institution: institutionBody,
  distribution: distributionBody, equity_holding: genericBody, self_implementation: genericBody };

export async function recordPage(kind, id, { who }) {
  viewer = who;
  const spec = KINDS[kind];
  const view = el("div", { id: "record", "data-kind": kind, "data-id": id });
  if (!spec || !UUID.test(id)) {
    view.append(el("p", { className: "notice bad", id: "record-missing" }, bi(UI.notFound)));
    return view;
  }
  let record;
  try {
    record = await get(`${spec.read}${id}`);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
      view.append(el("section", { className: "card" }, el("h2", {}, bi(spec.title)),
        el("p", { className: "notice bad", id: "record-missing", "data-status": String(error.status) },
          bi(error.status === 404 ? UI.notFound : UI.forbidden))));
      return view;
    }
    throw error;
  }
  const name = record.title || record.name || record.company_name || record.receipt_id || id;
  remember(id, name);
  view.dataset.version = String(record.version ?? "");
  const head = el("section", { className: "card", id: "record-head" },
    el("h2", {}, bi(spec.title), " · ", el("span", { id: "record-title", text: name })),
    el("p", { className: "muted", text: `${id} · v${record.version ?? "?"}` }),
    await commandButtons(kind, id, record.version, who.role));
  const body = await BODIES[kind](record);
  head.append(...body.filter((b) => b.tagName !== "SECTION"));
  view.append(head, ...body.filter((b) => b.tagName === "SECTION"), await historySection(id));
  return view;
}
