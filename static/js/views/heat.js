// Small matrices drawn as pixel images: kernels, activation maps and digits. Each matrix is put
// into a canvas at its own size (one pixel per cell); CSS scales it up without smoothing.

import { el } from "../dom.js";
import { divergingRgb } from "../plot2d.js";

/** A canvas showing `rows` (H lists of W numbers). scale(v) -> [r, g, b]. */
export function heatCanvas(rows, scale, { label = "", cls = "heat" } = {}) {
  const h = rows.length;
  const w = h ? rows[0].length : 0;
  const canvas = el("canvas", { class: cls, attrs: { role: "img", "aria-label": label, width: w, height: h } });
  if (!w) return canvas;
  const img = new ImageData(w, h);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) img.data.set([...scale(rows[r][c]), 255], (r * w + c) * 4);
  }
  canvas.getContext("2d").putImageData(img, 0, 0);
  return canvas;
}

/** Symmetric about 0: orange negative, white 0, blue positive, saturating at ±vmax. */
export function diverging(vmax) {
  const m = vmax || 1;
  return (v) => divergingRgb(0.5 + v / (2 * m));
}

/** Ink on paper: lo white, hi black (digits and activations). */
export function grey(lo = 0, hi = 1) {
  const span = hi - lo || 1;
  return (v) => {
    const g = 255 - Math.round(255 * Math.min(1, Math.max(0, (v - lo) / span)));
    return [g, g, g];
  };
}

/** An (H, W) list from a flat list of H*W values (the preview sends images flat). */
export function square(flat, side) {
  return Array.from({ length: side }, (_, r) => flat.slice(r * side, (r + 1) * side));
}
