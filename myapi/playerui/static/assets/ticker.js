// The live figures of the page, on the server's clock (clock.js): every element with
// data-deadline shows the time left to it (and, once reached, fires "oxu:deadline" with
// its data-kind: cutoff, open, cooldown), every data-server-clock the server's time.

import { fmtCountdown, remainingMs, serverNow } from "./clock.js";
import { fmtKst } from "./dom.js";

const TICK_MS = 250;

/** Bring every countdown and clock under `root` up to now (right after a render, too). */
export function paint(root = document) {
  const now = serverNow();
  for (const el of root.querySelectorAll("[data-server-clock]")) {
    el.textContent = `${fmtKst(new Date(now).toISOString(), { seconds: true })} KST`;
  }
  for (const el of root.querySelectorAll("[data-deadline]")) {
    const left = remainingMs(el.dataset.deadline, now);
    el.textContent = fmtCountdown(left);
    if (left <= 0 && el.dataset.expired !== "true") {
      el.dataset.expired = "true";
      el.dispatchEvent(new CustomEvent("oxu:deadline", { bubbles: true, detail: el.dataset.kind }));
    }
  }
}

export function startTicker() {
  setInterval(() => paint(), TICK_MS);
}
