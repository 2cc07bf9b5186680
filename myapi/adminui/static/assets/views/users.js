// Users: GET /admin/users?q (search by email or nickname), GET /admin/users/{id}, and
// POST /admin/users/{id}/suspend | reactivate {reason} (audited; a suspended account's
// tokens stop working at once).

import { get, post } from "../api.js";
import { badge, errorBox, fmtInt, fmtTime, h, mount, table } from "../dom.js";
import { field, filters, load } from "./common.js";

function status(user) {
  return user.status || (user.is_active ? "ACTIVE" : "DEACTIVATED");
}

/** GET /admin/users/{id} (the profile) with the search's row (status, suspension). */
function merged(detail, row) {
  const user = { ...detail, ...(row || {}) };
  if ("balance" in user) delete user.points_balance;
  return user;
}

const FIELDS = [
  ["id", "Id"], ["nickname", "Nickname"], ["email", "Email"], ["role", "Role"],
  ["status", "Status"], ["balance", "Balance"], ["points_balance", "Balance"],
  ["auth_provider", "Provider"], ["created_at", "Created"], ["last_login_at", "Last sign-in"],
  ["suspended_at", "Suspended"], ["suspension_reason", "Suspension reason"],
  ["deletion_requested_at", "Deletion requested"],
];

function card(user, onChange) {
  const reason = h("input", { type: "text", name: "reason", minlength: 3, maxlength: 500, required: true,
    placeholder: "why (audited)" });
  const outcome = h("div", { class: "outcome" });
  const act = async (verb) => {
    if (reason.value.trim().length < 3) {
      mount(outcome, errorBox({ code: "SYS_422", message: "A reason of at least 3 characters is required" }));
      return;
    }
    try {
      const { data } = await post(`/admin/users/${user.id}/${verb}`, { reason: reason.value.trim() });
      const next = data.user || data;
      onChange(next, data.changed === false ? `Already ${status(next).toLowerCase()}: nothing changed.`
        : `${verb === "suspend" ? "Suspended" : "Reactivated"}${data.revoked_refresh_tokens
          ? `; ${data.revoked_refresh_tokens} sign-ins ended` : ""}.`);
    } catch (error) {
      mount(outcome, errorBox(error));
    }
  };
  const suspended = status(user) === "SUSPENDED";
  return h("article", { class: "user-card", "data-user": user.id, "data-status": status(user) },
    h("h2", {}, user.nickname, " ", badge(status(user))),
    h("dl", {}, FIELDS.filter(([key]) => key in user && key !== "status").map(([key, label]) => [
      h("dt", {}, label),
      h("dd", { "data-field": key }, key.endsWith("_at") ? fmtTime(user[key])
        : key.includes("balance") ? fmtInt(user[key]) : (user[key] ?? "–")),
    ])),
    h("form", { class: "actions", "data-form": "suspension", onsubmit: (e) => e.preventDefault() },
      field("Reason", reason),
      h("button", { type: "button", class: "danger", "data-action": "suspend", disabled: suspended,
        onclick: () => act("suspend") }, "Suspend"),
      h("button", { type: "button", "data-action": "reactivate", disabled: !suspended,
        onclick: () => act("reactivate") }, "Reactivate")),
    outcome);
}

export default async function users(view, params) {
  const q = h("input", { type: "search", name: "q", minlength: 2, maxlength: 100,
    placeholder: "email or nickname", value: params.get("q") || "" });
  const results = h("div", { class: "body" });
  const detail = h("div", { class: "detail" });

  const open = async (row) => {
    mount(detail, h("p", { class: "loading" }, "Loading…"));
    try {
      const { data } = await get(`/admin/users/${row.id}`);
      show(merged(data, row));
    } catch (error) {
      mount(detail, errorBox(error));
    }
  };
  const show = (user, notice) => mount(detail,
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    card(user, (next, message) => { show(next, message); search(); }));

  const search = () => load(view, results, async () => {
    if (!q.value.trim()) {
      mount(results, h("p", { class: "empty" }, "Search by email or nickname."));
      return;
    }
    const { data, meta } = await get("/admin/users", { q: q.value.trim() });
    mount(results,
      meta.total !== undefined ? h("p", { class: "range" }, `${meta.total} found`) : null,
      table([
        { key: "id", label: "Id", class: "num" },
        { key: "nickname", label: "Nickname" },
        { key: "email", label: "Email" },
        { key: "role", label: "Role" },
        { key: "status", label: "Status", render: (_v, row) => badge(status(row)) },
        { key: "last_login_at", label: "Last sign-in", render: fmtTime },
        { key: "open", label: "", render: (_v, row) =>
          h("button", { type: "button", class: "link", "data-action": "open", onclick: () => open(row) }, "Open") },
      ], data, { empty: "No account matches.", rowAttrs: (row) => ({ "data-user": row.id }) }));
  });
  mount(view, h("h1", {}, "Users"), filters("users", [field("Search", q)], search, "Search"), results, detail);
  await search();
}
