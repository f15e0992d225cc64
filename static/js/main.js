// The page: main.js alone owns its state (the spec being edited, the runs on the charts, the open
// session) and wires the views to it. Views draw what they are given and report what the user
// asked for; the sessions' requests are in session.js, which holds no state of its own.

import { api } from "./api.js";
import { RUN_COLORS } from "./charts.js";
import { $, el } from "./dom.js";
import { ACTION, API, CSV_DATASET, MSG, SNAP, STATUS, TASK } from "./protocol.js";
import { applyMessage, isActive, makeRun, resetHistory, savedRuns, setStatus } from "./runs.js";
import { createSessionFlow } from "./session.js";
import { openStream } from "./socket.js";
import { applyFix, clone, defaultLayer, dropoutRate, mergePatch, moveItem, normalize, presetSpec, sameSpec,
         setIn, withDropout } from "./spec.js";
import { createToolbar } from "./toolbar.js";
import { readSpec, writeSpec } from "./urlstate.js";
import { createViews } from "./views.js";

const MAX_RUNS = 4; // live runs overlaid on the charts; the oldest goes first
const MAX_SAVED_SHOWN = RUN_COLORS.length; // a session's runs drawn when it opens (Compare reaches the rest)
const VALIDATE_DELAY_MS = 180;
// Errors under these paths mean the data cannot be previewed (so no request that would 422).
const DATA_PATH = /^(data|task)\b/;
const state = {
  readOnly: document.body.dataset.readOnly === "true",
  shareToken: document.body.dataset.shareToken || null, // the share link this page was opened from
  catalog: null,
  health: null,
  spec: null, // the experiment being edited (normalised: every field present)
  summary: null, // /api/validate's answer for `spec`, or null while it is invalid
  errors: [], // /api/validate's errors for `spec`
  runs: [], // oldest first; the last is the current run
  runNumber: 0,
  colorIndex: 0,
  validateSeq: 0,
  previewSeq: 0,
  previewStale: true, // the data changed since the preview was drawn
  session: null, // the open session of this browser: {id, token, shareToken, shareUrl}
  uploads: [], // the open (or shared) session's uploaded tables
  usedUploads: new Set(), // uploads some run trained on (never deleted when the columns change)
  csvFile: null, // {file, uploads: Set}: the CSV chosen on this page, to check other column choices
};
let views = {};
let toolbar = null;
const ui = {};
let flow = null; // session.js: the requests of saving, sharing, forking and uploading

// -- runs ----------------------------------------------------------------------------------------
const current = () => state.runs[state.runs.length - 1] || null;
const editToken = () => (state.session ? state.session.token : null);

function connect(run) {
  if (run.stream) run.stream.close();
  run.stream = openStream(API.stream(run.id, editToken()), {
    onOpen: () => resetHistory(run), // the server replays the whole run on every connect
    onMessage: (msg) => onMessage(run, msg),
    onGiveUp() {
      if (isActive(run)) setRunStatus(run, run.status, "connection lost");
    },
  });
}

function onMessage(run, msg) {
  applyMessage(run, msg);
  const isCurrent = run === current();
  switch (msg.type) {
    case MSG.STATUS:
      refreshRuns();
      break;
    case MSG.METRICS:
      if (isCurrent) showEpoch();
      views.charts.update();
      break;
    case MSG.DIAGNOSIS:
      if (isCurrent) views.diagnosis.show(msg, { enabled: !state.readOnly });
      break;
    case MSG.SNAPSHOT:
      if (isCurrent) showSnapshot(run, msg);
      break;
    case MSG.ERROR:
      if (!state.readOnly) notify(msg.message, "bad"); // a share link watches; its controls are off
      break;
    case MSG.END:
      run.stream.close();
      if (isCurrent) {
        views.diagnosis.showEnd(msg);
        checkWeights(run); // before anyone opens the Export menu
      } else {
        run.hasWeights = undefined; // asked when the Export menu opens on it
      }
      refreshRuns();
      break;
    default:
      break;
  }
}

function showSnapshot(run, snap) {
  if (snap.kind === SNAP.WEIGHTS) {
    if (sameSpec(run.spec.model, state.spec.model) && sameSpec(run.spec.data.dataset, state.spec.data.dataset)) {
      views.network.setWeights(snap);
    }
  } else if (sameSpec(run.spec.data, state.spec.data)) {
    views.output.setSnapshot(snap);
  }
}

function setRunStatus(run, status, text = null) {
  setStatus(run, status, text);
  refreshRuns();
}

/** A run's status changed: the legend and the buttons follow. */
function refreshRuns() {
  views.charts.update();
  updateControls();
}

/** Start a run of `spec` (in the open session, if any); `parent` and `label` name a fork. */
async function startRun(spec, { label = null, parent = null } = {}) {
  const upload = spec.data.upload;
  if (spec.data.dataset === CSV_DATASET && !state.uploads.some((u) => u.id === upload)) {
    views.diagnosis.showProblem("Cannot train yet", "This network trains on an uploaded table that is not in this "
      + "session. Upload the CSV file again (Data, Upload CSV…).");
    return null;
  }
  setBusy(true);
  const res = await api.createRun(spec, { label, parent: parent ? parent.id : null, session: state.session });
  setBusy(false);
  if (!res.ok) {
    if (res.status === 422 && sameSpec(spec, state.spec)) showErrors(res.errors);
    views.diagnosis.showProblem("Cannot train yet", res.errors.map((e) => e.message).join(" "));
    chartRuns();
    updateControls();
    return null;
  }
  state.runNumber += 1;
  if (upload) state.usedUploads.add(upload);
  const run = makeRun(res.data, spec, {
    label: label || `Run ${state.runNumber}`,
    parentLabel: parent ? parent.label : null,
    parentId: parent ? parent.id : null,
    color: RUN_COLORS[state.colorIndex++ % RUN_COLORS.length],
  });
  run.inSession = Boolean(state.session);
  state.runs.push(run);
  while (state.runs.length > MAX_RUNS) retire(state.runs.shift());
  connect(run);
  views.diagnosis.idle("Training… the diagnosis appears after a few epochs.");
  views.output.setSnapshot(null);
  views.network.setSummary(run.summary || state.summary);
  views.network.setWeights(null);
  chartRuns();
  showEpoch();
  updateControls();
  return run;
}

/** Stop a run if it is still going (unless only watching) and stop listening to it. */
function retire(run, { stop = true } = {}) {
  if (stop && isActive(run) && !state.readOnly) control(run, ACTION.STOP);
  if (run.stream) run.stream.close();
}

function control(run, action, extra = {}) {
  const frame = { action, ...extra };
  if (run.stream && run.stream.send(frame)) return;
  api.control(run.id, frame, editToken()).then((res) => {
    if (!res.ok && res.status !== 409) notify(res.errors.map((e) => e.message).join(" "), "bad");
  });
}

/** Put saved runs (a session's, oldest first) on the charts; live ones are followed. */
function showSavedRuns(saved) {
  for (const r of state.runs) retire(r);
  state.runs = savedRuns(saved, { normalizeSpec: (s) => normalize(state.catalog, s), colors: RUN_COLORS })
    .slice(-MAX_SAVED_SHOWN);
  state.colorIndex = saved.length;
  state.runNumber = saved.length;
  for (const out of saved) if (out.spec.data && out.spec.data.upload) state.usedUploads.add(out.spec.data.upload);
  const run = current();
  if (run) {
    if (run.diagnosis) views.diagnosis.show(run.diagnosis, { enabled: !state.readOnly });
    if (run.end) views.diagnosis.showEnd(run.end);
    views.network.setSummary(run.summary);
    if (run.snapshots[SNAP.WEIGHTS]) showSnapshot(run, run.snapshots[SNAP.WEIGHTS]);
  }
  for (const r of state.runs) if (isActive(r)) connect(r);
  chartRuns();
  updateControls();
}

// -- toolbar actions ----------------------------------------------------------------------------------
async function train() {
  if (state.readOnly) return;
  const run = current();
  if (isActive(run) && sameSpec(run.spec, state.spec)) {
    if (run.status === STATUS.PAUSED) control(run, ACTION.RESUME);
    return;
  }
  for (const r of state.runs) retire(r);
  state.runs = [];
  state.colorIndex = 0;
  await startRun(clone(state.spec));
}

function togglePause() {
  const run = current();
  if (!isActive(run) || state.readOnly) return;
  control(run, run.status === STATUS.PAUSED ? ACTION.RESUME : ACTION.PAUSE);
}

function step() {
  const run = current();
  if (run && !state.readOnly && (run.status === STATUS.RUNNING || run.status === STATUS.PAUSED)) control(run, ACTION.STEP);
}

function stop() {
  const run = current();
  if (isActive(run) && !state.readOnly) control(run, ACTION.STOP);
}

/** Clear the runs and charts; `stop` stops the runs still going (Reset does; a deleted session's are gone). */
function clearRuns({ stop = true } = {}) {
  for (const r of state.runs) retire(r, { stop });
  state.runs = [];
  state.colorIndex = 0;
  state.runNumber = 0;
  chartRuns();
  views.output.setSnapshot(null);
  views.network.setSummary(state.summary);
  views.network.setWeights(null);
  views.diagnosis.idle();
  showEpoch();
  updateControls();
}

/** Space plays and pauses, except while typing in a field, in a menu or in a dialog. */
function onKey(e) {
  if (e.code !== "Space" || e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t.closest && t.closest("input, select, textarea, [contenteditable], .palette-item, [role=menu], dialog")) return;
  e.preventDefault(); // a focused button would otherwise be pressed as well
  if (isActive(current())) togglePause();
  else if (toolbar.canTrain()) train();
}

/** A remedy forks the current run: its spec with the remedy's merge patch, overlaid on the charts. */
async function fork(remedy) {
  const parent = current();
  if (!parent || state.readOnly) return;
  const spec = normalize(state.catalog, mergePatch(parent.spec, remedy.patch));
  editSpec(spec, { structural: true, live: false });
  await startRun(clone(spec), { label: remedy.label, parent });
}

/** The Export menu opens: its links follow the current run; weights once the run has them. */
function onExportOpen() {
  const run = current();
  if (!run) return;
  if (isActive(run)) run.hasWeights = false;
  views.exportMenu.setRun(run, { weights: run.hasWeights ?? null });
  if (run.hasWeights === undefined) checkWeights(run);
}

/** Ask the server whether an ended run has weights to download (the Export menu offers them). */
async function checkWeights(run) {
  run.hasWeights = null; // being asked
  const res = await api.getRun(run.id);
  run.hasWeights = res.ok ? Boolean(res.data.has_weights) : false;
  if (run === current()) views.exportMenu.setRun(run, { weights: run.hasWeights });
}

// -- editing the spec -------------------------------------------------------------------------------------
/** Replace the spec; `structural` redraws the stack (the builder's own inputs stay otherwise). */
function editSpec(next, { structural = false, live = true } = {}) {
  const prev = state.spec;
  state.spec = next;
  writeSpec(next);
  if (structural) views.builder.render(next.model.layers);
  renderData();
  views.trainPanel.render(next, dropoutRate(next.model.layers));
  scheduleValidate();
  if (!sameSpec(prev.data, next.data) || prev.task !== next.task) state.previewStale = true;
  if (live) setLive(prev, next);
  updateControls();
}

function editPaths(edits) {
  editSpec(edits.reduce((spec, [path, value]) => setIn(spec, path, value), state.spec));
}

function editLayers(layers, opts = { structural: true }) {
  editSpec(setIn(state.spec, "model.layers", layers), opts);
}

function renderData() {
  views.dataPanel.render(state.spec);
  const d = state.spec.data;
  const upload = d.dataset === CSV_DATASET ? state.uploads.find((u) => u.id === d.upload) || null : null;
  views.csv.render(upload, {
    canChoose: Boolean(upload && state.csvFile && state.csvFile.uploads.has(upload.id)), readOnly: state.readOnly,
  });
}

/** Learning rate and L2 change live in a running run when nothing else differs from its spec. */
function setLive(prev, next) {
  const run = current();
  if (!isActive(run) || state.readOnly) return;
  const t = next.training;
  const changed = {};
  if (t.lr !== prev.training.lr && typeof t.lr === "number" && t.lr > 0) changed.lr = t.lr;
  if (t.l2 !== prev.training.l2 && typeof t.l2 === "number" && t.l2 >= 0) changed.l2 = t.l2;
  if (!Object.keys(changed).length) return;
  const candidate = mergePatch(run.spec, { training: changed });
  if (!sameSpec(candidate, next)) return;
  control(run, ACTION.SET, changed);
  run.spec = candidate;
  notify(Object.entries(changed).map(([k, v]) => `${k === "lr" ? "Learning rate" : "L2"} → ${v}`).join(", ")
    + " from the next epoch.");
}

let validateTimer = null;
function scheduleValidate() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validate, VALIDATE_DELAY_MS);
}

async function validate() {
  const seq = ++state.validateSeq;
  const spec = state.spec;
  const res = await api.validate(spec);
  if (seq !== state.validateSeq) return; // a newer edit is on its way
  if (res.ok) {
    state.summary = res.data;
    state.errors = [];
    views.builder.showSummary(res.data);
    showErrors([]);
    const run = current();
    if (!run || !sameSpec(run.spec.model, spec.model)) {
      views.network.setSummary(res.data);
      views.network.setWeights(null);
    }
  } else {
    state.summary = null;
    state.errors = res.errors;
    views.builder.showSummary(null);
    showErrors(res.errors);
    if (!current()) views.network.setSummary(null);
  }
  updateControls();
  flow.specChecked(spec, !state.errors.length);
  // The preview follows validation: data that validate refused is not sent to be previewed.
  if (state.previewStale && !state.errors.some((e) => DATA_PATH.test(e.path || "") || e.path === "$")) {
    state.previewStale = false;
    loadPreview();
  }
}

/** Put each error where it belongs: on its layer, on its form field, or under the stack. */
function showErrors(errors) {
  views.dataPanel.clearErrors();
  views.trainPanel.clearErrors();
  const rest = views.builder.showErrors(errors).filter((e) =>
    !views.dataPanel.showError(e.path, e.message) && !views.trainPanel.showError(e.path, e.message));
  ui.problems.replaceChildren(...rest.map((e) =>
    el("p", { text: e.path && e.path !== "$" ? `${e.path}: ${e.message}` : e.message })));
  ui.problems.hidden = !rest.length;
}

async function loadPreview() {
  const seq = ++state.previewSeq;
  const d = state.spec.data;
  // An uploaded table is read through its session (or the share link); elsewhere it has no rows.
  const where = state.session ? { session: state.session.id, token: state.session.token }
    : state.shareToken ? { share: state.shareToken } : {};
  if (d.dataset === CSV_DATASET && !state.uploads.some((u) => u.id === d.upload)) return;
  const res = await api.preview(d, state.spec.task, d.dataset === CSV_DATASET ? where : {});
  if (seq !== state.previewSeq || !res.ok) return; // a bad data field is named by validate
  views.dataPanel.setPreview(res.data);
  views.output.setData(res.data);
  const run = current();
  if (run && sameSpec(run.spec.data, state.spec.data)) {
    const snap = Object.values(run.snapshots).find((s) => s.kind !== SNAP.WEIGHTS);
    if (snap) views.output.setSnapshot(snap);
  }
}

function loadExample(name) {
  editSpec(presetSpec(state.catalog, name), { structural: true, live: false });
}

// -- drawing the toolbar ------------------------------------------------------------------------------------
function chartRuns() {
  const run = current();
  const task = run && run.summary ? run.summary.task : taskOf(state.spec);
  views.charts.setRuns(state.runs, { accuracy: task === TASK.CLASSIFICATION });
}

function taskOf(spec) {
  if (spec.task) return spec.task;
  const d = state.catalog.datasets.find((x) => x.name === spec.data.dataset);
  return d ? d.task : TASK.CLASSIFICATION;
}

function showEpoch() {
  toolbar.showEpoch(current(), state.spec.training.epochs);
}

function updateControls() {
  const run = current();
  toolbar.draw({
    run, runs: state.runs, specEpochs: state.spec.training.epochs, sameAsRun: run && sameSpec(run.spec, state.spec),
    invalid: state.errors.length > 0, busy: ui.busy, readOnly: state.readOnly,
  });
  views.exportMenu.setRun(run, { weights: run ? run.hasWeights ?? null : null });
}

function setBusy(busy) {
  ui.busy = busy;
  updateControls();
}

const notify = (text, tone) => toolbar.notify(text, tone);

// -- what session.js may read and change ----------------------------------------------------------------------
/** The page as session.js sees it: reads of the state, and the few changes it may ask for. */
const page = {
  get state() { return state; },
  get views() { return views; },
  notify,
  /** A session of this browser is open (or closed, with null): runs now train in it. */
  setSession(session) {
    state.session = session;
    if (!session) return;
    for (const r of state.runs) {
      r.inSession = true;
      if (isActive(r)) connect(r); // again, with the token that now steers it
    }
  },
  setUploads(uploads) {
    state.uploads = uploads;
    views.dataPanel.setUploads(uploads);
    renderData();
  },
  setCsvFile(file) {
    state.csvFile = file;
    renderData();
  },
  /** The data of an uploaded table, keeping the split settings of the current spec. */
  useUpload(upload) {
    const d = state.spec.data;
    const data = { noise: d.noise, val_fraction: d.val_fraction, train_fraction: d.train_fraction, seed: d.seed,
                   ...upload.data };
    editSpec(normalize(state.catalog, { ...state.spec, data, task: upload.task }), { live: false });
  },
  /** A whole spec from elsewhere (a session, an imported file), checked like any other. */
  loadSpec(spec) {
    editSpec(normalize(state.catalog, spec), { structural: true, live: false });
  },
  showSavedRuns,
  clearRuns,
};

// -- start-up -----------------------------------------------------------------------------------------------------
function bindToolbar() {
  toolbar = createToolbar({ on: { train, pause: togglePause, step, stop, reset: () => clearRuns() } });
  Object.assign(ui, { problems: $("#stack-problems"), busy: false });
  document.addEventListener("keydown", onKey);
  window.addEventListener("pagehide", () => {
    if (flow) flow.leaving();
    state.runs.forEach((r) => r.stream && r.stream.close());
  });
}

function buildViews(catalog) {
  views = createViews(catalog, {
    builder: {
      add: (type, index) => {
        const layers = clone(state.spec.model.layers);
        layers.splice(index === null ? layers.length : index, 0, defaultLayer(catalog, type));
        editLayers(layers);
      },
      move: (from, to) => editLayers(moveItem(state.spec.model.layers, from, to)),
      remove: (index) => editLayers(state.spec.model.layers.filter((_, i) => i !== index)),
      param: (index, name, value) => {
        const layers = clone(state.spec.model.layers);
        layers[index] = { ...layers[index], [name]: value };
        editLayers(layers, { structural: false });
      },
      fix: (fix) => editLayers(applyFix(catalog, state.spec.model.layers, fix)),
    },
    data: editPaths,
    example: loadExample,
    useUpload: (id) => flow.useUpload(id),
    csvFile: (file) => flow.uploadCsv(file),
    csvColumns: (choice) => flow.chooseColumns(choice),
    training: editPaths,
    dropout: (p) => editLayers(withDropout(catalog, state.spec.model.layers, p)),
    remedy: fork,
    exportOpen: onExportOpen,
  });
}

/** A share link is read-only until it is forked: builder, forms and training are off. */
function setReadOnly(readOnly) {
  state.readOnly = readOnly;
  views.builder.setReadOnly(readOnly);
  $("#train-panel").disabled = readOnly;
  views.dataPanel.setReadOnly(readOnly);
  renderData();
  document.body.dataset.readOnly = String(readOnly);
  updateControls();
}

async function main() {
  bindToolbar();
  const [cat, health] = await Promise.all([api.catalog(), api.health()]);
  if (!cat.ok) {
    toolbar.setStatusText("Server unreachable");
    notify("Could not load the layer catalog from the server. Reload the page once it is running.", "bad");
    return;
  }
  state.catalog = cat.data;
  state.health = health.ok ? health.data : null;
  const fromUrl = readSpec();
  state.spec = fromUrl ? normalize(state.catalog, fromUrl) : presetSpec(state.catalog, state.catalog.presets[0].name);
  buildViews(state.catalog);
  views.trainPanel.setHealth(state.health);
  views.builder.render(state.spec.model.layers);
  renderData();
  views.trainPanel.render(state.spec, dropoutRate(state.spec.model.layers));
  flow = createSessionFlow(page);
  setReadOnly(state.readOnly);
  writeSpec(state.spec);
  chartRuns();
  updateControls();
  await flow.start({ specInUrl: Boolean(fromUrl) });
  document.body.dataset.ready = "true";
  await validate();
}

main();
