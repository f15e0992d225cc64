// The page: main.js alone owns its state (the spec being edited, the runs on the charts, the open
// session) and wires the views to it. Views draw what they are given and report what the user
// asked for. The sessions' requests are in session.js, the checking of the spec as it is edited in
// speccheck.js, the runs' streams and controls in runlinks.js: none of them holds page state.

import { api, errorText } from "./api.js";
import { RUN_COLORS } from "./charts.js";
import { chartsOf, monitorOf } from "./metrics.js";
import { $ } from "./dom.js";
import { ACTION, CSV_DATASET, MSG, SNAP, STATUS } from "./protocol.js";
import { createLessonFlow, MAX_LESSON_RUNS } from "./lessonflow.js";
import { createLessonPanel } from "./lessons.js";
import { createRunLinks } from "./runlinks.js";
import { applyMessage, isActive, makeRun, resetHistory, savedRuns, setStatus } from "./runs.js";
import { colorOf, nextNumber, overlayable, runName, shownOnOpen } from "./runset.js";
import { createPace } from "./pace.js";
import { noteEpochs, resetSpeed } from "./speed.js";
import { createRunViews } from "./runviews.js";
import { majorityShare } from "./chance.js";
import { createSessionFlow } from "./session.js";
import { createSpecCheck } from "./speccheck.js";
import { applyFix, clone, dropoutRate, getIn, insertLayer, liveEdit, mergePatch, moveItem, nextRunFields, normalize,
         presetSpec, sameSpec, setIn, setParam, stacksOf, switchedTask, taskOf, withDropout, withUpload } from "./spec.js";
import { createToolbar } from "./toolbar.js";
import { readSpec, writeSpec } from "./urlstate.js";
import { createViews } from "./views.js";

const MAX_RUNS = 4; // live runs overlaid on the charts; the oldest goes first
const state = {
  readOnly: document.body.dataset.readOnly === "true",
  shareToken: document.body.dataset.shareToken || null, // the share link this page was opened from
  catalog: null,
  health: null,
  spec: null, // the experiment being edited (normalised: every field present)
  summary: null, // /api/validate's answer for `spec`, or null while it is invalid
  errors: [], // /api/validate's errors for `spec`
  runs: [], // oldest first; the last is the current run
  runNumber: 0, // the number of the last run ("Run 3"), which gives its colour; numbers go on through a session
  session: null, // the open session of this browser: {id, token, shareToken, shareUrl}
  uploads: [], // the open (or shared) session's uploaded tables
  usedUploads: new Set(), // uploads some run trained on (never deleted when the columns change)
  csvFile: null, // {file, uploads: Set}: the CSV chosen on this page, to check other column choices
  majority: null, // the share of the most common class in the previewed validation split (null: none)
};
let views = {};
let toolbar = null;
let pace = null; // pace.js: how fast runs train (slow motion)
const ui = { busy: false }; // a request the buttons wait for is on its way
let flow = null; // session.js: the requests of saving, sharing, forking and uploading
let check = null; // speccheck.js: validating the spec as it is edited, and the data preview
let lessons = null; // lessonflow.js: the open lesson's runs and the check of its claim
let runViews = null; // runviews.js: which views show the current run, and what they say of it

// -- runs ----------------------------------------------------------------------------------------
const current = () => state.runs[state.runs.length - 1] || null;
const editToken = () => (state.session ? state.session.token : null);

const links = createRunLinks({ // runlinks.js: each run's stream, and the controls sent to it
  editToken,
  on: {
    open: (run) => { // the server replays the whole run on every connect
      resetHistory(run);
      resetSpeed(run);
    },
    message: onMessage,
    giveUp(run) {
      if (!isActive(run)) return;
      setStatus(run, run.status, "connection lost");
      refreshRuns();
    },
    refused: (text) => notify(text, "bad"),
  },
});

function onMessage(run, msg) {
  applyMessage(run, msg);
  const isCurrent = run === current();
  switch (msg.type) {
    case MSG.STATUS:
      refreshRuns();
      break;
    case MSG.METRICS:
      noteEpochs(run);
      if (isCurrent) showEpoch();
      if (isCurrent) runViews.markChance();
      views.charts.update();
      break;
    case MSG.DIAGNOSIS:
      if (isCurrent) views.diagnosis.show(msg, { enabled: !state.readOnly });
      break;
    case MSG.SNAPSHOT:
      if (isCurrent) runViews.showSnapshot(run, msg);
      break;
    case MSG.ERROR:
      if (!state.readOnly) notify(msg.message, "bad"); // a share link watches; its controls are off
      break;
    case MSG.END:
      links.close(run);
      if (isCurrent) {
        views.diagnosis.showEnd(msg);
        runViews.checkWeights(run); // before anyone opens the Export menu
      } else {
        run.hasWeights = undefined; // asked when the Export menu opens on it
      }
      refreshRuns();
      lessons.runEnded(run);
      break;
    default:
      break;
  }
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
  const number = state.runNumber + 1;
  const name = runName(number, label);
  setBusy(true);
  const res = await api.createRun(spec, { label, name, number, pace: pace.value(), parent: parent ? parent.id : null,
                                          session: state.session });
  setBusy(false);
  if (!res.ok) {
    if (res.status === 422 && sameSpec(spec, state.spec)) check.showErrors(res.errors);
    views.diagnosis.showProblem("Cannot train yet", errorText(res));
    chartRuns();
    updateControls();
    return null;
  }
  state.runNumber = number;
  if (upload) state.usedUploads.add(upload);
  const run = makeRun(res.data, spec, {
    label: name,
    number,
    parentLabel: parent ? parent.label : null,
    parentId: parent ? parent.id : null,
    color: colorOf(number, RUN_COLORS),
    monitor: monitorOf(state.catalog, res.data.summary ? res.data.summary.task : spec.task),
  });
  run.inSession = Boolean(state.session);
  run.device = res.data.device || null;
  // Runs on other data, or with other metric columns, leave the charts (Compare overlays them).
  for (const r of state.runs.filter((x) => !overlayable(x, run))) retire(r);
  state.runs = state.runs.filter((x) => overlayable(x, run));
  state.runs.push(run);
  while (state.runs.length > (lessons.lesson ? MAX_LESSON_RUNS : MAX_RUNS)) retire(state.runs.shift());
  links.connect(run);
  showNoResults(run.summary || state.summary, "Training… the diagnosis appears after a few epochs.");
  return run;
}

/** Stop a run if it is still going (unless only watching) and stop listening to it. */
function retire(run, { stop = true } = {}) {
  if (stop && isActive(run) && !state.readOnly) links.control(run, ACTION.STOP);
  links.close(run);
}

/** Put a session's saved runs (oldest first) on the charts: its latest run and the remedy runs
 * around it, on one dataset (Compare reaches the rest); live ones are followed. */
function showSavedRuns(saved) {
  for (const r of state.runs) retire(r);
  const all = savedRuns(saved, { normalizeSpec: (s) => normalize(state.catalog, s), colors: RUN_COLORS,
                                 monitorOf: (task) => monitorOf(state.catalog, task) });
  state.runs = shownOnOpen(all, MAX_RUNS);
  state.runNumber = nextNumber(all) - 1;
  for (const out of saved) if (out.spec.data && out.spec.data.upload) state.usedUploads.add(out.spec.data.upload);
  const run = current();
  if (run) {
    if (run.diagnosis) views.diagnosis.show(run.diagnosis, { enabled: !state.readOnly });
    if (run.end) views.diagnosis.showEnd(run.end);
    views.network.setSummary(run.summary);
    // Every view's last snapshot: the feature maps' thumbnails too, so a digit can be picked after a reload.
    for (const snap of Object.values(run.snapshots)) runViews.showSnapshot(run, snap);
  }
  for (const r of state.runs) if (isActive(r)) links.connect(r);
  chartRuns();
  updateControls();
}

// -- toolbar actions ----------------------------------------------------------------------------------
async function train() {
  if (state.readOnly) return;
  const run = current();
  if (isActive(run) && sameSpec(run.spec, state.spec)) {
    if (run.status === STATUS.PAUSED) links.control(run, ACTION.RESUME);
    return;
  }
  for (const r of state.runs) retire(r);
  state.runs = [];
  await startRun(clone(state.spec));
}

/** Send the current run `action` (or action(run)) when this page may steer it and `can(run)` holds. */
function steer(action, can = isActive) {
  const run = current();
  if (run && can(run) && !state.readOnly) links.control(run, typeof action === "function" ? action(run) : action);
}
const togglePause = () => steer((run) => (run.status === STATUS.PAUSED ? ACTION.RESUME : ACTION.PAUSE));
const step = () => steer(ACTION.STEP, (run) => run.status === STATUS.RUNNING || run.status === STATUS.PAUSED);
const stop = () => steer(ACTION.STOP);
/** A new pace (epochs a second, null: full speed) for every run this page steers that is still going. */
const setPace = (epochsPerS) => {
  if (!state.readOnly) for (const r of state.runs.filter(isActive)) links.control(r, ACTION.PACE, { epochs_per_s: epochsPerS });
};

/** Space pauses or resumes a run that is going, or trains when Train could be pressed. */
function onSpace() {
  if (isActive(current())) togglePause();
  else if (toolbar.canTrain()) train();
}

/** Clear the runs and charts; `stop` stops the runs still going (Reset does; a deleted session's are gone). */
function clearRuns({ stop = true } = {}) {
  for (const r of state.runs) retire(r, { stop });
  state.runs = [];
  if (!state.session) state.runNumber = 0; // a session's runs keep their names: numbers go on
  showNoResults(state.summary);
}

/** The charts follow the runs; the rest shows no results yet: the network of `summary`, no weights. */
function showNoResults(summary, diagnosisText) {
  chartRuns();
  views.outputs.clear();
  views.network.setSummary(summary);
  views.network.setWeights(null);
  views.insides.set(null);
  views.diagnosis.idle(diagnosisText);
  updateControls();
}

/** A remedy forks the current run: its spec with the remedy's merge patch, overlaid on the charts. */
async function fork(remedy) {
  const parent = current();
  if (!parent || state.readOnly) return;
  const spec = normalize(state.catalog, mergePatch(parent.spec, remedy.patch));
  editSpec(spec, { structural: true, live: false });
  await startRun(clone(spec), { label: remedy.label, parent });
}

/** The user renamed a run in the legend: kept with the run, and its remedy runs say where they came from. */
async function renameRun(run, name) {
  if (state.readOnly) return;
  const res = await api.renameRun(run.id, name, run.inSession ? editToken() : null);
  if (!res.ok) {
    notify(`Could not rename ${run.label}: ${errorText(res)}`, "bad");
    return;
  }
  for (const r of state.runs) if (r.parentId === run.id) r.parentLabel = name;
  run.label = name;
  refreshRuns();
}

// -- editing the spec -------------------------------------------------------------------------------------
/** The layers of the stack the builder edits: the family's first (model.layers for supervised). */
const stackLayers = (spec) => getIn(spec.model, stacksOf(state.catalog, spec)[0].path) || [];

/** Replace the spec; `structural` redraws the stack (the builder's own inputs stay otherwise). */
function editSpec(next, { structural = false, live = true } = {}) {
  const prev = state.spec;
  state.spec = next;
  writeSpec(next);
  if (structural) views.builder.render(next);
  renderData();
  views.trainPanel.render(next, dropoutRate(stackLayers(next)));
  check.edited(prev, next);
  if (live) setLive(prev, next);
  updateControls();
}

function editPaths(edits) {
  editSpec(edits.reduce((spec, [path, value]) => setIn(spec, path, value), state.spec));
}

/** Replace one stack's layers (the family's first unless `path` names another, e.g. discriminator.layers). */
function editLayers(layers, opts = { structural: true }, path = stacksOf(state.catalog, state.spec)[0].path) {
  editSpec(setIn(state.spec, `model.${path}`, layers), opts);
}

/** Train the same data for another family (spec.js: switchedTask). */
function switchTask(name) {
  const spec = switchedTask(state.catalog, state.spec, name);
  if (spec) editSpec(spec, { structural: true });
}

function renderData() {
  views.dataPanel.render(state.spec);
  const d = state.spec.data;
  const dataset = state.catalog.datasets.find((x) => x.name === d.dataset);
  views.builder.setDataKind(dataset ? dataset.kind : null);
  const upload = d.dataset === CSV_DATASET ? state.uploads.find((u) => u.id === d.upload) || null : null;
  views.csv.render(upload, {
    canChoose: Boolean(upload && state.csvFile && state.csvFile.uploads.has(upload.id)), readOnly: state.readOnly,
  });
}

/** Learning rate and L2 change live in a running run when nothing else differs from its spec; the
 * other training fields apply to the next run, and the toast says so (they were silently ignored). */
function setLive(prev, next) {
  const run = current();
  if (!isActive(run) || state.readOnly) return;
  const edit = liveEdit(run.spec, prev, next);
  if (edit) {
    links.control(run, ACTION.SET, edit.changed);
    run.spec = edit.spec;
    notify(Object.entries(edit.changed).map(([k, v]) => `${k === "lr" ? "Learning rate" : "L2"} → ${v}`).join(", ")
      + " from the next epoch.");
    return;
  }
  const later = nextRunFields(prev.training, next.training);
  if (later.length) notify(`${later.join(", ")}: ${later.length > 1 ? "apply" : "applies"} to the next run. Press Train to start it.`);
}

/** /api/validate answered for `spec`: the buttons and the autosave follow. */
function onChecked(spec, summary, errors) {
  state.summary = summary;
  state.errors = errors;
  updateControls();
  flow.specChecked(spec, !errors.length);
}

function loadExample(name) {
  editSpec(presetSpec(state.catalog, name), { structural: true, live: false });
}

// -- drawing the toolbar ------------------------------------------------------------------------------------
function chartRuns() {
  const run = current();
  const task = run && run.summary ? run.summary.task : taskOf(state.catalog, state.spec);
  views.charts.setRuns(state.runs, { charts: chartsOf(state.catalog, task, run ? run.history : null) });
  views.outputs.setEnsemble(run);
}

function showEpoch() {
  toolbar.showEpoch(current(), state.spec.training.epochs);
}

function updateControls() {
  runViews.markSources();
  const run = current();
  views.trainPanel.setRunning(isActive(run) && !state.readOnly);
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
      if (isActive(r)) links.connect(r); // again, with the token that now steers it
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
    editSpec(normalize(state.catalog, withUpload(state.spec, upload)), { live: false });
  },
  /** A whole spec from elsewhere (a session, an imported file), checked like any other. */
  loadSpec(spec) {
    editSpec(normalize(state.catalog, spec), { structural: true, live: false });
  },
  showSavedRuns,
  clearRuns,
  startRun,
  normalize: (spec) => normalize(state.catalog, spec),
};

// -- start-up -----------------------------------------------------------------------------------------------------
function bindToolbar() {
  toolbar = createToolbar({ on: { train, pause: togglePause, step, stop, reset: () => clearRuns(), space: onSpace } });
  pace = createPace({ onChange: setPace });
  window.addEventListener("pagehide", () => {
    if (flow) flow.leaving();
    state.runs.forEach((r) => links.close(r));
  });
}

function buildViews(catalog) {
  views = createViews(catalog, {
    builder: {
      stack: (path) => {
        const at = () => getIn(state.spec.model, path()) || [];
        const edit = (layers, opts) => editLayers(layers, opts, path());
        return {
          add: (type, index) => edit(insertLayer(catalog, at(), type, index)),
          move: (from, to) => edit(moveItem(at(), from, to)),
          remove: (index) => edit(at().filter((_, i) => i !== index)),
          param: (index, name, value) => edit(setParam(at(), index, name, value), { structural: false }),
          fix: (fix) => edit(applyFix(catalog, at(), fix)),
        };
      },
      paths: (edits) => editPaths(edits),
    },
    data: editPaths,
    task: switchTask,
    example: loadExample,
    useUpload: (id) => flow.useUpload(id),
    csvFile: (file) => flow.uploadCsv(file),
    csvColumns: (choice) => flow.chooseColumns(choice),
    training: editPaths,
    dropout: (p) => editLayers(withDropout(catalog, stackLayers(state.spec), p)),
    remedy: fork,
    rename: renameRun,
    exportOpen: () => runViews.exportOpen(),
    pick: (index) => runViews.pickExample(index),
  });
}

/** A share link is read-only until it is forked: builder, forms and training are off. */
function setReadOnly(readOnly) {
  state.readOnly = readOnly;
  views.builder.setReadOnly(readOnly);
  $("#train-panel").disabled = readOnly;
  views.dataPanel.setReadOnly(readOnly);
  views.charts.setEditable(!readOnly);
  pace.setReadOnly(readOnly);
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
  views.builder.render(state.spec);
  renderData();
  views.trainPanel.render(state.spec, dropoutRate(stackLayers(state.spec)));
  runViews = createRunViews({ state, views, current, links, notify });
  check = createSpecCheck({ state, views, current, onChecked, onPreview: (p) => {
    state.majority = majorityShare(p);
    runViews.markChance();
  } }, { problems: $("#stack-problems") });
  flow = createSessionFlow(page);
  lessons = createLessonFlow(page, createLessonPanel($("#lesson"), $("#lesson-select"), {
    lessons: state.catalog.lessons || [],
    on: { run: (l) => lessons.run(l), next: (l) => lessons.next(l), close: () => lessons.close() },
  }));
  setReadOnly(state.readOnly);
  writeSpec(state.spec);
  chartRuns();
  updateControls();
  const lessonId = document.body.dataset.lesson;
  await flow.start({ specInUrl: Boolean(fromUrl) || Boolean(lessonId) });
  if (lessonId && !lessons.open(lessonId)) notify(`There is no lesson “${lessonId}”.`, "bad");
  document.body.dataset.ready = "true";
  await check.validate();
}

main();
