// The autoencoder's views. "Reconstructions": validation inputs in rows, originals over their
// reconstructions (for denoising: noisy input, reconstruction, clean); on non-image data, each
// validation point with a line to its reconstruction. "Latent space": the validation codes
// coloured by label, the first two principal components when the code is wider than 2.
// "Latent walk": for a 2-D code, the decoder's output on a grid of the latent plane.

import { el, fitCanvas, frameScheduler } from "../dom.js";
import { boundsOf, classColor, drawPoints, makeFrame } from "../plot2d.js";
import { grey, heatCanvas } from "./heat.js";
import { registerView } from "./registry.js";

const MARGIN = 6;

function row(label, images) {
  return el("div", { class: "ae-row" }, el("span", { class: "ae-row-label", text: label }),
    el("div", { class: "ae-row-cells" }, ...images.map((img) => heatCanvas(img, grey(), { cls: "heat digit" }))));
}

function createReconstructions(slot) {
  const lead = el("p", { class: "hint" });
  const grid = el("div", { class: "ae-grid" });
  const canvas = el("canvas", { class: "output-canvas", attrs: { role: "img", "aria-label": "Reconstructed points" } });
  slot.append(lead, grid, canvas);
  let snap = null;
  const schedule = frameScheduler(drawPoints2d);
  new ResizeObserver(schedule).observe(canvas);

  function drawPoints2d() {
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    if (!snap || snap.image) return;
    const all = snap.clean.concat(snap.recon);
    const frame = makeFrame(boundsOf(all.map((p) => p[0])), boundsOf(all.map((p) => p[1] ?? 0)),
      w - 2 * MARGIN, h - 2 * MARGIN, MARGIN, MARGIN);
    ctx.strokeStyle = "rgba(134, 142, 150, 0.6)";
    snap.clean.forEach((p, i) => {
      const q = snap.recon[i];
      ctx.beginPath();
      ctx.moveTo(frame.px(p[0]), frame.py(p[1] ?? 0));
      ctx.lineTo(frame.px(q[0]), frame.py(q[1] ?? 0));
      ctx.stroke();
    });
    drawPoints(ctx, frame, snap.clean.map((p) => [p[0], p[1] ?? 0]), () => "#495057", { radius: 2 });
    drawPoints(ctx, frame, snap.recon.map((p) => [p[0], p[1] ?? 0]), () => "#7048e8", { radius: 2 });
  }

  function setSnapshot(s) {
    snap = s;
    grid.replaceChildren();
    canvas.hidden = !s || s.image;
    if (!s) {
      lead.textContent = "Train the autoencoder to see its reconstructions of validation inputs.";
      return;
    }
    slot.dataset.epoch = String(s.epoch);
    const noisy = s.noisy ? ` The noisy input's own error is ${s.noisy_mse.toFixed(4)}.` : "";
    lead.textContent = `Epoch ${s.epoch}: mean squared error ${s.mse.toFixed(4)} on these inputs.${noisy}`
      + (s.image ? "" : " Grey: the points; purple: their reconstructions.");
    if (s.image) {
      if (s.noisy) grid.append(row("noisy input", s.noisy), row("reconstruction", s.recon), row("clean", s.clean));
      else grid.append(row("original", s.clean), row("reconstruction", s.recon));
    }
    schedule();
  }

  setSnapshot(null);
  return { setSnapshot, setData() { setSnapshot(null); } };
}

function createLatent(slot) {
  const canvas = el("canvas", { class: "output-canvas", attrs: { role: "img", "aria-label": "Latent codes" } });
  const caption = el("p", { class: "hint" });
  slot.append(canvas, caption);
  let snap = null;
  const schedule = frameScheduler(draw);
  new ResizeObserver(schedule).observe(canvas);

  function draw() {
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    if (!snap) {
      caption.textContent = "Train the autoencoder to see where it puts each validation input in its code.";
      return;
    }
    const frame = makeFrame(boundsOf(snap.points.map((p) => p[0])), boundsOf(snap.points.map((p) => p[1])),
      w - 2 * MARGIN, h - 2 * MARGIN, MARGIN, MARGIN);
    const k = snap.n_classes || 10;
    drawPoints(ctx, frame, snap.points, (i) => classColor(snap.labels[i], k), { radius: 2.5 });
    slot.dataset.epoch = String(snap.epoch);
    slot.dataset.points = String(snap.points.length);
    const how = snap.pca
      ? `the first two principal components of the ${snap.latent_dim}-D codes (${snap.explained.map((v) => `${(v * 100).toFixed(0)}%`).join(" and ")} of their variance)`
      : `the ${snap.latent_dim}-D codes`;
    caption.textContent = `Epoch ${snap.epoch}: ${snap.points.length} validation inputs at ${how}, coloured by label.`;
    canvas.setAttribute("aria-label", `Latent codes. ${caption.textContent}`);
  }

  return {
    setSnapshot(s) { snap = s; schedule(); },
    setData() { snap = null; schedule(); },
  };
}

function createWalk(slot) {
  const lead = el("p", { class: "hint" });
  const grid = el("div", { class: "ae-walk" });
  slot.append(lead, grid);

  function setSnapshot(s) {
    grid.replaceChildren();
    if (!s || !s.images || !s.images.length) {
      lead.textContent = s && s.latent_dim !== 2
        ? `The walk needs a 2-D code; this one has ${s.latent_dim} dimensions. Set latent dimensions to 2.`
        : "Train an autoencoder with a 2-D code on images to walk its latent plane.";
      return;
    }
    slot.dataset.epoch = String(s.epoch);
    grid.style.setProperty("--walk-n", String(s.n));
    grid.append(...s.images.map((img) => heatCanvas(img, grey(), { cls: "heat digit" })));
    lead.textContent = `Epoch ${s.epoch}: the decoder's output across the latent plane, z1 from ${s.x[0]} to ${s.x[1]} `
      + `left to right, z2 from ${s.y[1]} to ${s.y[0]} top to bottom.`;
  }

  setSnapshot(null);
  return { setSnapshot, setData() { setSnapshot(null); } };
}

registerView("reconstructions", { title: "Reconstructions", create: createReconstructions });
registerView("latent_space", { title: "Latent space", create: createLatent });
registerView("latent_walk", { title: "Latent walk", create: createWalk });
