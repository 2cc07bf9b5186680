// Dashboard: GET /admin/dashboard?from&to — totals, daily series, per-symbol figures,
// queue / DLQ / outbox gauges, redemptions and the last run of every job.

import { get } from "../api.js";
import { barChart, gauge, lineChart, queueGauges } from "../charts.js";
import { badge, fmtInt, fmtNum, fmtRate, fmtSeconds, fmtTime, h, mount, table } from "../dom.js";
import { field, filters, load } from "./common.js";

// Outbox lag tones: amber from a minute, red from five (the relay polls every 0.2 s).
const LAG_WARN_S = 60;
const LAG_BAD_S = 300;

const TOTALS = [
  ["dau", "Active players a day", fmtNum],
  ["predictions", "Predictions", fmtInt],
  ["participants", "Participants a day", fmtNum],
  ["win_rate", "Win rate", fmtRate],
  ["void_rate", "VOID rate", fmtRate],
  ["points_issued", "Points issued", fmtInt],
  ["points_spent", "Points spent", fmtInt],
];

function totals(data) {
  return h("div", { class: "cards" }, TOTALS.map(([key, label, format]) =>
    h("div", { class: "card", "data-metric": key },
      h("span", { class: "label" }, label),
      h("span", { class: "value", "data-value": data.totals?.[key] ?? "" }, format(data.totals?.[key])))));
}

function series(data, key) {
  return (data.series || []).map((day) => ({ day: day.day, value: day[key] }));
}

/** The width to draw charts at: as shown on a phone (one column), 640 (scaled) wider. */
function chartWidth(body) {
  const room = body.clientWidth || 640;
  return room < 700 ? Math.max(280, Math.round(room - 26)) : 640;
}

function render(body, data) {
  const width = chartWidth(body);
  body.dataset.chartWidth = String(width);
  const symbols = data.symbols || [];
  const queues = data.queues || [];
  const outbox = data.outbox || {};
  const dead = queues.reduce((sum, q) => sum + (q.dlq?.visible || 0), 0);
  const redemptions = Object.entries(data.redemptions || {}).map(([status, count]) => ({ label: status, value: count }));
  mount(body,
    h("p", { class: "range" }, `${data.from} to ${data.to}`),
    totals(data),
    h("h2", {}, "Daily"),
    h("div", { class: "charts" },
      lineChart({ width, name: "dau", title: "Daily active players", points: series(data, "dau"), format: fmtInt }),
      lineChart({ width, name: "predictions", title: "Predictions per day", points: series(data, "predictions"),
        format: fmtInt }),
      lineChart({ width, name: "win_rate", title: "Win rate per day", points: series(data, "win_rate"), format: fmtRate,
        max: 1 })),
    h("h2", {}, "By symbol"),
    h("div", { class: "charts" },
      barChart({ width, name: "symbol_participants", title: "Players a day by symbol",
        items: symbols.map((x) => ({ label: x.symbol, value: x.participants,
          note: `${fmtInt(x.predictions)} predictions` })), format: fmtNum }),
      barChart({ width, name: "symbol_win_rate", title: "Win rate by symbol",
        items: symbols.map((x) => ({ label: x.symbol, value: x.win_rate })), format: fmtRate, max: 1 })),
    h("h2", {}, "Pipeline"),
    h("div", { class: "charts" },
      queueGauges({ width, title: "Queues and dead letters", queues }),
      h("div", { class: "gauges" },
        gauge({ name: "outbox_lag", title: "Outbox lag", value: outbox.lag_seconds ?? 0,
          max: Math.max(LAG_BAD_S, outbox.lag_seconds || 0), format: fmtSeconds, warn: LAG_WARN_S, bad: LAG_BAD_S,
          note: `${fmtInt(outbox.pending)} pending` }),
        gauge({ name: "dlq_total", title: "Dead letters", value: dead, max: Math.max(10, dead), format: fmtInt,
          warn: 1, bad: 1, note: `across ${queues.length} queues` }))),
    h("h2", {}, "Redemptions"),
    h("div", { class: "charts" },
      barChart({ width, name: "redemptions", title: "Redemptions by status", items: redemptions, format: fmtInt })),
    h("h2", {}, "Jobs (last run of each)"),
    table([
      { key: "job", label: "Job" },
      { key: "status", label: "Status", render: badge },
      { key: "started_at", label: "Started", render: fmtTime },
      { key: "finished_at", label: "Finished", render: fmtTime },
      { key: "error", label: "Error", class: "wrap" },
    ], data.jobs || [], { empty: "No job has run yet.", rowAttrs: (row) => ({ "data-job": row.job }) }));
}

export default async function dashboard(view) {
  const from = h("input", { type: "date", name: "from" });
  const to = h("input", { type: "date", name: "to" });
  const body = h("div", { class: "body" });
  let shown = null;
  const refresh = () => load(view, body, async () => {
    const { data } = await get("/admin/dashboard", { from: from.value, to: to.value });
    from.value = data.from || "";
    to.value = data.to || "";
    shown = data;
    render(body, data);
  });
  // A turned phone or a resized window redraws the charts at their new width.
  const onResize = () => {
    if (!body.isConnected) {
      window.removeEventListener("resize", onResize);
    } else if (shown && Math.abs(chartWidth(body) - Number(body.dataset.chartWidth)) > 24) {
      render(body, shown);
    }
  };
  window.addEventListener("resize", onResize);
  mount(view, h("h1", {}, "Dashboard"),
    filters("dashboard", [field("From", from), field("To", to)], refresh), body);
  await refresh();
}
