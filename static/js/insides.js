// "Inside the network": one row per layer with sparklines of its gradient norm (log scale), dead
// share and saturated share, from the run's `insides` snapshot. A flagged layer (vanishing gradient,
// mostly dead, mostly saturated: the engine's rule, engine/causes.py) is marked. Clicking a row opens
// that layer's histograms over time: a heatmap of bins (up) x recorded epochs (across). A family with
// several stacks (a GAN's generator and discriminator) gets a group of rows per stack, headed by its
// name: the rows come from the snapshot's `stack` field, so nothing here names a family.

import { clear, el } from "./dom.js";

const FLAG_TEXT = { vanishing: "vanishing gradient", dead: "mostly dead", saturated: "mostly saturated" };
const SPARK_W = 96;
const SPARK_H = 22;
const HIST_KINDS = [["weights", "Weights"], ["grads", "Gradients"], ["activations", "Activations"]];

/** The words for a layer's flags, e.g. "vanishing gradient, mostly dead". */
export function flagText(flags) {
  return (flags || []).map((f) => FLAG_TEXT[f] || f).join(", ");
}

const stackOf = (layer) => layer.stack || "layers";
const keyOf = (layer) => `${stackOf(layer)}/${layer.index}`;
/** "generator" -> "Generator". */
const stackTitle = (name) => name.charAt(0).toUpperCase() + name.slice(1);

function finite(xs) {
  return (xs || []).filter((v) => v !== null && Number.isFinite(v));
}

/** A sparkline of `values` on a canvas; `log` plots log10 of positive values. Range: [lo, hi] or the data's. */
function sparkline(values, { log = false, lo = null, hi = null, label }) {
  const canvas = el("canvas", { class: "spark", attrs: { width: SPARK_W, height: SPARK_H, role: "img", "aria-label": label } });
  const ys = (values || []).map((v) => (v === null || !Number.isFinite(v) || (log && v <= 0) ? null : (log ? Math.log10(v) : v)));
  const ok = finite(ys);
  const ctx = canvas.getContext("2d");
  if (!ctx || !ok.length) return canvas;
  const y0 = lo !== null ? lo : Math.min(...ok);
  const y1 = hi !== null ? hi : Math.max(...ok);
  const span = y1 - y0 || 1;
  ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--ink") || "#333";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let started = false;
  ys.forEach((y, i) => {
    if (y === null) { started = false; return; }
    const px = ys.length > 1 ? (i / (ys.length - 1)) * (SPARK_W - 2) + 1 : SPARK_W / 2;
    const py = SPARK_H - 2 - ((y - y0) / span) * (SPARK_H - 4);
    if (started) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    started = true;
  });
  ctx.stroke();
  return canvas;
}

function last(xs) {
  const ok = finite(xs);
  return ok.length ? ok[ok.length - 1] : null;
}

function fmt(v, pct = false) {
  if (v === null || v === undefined) return "–";
  if (pct) return `${Math.round(v * 100)}%`;
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(3) : v.toExponential(1);
}

/** A heatmap of histograms over time: one column per record, bins on a common value axis. */
function histogramHeatmap(records, epochs, title) {
  const w = 260;
  const h = 120;
  const canvas = el("canvas", { class: "hist-map", attrs: { width: w, height: h, role: "img",
    "aria-label": `${title} histograms over ${records.length} records` } });
  const ok = records.filter((r) => r && r.counts && r.hi > r.lo);
  const ctx = canvas.getContext("2d");
  if (!ctx || !ok.length) return canvas;
  const lo = Math.min(...ok.map((r) => r.lo));
  const hi = Math.max(...ok.map((r) => r.hi));
  const span = hi - lo || 1;
  const colW = w / records.length;
  records.forEach((r, i) => {
    if (!r || !r.counts) return;
    const peak = Math.max(...r.counts) || 1;
    const binW = (r.hi - r.lo) / r.counts.length;
    r.counts.forEach((c, b) => {
      if (!c) return;
      // Each bin is drawn at its true place on the shared axis, so a widening spread shows.
      const v0 = r.lo + b * binW;
      const yTop = h - ((v0 + binW - lo) / span) * h;
      const yBot = h - ((v0 - lo) / span) * h;
      ctx.fillStyle = `rgba(40, 90, 200, ${(0.15 + 0.85 * (c / peak)).toFixed(3)})`;
      ctx.fillRect(i * colW, yTop, Math.max(1, colW), Math.max(1, yBot - yTop));
    });
  });
  canvas.dataset.lo = String(lo);
  canvas.dataset.hi = String(hi);
  canvas.dataset.epochs = epochs.join(",");
  return canvas;
}

/** root: the region's element (holds .insides-rows and .insides-detail); onFlags(byStack) tells the builder:
 * Map(stack name -> Map(layer index in that stack -> flags)). */
export function createInsidesView(root, { onFlags = () => {} } = {}) {
  const rowsEl = root.querySelector(".insides-rows");
  const detailEl = root.querySelector(".insides-detail");
  const captionEl = root.querySelector(".insides-caption");
  let snap = null;
  let open = null; // the key (stack/child index) of the layer whose histograms are shown
  let multi = false; // several stacks: rows are grouped and named by stack

  function showDetail() {
    clear(detailEl);
    const layer = snap && snap.layers.find((l) => keyOf(l) === open);
    detailEl.hidden = !layer;
    if (!layer) return;
    const name = multi ? `${stackTitle(stackOf(layer))} ${layer.name}` : layer.name;
    detailEl.append(el("h3", { class: "insides-detail-title", text: `${name}: histograms over time` }),
      el("p", { class: "hint", text: `Each column is a recorded epoch (${snap.hist_epochs[0]}–${snap.hist_epochs[snap.hist_epochs.length - 1]}); `
        + "each row a range of values, darker where more values fall." }),
      el("div", { class: "hist-grid" }, HIST_KINDS.map(([key, title]) => el("figure", { class: "hist", dataset: { kind: key } },
        el("figcaption", { text: title }),
        histogramHeatmap(layer.hist[key] || [], snap.hist_epochs, title)))));
  }

  function row(layer) {
    const flags = layer.flags || [];
    const g = last(layer.grad_norm);
    const key = keyOf(layer);
    const item = el("li", {
      class: `insides-row${flags.length ? " flagged" : ""}${key === open ? " open" : ""}`,
      dataset: { index: layer.index, stack: stackOf(layer), flags: flags.join(" ") },
      attrs: { tabindex: "0", role: "button", "aria-expanded": String(key === open),
               title: "Show this layer's histograms" },
      on: {
        click: () => { open = open === key ? null : key; render(); },
        keydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); e.currentTarget.click(); } },
      },
    },
    el("span", { class: "insides-name", text: layer.name + (layer.activation ? ` · ${layer.activation}` : "") }),
    el("span", { class: "insides-cell" }, sparkline(layer.grad_norm, { log: true, label: "gradient norm, log scale" }),
      el("span", { class: "insides-val", text: fmt(g) })),
    el("span", { class: "insides-cell" }, layer.dead ? sparkline(layer.dead, { lo: 0, hi: 1, label: "dead share" }) : null,
      el("span", { class: "insides-val", text: layer.dead ? fmt(last(layer.dead), true) : "–" })),
    el("span", { class: "insides-cell" }, layer.saturated ? sparkline(layer.saturated, { lo: 0, hi: 1, label: "saturated share" }) : null,
      el("span", { class: "insides-val", text: layer.saturated ? fmt(last(layer.saturated), true) : "–" })),
    el("span", { class: "insides-flag", text: flagText(flags) }));
    return item;
  }

  function render() {
    clear(rowsEl);
    if (!snap) {
      captionEl.textContent = "Train a network to see its layers' gradients, dead and saturated units.";
      detailEl.hidden = true;
      onFlags(new Map());
      return;
    }
    rowsEl.append(el("li", { class: "insides-row insides-header", attrs: { "aria-hidden": "true" } },
      el("span", { text: "layer" }), el("span", { text: "gradient norm (log)" }), el("span", { text: "dead" }),
      el("span", { text: "saturated" }), el("span", { text: "" })));
    let stack = null;
    for (const l of snap.layers) {
      if (multi && stackOf(l) !== stack) {
        stack = stackOf(l);
        rowsEl.append(el("li", { class: "insides-stack", dataset: { stack }, text: stackTitle(stack) }));
      }
      rowsEl.append(row(l));
    }
    const n = snap.epochs.length;
    captionEl.textContent = `Measured on a fixed batch of training points; ${n} record${n === 1 ? "" : "s"} up to epoch ${snap.epoch}. `
      + "Click a layer for its histograms.";
    showDetail();
    const byStack = new Map();
    for (const l of snap.layers) {
      if (!(l.flags || []).length) continue;
      if (!byStack.has(stackOf(l))) byStack.set(stackOf(l), new Map());
      byStack.get(stackOf(l)).set(l.layer ?? l.index, l.flags); // the builder's card index (older snapshots: the child's)
    }
    onFlags(byStack);
  }

  /** An `insides` snapshot, or null to clear. */
  function set(data) {
    snap = data && data.layers ? data : null;
    multi = Boolean(snap) && new Set(snap.layers.map(stackOf)).size > 1;
    if (snap && open !== null && !snap.layers.some((l) => keyOf(l) === open)) open = null;
    render();
  }

  set(null);
  return { set };
}
