// The work queue (#/queue): GET /v1/queues grouped by queue; each item links to its record and has
// one button per command that clears it, opening that command's form with the record filled in.

import { allowed, get, operations } from "./api.js";
import { bi, el, nameOf, remember } from "./dom.js";
import { fieldLabel, operationLabel, UI } from "./i18n.js";
import { formatFen } from "./money.js";

/** The form address of a clearing command for ``item``: the path's record parameter and what the item knows. */
export function clearingLink(command, item) {
  const params = new URLSearchParams();
  const [, param] = /\{([^}]+)\}/.exec(command.path) || [];
  if (param) params.set(param, item.record.id);
  else params.set(`${item.record.kind}_id`, item.record.id);
  for (const [key, value] of Object.entries(item.details || {})) {
    if (value !== null && typeof value !== "object" && key.endsWith("_id") && key !== "institution_id") params.set(key, String(value));
  }
  if (command.operation_id === "record_payment" && item.amounts?.outstanding_fen) {
    params.set("amount_fen", String(item.amounts.outstanding_fen));
  }
  return `#/forms/${command.operation_id}?${params}`;
}

export async function queuePage({ who }) {
  const card = el("section", { className: "card", id: "queue" });
  card.append(el("h2", {}, bi(UI.queue)));
  const [doc, ops] = await Promise.all([get("/v1/queues?within_days=30&limit=100"), operations()]);
  try {
    const { items } = await get("/v1/contracts?limit=200");
    for (const c of items) remember(c.id, c.title);
  } catch {
    // names only
  }
  card.append(el("p", { className: "muted", text: `${doc.as_of} → ${doc.horizon}` }));
  const groups = doc.queues.filter((g) => g.items.length);
  if (!groups.length) card.append(el("p", { className: "notice" }, bi(UI.queueEmpty)));
  for (const group of groups) {
    const section = el("section", { className: "queue-group", "data-queue": group.queue },
      el("h3", {}, bi({ zh: group.title_zh, en: group.title_en }), el("span", { className: "muted", text: ` (${group.count}${group.truncated ? "+" : ""})` })));
    for (const item of group.items) {
      const link = `#/records/${item.record.kind}/${item.record.id}`;
      const facts = [
        ...Object.entries(item.dates || {}).filter(([, v]) => v).map(([k, v]) => `${fieldLabel(k, k).zh}: ${v}`),
        ...Object.entries(item.amounts || {}).filter(([, v]) => v !== null).map(([k, v]) => `${fieldLabel(k, k).zh}: ${formatFen(v)} 元`),
      ];
      const buttons = item.clears.map((c) => {
        const op = ops.find((o) => o.operationId === c.operation_id);
        if (op && !allowed(op, who.role)) return null;
        return el("a", { className: "button clear", href: clearingLink(c, item), "data-operation": c.operation_id },
          bi(operationLabel(c.operation_id, op?.op.summary)));
      });
      section.append(el("div", { className: "queue-item", "data-record": item.record.id },
        el("a", { href: link, className: "record-link", text: nameOf(item.record.id) }),
        el("span", { className: "muted", text: item.details?.label || item.record.kind }),
        el("span", { text: facts.join(" · ") }),
        el("span", { className: "actions" }, ...buttons)));
    }
    card.append(section);
  }
  return card;
}
