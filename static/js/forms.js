// Form controls bound to a spec path through data-path. A panel builds them, listens once on
// its root, and turns an edit into (path, value); writing back skips the control being typed in.

import { el } from "./dom.js";

let uid = 0;
const nextId = (path) => `f-${path.replace(/[^\w]/g, "-")}-${++uid}`;

/** A labelled row: label text, the control, an optional hint under it. */
export function field(labelText, control, { hint, output, title, labelFor = control } = {}) {
  // `labelFor`: the input the label names when `control` wraps it with other controls (a label
  // for a <div> names nothing: the data seed had no accessible name).
  if (!labelFor.id) labelFor.id = nextId(labelFor.dataset.path || "x");
  const label = el("label", { class: "field-label", text: labelText, attrs: { for: labelFor.id }, title });
  const head = el("div", { class: "field-head" }, label, output || null);
  return el("div", { class: "field" }, head, control, hint ? el("p", { class: "hint", text: hint }) : null);
}

export function numberInput(path, { min, max, step = "any", placeholder, nullable = false, title } = {}) {
  return el("input", {
    class: "input",
    title,
    dataset: { path, kind: "number", ...(nullable ? { nullable: "1" } : {}) },
    attrs: { type: "number", min, max, step, placeholder, inputmode: "decimal" },
  });
}

export function selectInput(path, options, { groups = null } = {}) {
  const select = el("select", { class: "input", dataset: { path, kind: "text" } });
  const opt = (o) => el("option", { text: o.label, props: { value: String(o.value) } });
  if (groups) {
    for (const [label, opts] of groups) select.append(el("optgroup", { attrs: { label } }, opts.map(opt)));
  } else {
    select.append(...options.map(opt));
  }
  return select;
}

/** A slider; `scale` maps spec values to slider units (0.3 -> 30 with scale 100). */
export function rangeInput(path, { min, max, step, scale = 1 }) {
  return el("input", {
    class: "range",
    dataset: { path, kind: "number", scale: String(scale) },
    attrs: { type: "range", min, max, step },
  });
}

export function checkbox(path) {
  return el("input", { dataset: { path, kind: "bool" }, attrs: { type: "checkbox" } });
}

/** The spec value a control holds; numbers that do not parse go to the server as they are, to be named there. */
export function readControl(input) {
  const kind = input.dataset.kind;
  if (kind === "bool") return input.checked;
  if (kind !== "number") return input.value;
  const raw = input.value.trim();
  if (raw === "") return input.dataset.nullable ? null : raw;
  const n = Number(raw);
  if (!Number.isFinite(n)) return raw;
  const scale = Number(input.dataset.scale || 1);
  return scale === 1 ? n : Number((n / scale).toPrecision(6));
}

export function writeControl(input, value) {
  if (document.activeElement === input && input.type !== "range") return;
  if (input.dataset.kind === "bool") {
    input.checked = Boolean(value);
    return;
  }
  let s;
  if (value === null || value === undefined) s = "";
  else if (input.dataset.scale && input.dataset.scale !== "1") s = String(Math.round(value * Number(input.dataset.scale)));
  else s = String(value);
  if (input.value !== s) input.value = s;
}

/** Mark a control invalid with a message under it (or clear it with message = null). */
export function markInvalid(input, message) {
  const row = input.closest(".field");
  input.toggleAttribute("aria-invalid", Boolean(message));
  if (!row) return;
  let note = row.querySelector(".field-error");
  if (!message) {
    if (note) note.remove();
    return;
  }
  if (!note) {
    note = el("p", { class: "field-error", attrs: { role: "alert" } });
    row.append(note);
  }
  note.textContent = message;
}

/**
 * The validation errors of the controls under `root`: showError(path, message) marks the control
 * bound to `path` (false if none is here); clearErrors() unmarks them all.
 */
export function fieldErrors(root) {
  return {
    showError(path, message) {
      const input = root.querySelector(`[data-path="${CSS.escape(path)}"]`);
      if (!input) return false;
      markInvalid(input, message);
      return true;
    },
    clearErrors() {
      root.querySelectorAll("[data-path]").forEach((n) => markInvalid(n, null));
    },
  };
}
