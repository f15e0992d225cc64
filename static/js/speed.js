// How fast a run trains, for the toolbar (issue 13): "cpu · 0.21 ms/step · 480 epochs/s". The
// device is the one the server resolved for the run, the step time the trainer's own (the
// history's step_time column), and epochs/s what reached the page over the last couple of
// seconds. Pure functions on a run record; main.js owns the records.

import { COL, seedsOf } from "./protocol.js";
import { isActive, lastEpoch } from "./runs.js";

const WINDOW_MS = 2000; // epochs/s over this much of the latest arrivals
const MIN_SPAN_MS = 300; // shorter than this says nothing (a replay arrives all at once)

/** Note that `run`'s epoch counter moved (call on each metrics message; `now` in ms). */
export function noteEpochs(run, now = performance.now()) {
  if (!isActive(run)) return;
  const s = run.speed || (run.speed = { samples: [], rate: null });
  s.samples.push([now, lastEpoch(run)]);
  while (s.samples.length > 2 && now - s.samples[1][0] > WINDOW_MS) s.samples.shift();
  const [t0, e0] = s.samples[0];
  if (now - t0 >= MIN_SPAN_MS) s.rate = (1000 * (lastEpoch(run) - e0)) / (now - t0);
}

/** Forget the arrivals (a reconnect replays the history at once). */
export function resetSpeed(run) {
  if (run.speed) run.speed.samples = [];
}

const fmtMs = (s) => {
  const ms = 1000 * s;
  return ms >= 10 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toFixed(2);
};
const fmtRate = (r) => (r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2));

/** "cpu · 0.21 ms/step · 480 epochs/s", as much of it as is known; "" with no run. An ensemble's
 * step is all its members' at once: "cpu · ×8 · 0.40 ms/step · 300 epochs/s". */
export function speedText(run) {
  if (!run) return "";
  const parts = [];
  if (run.device) parts.push(run.device);
  const seeds = seedsOf(run.spec);
  if (seeds > 1) parts.push(`×${seeds}`); // an ensemble: K members per step
  const times = (run.history[COL.STEP_TIME] || []).filter((v) => v !== null && v !== undefined);
  if (times.length) parts.push(`${fmtMs(times[times.length - 1])} ms/step`);
  if (run.speed && run.speed.rate !== null && run.speed.rate > 0) parts.push(`${fmtRate(run.speed.rate)} epochs/s`);
  return parts.join(" · ");
}
