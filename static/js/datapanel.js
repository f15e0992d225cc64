// The data panel: dataset picker with a preview (a scatter of the points, or sample digits),
// samples, noise, validation split, how much of the training split to use, and the data seed.

import { el, fitCanvas, setText } from "./dom.js";
import { field, fieldErrors, numberInput, rangeInput, readControl, selectInput, writeControl } from "./forms.js";
import { boundsOf, classColor, divergingRgb, drawAxes, drawPoints, makeFrame, squareFrame } from "./plot2d.js";
import { createDigitGrid } from "./digitgrid.js";
import { CSV_DATASET, DATA_KIND, TASK, UPLOAD_FIELDS } from "./protocol.js";

const P = {
  dataset: "data.dataset",
  samples: "data.n_samples",
  noise: "data.noise",
  val: "data.val_fraction",
  trainFraction: "data.train_fraction",
  seed: "data.seed",
  task: "task",
};

const UPLOAD_PREFIX = `${CSV_DATASET}:`; // an upload's option in the dataset picker: "csv:<upload id>"
const CSV_DESCRIPTION = "Your own table: the feature columns are the inputs, the target column is what to predict.";

/**
 * root: the panel's body; examples: the "Load an example" picker in its head. onChange([[path,
 * value], ...]) asks main.js to edit the spec; onExample(name) for a preset; onUseUpload(id) for a
 * table uploaded to the session; onTask(name) to train the data for another family (the catalog's
 * datasets[i].tasks lists those that fit it).
 */
/** A few validation windows of a series, one above the other: the window as a line, then the
 * values to forecast as dots. windows: [[T values]], targets: [[H values]]. */
function drawWindows(ctx, w, h, windows, targets) {
  const shown = windows.slice(0, 4);
  const rowH = h / Math.max(1, shown.length);
  shown.forEach((win, r) => {
    const next = targets[r] || [];
    const all = win.concat(next);
    const frame = makeFrame([0, all.length - 1], boundsOf(all), w - 8, rowH - 8, 4, r * rowH + 4);
    ctx.strokeStyle = "#1c7ed6";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    win.forEach((v, t) => (t ? ctx.lineTo(frame.px(t), frame.py(v)) : ctx.moveTo(frame.px(t), frame.py(v))));
    ctx.stroke();
    drawPoints(ctx, frame, next.map((v, k) => [win.length + k, v]), () => "#e8590c", { radius: 2.5 });
  });
}

export function createDataPanel(root, { catalog, examples, onChange, onExample, onUseUpload, onTask }) {
  examples.append(el("option", { text: "Load an example…", props: { value: "" } }),
    ...catalog.presets.map((p) => el("option", { text: p.label, title: p.description, props: { value: p.name } })));
  examples.addEventListener("change", () => {
    if (examples.value) onExample(examples.value);
    examples.value = "";
  });

  const datasets = new Map(catalog.datasets.map((d) => [d.name, d]));
  const groups = catalog.tasks.map((t) => [t.label, catalog.datasets.filter((d) => d.task === t.name)
    .map((d) => ({ value: d.name, label: d.label }))]);

  const dataset = selectInput(P.dataset, [], { groups });
  const taskLabels = Object.fromEntries(catalog.tasks.map((t) => [t.name, t.label]));
  const task = selectInput(P.task, []);
  const taskRow = field("Task", task, { title: "What the network learns from this data" });
  const uploadGroup = el("optgroup", { attrs: { label: "Your data" } });
  const csvSlot = el("div", { class: "csv-slot" });
  const description = el("p", { class: "hint dataset-desc" });
  const canvas = el("canvas", { class: "data-preview", attrs: { role: "img", "aria-label": "Preview of the data" } });
  const digits = createDigitGrid(); // image data: sample digits in place of the canvas
  const previewCaption = el("p", { class: "hint preview-caption" });
  // The class colours' key (issue 13): a CSV's classes by their names, generated data's by number.
  const classKey = el("ul", { class: "class-key", attrs: { "aria-label": "Class colours" } });
  let uploadsById = new Map();
  let uploadId = null; // the upload the spec on screen trains on
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
    taskRow,
    description,
    csvSlot,
    canvas,
    digits.node,
    classKey,
    previewCaption,
    el("div", { class: "field-pair" }, samplesRow, field("Data seed", el("div", { class: "inline" }, seed, reseed), { labelFor: seed })),
    noiseRow,
    field("Validation split", val, { output: valOut, title: "Share of the points held out to measure generalisation" }),
    field("Training data used", trainFraction, {
      output: trainOut,
      hint: "Use less of the training split to see overfitting appear.",
    }),
  );

  root.addEventListener("input", (e) => {
    const path = e.target.dataset.path;
    if (!path || path === P.dataset || path === P.task) return;
    onChange([[path, readControl(e.target)]]);
  });
  task.addEventListener("change", () => onTask(task.value));
  dataset.addEventListener("change", () => {
    if (dataset.value.startsWith(UPLOAD_PREFIX)) {
      onUseUpload(dataset.value.slice(UPLOAD_PREFIX.length));
      return;
    }
    // A new dataset starts from its own sample count and natural task, without an upload's columns.
    onChange([[P.dataset, dataset.value], [P.samples, null], [P.task, undefined],
      ...UPLOAD_FIELDS.map((f) => [`data.${f}`, undefined])]);
    const info = datasets.get(dataset.value);
    if (info) onTask(info.task); // a model of another family's shape starts again from this one's
  });

  /** The session's uploads, as choices in the dataset picker. */
  function setUploads(uploads) {
    uploadsById = new Map(uploads.map((u) => [u.id, u]));
    uploadGroup.replaceChildren(...uploads.map((u) => el("option", {
      text: `${u.filename}: ${u.target} from ${u.features.length} column${u.features.length === 1 ? "" : "s"}`,
      props: { value: `${UPLOAD_PREFIX}${u.id}` },
    })));
    if (uploads.length) dataset.append(uploadGroup);
    else uploadGroup.remove();
  }

  /** Select the option for `value`, adding one for an upload this page does not list. */
  function selectDataset(value) {
    if (typeof value !== "string") value = ""; // a link's spec may hold anything; validate names it
    if (![...dataset.options].some((o) => o.value === value) && value.startsWith(UPLOAD_PREFIX)) {
      uploadGroup.append(el("option", { text: "Uploaded table", props: { value } }));
      dataset.append(uploadGroup);
    }
    writeControl(dataset, value);
  }

  let preview = null;
  new ResizeObserver(() => drawPreview()).observe(canvas);

  function render(spec) {
    uploadId = spec.data.upload || null;
    const d = spec.data;
    const info = datasets.get(d.dataset);
    const isCsv = d.dataset === CSV_DATASET;
    selectDataset(isCsv ? `${UPLOAD_PREFIX}${d.upload}` : d.dataset);
    setText(description, info ? info.description : isCsv ? CSV_DESCRIPTION : "");
    const fits = info ? info.tasks : [];
    const current = spec.task || (info ? info.task : "");
    const have = [...task.options].map((o) => o.value).join("|");
    if (have !== fits.join("|")) {
      task.replaceChildren(...fits.map((t) => el("option", { text: taskLabels[t] || t, props: { value: t } })));
    }
    writeControl(task, current);
    taskRow.hidden = fits.length < 2;
    writeControl(samples, d.n_samples);
    samples.placeholder = info ? String(info.default_samples) : "all rows";
    if (info && info.max_samples) samples.max = String(info.max_samples);
    samplesRow.hidden = info ? !info.params.includes("n_samples") : !isCsv;
    noiseRow.hidden = info ? !info.params.includes("noise") : true;
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

  /** One swatch per class of a classification preview drawn as points (digits show their labels). */
  function drawClassKey() {
    const n = preview && preview.task === TASK.CLASSIFICATION && preview.kind !== DATA_KIND.IMAGE
      && preview.kind !== DATA_KIND.SEQUENCE ? preview.n_classes || 0 : 0;
    const upload = preview && preview.dataset === CSV_DATASET && uploadId ? uploadsById.get(uploadId) : null;
    const names = upload && upload.classes ? upload.classes : null;
    classKey.replaceChildren(...Array.from({ length: n }, (_, k) => el("li", { class: "class-key-item" },
      el("span", { class: "swatch", attrs: { "aria-hidden": "true" }, style: { background: classColor(k, n) } }),
      names ? String(names[k]) : `class ${k}`)));
    classKey.hidden = !n;
  }

  function drawPreview() {
    const image = Boolean(preview) && preview.kind === DATA_KIND.IMAGE;
    canvas.hidden = image; // before the canvas is measured
    if (image) digits.show(preview.images, preview.labels, preview.input_shape[preview.input_shape.length - 1]);
    else digits.hide();
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    drawClassKey();
    if (!preview) {
      setText(previewCaption, "");
      return;
    }
    if (preview.kind === DATA_KIND.SEQUENCE) {
      drawWindows(ctx, w, h, preview.windows || [], preview.targets || []);
    } else if (!image) {
      const pts = preview.train.x.concat(preview.val.x);
      const ys = preview.train.y.concat(preview.val.y);
      // A table with more than two features is drawn by its first two.
      const xy = preview.kind === DATA_KIND.ONE_D ? pts.map((p, i) => [p[0], ys[i]]) : pts.map((p) => [p[0], p[1] ?? 0]);
      const frameOf = preview.kind === DATA_KIND.TWO_D ? squareFrame : makeFrame; // x and y in one unit
      const frame = frameOf(boundsOf(xy.map((p) => p[0])), boundsOf(xy.map((p) => p[1])), w - 4, h - 4, 2, 2);
      canvas.dataset.aspect = (frame.w / frame.h).toFixed(3);
      drawAxes(ctx, frame);
      const isClass = preview.task === TASK.CLASSIFICATION;
      const lo = Math.min(...ys);
      const hi = Math.max(...ys);
      const fill = isClass || preview.kind === DATA_KIND.ONE_D
        ? (i) => (isClass ? classColor(ys[i], preview.n_classes || 2) : "#1c7ed6")
        : (i) => `rgb(${divergingRgb((ys[i] - lo) / (hi - lo || 1)).join(",")})`;
      drawPoints(ctx, frame, xy, fill, { radius: 2.2 });
    }
    const what = preview.kind === DATA_KIND.IMAGE ? "images" : preview.kind === DATA_KIND.TABLE ? "rows"
      : preview.kind === DATA_KIND.SEQUENCE ? "windows" : "points";
    const axes = preview.kind === DATA_KIND.TABLE && preview.input_shape[0] > 2
      ? ` (drawn by the first two of ${preview.input_shape[0]} features)` : "";
    setText(previewCaption, `${preview.n_train} training · ${preview.n_val} validation ${what}${axes}`);
  }

  /** A share link's data is read-only: the fields (a disabled fieldset) and the example picker. */
  function setReadOnly(readOnly) {
    root.disabled = readOnly;
    examples.disabled = readOnly;
  }

  return { render, setPreview, setUploads, setReadOnly, ...fieldErrors(root), csvSlot };
}
