// Rewards: the catalog (cheapest first) against the points I can spend, redeem (asked
// twice: it spends points), then the redemption's live status, polled until it is final
// (ISSUED with its gift code, FAILED with the reason, or CANCELLED); my redemptions.

import { api, get, getPublic, post } from "../api.js";
import { badge, fmtInt, fmtKst, h, mount } from "../dom.js";
import { showError, showOk } from "../toast.js";
import { load } from "./common.js";

const FINAL = new Set(["ISSUED", "FAILED", "CANCELLED"]);
const POLL_MS = 1000;
const CANCELLABLE = new Set(["REQUESTED", "RESERVED"]);

function redemptionCard(r, { live = false, onCancel } = {}) {
  return h("div", { class: ["redemption", live ? "live" : ""], "data-redemption": r.id, "data-status": r.status },
    h("div", { class: "r-head" }, h("strong", {}, r.title || r.sku), badge(r.status)),
    h("span", { class: "sub" }, `${fmtInt(r.cost_points)} pts · ${fmtKst(r.created_at)}`),
    r.status === "ISSUED" && r.code
      ? h("p", { class: "gift" }, "Gift code ", h("code", { class: "gift-code", "data-gift-code": "" }, r.code))
      : null,
    r.status === "FAILED" ? h("p", { class: "bad" }, r.failure_reason || "Failed; the points are back.") : null,
    live && !FINAL.has(r.status) ? h("p", { class: "sub", "data-live": "" }, "Working on it…") : null,
    onCancel && CANCELLABLE.has(r.status)
      ? h("button", { type: "button", class: "link", "data-action": "cancel-redemption", onclick: onCancel }, "Cancel")
      : null);
}

function spendable(available) {
  return h("p", { class: "sub", "data-spendable": available }, `${fmtInt(available)} points to spend`);
}

function catalogCard(items, available, redeem) {
  return h("div", { class: "card", "data-section": "catalog" },
    h("h2", {}, "Catalog"),
    items.length
      ? h("ul", { class: "catalog" }, items.map((item) => {
        const short = item.cost_points > available;
        const sold = item.available <= 0;
        return h("li", { class: "reward", "data-sku": item.sku, "data-available": item.available },
          h("div", {}, h("strong", {}, item.title),
            h("span", { class: "sub" }, `${fmtInt(item.cost_points)} pts · ${fmtInt(item.available)} left`)),
          h("button", { type: "button", "data-action": "redeem", disabled: short || sold,
            onclick: (event) => redeem(item, event.currentTarget) },
          sold ? "Sold out" : short ? `Need ${fmtInt(item.cost_points - available)} more` : "Redeem"));
      }))
      : h("p", { class: "empty" }, "No reward in the catalog right now."));
}

export default async function rewards(view) {
  const body = h("div", { class: "view-body" });
  mount(view, body);
  let timer = null;
  const current = { redeem: null };  // the catalog's redeem action of the shown view

  const stop = () => { clearTimeout(timer); timer = null; };

  const show = (liveId = null) => load(view, body, async () => {
    stop();
    const [catalog, balance, mine] = await Promise.all([
      getPublic("/v1/rewards/catalog"),
      get("/v1/points/balance"),
      get("/v1/rewards/redemptions", { limit: 10 }),
    ]);
    const available = balance.data.available;
    const liveBox = h("div", { "data-section": "live-redemption" });
    const redeem = async (item, button) => {
      if (button.dataset.action !== "confirm-redeem") {
        // Asked once more: redeeming spends points.
        for (const other of body.querySelectorAll("[data-action=confirm-redeem]")) {
          other.dataset.action = "redeem";
          other.classList.remove("confirm");
          other.textContent = "Redeem";
        }
        button.dataset.action = "confirm-redeem";
        button.classList.add("confirm");
        button.textContent = `Spend ${fmtInt(item.cost_points)} pts?`;
        return;
      }
      button.disabled = true;
      try {
        const { data } = await api("POST", "/v1/rewards/redeem", { body: { sku: item.sku }, idempotent: true });
        showOk(`Redeeming ${item.title}: the status updates here.`);
        await show(data.redemption_id);
      } catch (error) {
        showError(error);
        await show();
      }
    };
    const cancel = (id) => async () => {
      try {
        await post(`/v1/rewards/redemptions/${id}/cancel`, {}, true);
        showOk("Redemption cancelled: points and stock are back.");
      } catch (error) {
        showError(error);
      }
      await show();
    };
    mount(body,
      h("h1", {}, "Rewards"),
      spendable(available),
      liveBox,
      catalogCard(catalog.data, available, redeem),
      h("div", { class: "card", "data-section": "redemptions" },
        h("h2", {}, "My redemptions"),
        mine.data.length
          ? h("div", { class: "redemptions" }, mine.data.map((r) => redemptionCard(r, { onCancel: cancel(r.id) })))
          : h("p", { class: "empty" }, "None yet.")));
    current.redeem = redeem;
    if (liveId !== null) follow(liveId, liveBox);
  });

  /** Poll the redemption until it is final, showing each status. */
  const follow = async (id, box) => {
    try {
      const { data } = await get(`/v1/rewards/redemptions/${id}`);
      if (!view.isConnected) return;
      mount(box, redemptionCard(data, { live: true }));
      if (FINAL.has(data.status)) {
        window.dispatchEvent(new CustomEvent("oxu:chrome-changed"));  // the balance moved
        if (data.status === "ISSUED") showOk(`${data.title} issued: your gift code is ready.`);
        else showError({ code: data.status, message: data.failure_reason || `The redemption ended ${data.status}.` });
        const list = body.querySelector("[data-section=redemptions] .redemptions");
        list?.querySelector(`[data-redemption="${id}"]`)?.replaceWith(redemptionCard(data));
        // What is left to spend, and so which rewards are affordable, moved with it.
        const [catalog, balance] = await Promise.all([getPublic("/v1/rewards/catalog"), get("/v1/points/balance")]);
        if (!view.isConnected) return;
        body.querySelector("[data-spendable]")?.replaceWith(spendable(balance.data.available));
        body.querySelector("[data-section=catalog]")?.replaceWith(
          catalogCard(catalog.data, balance.data.available, current.redeem));
        return;
      }
      timer = setTimeout(() => follow(id, box), POLL_MS);
    } catch (error) {
      if (view.isConnected) showError(error);
    }
  };

  window.addEventListener("hashchange", stop, { once: true });
  await show();
}
