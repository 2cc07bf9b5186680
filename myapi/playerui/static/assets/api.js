// The public /v1 API with the player's bearer token (the only API this page calls): the
// client the console shares (shared/api.js: the envelope, ApiError, Idempotency-Keys, one
// refresh on a 401, then the sign-out), its sign-in kept under oxu.player.* in the tab's
// sessionStorage.

import { createClient } from "./shared/api.js";

export const { api, get, getPublic, post, session } = createClient("oxu.player");
