// The network diagram: one column per layer with its size, and the weights between columns as
// edges whose thickness is |w| and whose colour is the sign (blue positive, orange negative).
// Layers whose matrix is too large to send are drawn as a band shaded by their mean |w|.

import { fitCanvas, fmtNum, fmtShape, frameScheduler } from "./dom.js";

const MAX_NODES = 12;
const POS = [28, 126, 214];
const NEG = [232, 89, 12];
const TOP = 14;
const BOTTOM = 34;

export function createNetworkView(canvas, { caption, labels }) {
  let summary = null;
  let weights = null;
  const schedule = frameScheduler(draw);

  new ResizeObserver(schedule).observe(canvas);

  function columns() {
    const cols = [{ label: "Input", shape: summary.input_shape }];
    for (const row of summary.layers) {
      cols.push({ label: row.is_head ? "Output" : labels[row.type] || row.type, shape: row.output_shape, row });
    }
    return cols;
  }

  function nodeYs(shape, h) {
    if (shape.length !== 1) return null; // images and sequences are drawn as a box
    const n = Math.min(shape[0], MAX_NODES);
    const span = h - TOP - BOTTOM;
    const gap = Math.min(16, span / Math.max(1, n));
    const y0 = TOP + span / 2 - (gap * (n - 1)) / 2;
    return Array.from({ length: n }, (_, i) => y0 + i * gap);
  }

  function draw() {
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    if (!summary) {
      caption.textContent = ""; // no diagram: no weights to speak of (it said the last run's epoch)
      ctx.fillStyle = "#868e96";
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("Fix the network to see its diagram.", 12, h / 2);
      return;
    }
    const cols = columns();
    const margin = 26;
    const step = cols.length > 1 ? (w - 2 * margin) / (cols.length - 1) : 0;
    cols.forEach((c, i) => {
      c.x = margin + i * step;
      c.ys = nodeYs(c.shape, h);
    });
    const byIndex = new Map((weights ? weights.layers : []).map((l) => [l.index, l]));
    const maxMean = Math.max(1e-9, ...[...byIndex.values()].map((l) => l.mean_abs || 0));
    for (let i = 1; i < cols.length; i++) drawEdges(ctx, cols[i - 1], cols[i], byIndex.get(cols[i].row.index), maxMean, h);
    cols.forEach((c, i) => drawColumn(ctx, c, i, step, h));
    const trunc = cols.some((c) => c.shape.length === 1 && c.shape[0] > MAX_NODES);
    caption.textContent = (weights ? `Weights at epoch ${weights.epoch}. ` : "Weights appear once training starts. ")
      + (trunc ? `Layers wider than ${MAX_NODES} units show their first ${MAX_NODES}.` : "");
  }

  function drawColumn(ctx, c, i, step, h) {
    ctx.save();
    if (c.ys) {
      for (const y of c.ys) {
        ctx.beginPath();
        ctx.arc(c.x, y, 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = "#fff";
        ctx.fill();
        ctx.strokeStyle = "#495057";
        ctx.lineWidth = 1.2;
        ctx.stroke();
      }
      if (c.shape[0] > MAX_NODES) {
        ctx.fillStyle = "#868e96";
        ctx.font = "10px system-ui, sans-serif";
        ctx.textAlign = "center";
        ctx.fillText("⋮", c.x, c.ys[c.ys.length - 1] + 12);
      }
    } else {
      const bh = Math.min(70, h - TOP - BOTTOM);
      ctx.fillStyle = "#e7f5ff";
      ctx.strokeStyle = "#74c0fc";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.roundRect(c.x - 9, (h - BOTTOM + TOP) / 2 - bh / 2, 18, bh, 3);
      ctx.fill();
      ctx.stroke();
    }
    ctx.textAlign = "center";
    ctx.fillStyle = "#343a40";
    ctx.font = "600 10px system-ui, sans-serif";
    const stagger = step < 58 && i % 2 ? 11 : 0; // alternate rows where names would collide
    ctx.fillText(c.label, c.x, h - BOTTOM + 14 + stagger, Math.max(step * 1.6, 40));
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillStyle = "#868e96";
    ctx.fillText(fmtShape(c.shape), c.x, TOP - 4);
    ctx.restore();
  }

  function drawEdges(ctx, a, b, layerWeights, maxMean, h) {
    ctx.save();
    const matrix = layerWeights && layerWeights.matrix;
    if (a.ys && b.ys && matrix) {
      let maxAbs = 1e-9;
      for (const row of matrix) for (const v of row) maxAbs = Math.max(maxAbs, Math.abs(v));
      b.ys.forEach((yb, o) => {
        a.ys.forEach((ya, k) => {
          const v = matrix[o] && matrix[o][k];
          if (v === undefined) return;
          const t = Math.abs(v) / maxAbs;
          const [r, g, bl] = v >= 0 ? POS : NEG;
          ctx.strokeStyle = `rgba(${r},${g},${bl},${0.12 + 0.7 * t})`;
          ctx.lineWidth = 0.3 + 3 * t;
          ctx.beginPath();
          ctx.moveTo(a.x, ya);
          ctx.lineTo(b.x, yb);
          ctx.stroke();
        });
      });
    } else if (layerWeights && layerWeights.mean_abs !== null && layerWeights.mean_abs !== undefined) {
      const t = layerWeights.mean_abs / maxMean;
      band(ctx, a, b, h, `rgba(${POS.join(",")},${0.1 + 0.45 * t})`);
      const text = `|w| ${fmtNum(layerWeights.mean_abs, 2)}`;
      const cx = (a.x + b.x) / 2;
      const cy = (h - BOTTOM + TOP) / 2;
      ctx.font = "10px system-ui, sans-serif";
      const tw = ctx.measureText(text).width;
      ctx.fillStyle = "rgba(255,255,255,0.9)";
      ctx.fillRect(cx - tw / 2 - 3, cy - 7, tw + 6, 13);
      ctx.fillStyle = "#495057";
      ctx.textAlign = "center";
      ctx.fillText(text, cx, cy + 3);
    } else if (a.ys && b.ys) {
      // No weights (dropout, before training): faint links, one-to-one where the sizes match.
      ctx.strokeStyle = "rgba(134,142,150,0.25)";
      ctx.lineWidth = 0.7;
      ctx.beginPath();
      const same = a.ys.length === b.ys.length && !(b.row && b.row.params);
      b.ys.forEach((yb, o) => {
        (same ? [a.ys[o]] : a.ys).forEach((ya) => {
          ctx.moveTo(a.x, ya);
          ctx.lineTo(b.x, yb);
        });
      });
      ctx.stroke();
    } else {
      band(ctx, a, b, h, "rgba(134,142,150,0.15)");
    }
    ctx.restore();
  }

  function band(ctx, a, b, h, fill) {
    const span = (c) => (c.ys ? [c.ys[0], c.ys[c.ys.length - 1]] : [(h - BOTTOM + TOP) / 2 - 30, (h - BOTTOM + TOP) / 2 + 30]);
    const [a0, a1] = span(a);
    const [b0, b1] = span(b);
    ctx.fillStyle = fill;
    ctx.beginPath();
    ctx.moveTo(a.x, a0);
    ctx.lineTo(b.x, b0);
    ctx.lineTo(b.x, b1);
    ctx.lineTo(a.x, a1);
    ctx.closePath();
    ctx.fill();
  }

  return {
    /** The validate summary of the network to draw (null: the stack is invalid). */
    setSummary(s) {
      summary = s;
      schedule();
    },
    /** A `weights` snapshot, or null before training. */
    setWeights(wts) {
      weights = wts;
      schedule();
    },
  };
}
