// What every view does around an API call: a loading state, then the data or the API's
// error (code and message) in place of any data. The view's data-state attribute
// (loading, ready, error) tells tests and screen readers where it stands.

import { errorBox, h, mount } from "../dom.js";

/** Run `work` (which fills `body`); on failure `body` shows only the error. */
export async function load(view, body, work) {
  view.dataset.state = "loading";
  mount(body, h("p", { class: "loading" }, "Loading…"));
  try {
    await work();
    view.dataset.state = "ready";
  } catch (error) {
    view.dataset.state = "error";
    view.dataset.errorCode = error.code || "";
    mount(body, errorBox(error));
  }
}

/** A labelled form control. */
export function field(label, control) {
  return h("label", {}, h("span", {}, label), control);
}

/** A small form of filters that calls `onsubmit` (no page reload). */
export function filters(name, controls, onsubmit, submitLabel = "Apply") {
  return h("form", { class: "filters", "data-form": name, onsubmit: (event) => {
    event.preventDefault();
    onsubmit();
  } }, controls, h("button", { type: "submit" }, submitLabel));
}

export function details(summary, text) {
  return h("details", {}, h("summary", {}, summary), h("pre", {}, text));
}
