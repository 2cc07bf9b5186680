// The server's clock, as the page estimates it between two polls of /v1/session/today:
// server-now = server_time + (real time elapsed since that response) x clock_speed.
// Every countdown (the cutoff, the slot cooldown) runs on it, never on the device's
// clock: the device may be off, and a demo's clock runs faster (clock_speed > 1).

let anchor = null;  // {server: epoch ms, at: performance.now() of the response, speed}

/** The server instant (epoch ms) `nowPerf` given the anchor's reading (pure). */
export function serverNowAt(serverTimeIso, clockSpeed, receivedAt, nowPerf) {
  const speed = Number(clockSpeed) > 0 ? Number(clockSpeed) : 1;
  return Date.parse(serverTimeIso) + Math.max(0, nowPerf - receivedAt) * speed;
}

/** Take the server's reading from a session/today response received at `receivedAt`. */
export function setServerClock(serverTimeIso, clockSpeed, receivedAt) {
  const server = Date.parse(serverTimeIso);
  if (Number.isNaN(server)) return;
  anchor = { iso: serverTimeIso, server, at: receivedAt, speed: Number(clockSpeed) > 0 ? Number(clockSpeed) : 1 };
}

/** Now on the server's clock (epoch ms); the device's clock until the first reading. */
export function serverNow() {
  return anchor ? serverNowAt(anchor.iso, anchor.speed, anchor.at, performance.now()) : Date.now();
}

export function clockSpeed() {
  return anchor ? anchor.speed : 1;
}

/** Milliseconds from the server's now to `deadlineIso` (negative once passed). */
export function remainingMs(deadlineIso, now = serverNow()) {
  return Date.parse(deadlineIso) - now;
}

/** A countdown: "13:24:59", "4:59", "0:00" once passed. */
export function fmtCountdown(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return hours ? `${hours}:${pad(minutes)}:${pad(seconds)}` : `${minutes}:${pad(seconds)}`;
}
