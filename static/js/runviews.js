// Which views show the current run, and what they say of it: its snapshots go to the views whose
// spec they fit, the Export menu follows it, and a view that shows a run whose data or network is
// not the one on screen is marked "From Run N" (issue 13). main.js owns the state and the run
// records; this module reads them (and notes on a record whether it has weights to download).

import { api, errorText } from "./api.js";
import { chanceNote, valAccuracyColumn } from "./chance.js";
import { metricsOf, taskOfRun } from "./metrics.js";
import { $ } from "./dom.js";
import { ACTION, SNAP } from "./protocol.js";
import { fromNote, setNote } from "./provenance.js";
import { isActive } from "./runs.js";
import { sameSpec } from "./spec.js";

/** page: {state, views, current, links, notify} as main.js lends them. */
export function createRunViews({ state, views, current, links, notify }) {
  /** A run's snapshot, to its view: weights while the model is the one edited, the rest while the data is. */
  function showSnapshot(run, snap) {
    if (snap.kind === SNAP.INSIDES) {
      if (sameSpec(run.spec.model, state.spec.model)) views.insides.set(snap);
      return;
    }
    const fits = snap.kind === SNAP.WEIGHTS
      ? sameSpec(run.spec.model, state.spec.model) && sameSpec(run.spec.data.dataset, state.spec.data.dataset)
      : sameSpec(run.spec.data, state.spec.data);
    if (fits) views.outputs.set(snap);
  }

  /** The feature maps view asks for validation example `index`: true when an answer will come. A live
   * run answers the pick control; an ended one is asked from its saved weights (a read: share links too). */
  function pickExample(index) {
    const run = current();
    if (!run || !run.id) return false;
    if (isActive(run)) {
      if (state.readOnly) return false;
      links.control(run, ACTION.PICK, { index });
      return true;
    }
    api.pick(run.id, index).then((res) => {
      if (!res.ok) {
        notify(`Could not compute that digit's feature maps: ${errorText(res)}`, "bad");
        return;
      }
      for (const snap of res.data.snapshots) {
        run.snapshots[snap.kind] = snap;
        if (run === current()) showSnapshot(run, snap);
      }
    });
    return true;
  }

  /** Ask the server whether an ended run has weights to download (the Export menu offers them). */
  async function checkWeights(run) {
    run.hasWeights = null; // being asked
    const res = await api.getRun(run.id);
    run.hasWeights = res.ok ? Boolean(res.data.has_weights) : false;
    if (run === current()) views.exportMenu.setRun(run, { weights: run.hasWeights });
  }

  /** The Export menu opens: its links follow the current run; weights once the run has them. */
  function exportOpen() {
    const run = current();
    if (!run) return;
    if (isActive(run)) run.hasWeights = false;
    views.exportMenu.setRun(run, { weights: run.hasWeights ?? null });
    if (run.hasWeights === undefined) checkWeights(run);
  }

  /** The charts and the diagnosis say when their run's data or network is not the one on screen. */
  function markSources() {
    const label = (name) => (state.catalog.datasets.find((d) => d.name === name) || { label: name }).label;
    const note = fromNote(current(), state.spec, { datasetLabel: label });
    setNote($("#loss-from"), note);
    setNote($("#diagnosis-from"), note);
    markChance();
  }

  /** The accuracy chart says when the current run does worse than predicting the most common class. */
  function markChance() {
    const run = current();
    const fits = run && sameSpec(run.spec.data, state.spec.data); // the majority share is of the data on screen
    const col = fits ? valAccuracyColumn(metricsOf(state.catalog, taskOfRun(run), run.history)) : null;
    setNote($("#acc-note"), fits ? chanceNote(run, state.majority, col) : "");
  }

  return { showSnapshot, pickExample, checkWeights, exportOpen, markSources, markChance };
}
