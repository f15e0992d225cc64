// Forecast: a validation series with the model's one-step forecasts drawn over the truth, and on a
// toggle the multi-step rollout, where the model's own outputs are fed back for horizon × k steps
// so that compounding error shows. x is the step along the series: the first window's context
// at -T..-1, the values after it at 0, 1, ...

import { el, fitCanvas, fmtNum, frameScheduler } from "../dom.js";
import { SNAP } from "../protocol.js";
import { boundsOf, drawAxes, makeFrame } from "../plot2d.js";
import { registerView } from "./registry.js";

const MARGIN = 6;
const COLOR = { context: "#adb5bd", truth: "#212529", pred: "#1c7ed6", rollout: "#e8590c" };

const mse = (a, b) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / (a.length || 1);

function createForecast(slot) {
  const toggle = el("input", { attrs: { type: "checkbox" } });
  const canvas = el("canvas", { class: "output-canvas forecast-canvas", attrs: { role: "img", "aria-label": "Forecast" } });
  const caption = el("p", { class: "hint" });
  const key = el("p", { class: "hint point-key" },
    ...["truth", "pred", "rollout"].map((k) => el("span", { class: `line-swatch line-${k}`,
      text: { truth: "— truth ", pred: "— one-step forecast ", rollout: "-- rollout " }[k] })),
    el("label", { class: "check small" }, toggle, " Multi-step rollout"));
  slot.append(canvas, caption, key);
  let snap = null;
  const schedule = frameScheduler(draw);
  toggle.addEventListener("change", schedule);
  new ResizeObserver(schedule).observe(canvas);

  function line(ctx, frame, xs, ys, color, dash = []) {
    ctx.strokeStyle = color;
    ctx.setLineDash(dash);
    ctx.lineWidth = 1.8;
    ctx.beginPath();
    ys.forEach((y, i) => (i ? ctx.lineTo(frame.px(xs[i]), frame.py(y)) : ctx.moveTo(frame.px(xs[i]), frame.py(y))));
    ctx.stroke();
    ctx.setLineDash([]);
  }

  function draw() {
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    slot.dataset.rollout = String(toggle.checked);
    if (!snap) {
      caption.textContent = "Train a recurrent network on a sequence dataset to see its forecasts.";
      return;
    }
    const T = snap.context.length;
    const steps = (n, from = 0) => Array.from({ length: n }, (_, i) => from + i);
    const roll = toggle.checked ? snap.rollout : [];
    const span = toggle.checked ? Math.max(snap.rollout.length, 1) : snap.truth.length;
    const truth = snap.truth.slice(0, span + 0);
    const pred = snap.pred.slice(0, span);
    const xr = [-T, Math.max(truth.length, roll.length)];
    const yr = boundsOf([...snap.context, ...truth, ...pred, ...roll]);
    const frame = makeFrame(xr, yr, w - 2 * MARGIN, h - 2 * MARGIN, MARGIN, MARGIN);
    drawAxes(ctx, frame);
    line(ctx, frame, steps(T, -T), snap.context, COLOR.context);
    line(ctx, frame, steps(truth.length), truth, COLOR.truth);
    if (toggle.checked) line(ctx, frame, steps(roll.length), roll, COLOR.rollout, [6, 4]);
    else line(ctx, frame, steps(pred.length), pred, COLOR.pred);
    const naive = [snap.context[T - 1], ...snap.truth.slice(0, -1)]; // repeat the last value
    const err = mse(snap.pred, snap.truth);
    slot.dataset.mse = String(err);
    slot.dataset.epoch = String(snap.epoch);
    const rollErr = mse(snap.rollout, snap.truth.slice(0, snap.rollout.length));
    caption.textContent = toggle.checked
      ? `Rollout of ${snap.rollout.length} steps (${snap.k} × horizon ${snap.horizon}) fed its own forecasts at epoch `
        + `${snap.epoch}: error (MSE) ${fmtNum(rollErr)}.`
      : `One-step forecasts at epoch ${snap.epoch}: error (MSE) ${fmtNum(err)}; repeating the last value `
        + `${fmtNum(mse(naive, snap.truth))}.`;
    canvas.setAttribute("aria-label", caption.textContent);
  }

  return {
    setSnapshot(s) {
      snap = s;
      schedule();
    },
  };
}

registerView(SNAP.FORECAST, { title: "Forecast", create: createForecast });
