// The picture of the data and the model's predictions on a canvas: the decision boundary
// (classification on 2-D data), the value surface (regression on 2-D data) or the fitted curve
// (regression on 1-D data), drawn under the training points, with the validation points on a
// toggle. One renderer serves the three kinds, which never apply to the same data. Redraws at
// most once a frame.

import { el, fitCanvas, frameScheduler } from "../dom.js";
import { DATA_KIND, SNAP, TASK } from "../protocol.js";
import { boundsOf, classColor, divergingRgb, drawAxes, drawPoints, hexToRgb, makeFrame } from "../plot2d.js";
import { registerView } from "./registry.js";

const MARGIN = 6;

const bytesOf = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

/** A boundary snapshot's classes and confidences per cell: one byte each in base64 ("u8-base64",
 * confidence in percent), or the lists of numbers that runs saved before it hold. */
function boundaryCells(snap) {
  if (snap.encoding !== "u8-base64") return { pred: snap.pred, conf: snap.conf };
  const conf = bytesOf(snap.conf);
  return { pred: bytesOf(snap.pred), conf: Float32Array.from(conf, (v) => v / 100) };
}

function createPlane(slot) {
  const showValInput = el("input", { attrs: { id: "show-val", type: "checkbox", checked: true } });
  const canvas = el("canvas", { class: "output-canvas", attrs: { id: "output-canvas", role: "img", "aria-label": "Data" } });
  const caption = el("p", { class: "hint", attrs: { id: "output-caption" } });
  const pointKey = el("p", { class: "hint point-key", attrs: { id: "point-key" } },
    el("span", { class: "dot", attrs: { "aria-hidden": "true" } }), "training ",
    el("span", { class: "dot hollow", attrs: { "aria-hidden": "true" } }), "validation ",
    el("label", { class: "check small", title: "Show the validation points (hollow)" }, showValInput, " show"));
  slot.append(canvas, caption, pointKey);
  let preview = null;
  let snapshot = null;
  const schedule = frameScheduler(draw);


  showValInput.addEventListener("change", schedule);
  new ResizeObserver(schedule).observe(canvas);

  function message(ctx, w, h, text) {
    ctx.fillStyle = "#868e96";
    ctx.font = "13px system-ui, sans-serif";
    ctx.textAlign = "center";
    wrapText(ctx, text, w / 2, h / 2 - 10, w - 40, 18);
    ctx.textAlign = "start";
  }

  function draw() {
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    if (!preview) {
      message(ctx, w, h, "Loading the data…");
      return;
    }
    if (preview.kind !== DATA_KIND.ONE_D && preview.kind !== DATA_KIND.TWO_D) return; // not this view's data
    const showVal = showValInput.checked;
    if (preview.kind === DATA_KIND.ONE_D) drawCurve(ctx, w, h, showVal);
    else drawPlane(ctx, w, h, showVal);
  }

  function splits(showVal) {
    return showVal ? [[preview.train, false], [preview.val, true]] : [[preview.train, false]];
  }

  function drawPlane(ctx, w, h, showVal) {
    const all = preview.train.x.concat(preview.val.x);
    const snap = snapshot && (snapshot.kind === SNAP.BOUNDARY || snapshot.kind === SNAP.SURFACE) ? snapshot : null;
    const xr = snap ? snap.x : boundsOf(all.map((p) => p[0]));
    const yr = snap ? snap.y : boundsOf(all.map((p) => p[1]));
    const frame = makeFrame(xr, yr, w - 2 * MARGIN, h - 2 * MARGIN, MARGIN, MARGIN);
    const isClass = preview.task === TASK.CLASSIFICATION;
    const ys = preview.train.y.concat(preview.val.y);
    const vr = isClass ? null : valueRange(ys, snap);
    if (snap) drawGrid(ctx, frame, snap, vr);
    drawAxes(ctx, frame);
    for (const [part, hollow] of splits(showVal)) {
      const fill = isClass
        ? (i) => classColor(part.y[i], preview.n_classes || 2)
        : (i) => `rgb(${divergingRgb((part.y[i] - vr[0]) / (vr[1] - vr[0] || 1)).join(",")})`;
      drawPoints(ctx, frame, part.x, fill, { radius: hollow ? 3 : 3.2, hollow });
      if (!isClass && !hollow) {
        // Regression points get a dark ring so that pale mid-range values stay visible.
        ctx.strokeStyle = "rgba(33,37,41,0.35)";
        for (const [x, y] of part.x) {
          ctx.beginPath();
          ctx.arc(frame.px(x), frame.py(y), 3.6, 0, 2 * Math.PI);
          ctx.stroke();
        }
      }
    }
    const what = snap ? (snap.kind === SNAP.BOUNDARY ? "Decision boundary" : "Predicted surface") : "Data";
    const at = snap ? ` at epoch ${snap.epoch}` : "";
    canvas.setAttribute("aria-label", `${what}${at}`);
    caption.textContent = snap ? `${what}${at}` : "The data: train the network to see what it learns.";
  }

  function valueRange(ys, snap) {
    let lo = Math.min(...ys);
    let hi = Math.max(...ys);
    if (snap && snap.kind === SNAP.SURFACE) {
      lo = Math.min(lo, snap.vmin);
      hi = Math.max(hi, snap.vmax);
    }
    return [lo, hi];
  }

  function drawGrid(ctx, frame, snap, vr) {
    const n = snap.n;
    const img = new ImageData(n, n);
    const cells = snap.kind === SNAP.BOUNDARY ? boundaryCells(snap) : null;
    for (let r = 0; r < n; r++) {
      const row = n - 1 - r; // the snapshot's row 0 lies at y0, the bottom of the picture
      for (let c = 0; c < n; c++) {
        const i = r * n + c;
        let rgb;
        let alpha;
        if (snap.kind === SNAP.BOUNDARY) {
          const k = snap.classes || 2;
          rgb = hexToRgb(classColor(cells.pred[i], k));
          const sure = (cells.conf[i] - 1 / k) / (1 - 1 / k); // 0 on the boundary, 1 when certain
          alpha = 0.12 + 0.5 * Math.max(0, Math.min(1, sure));
        } else {
          rgb = divergingRgb((snap.value[i] - vr[0]) / (vr[1] - vr[0] || 1));
          alpha = 0.75;
        }
        img.data.set([rgb[0], rgb[1], rgb[2], Math.round(alpha * 255)], (row * n + c) * 4);
      }
    }
    const tile = new OffscreenCanvas(n, n);
    tile.getContext("2d").putImageData(img, 0, 0);
    ctx.save();
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(tile, frame.ox, frame.oy, frame.w, frame.h);
    ctx.restore();
  }

  function drawCurve(ctx, w, h, showVal) {
    const curve = snapshot && snapshot.kind === SNAP.CURVE ? snapshot : null;
    const data = preview.train.x.concat(preview.val.x).map((p) => p[0]);
    const ys = preview.train.y.concat(preview.val.y);
    const xr = boundsOf(curve ? data.concat(curve.x) : data);
    const yr = boundsOf(curve ? ys.concat(curve.y) : ys);
    const frame = makeFrame(xr, yr, w - 2 * MARGIN, h - 2 * MARGIN, MARGIN, MARGIN);
    drawAxes(ctx, frame);
    for (const [part, hollow] of splits(showVal)) {
      const pts = part.x.map((p, i) => [p[0], part.y[i]]);
      drawPoints(ctx, frame, pts, () => (hollow ? "#f08c00" : "#1c7ed6"), { radius: 3.2, hollow });
    }
    if (curve) {
      ctx.strokeStyle = "#212529";
      ctx.lineWidth = 2.5;
      ctx.lineJoin = "round";
      ctx.beginPath();
      curve.x.forEach((x, i) => (i ? ctx.lineTo(frame.px(x), frame.py(curve.y[i])) : ctx.moveTo(frame.px(x), frame.py(curve.y[i]))));
      ctx.stroke();
    }
    const at = curve ? `Fitted curve at epoch ${curve.epoch}` : "";
    canvas.setAttribute("aria-label", at || "Data");
    caption.textContent = at || "The data: train the network to fit a curve through it.";
  }

  return {
    /** The data as /api/data/preview returns it. */
    setData(p) {
      preview = p;
      snapshot = null;
      schedule();
    },
    /** A boundary, surface or curve snapshot message; null clears the model's view. */
    setSnapshot(s) {
      snapshot = s;
      schedule();
    },
  };
}

registerView(SNAP.BOUNDARY, { title: "Decision boundary", create: createPlane });
registerView(SNAP.SURFACE, { title: "Predicted surface", create: createPlane, shares: SNAP.BOUNDARY });
registerView(SNAP.CURVE, { title: "Fitted curve", create: createPlane, shares: SNAP.BOUNDARY });

function wrapText(ctx, text, x, y, maxWidth, lineHeight) {
  let line = "";
  let yy = y;
  for (const word of text.split(" ")) {
    const test = line ? `${line} ${word}` : word;
    if (ctx.measureText(test).width > maxWidth && line) {
      ctx.fillText(line, x, yy);
      line = word;
      yy += lineHeight;
    } else {
      line = test;
    }
  }
  if (line) ctx.fillText(line, x, yy);
}
