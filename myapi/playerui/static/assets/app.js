// The player page: sign-in (dev login, or the OAuth providers of the deployment), the
// tabs and their hash routes (#/today, #/results, ...), the session poll and the
// countdowns. The page holds no data of its own: each view asks the public /v1 API with
// the player's token and shows the API's error (code and message) when it refuses.

import { api, get, session } from "./api.js";
import { config } from "./config.js";
import { errorBox, fmtInt, h, mount } from "./dom.js";
import { pollNow, startPolling, stopPolling } from "./session.js";
import { startTicker } from "./ticker.js";
import { clearToast } from "./toast.js";
import inbox from "./views/inbox.js";
import points from "./views/points.js";
import ranks from "./views/ranks.js";
import results from "./views/results.js";
import rewards from "./views/rewards.js";
import today from "./views/today.js";

const VIEWS = { today, results, points, ranks, inbox, rewards };
const OAUTH_PENDING = "oxu.player.oauth";
const PROVIDER_LABELS = { google: "Google", kakao: "Kakao" };

const main = document.getElementById("main");
const tabs = document.getElementById("tabs");
const who = document.getElementById("who");
const pointsChip = document.getElementById("points-chip");
const unread = document.getElementById("unread");

// --- the chrome: tabs, my points, unread count ---------------------------------------
function showChrome(signedIn) {
  tabs.hidden = !signedIn;
  who.hidden = !signedIn;
  document.body.dataset.signedIn = String(signedIn);
}

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

// --- sign-in ---------------------------------------------------------------------------
function redirectUriFor(uris) {
  const here = `${location.origin}/`;
  return (uris || []).find((uri) => uri === here) || null;
}

function startOAuth(provider, uris, problem) {
  const redirectUri = redirectUriFor(uris);
  if (!redirectUri) {
    mount(problem, errorBox({
      code: "OAUTH_004",
      message: `Add ${location.origin}/ to OAUTH_REDIRECT_ALLOWLIST to sign in with ${PROVIDER_LABELS[provider] || provider} here.`,
    }));
    return;
  }
  sessionStorage.setItem(OAUTH_PENDING, JSON.stringify({ provider, redirect_uri: redirectUri }));
  location.assign(`/v1/auth/oauth/${encodeURIComponent(provider)}/authorize?redirect_uri=${encodeURIComponent(redirectUri)}`);
}

function signedIn(login) {
  session.save(login, login.user);
  if (!location.hash || location.hash === "#/" || location.hash === "#") {
    location.hash = "#/today";  // the hashchange routes
  } else {
    route();
  }
}

function showSignIn(message) {
  stopPolling();
  clearToast();
  showChrome(false);
  const problem = h("div", { class: "problem" });
  const providers = Object.entries(config.providers || {});
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "email",
    inputmode: "email", placeholder: "you@example.com" });
  const nickname = h("input", { type: "text", name: "nickname", pattern: "[0-9A-Za-z_가-힣]{2,30}",
    autocomplete: "nickname", placeholder: "optional" });
  const submit = h("button", { type: "submit" }, "Sign in");
  const devForm = config.dev_login ? h("form", {
    class: "dev-login", "data-form": "dev-login",
    onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      mount(problem);
      const body = { email: email.value.trim() };
      if (nickname.value.trim()) body.nickname = nickname.value.trim();
      try {
        const { data } = await api("POST", "/v1/auth/dev-login", { body, auth: false });
        signedIn(data);
      } catch (error) {
        mount(problem, errorBox(error));
      } finally {
        submit.disabled = false;
      }
    },
  },
  h("h2", {}, "Development sign-in"),
  h("p", { class: "sub" }, "Any email, no password (this server's development login; never in production)."),
  h("label", {}, h("span", {}, "Email"), email),
  h("label", {}, h("span", {}, "Nickname"), nickname),
  submit) : null;

  mount(main, h("section", { class: "sign-in", "data-view": "sign-in" },
    h("h1", {}, "Call the close"),
    h("p", { class: "lead" }, "Will a US stock close above or below its price now? Call UP or DOWN before the cutoff; every right call wins 50 points."),
    message ? h("p", { class: "notice", role: "status" }, message) : null,
    providers.length ? h("div", { class: "providers" }, providers.map(([name, uris]) =>
      h("button", { type: "button", class: `provider ${name}`, "data-provider": name,
        onclick: () => startOAuth(name, uris, problem) }, `Continue with ${PROVIDER_LABELS[name] || name}`)))
      : null,
    devForm,
    !providers.length && !devForm
      ? h("p", { class: "notice" }, "No sign-in is configured on this server: set GOOGLE_CLIENT_ID or KAKAO_CLIENT_ID.")
      : null,
    problem));
}

/** Back from a provider: ?code&state (or ?error) on the page's URL. */
async function finishOAuth(params) {
  const pending = JSON.parse(sessionStorage.getItem(OAUTH_PENDING) || "null");
  sessionStorage.removeItem(OAUTH_PENDING);
  // The code is single-use and must not stay in the address bar or the history.
  history.replaceState(null, "", location.pathname + location.hash);
  if (params.get("error") || !params.get("code")) {
    showSignIn(`The provider did not sign you in (${params.get("error") || "no code"}).`);
    return;
  }
  if (!pending) {
    showSignIn("This sign-in was not started from this tab; try again.");
    return;
  }
  try {
    const { data } = await api("POST", "/v1/auth/oauth/callback", {
      auth: false,
      body: { provider: pending.provider, code: params.get("code"), state: params.get("state"),
        redirect_uri: pending.redirect_uri },
    });
    signedIn(data);
  } catch (error) {
    showSignIn();
    main.querySelector(".problem")?.append(errorBox(error));
  }
}

async function signOut() {
  const refresh = session.refresh;
  if (refresh) {
    try {
      await api("POST", "/v1/auth/logout", { body: { refresh_token: refresh } });
    } catch {
      // Signed out here either way; the refresh token expires on its own.
    }
  }
  session.clear();
  history.replaceState(null, "", location.pathname);
  showSignIn("Signed out.");
}

// --- routes ----------------------------------------------------------------------------
function route() {
  if (!session.access) {
    showSignIn();
    return;
  }
  showChrome(true);
  startPolling();
  const path = location.hash.replace(/^#\/?/, "").split("?")[0];
  const name = VIEWS[path] ? path : "today";
  for (const tab of tabs.querySelectorAll("a")) {
    if (tab.dataset.tab === name) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  const section = h("section", { class: "view", "data-view": name, "data-state": "loading" });
  mount(main, section);
  refreshChrome();
  Promise.resolve(VIEWS[name](section)).catch((error) => {
    section.dataset.state = "error";
    mount(section, errorBox({ code: error.code || "PAGE_ERROR", message: error.message }));
  });
}

document.getElementById("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
window.addEventListener("oxu:signed-out", (event) => showSignIn(event.detail));
// The day's phase changed (the cutoff, the next day's open, a settlement): show it.
window.addEventListener("oxu:session-changed", () => { if (session.access) route(); });
// Something the header shows changed (a notification read, points spent).
window.addEventListener("oxu:chrome-changed", refreshChrome);
// A cutoff or an opening reached by the countdown: ask the server now.
window.addEventListener("oxu:deadline", (event) => {
  if (event.detail === "cutoff" || event.detail === "open") pollNow();
});
window.addEventListener("oxu:offline", () => { document.body.dataset.offline = "true"; });
window.addEventListener("oxu:online", () => { delete document.body.dataset.offline; });
startTicker();

const params = new URLSearchParams(location.search);
if (params.has("state") && (params.has("code") || params.has("error"))) {
  finishOAuth(params);
} else {
  route();
}
