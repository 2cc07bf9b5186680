// The console: sign-in (dev login or the OAuth providers the players use), the tabs, and
// the hash routes (#/dashboard, #/jobs, ...). The page holds no data of its own: each
// view asks the /admin API with the operator's token, and shows the API's error (code
// and message) instead of data when it refuses, e.g. AUTH_003 for a player.

import { api, session } from "./api.js";
import { errorBox, h, mount } from "./dom.js";
import audit from "./views/audit.js";
import dashboard from "./views/dashboard.js";
import dlq from "./views/dlq.js";
import integrity from "./views/integrity.js";
import jobs from "./views/jobs.js";
import rewards from "./views/rewards.js";
import users from "./views/users.js";

const VIEWS = { dashboard, jobs, dlq, audit, users, rewards, integrity };
const OAUTH_PENDING = "oxu.admin.oauth";
const PROVIDER_LABELS = { google: "Google", kakao: "Kakao" };

const main = document.getElementById("main");
const tabs = document.getElementById("tabs");
const who = document.getElementById("who");
const whoName = document.getElementById("who-name");

function signInOptions() {
  const meta = document.querySelector('meta[name="oxu-sign-in"]');
  try {
    return JSON.parse(meta?.content || "{}");
  } catch {
    return {};
  }
}

function showChrome(signedIn) {
  tabs.hidden = !signedIn;
  who.hidden = !signedIn;
  const user = session.user;
  whoName.textContent = signedIn && user ? `${user.nickname} · ${user.email ?? ""} · ${user.role}` : "";
}

function redirectUriFor(uris) {
  const here = `${location.origin}/admin/ui/`;
  return (uris || []).find((uri) => uri === here) || null;
}

function startOAuth(provider, uris, problem) {
  const redirectUri = redirectUriFor(uris);
  if (!redirectUri) {
    mount(problem, errorBox({
      code: "OAUTH_004",
      message: `Add ${location.origin}/admin/ui/ to OAUTH_REDIRECT_ALLOWLIST to sign in with ${PROVIDER_LABELS[provider] || provider} here.`,
    }));
    return;
  }
  sessionStorage.setItem(OAUTH_PENDING, JSON.stringify({ provider, redirect_uri: redirectUri }));
  location.assign(`/v1/auth/oauth/${encodeURIComponent(provider)}/authorize?redirect_uri=${encodeURIComponent(redirectUri)}`);
}

function signedIn(login) {
  session.save(login, login.user);
  showChrome(true);
  if (!location.hash || location.hash === "#/" || location.hash === "#") {
    location.hash = "#/dashboard";
  } else {
    route();
  }
}

function showSignIn(message) {
  showChrome(false);
  const options = signInOptions();
  const problem = h("div", { class: "problem" });
  const providers = Object.entries(options.providers || {});
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "username",
    placeholder: "ops@example.com" });
  const nickname = h("input", { type: "text", name: "nickname", pattern: "[0-9A-Za-z_가-힣]{2,30}",
    placeholder: "optional" });
  const role = h("select", { name: "role" },
    h("option", { value: "ADMIN", selected: true }, "ADMIN"), h("option", { value: "USER" }, "USER"));
  const submit = h("button", { type: "submit" }, "Sign in");
  const devForm = options.dev_login ? h("form", {
    class: "dev-login", "data-form": "dev-login",
    onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      mount(problem);
      const body = { email: email.value.trim(), role: role.value };
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
  h("p", { class: "note" }, "Tokens for an email without a provider (never in production)."),
  h("label", {}, "Email", email),
  h("label", {}, "Nickname", nickname),
  h("label", {}, "Role", role),
  submit) : null;

  mount(main, h("section", { class: "sign-in", "data-view": "sign-in" },
    h("h1", {}, "Operator sign-in"),
    message ? h("p", { class: "notice", role: "status" }, message) : null,
    providers.length ? h("div", { class: "providers" }, providers.map(([name, uris]) =>
      h("button", { type: "button", class: `provider ${name}`, "data-provider": name,
        onclick: () => startOAuth(name, uris, problem) }, `Sign in with ${PROVIDER_LABELS[name] || name}`)))
      : null,
    devForm,
    !providers.length && !devForm
      ? h("p", { class: "notice" }, "No sign-in is configured: set GOOGLE_CLIENT_ID or KAKAO_CLIENT_ID.")
      : null,
    problem));
}

/** Back from a provider: ?code&state (or ?error) on the console's URL. */
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
      // Signed out locally either way; the refresh token expires on its own.
    }
  }
  session.clear();
  history.replaceState(null, "", location.pathname);
  showSignIn("Signed out.");
}

function route() {
  if (!session.access) {
    showSignIn();
    return;
  }
  showChrome(true);
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const name = VIEWS[path] ? path : "dashboard";
  for (const tab of tabs.querySelectorAll("a")) {
    if (tab.dataset.tab === name) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  const section = h("section", { class: "view", "data-view": name, "data-state": "loading" });
  mount(main, section);
  Promise.resolve(VIEWS[name](section, new URLSearchParams(query || ""))).catch((error) => {
    section.dataset.state = "error";
    section.append(errorBox(error));
  });
}

document.getElementById("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
window.addEventListener("oxu:signed-out", (event) => showSignIn(event.detail));

const params = new URLSearchParams(location.search);
if (params.has("state") && (params.has("code") || params.has("error"))) {
  finishOAuth(params);
} else {
  route();
}
