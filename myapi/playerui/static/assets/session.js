// Today's session (/v1/session/today), polled every few seconds while signed in (every
// second on an accelerated clock), so a phase change (the cutoff closes the board, the
// next day opens, a day is settled) shows without a reload. Each answer also resets the
// server clock the countdowns run on (clock.js).

import { getPublic } from "./api.js";
import { clockSpeed, setServerClock } from "./clock.js";

let current = null;
let lastKey = null;
let timer = null;
let running = false;
let inflight = null;

const keyOf = (s) => [s.trading_day, s.phase, s.can_predict, s.settled_at].join("|");

/** The last answer of /v1/session/today (null before the first). */
export function currentSession() {
  return current;
}

/**
 * Ask for the session now (one request for concurrent callers). A change of its day,
 * phase, openness or settlement since the last answer fires "oxu:session-changed".
 */
export function refreshSession() {
  if (!inflight) {
    inflight = (async () => {
      const { data, receivedAt } = await getPublic("/v1/session/today");
      setServerClock(data.server_time, data.clock_speed, receivedAt);
      const key = keyOf(data);
      const changed = lastKey !== null && key !== lastKey;
      lastKey = key;
      current = data;
      window.dispatchEvent(new CustomEvent("oxu:session", { detail: data }));
      if (changed) window.dispatchEvent(new CustomEvent("oxu:session-changed", { detail: data }));
      return data;
    })().finally(() => { inflight = null; });
  }
  return inflight;
}

export function pollInterval() {
  return clockSpeed() > 1 ? 1000 : 3000;
}

function schedule() {
  clearTimeout(timer);
  if (!running) return;
  timer = setTimeout(async () => {
    try {
      await refreshSession();
      window.dispatchEvent(new CustomEvent("oxu:online"));
    } catch (error) {
      window.dispatchEvent(new CustomEvent("oxu:offline", { detail: error }));
    }
    schedule();
  }, pollInterval());
}

export function startPolling() {
  if (running) return;
  running = true;
  schedule();
}

/** Poll at once (a countdown reached its deadline), then on the usual rhythm. */
export function pollNow() {
  if (!running) return;
  clearTimeout(timer);
  refreshSession().catch(() => {}).finally(schedule);
}

export function stopPolling() {
  running = false;
  clearTimeout(timer);
  current = null;
  lastKey = null;
}
