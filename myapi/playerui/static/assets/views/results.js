// Results: the settled days of the last month, newest first (/v1/results), each symbol
// with its close, my prediction's outcome (/v1/predictions/history: a prediction is
// judged against its own baseline, so my CORRECT / INCORRECT is the prediction's
// status, not the symbol's up or down) and the crowd's split (who called UP, DOWN, and
// how many were right).

import { get, getPublic } from "../api.js";
import { badge, choice, fmtDay, fmtDelta, fmtInt, fmtPct, fmtPrice, h, mount, s } from "../dom.js";
import { currentSession, refreshSession } from "../session.js";
import { load } from "./common.js";

const WINDOW_DAYS = 31;  // /v1/results answers at most 31 days
const HISTORY_LIMIT = 100;

function isoMinusDays(iso, days) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d - days)).toISOString().slice(0, 10);
}

/** The crowd's UP / DOWN split as a bar (SVG: no inline style under the CSP). */
function split(crowd) {
  if (!crowd || !crowd.participants) return h("span", { class: "sub" }, "Nobody called it");
  const up = crowd.up_share ?? 0;
  const width = 100;
  return h("div", { class: "crowd", "data-crowd-up": crowd.up, "data-crowd-down": crowd.down,
    "data-right-share": crowd.right_share ?? "" },
  s("svg", { class: "split", viewBox: `0 0 ${width} 8`, preserveAspectRatio: "none", role: "img",
    "aria-label": `${fmtPct(up)} called up` },
  s("rect", { class: "up", x: 0, y: 0, width: up * width, height: 8 }),
  s("rect", { class: "down", x: up * width, y: 0, width: (1 - up) * width, height: 8 })),
  h("span", { class: "crowd-text" },
    `Crowd ${fmtPct(up)} ▲ · ${fmtPct(1 - up)} ▼ · ${fmtInt(crowd.participants)} player${crowd.participants === 1 ? "" : "s"}`,
    crowd.right_share === null || crowd.right_share === undefined ? "" : ` · ${fmtPct(crowd.right_share)} right`));
}

function outcome(row) {
  if (row.outcome === "VOID") return h("span", { class: "outcome void" }, `VOID${row.void_reason ? ` (${row.void_reason})` : ""}`);
  const up = row.outcome === "UP";
  return h("span", { class: `outcome ${up ? "up" : "down"}` },
    `${up ? "▲" : "▼"} ${fmtPrice(row.close_price)}`, h("span", { class: "sub" }, ` prev ${fmtPrice(row.prev_close_price)}`));
}

function dayCard(day, mineBySymbol) {
  const mine = day.symbols.map((row) => mineBySymbol.get(row.symbol)).filter(Boolean);
  const wins = mine.filter((p) => p.status === "CORRECT").length;
  const losses = mine.filter((p) => p.status === "INCORRECT").length;
  const points = mine.reduce((sum, p) => sum + (p.points_awarded || 0), 0);
  // My symbols, always shown; the rest of the universe (a hundred symbols by default)
  // folded away under one line, opened on a tap.
  const bySymbol = (a, b) => a.symbol.localeCompare(b.symbol);
  const myRows = day.symbols.filter((row) => mineBySymbol.has(row.symbol)).sort(bySymbol);
  const otherRows = day.symbols.filter((row) => !mineBySymbol.has(row.symbol)).sort(bySymbol);
  const item = (row) => {
    const p = mineBySymbol.get(row.symbol);
    return h("li", { class: ["result", p ? "mine" : ""], "data-symbol": row.symbol, "data-outcome": row.outcome,
      "data-my-status": p?.status },
    h("div", { class: "result-head" }, h("strong", {}, row.symbol), outcome(row)),
    p
      ? h("div", { class: "my-result" }, "You called ", choice(p.choice),
        // Judged against the price when the call was made, not the previous close above.
        p.baseline_price ? h("span", { class: "sub", "data-baseline": p.baseline_price }, ` from ${fmtPrice(p.baseline_price)}`) : null,
        " ", badge(p.status),
        p.points_awarded ? h("span", { class: "won" }, ` ${fmtDelta(p.points_awarded)} pts`) : null,
        p.void_reason ? h("span", { class: "sub" }, ` ${p.void_reason}`) : null)
      : null,
    split(row.crowd));
  };
  return h("article", { class: "card day", "data-day": day.trading_day },
    h("div", { class: "day-head" },
      h("h2", {}, fmtDay(day.trading_day)),
      mine.length
        ? h("span", { class: "summary", "data-summary": "", "data-wins": wins, "data-points": points },
          `${wins} ✓ · ${losses} ✗ · ${fmtDelta(points)} pts`)
        : h("span", { class: "summary sub" }, "Not played")),
    myRows.length ? h("ul", { class: "results" }, myRows.map(item)) : null,
    otherRows.length
      ? h("details", { class: "others", "data-others": otherRows.length },
        h("summary", {}, `${myRows.length ? "The other" : "All"} ${fmtInt(otherRows.length)} symbol${otherRows.length === 1 ? "" : "s"}`),
        h("ul", { class: "results" }, otherRows.map(item)))
      : null);
}

export default async function results(view) {
  const body = h("div", { class: "view-body" });
  mount(view, body);
  await load(view, body, async () => {
    const session = currentSession() || await refreshSession();
    const to = session.trading_day;
    const [days, history] = await Promise.all([
      getPublic("/v1/results", { from: isoMinusDays(to, WINDOW_DAYS - 1), to }),
      get("/v1/predictions/history", { limit: HISTORY_LIMIT }),
    ]);
    const mine = new Map();  // "day|symbol" -> my (not cancelled) prediction
    for (const p of history.data) {
      if (p.status !== "CANCELLED") mine.set(`${p.trading_day}|${p.symbol}`, p);
    }
    const cards = days.data.map((day) => {
      const bySymbol = new Map();
      for (const row of day.symbols) {
        const p = mine.get(`${day.trading_day}|${row.symbol}`);
        if (p) bySymbol.set(row.symbol, p);
      }
      return dayCard(day, bySymbol);
    });
    mount(body,
      h("h1", {}, "Results"),
      cards.length ? cards : h("p", { class: "empty card" }, "No day settled in the last month yet: results show after the US close."));
  });
}
