// Worse than a guess (issue 13): a classifier whose validation accuracy is below the share of the
// most common class has learned nothing that holds on new points, and a newcomer reading "29%"
// deserves to be told so, and why. Pure functions: main.js owns the preview and the runs.

const MARGIN = 0.03; // below the majority share by more than this, over the last epochs
const WINDOW = 5; // epochs averaged, so that one noisy epoch says nothing

/** The share of the most common class among the preview's validation labels (null: no classes). */
export function majorityShare(preview) {
  if (!preview || !preview.n_classes || !preview.val || !preview.val.y || !preview.val.y.length) return null;
  const counts = new Map();
  for (const y of preview.val.y) counts.set(y, (counts.get(y) || 0) + 1);
  return Math.max(...counts.values()) / preview.val.y.length;
}

/** The validation accuracy column among a task's metrics (catalog tasks[i].metrics), or null. */
export const valAccuracyColumn = (metrics) => {
  const m = metrics.find((x) => x.percent && metrics.some((o) => o.pair === x.name));
  return m ? m.name : null;
};

/** The note for `run` when its validation accuracy (column `col`) is below `share`, else "". */
export function chanceNote(run, share, col) {
  const acc = run && col && run.history[col];
  if (!acc || share === null || share === undefined) return "";
  const last = acc.filter((v) => v !== null && v !== undefined).slice(-WINDOW);
  if (last.length < WINDOW) return "";
  const mean = last.reduce((a, b) => a + b, 0) / last.length;
  if (mean >= share - MARGIN) return "";
  const pct = (v) => `${Math.round(100 * v)}%`;
  const hidden = ((run.spec.model && run.spec.model.layers) || []).length > 0;
  return `Validation accuracy ${pct(mean)} is below the ${pct(share)} of always predicting the most common class: `
    + "the model has learned nothing that holds on new points. "
    + (hidden ? "Train longer, or check the learning rate."
      : "With no hidden layer it draws one straight boundary, and no straight line separates these classes: "
        + "whichever line it settles on cuts each class in two. Add a hidden layer.");
}
