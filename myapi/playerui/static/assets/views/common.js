// What every view does around its API calls: a loading state, then the data or the
// API's error (code and message) in place of the data, never a blank screen. The
// data-state attribute (loading, ready, error) tells tests and screen readers where
// the view stands.

import { errorBox, h, mount } from "../dom.js";

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
    mount(target, errorBox({ code: error.code || "PAGE_ERROR", message: error.message }));
  }
}

/** A card with a title. */
export function card(title, attrs, ...children) {
  return h("div", { class: "card", ...attrs }, title ? h("h2", {}, title) : null, children);
}

/** "Load more" for an offset-paginated list: shown while there is more. */
export function moreButton(shown, total, onclick) {
  return shown < total
    ? h("button", { type: "button", class: "more", "data-action": "more", onclick }, `Show more (${total - shown} left)`)
    : null;
}
