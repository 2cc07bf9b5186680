// Hand-written SVG charts drawn from API data. Every mark carries its figures as
// data-* attributes and a <title> (the tooltip), so what is drawn can be read back.

import { h, s } from "./dom.js";

// Charts are drawn at the width they are shown at (one SVG unit = one CSS pixel, so
// text stays legible on a phone); 640 when the caller does not say.
const DEFAULT_WIDTH = 640;

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above `value` (an axis top). */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * magnitude >= value) return m * magnitude;
  }
  return 10 * magnitude;
}

function figure(name, title, svg, extra) {
  return h("figure", { class: "chart", "data-chart": name }, h("figcaption", {}, title), svg, extra);
}

/**
 * A daily line chart: one point per entry of `points` ({day, value}); a null value is a
 * gap in the line and has no point. `max` fixes the axis top (1 for rates).
 */
export function lineChart({ name, title, points, format = String, max, width: W = DEFAULT_WIDTH }) {
  const H = Math.round(Math.min(220, Math.max(170, W * 0.5))), left = 52, right = 24, top = 14, bottom = 30;
  const innerW = W - left - right, innerH = H - top - bottom;
  const values = points.map((p) => p.value).filter((v) => v !== null && v !== undefined);
  const yMax = max ?? niceMax(Math.max(0, ...values));
  const x = (i) => left + (points.length === 1 ? innerW / 2 : (i * innerW) / (points.length - 1));
  const y = (v) => top + innerH - (Math.min(v, yMax) / yMax) * innerH;

  const grid = s("g", { class: "grid" });
  for (const frac of [0, 0.25, 0.5, 0.75, 1]) {
    const gy = top + innerH - frac * innerH;
    grid.append(
      s("line", { x1: left, x2: W - right, y1: gy, y2: gy }),
      s("text", { x: left - 6, y: gy + 4, class: "axis y" }, format(yMax * frac)),
    );
  }
  let d = "";
  let pen = false;
  const marks = s("g", { class: "points" });
  const labels = s("g", { class: "x-labels" });
  const every = Math.max(1, Math.ceil(points.length / Math.max(3, Math.floor(W / 80))));
  points.forEach((p, i) => {
    if (i % every === 0 || i === points.length - 1) {
      labels.append(s("text", { x: x(i), y: H - 8, class: "axis x" }, String(p.day).slice(5)));
    }
    if (p.value === null || p.value === undefined) {
      pen = false;
      return;
    }
    d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)} `;
    pen = true;
    marks.append(s("circle", {
      class: "point", cx: x(i).toFixed(1), cy: y(p.value).toFixed(1), r: 4,
      "data-day": p.day, "data-value": p.value,
    }, s("title", {}, `${p.day}: ${format(p.value)}`)));
  });
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "line-chart", role: "img", "data-points": marks.childElementCount,
    "aria-label": `${title}, ${points.length} days`,
  }, grid, s("path", { class: "line", d: d.trim() }), marks, labels);
  return figure(name, title, svg);
}

/**
 * Horizontal bars, one per item ({label, value, note}); `max` fixes the scale (1 for rates).
 */
export function barChart({ name, title, items, format = String, max, empty = "No data in this range.",
  width: W = DEFAULT_WIDTH }) {
  if (!items.length) return figure(name, title, h("p", { class: "empty" }, empty));
  const row = 26;
  const right = Math.min(150, Math.max(60, W * 0.32));
  const left = Math.max(48, 14 + 8.5 * Math.max(...items.map((i) => String(i.label).length)));
  const H = items.length * row + 6;
  const top = max ?? niceMax(Math.max(0, ...items.map((i) => i.value ?? 0)));
  const inner = W - left - right;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "bar-chart", role: "img", "data-bars": items.length,
    "aria-label": title });
  items.forEach((item, i) => {
    const by = 4 + i * row;
    const width = item.value ? Math.max(1, (Math.min(item.value, top) / top) * inner) : 0;
    const text = item.note ? `${format(item.value)} · ${item.note}` : format(item.value);
    svg.append(s("g", { class: "bar-row", "data-label": item.label },
      s("text", { x: left - 8, y: by + 15, class: "bar-label" }, item.label),
      s("rect", { x: left, y: by, width: inner, height: row - 8, class: "track" }),
      s("rect", {
        x: left, y: by, width: width.toFixed(1), height: row - 8, class: ["bar", item.tone],
        "data-label": item.label, "data-value": item.value ?? "",
      }, s("title", {}, `${item.label}: ${text}`)),
      s("text", { x: left + inner + 8, y: by + 15, class: "bar-value" }, text)));
  });
  return figure(name, title, svg);
}

/**
 * Every queue's depth as a stacked bar (visible, in flight, delayed) and its DLQ beside
 * it, on one scale so queues compare at a glance.
 */
export function queueGauges({ name = "queues", title, queues, width: W = DEFAULT_WIDTH }) {
  if (!queues.length) return figure(name, title, h("p", { class: "empty" }, "No queues reported."));
  const row = 66, gap = 16, head = 18;
  const half = (W - gap) / 2;
  const depth = (q) => (q.visible || 0) + (q.in_flight || 0) + (q.delayed || 0);
  const top = niceMax(Math.max(1, ...queues.map(depth), ...queues.map((q) => q.dlq?.visible || 0)));
  const scale = (v) => (v / top) * half;
  const svg = s("svg", { viewBox: `0 0 ${W} ${queues.length * row + head}`, class: "queue-gauges", role: "img",
    "data-queues": queues.length, "aria-label": title },
  s("text", { x: 0, y: 12, class: "axis" }, `queue depth (0–${top})`),
  s("text", { x: half + gap, y: 12, class: "axis" }, `dead letters (0–${top})`));
  queues.forEach((q, i) => {
    const by = head + i * row;
    const dead = q.dlq?.visible || 0;
    const g = s("g", { class: ["queue", q.error ? "unavailable" : ""], "data-queue": q.key },
      s("text", { x: 0, y: by + 14, class: "queue-title" },
        s("tspan", { class: "q-key" }, q.key), s("tspan", { class: "q-name", dx: 8 }, q.name)),
      s("rect", { x: 0, y: by + 22, width: half, height: 18, class: "track" }),
      s("rect", { x: half + gap, y: by + 22, width: half, height: 18, class: "track" }));
    let at = 0;
    for (const [kind, label] of [["visible", "visible"], ["in_flight", "in flight"], ["delayed", "delayed"]]) {
      const value = q[kind] || 0;
      g.append(s("rect", { x: at.toFixed(1), y: by + 22, width: scale(value).toFixed(1), height: 18,
        class: `seg ${kind}`, "data-kind": kind, "data-value": value },
      s("title", {}, `${q.key} ${label}: ${value}`)));
      at += scale(value);
    }
    g.append(
      s("rect", { x: half + gap, y: by + 22, width: scale(dead).toFixed(1), height: 18,
        class: ["seg", "dlq", dead > 0 ? "bad" : ""], "data-kind": "dlq", "data-value": dead },
      s("title", {}, `${q.dlq?.name || `${q.key} DLQ`}: ${dead}`)),
      s("text", { x: 0, y: by + 54, class: ["bar-sub", q.error ? "bad" : ""] }, q.error
        ? `depth unavailable: ${q.error}`.slice(0, 60)
        : `${q.visible || 0} visible · ${q.in_flight || 0} in flight · ${q.delayed || 0} delayed`),
      s("text", { x: half + gap, y: by + 54, class: ["bar-sub", dead > 0 ? "bad" : ""] },
        `${dead} dead letter${dead === 1 ? "" : "s"}`));
    svg.append(g);
  });
  return figure(name, title, svg);
}

/** A half-circle gauge of `value` on 0..max, toned by `warn` / `bad` thresholds. */
export function gauge({ name, title, value, max, format = String, warn, bad, note }) {
  const cx = 110, cy = 104, r = 84;
  const frac = Math.max(0, Math.min(1, (value || 0) / max));
  const angle = Math.PI * frac;
  const ex = cx - r * Math.cos(angle), ey = cy - r * Math.sin(angle);
  const tone = bad !== undefined && value >= bad ? "bad" : warn !== undefined && value >= warn ? "warn" : "ok";
  const svg = s("svg", { viewBox: "0 0 220 140", class: "gauge", role: "img", "aria-label": title },
    s("path", { class: "track", d: `M${cx - r},${cy} A${r},${r} 0 0 1 ${cx + r},${cy}` }),
    frac > 0 ? s("path", {
      class: `value ${tone}`, d: `M${cx - r},${cy} A${r},${r} 0 0 1 ${ex.toFixed(2)},${ey.toFixed(2)}`,
      "data-value": value, "data-max": max,
    }, s("title", {}, `${title}: ${format(value)}`)) : null,
    s("text", { x: cx, y: cy - 14, class: `gauge-value ${tone}`, "data-value": value ?? "" }, format(value)),
    s("text", { x: cx - r, y: cy + 20, class: "axis" }, format(0)),
    s("text", { x: cx + r, y: cy + 20, class: "axis" }, format(max)));
  return figure(name, title, svg, note ? h("p", { class: "note" }, note) : null);
}
