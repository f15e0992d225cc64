// Pure functions on experiment specs (docs/spec.md): defaults from the catalog, JSON merge
// patches, edits at a path, and the structural edits the builder and the remedies make.

import { FIX_OP, TASK } from "./protocol.js";

export const clone = (x) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));

export const isObject = (x) => x !== null && typeof x === "object" && !Array.isArray(x);

/** RFC 7386: objects merge, null deletes, anything else (lists included) replaces whole. */
export function mergePatch(target, patch) {
  if (!isObject(patch)) return clone(patch);
  const out = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** A copy of `obj` with `path` ("training.lr") set to `value`; undefined deletes the key. */
export function setIn(obj, path, value) {
  const keys = path.split(".");
  const out = clone(obj);
  let node = out;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(node[k])) node[k] = {};
    node = node[k];
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = clone(value);
  return out;
}

/** The value at `path` ("encoder.layers") in `obj`, or undefined. */
export function getIn(obj, path) {
  let node = obj;
  for (const k of path.split(".")) {
    if (!isObject(node)) return undefined;
    node = node[k];
  }
  return node;
}

/** The stacks of a spec's family ([{name, label, path}]; the catalog's tasks[i].stacks). */
export function stacksOf(catalog, spec) {
  const task = (catalog.tasks || []).find((t) => t.name === taskOf(catalog, spec));
  return task && task.stacks && task.stacks.length ? task.stacks : [{ name: "layers", label: "Layers", path: "layers" }];
}

/** A layer of `type` with the catalog's defaults. */
export function defaultLayer(catalog, type) {
  const entry = catalog.layers.find((l) => l.type === type);
  if (!entry) return { type };
  return clone(entry.defaults);
}

/**
 * Fill what a spec leaves out from the catalog's defaults, so every form shows a value. A spec
 * from a link may be anything: malformed parts are dropped here and /api/validate names the rest.
 */
export function normalize(catalog, spec) {
  const d = catalog.defaults;
  const part = (x) => (isObject(x) ? x : {});
  // Null defaults mean "not set" (the dataset's own sample count, no uploaded table): leave them out.
  const dataDefaults = Object.fromEntries(Object.entries(d.data).filter(([, v]) => v !== null));
  const data = { ...dataDefaults, ...part(spec.data) };
  // Every stack the family names ("layers", "encoder.layers", ...) gets its layers' defaults; the
  // model's other fields (a family's options) stay as given.
  let model = clone(part(spec.model));
  for (const stack of stacksOf(catalog, { ...spec, data })) {
    const given = getIn(model, stack.path);
    const layers = Array.isArray(given) ? given.filter(isObject) : [];
    model = setIn(model, stack.path, layers.map((l) => ({ ...defaultLayer(catalog, l.type), ...l })));
  }
  const out = { data, model, training: { ...clone(d.training), ...part(spec.training) } };
  if (spec.task) out.task = spec.task;
  return out;
}

/** `spec` trained on an uploaded table (upload.data, upload.task), keeping its noise, split and seed. */
export function withUpload(spec, upload) {
  const d = spec.data;
  const data = { noise: d.noise, val_fraction: d.val_fraction, train_fraction: d.train_fraction, seed: d.seed,
                 ...upload.data };
  return { ...spec, data, task: upload.task };
}

export function presetSpec(catalog, name) {
  const preset = catalog.presets.find((p) => p.name === name) || catalog.presets[0];
  return normalize(catalog, preset.spec);
}

/** Apply a shape error's one-click fix to the layer list. */
export function applyFix(catalog, layers, fix) {
  const out = clone(layers);
  if (fix.op === FIX_OP.INSERT) {
    out.splice(fix.index, 0, { ...defaultLayer(catalog, fix.layer.type), ...fix.layer });
  } else if (fix.op === FIX_OP.REMOVE) {
    out.splice(fix.index, 1);
  }
  return out;
}

/** A copy of `layers` with a default layer of `type` inserted at `index` (null: at the end). */
export function insertLayer(catalog, layers, type, index) {
  const out = clone(layers);
  out.splice(index === null ? out.length : index, 0, defaultLayer(catalog, type));
  return out;
}

/** A copy of `layers` with parameter `name` of layer `index` set to `value`. */
export function setParam(layers, index, name, value) {
  const out = clone(layers);
  out[index] = { ...out[index], [name]: value };
  return out;
}

export function moveItem(list, from, to) {
  const out = clone(list);
  const [item] = out.splice(from, 1);
  out.splice(to, 0, item);
  return out;
}

const DROPOUT = "dropout";
const DROPOUT_AFTER = new Set(["dense"]);

/** The stack's dropout rate as one number: the largest p, or 0 with no dropout layer. */
export function dropoutRate(layers) {
  const ps = layers.filter((l) => l.type === DROPOUT).map((l) => l.p ?? 0);
  return ps.length ? Math.max(...ps) : 0;
}

/**
 * Dropout through the stack: p = 0 removes every dropout layer; otherwise each dropout layer
 * gets p, and one is added after every dense layer that has none (as the "Add dropout" remedy does).
 */
export function withDropout(catalog, layers, p) {
  if (!(p > 0)) return layers.filter((l) => l.type !== DROPOUT).map(clone);
  const out = [];
  layers.forEach((layer, i) => {
    out.push(layer.type === DROPOUT ? { ...layer, p } : clone(layer));
    const next = layers[i + 1];
    if (DROPOUT_AFTER.has(layer.type) && !(next && next.type === DROPOUT)) {
      out.push({ ...defaultLayer(catalog, DROPOUT), p });
    }
  });
  return out;
}

/** The task a spec trains for: its own, or its dataset's natural one. */
export function taskOf(catalog, spec) {
  if (spec.task) return spec.task;
  const d = catalog.datasets.find((x) => x.name === spec.data.dataset);
  return d ? d.task : TASK.CLASSIFICATION;
}

/**
 * The edit a running run (of `runSpec`) can take live as the spec goes from `prev` to `next`: a new
 * learning rate or L2 with nothing else different. Returns {changed: {lr?, l2?}, spec} or null.
 */
export function liveEdit(runSpec, prev, next) {
  const t = next.training;
  const changed = {};
  if (t.lr !== prev.training.lr && typeof t.lr === "number" && t.lr > 0) changed.lr = t.lr;
  if (t.l2 !== prev.training.l2 && typeof t.l2 === "number" && t.l2 >= 0) changed.l2 = t.l2;
  if (!Object.keys(changed).length) return null;
  const spec = mergePatch(runSpec, { training: changed });
  return sameSpec(spec, next) ? { changed, spec } : null;
}

// Training fields a run takes only when it starts (lr and L2 change live), named as the panel names them.
export const NEXT_RUN_FIELDS = Object.freeze({
  optimizer: "Optimizer", batch_size: "Batch size", epochs: "Epochs", l1: "L1", early_stopping: "Early stopping",
  lr_schedule: "Learning-rate schedule", seed: "Init seed", seeds: "Seeds", device: "Device",
});

/** The names of the training fields that differ between `prev` and `next` and wait for the next run. */
export const nextRunFields = (prev, next) => Object.entries(NEXT_RUN_FIELDS)
  .filter(([k]) => !sameSpec(prev[k] ?? null, next[k] ?? null)).map(([, label]) => label);

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Index of the layer a validation error path names in a stack ("model.layers[2].units" -> 2;
 * stack "encoder.layers": "model.encoder.layers[1]" -> 1), or null. */
export function layerIndexOf(path, stack = "layers") {
  const m = new RegExp(`^model\\.${escapeRe(stack)}\\[(\\d+)\\]`).exec(path || "");
  return m ? Number(m[1]) : null;
}

/** The parameter a path names ("model.layers[2].units" -> "units"), or null. */
export function layerParamOf(path, stack = "layers") {
  const m = new RegExp(`^model\\.${escapeRe(stack)}\\[\\d+\\]\\.(\\w+)`).exec(path || "");
  return m ? m[1] : null;
}

/** A value with object keys sorted and null members left out: null means "not set" in a spec. */
function canonical(x) {
  if (Array.isArray(x)) return x.map(canonical);
  if (!isObject(x)) return x;
  return Object.fromEntries(Object.keys(x).sort().filter((k) => x[k] !== null && x[k] !== undefined)
    .map((k) => [k, canonical(x[k])]));
}

/** Whether two specs (or parts) say the same, whatever their key order (the server's or the page's). */
export const sameSpec = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

/** `spec` trained by family `name` on the same data: its empty stacks and options, without the old
 * family's own training fields (the catalog's tasks[i].empty_model and training_fields); null when
 * there is nothing to change (the same family, already shaped) or no such family. */
export function switchedTask(catalog, spec, name) {
  const family = catalog.tasks.find((t) => t.name === name);
  const shaped = stacksOf(catalog, spec).every((s) => Array.isArray(getIn(spec.model, s.path)));
  if (!family || (name === taskOf(catalog, spec) && shaped)) return null;
  const theirs = new Set(family.training_fields.map((f) => f.name));
  const training = Object.fromEntries(Object.entries(spec.training).filter(([k]) => !catalog.tasks
    .some((t) => t.training_fields.some((f) => f.name === k)) || theirs.has(k)));
  const natural = (catalog.datasets.find((d) => d.name === spec.data.dataset) || {}).task;
  return normalize(catalog, { ...spec, task: name === natural ? undefined : name, model: clone(family.empty_model), training });
}
