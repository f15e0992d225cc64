// Misclassified: a strip of validation images the model gets wrong, each with its true and its
// predicted label.

import { el } from "../dom.js";
import { SNAP } from "../protocol.js";
import { grey, heatCanvas } from "./heat.js";
import { registerView } from "./registry.js";

function createMisclassified(slot) {
  const lead = el("p", { class: "hint" });
  const strip = el("ul", { class: "strip", attrs: { "aria-label": "Misclassified validation digits" } });
  slot.append(lead, strip);

  function setSnapshot(snap) {
    strip.replaceChildren();
    if (!snap) {
      lead.textContent = "Train a classifier to see the validation digits it gets wrong.";
      return;
    }
    lead.textContent = snap.count
      ? `${snap.count} of ${snap.total} validation digits are wrong at epoch ${snap.epoch}`
        + (snap.count > snap.items.length ? `; the first ${snap.items.length}:` : ":")
      : `Every one of the ${snap.total} validation digits is right at epoch ${snap.epoch}.`;
    for (const it of snap.items) {
      const text = `true ${it.true}, predicted ${it.pred}`;
      strip.append(el("li", { class: "tile", attrs: { "aria-label": text } },
        heatCanvas(it.image, grey(), { cls: "heat digit" }),
        el("span", { class: "tile-label", text: `${it.true} → ${it.pred}` })));
    }
  }

  setSnapshot(null);
  return { setSnapshot };
}

registerView(SNAP.MISCLASSIFIED, { title: "Misclassified", create: createMisclassified });
