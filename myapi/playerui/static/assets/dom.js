// The DOM helpers the console shares (shared/dom.js: no innerHTML, every value from the
// API a text node or an attribute, never markup) and the player page's formats: points,
// prices, percentages, trading days and KST times, badges, UP / DOWN.

import { fmtInt, h, toneBadge } from "./shared/dom.js";

export { fmtInt, fmtPct, h, mount, s } from "./shared/dom.js";

/** Points with their sign: +50, −500. */
export function fmtDelta(value) {
  const n = Number(value);
  return n > 0 ? `+${fmtInt(n)}` : n < 0 ? `−${fmtInt(-n)}` : "0";
}

export function fmtPrice(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** A signed percentage as the API gives it (change_pct: "1.25" = +1.25%). */
export function fmtChangePct(value) {
  if (value === null || value === undefined) return "";
  const n = Number(value);
  return `${n > 0 ? "+" : n < 0 ? "−" : ""}${Math.abs(n).toFixed(2)}%`;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A trading day (YYYY-MM-DD) as "Mon 23 Nov". */
export function fmtDay(iso) {
  if (!iso) return "–";
  const [y, m, d] = iso.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return `${DAYS[date.getUTCDay()]} ${d} ${MONTHS[m - 1]}`;
}

/** An API timestamp (ISO, KST +09:00) as KST wall-clock "Mon 23 Nov 23:25". */
export function fmtKst(iso, { seconds = false, day = true } = {}) {
  if (!iso) return "–";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return String(iso);
  const kst = new Date(ms + 9 * 3600 * 1000);  // KST has no daylight saving time
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(kst.getUTCHours())}:${pad(kst.getUTCMinutes())}${seconds ? `:${pad(kst.getUTCSeconds())}` : ""}`;
  return day ? `${DAYS[kst.getUTCDay()]} ${kst.getUTCDate()} ${MONTHS[kst.getUTCMonth()]} ${time}` : time;
}

const TONES = {
  CORRECT: "ok", ISSUED: "ok", PREDICT: "ok",
  INCORRECT: "bad", FAILED: "bad",
  PENDING: "warn", REQUESTED: "warn", RESERVED: "warn", SETTLE: "warn",
};

/** A status word as a coloured badge (CORRECT, PENDING, ISSUED, ...). */
export function badge(value) {
  return toneBadge(value, TONES);
}

/** UP / DOWN as an arrow and the word, coloured. */
export function choice(value) {
  const up = value === "UP";
  return h("span", { class: `choice ${up ? "up" : "down"}`, "data-choice": value }, up ? "▲ UP" : "▼ DOWN");
}
