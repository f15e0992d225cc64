// The runs' legend under the loss chart: each run's swatch, name, source and status. A run's name
// is a button that turns into a text box to rename it (Enter keeps, Escape cancels); a share
// link's legend only reads. The numbers at the cursor are written into .legend-values by charts.js.

import { append, clear, el } from "./dom.js";
import { seedsOf } from "./protocol.js";

/** node: the <ul>; onRename(run, name): the user renamed a run (null: renaming is off). */
export function createLegend(node, { onRename = null } = {}) {
  let editable = Boolean(onRename);

  function startRename(run, item, button) {
    const input = el("input", {
      class: "input legend-rename", attrs: { type: "text", maxlength: "200", "aria-label": `New name of ${run.label}` },
      props: { value: run.label },
    });
    let done = false;
    const finish = (keep) => {
      if (done) return;
      done = true;
      const name = input.value.trim();
      input.replaceWith(button);
      if (keep && name && name !== run.label) onRename(run, name);
      else button.focus();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") finish(true);
      else if (e.key === "Escape") finish(false);
      e.stopPropagation(); // Space types a space here, it does not pause the run
    });
    input.addEventListener("blur", () => finish(true));
    button.replaceWith(input);
    input.focus();
    input.select();
  }

  function nameOf(run, item) {
    if (!editable) return el("span", { class: "legend-label", text: run.label });
    const button = el("button", {
      class: "legend-label legend-name", text: run.label,
      attrs: { type: "button", title: "Rename this run", "aria-label": `${run.label} (rename)` },
    });
    button.addEventListener("click", () => startRename(run, item, button));
    return button;
  }

  /** An ensemble's key to its shaded band: a swatch of the band's shade and what the band is. */
  function bandKey(run) {
    const k = seedsOf(run.spec);
    if (k <= 1) return null;
    return el("span", {
      class: "legend-band",
      title: `The shaded band around ${run.label}'s curves is the mean ± 1 standard deviation across its ${k} seeds: `
        + "how much the curves depend on the initial weights alone. A gap between curves wider than the band is real.",
    },
    el("span", { class: "swatch band-swatch", attrs: { "aria-hidden": "true" }, style: { background: run.color } }),
    el("span", { text: `±1 sd over ${k} seeds` }));
  }

  return {
    /** Draw the legend of `runs` (oldest first) unless it already shows them as they are. */
    render(runs) {
      const key = `${editable}|` + runs.map((r) => `${r.label}|${r.color}|${r.statusText}|${r.parentLabel || ""}|${seedsOf(r.spec)}`).join(";");
      if (node.dataset.key === key) return;
      if (node.contains(document.activeElement) && document.activeElement.matches("input")) return; // renaming
      node.dataset.key = key;
      clear(node);
      for (const run of runs) {
        const item = el("li", { class: "legend-run", attrs: { "aria-label": run.label } });
        append(item,
          el("span", { class: "swatch", attrs: { "aria-hidden": "true" }, style: { background: run.color } }),
          nameOf(run, item),
          run.parentLabel ? el("span", { class: "legend-parent", text: `(from ${run.parentLabel})` }) : null,
          el("span", { class: "legend-status", text: run.statusText || "" }),
          bandKey(run),
          el("span", { class: "legend-values" }));
        node.append(item);
      }
    },
    /** Renaming is on (the page can edit) or off (a share link). */
    setEditable(on) {
      editable = Boolean(on) && Boolean(onRename);
      delete node.dataset.key;
    },
  };
}
