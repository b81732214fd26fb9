// Forms generated from the OpenAPI document: one mechanism for every command, no form written by hand.
//
// openForm(operationId, …) finds the operation in /v1/openapi.json, resolves its request body schema
// ($ref into components), and builds one field per property: text (maxLength), integers, decimals,
// booleans, enumerations as selects (Chinese labels from /workbench/labels.json), dates, nested objects
// (fieldsets, optional ones behind a "fill in" box), arrays and maps (rows to add and remove). Money
// (an integer named *_fen) is typed in 元 and sent as integer fen; a UUID naming a record is a search
// box on the list endpoints (a picker), never a pasted id. Every field carries its body path
// (terms.payment_terms.installments[0].amount_fen), so a 422's errors land beside their inputs.
// One Idempotency-Key per opened form (a second submission writes nothing more); If-Match with the
// record's version when the page knows it; a 409 explains itself and offers to reload the version.

import { allowed, ApiError, get, operation, request, spec } from "./api.js";
import { bi, el, nameOf, remember } from "./dom.js";
import { enumLabel, fieldLabel, operationLabel, UI } from "./i18n.js";
import { fenToInput, parseYuan } from "./money.js";

/** UUID fields that name records, by field name: what the picker searches. */
const PICKER_FIELDS = {
  institution_id: "institution", seller_ids: "institution", buyer_id: "institution", partner_id: "institution",
  exchange_id: "exchange", achievement_id: "achievement", achievement_ids: "achievement", contract_id: "contract",
};
/** Routes whose If-Match is not the version of the record the path names (docs/api.md). */
const NO_RECORD_IF_MATCH = new Set(["adopt_distribution_policy"]);
/** The record kind of a collection path segment (for the record page after a command). */
export const KIND_OF_COLLECTION = {
  contracts: "contract", achievements: "achievement", institutions: "institution", distributions: "distribution",
  "equity-holdings": "equity_holding", "self-implementations": "self_implementation",
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function newKey() {
  if (window.crypto?.randomUUID) return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- schemas ------------------------------------------------------------------------------------

function refName(schema) {
  return schema?.$ref ? schema.$ref.split("/").pop() : null;
}

/** The schema behind a $ref (components/schemas), with the name it had. */
function deref(doc, schema) {
  let s = schema || {};
  let name = null;
  for (let i = 0; i < 10 && s.$ref; i++) {
    name = refName(s);
    s = { ...doc.components.schemas[name], ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== "$ref")) };
  }
  return { s, name: name || s.title || null };
}

/** anyOf [X, null] → X (nullable); anyOf [number, string] → a decimal. */
export function unwrap(doc, schema) {
  const { s, name } = deref(doc, schema);
  const options = s.anyOf || s.oneOf;
  if (!options) return { s, name, nullable: false };
  const rest = options.filter((o) => o.type !== "null");
  const nullable = rest.length !== options.length;
  if (rest.length === 1) {
    const inner = deref(doc, rest[0]);
    const merged = { ...inner.s, description: inner.s.description || s.description, title: s.title || inner.s.title };
    if ("default" in s) merged.default = s.default;
    return { s: merged, name: inner.name, nullable };
  }
  const types = rest.map((o) => deref(doc, o).s.type).sort().join(",");
  if (types === "number,string" || types === "integer,string") return { s: { ...s, type: "decimal" }, name, nullable };
  return { s: { ...s, type: "json" }, name, nullable };
}

// ---- fields -------------------------------------------------------------------------------------

function errorBox() {
  return el("p", { className: "field-error", role: "alert", hidden: true });
}

function fieldShell(name, schema, path, required, control, hint) {
  const id = `f-${path.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  if (control.id === "" && (control.tagName === "INPUT" || control.tagName === "SELECT" || control.tagName === "TEXTAREA")) {
    control.id = id;
  }
  const label = el("label", { for: control.id || undefined }, bi(fieldLabel(name, schema.title)));
  return el("div", { className: required ? "field required" : "field", "data-path": path, "data-name": name },
    label, control, hint ? el("span", { className: "hint", text: ` ${hint}` }) : null, errorBox());
}

/** The node of one value: {element, read(problems) → {present, value}}. */
function node(ctx, schema, name, path, required) {
  const doc = ctx.doc;
  const { s, name: enumName, nullable } = unwrap(doc, schema);
  const optional = !required || nullable;
  const initial = ctx.prefill?.[path];
  const fallback = initial !== undefined ? initial : s.default;

  if (name === "id" && s.format === "uuid" && !required) return null; // a client-chosen id: the server makes one
  if (s.enum) return enumNode(s, enumName, name, path, required, fallback);
  if (s.type === "string" && s.format === "date") {
    const input = el("input", { type: "date", value: fallback ?? "" });
    return simple(fieldShell(name, s, path, required, input), input, optional, (v) => v);
  }
  if (s.type === "string" && s.format === "uuid") {
    const source = PICKER_FIELDS[name] || PICKER_FIELDS[ctx.arrayOf];
    if (source) return pickerNode(ctx, source, s, name, path, required, fallback);
    const input = el("input", { type: "text", value: fallback ?? "", maxlength: "36" });
    return simple(fieldShell(name, s, path, required, input), input, optional, (v, problems) => {
      if (!UUID.test(v)) problems.push([path, { zh: "不是有效的编号", en: "not a valid id" }]);
      return v;
    });
  }
  if (s.type === "string") {
    const long = (s.maxLength || 0) > 500;
    const input = long ? el("textarea", { rows: "3", maxlength: String(s.maxLength) })
      : el("input", { type: "text", maxlength: s.maxLength ? String(s.maxLength) : undefined });
    input.value = fallback ?? "";
    return simple(fieldShell(name, s, path, required, input, s.maxLength ? `≤${s.maxLength}` : ""), input, optional, (v) => v);
  }
  if (s.type === "integer" && /_fen$/.test(name)) {
    const input = el("input", { type: "text", inputmode: "decimal", className: "money", value: fenToInput(fallback) });
    const shell = fieldShell(name, s, path, required, input, `${UI.yuan.zh} / ${UI.yuan.en}`);
    return simple(shell, input, optional, (v, problems) => {
      const parsed = parseYuan(v);
      if (parsed.error) problems.push([path, parsed.error]);
      return parsed.fen;
    });
  }
  if (s.type === "integer") {
    const input = el("input", { type: "text", inputmode: "numeric", value: fallback ?? "" });
    return simple(fieldShell(name, s, path, required, input), input, optional, (v, problems) => {
      if (!/^-?\d+$/.test(v)) problems.push([path, { zh: "请输入整数", en: "enter a whole number" }]);
      return Number.parseInt(v, 10);
    });
  }
  if (s.type === "number" || s.type === "decimal") {
    const input = el("input", { type: "text", inputmode: "decimal", value: fallback ?? "" });
    return simple(fieldShell(name, s, path, required, input), input, optional, (v, problems) => {
      if (!/^-?\d+(\.\d+)?$/.test(v)) problems.push([path, { zh: "请输入数字", en: "enter a number" }]);
      return v; // a decimal string: exact, as the API reads it
    });
  }
  if (s.type === "boolean") {
    const input = el("input", { type: "checkbox" });
    input.checked = Boolean(fallback);
    const shell = fieldShell(name, s, path, false, input);
    return { element: shell, read: () => ({ present: true, value: input.checked }) };
  }
  if (s.type === "object" && s.properties) return objectNode(ctx, s, name, path, required && !nullable);
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
    return mapNode(ctx, s, name, path, required);
  }
  if (s.type === "array" && s.items) return arrayNode(ctx, s, name, path, required);
  return jsonNode(s, name, path, required, fallback);
}

function simple(shell, input, optional, parse) {
  return {
    element: shell,
    read(problems) {
      const raw = input.value.trim();
      if (raw === "") {
        if (!optional) problems.push([shell.dataset.path, { zh: "必填", en: "required" }]);
        return { present: false };
      }
      return { present: true, value: parse(raw, problems) };
    },
  };
}

function enumNode(s, enumName, name, path, required, fallback) {
  const select = el("select");
  if (!required || fallback === undefined) select.append(el("option", { value: "", text: "—" }));
  for (const value of s.enum) select.append(el("option", { value, text: enumLabel(enumName, value) }));
  select.value = fallback ?? "";
  const shell = fieldShell(name, s, path, required, select);
  return {
    element: shell,
    read(problems) {
      if (!select.value) {
        if (required) problems.push([path, { zh: "请选择", en: "choose one" }]);
        return { present: false };
      }
      return { present: true, value: select.value };
    },
  };
}

function objectNode(ctx, s, name, path, required) {
  const required_ = new Set(s.required || []);
  const children = [];
  const box = el("div", { className: "object-fields" });
  for (const [key, prop] of Object.entries(s.properties)) {
    const child = node({ ...ctx, arrayOf: null }, prop, key, path ? `${path}.${key}` : key, required_.has(key));
    if (child) {
      children.push([key, child]);
      box.append(child.element);
    }
  }
  if (!path) return { element: box, read: (problems) => readObject(children, problems) };
  const legend = el("legend", {}, bi(fieldLabel(name, s.title)));
  const fieldset = el("fieldset", { "data-path": path, "data-name": name }, legend, errorBox());
  let toggle = null;
  const prefilled = Object.keys(ctx.prefill || {}).some((k) => k.startsWith(`${path}.`));
  if (!required) {
    toggle = el("input", { type: "checkbox", className: "fill-in" });
    toggle.checked = prefilled;
    box.hidden = !prefilled;
    toggle.addEventListener("change", () => { box.hidden = !toggle.checked; });
    legend.append(" ", el("label", { className: "hint" }, toggle, ` ${UI.fillIn.zh} / ${UI.fillIn.en}`));
  }
  fieldset.append(box);
  return {
    element: fieldset,
    read(problems) {
      if (toggle && !toggle.checked) return { present: false };
      return readObject(children, problems);
    },
  };
}

function readObject(children, problems) {
  const value = {};
  for (const [key, child] of children) {
    const got = child.read(problems);
    if (got.present) value[key] = got.value;
  }
  return { present: true, value };
}

function rowsNode(ctx, s, name, path, required, makeRow, minRows) {
  const rows = [];
  const list = el("div", { className: "rows" });
  const fieldset = el("fieldset", { "data-path": path, "data-name": name, className: "array" },
    el("legend", {}, bi(fieldLabel(name, s.title))), errorBox(), list);
  const renumber = () => rows.forEach((row, i) => row.reindex(i));
  const add = () => {
    const row = makeRow(rows.length, () => {
      rows.splice(rows.indexOf(row), 1);
      row.element.remove();
      renumber();
    });
    rows.push(row);
    list.append(row.element);
    return row;
  };
  const addButton = el("button", { type: "button", className: "add-row", "data-for": path }, `+ ${UI.add.zh} / ${UI.add.en}`);
  addButton.addEventListener("click", () => add());
  fieldset.append(addButton);
  for (let i = 0; i < minRows; i++) add();
  return { element: fieldset, rows, add };
}

function arrayNode(ctx, s, name, path, required) {
  const prefilled = Object.keys(ctx.prefill || {}).filter((k) => k.startsWith(`${path}[`))
    .map((k) => Number.parseInt(k.slice(path.length + 1), 10));
  const minRows = Math.max(required ? 1 : 0, s.minItems || 0, prefilled.length ? Math.max(...prefilled) + 1 : 0);
  const holder = rowsNode(ctx, s, name, path, required, (index, drop) => {
    let child = null;
    const element = el("div", { className: "array-row" });
    const build = (i) => {
      child = node({ ...ctx, arrayOf: name }, s.items, name, `${path}[${i}]`, true);
      const removeButton = el("button", { type: "button", className: "remove-row" }, `− ${UI.remove.zh} / ${UI.remove.en}`);
      removeButton.addEventListener("click", drop);
      element.replaceChildren(child.element, removeButton);
    };
    build(index);
    return {
      element,
      reindex(i) {
        // Paths carry the index, so that a 422 lands on the right row after a row above was removed.
        relabel(element, `${path}[`, i);
      },
      read: (problems) => child.read(problems),
    };
  }, minRows);
  return {
    element: holder.element,
    read(problems) {
      const value = [];
      for (const row of holder.rows) {
        const got = row.read(problems);
        if (got.present) value.push(got.value);
      }
      if (!value.length && !required) return { present: false };
      return { present: true, value };
    },
  };
}

/** Rewrite the index of a row's paths after a row above it was removed. */
function relabel(element, prefix, index) {
  for (const tagged of [element, ...element.querySelectorAll("[data-path]")]) {
    const p = tagged.dataset?.path;
    if (p && p.startsWith(prefix)) tagged.dataset.path = `${prefix}${index}${p.slice(p.indexOf("]", prefix.length))}`;
  }
}

function mapNode(ctx, s, name, path, required) {
  const holder = rowsNode(ctx, s, name, path, required, (index, drop) => {
    const key = el("input", { type: "text", className: "map-key", placeholder: "key" });
    const value = node({ ...ctx, arrayOf: null }, s.additionalProperties, "value", `${path}.${index}`, true);
    const removeButton = el("button", { type: "button", className: "remove-row" }, `− ${UI.remove.zh} / ${UI.remove.en}`);
    removeButton.addEventListener("click", drop);
    const element = el("div", { className: "array-row" }, key, value.element, removeButton);
    return {
      element,
      reindex() {},
      read(problems) {
        if (!key.value.trim()) return { present: false };
        value.element.dataset.path = `${path}.${key.value.trim()}`;
        return { present: true, key: key.value.trim(), ...value.read(problems) };
      },
    };
  }, 0);
  return {
    element: holder.element,
    read(problems) {
      const out = {};
      for (const row of holder.rows) {
        const got = row.read(problems);
        if (got.present) out[got.key] = got.value;
      }
      if (!Object.keys(out).length && !required) return { present: false };
      return { present: true, value: out };
    },
  };
}

function jsonNode(s, name, path, required, fallback) {
  const input = el("textarea", { rows: "3", className: "json" });
  input.value = fallback === undefined ? "" : JSON.stringify(fallback);
  const shell = fieldShell(name, s, path, required, input, "JSON");
  return simple(shell, input, !required, (v, problems) => {
    try {
      return JSON.parse(v);
    } catch {
      problems.push([path, { zh: "不是有效的 JSON", en: "not valid JSON" }]);
      return null;
    }
  });
}

// ---- pickers ------------------------------------------------------------------------------------

const SOURCES = {
  institution: { url: (q) => `/v1/institutions?directory=true&limit=10&q=${encodeURIComponent(q)}`, label: (i) => i.name },
  exchange: { url: (q) => `/v1/institutions?directory=true&limit=10&kind=exchange&q=${encodeURIComponent(q)}`,
    label: (i) => i.name },
  achievement: { url: (q) => `/v1/achievements?limit=10&q=${encodeURIComponent(q)}`, label: (i) => i.title },
  contract: {
    url: (q) => `/v1/contracts?limit=10&q=${encodeURIComponent(q)}`,
    label: (i) => `${i.title}${i.seller_name ? ` · ${i.seller_name} → ${i.buyer_name || ""}` : ""}`,
  },
};

/**
 * Records matching ``q`` for a picker: the list endpoint, and for institutions also the parties of the
 * contracts this token sees (an exchange or a university sees only itself in /v1/institutions).
 */
async function search(source, q) {
  const spec_ = SOURCES[source];
  const found = new Map();
  const { items } = await get(spec_.url(q));
  for (const item of items) found.set(item.id, spec_.label(item));
  if (source === "institution") {
    const needle = q.toLowerCase();
    const { items: contracts } = await get(`/v1/contracts?limit=50&q=${encodeURIComponent(q)}`);
    for (const c of contracts) {
      const parties = [[c.seller_ids[0], c.seller_name], [c.buyer_id, c.buyer_name]];
      for (const [id, partyName] of parties) {
        if (id && partyName && partyName.toLowerCase().includes(needle) && !found.has(id)) found.set(id, partyName);
      }
    }
  }
  for (const [id, label] of found) remember(id, label);
  return [...found.entries()].map(([id, label]) => ({ id, label }));
}

function pickerNode(ctx, source, s, name, path, required, fallback) {
  const input = el("input", { type: "search", className: "picker-search", autocomplete: "off",
    placeholder: `${UI.pickHint.zh} / ${UI.pickHint.en}` });
  const results = el("ul", { className: "results", hidden: true });
  const choice = el("span", { className: "choice" });
  const wrapper = el("span", { className: "picker", "data-source": source }, input, choice, results);
  const shell = fieldShell(name, s, path, required, wrapper);
  input.id = `f-${path.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  shell.querySelector("label").setAttribute("for", input.id);
  let value = null;
  const choose = (id, label) => {
    value = id;
    wrapper.dataset.value = id || "";
    choice.textContent = id ? `${UI.chosen.zh}: ${label}` : "";
    input.value = "";
    results.hidden = true;
    results.replaceChildren();
  };
  if (fallback && UUID.test(fallback)) {
    choose(fallback, nameOf(fallback));
    if (source === "institution" || source === "exchange") {
      get(`/v1/institutions/${fallback}`).then((i) => { remember(i.id, i.name); if (value === i.id) choose(i.id, i.name); })
        .catch(() => {});
    }
  }
  let timer = null;
  let asked = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) {
      results.hidden = true;
      return;
    }
    timer = setTimeout(async () => {
      const mine = ++asked;
      let found = [];
      try {
        found = await search(source, q);
      } catch {
        found = [];
      }
      if (mine !== asked) return;
      results.replaceChildren(...(found.length ? found.map((f) => el("li", {},
        el("button", { type: "button", "data-id": f.id, onclick: () => choose(f.id, f.label) }, f.label)))
        : [el("li", { className: "muted", text: `${UI.noMatch.zh} / ${UI.noMatch.en}` })]));
      results.hidden = false;
      wrapper.dataset.searched = q;
    }, 200);
  });
  return {
    element: shell,
    read(problems) {
      if (!value) {
        if (required) problems.push([path, { zh: "请搜索并选择", en: "search and pick one" }]);
        return { present: false };
      }
      return { present: true, value };
    },
  };
}

// ---- the form -----------------------------------------------------------------------------------

function placeErrors(form, summary, errors) {
  for (const box of form.querySelectorAll(".field-error")) {
    box.hidden = true;
    box.textContent = "";
  }
  for (const f of form.querySelectorAll(".invalid")) f.classList.remove("invalid");
  const unplaced = [];
  for (const error of errors) {
    let path = error.field || "";
    let target = null;
    while (path && !target) {
      target = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
      if (!target) path = path.replace(/(\[\d+\]|\.[^.[\]]+|^[^.[\]]+)$/, "");
    }
    if (!target || error.in === "path" || error.in === "header" || error.in === "query") {
      unplaced.push(error);
      continue;
    }
    const box = target.querySelector(":scope > .field-error");
    const line = el("span", { className: "error-line", "data-field": error.field, "data-rule": error.rule || "" },
      error.detail + (error.field !== path ? ` (${error.field})` : ""));
    if (!box.hidden) box.append(el("br"));
    box.append(line);
    box.hidden = false;
    target.classList.add("invalid");
  }
  summary.replaceChildren();
  summary.hidden = !errors.length;
  if (!errors.length) return;
  summary.className = "notice bad form-summary";
  summary.append(el("p", {}, bi(UI.fixBelow)));
  if (unplaced.length) {
    summary.append(el("p", {}, bi(UI.otherErrors)),
      el("ul", {}, ...unplaced.map((e) => el("li", { "data-field": e.field || "", "data-rule": e.rule || "" },
        `${e.field ? `${e.field}: ` : ""}${e.detail}`))));
  }
}

/** The record a path names: /v1/contracts/{contract_id}/payments → ["/v1/contracts/{contract_id}", "contract_id"]. */
function recordPath(path) {
  const match = /^(\/v1\/[^/]+\/\{([^}]+)\})/.exec(path);
  return match ? [match[1], match[2]] : [null, null];
}

function fill(template, params) {
  return template.replace(/\{([^}]+)\}/g, (_, key) => encodeURIComponent(params[key] ?? ""));
}

/** Where a successful answer leads: the record's page. */
export function pageAfter(opPath, params, answer) {
  const [, collection] = /^\/v1\/([^/]+)/.exec(opPath) || [];
  const [, param] = recordPath(opPath);
  const kind = KIND_OF_COLLECTION[collection];
  const id = param ? params[param] : answer?.id;
  return kind && id ? `#/records/${kind}/${id}` : null;
}

/**
 * The form of ``operationId`` as a card. ``params``: the path parameters (and body fields to pre-fill,
 * by their dotted path); ``version``: the record's version for If-Match; ``who``: the session.
 */
export async function openForm({ operationId, params = {}, version = null, who, navigate }) {
  const doc = await spec();
  const op = await operation(operationId);
  const card = el("section", { className: "card form-card", id: "form-card" });
  if (!op || op.method !== "POST") {
    card.append(el("p", { className: "error" }, `${operationId}?`));
    return card;
  }
  const title = operationLabel(operationId, op.op.summary);
  card.append(el("h2", {}, bi(title)));
  if (op.op.summary) card.append(el("p", { className: "muted", text: op.op.summary }));
  if (!allowed(op, who.role)) {
    card.append(el("p", { className: "notice bad" }, bi(UI.forbidden)));
    return card;
  }
  const pathNames = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const prefill = {};
  for (const [key, value] of Object.entries(params)) if (!pathNames.includes(key) && key !== "version") prefill[key] = value;
  if (who.role === "operator" && who.institution_id && prefill.exchange_id === undefined) prefill.exchange_id = who.institution_id;
  const ctx = { doc, prefill, arrayOf: null };

  const form = el("form", { className: "generated", novalidate: true, "data-operation": operationId });
  const key = newKey();
  form.dataset.idempotencyKey = key;
  const summary = el("div", { className: "form-summary", role: "alert", hidden: true });
  form.append(summary);

  // Path parameters: the record the command acts on (shown by name), or a picker when not given.
  const pathNodes = [];
  for (const name of pathNames) {
    if (params[name]) {
      form.append(el("p", { className: "field path-param", "data-path": name },
        bi(fieldLabel(name, name)), ": ", el("strong", { className: "record-name", text: nameOf(params[name]) }), errorBox()));
    } else {
      const pathNode = node({ ...ctx, prefill: {} }, { type: "string", format: "uuid", title: name }, name, `path:${name}`, true);
      pathNodes.push([name, pathNode]);
      form.append(pathNode.element);
    }
  }
  const bodySchema = op.op.requestBody?.content?.["application/json"]?.schema;
  const root = bodySchema ? node(ctx, bodySchema, "", "", true) : null;
  if (root) form.append(root.element);

  const conflict = el("div", { className: "notice bad conflict", role: "alert", hidden: true });
  const status = el("p", { className: "form-status", role: "status" });
  const submit = el("button", { type: "submit", className: "primary", id: "form-submit" }, bi(UI.submit));
  const back = el("button", { type: "button", className: "back" }, bi(UI.cancel));
  back.addEventListener("click", () => window.history.back());
  form.append(conflict, el("div", { className: "actions" }, submit, back), status);
  card.append(form);

  const [readTemplate] = recordPath(op.path);
  const useIfMatch = version !== null && version !== undefined && Boolean(readTemplate)
    && !NO_RECORD_IF_MATCH.has(operationId)
    && (op.op.parameters || []).some((p) => p.$ref?.endsWith("/IfMatch"));
  let currentVersion = version;
  let busy = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return; // a second click while the first is on its way
    const problems = [];
    const values = { ...params };
    for (const [name, pathNode] of pathNodes) {
      const got = pathNode.read(problems);
      if (got.present) values[name] = got.value;
    }
    const body = root ? root.read(problems).value ?? {} : undefined;
    conflict.hidden = true;
    if (problems.length) {
      placeErrors(form, summary, problems.map(([field, msg]) => ({ field, detail: `${msg.zh} / ${msg.en}`, rule: "client", in: "body" })));
      form.dataset.state = "invalid";
      return;
    }
    busy = true;
    submit.disabled = true;
    form.dataset.state = "submitting";
    status.textContent = `${UI.submitting.zh} / ${UI.submitting.en}`;
    const headers = { "Idempotency-Key": key };
    if (useIfMatch && currentVersion !== null) headers["If-Match"] = `"${currentVersion}"`;
    try {
      const { status: code, doc: answer } = await request("POST", fill(op.path, values), { body, headers,
        accept: [400, 403, 404, 409, 422] });
      if (code === 200 || code === 201) {
        placeErrors(form, summary, []);
        form.dataset.state = "done";
        status.textContent = "";
        const target = pageAfter(op.path, values, answer);
        if (target && navigate) navigate(target, answer);
        return;
      }
      status.textContent = "";
      if (code === 409 && String(answer?.type || "").endsWith("/stream_version_is_current")) {
        showConflict(conflict, answer, async () => {
          const fresh = await get(fill(readTemplate, values));
          currentVersion = fresh.version;
          conflict.hidden = true;
          form.dataset.version = String(currentVersion);
        });
        form.dataset.state = "conflict";
      } else if (code === 422 && answer?.errors?.length) {
        placeErrors(form, summary, answer.errors);
        form.dataset.state = "invalid";
      } else {
        placeErrors(form, summary, [{ field: "", detail: answer?.detail || answer?.title || `HTTP ${code}`, in: "header" }]);
        form.dataset.state = code === 404 ? "not-found" : "refused";
      }
    } catch (error) {
      if (!(error instanceof ApiError)) {
        status.textContent = `${UI.networkError.zh} / ${UI.networkError.en}`;
        form.dataset.state = "network-error";
      } else {
        status.textContent = error.message;
        form.dataset.state = "error";
      }
    } finally {
      busy = false;
      submit.disabled = false;
    }
  });
  return card;
}

function showConflict(box, problem, reload) {
  const button = el("button", { type: "button", className: "reload" }, bi(UI.reload));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await reload();
    } finally {
      button.disabled = false;
    }
  });
  box.replaceChildren(el("p", {}, bi(UI.conflict)),
    el("p", { className: "muted", text: `${problem.expected_version ?? "?"} → ${problem.current_version ?? "?"}` }), button);
  box.hidden = false;
}
