// The DOM helpers the player page shares (shared/dom.js: no innerHTML, every value from
// the API a text node or an attribute, never markup) and the console's formats, badges
// and tables.

import { fmtPct, h, toneBadge } from "./shared/dom.js";

export { errorBox, fmtInt, h, mount, s } from "./shared/dom.js";

/** A count or a mean (4.8 players a day): at most two decimals. */
export function fmtNum(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** A rate given as a fraction (0.5) shown as a percentage ("50.0%"). */
export function fmtRate(value) {
  return fmtPct(value, 1);
}

/** An ISO timestamp (the API's are in KST, +09:00) shown without the T and fraction. */
export function fmtTime(value) {
  if (!value) return "–";
  return String(value).replace("T", " ").replace(/\.\d+/, "");
}

export function fmtSeconds(value) {
  if (value === null || value === undefined) return "–";
  const secs = Number(value);
  if (secs < 90) return `${secs.toFixed(secs < 10 ? 1 : 0)} s`;
  if (secs < 5400) return `${(secs / 60).toFixed(1)} min`;
  return `${(secs / 3600).toFixed(1)} h`;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

const TONES = {
  SUCCEEDED: "ok", PASS: "ok", ISSUED: "ok", COMPLETED: "ok", ACTIVE: "ok",
  FAILED: "bad", FAIL: "bad", ORPHANED: "bad", SUSPENDED: "bad", INACTIVE: "bad",
  RUNNING: "warn", PENDING: "warn", RESERVED: "warn", SKIPPED: "muted",
};

/** A status word as a coloured badge (SUCCEEDED, FAILED, RUNNING, true/false...). */
export function badge(value) {
  return toneBadge(value === true ? "PASS" : value === false ? "FAIL" : value, TONES);
}

/** A table of `rows` with `columns` [{key, label, render?, class?}]. */
export function table(columns, rows, { empty = "Nothing to show.", rowAttrs } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.class }, c.label)))),
      h("tbody", {}, rows.map((row) =>
        h("tr", rowAttrs ? rowAttrs(row) : {}, columns.map((c) =>
          h("td", { class: c.class, "data-col": c.key },
            c.render ? c.render(row[c.key], row) : (row[c.key] ?? "–"))))))));
}
