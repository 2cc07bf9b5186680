// The /admin JSON API with the operator's bearer token. Every response is the envelope
// {success, data, error, meta}; a failure becomes an ApiError with the stable code and
// message the API gave. A 401 tries the refresh token once, then signs out.

const ACCESS = "oxu.admin.access";
const REFRESH = "oxu.admin.refresh";
const USER = "oxu.admin.user";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The sign-in of this tab (sessionStorage: gone when the tab closes). */
export const session = {
  get access() { return sessionStorage.getItem(ACCESS); },
  get refresh() { return sessionStorage.getItem(REFRESH); },
  get user() {
    try { return JSON.parse(sessionStorage.getItem(USER) || "null"); } catch { return null; }
  },
  save(tokens, user) {
    sessionStorage.setItem(ACCESS, tokens.access_token);
    sessionStorage.setItem(REFRESH, tokens.refresh_token);
    if (user) sessionStorage.setItem(USER, JSON.stringify(user));
  },
  clear() {
    for (const key of [ACCESS, REFRESH, USER]) sessionStorage.removeItem(key);
  },
};

function url(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") params.append(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

function send(method, target, body, auth) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && session.access) headers.Authorization = `Bearer ${session.access}`;
  return fetch(target, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
}

async function unwrap(res) {
  let envelope = null;
  try { envelope = await res.json(); } catch { envelope = null; }
  if (!envelope || typeof envelope !== "object" || !("success" in envelope)) {
    throw new ApiError(res.status, `HTTP_${res.status}`, res.statusText || "Unexpected response");
  }
  if (!res.ok || !envelope.success) {
    const error = envelope.error || {};
    throw new ApiError(res.status, error.code || `HTTP_${res.status}`, error.message || "Request failed",
      error.details);
  }
  return { data: envelope.data, meta: envelope.meta || {} };
}

let refreshing = null;

/** One refresh for every request that got a 401 meanwhile; true when it worked. */
function refreshTokens() {
  if (!refreshing) {
    const token = session.refresh;
    refreshing = (async () => {
      if (!token) return false;
      try {
        const { data } = await unwrap(await send("POST", "/v1/auth/token/refresh",
          { refresh_token: token }, false));
        session.save(data);
        return true;
      } catch {
        return false;
      }
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** Call the API; resolves to {data, meta}, rejects with an ApiError. */
export async function api(method, path, { query, body, auth = true } = {}) {
  const target = url(path, query);
  let res = await send(method, target, body, auth);
  if (res.status === 401 && auth) {
    if (await refreshTokens()) {
      res = await send(method, target, body, auth);
    }
    if (res.status === 401) {
      session.clear();
      window.dispatchEvent(new CustomEvent("oxu:signed-out", { detail: "Your session has ended; sign in again." }));
    }
  }
  return unwrap(res);
}

export const get = (path, query) => api("GET", path, { query });
export const post = (path, body) => api("POST", path, { body: body ?? {} });
