// Inbox: my notifications, newest first (results of a day, streaks, calendar notices,
// rewards), each marked read on its button; "Mark all read"; older ones by cursor.

import { get, post } from "../api.js";
import { fmtKst, h, mount } from "../dom.js";
import { showError } from "../toast.js";
import { load } from "./common.js";

const PAGE = 20;
const CATEGORIES = { SETTLEMENT: "Results", STREAK: "Streak", CALENDAR: "Calendar", REWARD: "Reward" };

function unreadChanged() {
  window.dispatchEvent(new CustomEvent("oxu:chrome-changed"));
}

function item(n) {
  const li = h("li", { class: ["notification", n.read_at ? "read" : "unread"], "data-notification": n.id,
    "data-category": n.category, "data-read": String(Boolean(n.read_at)) });
  const markRead = async (button) => {
    button.disabled = true;
    try {
      const { data } = await post(`/v1/notifications/${n.id}/read`);
      n.read_at = data?.read_at || new Date().toISOString();
      li.replaceWith(item(n));
      unreadChanged();
    } catch (error) {
      button.disabled = false;
      showError(error);
    }
  };
  const button = n.read_at ? null : h("button", { type: "button", class: "link", "data-action": "mark-read",
    onclick: (event) => markRead(event.currentTarget) }, "Mark read");
  return mount(li,
    h("div", { class: "n-head" },
      h("span", { class: "tag" }, CATEGORIES[n.category] || n.category),
      h("span", { class: "sub" }, fmtKst(n.created_at))),
    h("strong", { class: "n-title" }, n.title),
    h("p", { class: "n-body" }, n.body),
    button);
}

export default async function inbox(view) {
  const body = h("div", { class: "view-body" });
  mount(view, body);
  const show = () => load(view, body, async () => {
    const first = await get("/v1/notifications", { limit: PAGE });
    const list = h("ul", { class: "inbox" }, first.data.map(item));
    const more = h("div", {});
    const pager = (cursor) => mount(more, cursor
      ? h("button", { type: "button", class: "more", "data-action": "more", onclick: async () => {
        try {
          const next = await get("/v1/notifications", { limit: PAGE, cursor });
          list.append(...next.data.map(item));
          pager(next.meta.next_cursor);
        } catch (error) {
          showError(error);
        }
      } }, "Older notifications")
      : null);
    pager(first.meta.next_cursor);
    const unread = first.meta.unread ?? first.data.filter((n) => !n.read_at).length;
    mount(body,
      h("div", { class: "title-row" },
        h("h1", {}, "Inbox"),
        unread ? h("button", { type: "button", class: "link", "data-action": "read-all", onclick: async () => {
          try {
            await post("/v1/notifications/read-all");
            unreadChanged();
            await show();
          } catch (error) {
            showError(error);
          }
        } }, "Mark all read") : null),
      first.data.length ? h("div", { class: "card" }, list, more)
        : h("p", { class: "empty card" }, "Nothing yet: your results arrive here after each settled day."));
  });
  await show();
}
