// What the console's views share: load() (shared/views.js: a loading state, then the
// data or the API's error, code and message, in place of any data; the view's data-state
// tells tests and screen readers where it stands) and the console's form controls.

import { h } from "../dom.js";

export { load } from "../shared/views.js";

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
