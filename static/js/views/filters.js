// Filters: the first conv layer's learned kernels, one small image each, on a colour scale
// symmetric about 0 (blue positive, white 0, orange negative) shared by all kernels.

import { el, fmtNum } from "../dom.js";
import { SNAP } from "../protocol.js";
import { diverging, heatCanvas } from "./heat.js";
import { registerView } from "./registry.js";

function createFilters(slot) {
  const grid = el("div", { class: "tile-grid filters-grid" });
  const caption = el("p", { class: "hint" });
  slot.append(grid, caption);

  function setSnapshot(snap) {
    grid.replaceChildren();
    if (!snap) {
      caption.textContent = "Train a network with a Conv2D layer to see its filters.";
      return;
    }
    if (!snap.filters.length) {
      caption.textContent = "No Conv2D layer: add one to see the kernels it learns.";
      return;
    }
    const scale = diverging(snap.vmax);
    snap.filters.forEach((k, i) => {
      grid.append(el("figure", { class: "tile" },
        heatCanvas(k, scale, { label: `Filter ${i + 1}`, cls: "heat kernel" }),
        el("figcaption", { text: String(i + 1) })));
    });
    const k = snap.filters[0].length;
    const mean = snap.in_channels > 1 ? `, each the mean over ${snap.in_channels} input channels` : "";
    caption.textContent = `Layer ${snap.layer + 1}: ${snap.filters.length} kernels ${k}×${k}${mean}, at epoch `
      + `${snap.epoch}. Blue positive, orange negative, up to ±${fmtNum(snap.vmax)}.`;
  }

  setSnapshot(null);
  return { setSnapshot };
}

registerView(SNAP.FILTERS, { title: "Filters", create: createFilters });
