// Feature maps: for a validation image the user picks from a row of thumbnails, each conv layer's
// activation maps (after its activation), one grey image per map, dark = strong. The pick goes to
// the server (ctx.onPick); the maps arrive as the next feature_maps snapshot.

import { el } from "../dom.js";
import { SNAP } from "../protocol.js";
import { grey, heatCanvas } from "./heat.js";
import { registerView } from "./registry.js";

function createFeatureMaps(slot, ctx) {
  const picker = el("div", { class: "thumbs", attrs: { role: "group", "aria-label": "Pick a validation digit" } });
  const head = el("p", { class: "hint" });
  const layers = el("div", { class: "fm-layers" });
  slot.append(picker, head, layers);
  let chosen = null; // the index asked for, until a snapshot shows it

  function thumbs(snap) {
    picker.replaceChildren(...snap.choices.map((img, i) => el("button", {
      class: "thumb", attrs: { type: "button", "aria-label": `Validation digit ${i + 1}, label ${snap.choice_labels[i]}`,
        "aria-pressed": String(i === snap.index) },
      on: { click: () => pick(i) },
    }, heatCanvas(img, grey(), { cls: "heat digit" }))));
  }

  function pick(i) {
    chosen = i;
    picker.querySelectorAll(".thumb").forEach((b, j) => b.setAttribute("aria-pressed", String(j === i)));
    head.textContent = ctx.onPick(i) ? `Digit ${i + 1}: asking the run for its feature maps…`
      : "Train a run first: a digit's feature maps come from the run's network (live, or its saved weights).";
  }

  function setSnapshot(snap) {
    layers.replaceChildren();
    if (!snap) {
      picker.replaceChildren();
      head.textContent = "Train a network with a Conv2D layer, then click a digit to see what each conv layer makes of it.";
      return;
    }
    thumbs(snap);
    slot.dataset.index = String(snap.index);
    if (chosen === snap.index) chosen = null;
    head.textContent = `Validation digit ${snap.index + 1} (label ${snap.label}) at epoch ${snap.epoch}. `
      + (snap.layers.length ? "Click another digit to see its maps." : "No Conv2D layer: add one to see feature maps.");
    for (const layer of snap.layers) {
      const scale = grey(Math.min(0, layer.vmin), layer.vmax);
      const [n, h, w] = [layer.maps.length, layer.maps[0].length, layer.maps[0][0].length];
      layers.append(el("section", { class: "fm-layer", attrs: { "aria-label": `Layer ${layer.index + 1} maps` } },
        el("h3", { text: `Layer ${layer.index + 1}: ${n} maps ${h}×${w}` }),
        el("div", { class: "tile-grid" }, ...layer.maps.map((m, i) =>
          heatCanvas(m, scale, { label: `Layer ${layer.index + 1} map ${i + 1}`, cls: "heat fmap" })))));
    }
  }

  setSnapshot(null);
  return { setSnapshot };
}

registerView(SNAP.FEATURE_MAPS, { title: "Feature maps", create: createFeatureMaps });
