// Checking the spec being edited: /api/validate a moment after each edit, each error put where it
// belongs (on its layer, on its form field, or under the stack), and the data preview redrawn
// once the data validates. It keeps only which answer is the latest; the page's state stays in
// main.js, which hears every answer through page.onChecked.

import { api } from "./api.js";
import { el } from "./dom.js";
import { CSV_DATASET, SNAP } from "./protocol.js";
import { sameSpec } from "./spec.js";

const VALIDATE_DELAY_MS = 180;
// Errors under these paths mean the data cannot be previewed (so no request that would 422).
const DATA_PATH = /^(data|task)\b/;

/**
 * page: what main.js lets this module see and do: state (read only), views, current() (the current
 * run or null), onChecked(spec, summary, errors), onPreview(preview) (the data preview drawn). problems: the element under the stack for the
 * errors no layer or field takes.
 */
export function createSpecCheck(page, { problems }) {
  const { state, views } = page;
  let validateSeq = 0;
  let previewSeq = 0;
  let previewStale = true; // the data changed since the preview was drawn
  let timer = null;

  /** The spec went from `prev` to `next`: check it once the edits pause. */
  function edited(prev, next) {
    clearTimeout(timer);
    timer = setTimeout(validate, VALIDATE_DELAY_MS);
    if (!sameSpec(prev.data, next.data) || prev.task !== next.task) previewStale = true;
  }

  async function validate() {
    const seq = ++validateSeq;
    const spec = state.spec;
    const res = await api.validate(spec);
    if (seq !== validateSeq) return; // a newer edit is on its way
    const summary = res.ok ? res.data : null;
    const errors = res.ok ? [] : res.errors;
    views.builder.showSummary(summary);
    showErrors(errors);
    const run = page.current();
    if (!res.ok) {
      // A bad import or edit: the diagram keeps a run's network only while it is the one on screen.
      if (!run || !sameSpec(run.spec.model, spec.model)) views.network.setSummary(null);
    } else if (!run || !sameSpec(run.spec.model, spec.model)) {
      views.network.setSummary(summary);
      views.network.setWeights(null);
    }
    page.onChecked(spec, summary, errors);
    // The preview follows validation: data that validate refused is not sent to be previewed.
    if (previewStale && !errors.some((e) => DATA_PATH.test(e.path || "") || e.path === "$")) {
      previewStale = false;
      loadPreview();
    }
  }

  /** Put each error where it belongs: on its layer, on its form field, or under the stack. */
  function showErrors(errors) {
    views.dataPanel.clearErrors();
    views.trainPanel.clearErrors();
    const rest = views.builder.showErrors(errors).filter((e) =>
      !views.dataPanel.showError(e.path, e.message) && !views.trainPanel.showError(e.path, e.message));
    problems.replaceChildren(...rest.map((e) =>
      el("p", { text: e.path && e.path !== "$" ? `${e.path}: ${e.message}` : e.message })));
    problems.hidden = !rest.length;
  }

  async function loadPreview() {
    const seq = ++previewSeq;
    const d = state.spec.data;
    // An uploaded table is read through its session (or the share link); elsewhere it has no rows.
    const where = state.session ? { session: state.session.id, token: state.session.token }
      : state.shareToken ? { share: state.shareToken } : {};
    if (d.dataset === CSV_DATASET && !state.uploads.some((u) => u.id === d.upload)) return;
    const res = await api.preview(d, state.spec.task, d.dataset === CSV_DATASET ? where : {});
    if (seq !== previewSeq || !res.ok) return; // a bad data field is named by validate
    views.dataPanel.setPreview(res.data);
    views.outputs.setData(res.data);
    if (page.onPreview) page.onPreview(res.data);
    const run = page.current();
    if (run && sameSpec(run.spec.data, state.spec.data)) {
      views.outputs.setAll(Object.values(run.snapshots).filter((s) => s.kind !== SNAP.WEIGHTS));
    }
  }

  return { edited, validate, showErrors };
}
