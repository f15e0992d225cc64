// The data panel: dataset picker with a preview (a scatter of the points, or sample digits),
// samples, noise, validation split, how much of the training split to use, and the data seed.

import { el, fitCanvas, setText } from "./dom.js";
import { field, markInvalid, numberInput, rangeInput, readControl, selectInput, writeControl } from "./forms.js";
import { boundsOf, classColor, divergingRgb, drawAxes, drawDigits, drawPoints, makeFrame } from "./plot2d.js";
import { DATA_KIND, TASK } from "./protocol.js";

const P = {
  dataset: "data.dataset",
  samples: "data.n_samples",
  noise: "data.noise",
  val: "data.val_fraction",
  trainFraction: "data.train_fraction",
  seed: "data.seed",
  task: "task",
};

/** root: the panel's body; onChange([[path, value], ...]) asks main.js to edit the spec. */
export function createDataPanel(root, { catalog, onChange }) {
  const datasets = new Map(catalog.datasets.map((d) => [d.name, d]));
  const groups = catalog.tasks.map((t) => [t.label, catalog.datasets.filter((d) => d.task === t.name)
    .map((d) => ({ value: d.name, label: d.label }))]);

  const dataset = selectInput(P.dataset, [], { groups });
  const description = el("p", { class: "hint dataset-desc" });
  const canvas = el("canvas", { class: "data-preview", attrs: { role: "img", "aria-label": "Preview of the data" } });
  const previewCaption = el("p", { class: "hint preview-caption" });
  const samples = numberInput(P.samples, { min: 10, max: catalog.limits.max_samples, step: 10, nullable: true });
  const noise = rangeInput(P.noise, { min: 0, max: 1, step: 0.05 });
  const noiseOut = el("output", { class: "value" });
  const val = rangeInput(P.val, { min: 5, max: 90, step: 5, scale: 100 });
  const valOut = el("output", { class: "value" });
  const trainFraction = rangeInput(P.trainFraction, { min: 5, max: 100, step: 5, scale: 100 });
  const trainOut = el("output", { class: "value" });
  const seed = numberInput(P.seed, { min: 0, step: 1 });
  const reseed = el("button", {
    class: "btn btn-small", text: "New", title: "Draw a new data set with a random seed",
    attrs: { type: "button", "aria-label": "New data seed" },
    on: { click: () => onChange([[P.seed, Math.floor(Math.random() * 100000)]]) },
  });

  const samplesRow = field("Samples", samples, { title: "How many points to generate (train + validation)" });
  const noiseRow = field("Noise", noise, { output: noiseOut, title: "Gaussian jitter added to the points" });
  root.append(
    field("Dataset", dataset),
    description,
    canvas,
    previewCaption,
    el("div", { class: "field-pair" }, samplesRow, field("Data seed", el("div", { class: "inline" }, seed, reseed))),
    noiseRow,
    field("Validation split", val, { output: valOut, title: "Share of the points held out to measure generalisation" }),
    field("Training data used", trainFraction, {
      output: trainOut,
      hint: "Use less of the training split to see overfitting appear.",
    }),
  );

  root.addEventListener("input", (e) => {
    const path = e.target.dataset.path;
    if (!path || path === P.dataset) return;
    onChange([[path, readControl(e.target)]]);
  });
  dataset.addEventListener("change", () => {
    // A new dataset starts from its own sample count and natural task.
    onChange([[P.dataset, dataset.value], [P.samples, null], [P.task, undefined]]);
  });

  let preview = null;
  new ResizeObserver(() => drawPreview()).observe(canvas);

  function render(spec) {
    const d = spec.data;
    const info = datasets.get(d.dataset);
    writeControl(dataset, d.dataset);
    setText(description, info ? info.description : "");
    writeControl(samples, d.n_samples);
    samples.placeholder = info ? String(info.default_samples) : "";
    if (info && info.max_samples) samples.max = String(info.max_samples);
    samplesRow.hidden = info && !info.params.includes("n_samples");
    noiseRow.hidden = info && !info.params.includes("noise");
    writeControl(noise, d.noise);
    writeControl(val, d.val_fraction);
    writeControl(trainFraction, d.train_fraction);
    writeControl(seed, d.seed);
    setText(noiseOut, Number(d.noise).toFixed(2));
    setText(valOut, `${Math.round(d.val_fraction * 100)}%`);
    setText(trainOut, `${Math.round(d.train_fraction * 100)}%`);
  }

  function setPreview(p) {
    preview = p;
    drawPreview();
  }

  function drawPreview() {
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    if (!preview) {
      setText(previewCaption, "");
      return;
    }
    if (preview.kind === DATA_KIND.IMAGE) {
      const side = preview.input_shape[preview.input_shape.length - 1];
      drawDigits(ctx, w, h, preview.images, preview.labels, side);
    } else {
      const pts = preview.train.x.concat(preview.val.x);
      const ys = preview.train.y.concat(preview.val.y);
      const xy = preview.kind === DATA_KIND.ONE_D ? pts.map((p, i) => [p[0], ys[i]]) : pts;
      const frame = makeFrame(boundsOf(xy.map((p) => p[0])), boundsOf(xy.map((p) => p[1])), w - 4, h - 4, 2, 2);
      drawAxes(ctx, frame);
      const isClass = preview.task === TASK.CLASSIFICATION;
      const lo = Math.min(...ys);
      const hi = Math.max(...ys);
      const fill = isClass || preview.kind === DATA_KIND.ONE_D
        ? (i) => (isClass ? classColor(ys[i], preview.n_classes || 2) : "#1c7ed6")
        : (i) => `rgb(${divergingRgb((ys[i] - lo) / (hi - lo || 1)).join(",")})`;
      drawPoints(ctx, frame, xy, fill, { radius: 2.2 });
    }
    setText(previewCaption, `${preview.n_train} training · ${preview.n_val} validation ${preview.kind === DATA_KIND.IMAGE ? "images" : "points"}`);
  }

  /** Show a validation error on the control bound to `path`; returns false if none is here. */
  function showError(path, message) {
    const input = root.querySelector(`[data-path="${path}"]`);
    if (!input) return false;
    markInvalid(input, message);
    return true;
  }

  function clearErrors() {
    root.querySelectorAll("[data-path]").forEach((n) => markInvalid(n, null));
  }

  return { render, setPreview, showError, clearErrors };
}
