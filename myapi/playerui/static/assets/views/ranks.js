// Ranks: the leaderboard of the week, the month or all time (points won by predictions),
// with my own standing; my row is marked in the table.

import { get, session } from "../api.js";
import { fmtDay, fmtInt, h, mount } from "../dom.js";
import { load } from "./common.js";

const PERIODS = [["week", "Week"], ["month", "Month"], ["all", "All time"]];
const LIMIT = 50;
let period = "week";

function standing(me) {
  if (!me.ranked) {
    return h("div", { class: "card standing", "data-section": "my-rank", "data-ranked": "false" },
      h("span", { class: "kicker" }, "My rank"),
      h("p", {}, "Not ranked yet: win a prediction in this period to appear."));
  }
  return h("div", { class: "card standing", "data-section": "my-rank", "data-ranked": "true", "data-rank": me.rank },
    h("span", { class: "kicker" }, "My rank"),
    h("div", { class: "standing-row" },
      h("span", { class: "big", "data-my-rank": "" }, `#${me.rank}`),
      h("span", {}, ` of ${fmtInt(me.ranked_players)}`)),
    h("span", { class: "sub" },
      `${fmtInt(me.points)} pts · ${fmtInt(me.wins)} win${me.wins === 1 ? "" : "s"} · ${fmtInt(me.predictions)} predictions · percentile ${me.percentile === null ? "–" : Number(me.percentile).toFixed(0)}`));
}

export default async function ranks(view) {
  const body = h("div", { class: "view-body" });
  mount(view, body);
  const show = () => load(view, body, async () => {
    const [board, me, profile] = await Promise.all([
      get("/v1/leaderboard", { period, limit: LIMIT }),
      get("/v1/leaderboard/me", { period }),
      get("/v1/users/me"),
    ]);
    session.saveUser(profile.data);  // the nickname the board shows (it may have changed elsewhere)
    const nickname = profile.data.nickname;
    mount(body,
      h("h1", {}, "Leaderboard"),
      h("div", { class: "segmented", role: "group", "aria-label": "Period" }, PERIODS.map(([key, label]) =>
        h("button", { type: "button", "data-period": key, "aria-pressed": String(key === period),
          onclick: () => { period = key; show(); } }, label))),
      standing(me.data),
      h("div", { class: "card", "data-section": "leaderboard" },
        h("p", { class: "sub" }, `Since ${fmtDay(me.data.period_start)} · ${fmtInt(board.meta.total ?? board.data.length)} ranked`),
        board.data.length
          ? h("ol", { class: "leaders" }, board.data.map((row) =>
            h("li", { "data-rank": row.rank, "data-nickname": row.nickname, "data-me": row.nickname === nickname ? "true" : null,
              class: row.nickname === nickname ? "me" : null },
            h("span", { class: "rank" }, `#${row.rank}`),
            h("span", { class: "nick" }, row.nickname, row.nickname === nickname ? h("span", { class: "you" }, " you") : null),
            h("span", { class: "pts" }, `${fmtInt(row.points)} pts`),
            h("span", { class: "sub" }, `${fmtInt(row.wins)}/${fmtInt(row.predictions)} won`))))
          : h("p", { class: "empty" }, "Nobody is ranked in this period yet.")));
  });
  await show();
}
