// Today: the session (trading day, phase, the countdown to the cutoff on the server's
// clock), my slots (with the cooldown timer and "watch an ad"), my predictions of the
// day, and the board: every symbol of the universe with its baseline, UP / DOWN to
// predict, switch or cancel while the board is open. The board closes (no buttons) as
// soon as the session says so: the app re-renders this view on every phase change.

import { api, get, getPublic, post } from "../api.js";
import { config } from "../config.js";
import { badge, choice, fmtChangePct, fmtDay, fmtInt, fmtKst, fmtPrice, h, mount } from "../dom.js";
import { refreshSession } from "../session.js";
import { paint } from "../ticker.js";
import { clearToast, showError, showOk } from "../toast.js";
import { load } from "./common.js";

const COOLDOWN_REFRESH_MS = 2000;
// POST /v1/ads/dev-receipt answered 404 (a production server): no "watch an ad" here.
let adsUnavailable = false;

const other = (c) => (c === "UP" ? "DOWN" : "UP");

async function fetchDay(state) {
  const day = state.session.trading_day;
  const [universe, mine, slots] = await Promise.all([
    getPublic("/v1/universe/today"),
    get("/v1/predictions/me", { trading_day: day }),
    get("/v1/ads/status"),
  ]);
  state.universe = universe.data;
  state.mine = mine.data.predictions;
  state.slots = slots.data;
}

/** The live prediction (not cancelled) of each symbol. */
function liveBySymbol(predictions) {
  const live = new Map();
  for (const p of predictions) if (p.status !== "CANCELLED") live.set(p.symbol, p);
  return live;
}

function isOpen(session) {
  return session.phase === "PREDICT" && session.can_predict;
}

function phaseLabel(session) {
  if (session.phase === null) return "Not open yet";
  if (isOpen(session)) return "Open for predictions";
  return session.settled_at ? "Settled" : "Board closed";
}

function sessionCard(session) {
  const open = isOpen(session);
  let timing;
  if (open) {
    timing = h("div", { class: "countdown-box" },
      h("span", { class: "label" }, "Cutoff in"),
      h("span", { class: "countdown", "data-countdown": "cutoff", "data-deadline": session.predict_cutoff_at,
        "data-kind": "cutoff" }, "…"),
      h("span", { class: "sub" }, `at ${fmtKst(session.predict_cutoff_at, { day: false })} KST`));
  } else if (session.phase === null) {
    timing = h("div", { class: "countdown-box" },
      h("span", { class: "label" }, "Opens in"),
      session.predict_open_at
        ? h("span", { class: "countdown", "data-countdown": "open", "data-deadline": session.predict_open_at,
          "data-kind": "open" }, "…")
        : h("span", { class: "countdown" }, "soon"),
      session.predict_open_at ? h("span", { class: "sub" }, `at ${fmtKst(session.predict_open_at)} KST`) : null);
  } else {
    timing = h("p", { class: "closed", "data-closed": "" },
      h("strong", {}, "Board closed. "),
      session.settled_at
        ? `Settled ${fmtKst(session.settled_at)} KST: see Results.`
        : `No more predictions: results come after the US close (${fmtKst(session.market_close_at)} KST).`);
  }
  return h("div", { class: `card session ${open ? "open" : "closed"}`, "data-section": "session",
    "data-phase": session.phase || "NONE", "data-trading-day": session.trading_day },
  h("div", { class: "session-head" },
    h("div", {},
      h("span", { class: "kicker" }, "Trading day"),
      h("h1", { "data-day": "" }, fmtDay(session.trading_day))),
    h("div", { class: "phase" },
      h("span", { class: `badge ${open ? "ok" : session.phase ? "warn" : "muted"}`, "data-phase-badge": "" },
        session.phase || "NOT OPEN"),
      h("span", { class: "phase-label" }, phaseLabel(session)))),
  timing,
  h("p", { class: "server-time sub" }, "Server time ", h("span", { "data-server-clock": "" }, "…"),
    Number(session.clock_speed) !== 1
      ? h("span", { "data-clock-speed": session.clock_speed }, ` · demo clock ${fmtInt(session.clock_speed)}× real time`)
      : null),
  session.is_early_close ? h("p", { class: "note" }, "Early close today: the US market closes at ",
    fmtKst(session.market_close_at, { day: false }), " KST.") : null);
}

function slotsCard(view, state) {
  const slots = state.slots;
  const open = isOpen(state.session);
  const showAd = config.dev_ads && !adsUnavailable && open;
  return h("div", { class: "card slots", "data-section": "slots", "data-available": slots.available },
    h("div", { class: "slots-head" },
      h("div", {},
        h("span", { class: "big", "data-slots-available": "" }, String(slots.available)),
        h("span", { class: "of" }, ` of ${slots.capacity} slots free`)),
      h("span", { class: "sub" }, `${slots.used} used · ads ${slots.ad_unlocks_used}/${slots.ad_unlocks_max}`)),
    slots.cooldown_until
      ? h("p", { class: "cooldown", "data-section": "cooldown" }, "Cooldown: +1 slot in ",
        h("strong", { "data-deadline": slots.cooldown_until, "data-kind": "cooldown", "data-cooldown": "" }, "…"),
        h("span", { class: "sub" }, ` · at ${fmtKst(slots.cooldown_until, { day: false, seconds: true })} KST`))
      : null,
    open && slots.available <= 0
      ? h("p", { class: "no-slot", "data-no-slot": "" },
        "No slot free: wait for the cooldown", showAd && slots.can_unlock ? " or watch an ad." : ".")
      : null,
    showAd
      ? h("div", { class: "ad" },
        h("button", { type: "button", class: "ad-button", "data-action": "watch-ad",
          disabled: state.busy || !slots.can_unlock, onclick: () => watchAd(view, state) }, "▶ Watch an ad · +1 slot"),
        h("span", { class: "sub" }, slots.can_unlock
          ? "Test ad: the server signs a development receipt."
          : `All ${slots.ad_unlocks_max} ads of the day watched.`))
      : null);
}

function mineCard(state) {
  const live = [...liveBySymbol(state.mine).values()];
  return h("div", { class: "card mine", "data-section": "mine" },
    h("h2", {}, "My predictions ", h("span", { class: "count-pill" }, String(live.length))),
    live.length
      ? h("ul", { class: "mine-list" }, live.map((p) =>
        h("li", { "data-prediction": p.symbol, "data-status": p.status, "data-choice": p.choice },
          h("strong", {}, p.symbol), choice(p.choice), badge(p.status),
          h("span", { class: "sub" }, `from ${fmtPrice(p.baseline_price)}`))))
      : h("p", { class: "empty" }, isOpen(state.session)
        ? "No prediction yet: call a symbol UP or DOWN below."
        : "No prediction for this day."));
}

function actions(view, state, item, mine) {
  const busy = state.busy;
  if (item.baseline_price === null || item.baseline_price === undefined) {
    return h("span", { class: "sub" }, "No price yet");
  }
  if (!mine) {
    return h("div", { class: "acts" },
      h("button", { type: "button", class: "up", "data-action": "up", disabled: busy,
        onclick: () => predict(view, state, item.symbol, "UP") }, "▲ Up"),
      h("button", { type: "button", class: "down", "data-action": "down", disabled: busy,
        onclick: () => predict(view, state, item.symbol, "DOWN") }, "▼ Down"));
  }
  return h("div", { class: "acts" },
    h("button", { type: "button", class: `switch ${other(mine.choice).toLowerCase()}`, "data-action": "change",
      disabled: busy, onclick: () => change(view, state, item.symbol, other(mine.choice)) },
    other(mine.choice) === "UP" ? "→ ▲ Up" : "→ ▼ Down"),
    h("button", { type: "button", class: "link", "data-action": "cancel", disabled: busy,
      onclick: () => cancel(view, state, item.symbol) }, "Cancel"));
}

const FILTER_FROM = 8;  // a search box once the board is longer than a screen

function applyFilter(list, text) {
  const wanted = text.trim().toUpperCase();
  for (const li of list.children) li.hidden = Boolean(wanted) && !li.dataset.symbol.includes(wanted);
}

function board(view, state) {
  const open = isOpen(state.session);
  const live = liveBySymbol(state.mine);
  const items = state.universe.items;
  const list = h("ul", { class: "board" });
  const filter = items.length > FILTER_FROM
    ? h("input", { type: "search", class: "filter", "data-filter": "", placeholder: `Find a symbol (${items.length})`,
      "aria-label": "Find a symbol", autocomplete: "off", autocapitalize: "characters", value: state.filter || "",
      oninput: (event) => { state.filter = event.target.value; applyFilter(list, state.filter); } })
    : null;
  const card = h("div", { class: "card board-card", "data-section": "board", "data-open": String(open) },
    h("h2", {}, open ? "Call the close" : "The board"),
    open ? h("p", { class: "sub" }, "Will it close above its baseline price? One slot per symbol.") : null,
    filter,
    items.length
      ? mount(list, items.map((item) => {
        const mine = live.get(item.symbol);
        const change = Number(item.change_pct);
        return h("li", { class: "symbol", "data-symbol": item.symbol, "data-choice": mine?.choice,
          "data-status": mine?.status },
        h("div", { class: "sym" },
          h("strong", {}, item.symbol),
          h("span", { class: "price", title: "Baseline: what a prediction made now is judged against" },
            fmtPrice(item.baseline_price)),
          item.change_pct !== null && item.change_pct !== undefined && change !== 0
            ? h("span", { class: `chg ${change > 0 ? "up" : change < 0 ? "down" : "flat"}` }, fmtChangePct(item.change_pct))
            : null),
        mine ? h("div", { class: "pick" }, choice(mine.choice), open ? null : badge(mine.status)) : null,
        open ? actions(view, state, item, mine) : null);
      }))
      : h("p", { class: "empty" }, "The day's symbols are not set yet."));
  if (state.filter) applyFilter(list, state.filter);
  return card;
}

function render(view, state) {
  const session = state.session;
  view.dataset.phase = session.phase || "NONE";
  view.dataset.open = String(isOpen(session));
  const body = view.querySelector(".view-body");
  // Slots matter while the board is open; a closed day's are spent.
  mount(body, sessionCard(session), isOpen(session) ? slotsCard(view, state) : null, mineCard(state),
    board(view, state));
  paint(body);
}

/** What an error says, with the cooldown's end when the API gave it. */
function described(error) {
  const until = error.details?.cooldown_until;
  if (error.code === "PRED_003" && until) {
    return { code: error.code, message: `${error.message}. Next free slot at ${fmtKst(until, { day: false, seconds: true })} KST.` };
  }
  return error;
}

/** Run an action on the board: buttons off meanwhile, then my day fetched again. */
async function act(view, state, work) {
  if (state.busy) return;
  state.busy = true;
  render(view, state);
  try {
    const message = await work();
    showOk(message);
  } catch (error) {
    showError(described(error));
    if (error.code === "PRED_001" || error.code === "AD_005") {
      try { state.session = await refreshSession(); } catch { /* the poll retries */ }
    }
  } finally {
    try {
      await fetchDay(state);
    } catch (error) {
      showError(error);
    }
    state.busy = false;
    if (view.isConnected) render(view, state);
  }
}

function predict(view, state, symbol, pick) {
  return act(view, state, async () => {
    const { data } = await post(`/v1/predictions/${encodeURIComponent(symbol)}`, { choice: pick }, true);
    return `${symbol} ${pick === "UP" ? "▲ UP" : "▼ DOWN"} saved · ${data.remaining_slots} slot${data.remaining_slots === 1 ? "" : "s"} left`;
  });
}

function change(view, state, symbol, pick) {
  return act(view, state, async () => {
    await api("PATCH", `/v1/predictions/${encodeURIComponent(symbol)}`, { body: { choice: pick }, idempotent: true });
    return `${symbol} switched to ${pick === "UP" ? "▲ UP" : "▼ DOWN"}`;
  });
}

function cancel(view, state, symbol) {
  return act(view, state, async () => {
    const { data } = await api("DELETE", `/v1/predictions/${encodeURIComponent(symbol)}`, { idempotent: true });
    return `${symbol} cancelled · slot back (${data.remaining_slots} free)`;
  });
}

function watchAd(view, state) {
  return act(view, state, async () => {
    let receipt;
    try {
      ({ data: receipt } = await post("/v1/ads/dev-receipt"));
    } catch (error) {
      if (error.status === 404) {
        adsUnavailable = true;
        return "Ads are watched in the mobile app on this server.";
      }
      throw error;
    }
    const { data } = await post("/v1/ads/unlock", { method: "AD", receipt }, true);
    return `Ad watched: +1 slot (${data.available} free)`;
  });
}

export default async function today(view) {
  const body = h("div", { class: "view-body" });
  mount(view, body);
  const state = { session: null, universe: null, mine: [], slots: null, busy: false, filter: "" };
  // The cooldown gave a slot back (by the server's clock): show it. At most every
  // COOLDOWN_REFRESH_MS of real time (on a fast demo clock a period lasts a moment).
  let lastRefresh = 0;
  view.addEventListener("oxu:deadline", (event) => {
    if (event.detail !== "cooldown") return;
    const wait = Math.max(0, lastRefresh + COOLDOWN_REFRESH_MS - performance.now());
    setTimeout(async () => {
      if (state.busy || !view.isConnected) return;
      lastRefresh = performance.now();
      try {
        state.slots = (await get("/v1/ads/status")).data;
        if (view.isConnected && !state.busy) render(view, state);
      } catch (error) {
        showError(error);
      }
    }, wait);
  });
  await load(view, body, async () => {
    state.session = await refreshSession();
    await fetchDay(state);
    clearToastIfStale();
    render(view, state);
  });
}

function clearToastIfStale() {
  // A confirmation of an earlier action is stale once the day is shown afresh.
  if (document.getElementById("toast")?.dataset.kind === "ok") clearToast();
}
