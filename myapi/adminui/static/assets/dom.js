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

/** An SVG element: s("circle", {cx: 1, cy: 2, r: 3}). */
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

/** A count or a mean (4.8 players a day): at most two decimals. */
export function fmtNum(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** A rate given as a fraction (0.5) shown as a percentage ("50.0%"). */
export function fmtRate(value) {
  return value === null || value === undefined ? "–" : `${(Number(value) * 100).toFixed(1)}%`;
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

/** A status word as a coloured badge (SUCCEEDED, FAILED, RUNNING, true/false...). */
export function badge(value) {
  const text = value === true ? "PASS" : value === false ? "FAIL" : String(value ?? "–");
  const tone = {
    SUCCEEDED: "ok", PASS: "ok", ISSUED: "ok", COMPLETED: "ok", ACTIVE: "ok",
    FAILED: "bad", FAIL: "bad", ORPHANED: "bad", SUSPENDED: "bad", INACTIVE: "bad",
    RUNNING: "warn", PENDING: "warn", RESERVED: "warn", SKIPPED: "muted",
  }[text.toUpperCase()] || "muted";
  return h("span", { class: `badge ${tone}`, "data-status": text }, text);
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

/** An error as the API stated it: its stable code and message. */
export function errorBox(error) {
  return h("div", { class: "error", role: "alert", "data-code": error.code || "" },
    h("strong", {}, error.code || "ERROR"), " ", error.message || "Request failed");
}
