// Training curves with uPlot, one chart per chart group of the family's metrics (the catalog's
// tasks[i].charts): the first group (loss: train solid, validation dashed, the gap between each
// train/validation pair shaded, reference lines such as the naive forecast thin and dotted,
// markers for the best epoch and an early stop), then the others (accuracy, or whatever a family
// names), then the learning rate. An ensemble's curves (training.seeds > 1) are its members' mean,
// each with a shaded band of ±1 sd across the seeds (its `<metric>_sd` column) in every chart but the
// learning rate's. Every run on the page is overlaid in its own colour. Incoming
// metrics only mark the charts dirty; the data are rebuilt and handed to setData once per
// animation frame, however fast the epochs arrive.

import uPlot from "uplot";
import { $, clear, el, fmtNum, frameScheduler, setText } from "./dom.js";
import { hexToRgb } from "./plot2d.js";
import { createLegend } from "./legend.js";
import { COL, seedsOf, spreadOf } from "./protocol.js";

export const RUN_COLORS = ["#1c7ed6", "#e8590c", "#2f9e44", "#9c36b5", "#0c8599", "#c2255c", "#5c940d", "#495057"];
export const AXIS = { stroke: "#868e96", grid: { stroke: "#eef0f2", width: 1 }, ticks: { stroke: "#dee2e6", width: 1 } };
const SYNC_KEY = "layerlab-epoch";
const MARKER_ROWS = 4; // rows of marker labels at the top of the loss chart

/** "Run 3" of "Run 3 · more data"; a name of the user's own, cut to fit a marker. */
const shortRunName = (name) => {
  const head = String(name || "").split(" · ")[0];
  return head.length > 14 ? `${head.slice(0, 13)}…` : head;
};

/** A y axis as wide as its longest label (a diverged run's losses run to 1e26). */
function axisWidth(u, values) {
  if (!values || !values.length) return 44;
  const longest = Math.max(...values.map((v) => String(v ?? "").length));
  return Math.max(44, 20 + 7 * longest);
}

export const rgba = (hex, a) => `rgba(${hexToRgb(hex).join(",")},${a})`;

/** x-axis ticks: whole epochs only. */
export const epochTicks = (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : ""));

/** Count the non-null values of a column: what a chart really draws. */
const filled = (col) => (col ? col.reduce((n, v) => n + (v === null || v === undefined ? 0 : 1), 0) : 0);

/** The series of one metric: a train column solid, its validation pair dashed, a reference dotted. */
function seriesStyle(m, metrics) {
  const isVal = metrics.some((o) => o.pair === m.name);
  if (m.baseline) return { label: m.label, dash: [2, 3], width: 1.5, alpha: 0.7 };
  if (m.pair) return { label: "train", dash: undefined, width: 2, alpha: 1 };
  if (isVal) return { label: "validation", dash: [6, 4], width: 2, alpha: 1 };
  return { label: m.label, dash: undefined, width: 2, alpha: 1 };
}

/** A short name for the legend's readout: train, val, naive val, val acc ... */
const shortName = (name) => name.replace(/_loss$/, "").replace(/_/g, " ");

/**
 * els: {loss, acc, lr, accPanel, legend, readout, logToggle}. Runs are read, never changed:
 * [{label, color, parentLabel, history: {epoch, train_loss, ...}, bestEpoch, stoppedEarlyAt}].
 * The first chart group draws in els.loss, a group named "acc" in els.acc, any other in a panel
 * of its own, made here (id `chart-<group>`), before the learning-rate panel.
 */
export function createCharts(els) {
  let runs = [];
  let groups = [];
  let plots = null;
  let builtFor = "";
  const extra = new Map(); // group name -> {panel, node} made for a family's own chart group
  const schedule = frameScheduler(draw);
  const legend = createLegend(els.legend, { onRename: els.onRename || null });

  els.logToggle.addEventListener("change", schedule);

  const sizeOf = (node) => ({ width: Math.max(200, node.clientWidth), height: Math.max(80, node.clientHeight) });
  const observer = new ResizeObserver(() => {
    if (!plots) return;
    for (const [name, plot] of Object.entries(plots)) if (plot) plot.setSize(sizeOf(nodeOf(name)));
  });
  for (const name of ["loss", "acc", "lr"]) observer.observe(els[name]);

  const banded = () => runs.some((r) => seedsOf(r.spec) > 1); // an ensemble on show: bands, and room for them
  const groupOf = (kind) => groups.find((g) => g.name === kind) || null;
  const firstGroup = () => groups[0] || { name: "loss", metrics: [] };
  /** The chart kinds drawn, in order: the first group as "loss", the others by name, then lr. */
  const kinds = () => ["loss", ...groups.slice(1).map((g) => g.name), "lr"];
  const metricsOf = (kind) => (kind === "loss" ? firstGroup() : groupOf(kind) || { metrics: [] }).metrics;

  function nodeOf(kind) {
    if (kind === "loss" || kind === "acc" || kind === "lr") return els[kind];
    if (!extra.has(kind)) {
      const g = groupOf(kind);
      const title = el("h2", { text: g ? g.label : kind, attrs: { id: `chart-${kind}-title` } });
      const node = el("div", { class: "chart chart-small", attrs: {
        id: `chart-${kind}`, role: "img", "aria-label": `${g ? g.label : kind} per epoch of each run` } });
      const panel = el("section", { class: "panel chart-panel", attrs: { "aria-labelledby": `chart-${kind}-title` } },
        el("div", { class: "panel-head" }, title), node);
      els.lr.closest("section").before(panel);
      observer.observe(node);
      extra.set(kind, { panel, node, title });
    }
    return extra.get(kind).node;
  }

  // -- plugins ---------------------------------------------------------------------------------
  /** Shade between each run's train and validation curves, beneath the lines. */
  function shadeGap(u) {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    const xs = u.data[0];
    const metrics = metricsOf("loss");
    const k = metrics.length;
    const pairs = metrics.map((m, i) => [i, metrics.findIndex((o) => o.name === m.pair)]).filter(([, j]) => j >= 0);
    runs.forEach((run, r) => pairs.forEach(([i, j]) => {
      const tr = u.data[1 + r * k + i];
      const va = u.data[1 + r * k + j];
      if (!tr || !va) return;
      ctx.fillStyle = rgba(run.color, 0.13);
      let seg = [];
      const flush = () => {
        if (seg.length > 1) {
          ctx.beginPath();
          seg.forEach((i, k) => {
            const x = u.valToPos(xs[i], "x", true);
            const y = u.valToPos(va[i], "y", true);
            if (k) ctx.lineTo(x, y);
            else ctx.moveTo(x, y);
          });
          for (let k = seg.length - 1; k >= 0; k--) ctx.lineTo(u.valToPos(xs[seg[k]], "x", true), u.valToPos(tr[seg[k]], "y", true));
          ctx.closePath();
          ctx.fill();
        }
        seg = [];
      };
      for (let i = 0; i < xs.length; i++) {
        if (tr[i] === null || va[i] === null || tr[i] === undefined || va[i] === undefined) flush();
        else seg.push(i);
      }
      flush();
    }));
    ctx.restore();
  }

  /** An ensemble's band of mean ± 1 sd around each curve with a spread column, beneath the lines.
   * The chart's node records what it drew: data-bands ("run label/metric" each) and data-band-probe,
   * the CSS-pixel point inside the widest band clear of the curves (tests read the canvas there). */
  function shadeBands(u, kind) {
    const node = nodeOf(kind);
    const metrics = metricsOf(kind);
    const k = metrics.length;
    const xs = u.data[0];
    const log = u.scales.y.distr === 3;
    const dpr = uPlot.pxRatio;
    const { left, top, width, height } = u.bbox;
    const drawn = [];
    let probe = null;
    let widest = 6 * dpr; // a band thinner than this says nothing to probe (the line covers it)
    const ctx = u.ctx;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    runs.forEach((run, r) => metrics.forEach((m, i) => {
      const sd = run.history[spreadOf(m.name)];
      const mean = u.data[1 + r * k + i];
      if (!sd || !mean || m.baseline) return;
      const ok = (j) => mean[j] !== null && mean[j] !== undefined && sd[j] !== null && sd[j] !== undefined;
      // On a log scale the lower edge stays positive: a tenth of the mean at the least.
      const lo = (j) => (log ? Math.max(mean[j] - sd[j], mean[j] / 10) : mean[j] - sd[j]);
      const y = (v) => u.valToPos(v, "y", true);
      ctx.fillStyle = rgba(run.color, 0.22);
      let seg = [];
      const flush = () => {
        if (seg.length > 1) {
          ctx.beginPath();
          seg.forEach((j, n) => (n ? ctx.lineTo : ctx.moveTo).call(ctx, u.valToPos(xs[j], "x", true), y(mean[j] + sd[j])));
          for (let n = seg.length - 1; n >= 0; n--) ctx.lineTo(u.valToPos(xs[seg[n]], "x", true), y(lo(seg[n])));
          ctx.closePath();
          ctx.fill();
        }
        seg = [];
      };
      for (let j = 0; j < xs.length; j++) {
        if (!ok(j)) {
          flush();
          continue;
        }
        seg.push(j);
        // The probe: above the upper curve of the two of a pair, so neither the gap's shade nor the
        // other curve is under it.
        const others = metrics.map((o, oi) => u.data[1 + r * k + oi][j]).filter((v) => v !== null && v !== undefined);
        const band = y(mean[j]) - y(mean[j] + sd[j]);
        if (mean[j] >= Math.max(...others) && band > widest && j > 0 && j < xs.length - 1) {
          widest = band;
          probe = [u.valToPos(xs[j], "x", true) / dpr, y(mean[j] + 0.6 * sd[j]) / dpr].map(Math.round);
        }
      }
      flush();
      drawn.push(`${run.label}/${m.name}`);
    }));
    ctx.restore();
    node.dataset.bands = drawn.join("|");
    if (probe) node.dataset.bandProbe = probe.join(",");
    else delete node.dataset.bandProbe;
  }

  /** Vertical markers: the best epoch (dotted) and where early stopping ended a run (solid). Their
   * labels never overlap (issue 13): each goes in the first row where it clears the labels already
   * there; one that finds no row keeps its line, and its run's numbers are in the legend. */
  function markers(u) {
    const ctx = u.ctx;
    const { top, height, left, width } = u.bbox;
    const dpr = uPlot.pxRatio;
    const rowH = 14 * dpr;
    const maxRows = Math.max(1, Math.min(MARKER_ROWS, Math.floor(height / rowH / 3)));
    ctx.save();
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    ctx.textAlign = "left"; // uPlot leaves the axes' alignment set: the labels were drawn right-aligned
    const marks = [];
    runs.forEach((run) => {
      if (run.bestEpoch) marks.push({ run, epoch: run.bestEpoch, text: "best", dash: [2 * dpr, 3 * dpr] });
      if (run.stoppedEarlyAt) marks.push({ run, epoch: run.stoppedEarlyAt, text: "early stop", dash: [] });
    });
    const rows = Array.from({ length: maxRows }, () => []); // [x0, x1] spans taken in each row
    const placed = [];
    for (const m of marks.sort((a, b) => a.epoch - b.epoch)) {
      const x = Math.round(u.valToPos(m.epoch, "x", true)) + 0.5;
      if (!Number.isFinite(x)) continue;
      ctx.strokeStyle = rgba(m.run.color, 0.9);
      ctx.lineWidth = 1.5 * dpr;
      ctx.setLineDash(m.dash);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      const label = runs.length > 1 ? `${m.text} · ${shortRunName(m.run.label)}` : m.text;
      const w = ctx.measureText(label).width;
      const x0 = x + 4 * dpr + w > left + width ? x - 4 * dpr - w : x + 4 * dpr;
      const span = [x0 - 3 * dpr, x0 + w + 3 * dpr];
      const row = rows.findIndex((taken) => taken.every(([a, b]) => span[1] <= a || span[0] >= b));
      if (row < 0) continue;
      rows[row].push(span);
      ctx.fillStyle = m.run.color;
      const y = top + 3 * dpr + row * rowH;
      ctx.fillText(label, x0, y);
      placed.push([label, x0 / dpr, y / dpr, (x0 + w) / dpr, (y + 11 * dpr) / dpr].map((v) => (typeof v === "number" ? Math.round(v) : v)));
    }
    els.loss.dataset.markers = JSON.stringify(placed);
    ctx.restore();
  }

  function readout(u) {
    const idx = u.cursor.idx;
    if (idx === null || idx === undefined) showLatest();
    else showValues(u.data[0][idx], () => idx);
  }

  function showLatest() {
    showValues(null, (run) => run.history[COL.EPOCH].length - 1);
  }

  /** Each run's numbers at one epoch (the cursor's) or at its latest epoch, in the legend. */
  function showValues(epoch, indexOf) {
    setText(els.readout, epoch === null ? "" : `epoch ${epoch}`);
    runs.forEach((run, r) => {
      const item = els.legend.children[r];
      if (!item) return;
      const i = indexOf(run);
      const h = run.history;
      const values = item.querySelector(".legend-values");
      if (i < 0 || i >= h[COL.EPOCH].length) {
        setText(values, "");
        return;
      }
      // The first group's columns, then each other column that is not a train one (its pair is shown).
      const shown = [...metricsOf("loss"), ...groups.slice(1).flatMap((g) => g.metrics.filter((m) => !m.pair))];
      const parts = [];
      for (const m of shown) {
        const v = (h[m.name] || [])[i];
        if (v === null || v === undefined) continue;
        parts.push(`${shortName(m.name)} ${m.percent ? `${(100 * v).toFixed(1)}%` : fmtNum(v)}`);
      }
      setText(values, (epoch === null ? `@ ${h[COL.EPOCH][i]}: ` : "") + parts.join(" · "));
    });
  }

  // -- building ---------------------------------------------------------------------------------
  function seriesFor(kind) {
    const out = [{ label: "epoch" }];
    for (const run of runs) {
      if (kind === "lr") {
        out.push({ label: `${run.label} lr`, stroke: run.color, width: 2, value: (u, v) => fmtNum(v) });
        continue;
      }
      const metrics = metricsOf(kind);
      for (const m of metrics) {
        const st = seriesStyle(m, metrics);
        out.push({ label: `${run.label} ${st.label}`, stroke: st.alpha < 1 ? rgba(run.color, st.alpha) : run.color,
                   width: st.width, dash: st.dash, spanGaps: false, value: (u, v) => fmtNum(v) });
      }
    }
    return out;
  }

  /** A linear y range that holds the bands as well as the curves (uPlot's own fits the curves only). */
  function bandRange(kind, lo, hi) {
    if (lo === null || hi === null) return [0, 1];
    for (const run of runs) for (const m of metricsOf(kind)) {
      const sd = run.history[spreadOf(m.name)];
      const mean = run.history[m.name];
      if (!sd || !mean) continue;
      mean.forEach((v, j) => {
        if (v === null || v === undefined || sd[j] === null || sd[j] === undefined) return;
        lo = Math.min(lo, v - sd[j]);
        hi = Math.max(hi, v + sd[j]);
      });
    }
    return uPlot.rangeNum(lo, hi, 0.1, true);
  }

  function optsFor(kind) {
    const log = kind === "loss" && els.logToggle.checked;
    const percent = kind !== "lr" && metricsOf(kind).length > 0 && metricsOf(kind).every((m) => m.percent);
    const yValues = percent
      ? (u, splits) => splits.map((v) => `${Math.round(v * 100)}%`)
      : (u, splits) => splits.map((v) => fmtNum(v, 2));
    return {
      ...sizeOf(nodeOf(kind)),
      legend: { show: false },
      cursor: { sync: { key: SYNC_KEY }, drag: { x: false, y: false }, points: { size: 6 } },
      scales: {
        x: { time: false },
        y: log ? { distr: 3 } : percent ? { range: (u, lo, hi) => [Math.min(0.5, lo ?? 0), 1] }
          : banded() ? { range: (u, lo, hi) => bandRange(kind, lo, hi) } : {},
      },
      axes: [{ ...AXIS, size: 28, values: epochTicks },
             { ...AXIS, size: axisWidth, values: yValues }],
      series: seriesFor(kind),
      hooks: kind === "loss"
        ? { drawAxes: [shadeGap, (u) => shadeBands(u, kind)], draw: [markers], setCursor: [readout] }
        : kind === "lr" ? {} : { drawAxes: [(u) => shadeBands(u, kind)] },
    };
  }

  function build() {
    if (plots) for (const plot of Object.values(plots)) if (plot) plot.destroy();
    plots = {};
    for (const kind of kinds()) {
      const node = nodeOf(kind);
      clear(node);
      plots[kind] = new uPlot(optsFor(kind), dataFor(kind), node);
    }
    builtFor = shapeKey();
  }

  const shapeKey = () => `${els.logToggle.checked}|${banded()}|${runs.map((r) => `${r.label}:${r.color}`).join(",")}|`
    + groups.map((g) => `${g.name}:${g.metrics.map((m) => m.name).join("+")}`).join(",");

  function dataFor(kind) {
    const n = runs.reduce((m, r) => Math.max(m, r.history[COL.EPOCH].length), 0);
    const xs = Array.from({ length: n }, (_, i) => i + 1);
    const pad = (col) => {
      const out = col.slice(0, n);
      while (out.length < n) out.push(null);
      return out;
    };
    const cols = kind === "lr" ? [COL.LR] : metricsOf(kind).map((m) => m.name);
    const data = [xs];
    for (const run of runs) for (const c of cols) data.push(pad(run.history[c] || []));
    return data;
  }

  function draw() {
    if (builtFor !== shapeKey()) build();
    for (const kind of kinds()) plots[kind].setData(dataFor(kind));
    const u = plots.loss;
    const last = runs.length - 1;
    const metrics = metricsOf("loss");
    const k = metrics.length;
    const train = metrics.findIndex((m) => m.pair);
    const val = train >= 0 ? metrics.findIndex((m) => m.name === metrics[train].pair) : -1;
    els.loss.dataset.points = String(u.data[0].length);
    els.loss.dataset.runs = String(runs.length);
    els.loss.dataset.series = String(u.series.length - 1);
    // Each series' label and the colour uPlot strokes it with (its stroke is a function once built).
    els.loss.dataset.strokes = JSON.stringify(u.series.slice(1).map((s, i) => [s.label,
      typeof s.stroke === "function" ? s.stroke(u, i + 1) : s.stroke]));
    els.loss.dataset.columns = metrics.map((m) => m.name).join(" ");
    els.loss.dataset.trainPoints = String(last >= 0 && train >= 0 ? filled(u.data[1 + last * k + train]) : 0);
    els.loss.dataset.valPoints = String(last >= 0 && val >= 0 ? filled(u.data[1 + last * k + val]) : 0);
    els.loss.closest(".chart-panel").classList.toggle("empty", !u.data[0].length);
    setText($("#loss-title"), firstGroup().label || "Loss");
    els.accPanel.hidden = !groupOf("acc") || groups[0] === groupOf("acc");
    for (const [name, { panel, node }] of extra) {
      // A group no run on show fills (a critic's runs have no D probabilities, the others no critic's
      // estimate) is no chart to look at: hidden once there are epochs to show, not before.
      const plot = plots[name];
      const unfilled = Boolean(plot) && plot.data[0].length > 0 && plot.data.slice(1).every((col) => !filled(col));
      panel.hidden = !groupOf(name) || groups[0] === groupOf(name) || unfilled;
      node.dataset.points = String(last >= 0 && plots[name] ? filled(plots[name].data[1 + last * metricsOf(name).length]) : 0);
    }
    legend.render(runs);
    if (u.cursor.idx === null || u.cursor.idx === undefined) showLatest();
  }

  return {
    /** The runs to draw (first = oldest), and the chart groups of their family's metrics
     * ([{name, label, metrics}], metrics.js's chartsOf). */
    setRuns(next, { charts }) {
      runs = next;
      groups = charts;
      schedule();
    },
    /** New epochs arrived: redraw on the next frame. */
    update: schedule,
    /** Runs may be renamed from the legend (off on a share link). */
    setEditable(on) {
      legend.setEditable(on);
      schedule();
    },
  };
}
