// Job runs: GET /admin/jobs?job&limit — newest first, with errors and details.

import { get } from "../api.js";
import { badge, fmtTime, h, json, mount, table } from "../dom.js";
import { details, field, filters, load } from "./common.js";

export default async function jobs(view, params) {
  const job = h("input", { type: "text", name: "job", maxlength: 64, placeholder: "e.g. settlement.settle",
    value: params.get("job") || "" });
  const limit = h("select", { name: "limit" }, [20, 50, 100, 500].map((n) =>
    h("option", { value: n, selected: n === 50 }, String(n))));
  const body = h("div", { class: "body" });
  const refresh = () => load(view, body, async () => {
    const { data } = await get("/admin/jobs", { job: job.value.trim(), limit: limit.value });
    // Timestamps are shown when the API gives them.
    const timed = data.some((row) => "started_at" in row);
    mount(body, table([
      { key: "id", label: "Run", class: "num" },
      { key: "job", label: "Job" },
      { key: "trading_day", label: "Day" },
      { key: "status", label: "Status", render: badge },
      timed ? { key: "started_at", label: "Started", render: fmtTime } : null,
      timed ? { key: "finished_at", label: "Finished", render: fmtTime } : null,
      { key: "error", label: "Error", class: "wrap" },
      { key: "details", label: "Details", render: (value) => details("details", json(value)) },
    ].filter(Boolean), data, { empty: "No job runs.", rowAttrs: (row) => ({ "data-run": row.id }) }));
  });
  mount(view, h("h1", {}, "Job runs"),
    filters("jobs", [field("Job", job), field("Limit", limit)], refresh), body);
  await refresh();
}
