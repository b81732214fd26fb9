// A record's history (GET /v1/records/{id}/history): each event with when it was recorded and by
// whom (录入人 / recorded by). Shown for #/records/<id>; the API decides what this person may see
// (a record out of view is 404) and what a regulator reads (role and institution, no person).

import { t } from "./i18n.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The record id of a #/records/<id> address, or null. */
export function recordOfHash(hash) {
  const match = /^#\/records\/([^/?#]+)$/.exec(hash || "");
  return match && UUID.test(match[1]) ? match[1].toLowerCase() : null;
}

function when(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The history card of ``recordId``, built with ``el`` (app.js) from ``api`` (app.js). */
export async function historyCard(recordId, api, el) {
  const doc = await api(`/v1/records/${recordId}/history`);
  const rows = doc.events.map((e) => el("tr", { "data-version": String(e.version) },
    el("td", { text: String(e.version) }),
    el("td", { text: e.event }),
    el("td", { text: when(e.recorded_at) }),
    el("td", { className: "recorded-by", text: e.recorded_by ? e.recorded_by.label : t("history.unknown") })));
  return el("section", { className: "card", id: "record-history" },
    el("h2", { text: `${t("history.title")} · ${doc.kind}` }),
    el("p", { className: "note", text: recordId }),
    el("table", {},
      el("thead", {}, el("tr", {},
        el("th", { text: "#" }), el("th", { text: t("history.event") }), el("th", { text: t("history.at") }),
        el("th", { text: t("history.by") }))),
      el("tbody", {}, ...rows)));
}
