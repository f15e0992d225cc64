// The diagnosis card: the verdict in words, why (with the numbers), and the remedies as buttons.
// A diverged or failed run says so plainly and says what to try.

import { clear, el } from "./dom.js";
import { STATUS, VERDICT } from "./protocol.js";

const VERDICTS = {
  [VERDICT.UNDERFITTING]: { title: "Underfitting", tone: "warn",
    lead: "The model has not captured the pattern yet." },
  [VERDICT.OVERFITTING]: { title: "Overfitting", tone: "warn",
    lead: "The model is memorising the training points instead of the pattern." },
  [VERDICT.GOOD_FIT]: { title: "Good fit", tone: "good",
    lead: "Training and validation loss are both low and close together." },
  [VERDICT.DIVERGED]: { title: "Diverged", tone: "bad",
    lead: "Training blew up: the loss became too large to be a number." },
  [VERDICT.UNSTABLE]: { title: "Unstable", tone: "bad",
    lead: "The loss is far above a constant guess and not coming down: training makes no progress." },
  [VERDICT.TOO_EARLY]: { title: "Too early to tell", tone: "neutral",
    lead: "A verdict needs at least 10 epochs.", quiet: true },
  [VERDICT.D_OVERPOWERING]: { title: "D overpowering G", tone: "warn",
    lead: "The discriminator rejects everything the generator makes, so G gets little to learn from." },
  [VERDICT.MODE_COLLAPSE]: { title: "Mode collapse", tone: "warn",
    lead: "The generator draws only a few of the data's modes." },
  [VERDICT.OSCILLATION]: { title: "Oscillation", tone: "warn",
    lead: "The two networks chase each other instead of settling." },
  [VERDICT.CONVERGING]: { title: "Converging", tone: "good",
    lead: "The generated points are moving onto the data." },
};

// engine/causes.py's cause ids, in the card's words.
const CAUSE_TITLES = {
  lr_too_high: "learning rate too high", lr_too_low: "learning rate too low",
  vanishing_gradients: "vanishing gradients", exploding_gradients: "exploding gradients",
  dead_units: "dead ReLU units", saturation: "saturated units", over_regularized: "too much regularization",
  too_small: "model too small", too_short: "not trained long enough", memorising: "memorising the training set",
  handled: "handled by early stopping",
};

const FAILED_HINT = "Try a smaller model or batch size, check the data settings, and press Train again.";
const INTERRUPTED_HINT = "The server stopped while this run was training. Press Train to run it again.";

/** root: the card element; onRemedy(remedy) forks the run with the remedy's patch. */
export function createDiagnosisCard(root, { onRemedy }) {
  const verdictEl = root.querySelector(".verdict");
  const leadEl = root.querySelector(".verdict-lead");
  const reasonEl = root.querySelector(".verdict-reason");
  const causeEl = root.querySelector(".verdict-cause");
  const remediesEl = root.querySelector(".remedies");
  const alertEl = root.querySelector(".run-alert");
  // The epoch the verdict was reached at: the card is diagnosed every so often, behind the counter
  // at full speed, and says so rather than look current (issue 13); the end brings it up to date.
  const epochEl = root.querySelector(".diagnosis-epoch");
  const setEpoch = (epoch) => {
    if (epochEl) epochEl.textContent = epoch ? `at epoch ${epoch}` : "";
  };

  function setTone(tone) {
    root.dataset.tone = tone;
  }

  function idle(text = "Press Train (or the space bar) and the diagnosis appears here as the network learns.") {
    setTone("neutral");
    setEpoch(0);
    verdictEl.textContent = "Not trained yet";
    leadEl.textContent = text;
    reasonEl.textContent = "";
    causeEl.textContent = "";
    delete root.dataset.cause;
    clear(remediesEl);
    alertEl.hidden = true;
  }

  /** A `diagnosis` message; `enabled` is false where forking is not possible (read-only page). */
  function show(d, { enabled = true } = {}) {
    const v = VERDICTS[d.verdict] || { title: d.verdict, tone: "neutral", lead: "" };
    setTone(v.tone);
    setEpoch(d.epoch);
    verdictEl.textContent = v.title;
    leadEl.textContent = v.lead;
    // A too-early verdict's numbers are stale by the time it is read: the lead says it all.
    reasonEl.textContent = v.quiet ? "" : d.reason;
    // The cause in words; the reason that follows quotes its evidence and lists the others.
    causeEl.textContent = d.cause ? `Cause: ${CAUSE_TITLES[d.cause] || d.cause}`
      + (d.also && d.also.length ? ` (also: ${d.also.map((c) => CAUSE_TITLES[c] || c).join(", ")})` : "") : "";
    if (d.cause) root.dataset.cause = d.cause; else delete root.dataset.cause;
    clear(remediesEl);
    if (d.remedies && d.remedies.length) {
      const why = el("p", { class: "remedy-why", text: d.remedies[0].why });
      const explain = (remedy) => () => { why.textContent = remedy.why; };
      remediesEl.append(
        el("p", { class: "remedies-title", text: enabled ? "Try a remedy: it trains a new run, overlaid on this one."
          : "Remedies: fork this experiment to try them." }),
        el("div", { class: "remedy-list" }, d.remedies.map((remedy) => el("button", {
          class: "btn btn-remedy",
          text: remedy.label,
          title: remedy.why,
          attrs: { type: "button", disabled: !enabled },
          on: { click: () => onRemedy(remedy), mouseenter: explain(remedy), focus: explain(remedy) },
        }))),
        why);
    }
  }

  /** The run ended: a diverged, failed or interrupted run says so in plain words. */
  function showEnd(end) {
    let text = null;
    if (end.status === STATUS.DIVERGED) text = end.advice || "The loss exploded. Lower the learning rate and train again.";
    else if (end.status === STATUS.FAILED) text = `Training failed: ${end.error || "the server gave no reason"}. ${FAILED_HINT}`;
    else if (end.status === STATUS.INTERRUPTED) text = INTERRUPTED_HINT;
    alertEl.hidden = !text;
    alertEl.textContent = text || "";
    if (text) {
      setTone("bad");
      if (end.status !== STATUS.DIVERGED) {
        verdictEl.textContent = end.status === STATUS.FAILED ? "Training failed" : "Interrupted";
        leadEl.textContent = "";
        reasonEl.textContent = "";
        causeEl.textContent = "";
      }
    }
  }

  /** A problem before any epoch (e.g. the server refused the run). */
  function showProblem(title, text) {
    setTone("bad");
    setEpoch(0);
    verdictEl.textContent = title;
    leadEl.textContent = "";
    reasonEl.textContent = "";
    causeEl.textContent = "";
    clear(remediesEl);
    alertEl.hidden = false;
    alertEl.textContent = text;
  }

  idle();
  return { idle, show, showEnd, showProblem };
}
