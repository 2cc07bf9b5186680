// One message at the bottom of the screen, above the tabs, for the outcome of an action:
// an error as the API stated it (code and message), which stays until dismissed or
// replaced so it is never missed, or a short confirmation, which goes after a few seconds
// (it would otherwise cover the page while the player moves on).

import { h, mount } from "./dom.js";

const box = () => document.getElementById("toast");
const OK_SECONDS = 6;
let timer = null;

function show(kind, code, text) {
  const el = box();
  clearTimeout(timer);
  timer = kind === "ok" ? setTimeout(clearToast, OK_SECONDS * 1000) : null;
  el.dataset.kind = kind;
  el.dataset.code = code || "";
  mount(el,
    h("p", { class: "toast-text" }, code ? h("strong", { "data-error-code": code }, code) : null, code ? " " : null,
      h("span", { "data-message": "" }, text)),
    h("button", { type: "button", class: "link", "aria-label": "Dismiss", onclick: clearToast }, "✕"));
  el.hidden = false;
}

/** An ApiError (or anything with code and message). */
export function showError(error) {
  show("error", error.code || "ERROR", error.message || "Something went wrong");
}

export function showOk(text) {
  show("ok", "", text);
}

export function clearToast() {
  clearTimeout(timer);
  timer = null;
  const el = box();
  el.hidden = true;
  el.dataset.kind = "";
  el.dataset.code = "";
  el.replaceChildren();
}
