// Small helpers to build the page without innerHTML (and without inline style: the CSP forbids it).

import { both } from "./i18n.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "hidden") node.hidden = Boolean(value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** A bilingual label: <span>中文</span> <span class="en">English</span>. */
export function bi(entry) {
  if (!entry) return el("span");
  if (typeof entry === "string") return el("span", { text: entry });
  const out = el("span", { className: "bi" }, el("span", { lang: "zh-CN", text: entry.zh }));
  if (entry.en) out.append(" ", el("span", { className: "en", lang: "en", text: entry.en }));
  return out;
}

export function plain(entry) {
  return both(entry);
}

/** Names of records seen on this page (lists, pickers): id → name, to show names instead of ids. */
export const names = new Map();

export function remember(id, name) {
  if (id && name) names.set(String(id), String(name));
}

export function nameOf(id) {
  return names.get(String(id)) || (id ? String(id).slice(0, 8) + "…" : "");
}

export function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
