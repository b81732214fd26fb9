// The sign-in page: password (and TOTP code when the account has one), then what the server says must
// come first (next_step): a new password, or enrolling a second factor. Then on to the dashboard, or to
// the page named by ?next= when it is a path of this site (/workbench…; never //host or another origin).
// The session is an HttpOnly cookie the page never sees; writes carry the session's X-CSRF-Token.

const $ = (id) => document.getElementById(id);
const DASHBOARD = "/dashboard";
let csrf = null;

/** Where to go once signed in: ``?next=`` when it is a same-origin path, else the dashboard. */
function destination() {
  const next = new URLSearchParams(window.location.search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || /[\\\u0000-\u001f]/.test(next)) return DASHBOARD;
  try {
    const url = new URL(next, window.location.origin);
    return url.origin === window.location.origin ? url.pathname + url.search + url.hash : DASHBOARD;
  } catch {
    return DASHBOARD;
  }
}

function showError(message) {
  const box = $("sign-in-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function problemText(problem, status) {
  if (!problem) return `HTTP ${status}`;
  const first = (problem.errors || [])[0];
  return first && problem.type && problem.type.endsWith("/validation") ? first.detail : problem.detail || problem.title;
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const doc = response.status === 204 ? null : await response.json().catch(() => null);
  return { ok: response.ok, status: response.status, doc };
}

function show(step) {
  for (const id of ["step-password", "step-change", "step-totp"]) $(id).hidden = id !== step;
  document.body.dataset.step = step;
  document.body.dataset.ready = "true";
}

async function startTotp() {
  const { ok, status, doc } = await call("POST", "/v1/session/totp");
  if (!ok) {
    showError(problemText(doc, status));
    return;
  }
  $("totp-secret").textContent = doc.secret;
  $("totp-uri").textContent = doc.otpauth_uri;
  show("step-totp");
}

async function proceed(session) {
  csrf = session.csrf_token;
  showError("");
  if (session.next_step === "change_password") show("step-change");
  else if (session.next_step === "enrol_totp") await startTotp();
  else window.location.assign(destination());
}

async function signIn(event) {
  event.preventDefault();
  document.body.dataset.ready = "false";
  const body = { username: $("username").value, password: $("password").value };
  const code = $("totp-code").value.trim();
  if (code) body.totp_code = code;
  const { ok, status, doc } = await call("POST", "/v1/session", body);
  $("totp-code").value = "";
  if (ok) {
    $("password").value = "";
    await proceed(doc);
    return;
  }
  const kind = String(doc?.type || "").split("/").pop();
  if (kind === "totp-required" || kind === "totp-invalid") {
    $("totp-row").hidden = false;
    $("totp-code").focus();
  }
  showError(problemText(doc, status));
  document.body.dataset.ready = "true";
}

async function changePassword(event) {
  event.preventDefault();
  document.body.dataset.ready = "false";
  const fresh = $("new-password").value;
  if (fresh !== $("new-password-again").value) {
    showError("两次输入的新密码不一致 / the two new passwords differ");
    document.body.dataset.ready = "true";
    return;
  }
  const { ok, status, doc } = await call("POST", "/v1/session/password",
    { current_password: $("current-password").value, new_password: fresh });
  if (ok) {
    for (const id of ["current-password", "new-password", "new-password-again"]) $(id).value = "";
    await proceed(doc);
    return;
  }
  showError(problemText(doc, status));
  document.body.dataset.ready = "true";
}

async function confirmTotp(event) {
  event.preventDefault();
  document.body.dataset.ready = "false";
  const { ok, status, doc } = await call("POST", "/v1/session/totp/confirmation",
    { code: $("totp-confirm-code").value.trim() });
  if (ok) {
    $("totp-secret").textContent = "";
    $("totp-uri").textContent = "";
    await proceed(doc);
    return;
  }
  showError(problemText(doc, status));
  document.body.dataset.ready = "true";
}

async function start() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("change-form").addEventListener("submit", changePassword);
  $("totp-form").addEventListener("submit", confirmTotp);
  const { ok, doc } = await call("GET", "/v1/session");
  if (ok && doc.via === "session") await proceed(doc);
  else show("step-password");
}

start();
