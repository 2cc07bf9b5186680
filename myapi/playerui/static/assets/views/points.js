// Points: my balance (with what redemptions in flight hold) and the ledger, newest first.

import { get } from "../api.js";
import { fmtDay, fmtDelta, fmtInt, fmtKst, h, mount } from "../dom.js";
import { card, load, moreButton } from "./common.js";

const PAGE = 20;
const REASONS = {
  signup_bonus: "Welcome bonus",
  prediction_win: "Prediction won",
  prediction_win_reversal: "Win reversed (price revision)",
  reward_redemption: "Reward redeemed",
  admin_adjustment: "Adjustment",
};

function reasonLabel(entry) {
  const label = REASONS[entry.reason] || entry.reason.replaceAll("_", " ");
  const about = [entry.symbol, entry.trading_day ? fmtDay(entry.trading_day) : null].filter(Boolean).join(" · ");
  return about ? `${label} · ${about}` : label;
}

function entryRow(entry) {
  return h("li", { class: "entry", "data-entry": entry.id, "data-reason": entry.reason, "data-ref": entry.ref_id },
    h("div", {}, h("strong", {}, reasonLabel(entry)), h("span", { class: "sub" }, fmtKst(entry.created_at))),
    h("div", { class: "amounts" },
      h("span", { class: `delta ${entry.delta_points > 0 ? "up" : "down"}`, "data-delta": entry.delta_points },
        fmtDelta(entry.delta_points)),
      h("span", { class: "sub" }, `= ${fmtInt(entry.balance_after)}`)));
}

export default async function points(view) {
  const body = h("div", { class: "view-body" });
  mount(view, body);
  await load(view, body, async () => {
    const [balance, ledger] = await Promise.all([get("/v1/points/balance"), get("/v1/points/ledger", { limit: PAGE })]);
    const b = balance.data;
    const list = h("ul", { class: "ledger" }, ledger.data.map(entryRow));
    let shown = ledger.data.length;
    const total = ledger.meta.total ?? shown;
    const more = h("div", {});
    const showMore = async () => {
      const next = await get("/v1/points/ledger", { limit: PAGE, offset: shown });
      list.append(...next.data.map(entryRow));
      shown += next.data.length;
      mount(more, moreButton(shown, next.meta.total ?? total, showMore));
    };
    mount(more, moreButton(shown, total, showMore));
    mount(body,
      h("h1", {}, "Points"),
      h("div", { class: "card balance", "data-section": "balance", "data-balance": b.balance, "data-available": b.available },
        h("span", { class: "kicker" }, "Balance"),
        h("span", { class: "big" }, fmtInt(b.balance)),
        b.held ? h("span", { class: "sub" }, `${fmtInt(b.held)} held by rewards in progress · ${fmtInt(b.available)} to spend`)
          : h("span", { class: "sub" }, "All of it to spend on rewards")),
      card("Ledger", { "data-section": "ledger" },
        ledger.data.length ? list : h("p", { class: "empty" }, "No points yet."), more));
  });
}
