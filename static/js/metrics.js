// A run's metric columns, as the catalog lists them for its family (tasks[i].metrics, .charts,
// .monitor): the charts, Compare and the run records build from these, never from fixed names.

import { COL, SPREAD_SUFFIX } from "./protocol.js";

/** The catalog's entry for a task, or null (a task this server no longer has). */
export const taskEntry = (catalog, task) => ((catalog && catalog.tasks) || []).find((t) => t.name === task) || null;

/** [{name, label, chart, pair, percent, baseline}] of a task; for an unknown task, one per history column. */
export function metricsOf(catalog, task, history = null) {
  const entry = taskEntry(catalog, task);
  if (entry) return entry.metrics;
  const base = new Set([COL.EPOCH, COL.LR, COL.STEP_TIME]);
  return Object.keys(history || {}).filter((c) => !base.has(c) && !c.endsWith(SPREAD_SUFFIX))
    .map((name) => ({ name, label: name.replace(/_/g, " "), chart: "loss", pair: null, percent: false, baseline: false }));
}

/** The column that picks a task's best epoch (null: none, as for a GAN). */
export function monitorOf(catalog, task) {
  const entry = taskEntry(catalog, task);
  return entry ? entry.monitor : COL.VAL_LOSS;
}

/** Chart groups in order, each with its title and metrics: [{name, label, metrics}]. */
export function chartsOf(catalog, task, history = null) {
  const metrics = metricsOf(catalog, task, history);
  const entry = taskEntry(catalog, task);
  const labels = Object.fromEntries(((entry && entry.charts) || []).map((c) => [c.name, c.label]));
  const groups = new Map();
  for (const m of metrics) {
    if (!groups.has(m.chart)) groups.set(m.chart, { name: m.chart, label: labels[m.chart] || m.chart, metrics: [] });
    groups.get(m.chart).metrics.push(m);
  }
  return [...groups.values()];
}

/** The task a run record trained (its summary's, else its spec's). */
export const taskOfRun = (run) => (run && run.summary && run.summary.task) || (run && run.spec && run.spec.task) || null;
