// Integrity: GET /admin/integrity — every ledger/game invariant, pass or fail, with the
// offending rows of a failed one.

import { get } from "../api.js";
import { badge, h, mount, table } from "../dom.js";
import { load } from "./common.js";

function offending(rows) {
  if (!rows.length) return null;
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  return table(keys.map((key) => ({ key, label: key,
    render: (v) => (v !== null && typeof v === "object" ? JSON.stringify(v) : v ?? "–") })), rows);
}

export default async function integrity(view) {
  const body = h("div", { class: "body" });
  mount(view, h("h1", {}, "Integrity"), body);
  await load(view, body, async () => {
    const { data } = await get("/admin/integrity", { limit: 20 });
    mount(body,
      h("p", { class: "summary" }, "Overall: ", badge(data.passed),
        ` ${data.checks.filter((c) => c.passed).length} of ${data.checks.length} checks pass`),
      h("div", { class: "checks" }, data.checks.map((check) =>
        h("article", { class: ["check", check.passed ? "" : "failed"], "data-check": check.name },
          h("h3", {}, badge(check.passed), " ", check.name),
          h("p", {}, check.description),
          offending(check.offending || [])))));
  });
}
