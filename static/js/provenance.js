// Views that never lie (issue 13): a view that shows a run whose data or network is not the one on
// screen says so ("From Run 3, trained on Spiral: the data on screen differs"), in the note above
// it. Pure: main.js decides which run each view shows; this only words the difference.

import { sameSpec } from "./spec.js";

/** What of `spec` (the page's) differs from the spec `run` trained with: {data, model}. */
export function differs(run, spec) {
  if (!run || !spec) return { data: false, model: false };
  return {
    data: !sameSpec(run.spec.data, spec.data) || run.spec.task !== spec.task,
    model: !sameSpec(run.spec.model, spec.model),
  };
}

/** The note of a view that shows `run` while the page holds `spec`, or "" when they agree. */
export function fromNote(run, spec, { datasetLabel = (name) => name } = {}) {
  const d = differs(run, spec);
  if (d.data && run.spec.data.dataset !== spec.data.dataset) {
    return `From ${run.label}, trained on ${datasetLabel(run.spec.data.dataset)}: the data on screen differs.`;
  }
  if (d.data) return `From ${run.label}: the data settings on screen differ.`;
  if (d.model) return `From ${run.label}: the network on screen differs.`;
  return "";
}

/** Show `text` in a note element (hidden when empty). */
export function setNote(node, text) {
  if (!node) return;
  node.textContent = text;
  node.hidden = !text;
}
