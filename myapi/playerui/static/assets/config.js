// What the server told the page about this deployment (<meta name="oxu-config">): the
// sign-ins it offers and whether the development ad receipt exists. No player data.

function read() {
  const meta = document.querySelector('meta[name="oxu-config"]');
  try {
    return JSON.parse(meta?.content || "{}");
  } catch {
    return {};
  }
}

export const config = Object.freeze({ dev_login: false, providers: {}, dev_ads: false, ...read() });
