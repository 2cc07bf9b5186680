// The /admin JSON API (and /v1/auth) with the operator's bearer token: the client the
// player page shares (shared/api.js: the envelope, ApiError, one refresh on a 401, then
// the sign-out), its sign-in kept under oxu.admin.* in the tab's sessionStorage.

import { createClient } from "./shared/api.js";

export const { api, get, post, session } = createClient("oxu.admin");
