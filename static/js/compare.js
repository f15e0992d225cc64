// Compare runs: pick any runs, overlay one metric with TensorBoard's smoothing (the raw values
// faint beneath), and list the spec fields that differ between them ("Diff only").

import uPlot from "uplot";
import { AXIS, epochTicks, rgba } from "./charts.js";
import { createDialog } from "./dialog.js";
import { $, clear, el, fmtNum, setText } from "./dom.js";
import { metricsOf, monitorOf, taskOfRun } from "./metrics.js";
import { COL } from "./protocol.js";
import { ema } from "./smooth.js";
import { compareSpecs, showValue } from "./specdiff.js";

const DEFAULT_PICKED = 4;

const hasValues = (col) => Array.isArray(col) && col.some((v) => v !== null && v !== undefined);

/** The metric columns of the runs' families, each once: every monitored one first, then the
 * validation columns, then the rest, in the catalog's order ({col, label, acc}). */
function metricChoices(catalog, runs) {
  const seen = new Map();
  const monitors = new Set(runs.map((r) => monitorOf(catalog, taskOfRun(r))).filter(Boolean));
  for (const run of runs) {
    for (const m of metricsOf(catalog, taskOfRun(run), run.history)) {
      if (!seen.has(m.name)) seen.set(m.name, { col: m.name, label: m.label, acc: Boolean(m.percent) });
    }
  }
  const rank = (m) => (monitors.has(m.col) ? 0 : m.col.startsWith("val") ? 1 : 2);
  return [...seen.values()].map((m, i) => [m, i]).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map(([m]) => m);
}

export function createCompareDialog(root, catalog = null) {
  const dialog = createDialog(root, { onClose: () => destroyPlot() });
  const list = $("#compare-list", root);
  const metric = $("#compare-metric", root);
  const smoothing = $("#compare-smoothing", root);
  const smoothingOut = $("#compare-smoothing-value", root);
  const logScale = $("#compare-log", root);
  const chartEl = $("#compare-chart", root);
  const table = $("#compare-diff", root);
  const empty = $("#compare-diff-empty", root);
  const diffOnly = $("#compare-diff-only", root);
  let runs = [];
  let picked = new Set();
  let plot = null;

  const redrawChart = () => drawChart(chosen());
  metric.addEventListener("change", redrawChart);
  logScale.addEventListener("change", redrawChart);
  smoothing.addEventListener("input", redrawChart);
  diffOnly.addEventListener("change", () => drawDiff(chosen()));
  new ResizeObserver(() => {
    if (plot) plot.setSize(sizeOf());
  }).observe(chartEl);

  const sizeOf = () => ({ width: Math.max(240, chartEl.clientWidth), height: Math.max(160, chartEl.clientHeight) });
  const chosen = () => runs.filter((r) => picked.has(r.id));

  function destroyPlot() {
    if (plot) plot.destroy();
    plot = null;
  }

  function renderList() {
    clear(list);
    if (!runs.length) list.append(el("li", { class: "hint", text: "No runs yet: press Train, then compare." }));
    for (const run of runs) {
      const box = el("input", { attrs: { type: "checkbox" }, props: { checked: picked.has(run.id) } });
      box.addEventListener("change", () => {
        if (box.checked) picked.add(run.id);
        else picked.delete(run.id);
        draw();
      });
      const epochs = run.history[COL.EPOCH].length;
      list.append(el("li", { class: "compare-run" }, el("label", { class: "check" }, box,
        el("span", { class: "swatch", attrs: { "aria-hidden": "true" }, style: { background: run.color } }),
        el("span", { class: "legend-label", text: run.label })),
      el("span", { class: "compare-meta", text: `${run.statusText || run.status} · ${epochs} epoch${epochs === 1 ? "" : "s"}` })));
    }
  }

  let choices = [];

  function renderMetrics() {
    // A column no run fills is no choice (a critic's runs have no D probabilities, the others no critic's
    // estimate); before any run has values, the non-percent ones stay, so the menu is never empty.
    const filled = runs.some((r) => Object.values(r.history || {}).some(hasValues));
    choices = metricChoices(catalog, runs).filter((m) => runs.some((r) => hasValues(r.history[m.col]))
      || (!filled && !m.acc));
    const keep = metric.value;
    metric.replaceChildren(...choices.map((m) => el("option", { text: m.label, props: { value: m.col } })));
    if ([...metric.options].some((o) => o.value === keep)) metric.value = keep;
  }

  function drawChart(sel) {
    const beta = Number(smoothing.value);
    setText(smoothingOut, beta.toFixed(2));
    const col = metric.value;
    const isAcc = choices.some((m) => m.col === col && m.acc);
    const n = sel.reduce((m, r) => Math.max(m, r.history[COL.EPOCH].length), 0);
    const pad = (values) => {
      const out = values.slice(0, n).map((v) => (v === undefined ? null : v));
      while (out.length < n) out.push(null);
      return out;
    };
    const data = [Array.from({ length: n }, (_, i) => i + 1)];
    const series = [{ label: "epoch" }];
    const fmt = isAcc ? (u, v) => (v === null ? "–" : `${(100 * v).toFixed(1)}%`) : (u, v) => fmtNum(v);
    for (const run of sel) {
      const raw = pad(run.history[col] || []);
      data.push(raw, ema(raw, beta));
      series.push({ label: `${run.label} (raw)`, stroke: rgba(run.color, beta > 0 ? 0.3 : 0), width: 1, value: fmt,
                    points: { show: false } });
      series.push({ label: run.label, stroke: run.color, width: 2, value: fmt });
    }
    destroyPlot();
    clear(chartEl);
    const log = logScale.checked && !isAcc;
    plot = new uPlot({
      ...sizeOf(),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 5 } },
      scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
      axes: [{ ...AXIS, size: 28, values: epochTicks },
             { ...AXIS, size: 52, values: (u, splits) => splits.map((v) => (isAcc ? `${Math.round(v * 100)}%` : fmtNum(v, 2))) }],
      series,
    }, data, chartEl);
    chartEl.dataset.runs = String(sel.length);
    chartEl.dataset.smoothing = String(beta);
    chartEl.dataset.metric = col;
    const what = metric.selectedOptions[0] ? metric.selectedOptions[0].text : col;
    const who = sel.map((r) => r.label).join(", ") || "no runs";
    chartEl.setAttribute("aria-label", `${what} of ${who}, smoothing ${beta.toFixed(2)}`);
  }

  function drawDiff(sel) {
    clear(table);
    const rows = compareSpecs(sel.map((r) => r.spec));
    const shown = diffOnly.checked ? rows.filter((r) => r.differs) : rows;
    const message = sel.length < 2 && diffOnly.checked ? "Pick two or more runs to see which settings differ."
      : !shown.length ? "The selected runs have exactly the same settings." : "";
    setText(empty, message);
    empty.hidden = !message;
    table.hidden = !shown.length;
    if (!shown.length) return;
    table.append(el("thead", {}, el("tr", {},
      el("th", { text: "Setting", attrs: { scope: "col" } }),
      sel.map((r) => el("th", { attrs: { scope: "col" } },
        el("span", { class: "swatch", attrs: { "aria-hidden": "true" }, style: { background: r.color } }), r.label)))));
    table.append(el("tbody", {}, shown.map((row) => el("tr", { class: row.differs ? "differs" : "", dataset: { path: row.path } },
      el("th", { class: "diff-path", text: row.path, attrs: { scope: "row" } }),
      row.values.map((v) => el("td", { text: showValue(v) }))))));
  }

  function draw() {
    const sel = chosen();
    drawChart(sel);
    drawDiff(sel);
  }

  return {
    /** runs: records as main.js keeps them ({id, label, color, status, history, spec}), oldest first. */
    open(next, invoker) {
      runs = next;
      const ids = runs.map((r) => r.id);
      const still = ids.filter((id) => picked.has(id));
      picked = new Set(still.length ? still : ids.slice(-DEFAULT_PICKED));
      dialog.open(invoker);
      renderMetrics();
      renderList();
      draw();
      const first = list.querySelector("input");
      if (first) first.focus();
    },
  };
}
