// The toolbar's run controls, epoch counter and status, and the toast: drawn from what main.js
// tells them. It reports clicks; main.js decides what they do.

import { $, setText } from "./dom.js";
import { STATUS } from "./protocol.js";
import { isActive, lastEpoch } from "./runs.js";
import { speedText } from "./speed.js";

const TOAST_MS = 4000;
const SPEED_TITLE = "The device the run trains on (×K: an ensemble of K seeds, trained together), the time of one optimisation step, and epochs per second.";

/** Seconds as µs or ms, three significant figures. */

/** Space plays and pauses (`action`), except while typing in a field, in a menu or in a dialog. */
function spaceKey(action) {
  return (e) => {
    if (e.code !== "Space" || e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.closest && t.closest("input, select, textarea, [contenteditable], .palette-item, [role=menu], dialog")) return;
    e.preventDefault(); // a focused button would otherwise be pressed as well
    action();
  };
}

/** on: {train, pause, step, stop, reset}: what each button asks for; on.space(): what Space asks for. */
export function createToolbar({ on }) {
  const ui = {
    train: $("#btn-train"), pause: $("#btn-pause"), step: $("#btn-step"), stop: $("#btn-stop"), reset: $("#btn-reset"),
    epoch: $("#epoch"), epochTotal: $("#epoch-total"), speed: $("#run-speed"), status: $("#run-status"), toast: $("#toast"),
    engine: $("#run-engine"),
  };
  for (const name of ["train", "pause", "step", "stop", "reset"]) ui[name].addEventListener("click", on[name]);
  ui.pauseIcon = ui.pause.querySelector(".icon");
  ui.pauseLabel = ui.pause.querySelector(".btn-text");
  let toastTimer = null;
  document.addEventListener("keydown", spaceKey(on.space));

  /** The epoch of `run` (or 0) out of its epochs (or the spec's, with no run), and which compute
   * path trains it beside its last step time (the summary's engine: fused-dense or autograd). */
  function showEpoch(run, specEpochs) {
    setText(ui.epoch, String(lastEpoch(run)));
    setText(ui.epochTotal, `/ ${run ? run.spec.training.epochs : specEpochs}`);
    setText(ui.speed, speedText(run)); // device, step time and epochs/s
    // The compute path (issue 16), with the reason it was chosen as its title; where the engine badge
    // is hidden for room (narrow windows), the speed line's title names it.
    const summary = run && run.summary;
    const engine = (summary && summary.engine) || "";
    const why = (summary && summary.engine_why) || "";
    setText(ui.engine, engine);
    ui.engine.dataset.engine = engine;
    ui.engine.title = why;
    ui.speed.title = engine ? `${SPEED_TITLE} Compute path: ${engine} (${why}).` : SPEED_TITLE;
  }

  /**
   * The buttons for the current run. page: {run, runs, specEpochs, sameAsRun, invalid, busy, readOnly}.
   */
  function draw({ run, runs, specEpochs, sameAsRun, invalid, busy, readOnly }) {
    const active = isActive(run);
    const steer = active && !readOnly;
    const paused = Boolean(run) && run.status === STATUS.PAUSED;
    ui.train.disabled = readOnly || busy || invalid || (active && sameAsRun && !paused);
    ui.train.title = readOnly ? "Fork this experiment to train it"
      : invalid ? "Fix the problems shown in red first"
        : active && sameAsRun ? (paused ? "Resume training (space)" : "Training…")
          : active ? "Start again with the changed settings" : "Train the network (space)";
    ui.pause.disabled = !steer;
    ui.pause.title = paused ? "Resume (space)" : "Pause (space)";
    // The label says the state (issue 13): aria-pressed alone changed nothing on screen.
    setText(ui.pauseLabel, paused ? "Resume" : "Pause");
    setText(ui.pauseIcon, paused ? "▶" : "❚❚");
    ui.pause.classList.toggle("btn-paused", paused);
    ui.step.disabled = !steer;
    ui.stop.disabled = !steer;
    ui.reset.disabled = !runs.length || readOnly;
    ui.status.dataset.status = run ? run.status : "idle";
    ui.status.dataset.run = run ? run.id : ""; // which run the pill speaks for: "Finished" alone can be the last one's
    setText(ui.status, run ? run.statusText : invalid ? "Needs a fix" : "Ready");
    showEpoch(run, specEpochs);
  }

  function notify(text, tone = "info") {
    ui.toast.dataset.tone = tone;
    ui.toast.textContent = text;
    ui.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { ui.toast.hidden = true; }, TOAST_MS);
  }

  return {
    draw,
    showEpoch,
    notify,
    canTrain: () => !ui.train.disabled,
    setStatusText: (text) => setText(ui.status, text),
  };
}
