// Drawing shared by the data preview and the output view: class colours, a diverging colour
// map, data-to-pixel mapping, point clouds and digit thumbnails. Pure canvas; no state.

// Two classes as TensorFlow Playground draws them (orange vs blue); more classes get a palette.
const CLASS_COLORS_2 = ["#f08c00", "#1c7ed6"];
const CLASS_COLORS_N = ["#1c7ed6", "#f08c00", "#2f9e44", "#e03131", "#7048e8",
                        "#0c8599", "#d6336c", "#5c940d", "#862e9c", "#495057"];

export function classColor(k, nClasses) {
  const pal = nClasses <= 2 ? CLASS_COLORS_2 : CLASS_COLORS_N;
  return pal[k % pal.length];
}

export function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Diverging map for regression values: t in [0, 1], orange (low) -> white -> blue (high). */
export function divergingRgb(t) {
  const lo = [240, 140, 0];
  const mid = [248, 249, 250];
  const hi = [28, 126, 214];
  const u = Math.min(1, Math.max(0, t));
  const [a, b, s] = u < 0.5 ? [lo, mid, u / 0.5] : [mid, hi, (u - 0.5) / 0.5];
  return a.map((v, i) => Math.round(v + (b[i] - v) * s));
}

/** Bounds of points with a 10% margin, as the engine pads its snapshot grid. */
export function boundsOf(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) return [-1, 1];
  const pad = 0.1 * (hi - lo || 1);
  return [lo - pad, hi + pad];
}

/** A mapping from data coordinates to the pixels of a w x h box at (ox, oy); y grows upwards. */
export function makeFrame(xr, yr, w, h, ox = 0, oy = 0) {
  return {
    w, h, ox, oy, xr, yr,
    px: (x) => ox + ((x - xr[0]) / (xr[1] - xr[0] || 1)) * w,
    py: (y) => oy + h - ((y - yr[0]) / (yr[1] - yr[0] || 1)) * h,
  };
}

/** A frame with one scale on both axes, centred in w x h: 2-D data keeps its shape (a spiral drawn
 * in a wide box looked elliptical beside the square Output view: issue 13). */
export function squareFrame(xr, yr, w, h, ox = 0, oy = 0) {
  const dx = xr[1] - xr[0] || 1;
  const dy = yr[1] - yr[0] || 1;
  const k = Math.min(w / dx, h / dy);
  return makeFrame(xr, yr, dx * k, dy * k, ox + (w - dx * k) / 2, oy + (h - dy * k) / 2);
}

/** Points [[x, y], ...] with a fill per point; hollow draws rings (the validation split). */
export function drawPoints(ctx, frame, pts, fillOf, { radius = 3, hollow = false } = {}) {
  ctx.lineWidth = hollow ? 1.5 : 1;
  for (let i = 0; i < pts.length; i++) {
    const [x, y] = pts[i];
    ctx.beginPath();
    ctx.arc(frame.px(x), frame.py(y), radius, 0, 2 * Math.PI);
    if (hollow) {
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fill();
      ctx.strokeStyle = fillOf(i);
      ctx.stroke();
    } else {
      ctx.fillStyle = fillOf(i);
      ctx.fill();
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.stroke();
    }
  }
}

/** Light axes through zero and a frame: enough to read where the data sits. */
export function drawAxes(ctx, frame) {
  ctx.save();
  ctx.strokeStyle = "rgba(33,37,41,0.15)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  if (frame.xr[0] < 0 && frame.xr[1] > 0) {
    ctx.moveTo(Math.round(frame.px(0)) + 0.5, frame.oy);
    ctx.lineTo(Math.round(frame.px(0)) + 0.5, frame.oy + frame.h);
  }
  if (frame.yr[0] < 0 && frame.yr[1] > 0) {
    ctx.moveTo(frame.ox, Math.round(frame.py(0)) + 0.5);
    ctx.lineTo(frame.ox + frame.w, Math.round(frame.py(0)) + 0.5);
  }
  ctx.stroke();
  ctx.strokeStyle = "rgba(33,37,41,0.25)";
  ctx.strokeRect(frame.ox + 0.5, frame.oy + 0.5, frame.w - 1, frame.h - 1);
  ctx.restore();
}

