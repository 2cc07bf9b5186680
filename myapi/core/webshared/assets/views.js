// What every view does around its API calls: a loading state, then the data or the
// API's error (code and message) in place of the data, never a blank screen. The view's
// data-state attribute (loading, ready, error) tells tests and screen readers where it
// stands.

import { errorBox, h, mount } from "./dom.js";

/** A failure as a view shows it: the API's code and message; PAGE_ERROR when the page
 * itself failed (an error without a code). */
export function failureBox(error) {
  return errorBox({ code: error.code || "PAGE_ERROR", message: error.message });
}

/** Run `work` (which fills `target`); on failure `target` shows only the error. */
export async function load(view, target, work) {
  view.dataset.state = "loading";
  mount(target, h("p", { class: "loading" }, "Loading…"));
  try {
    await work();
    view.dataset.state = "ready";
  } catch (error) {
    view.dataset.state = "error";
    view.dataset.errorCode = error.code || "PAGE_ERROR";
    mount(target, failureBox(error));
  }
}
