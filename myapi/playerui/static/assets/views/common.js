// What the player page's views share: load() (shared/views.js: a loading state, then the
// data or the API's error, code and message, in place of the data, never a blank screen;
// the view's data-state tells tests and screen readers where it stands), cards and
// "Show more".

import { h } from "../dom.js";

export { load } from "../shared/views.js";

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
