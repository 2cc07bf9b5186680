// Building DOM without innerHTML: every value from the API becomes a text node or an
// attribute, never markup, so nothing an API field holds can run in the page.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else if (key === "checked" || key === "disabled" || key === "selected" || key === "hidden") {
      el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("td", {class: "num"}, "42"). */
export function h(tag, attrs, ...children) {
  return append(apply(document.createElement(tag), attrs), children);
}

/** An SVG element: s("rect", {x: 0, width: 10}). */
export function s(tag, attrs, ...children) {
  return append(apply(document.createElementNS(SVG_NS, tag), attrs), children);
}

/** Replace the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function fmtInt(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
}

/** Points with their sign: +50, −500. */
export function fmtDelta(value) {
  const n = Number(value);
  return n > 0 ? `+${fmtInt(n)}` : n < 0 ? `−${fmtInt(-n)}` : "0";
}

export function fmtPrice(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function fmtPct(value, digits = 0) {
  return value === null || value === undefined ? "–" : `${(Number(value) * 100).toFixed(digits)}%`;
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

/** A status word as a coloured badge (CORRECT, PENDING, ISSUED, ...). */
export function badge(value) {
  const text = String(value ?? "–");
  const tone = {
    CORRECT: "ok", ISSUED: "ok", PREDICT: "ok",
    INCORRECT: "bad", FAILED: "bad",
    PENDING: "warn", REQUESTED: "warn", RESERVED: "warn", SETTLE: "warn",
  }[text.toUpperCase()] || "muted";
  return h("span", { class: `badge ${tone}`, "data-status": text }, text);
}

/** UP / DOWN as an arrow and the word, coloured. */
export function choice(value) {
  const up = value === "UP";
  return h("span", { class: `choice ${up ? "up" : "down"}`, "data-choice": value }, up ? "▲ UP" : "▼ DOWN");
}

/** An error as the API stated it: its stable code and message. */
export function errorBox(error) {
  return h("div", { class: "error", role: "alert", "data-code": error.code || "" },
    h("strong", {}, error.code || "ERROR"), " ", error.message || "Request failed");
}
