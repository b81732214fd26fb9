// The workbench: for the signed-in operator or institution (GET /v1/session; anyone else goes to
// /sign-in?next=/workbench…), a menu of lists, the work queue, record pages and generated forms,
// routed by the address's hash:
//
//   #/queue                      the work queue (待办)
//   #/lists/<kind>               a list with search, filters, sorting and "more"
//   #/records/<kind>/<id>        a record page with its commands and history
//   #/forms/<operationId>?…      the generated form of a command (path parameters and pre-filled fields)
//   #/import                     bulk import (the /v1/imports API)
//
// No inline script or style anywhere: the page's CSP forbids both.

import { ApiError, request, setCsrf, signInUrl } from "./api.js";
import { bi, el } from "./dom.js";
import { loadLabels, ROLES, UI } from "./i18n.js";
import { openForm } from "./forms.js";
import { importPage } from "./importer.js";
import { LISTS, listPage, listsFor } from "./lists.js";
import { queuePage } from "./queue.js";
import { recordPage } from "./records.js";

const $ = (id) => document.getElementById(id);
const state = { who: null, lists: [] };

function navigate(hash) {
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function menu() {
  const current = window.location.hash || "#/queue";
  const link = (href, label) => el("a", { href, "aria-current": current.startsWith(href) ? "page" : undefined }, bi(label));
  const items = [link("#/queue", UI.queue), el("h2", {}, bi(UI.lists))];
  for (const kind of state.lists) items.push(link(`#/lists/${kind}`, LISTS[kind].title));
  items.push(el("h2", {}, bi(UI.more)), link("#/import", UI.import));
  $("menu").replaceChildren(...items);
}

function parseHash() {
  const raw = (window.location.hash || "#/queue").slice(1);
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: Object.fromEntries(new URLSearchParams(query)) };
}

async function render() {
  document.body.dataset.ready = "false";
  menu();
  const { parts, params } = parseHash();
  const view = $("view");
  const [route, ...rest] = parts;
  document.body.dataset.view = route || "queue";
  const context = { who: state.who, navigate };
  try {
    let content;
    if (route === "lists" && state.lists.includes(rest[0])) content = await listPage(rest[0], context);
    else if (route === "records" && rest.length === 2) content = await recordPage(rest[0], rest[1], context);
    else if (route === "forms" && rest.length === 1) {
      const version = params.version !== undefined && /^\d+$/.test(params.version) ? Number(params.version) : null;
      content = await openForm({ operationId: rest[0], params, version, who: state.who, navigate });
    } else if (route === "import") content = await importPage(context);
    else if (route === "lists") content = el("p", { className: "notice bad", id: "list-forbidden" }, bi(UI.forbidden));
    else content = await queuePage(context);
    view.replaceChildren(content);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    view.replaceChildren(el("p", { className: "notice bad", role: "alert", text: error.message }));
  }
  window.scrollTo(0, 0);
  document.body.dataset.ready = "true";
}

async function start() {
  let who;
  try {
    who = (await request("GET", "/v1/session", { accept: [] })).doc;
  } catch (error) {
    if (error instanceof ApiError && error.status !== 401) {
      $("view").replaceChildren(el("p", { className: "notice bad", text: error.message }));
      document.body.dataset.ready = "true";
    }
    return; // a 401 went to the sign-in page
  }
  if (who.via !== "session" || who.next_step !== "none") {
    window.location.assign(signInUrl());
    return;
  }
  state.who = who;
  setCsrf(who.csrf_token);
  document.body.dataset.role = who.role;
  const role = ROLES[who.role] || { zh: who.role, en: who.role };
  $("who").textContent = `${who.name || ""}（${role.zh} / ${role.en}）`;
  $("signout").hidden = false;
  $("signout").addEventListener("click", async () => {
    try {
      await request("DELETE", "/v1/session", { accept: [204] });
    } finally {
      window.location.assign("/sign-in?next=%2Fworkbench");
    }
  });
  await loadLabels();
  state.lists = await listsFor(who.role);
  window.addEventListener("hashchange", render);
  await render();
}

start();

