// The network builder: a palette of layer types and the stack, both SortableJS lists. Drag from
// the palette into the stack, reorder, delete, edit parameters inline. Shapes and parameter
// counts come from /api/validate; an error shows on the layer it names, with its one-click fix.
// The builder holds no state: it draws the layers it is given and reports what the user asked for.

import Sortable from "sortablejs";
import { append, clear, el, fmtInt, fmtShape, setText } from "./dom.js";
import { flagText } from "./insides.js";
import { layerIndexOf, layerParamOf } from "./spec.js";

const ACTIVATION = "activation";
const PADDING_CHOICES = ["same", "valid", 0, 1, 2, 3];
const PATH_PREFIX = /^model\.[\w.]*?layers\[\d+\](\.\w+)? \([^)]*\): /;
// Layers of this category take a sequence (T, F): the palette offers them on sequence data only.
const SEQUENCE_CATEGORY = "recurrent";

/** A parameter's label: the schema's title, or its description where the title is a bare letter. */
function paramLabel(name, schema) {
  const title = schema.title || name;
  if (title.length > 2 || !schema.description) return title;
  return schema.description[0].toUpperCase() + schema.description.slice(1);
}

function schemaKind(schema) {
  if (schema.type === "boolean") return "bool";
  if (schema.type === "integer") return "int";
  if (schema.type === "number") return "float";
  const alts = schema.anyOf || [];
  if (alts.some((a) => a.enum)) return "choice";
  if (alts.some((a) => a.type === "null")) return "nullable-int";
  return "text";
}

/**
 * els: {palette, stack, input, head, total, problems}; on: {add(type, index), move(from, to),
 * remove(index), param(index, name, value), fix(fix)}. `stack` is the path of the stack it edits
 * in `model` ("layers", or a family's "encoder.layers"): errors under model.<stack>[i] show on layer i.
 */
export function createBuilder(els, { catalog, on, stack = "layers" }) {
  const byType = new Map(catalog.layers.map((l) => [l.type, l]));
  let readOnly = false;
  let dragging = false;

  // -- palette (a stack after the first shares the first's: els.palette is null) ------------------
  const palette = els.palette || document.createElement("ul");
  for (const layer of els.palette ? catalog.layers : []) {
    palette.append(el("li", {
      class: `palette-item cat-${layer.category}`,
      title: `${layer.doc}\nDrag into the network, or press Enter to add at the end.`,
      dataset: { type: layer.type },
      attrs: { "aria-label": layer.label, tabindex: "0" },
    }, el("span", { class: "cat-dot", attrs: { "aria-hidden": "true" } }), layer.label));
  }
  // Delegated, because SortableJS leaves a clone (without listeners) behind after a drag.
  const addFromPalette = (event) => {
    const item = event.target.closest(".palette-item");
    if (!item || readOnly || dragging) return;
    on.add(item.dataset.type, null);
  };
  palette.addEventListener("click", addFromPalette);
  palette.addEventListener("keydown", (e) => {
    if (e.key === "Enter") addFromPalette(e);
  });

  const common = { forceFallback: true, fallbackOnBody: true, animation: 150, ghostClass: "drag-ghost",
                   chosenClass: "drag-chosen", fallbackClass: "drag-fallback" };
  const paletteSortable = Sortable.create(palette, {
    ...common,
    group: { name: "layers", pull: "clone", put: false },
    sort: false,
    onStart: () => { dragging = true; },
    onEnd: () => setTimeout(() => { dragging = false; }, 0),
  });
  const stackSortable = Sortable.create(els.stack, {
    ...common,
    group: { name: "layers", pull: false, put: true },
    handle: ".layer-head",
    filter: "button, input, select",
    preventOnFilter: false,
    emptyInsertThreshold: 24,
    onAdd(evt) {
      const type = evt.item.dataset.type;
      evt.item.remove(); // the stack is redrawn from the state that on.add changes
      on.add(type, evt.newIndex);
    },
    onUpdate(evt) {
      on.move(evt.oldIndex, evt.newIndex);
    },
  });

  // -- the stack -------------------------------------------------------------------------------
  function paramControl(index, name, schema, value) {
    const kind = schemaKind(schema);
    const base = { dataset: { param: name }, attrs: { "aria-label": paramLabel(name, schema) } };
    let input;
    if (kind === "bool") {
      input = el("input", { ...base, attrs: { ...base.attrs, type: "checkbox" }, props: { checked: Boolean(value) } });
    } else if (kind === "choice") {
      const choices = PADDING_CHOICES.includes(value) ? PADDING_CHOICES : [...PADDING_CHOICES, value];
      input = el("select", { ...base, class: "input" },
        choices.map((c) => el("option", { text: String(c), props: { value: String(c), selected: c === value } })));
    } else {
      const isFloat = kind === "float";
      const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 0.05 : undefined);
      const alt = (schema.anyOf || []).find((a) => a.type === "integer") || {};
      input = el("input", {
        ...base,
        class: "input",
        attrs: { ...base.attrs, type: "number", min: schema.minimum ?? alt.minimum, max: max ?? alt.maximum,
                 step: isFloat ? "0.05" : "1", placeholder: kind === "nullable-int" ? "auto" : null },
        props: { value: value === null || value === undefined ? "" : String(value) },
      });
    }
    const read = () => {
      if (kind === "bool") return input.checked;
      if (kind === "choice") return /^\d+$/.test(input.value) ? Number(input.value) : input.value;
      const raw = input.value.trim();
      if (raw === "") return kind === "nullable-int" ? null : raw;
      return Number.isFinite(Number(raw)) ? Number(raw) : raw;
    };
    input.addEventListener(kind === "bool" || kind === "choice" ? "change" : "input", () => on.param(index, name, read()));
    const wrap = el("label", { class: kind === "bool" ? "param param-bool" : "param", title: schema.description || "" },
      el("span", { class: "param-label", text: paramLabel(name, schema) }), input);
    return wrap;
  }

  function activationControl(index, value) {
    const select = el("select", {
      class: "input",
      dataset: { param: ACTIVATION },
      attrs: { "aria-label": "Activation" },
      on: { change: () => on.param(index, ACTIVATION, select.value) },
    }, catalog.activations.map((a) => el("option", { text: a.label, props: { value: a.name, selected: a.name === value } })));
    return el("label", { class: "param" }, el("span", { class: "param-label", text: "Activation" }), select);
  }

  function layerItem(layer, index) {
    const entry = byType.get(layer.type) || { label: layer.type, params: {}, has_activation: false, category: "core" };
    const body = el("div", { class: "layer-body" });
    for (const [name, schema] of Object.entries(entry.params)) {
      if (name === ACTIVATION) continue;
      body.append(paramControl(index, name, schema, layer[name]));
    }
    if (entry.has_activation) body.append(activationControl(index, layer[ACTIVATION]));
    const remove = el("button", {
      class: "icon-btn remove",
      text: "×",
      title: "Remove this layer",
      attrs: { type: "button", "aria-label": `Remove layer ${index + 1} (${entry.label})` },
      on: { click: () => on.remove(index) },
    });
    const item = el("li", {
      class: `layer cat-${entry.category}`,
      title: entry.doc,
      dataset: { index: String(index), type: layer.type },
      attrs: { "aria-label": entry.label },
      on: { keydown: (e) => keyMove(e, index) },
    },
    el("div", { class: "layer-head", title: "Drag to reorder (or Alt+↑/↓)" },
      el("span", { class: "grip", attrs: { "aria-hidden": "true" }, text: "⠿" }),
      el("span", { class: "layer-name", text: entry.label }),
      el("span", { class: "layer-params" }),
      remove),
    body.childElementCount ? body : null,
    el("div", { class: "layer-error", attrs: { hidden: true } }),
    el("div", { class: "layer-out" }));
    return item;
  }

  function keyMove(e, index) {
    if (readOnly || !e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
    const to = index + (e.key === "ArrowUp" ? -1 : 1);
    if (to < 0 || to >= els.stack.children.length) return;
    e.preventDefault();
    on.move(index, to);
    requestAnimationFrame(() => els.stack.children[to] && els.stack.children[to].querySelector(".layer-head .remove").focus());
  }

  function render(layers) {
    clear(els.stack);
    layers.forEach((layer, i) => els.stack.append(layerItem(layer, i)));
    setReadOnly(readOnly);
  }

  // -- shapes, counts and errors ---------------------------------------------------------------------
  function showSummary(summary) {
    // This stack's rows (a summary from before named stacks lists them all under `layers`).
    const name = stack.split(".")[0];
    const rows = summary ? ((summary.stacks && summary.stacks[name]) || summary.layers) : [];
    const items = [...els.stack.children];
    items.forEach((item, i) => {
      const row = rows.find((r) => !r.is_head && r.index === i);
      setText(item.querySelector(".layer-params"), row && row.params ? `${fmtInt(row.params)} params` : "");
      setText(item.querySelector(".layer-out"), row ? `↓ ${fmtShape(row.output_shape)}` : "");
    });
    clear(els.input);
    clear(els.head);
    if (!summary) {
      if (els.total) setText(els.total, "");
      return;
    }
    // A stack's input is its first row's (G starts from the latent z), else the data's.
    const first = rows.find((r) => !r.is_head) || rows.find((r) => r.is_head);
    append(els.input, el("span", { class: "io-name", text: "Input" }),
      el("span", { class: "shape", text: fmtShape(first ? first.input_shape : summary.input_shape) }));
    const head = rows.find((r) => r.is_head);
    if (head) {
      // The family says how its head is read (a classifier's through a softmax); a head reshaped to
      // the input's shape (an autoencoder's decoder) shows that shape.
      const family = (catalog.tasks || []).find((t) => t.name === summary.task);
      const units = head.output_shape.reduce((a, b) => a * b, 1);
      const shaped = head.output_shape.length > 1 ? ` → ${fmtShape(head.output_shape)}` : "";
      const kind = `Dense ${units}${shaped} · ${(family && family.head) || "linear"}`;
      append(els.head, el("span", { class: "io-name", text: "Output head" }), el("span", { class: "io-desc", text: kind }),
        el("span", { class: "layer-params", text: `${fmtInt(head.params)} params` }));
    }
    if (!els.total) return;
    setText(els.total, `${fmtInt(summary.total_params)} parameters`);
    els.total.title = "Trainable parameters, output head included";
  }

  /** Errors from a 422: those naming a layer show on it; the rest are returned for the page to place. */
  function showErrors(errors) {
    const items = [...els.stack.children];
    for (const item of items) {
      const box = item.querySelector(".layer-error");
      clear(box);
      box.hidden = true;
      item.classList.remove("invalid");
      item.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    }
    const rest = [];
    for (const err of errors) {
      const index = layerIndexOf(err.path, stack);
      const item = index === null ? null : items[index];
      if (!item) {
        rest.push(err);
        continue;
      }
      item.classList.add("invalid");
      const param = layerParamOf(err.path, stack);
      const control = param && item.querySelector(`[data-param="${CSS.escape(param)}"]`);
      if (control) control.setAttribute("aria-invalid", "true");
      const box = item.querySelector(".layer-error");
      box.hidden = false;
      const message = err.message.replace(PATH_PREFIX, "");
      box.append(el("p", { attrs: { role: "alert" }, text: param && control ? `${control.getAttribute("aria-label")}: ${message}` : message }));
      if (err.fix && !readOnly) {
        const fix = err.fix;
        box.append(el("button", { class: "btn btn-small fix", text: fix.label || "Fix", attrs: { type: "button" },
                                  on: { click: () => on.fix(fix) } }));
      }
    }
    return rest;
  }

  /** Flags from the `insides` view: Map(layer index -> ["vanishing" | "dead" | "saturated"]). */
  function showFlags(flagsByIndex) {
    for (const item of els.stack.children) {
      const flags = flagsByIndex.get(Number(item.dataset.index)) || [];
      item.classList.toggle("insides-flagged", flags.length > 0);
      let badge = item.querySelector(".layer-flag");
      if (!flags.length) {
        if (badge) badge.remove();
        continue;
      }
      if (!badge) {
        badge = el("div", { class: "layer-flag", attrs: { role: "note" } });
        item.append(badge);
      }
      badge.textContent = `⚠ ${flagText(flags)} (see Inside the network)`;
    }
  }

  function setReadOnly(value) {
    readOnly = value;
    paletteSortable.option("disabled", value);
    stackSortable.option("disabled", value);
    palette.classList.toggle("disabled", value);
    els.stack.querySelectorAll("input, select, button").forEach((n) => { n.disabled = value; });
  }

  /** Offer recurrent layers only where the data is a sequence (elsewhere they can only fail). */
  function setDataKind(kind) {
    for (const item of palette.querySelectorAll(".palette-item")) {
      const entry = byType.get(item.dataset.type);
      item.hidden = Boolean(entry) && entry.category === SEQUENCE_CATEGORY && kind !== "sequence";
    }
    palette.dataset.dataKind = kind || "";
  }

  /** The stack this builder edits changed (another family's first stack). */
  function setStack(path) {
    stack = path;
  }

  return { render, showSummary, showErrors, setReadOnly, setDataKind, showFlags, setStack };
}
