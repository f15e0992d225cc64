// Confusion matrix on the validation set: counts in a table (rows the true class, columns the
// predicted one), shaded by the share of their row; the most-confused pair in words; and each
// class's accuracy. Works for any number of classes.

import { el, fmtNum } from "../dom.js";
import { SNAP } from "../protocol.js";
import { registerView } from "./registry.js";

function createConfusion(slot) {
  const lead = el("p", { class: "confusion-lead" });
  const table = el("table", { class: "confusion", attrs: { "aria-label": "Validation counts, true class by row" } });
  const perClass = el("p", { class: "hint per-class" });
  slot.append(lead, table, perClass);

  function row(cells) {
    return el("tr", {}, ...cells);
  }

  function setSnapshot(snap) {
    table.replaceChildren();
    if (!snap) {
      lead.textContent = "Train a classifier to see which classes it mixes up.";
      perClass.textContent = "";
      return;
    }
    const k = snap.classes;
    const labels = Array.from({ length: k }, (_, i) => String(i));
    table.append(el("thead", {}, row([el("th", { text: "true \\ predicted", attrs: { scope: "col" } }),
      ...labels.map((l) => el("th", { text: l, attrs: { scope: "col" } }))])));
    const body = el("tbody");
    snap.matrix.forEach((counts, t) => {
      const total = counts.reduce((a, b) => a + b, 0) || 1;
      body.append(row([el("th", { text: labels[t], attrs: { scope: "row" } }), ...counts.map((n, p) => {
        const share = n / total;
        const tone = t === p ? `rgba(28,126,214,${0.1 + 0.7 * share})` : `rgba(224,49,49,${n ? 0.12 + 0.8 * share : 0})`;
        return el("td", { text: String(n), style: { background: tone }, dataset: { t, p } });
      })]));
    });
    table.append(body);
    lead.textContent = `${snap.text} Validation accuracy ${fmtNum(snap.accuracy * 100)}% at epoch ${snap.epoch}.`;
    perClass.textContent = "Per class: " + snap.per_class_accuracy
      .map((a, i) => `${labels[i]} ${a === null ? "–" : `${Math.round(a * 100)}%`}`).join(", ");
  }

  setSnapshot(null);
  return { setSnapshot };
}

registerView(SNAP.CONFUSION, { title: "Confusion matrix", create: createConfusion });
