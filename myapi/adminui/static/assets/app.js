// The console: the hash routes (#/dashboard, #/jobs, ...) and the sign-in (dev login with
// a role, or the OAuth providers the players use) in the frame the player page shares
// (shared/page.js). The page holds no data of its own: each view asks the /admin API with
// the operator's token, and shows the API's error (code and message) instead of data
// when it refuses, e.g. AUTH_003 for a player.

import * as client from "./api.js";
import { h } from "./dom.js";
import { createPage, readMeta } from "./shared/page.js";
import audit from "./views/audit.js";
import dashboard from "./views/dashboard.js";
import dlq from "./views/dlq.js";
import integrity from "./views/integrity.js";
import jobs from "./views/jobs.js";
import rewards from "./views/rewards.js";
import users from "./views/users.js";

const whoName = document.getElementById("who-name");

/** The dev-login form's fields: an email, a nickname and the role to sign in with. */
function devLogin() {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "username",
    placeholder: "ops@example.com" });
  const nickname = h("input", { type: "text", name: "nickname", pattern: "[0-9A-Za-z_가-힣]{2,30}",
    placeholder: "optional" });
  const role = h("select", { name: "role" },
    h("option", { value: "ADMIN", selected: true }, "ADMIN"), h("option", { value: "USER" }, "USER"));
  return {
    fields: { Email: email, Nickname: nickname, Role: role },
    body: () => {
      const body = { email: email.value.trim(), role: role.value };
      if (nickname.value.trim()) body.nickname = nickname.value.trim();
      return body;
    },
  };
}

createPage({
  client,
  path: "/admin/ui/",
  oauthKey: "oxu.admin.oauth",
  signInOptions: readMeta("oxu-sign-in"),
  views: { dashboard, jobs, dlq, audit, users, rewards, integrity },
  home: "dashboard",
  signIn: {
    title: "Operator sign-in",
    providerVerb: "Sign in with",
    devNote: "Tokens for an email without a provider (never in production).",
    unconfigured: "No sign-in is configured: set GOOGLE_CLIENT_ID or KAKAO_CLIENT_ID.",
    devLogin,
  },
  onChrome: (signedIn) => {
    const user = client.session.user;
    whoName.textContent = signedIn && user ? `${user.nickname} · ${user.email ?? ""} · ${user.role}` : "";
  },
}).start();
