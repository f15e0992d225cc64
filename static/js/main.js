// The page: main.js alone owns its state (the spec being edited, the runs on the charts) and
// wires the views to it. Views draw what they are given and report what the user asked for.

import { api } from "./api.js";
import { createBuilder } from "./builder.js";
import { createCharts, RUN_COLORS } from "./charts.js";
import { createDataPanel } from "./datapanel.js";
import { createDiagnosisCard } from "./diagnosis.js";
import { $, el, setText } from "./dom.js";
import { createNetworkView } from "./network.js";
import { createOutputView } from "./boundary.js";
import { ACTION, API, MSG, SNAP, STATUS, TASK } from "./protocol.js";
import { applyMessage, isActive, lastEpoch, makeRun, resetHistory, setStatus } from "./runs.js";
import { openStream } from "./socket.js";
import { applyFix, clone, defaultLayer, dropoutRate, mergePatch, moveItem, normalize, presetSpec, sameSpec,
         setIn, withDropout } from "./spec.js";
import { createTrainPanel } from "./trainpanel.js";
import { readSpec, writeSpec } from "./urlstate.js";

const MAX_RUNS = 4; // runs overlaid on the charts; the oldest goes first
const VALIDATE_DELAY_MS = 180;
// Errors under these paths mean the data cannot be previewed (so no request that would 422).
const DATA_PATH = /^(data|task)\b/;
const state = {
  readOnly: document.body.dataset.readOnly === "true",
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
};
const views = {};
const ui = {};

// -- runs ----------------------------------------------------------------------------------------
const current = () => state.runs[state.runs.length - 1] || null;

function connect(run) {
  run.stream = openStream(API.stream(run.id), {
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
      notify(msg.message, "bad");
      break;
    case MSG.END:
      run.stream.close();
      if (isCurrent) views.diagnosis.showEnd(msg);
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

/** Start a run of `spec`; `parent` and `label` name a fork. Returns the run or null. */
async function startRun(spec, { label = null, parent = null } = {}) {
  setBusy(true);
  const res = await api.createRun(spec, { label, parent: parent ? parent.id : null });
  setBusy(false);
  if (!res.ok) {
    if (res.status === 422 && sameSpec(spec, state.spec)) showErrors(res.errors);
    views.diagnosis.showProblem("Cannot train yet", res.errors.map((e) => e.message).join(" "));
    chartRuns();
    updateControls();
    return null;
  }
  state.runNumber += 1;
  const run = makeRun(res.data, spec, {
    label: label || `Run ${state.runNumber}`,
    parentLabel: parent ? parent.label : null,
    color: RUN_COLORS[state.colorIndex++ % RUN_COLORS.length],
  });
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

/** Stop a run if it is still going and stop listening to it. */
function retire(run) {
  if (isActive(run)) control(run, ACTION.STOP);
  if (run.stream) run.stream.close();
}

function control(run, action, extra = {}) {
  const frame = { action, ...extra };
  if (run.stream && run.stream.send(frame)) return;
  api.control(run.id, frame).then((res) => {
    if (!res.ok && res.status !== 409) notify(res.errors.map((e) => e.message).join(" "), "bad");
  });
}

// -- toolbar actions ----------------------------------------------------------------------------------
async function train() {
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
  if (!isActive(run)) return;
  control(run, run.status === STATUS.PAUSED ? ACTION.RESUME : ACTION.PAUSE);
}

function step() {
  const run = current();
  if (run && (run.status === STATUS.RUNNING || run.status === STATUS.PAUSED)) control(run, ACTION.STEP);
}

/** Download the current run as a standalone PyTorch script. */
function exportRun() {
  const run = current();
  if (!run) return;
  const link = el("a", { attrs: { href: API.exportScript(run.id), download: "" } });
  document.body.append(link);
  link.click();
  link.remove();
}

function stop() {
  const run = current();
  if (isActive(run)) control(run, ACTION.STOP);
}

function reset() {
  for (const r of state.runs) retire(r);
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

/** Space plays and pauses, except while typing in a field. */
function onKey(e) {
  if (e.code !== "Space" || e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t.closest && t.closest("input, select, textarea, [contenteditable], .palette-item")) return;
  e.preventDefault(); // a focused button would otherwise be pressed as well
  if (isActive(current())) togglePause();
  else if (!ui.train.disabled) train();
}

/** A remedy forks the current run: its spec with the remedy's merge patch, overlaid on the charts. */
async function fork(remedy) {
  const parent = current();
  if (!parent) return;
  const spec = normalize(state.catalog, mergePatch(parent.spec, remedy.patch));
  editSpec(spec, { structural: true, live: false });
  await startRun(clone(spec), { label: remedy.label, parent });
}

// -- editing the spec -------------------------------------------------------------------------------------
/** Replace the spec; `structural` redraws the stack (the builder's own inputs stay otherwise). */
function editSpec(next, { structural = false, live = true } = {}) {
  const prev = state.spec;
  state.spec = next;
  writeSpec(next);
  if (structural) views.builder.render(next.model.layers);
  views.dataPanel.render(next);
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

/** Learning rate and L2 change live in a running run when nothing else differs from its spec. */
function setLive(prev, next) {
  const run = current();
  if (!isActive(run)) return;
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
  const res = await api.preview(state.spec.data, state.spec.task);
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
  const run = current();
  setText(ui.epoch, String(lastEpoch(run)));
  const total = run ? run.spec.training.epochs : state.spec.training.epochs;
  setText(ui.epochTotal, `/ ${total}`);
}

function updateControls() {
  const run = current();
  const active = isActive(run);
  const sameAsRun = run && sameSpec(run.spec, state.spec);
  const invalid = state.errors.length > 0;
  ui.train.disabled = ui.busy || invalid || (active && sameAsRun && run.status !== STATUS.PAUSED);
  ui.train.title = invalid ? "Fix the problems shown in red first"
    : active && sameAsRun ? (run.status === STATUS.PAUSED ? "Resume training (space)" : "Training…")
      : active ? "Start again with the changed settings" : "Train the network (space)";
  ui.pause.disabled = !active;
  ui.pause.setAttribute("aria-pressed", String(Boolean(run) && run.status === STATUS.PAUSED));
  ui.pause.title = run && run.status === STATUS.PAUSED ? "Resume (space)" : "Pause (space)";
  ui.step.disabled = !(run && (run.status === STATUS.RUNNING || run.status === STATUS.PAUSED));
  ui.stop.disabled = !active;
  ui.reset.disabled = !state.runs.length;
  ui.export.disabled = !run;
  ui.export.title = run ? `Download ${run.label} as a standalone PyTorch script`
    : "Train first: Export downloads a run as a PyTorch script";
  const status = run ? run.status : "idle";
  ui.status.dataset.status = status;
  setText(ui.status, run ? run.statusText : invalid ? "Needs a fix" : "Ready");
  showEpoch();
}

function setBusy(busy) {
  ui.busy = busy;
  updateControls();
}

let toastTimer = null;
function notify(text, tone = "info") {
  ui.toast.dataset.tone = tone;
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 4000);
}

// -- start-up -----------------------------------------------------------------------------------------------------
function bindToolbar() {
  Object.assign(ui, {
    train: $("#btn-train"), pause: $("#btn-pause"), step: $("#btn-step"), stop: $("#btn-stop"), reset: $("#btn-reset"),
    epoch: $("#epoch"), epochTotal: $("#epoch-total"), status: $("#run-status"), toast: $("#toast"),
    export: $("#btn-export"), problems: $("#stack-problems"), examples: $("#example-select"), busy: false,
  });
  ui.train.addEventListener("click", train);
  ui.pause.addEventListener("click", togglePause);
  ui.step.addEventListener("click", step);
  ui.stop.addEventListener("click", stop);
  ui.reset.addEventListener("click", reset);
  ui.export.addEventListener("click", exportRun);
  document.addEventListener("keydown", onKey);
  window.addEventListener("pagehide", () => state.runs.forEach((r) => r.stream && r.stream.close()));
}

function bindExamples() {
  ui.examples.append(el("option", { text: "Load an example…", props: { value: "" } }),
    ...state.catalog.presets.map((p) => el("option", { text: p.label, title: p.description, props: { value: p.name } })));
  ui.examples.addEventListener("change", () => {
    if (ui.examples.value) loadExample(ui.examples.value);
    ui.examples.value = "";
  });
}

function createViews(catalog) {
  views.builder = createBuilder({
    palette: $("#palette"), stack: $("#stack"), input: $("#stack-input"), head: $("#stack-head"), total: $("#param-total"),
  }, {
    catalog,
    on: {
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
  });
  views.dataPanel = createDataPanel($("#data-panel"), { catalog, onChange: editPaths });
  views.trainPanel = createTrainPanel($("#train-panel"), {
    catalog,
    onChange: editPaths,
    onDropout: (p) => editLayers(withDropout(catalog, state.spec.model.layers, p)),
  });
  views.charts = createCharts({
    loss: $("#loss-chart"), acc: $("#acc-chart"), lr: $("#lr-chart"), accPanel: $("#acc-panel"),
    legend: $("#run-legend"), readout: $("#readout"), logToggle: $("#log-scale"),
  });
  views.output = createOutputView($("#output-canvas"), {
    showValInput: $("#show-val"), caption: $("#output-caption"), pointKey: $("#point-key"),
  });
  const labels = Object.fromEntries(catalog.layers.map((l) => [l.type, l.label]));
  views.network = createNetworkView($("#network-canvas"), { caption: $("#network-caption"), labels });
  views.diagnosis = createDiagnosisCard($("#diagnosis"), { onRemedy: fork });
}

function applyReadOnly() {
  if (!state.readOnly) return;
  views.builder.setReadOnly(true);
  for (const id of ["#data-panel", "#train-panel"]) $(id).disabled = true;
  ui.examples.disabled = true;
  $("#read-only-note").hidden = false;
}

async function main() {
  bindToolbar();
  const [cat, health] = await Promise.all([api.catalog(), api.health()]);
  if (!cat.ok) {
    setText(ui.status, "Server unreachable");
    notify("Could not load the layer catalog from the server. Reload the page once it is running.", "bad");
    return;
  }
  state.catalog = cat.data;
  state.health = health.ok ? health.data : null;
  const fromUrl = readSpec();
  state.spec = fromUrl ? normalize(state.catalog, fromUrl) : presetSpec(state.catalog, state.catalog.presets[0].name);
  createViews(state.catalog);
  views.trainPanel.setHealth(state.health);
  bindExamples();
  views.builder.render(state.spec.model.layers);
  views.dataPanel.render(state.spec);
  views.trainPanel.render(state.spec, dropoutRate(state.spec.model.layers));
  applyReadOnly();
  writeSpec(state.spec);
  chartRuns();
  updateControls();
  document.body.dataset.ready = "true";
  await validate();
}

main();
