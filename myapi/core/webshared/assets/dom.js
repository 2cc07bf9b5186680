// Building DOM without innerHTML: every value from the API becomes a text node or an
// attribute, never markup, so nothing an API field holds can run in the page. Each
// page's dom.js passes these on and adds the formats and badges of its own figures.

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

/** A fraction (0.5) as a percentage with `digits` decimals ("50%"). */
export function fmtPct(value, digits = 0) {
  return value === null || value === undefined ? "–" : `${(Number(value) * 100).toFixed(digits)}%`;
}

/** A status word as a coloured badge: its tone from `tones` (WORD -> ok, bad, warn), else muted. */
export function toneBadge(value, tones) {
  const text = String(value ?? "–");
  const tone = tones[text.toUpperCase()] || "muted";
  return h("span", { class: `badge ${tone}`, "data-status": text }, text);
}

/** An error as the API stated it: its stable code and message. */
export function errorBox(error) {
  return h("div", { class: "error", role: "alert", "data-code": error.code || "" },
    h("strong", {}, error.code || "ERROR"), " ", error.message || "Request failed");
}
