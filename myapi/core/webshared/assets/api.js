// A page's client of the JSON API, with the bearer token of the tab's sign-in. Every
// response is the envelope {success, data, error, meta}; a failure becomes an ApiError
// with the stable code and the message the API gave. A 401 tries the refresh token once
// (one refresh for every request that got a 401 meanwhile), then signs the tab out:
// the tokens are cleared and "oxu:signed-out" tells the page why.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") params.append(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** A fresh Idempotency-Key (crypto.getRandomValues works on plain http too). */
function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function unwrap(res) {
  const receivedAt = performance.now();
  let envelope = null;
  try { envelope = await res.json(); } catch { envelope = null; }
  if (!envelope || typeof envelope !== "object" || !("success" in envelope)) {
    throw new ApiError(res.status, `HTTP_${res.status}`, res.statusText || "Unexpected response from the server");
  }
  if (!res.ok || !envelope.success) {
    const error = envelope.error || {};
    throw new ApiError(res.status, error.code || `HTTP_${res.status}`, error.message || "Request failed",
      error.details);
  }
  return { data: envelope.data, meta: envelope.meta || {}, receivedAt };
}

/**
 * The client of one page, its sign-in kept in the tab's sessionStorage (gone when the
 * tab closes) under `${prefix}.access`, `${prefix}.refresh` and `${prefix}.user`, so
 * two pages of the origin never share a session.
 */
export function createClient(prefix) {
  const ACCESS = `${prefix}.access`;
  const REFRESH = `${prefix}.refresh`;
  const USER = `${prefix}.user`;

  const session = {
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
    saveUser(user) { sessionStorage.setItem(USER, JSON.stringify(user)); },
    clear() {
      for (const key of [ACCESS, REFRESH, USER]) sessionStorage.removeItem(key);
    },
  };

  async function send(method, target, body, auth, key) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && session.access) headers.Authorization = `Bearer ${session.access}`;
    if (key) headers["Idempotency-Key"] = key;
    try {
      return await fetch(target, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "NETWORK", "The server could not be reached; check the connection and try again.");
    }
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

  /**
   * Call the API; resolves to {data, meta, receivedAt}, rejects with an ApiError.
   * `idempotent`: send an Idempotency-Key (the same one on the retry after a refresh),
   * so a write is never applied twice.
   */
  async function api(method, path, { query, body, auth = true, idempotent = false } = {}) {
    const target = url(path, query);
    const key = idempotent ? newKey() : null;
    let res = await send(method, target, body, auth, key);
    if (res.status === 401 && auth) {
      if (await refreshTokens()) {
        res = await send(method, target, body, auth, key);
      }
      if (res.status === 401) {
        session.clear();
        window.dispatchEvent(new CustomEvent("oxu:signed-out", { detail: "Your session has ended; sign in again." }));
      }
    }
    return unwrap(res);
  }

  return {
    session,
    api,
    get: (path, query) => api("GET", path, { query }),
    getPublic: (path, query) => api("GET", path, { query, auth: false }),
    post: (path, body, idempotent = false) => api("POST", path, { body: body ?? {}, idempotent }),
  };
}
