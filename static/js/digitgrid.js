// The data preview of image data: sample digits, each at a readable size with its label in a row of
// its own below it (issue 13: labels drawn over the digits, then digits shrunk to 11 px to make room
// for them). Elements rather than one canvas, so each digit scales with the column and is named.

import { el } from "./dom.js";

export const MAX_DIGITS = 9; // two rows of four beside the data fields, or three of three (views.css)

/** One digit's flat pixels in [0, 1] (side x side) as a canvas, dark ink on white. */
function digitCanvas(pixels, side, label) {
  const canvas = el("canvas", { class: "digit-tile", attrs: { width: side, height: side, role: "img",
    "aria-label": label === undefined ? "a sample image" : `a sample labelled ${label}` } });
  const img = new ImageData(side, side);
  for (let p = 0; p < side * side; p++) {
    const v = 255 - Math.round(255 * Math.min(1, Math.max(0, pixels[p] ?? 0)));
    img.data.set([v, v, v, 255], p * 4);
  }
  canvas.getContext("2d").putImageData(img, 0, 0);
  return canvas;
}

export function createDigitGrid() {
  const node = el("ul", { class: "digit-grid", attrs: { "aria-label": "Sample images" } });
  node.hidden = true;
  return {
    node,
    /** Show the first MAX_DIGITS of `images` (flat, C*H*W with C = 1), labelled when `labels` are given. */
    show(images, labels, side) {
      node.replaceChildren(...images.slice(0, MAX_DIGITS).map((pixels, i) => {
        const label = labels ? labels[i] : undefined;
        return el("li", { class: "digit" }, digitCanvas(pixels, side, label),
          label === undefined ? null : el("span", { class: "digit-label", text: String(label), attrs: { "aria-hidden": "true" } }));
      }));
      node.hidden = false;
    },
    hide() {
      node.hidden = true;
      node.replaceChildren();
    },
  };
}
