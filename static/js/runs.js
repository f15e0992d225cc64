// A run as the page keeps it: what the server said about it, folded from the websocket's
// messages. Pure functions on a run record; main.js owns the records themselves.

import { ACTIVE_STATUSES, COL, MSG, STATUS } from "./protocol.js";
import { colorOf, numberOf, runName } from "./runset.js";

export const STATUS_TEXT = {
  [STATUS.QUEUED]: "Queued", [STATUS.RUNNING]: "Training", [STATUS.PAUSED]: "Paused",
  [STATUS.FINISHED]: "Finished", [STATUS.STOPPED]: "Stopped", [STATUS.FAILED]: "Failed",
  [STATUS.DIVERGED]: "Diverged", [STATUS.INTERRUPTED]: "Interrupted",
};

// A history starts with the base columns; a family's metric columns appear as messages bring them.
export const emptyHistory = () => ({ [COL.EPOCH]: [], [COL.LR]: [], [COL.STEP_TIME]: [] });
export const isActive = (run) => Boolean(run) && ACTIVE_STATUSES.has(run.status);
export const lastEpoch = (run) => {
  const epochs = run ? run.history[COL.EPOCH] : [];
  return epochs.length ? epochs[epochs.length - 1] : 0;
};

/** A run record from POST /api/runs' answer and the spec it was started with. `monitor` is the
 * column that picks its best epoch (the catalog's tasks[i].monitor; null for none); `number` its
 * number on the page, which gives its colour. */
export function makeRun(created, spec, { label, number, parentLabel = null, parentId = null, color, monitor = COL.VAL_LOSS }) {
  return {
    monitor,
    id: created.id,
    label,
    number,
    parentLabel,
    parentId,
    spec,
    summary: created.summary,
    status: created.status,
    statusText: STATUS_TEXT[created.status] || created.status,
    history: emptyHistory(),
    bestVal: Infinity,
    bestEpoch: null,
    stoppedEarlyAt: null,
    diagnosis: null,
    snapshots: {},
    end: null,
    color,
  };
}

/** Forget the history before the server replays it on a (re)connect. */
export function resetHistory(run) {
  run.history = emptyHistory();
  run.bestVal = Infinity;
  run.bestEpoch = null;
}

export function setStatus(run, status, text = null) {
  run.status = status;
  run.statusText = text || STATUS_TEXT[status] || status;
}

function appendMetrics(run, msg) {
  const h = run.history;
  const n = (msg[COL.EPOCH] || []).length;
  const before = h[COL.EPOCH].length;
  for (const c of Object.keys(msg)) {
    if (c === "type" || !Array.isArray(msg[c])) continue;
    if (!h[c]) h[c] = new Array(before).fill(null); // a column this record has not seen yet
  }
  for (const c of Object.keys(h)) {
    const src = msg[c] || [];
    for (let i = 0; i < n; i++) h[c].push(src[i] ?? null);
  }
  if (!run.monitor || !h[run.monitor]) return;
  for (let i = h[COL.EPOCH].length - n; i < h[COL.EPOCH].length; i++) {
    const v = h[run.monitor][i];
    if (v !== null && v < run.bestVal) {
      run.bestVal = v;
      run.bestEpoch = h[COL.EPOCH][i];
    }
  }
}

/** Fold one server message into the run record. */
export function applyMessage(run, msg) {
  switch (msg.type) {
    case MSG.STATUS:
      setStatus(run, msg.status);
      break;
    case MSG.METRICS:
      appendMetrics(run, msg);
      break;
    case MSG.DIAGNOSIS:
      run.diagnosis = msg;
      break;
    case MSG.SNAPSHOT:
      run.snapshots[msg.kind] = msg;
      break;
    case MSG.END:
      run.end = msg;
      if (msg.best_epoch) run.bestEpoch = msg.best_epoch;
      if (msg.stopped_early) run.stoppedEarlyAt = msg.epochs;
      setStatus(run, msg.status, msg.stopped_early ? "Stopped early" : null);
      break;
    default:
      break; // errors are the page's to show; a newer server's messages are ignored
  }
}

/** A run record from a saved run (RunOut, as a session lists it): its whole history at once. */
export function savedRun(out, { label, number, parentLabel = null, color, monitor = COL.VAL_LOSS }) {
  const run = makeRun(out, out.spec, { label, number, parentLabel, parentId: out.parent, color, monitor });
  run.history = { ...emptyHistory(), ...Object.fromEntries(Object.entries(out.history || {}).map(([c, v]) => [c, [...v]])) };
  const vals = (monitor && run.history[monitor]) || [];
  vals.forEach((v) => {
    if (v !== null && v < run.bestVal) run.bestVal = v;
  });
  run.bestEpoch = out.best_epoch || null;
  run.diagnosis = out.diagnosis ? { type: MSG.DIAGNOSIS, ...out.diagnosis } : null;
  run.snapshots = Object.fromEntries(Object.entries(out.snapshots || {}).map(([k, v]) => [k, { type: MSG.SNAPSHOT, kind: k, ...v }]));
  run.hasWeights = Boolean(out.has_weights);
  if (!ACTIVE_STATUSES.has(out.status)) {
    const epochs = run.history[COL.EPOCH].length;
    run.end = { type: MSG.END, status: out.status, epochs, best_epoch: out.best_epoch, stopped_early: out.stopped_early,
                advice: out.advice, error: out.error, verdict: out.diagnosis ? out.diagnosis.verdict : null };
    if (out.stopped_early) run.stoppedEarlyAt = epochs;
    setStatus(run, out.status, out.stopped_early ? "Stopped early" : null);
  }
  return run;
}

/** Records of a session's saved runs (oldest first), by the names kept with them (runs saved before
 * names were kept are named by their place, as the migration names them), with parents named and
 * each coloured by its number: the one kept with it, else the one its name starts with, else its place. */
export function savedRuns(saved, { normalizeSpec, colors, monitorOf = () => COL.VAL_LOSS }) {
  const labels = new Map(saved.map((r, i) => [r.id, r.name || runName(i + 1, r.label)]));
  return saved.map((out, i) => {
    const number = out.number || numberOf(labels.get(out.id)) || i + 1;
    const run = savedRun({ ...out, spec: normalizeSpec(out.spec) }, {
      label: labels.get(out.id),
      number,
      parentLabel: out.parent ? labels.get(out.parent) || null : null,
      color: colorOf(number, colors),
      monitor: monitorOf(out.summary && out.summary.task ? out.summary.task : out.spec.task),
    });
    run.inSession = true;
    return run;
  });
}
