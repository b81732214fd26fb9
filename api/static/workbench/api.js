// Calls to the /v1 API with the session cookie; writes carry X-CSRF-Token, and may carry an
// Idempotency-Key and If-Match. A 401 sends the person to /sign-in, back here afterwards.

const state = { csrf: null };

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function setCsrf(token) {
  state.csrf = token;
}

export function signInUrl() {
  const here = window.location.pathname + window.location.hash;
  return `/sign-in?next=${encodeURIComponent(here)}`;
}

/** A request; answers {status, doc, headers}; throws ApiError unless ``accept`` includes the status. */
export async function request(method, path, { body, headers = {}, raw = false, accept = [] } = {}) {
  const all = { Accept: "application/json", ...headers };
  if (method !== "GET" && state.csrf) all["X-CSRF-Token"] = state.csrf;
  let payload;
  if (body !== undefined) {
    if (raw) payload = body;
    else {
      all["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
  }
  const response = await fetch(path, { method, credentials: "same-origin", headers: all, body: payload });
  if (response.status === 401) {
    window.location.assign(signInUrl());
    throw new ApiError(401, null);
  }
  const text = await response.text();
  let doc = null;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch {
    doc = null;
  }
  if (!response.ok && !accept.includes(response.status)) throw new ApiError(response.status, doc);
  return { status: response.status, doc, headers: response.headers };
}

export async function get(path) {
  return (await request("GET", path)).doc;
}

let openapi = null;

/** The OpenAPI document, read once. */
export async function spec() {
  if (!openapi) openapi = get("/v1/openapi.json");
  return openapi;
}

let labels = null;

/** The enumerations' Chinese labels (GET /workbench/labels.json, from domain/enums.py). */
export async function enumLabels() {
  if (!labels) labels = fetch("/workbench/labels.json", { credentials: "same-origin" }).then((r) => r.json());
  return labels;
}

/** Every operation of the document: {operationId, method, path, op}. */
export async function operations() {
  const doc = await spec();
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) out.push({ operationId: op.operationId, method: method.toUpperCase(), path, op });
  }
  return out;
}

export async function operation(operationId) {
  return (await operations()).find((o) => o.operationId === operationId) || null;
}

/** Whether ``role`` may call the operation (its x-roles). */
export function allowed(op, role) {
  return !op.op["x-roles"] || op.op["x-roles"].includes(role);
}
