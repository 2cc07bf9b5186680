// The frame of a page one signs in to (the player page, the operators' console): the
// hash routes (#/today, #/dashboard, ...) to the page's views and its tabs, the sign-in
// (dev login, or an OAuth provider's redirect and the way back), the sign-out. The page
// holds no data of its own: each view asks the API with the user's token and shows the
// API's error (code and message) when it refuses. What differs between the pages (their
// path, their client, their views, the sign-in's words and fields) is a parameter.

import { errorBox, h, mount } from "./dom.js";
import { failureBox } from "./views.js";

const PROVIDER_LABELS = { google: "Google", kakao: "Kakao" };

/** The JSON the server rendered into `<meta name="…">` ({} when missing or unreadable). */
export function readMeta(name) {
  const meta = document.querySelector(`meta[name="${name}"]`);
  try {
    return JSON.parse(meta?.content || "{}");
  } catch {
    return {};
  }
}

/**
 * The page on the elements #main, #tabs (links with data-tab), #who and #sign-out.
 *
 * - client: the page's API client (createClient of shared/api.js).
 * - path: the page's own path (ending in /); a provider sends the browser back there.
 * - oauthKey: the sessionStorage key of a provider's sign-in under way.
 * - signInOptions: the sign-ins the server offers, {dev_login, providers: {name: [redirect URIs]}}.
 * - views, home: {name: (section, params) => work} and the view of "#/" (and of an unknown route).
 * - signIn: the sign-in's words {title, lead?, providerVerb, devNote, unconfigured} and
 *   devLogin() -> {fields: {label: control}, body: () => the dev-login request's body}.
 * - onChrome(signedIn): what else to show or hide with the tabs.
 * - onSignIn(): before the sign-in shows (stop what runs while signed in).
 * - onView(name): when a view starts, its section on the page.
 *
 * Returns {start, route}: start() listens and shows what the URL asks for (or finishes a
 * provider's sign-in); route() shows the current view again.
 */
export function createPage({
  client, path, oauthKey, signInOptions, views, home, signIn,
  onChrome = () => {}, onSignIn = () => {}, onView = () => {},
}) {
  const { api, session } = client;
  const main = document.getElementById("main");
  const tabs = document.getElementById("tabs");
  const who = document.getElementById("who");

  function showChrome(signedIn) {
    tabs.hidden = !signedIn;
    who.hidden = !signedIn;
    onChrome(signedIn);
  }

  function redirectUriFor(uris) {
    const here = `${location.origin}${path}`;
    return (uris || []).find((uri) => uri === here) || null;
  }

  function startOAuth(provider, uris, problem) {
    const redirectUri = redirectUriFor(uris);
    if (!redirectUri) {
      mount(problem, errorBox({
        code: "OAUTH_004",
        message: `Add ${location.origin}${path} to OAUTH_REDIRECT_ALLOWLIST to sign in with ${PROVIDER_LABELS[provider] || provider} here.`,
      }));
      return;
    }
    sessionStorage.setItem(oauthKey, JSON.stringify({ provider, redirect_uri: redirectUri }));
    location.assign(`/v1/auth/oauth/${encodeURIComponent(provider)}/authorize?redirect_uri=${encodeURIComponent(redirectUri)}`);
  }

  function signedIn(login) {
    session.save(login, login.user);
    if (!location.hash || location.hash === "#/" || location.hash === "#") {
      location.hash = `#/${home}`;  // the hashchange routes
    } else {
      route();
    }
  }

  function devLoginForm(problem) {
    const { fields, body } = signIn.devLogin();
    const submit = h("button", { type: "submit" }, "Sign in");
    return h("form", {
      class: "dev-login", "data-form": "dev-login",
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        mount(problem);
        try {
          const { data } = await api("POST", "/v1/auth/dev-login", { body: body(), auth: false });
          signedIn(data);
        } catch (error) {
          mount(problem, errorBox(error));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h2", {}, "Development sign-in"),
    h("p", { class: "note" }, signIn.devNote),
    Object.entries(fields).map(([label, control]) => h("label", {}, h("span", {}, label), control)),
    submit);
  }

  function showSignIn(message) {
    onSignIn();
    showChrome(false);
    const problem = h("div", { class: "problem" });
    const providers = Object.entries(signInOptions.providers || {});
    const devForm = signInOptions.dev_login ? devLoginForm(problem) : null;
    mount(main, h("section", { class: "sign-in", "data-view": "sign-in" },
      h("h1", {}, signIn.title),
      signIn.lead ? h("p", { class: "lead" }, signIn.lead) : null,
      message ? h("p", { class: "notice", role: "status" }, message) : null,
      providers.length ? h("div", { class: "providers" }, providers.map(([name, uris]) =>
        h("button", { type: "button", class: `provider ${name}`, "data-provider": name,
          onclick: () => startOAuth(name, uris, problem) }, `${signIn.providerVerb} ${PROVIDER_LABELS[name] || name}`)))
        : null,
      devForm,
      !providers.length && !devForm ? h("p", { class: "notice" }, signIn.unconfigured) : null,
      problem));
  }

  /** Back from a provider: ?code&state (or ?error) on the page's URL. */
  async function finishOAuth(params) {
    const pending = JSON.parse(sessionStorage.getItem(oauthKey) || "null");
    sessionStorage.removeItem(oauthKey);
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

  function route() {
    if (!session.access) {
      showSignIn();
      return;
    }
    showChrome(true);
    const [wanted, query] = location.hash.replace(/^#\/?/, "").split("?");
    const name = views[wanted] ? wanted : home;
    for (const tab of tabs.querySelectorAll("a")) {
      if (tab.dataset.tab === name) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    const section = h("section", { class: "view", "data-view": name, "data-state": "loading" });
    mount(main, section);
    onView(name);
    Promise.resolve(views[name](section, new URLSearchParams(query || ""))).catch((error) => {
      section.dataset.state = "error";
      mount(section, failureBox(error));
    });
  }

  function start() {
    document.getElementById("sign-out").addEventListener("click", signOut);
    window.addEventListener("hashchange", route);
    window.addEventListener("oxu:signed-out", (event) => showSignIn(event.detail));
    const params = new URLSearchParams(location.search);
    if (params.has("state") && (params.has("code") || params.has("error"))) {
      finishOAuth(params);
    } else {
      route();
    }
  }

  return { start, route };
}
