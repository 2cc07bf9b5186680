// What the server told the page about this deployment (<meta name="oxu-config">): the
// sign-ins it offers and whether the development ad receipt exists. No player data.

import { readMeta } from "./shared/page.js";

export const config = Object.freeze({ dev_login: false, providers: {}, dev_ads: false, ...readMeta("oxu-config") });
