// The dashboard: for the signed-in person (GET /v1/session; anyone else is sent to /sign-in), pick
// the view by role, load the panels' figures from the /v1 API, draw them with ECharts (vendored,
// global `echarts`) and tables, and download every table as CSV or XLSX from the API itself.
//
// The session is an HttpOnly cookie the page never sees; every call sends it (same origin) and a
// write would carry the session's X-CSRF-Token. The language and the amount unit live in
// localStorage. No inline script or style anywhere: the page's CSP forbids both.

import { language, loadLanguage, setLanguage, staleNote, stoppedLines, t, withUnit } from "./i18n.js";
import { historyCard, recordOfHash } from "./history.js";
import { pickUnit } from "./money.js";
import { institutionPanels, regulatorPanels } from "./panels.js";

const SIGN_IN = "/sign-in";
const UNIT_KEY = "ttledger.dashboard.unit";
const UNITS = ["auto", "yuan", "wan", "yi"];
const UNIT_NAMES = {
  zh: { yuan: "元", wan: "万元", yi: "亿元" },
  en: { yuan: "yuan", wan: "10,000 yuan", yi: "100 million yuan" },
};

const $ = (id) => document.getElementById(id);

const state = {
  csrf: null,
  who: null,
  panels: [],
  data: new Map(),
  errors: new Map(),
  charts: new Map(),
  controls: { period: "year", formula: "transferred_over_registered", asOf: today(), year: lastYear() },
};

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function lastYear() {
  return new Date().getFullYear() - 1;
}

function authHeaders(method = "GET") {
  return method === "GET" || !state.csrf ? {} : { "X-CSRF-Token": state.csrf };
}

/** ``path`` asking for the dashboard's language (the API's texts: 统计口径, problem titles, downloads). */
function withLanguage(path) {
  return `${path}${path.includes("?") ? "&" : "?"}lang=${language()}`;
}

async function api(path, method = "GET") {
  const response = await fetch(withLanguage(path), {
    method, credentials: "same-origin", headers: { ...authHeaders(method), Accept: "application/json" },
  });
  if (response.status === 401) {
    window.location.assign(SIGN_IN);
    throw new ApiError(401, null);
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    throw new ApiError(response.status, problem);
  }
  return response.json();
}

/** Fetch a download with the token and hand it to the browser under the server's file name. */
async function download(url, button) {
  button.disabled = true;
  try {
    const response = await fetch(withLanguage(url), { credentials: "same-origin", headers: authHeaders() });
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      throw new ApiError(response.status, problem);
    }
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || "ttledger-download";
    const blob = await response.blob();
    const href = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = href;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60000);
  } catch (error) {
    window.alert(`${t("error")}: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

// --- context handed to the panels ------------------------------------------------------------------

function context() {
  const chosen = localStorage.getItem(UNIT_KEY);
  const unitChoice = UNITS.includes(chosen) ? chosen : "auto";
  return {
    ...state.controls,
    who: state.who,
    unit: (fens) => (unitChoice === "auto" ? pickUnit(fens) : unitChoice),
    unitName: (unit) => UNIT_NAMES[language()][unit],
  };
}

// --- rendering ------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function downloadButtons(url) {
  const box = el("span", { className: "downloads" });
  for (const format of ["csv", "xlsx"]) {
    const button = el("button", { type: "button", "data-format": format, text: t(`download.${format}`) });
    const target = url + (url.includes("?") ? "&" : "?") + `format=${format}`;
    button.addEventListener("click", () => download(target, button));
    box.append(button);
  }
  return box;
}

function tableBlock(spec) {
  const block = el("div", { className: "table-block", id: `block-${spec.id}` });
  const heading = el("div", { className: "table-title" },
    spec.title ? el("h3", { text: t(spec.title) }) : el("span"), spec.download ? downloadButtons(spec.download) : null);
  block.append(heading);
  if (!spec.columns) return block;
  const table = el("table", { id: `table-${spec.id}` });
  const head = el("tr");
  for (const column of spec.columns) head.append(el("th", { className: column.className || "", text: column.label }));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  const addRow = (cells, className) => {
    const tr = el("tr", className ? { className } : {});
    cells.forEach((cell, i) => tr.append(el("td", { className: spec.columns[i].className || "", text: String(cell ?? "") })));
    body.append(tr);
  };
  if (!spec.rows.length) {
    const tr = el("tr", { className: "empty" });
    tr.append(el("td", { colspan: String(spec.columns.length), text: t("none") }));
    body.append(tr);
  }
  for (const cells of spec.rows) addRow(cells);
  if (spec.total && spec.rows.length) addRow(spec.total, "total");
  table.append(body);
  block.append(el("div", { className: "table-wrap" }, table));
  return block;
}

const DEFINITION_KEYS = ["title", "formula", "scope", "date_basis", "status_basis", "currency", "as_of_position"];

function definitionBlock(both) {
  const definition = both[language()] || both.zh || both;
  const aside = el("aside", { className: "definition" }, el("h3", { text: t("def.heading") }));
  const list = el("dl");
  for (const key of DEFINITION_KEYS) {
    if (definition[key] === undefined || definition[key] === null) continue;
    list.append(el("dt", { text: t(`def.${key}`) }), el("dd", { text: String(definition[key]) }));
  }
  aside.append(list);
  return aside;
}

function disposeCharts(panelId) {
  for (const [id, chart] of state.charts) {
    if (chart.panel === panelId) {
      chart.instance.dispose();
      state.charts.delete(id);
    }
  }
}

function renderPanel(panel) {
  const section = $(`panel-${panel.id}`);
  disposeCharts(panel.id);
  section.replaceChildren();
  const head = el("div", { className: "panel-head" }, el("h2", { text: t(panel.title) }));
  section.append(head);
  const error = state.errors.get(panel.id);
  if (error) {
    section.dataset.state = "error";
    section.append(el("p", { className: "state-error", text: `${t("error")}: ${error.message}` }));
    return;
  }
  const data = state.data.get(panel.id);
  if (data?.stale?.projections?.length) {
    const note = staleNote(data.stale);
    section.append(el("p", { className: "stale", role: "status" },
      el("span", { className: "zh", lang: "zh-CN", text: note.zh }), el("span", { className: "en", lang: "en", text: note.en })));
    section.dataset.stale = "true";
  } else {
    delete section.dataset.stale;
  }
  const view = panel.render(data, context());
  if (view.formula) section.append(el("p", { className: "formula", text: view.formula }));
  if (view.cards?.length) {
    section.append(el("div", { className: "cards" },
      ...view.cards.map((c) => el("div", {}, el("span", { text: c.label }), el("strong", { text: c.value })))));
  }
  const charts = el("div", { className: "charts" });
  for (const chart of view.charts) charts.append(el("div", { className: chart.small ? "chart small" : "chart", id: `chart-${chart.id}` }));
  if (view.charts.length) {
    section.append(el("div", { className: "panel-body" }, charts, view.definition ? definitionBlock(view.definition) : el("span")));
  }
  for (const table of view.tables) section.append(tableBlock(table));
  if (!view.charts.length && view.definition) section.append(definitionBlock(view.definition));
  for (const chart of view.charts) {
    const instance = window.echarts.init($(`chart-${chart.id}`), null, { renderer: "canvas" });
    instance.setOption(chart.option, true);
    state.charts.set(chart.id, { panel: panel.id, instance });
  }
  section.dataset.state = "ready";
}

function renderAll() {
  document.body.dataset.ready = "false";
  for (const panel of state.panels) renderPanel(panel);
  document.body.dataset.ready = "true";
}

async function loadPanel(panel) {
  state.errors.delete(panel.id);
  const ctx = context();
  try {
    const url = panel.url(ctx);
    const data = panel.load ? await panel.load(ctx, api) : url ? await api(url) : null;
    state.data.set(panel.id, data);
  } catch (error) {
    state.errors.set(panel.id, error);
  }
}

async function reload(control) {
  document.body.dataset.ready = "false";
  const panels = control ? state.panels.filter((p) => p.refreshOn.includes(control)) : state.panels;
  await Promise.all([...panels.map(loadPanel), checkProjections()]);
  renderAll();
}

// --- a stopped projection: a banner over every view (GET /readyz, public) ---------------------------

async function checkProjections() {
  let stopped = [];
  try {
    const response = await fetch("/readyz", { headers: { Accept: "application/json" } });
    if (response.ok) stopped = ((await response.json()).projections || []).filter((p) => p.state === "stopped");
  } catch {
    stopped = [];  // the server away: the panels say so themselves
  }
  const banner = $("projection-banner");
  banner.replaceChildren(...stoppedLines(stopped).map((line) => el("p", {},
    el("span", { className: "zh", lang: "zh-CN", text: line.zh }), " / ", el("span", { className: "en", lang: "en", text: line.en }))));
  banner.hidden = stopped.length === 0;
  banner.dataset.projections = stopped.map((p) => p.name).join(",");
}

// --- signing in and the views ---------------------------------------------------------------------

function showLogin(message) {
  $("projection-banner").hidden = true;
  for (const chart of state.charts.values()) chart.instance.dispose();
  state.charts.clear();
  state.panels = [];
  $("panels").replaceChildren();
  $("login").hidden = false;
  $("controls").hidden = true;
  $("signout").hidden = true;
  $("view-note").hidden = true;
  $("who").textContent = "";
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
  document.body.dataset.ready = "true";
}

function showWho() {
  if (!state.who) return;
  $("who").textContent = withUnit(state.who.name, t(`role.${state.who.role}`));
}

async function enter() {
  document.body.dataset.ready = "false";
  try {
    state.who = await api("/v1/session");
  } catch (error) {
    if (error.status !== 401) showLogin(`${t("error")}: ${error.message}`);
    return;
  }
  if (state.who.via !== "session" || state.who.next_step !== "none") {
    window.location.assign(SIGN_IN);
    return;
  }
  state.csrf = state.who.csrf_token;
  $("login").hidden = true;
  $("signout").hidden = false;
  showWho();
  if (await showRecord()) return;
  const role = state.who.role;
  const regulator = role === "regulator" || role === "admin";
  if (!regulator && role !== "institution") {
    await checkProjections();
    $("view-note").hidden = false;
    $("view-note").textContent = t("note.operator");
    document.body.dataset.view = role;
    document.body.dataset.ready = "true";
    return;
  }
  document.body.dataset.view = regulator ? "regulator" : "institution";
  $("controls").hidden = false;
  for (const node of document.querySelectorAll(".regulator-only")) node.hidden = !regulator;
  if (regulator) await loadFormulas();
  state.panels = regulator ? regulatorPanels() : institutionPanels();
  $("panels").replaceChildren(...state.panels.map((p) => el("section", { className: "card panel", id: `panel-${p.id}`, "data-state": "loading" })));
  await reload(null);
}

/** #/records/<id>: the record's history instead of the panels; true when shown. */
async function showRecord() {
  const recordId = recordOfHash(window.location.hash);
  const view = $("record-view");
  if (!recordId) {
    view.hidden = true;
    return false;
  }
  $("controls").hidden = true;
  $("panels").hidden = true;
  view.hidden = false;
  document.body.dataset.view = "record";
  try {
    view.replaceChildren(await historyCard(recordId, api, el),
      el("p", {}, el("a", { href: "#", text: t("history.back") })));
  } catch (error) {
    view.replaceChildren(el("p", { className: "error", role: "alert", text: `${t("error")}: ${error.message}` }));
  }
  document.body.dataset.ready = "true";
  return true;
}

async function loadFormulas() {
  const select = $("formula");
  try {
    const { formulas } = await api("/v1/statistics/transfer-rate/formulas");
    select.replaceChildren(...formulas.map((f) => el("option", { value: f.name, text: f.title })));
    select.value = state.controls.formula;
  } catch {
    select.replaceChildren(el("option", { value: state.controls.formula, text: state.controls.formula }));
  }
}

function markLanguage() {
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === language()));
  }
}

function wire() {
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => {
      setLanguage(button.dataset.lang);
      markLanguage();
      showWho();
      if ($("view-note").textContent) $("view-note").textContent = t("note.operator");
      if (state.panels.length) renderAll();
    });
  }
  const unit = $("unit");
  unit.value = UNITS.includes(localStorage.getItem(UNIT_KEY)) ? localStorage.getItem(UNIT_KEY) : "auto";
  unit.addEventListener("change", () => {
    localStorage.setItem(UNIT_KEY, unit.value);
    if (state.panels.length) renderAll();
  });
  const asOf = $("as-of");
  asOf.value = state.controls.asOf;
  asOf.addEventListener("change", () => {
    if (!asOf.value) return;
    state.controls.asOf = asOf.value;
    reload("asOf");
  });
  $("year").addEventListener("change", (event) => {
    const year = Number.parseInt(event.target.value, 10);
    if (!Number.isInteger(year) || year < 1980 || year > 2100) return;
    state.controls.year = year;
    reload("year");
  });
  $("period").addEventListener("change", (event) => {
    state.controls.period = event.target.value;
    reload("period");
  });
  $("formula").addEventListener("change", (event) => {
    state.controls.formula = event.target.value;
    reload("formula");
  });
  $("signout").addEventListener("click", async () => {
    try {
      await fetch("/v1/session", { method: "DELETE", credentials: "same-origin", headers: authHeaders("DELETE") });
    } finally {
      state.csrf = null;
      state.who = null;
      window.location.assign(SIGN_IN);
    }
  });
  window.addEventListener("hashchange", () => {
    if (!state.who) return;
    if (recordOfHash(window.location.hash)) {
      showRecord();
    } else {
      $("record-view").hidden = true;
      $("panels").hidden = false;
      enter();
    }
  });
  window.addEventListener("resize", () => {
    for (const chart of state.charts.values()) chart.instance.resize();
  });
}

function start() {
  setLanguage(loadLanguage());
  markLanguage();
  wire();
  $("year").value = String(state.controls.year);
  enter();
}

start();
