// DLQ: GET /admin/queues (every queue and its dead-letter queue), GET
// /admin/queues/{key}/dlq?limit (peek: the messages stay), and
// POST /admin/queues/{key}/dlq/redrive {limit, message_ids?} (audited): the chosen dead
// letters go back to their source queue.

import { get, post } from "../api.js";
import { errorBox, fmtInt, fmtTime, h, mount, table } from "../dom.js";
import { details, field, load } from "./common.js";

function pretty(body) {
  if (typeof body !== "string") return JSON.stringify(body, null, 2);
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** A queue as GET /admin/queues states it ({key, queue: {...}, dlq: {...}}), flattened
 * to the dashboard's shape ({key, name, visible, ..., dlq: {...}}). */
function flat(row) {
  return row.queue && typeof row.queue === "object" ? { key: row.key, ...row.queue, dlq: row.dlq } : row;
}

function outcomeOf(data) {
  const failed = (data.results || []).filter((r) => r.status !== "MOVED");
  return [
    `Redrive of ${data.dlq || data.key}: moved ${data.moved} of ${(data.results || []).length} back to ${data.queue}.`,
    failed.length ? h("ul", {}, failed.map((r) =>
      h("li", { "data-message": r.message_id }, `${r.message_id}: ${r.status}${r.error ? ` (${r.error})` : ""}`)))
      : null,
  ];
}

export default async function dlq(view, params) {
  const queues = h("div", { class: "body" });
  const letters = h("div", { class: "detail" });
  const outcome = h("div", { class: "outcome" });
  const limit = h("select", { name: "limit" }, [10, 50, 100].map((n) =>
    h("option", { value: n, selected: n === 10 }, String(n))));

  const inspect = async (key) => {
    mount(letters, h("p", { class: "loading" }, "Loading…"));
    letters.dataset.queue = key;
    letters.dataset.state = "loading";
    try {
      const { data } = await get(`/admin/queues/${encodeURIComponent(key)}/dlq`, { limit: limit.value });
      const messages = Array.isArray(data) ? data : data.messages || [];
      const boxes = new Map();
      const redriveSelected = h("button", { type: "button", "data-action": "redrive-selected", disabled: true,
        onclick: () => {
          const ids = [...boxes].filter(([, box]) => box.checked).map(([id]) => id);
          redrive(key, { limit: ids.length, message_ids: ids });
        } }, "Redrive selected");
      const redriveAll = h("button", { type: "button", "data-action": "redrive-all", disabled: !messages.length,
        onclick: () => redrive(key, { limit: Number(limit.value) }) }, `Redrive up to ${limit.value}`);
      const sync = () => {
        const n = [...boxes.values()].filter((box) => box.checked).length;
        redriveSelected.disabled = n === 0;
        redriveSelected.textContent = n ? `Redrive ${n} selected` : "Redrive selected";
      };
      mount(letters,
        h("h2", {}, `Dead letters of ${key}`),
        table([
          { key: "pick", label: "", render: (_v, row) => {
            const box = h("input", { type: "checkbox", name: "message", value: row.message_id,
              "aria-label": `select ${row.message_id}`, onchange: sync });
            boxes.set(row.message_id, box);
            return box;
          } },
          { key: "message_id", label: "Message", class: "mono" },
          { key: "receive_count", label: "Receives", class: "num", render: fmtInt },
          { key: "sent_at", label: "First sent", render: fmtTime },
          { key: "body", label: "Body", class: "wrap", render: (body) => {
            const text = pretty(body);
            return details(text.replace(/\s+/g, " ").slice(0, 80), text);
          } },
        ], messages, { empty: "This dead-letter queue is empty.",
          rowAttrs: (row) => ({ "data-message": row.message_id }) }),
        h("div", { class: "actions" }, redriveSelected, redriveAll));
      letters.dataset.state = "ready";
    } catch (error) {
      letters.dataset.state = "error";
      mount(letters, errorBox(error));
    }
  };

  const redrive = async (key, body) => {
    mount(outcome, h("p", { class: "loading" }, "Redriving…"));
    try {
      const { data } = await post(`/admin/queues/${encodeURIComponent(key)}/dlq/redrive`, body);
      mount(outcome, h("div", { class: "notice", role: "status", "data-outcome": "redriven" }, outcomeOf(data)));
    } catch (error) {
      mount(outcome, errorBox(error));
    }
    await refresh();
    await inspect(key);
  };

  const refresh = () => load(view, queues, async () => {
    const { data } = await get("/admin/queues");
    mount(queues, table([
      { key: "key", label: "Queue" },
      { key: "name", label: "Name", class: "mono", render: (name, row) =>
        row.exists === false ? `${name} (not created)` : name },
      { key: "visible", label: "Visible", class: "num", render: fmtInt },
      { key: "in_flight", label: "In flight", class: "num", render: fmtInt },
      { key: "delayed", label: "Delayed", class: "num", render: fmtInt },
      { key: "dlq", label: "DLQ", class: "mono", render: (d) => d?.name ?? "–" },
      { key: "dead", label: "Dead letters", class: "num", render: (_v, row) =>
        h("span", { class: row.dlq?.visible ? "bad" : "", "data-dlq-visible": row.dlq?.visible ?? 0 },
          fmtInt(row.dlq?.visible ?? 0)) },
      { key: "inspect", label: "", render: (_v, row) => h("button", { type: "button", class: "link",
        "data-action": "inspect", onclick: () => inspect(row.key) }, "Inspect") },
    ], data.map(flat), { empty: "No queues.", rowAttrs: (row) => ({ "data-queue": row.key }) }));
  });

  mount(view, h("h1", {}, "Dead-letter queues"), h("div", { class: "filters" }, field("Peek", limit)),
    queues, outcome, letters);
  await refresh();
  if (params.get("queue") && view.dataset.state === "ready") await inspect(params.get("queue"));
}
