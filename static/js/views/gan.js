// The GAN's views. "Generated samples": D's decision heatmap (its P(real) on a grid, or a critic's
// score scaled from its lowest to its highest when the loss is wasserstein_gp) behind the
// real points (grey) and G's points for the run's fixed latents (purple), with GAN Lab's arrows:
// from G(z) for a fixed set of z, the way G's loss pushes each point. "Mode coverage": one column
// per snapshot, one row per mode, shaded by the share of G's points within 3 sigma of that mode;
// a mode counts as covered at the engine's stated share, so mode collapse shows as rows going pale.

import { el, fitCanvas, frameScheduler } from "../dom.js";
import { drawPoints, makeFrame } from "../plot2d.js";
import { registerView } from "./registry.js";

const MARGIN = 6;
const REAL = "rgba(73, 80, 87, 0.55)";
const FAKE = "rgba(112, 72, 232, 0.85)";
const STRIP_MAX = 120; // snapshots kept in the coverage strip

function heatRgb(p) {
  // D's P(real): blue where D says real, orange where it says fake, white at 1/2.
  const u = Math.min(1, Math.max(0, p));
  const [a, b, s] = u < 0.5 ? [[240, 140, 0], [248, 249, 250], u / 0.5] : [[248, 249, 250], [28, 126, 214], (u - 0.5) / 0.5];
  return a.map((v, i) => Math.round(v + (b[i] - v) * s));
}

/** The key's words for the arrows and the background: D's P(real), or a critic's scaled score. */
function keyText(critic) {
  return "→ where G's loss pushes a point; background: "
    + (critic ? "the critic's score, blue its highest, orange its lowest" : "D's P(real), blue real, orange fake");
}

function createSamples(slot) {
  const canvas = el("canvas", { class: "output-canvas", attrs: { role: "img", "aria-label": "Generated samples" } });
  const caption = el("p", { class: "hint" });
  const background = el("span", { class: "gan-background", text: keyText(false) });
  slot.append(canvas, caption,
    el("p", { class: "hint point-key" }, el("span", { class: "gan-real", text: "● real " }),
      el("span", { class: "gan-fake", text: "● generated " }), background));
  let snap = null;
  let preview = null;
  const schedule = frameScheduler(draw);
  new ResizeObserver(schedule).observe(canvas);

  function draw() {
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    if (!snap) {
      caption.textContent = "Train the GAN to see its samples against the data.";
      if (preview && preview.train) {
        const frame = makeFrame([-1.5, 1.5], [-1.5, 1.5], w - 2 * MARGIN, h - 2 * MARGIN, MARGIN, MARGIN);
        drawPoints(ctx, frame, preview.train.x, () => REAL, { radius: 2 });
      }
      return;
    }
    const frame = makeFrame(snap.x, snap.y, w - 2 * MARGIN, h - 2 * MARGIN, MARGIN, MARGIN);
    const n = snap.n;
    const img = ctx.createImageData(n, n);
    snap.heat.forEach((p, i) => {
      const [r, g, b] = heatRgb(p);
      const row = n - 1 - Math.floor(i / n); // grid row 0 is the lowest y; the image's row 0 is the top
      const k = (row * n + (i % n)) * 4;
      img.data.set([r, g, b, 150], k);
    });
    const off = new OffscreenCanvas(n, n);
    off.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, MARGIN, MARGIN, w - 2 * MARGIN, h - 2 * MARGIN);
    drawPoints(ctx, frame, snap.real, () => REAL, { radius: 2 });
    drawPoints(ctx, frame, snap.fake, () => FAKE, { radius: 2 });
    ctx.strokeStyle = "#212529";
    ctx.lineWidth = 1.2;
    snap.arrow_from.forEach(([x0, y0], i) => {
      const [x1, y1] = snap.arrow_to[i];
      const [a, b, c, d] = [frame.px(x0), frame.py(y0), frame.px(x1), frame.py(y1)];
      const ang = Math.atan2(d - b, c - a);
      ctx.beginPath();
      ctx.moveTo(a, b);
      ctx.lineTo(c, d);
      ctx.lineTo(c - 5 * Math.cos(ang - 0.4), d - 5 * Math.sin(ang - 0.4));
      ctx.moveTo(c, d);
      ctx.lineTo(c - 5 * Math.cos(ang + 0.4), d - 5 * Math.sin(ang + 0.4));
      ctx.stroke();
    });
    slot.dataset.epoch = String(snap.epoch);
    slot.dataset.points = String(snap.fake.length);
    const meanHeat = snap.heat.reduce((s, v) => s + v, 0) / snap.heat.length;
    const critic = snap.heat_kind === "critic";
    background.textContent = keyText(critic);
    caption.textContent = `Epoch ${snap.epoch}: ${snap.fake.length} generated points against ${snap.real.length} real ones; `
      + (critic ? "the critic scores points on a scale of its own, so the shades show only where it rates higher."
        : `D's mean P(real) over the plane is ${meanHeat.toFixed(2)}.`);
    canvas.setAttribute("aria-label", `Generated samples. ${caption.textContent}`);
  }

  return {
    setData(p) {
      preview = p;
      snap = null;
      schedule();
    },
    setSnapshot(s) {
      snap = s;
      schedule();
    },
  };
}

function createCoverage(slot) {
  const canvas = el("canvas", { class: "output-canvas coverage-strip", attrs: { role: "img", "aria-label": "Mode coverage" } });
  const caption = el("p", { class: "hint" });
  slot.append(canvas, caption);
  let columns = []; // [{epoch, shares, covered, threshold}]
  const schedule = frameScheduler(draw);
  new ResizeObserver(schedule).observe(canvas);

  function draw() {
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    const last = columns[columns.length - 1];
    if (!last || !last.shares.length) {
      caption.textContent = "Train a GAN on ring or grid to see which modes it covers.";
      return;
    }
    const k = last.shares.length;
    const cw = (w - 2 * MARGIN) / Math.max(columns.length, 20);
    const rh = (h - 2 * MARGIN) / k;
    columns.forEach((c, j) => c.shares.forEach((s, m) => {
      const fair = 1 / k;
      const t = Math.min(1, s / fair); // 1 at its fair share
      ctx.fillStyle = s >= c.threshold ? `rgba(47, 158, 68, ${0.25 + 0.75 * t})` : "rgba(224, 49, 49, 0.25)";
      ctx.fillRect(MARGIN + j * cw, MARGIN + m * rh, Math.max(1, cw - 1), Math.max(1, rh - 1));
    }));
    slot.dataset.epoch = String(last.epoch);
    slot.dataset.covered = String(last.covered);
    slot.dataset.columns = String(columns.length);
    caption.textContent = `Epoch ${last.epoch}: ${last.covered} of ${k} modes covered (a mode counts once `
      + `${(last.threshold * 100).toFixed(1)}% of the generated points lie within 3σ of it). Each column is a snapshot; `
      + "green rows are covered modes, red ones are missed.";
    canvas.setAttribute("aria-label", `Mode coverage. ${caption.textContent}`);
  }

  return {
    setData() {
      columns = [];
      schedule();
    },
    setSnapshot(s) {
      if (!s) columns = [];
      else if (!columns.length || s.epoch > columns[columns.length - 1].epoch) columns = [...columns, s].slice(-STRIP_MAX);
      else if (s.epoch < columns[columns.length - 1].epoch) columns = [s]; // a new run
      schedule();
    },
  };
}

registerView("gan_samples", { title: "Generated samples", create: createSamples });
registerView("mode_coverage", { title: "Mode coverage", create: createCoverage });
