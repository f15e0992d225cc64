// Which runs the page names and overlays (issue 13). A run's name ("Run 3 · more data") is given
// once, when it starts, and kept with the run on the server; the charts overlay only runs that
// trained on the same data with the same metric columns (Compare overlays any), and a session
// opens on its latest run with the remedy runs around it, not on every run it ever trained.
// Pure functions: main.js owns the records.

import { taskOfRun } from "./metrics.js";

/** "Run 3", or "Run 3 · more data" for a run a remedy (or another change named `label`) made. */
export const runName = (number, label = null) => (label ? `Run ${number} · ${label}` : `Run ${number}`);

/** The number a run's name starts with, or 0 (a renamed run). */
export const numberOf = (name) => {
  const m = /^Run (\d+)\b/.exec(name || "");
  return m ? Number(m[1]) : 0;
};

/** The number the next run of a session gets: past every number in use and every run kept. */
export const nextNumber = (runs) => 1 + runs.reduce((n, r) => Math.max(n, r.number || numberOf(r.label)), runs.length);

/** A run's colour, from its number (kept with the run on the server, through renames): the same on
 * the main page, in Compare, through a share link and after a reload, wherever it sits in a list. */
export const colorOf = (number, colors) => colors[(Math.max(1, Math.floor(number) || 1) - 1) % colors.length];

/** What a run's curves are comparable on: its dataset (an upload is a dataset of its own) and task. */
export const dataKey = (run) => {
  const d = (run.spec && run.spec.data) || {};
  return `${d.dataset}|${d.upload || ""}|${taskOfRun(run)}`;
};

/** Two runs may share the charts: the same data and the same metric columns. */
export const overlayable = (a, b) => dataKey(a) === dataKey(b);

/**
 * The runs a session opens on (records oldest first): the latest run and its family, the runs
 * linked to it by remedies (its parent, the parent's other remedies, its own), on its data,
 * at most `max`, the latest last. The rest stay in Compare.
 */
export function shownOnOpen(runs, max) {
  if (!runs.length) return [];
  const latest = runs[runs.length - 1];
  const byId = new Map(runs.map((r) => [r.id, r]));
  let root = latest;
  const seen = new Set([root.id]);
  while (root.parentId && byId.has(root.parentId) && !seen.has(root.parentId)) {
    root = byId.get(root.parentId);
    seen.add(root.id);
  }
  const family = new Set([root.id]);
  for (const r of runs) if (r.parentId && family.has(r.parentId)) family.add(r.id); // oldest first: parents come first
  const shown = runs.filter((r) => family.has(r.id) && overlayable(r, latest));
  return shown.slice(-max);
}
