// Every stack of the spec's family, each a builder list: the first is the page's own (#stack, with
// the palette), the others are drawn below it and share the palette (a drag from it drops into any
// of them). A family's model options (latent_dim) and its own training fields (d_lr, d_steps) are
// drawn with them, from the catalog's schemas. Nothing here names a family.

import { createBuilder } from "./builder.js";
import { clear, el } from "./dom.js";
import { getIn, stacksOf, taskOf } from "./spec.js";

const PLAIN_LABEL = "Network layers"; // the one stack of a one-stack family keeps its old name

/** on: {stack(path) -> builder handlers, paths(edits)}. */
export function createStacks(els, { catalog, on }) {
  const primary = { path: "layers", builder: createBuilder(els, { catalog, on: on.stack(() => primary.path) }) };
  let extras = []; // [{path, builder, box}]
  let key = "";
  let readOnly = false;
  let kind = null;
  const options = el("div", { class: "family-options" });
  els.stack.parentElement.insertBefore(options, els.head.nextSibling);
  const extraBox = el("div", { class: "extra-stacks" });
  options.after(extraBox);

  function layout(spec) {
    const stacks = stacksOf(catalog, spec);
    const next = stacks.map((s) => s.path).join("|");
    if (next === key) return stacks;
    key = next;
    primary.path = stacks[0].path;
    primary.builder.setStack(primary.path);
    els.stack.setAttribute("aria-label", stacks.length > 1 ? stacks[0].label : PLAIN_LABEL);
    els.stack.dataset.stack = stacks[0].path;
    clear(extraBox);
    extras = stacks.slice(1).map((s) => {
      const list = el("ol", { class: "stack", attrs: { "aria-label": s.label }, dataset: { stack: s.path } });
      const input = el("div", { class: "io-row" });
      const head = el("div", { class: "io-row io-head" });
      const box = el("div", { class: "stack-box" }, el("h3", { class: "stack-title", text: s.label }), input, list, head);
      extraBox.append(box);
      const entry = { path: s.path };
      entry.builder = createBuilder({ palette: null, stack: list, input, head, total: null },
        { catalog, on: on.stack(() => entry.path), stack: s.path });
      entry.builder.setReadOnly(readOnly);
      entry.builder.setDataKind(kind);
      return entry;
    });
    return stacks;
  }

  function renderOptions(spec) {
    const task = (catalog.tasks || []).find((t) => t.name === taskOf(catalog, spec));
    const fields = [...((task && task.options) || []).map((o) => ({ ...o, path: `model.${o.name}` })),
      ...((task && task.training_fields) || []).map((f) => ({ ...f, path: `training.${f.name}` }))];
    const have = [...options.querySelectorAll("input, select")].map((i) => i.dataset.path).join("|");
    if (have !== fields.map((f) => f.path).join("|")) {
      options.replaceChildren(...fields.map((f) => optionField(f)));
    }
    for (const input of options.querySelectorAll("input, select")) {
      const f = fields.find((x) => x.path === input.dataset.path);
      const given = getIn(spec, input.dataset.path);
      const v = given === undefined && f ? f.default : given;
      if (input.dataset.kind === "bool") input.checked = Boolean(v);
      else if (input.tagName === "SELECT" || document.activeElement !== input) input.value = v === null || v === undefined ? "" : String(v);
      input.disabled = readOnly;
    }
    options.hidden = !fields.length;
  }

  function optionField(f) {
    const schema = f.schema || {};
    const alt = (schema.anyOf || []).find((a) => a.type === "integer" || a.type === "number") || schema;
    const label = schema.title || f.name;
    const choices = (schema.anyOf || [schema]).find((a) => Array.isArray(a.enum));
    if (choices) { // a choice of names; "default" (null) where the field may be left unset
      const nullable = (schema.anyOf || []).some((a) => a.type === "null");
      const select = el("select", { class: "input", dataset: { path: f.path }, attrs: { "aria-label": label } },
        ...(nullable ? [el("option", { text: "default", attrs: { value: "" } })] : []),
        ...choices.enum.map((v) => el("option", { text: v, attrs: { value: v } })));
      select.addEventListener("change", () => on.paths([[f.path, select.value === "" ? null : select.value]]));
      return el("label", { class: "param", title: schema.description || "" },
        el("span", { class: "param-label", text: label }), select);
    }
    if (schema.type === "boolean") {
      const box = el("input", { dataset: { path: f.path, kind: "bool" }, attrs: { type: "checkbox", "aria-label": label } });
      box.addEventListener("change", () => on.paths([[f.path, box.checked]]));
      return el("label", { class: "param param-bool", title: schema.description || "" },
        el("span", { class: "param-label", text: label }), box);
    }
    const input = el("input", {
      class: "input",
      dataset: { path: f.path },
      attrs: { type: "number", "aria-label": label, min: alt.minimum ?? alt.exclusiveMinimum, max: alt.maximum,
               step: alt.type === "integer" ? "1" : "any", placeholder: f.default === undefined ? "default" : "" },
    });
    input.addEventListener("input", () => {
      const raw = input.value.trim();
      on.paths([[f.path, raw === "" ? null : Number.isFinite(Number(raw)) ? Number(raw) : raw]]);
    });
    return el("label", { class: "param", title: schema.description || "" },
      el("span", { class: "param-label", text: label }), input);
  }

  const all = () => [primary, ...extras];
  return {
    /** Draw every stack of `spec`'s family, and its options. */
    render(spec) {
      layout(spec);
      for (const s of all()) s.builder.render(getIn(spec.model, s.path) || []);
      renderOptions(spec);
    },
    showSummary(summary) {
      all().forEach((s) => s.builder.showSummary(summary));
    },
    showErrors(errors) {
      return all().reduce((rest, s) => s.builder.showErrors(rest), errors);
    },
    setReadOnly(value) {
      readOnly = value;
      all().forEach((s) => s.builder.setReadOnly(value));
      options.querySelectorAll("input, select").forEach((i) => { i.disabled = value; });
    },
    /** The insides' flags: Map(stack name -> Map(layer index -> flags)); a stack's name is its path's first
     * part ("layers", "generator" of "generator.layers"). */
    showFlags(byStack) {
      all().forEach((s) => s.builder.showFlags(byStack.get(s.path.split(".")[0]) || new Map()));
    },
    setDataKind(value) {
      kind = value;
      all().forEach((s) => s.builder.setDataKind(value));
    },
  };
}
