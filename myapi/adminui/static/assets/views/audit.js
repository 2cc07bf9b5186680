// Audit log: GET /admin/audit?actor&action&target&from&to&limit&offset — every admin
// and internal write, newest first; meta.total drives the pager.

import { get } from "../api.js";
import { fmtTime, h, json, mount, table } from "../dom.js";
import { details, field, filters, load } from "./common.js";

const PAGE = 50;

/** A datetime-local value (the browser's zone) as ISO-8601 with an offset, or "". */
function instant(value) {
  return value ? new Date(value).toISOString() : "";
}

export default async function audit(view, params) {
  const text = (name, placeholder) => h("input", { type: "text", name, maxlength: 200, placeholder,
    value: params.get(name) || "" });
  const actor = text("actor", "user:42");
  const action = text("action", "admin.adjust_points");
  const target = text("target", "user: (prefix)");
  const from = h("input", { type: "datetime-local", name: "from" });
  const to = h("input", { type: "datetime-local", name: "to" });
  const body = h("div", { class: "body" });
  let offset = 0;

  const refresh = () => load(view, body, async () => {
    const { data, meta } = await get("/admin/audit", {
      actor: actor.value.trim(), action: action.value.trim(), target: target.value.trim(),
      from: instant(from.value), to: instant(to.value), limit: PAGE, offset,
    });
    const total = meta.total ?? data.length;
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", disabled: offset === 0,
        onclick: () => { offset = Math.max(0, offset - PAGE); refresh(); } }, "Newer"),
      h("span", { "data-total": total }, total ? `${offset + 1}–${offset + data.length} of ${total}` : "0 rows"),
      h("button", { type: "button", disabled: offset + data.length >= total,
        onclick: () => { offset += PAGE; refresh(); } }, "Older"));
    mount(body, table([
      { key: "id", label: "Id", class: "num" },
      { key: "at", label: "At", render: fmtTime },
      { key: "actor", label: "Actor" },
      { key: "action", label: "Action" },
      { key: "target", label: "Target" },
      { key: "status", label: "HTTP", class: "num" },
      { key: "request_id", label: "Request", class: "mono" },
      { key: "payload", label: "Payload", render: (value) => details("payload", json(value)) },
    ], data, { empty: "No audit rows match.", rowAttrs: (row) => ({ "data-audit": row.id }) }), pager);
  });
  const search = () => { offset = 0; return refresh(); };
  mount(view, h("h1", {}, "Audit log"),
    filters("audit", [field("Actor", actor), field("Action", action), field("Target", target),
      field("From", from), field("To", to)], search, "Search"), body);
  await refresh();
}
