// The training panel: optimizer, learning rate, batch size, epochs, L1/L2, dropout through the
// stack, early stopping, the learning-rate schedule, the seed and the device.

import { el, setText } from "./dom.js";
import { checkbox, field, fieldErrors, numberInput, rangeInput, readControl, selectInput, writeControl } from "./forms.js";
import { taskOf } from "./spec.js";

const T = "training";
const P = {
  optimizer: `${T}.optimizer`,
  lr: `${T}.lr`,
  batch: `${T}.batch_size`,
  epochs: `${T}.epochs`,
  l1: `${T}.l1`,
  l2: `${T}.l2`,
  es: `${T}.early_stopping`,
  patience: `${T}.early_stopping.patience`,
  schedule: `${T}.lr_schedule`,
  scheduleType: `${T}.lr_schedule.type`,
  seed: `${T}.seed`,
  seeds: `${T}.seeds`,
  device: `${T}.device`,
};
const SCHEDULE_LABELS = { none: "Constant", step: "Step decay", exponential: "Exponential decay", cosine: "Cosine decay" };
const SCHEDULE_PARAMS = {
  step_size: { label: "Every (epochs)", min: 1, step: 1 },
  gamma: { label: "Multiply by", min: 0.01, max: 1, step: 0.01 },
  min_lr: { label: "Down to", min: 0, step: "any" },
};
const ES_DEFAULT = { patience: 20, min_delta: 0.0, restore_best: true };

/**
 * root: the panel's body. onChange([[path, value], ...]) edits the spec; onDropout(p) sets the
 * dropout rate through the whole stack.
 */
export function createTrainPanel(root, { catalog, onChange, onDropout }) {
  const schedules = new Map(catalog.lr_schedules.map((s) => [s.type, s]));
  const optimizer = selectInput(P.optimizer, catalog.optimizers.map((o) => ({ value: o.name, label: o.label })));
  const lr = numberInput(P.lr, { min: 0, step: "any", title: "Changes to the learning rate apply live while training" });
  const batch = numberInput(P.batch, { min: 1, step: 1 });
  const epochs = numberInput(P.epochs, { min: 1, max: catalog.limits.max_epochs, step: 10 });
  const l1 = numberInput(P.l1, { min: 0, step: "any" });
  const l2 = numberInput(P.l2, { min: 0, step: "any", title: "Changes to L2 apply live while training" });
  const dropout = rangeInput("", { min: 0, max: 0.5, step: 0.05 });
  dropout.removeAttribute("data-path");
  const dropoutOut = el("output", { class: "value" });
  const es = checkbox(P.es);
  const patience = numberInput(P.patience, { min: 1, step: 1 });
  const scheduleType = selectInput(P.scheduleType, catalog.lr_schedules.map((s) => ({ value: s.type, label: SCHEDULE_LABELS[s.type] || s.type })));
  const scheduleParams = el("div", { class: "field-pair schedule-params" });
  const seed = numberInput(P.seed, { min: 0, step: 1 });
  const seeds = numberInput(P.seeds, { min: 1, max: 16, step: 1 });
  // A family that trains no ensembles (catalog tasks[i].ensemble) says why here.
  const seedsWhy = el("p", { class: "hint seeds-why", attrs: { hidden: true } });
  const device = selectInput(P.device, [{ value: "auto", label: "Auto" }]);
  const deviceHint = el("p", { class: "hint" });
  const nextRunHint = el("p", { class: "visually-hidden", text: "Applies to the next run, not the one training now.",
                                attrs: { id: "next-run-hint" } });

  const esRow = el("div", { class: "field field-check" },
    el("label", { class: "check" }, es, " Early stopping"),
    el("div", { class: "inline" }, el("label", { class: "field-label", text: "patience", attrs: { for: (patience.id = "f-es-patience") } }), patience));
  // A family that refuses early stopping (catalog tasks[i].early_stopping) says why here.
  const esWhy = el("p", { class: "hint es-why", attrs: { hidden: true } });
  esRow.append(esWhy);

  root.append(
    el("div", { class: "field-pair" }, field("Optimizer", optimizer), field("Learning rate", lr)),
    el("div", { class: "field-pair" }, field("Batch size", batch), field("Epochs", epochs)),
    el("div", { class: "field-pair" }, field("L1", l1, { title: "Weight of sum(|w|) added to the training objective" }),
      field("L2", l2, { title: "Weight of sum(w²) added to the training objective" })),
    field("Dropout through the stack", dropout, { output: dropoutOut, hint: "Adds a dropout layer after every dense layer; 0 removes them." }),
    esRow,
    field("Learning-rate schedule", scheduleType),
    scheduleParams,
    el("div", { class: "field-pair" }, field("Init seed", seed, { title: "Seeds initialisation, shuffling and dropout" }), field("Device", device)),
    field("Seeds", seeds, { hint: "Trains this many copies at once, init seeds seed, seed + 1, …: the charts show their mean and a ±1 sd band." }),
    seedsWhy,
    deviceHint,
    nextRunHint,
  );

  root.addEventListener("input", (e) => {
    const t = e.target;
    if (t === dropout) {
      onDropout(Number(dropout.value));
      return;
    }
    const path = t.dataset.path;
    if (!path || t.tagName === "SELECT" || t.type === "checkbox") return;
    // One seed is a single run, whose spec leaves `seeds` out (as the server writes it back).
    if (path === P.seeds && readControl(t) === 1) onChange([[path, undefined]]);
    else onChange([[path, readControl(t)]]);
  });
  root.addEventListener("change", (e) => {
    const t = e.target;
    if (t === es) {
      onChange([[P.es, es.checked ? { ...ES_DEFAULT, patience: Number(patience.value) || ES_DEFAULT.patience } : null]]);
    } else if (t === scheduleType) {
      onChange([[P.schedule, { ...schedules.get(scheduleType.value) }]]);
    } else if (t.tagName === "SELECT" && t.dataset.path) {
      onChange([[t.dataset.path, t.value]]);
    }
  });

  let scheduleKey = "";
  function renderSchedule(sched) {
    const key = Object.keys(sched).join(",");
    if (key !== scheduleKey) {
      scheduleKey = key;
      scheduleParams.replaceChildren(...Object.keys(sched).filter((k) => k !== "type").map((k) => {
        const meta = SCHEDULE_PARAMS[k] || { label: k, step: "any" };
        return field(meta.label, numberInput(`${P.schedule}.${k}`, meta));
      }));
    }
    for (const input of scheduleParams.querySelectorAll("[data-path]")) {
      writeControl(input, sched[input.dataset.path.split(".").pop()]);
    }
    scheduleParams.hidden = !scheduleParams.childElementCount;
  }

  function render(spec, dropoutRate) {
    const t = spec.training;
    writeControl(optimizer, t.optimizer);
    writeControl(lr, t.lr);
    writeControl(batch, t.batch_size);
    writeControl(epochs, t.epochs);
    writeControl(l1, t.l1);
    writeControl(l2, t.l2);
    writeControl(dropout, dropoutRate);
    setText(dropoutOut, dropoutRate > 0 ? `p = ${dropoutRate.toFixed(2)}` : "off");
    const stopping = t.early_stopping && typeof t.early_stopping === "object" ? t.early_stopping : null;
    es.checked = Boolean(stopping);
    const family = (catalog.tasks || []).find((x) => x.name === taskOf(catalog, spec));
    const refused = family ? family.early_stopping : null;
    es.disabled = Boolean(refused && !stopping);
    esWhy.hidden = !refused;
    setText(esWhy, refused ? `Early stopping is not offered for this task. ${refused}` : "");
    patience.disabled = !stopping || root.closest("fieldset").disabled;
    writeControl(patience, stopping ? stopping.patience : ES_DEFAULT.patience);
    // A spec from a link may hold anything here; /api/validate names what is wrong with it.
    const sched = t.lr_schedule && typeof t.lr_schedule === "object" ? t.lr_schedule : { type: "none" };
    writeControl(scheduleType, sched.type);
    renderSchedule(sched);
    writeControl(seed, t.seed);
    const noEnsemble = family ? family.ensemble : null;
    const k = Number(t.seeds || 1);
    writeControl(seeds, k);
    seeds.disabled = Boolean(noEnsemble && k <= 1) || root.closest("fieldset").disabled;
    seedsWhy.hidden = !noEnsemble;
    setText(seedsWhy, noEnsemble ? `Ensembles are not offered for this task: ${noEnsemble}` : "");
    writeControl(device, t.device);
  }

  /** What GET /api/health reports: the devices this server can train on. */
  function setHealth(health) {
    const have = (health && health.devices) || ["cpu"];
    const auto = have.includes("cuda") ? "cuda" : have.includes("mps") ? "mps" : "cpu";
    device.replaceChildren(
      el("option", { text: `Auto (${auto})`, props: { value: "auto" } }),
      ...have.map((d) => el("option", { text: d === "cpu" ? "CPU" : d.toUpperCase(), props: { value: d } })));
    setText(deviceHint, `This server can train on: ${have.map((d) => d.toUpperCase()).join(", ")}.`);
  }

  /** While a run trains, the fields it took at its start are marked "next run" (lr and L2 apply live). */
  function setRunning(running) {
    for (const input of [optimizer, batch, epochs, l1, es, scheduleType, seed, seeds, device]) {
      const label = root.querySelector(`label[for="${CSS.escape(input.id)}"]`) || input.closest("label");
      if (!label) continue;
      let tag = label.querySelector(".next-run");
      if (running && !tag) {
        // Out of the field's name (tests and screen readers find "Batch size" as ever); the
        // description says it instead.
        tag = el("span", { class: "next-run", text: "next run", attrs: { "aria-hidden": "true" },
                           title: "A change here applies to the next run; lr and L2 apply live" });
        label.append(" ", tag);
        input.setAttribute("aria-describedby", nextRunHint.id);
      } else if (!running && tag) {
        tag.previousSibling.remove();
        tag.remove();
        input.removeAttribute("aria-describedby");
      }
    }
  }

  return { render, setHealth, setRunning, ...fieldErrors(root) };
}
