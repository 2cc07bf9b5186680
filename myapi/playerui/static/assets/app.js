// The player page: the tabs and their hash routes (#/today, #/results, ...) and the
// sign-in (dev login, or the OAuth providers of the deployment) in the frame the console
// shares (shared/page.js); besides, the session poll, the countdowns and the header's
// points and unread count. The page holds no data of its own: each view asks the public
// /v1 API with the player's token and shows the API's error (code and message) when it
// refuses.

import * as client from "./api.js";
import { config } from "./config.js";
import { fmtInt, h } from "./dom.js";
import { pollNow, startPolling, stopPolling } from "./session.js";
import { createPage } from "./shared/page.js";
import { startTicker } from "./ticker.js";
import { clearToast } from "./toast.js";
import inbox from "./views/inbox.js";
import points from "./views/points.js";
import ranks from "./views/ranks.js";
import results from "./views/results.js";
import rewards from "./views/rewards.js";
import today from "./views/today.js";

const { get, session } = client;
const pointsChip = document.getElementById("points-chip");
const unread = document.getElementById("unread");

// --- the header: my points, unread count ------------------------------------------------
async function refreshChrome() {
  if (!session.access) return;
  try {
    const [balance, count] = await Promise.all([get("/v1/points/balance"), get("/v1/notifications/unread-count")]);
    pointsChip.textContent = `${fmtInt(balance.data.balance)} pts`;
    pointsChip.dataset.points = balance.data.balance;
    unread.hidden = !count.data.unread;
    unread.textContent = String(count.data.unread);
  } catch {
    // The view shows the API's error; the chip keeps its last figures.
  }
}

// --- sign-in: an email and an optional nickname for dev login ---------------------------
function devLogin() {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "email",
    inputmode: "email", placeholder: "you@example.com" });
  const nickname = h("input", { type: "text", name: "nickname", pattern: "[0-9A-Za-z_가-힣]{2,30}",
    autocomplete: "nickname", placeholder: "optional" });
  return {
    fields: { Email: email, Nickname: nickname },
    body: () => {
      const body = { email: email.value.trim() };
      if (nickname.value.trim()) body.nickname = nickname.value.trim();
      return body;
    },
  };
}

const page = createPage({
  client,
  path: "/",
  oauthKey: "oxu.player.oauth",
  signInOptions: config,
  views: { today, results, points, ranks, inbox, rewards },
  home: "today",
  signIn: {
    title: "Call the close",
    lead: "Will a US stock close above or below its price now? Call UP or DOWN before the cutoff; every right call wins 50 points.",
    providerVerb: "Continue with",
    devNote: "Any email, no password (this server's development login; never in production).",
    unconfigured: "No sign-in is configured on this server: set GOOGLE_CLIENT_ID or KAKAO_CLIENT_ID.",
    devLogin,
  },
  onChrome: (signedIn) => { document.body.dataset.signedIn = String(signedIn); },
  onSignIn: () => {
    stopPolling();
    clearToast();
  },
  onView: () => {
    startPolling();
    refreshChrome();
  },
});

// The day's phase changed (the cutoff, the next day's open, a settlement): show it.
window.addEventListener("oxu:session-changed", () => { if (session.access) page.route(); });
// Something the header shows changed (a notification read, points spent).
window.addEventListener("oxu:chrome-changed", refreshChrome);
// A cutoff or an opening reached by the countdown: ask the server now.
window.addEventListener("oxu:deadline", (event) => {
  if (event.detail === "cutoff" || event.detail === "open") pollNow();
});
window.addEventListener("oxu:offline", () => { document.body.dataset.offline = "true"; });
window.addEventListener("oxu:online", () => { delete document.body.dataset.offline; });
startTicker();
page.start();
